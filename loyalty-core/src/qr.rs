//! QR codes (in progress).
