//! QR codes for customer cards: SVG for the web front end, PNG for Telegram.
//!
//! The QR matrix comes from the `qrcode` crate (without its image renderers);
//! the SVG and the PNG are written here. The PNG is a 1-bit grayscale image in
//! stored (uncompressed) deflate blocks: a card is a few kilobytes and this
//! keeps the wasm build free of a compression library.

use qrcode::{Color, EcLevel, QrCode};

/// Modules of white border around the code (the QR specification asks for 4).
pub const QUIET_ZONE: usize = 4;

/// Why a QR code could not be made (the data is too long for any version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data too long for a QR code")]
pub struct QrError;

/// The code's module matrix with its quiet zone: `true` = dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `data` with error-correction level M.
    pub fn encode(data: &str) -> Result<QrMatrix, QrError> {
        let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|_| QrError)?;
        let inner = code.width();
        let width = inner + 2 * QUIET_ZONE;
        let mut dark = vec![false; width * width];
        for (i, color) in code.to_colors().into_iter().enumerate() {
            let (x, y) = (i % inner, i / inner);
            dark[(y + QUIET_ZONE) * width + x + QUIET_ZONE] = color == Color::Dark;
        }
        Ok(QrMatrix { width, dark })
    }

    /// Modules per side, quiet zone included.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` is dark (outside → light).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// An SVG document: one path of unit squares in a `viewBox` of the matrix size.
    pub fn to_svg(&self) -> String {
        let w = self.width;
        let mut path = String::with_capacity(w * w * 4);
        for y in 0..w {
            let mut x = 0;
            while x < w {
                if self.is_dark(x, y) {
                    let start = x;
                    while x < w && self.is_dark(x, y) {
                        x += 1;
                    }
                    path.push_str(&format!("M{start},{y}h{}v1h-{}z", x - start, x - start));
                } else {
                    x += 1;
                }
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {w}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{w}\" height=\"{w}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
        )
    }

    /// A PNG image with `scale` pixels per module (clamped to 1..=32).
    pub fn to_png(&self, scale: usize) -> Vec<u8> {
        let scale = scale.clamp(1, 32);
        let side = self.width * scale;
        let row_bytes = side.div_ceil(8);
        // Raw scanlines: filter byte 0, then 1-bit pixels (1 = white).
        let mut raw = Vec::with_capacity((row_bytes + 1) * side);
        for py in 0..side {
            raw.push(0u8);
            let start = raw.len();
            raw.resize(start + row_bytes, 0);
            for px in 0..side {
                if !self.is_dark(px / scale, py / scale) {
                    raw[start + px / 8] |= 0x80 >> (px % 8);
                }
            }
        }
        let side32 = u32::try_from(side).unwrap_or(u32::MAX);
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&side32.to_be_bytes());
        ihdr.extend_from_slice(&side32.to_be_bytes());
        ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // bit depth 1, grayscale, deflate, no filter, no interlace
        let mut png = Vec::with_capacity(raw.len() + 128);
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(&mut png, b"IDAT", &zlib_stored(&raw));
        chunk(&mut png, b"IEND", &[]);
        png
    }
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    let crc_start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[crc_start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored deflate blocks (≤ 65 535 bytes each) plus Adler-32.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65_535 * 5 + 16);
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn svg_has_viewbox_and_path() {
        let m = QrMatrix::encode("https://t.me/partner_bot?start=c_ABCD2345").unwrap();
        let svg = m.to_svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(&format!("viewBox=\"0 0 {0} {0}\"", m.width())));
        // The finder pattern's top-left corner is dark, the quiet zone light.
        assert!(m.is_dark(QUIET_ZONE, QUIET_ZONE));
        assert!(!m.is_dark(0, 0));
    }

    #[test]
    fn too_long_data_is_an_error() {
        assert_eq!(QrMatrix::encode(&"x".repeat(5000)), Err(QrError));
    }
}
