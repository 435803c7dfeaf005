//! Reading request bodies up to a limit, for the adapters: enough bytes
//! (`limit + 1`) for the engine to tell that a body is too large and answer
//! `413`, without buffering all of it. `loyalty-native` (axum) and
//! `loyalty-edge` (Workers streams) read their bodies with these.

use bytes::BytesMut;

/// Whether a `Content-Length` header value declares more than `limit` bytes.
pub fn declared_too_large(content_length: Option<&str>, limit: usize) -> bool {
    content_length.and_then(|v| v.trim().parse::<u64>().ok()).is_some_and(|n| n > limit as u64)
}

/// Appends `chunk` to `buf` keeping at most `limit + 1` bytes; returns whether
/// the limit has been passed (then reading can stop: the engine answers `413`).
///
/// ```
/// use bytes::BytesMut;
/// use loyalty_core::body::push_limited;
///
/// let mut buf = BytesMut::new();
/// assert!(!push_limited(&mut buf, b"abcd", 5));
/// assert!(push_limited(&mut buf, b"efgh", 5));
/// assert_eq!(&buf[..], b"abcdef");
/// ```
pub fn push_limited(buf: &mut BytesMut, chunk: &[u8], limit: usize) -> bool {
    let room = (limit + 1).saturating_sub(buf.len());
    buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
    buf.len() > limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_limits() {
        assert!(declared_too_large(Some("1001"), 1000));
        assert!(!declared_too_large(Some(" 1000 "), 1000));
        assert!(!declared_too_large(Some("nonsense"), 1000));
        assert!(!declared_too_large(None, 1000));
        let mut buf = BytesMut::new();
        assert!(!push_limited(&mut buf, b"abcd", 9));
        assert!(!push_limited(&mut buf, b"abcd", 9));
        assert!(push_limited(&mut buf, b"abcd", 9));
        assert_eq!(&buf[..], b"abcdabcdab");
    }
}
