//! Photos: stored once per SHA-256, bounded in size, and only of image types a phone
//! camera produces. Documents hold the hashes, never the bytes.

use crate::error::{Error, Result};

/// Default limit for one photo: a 12-megapixel JPEG from a phone is 3–6 MB.
pub const DEFAULT_MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// The image type of `bytes` from its leading bytes, or an error naming what is accepted.
pub fn sniff_image(bytes: &[u8]) -> Result<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok("image/jpeg");
    }
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Ok("image/png");
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok("image/webp");
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        match &bytes[8..12] {
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" => return Ok("image/heic"),
            b"mif1" | b"msf1" | b"heif" => return Ok("image/heif"),
            _ => {}
        }
    }
    Err(Error::invalid(
        "photo",
        "not a JPEG, PNG, WebP or HEIC image",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_camera_formats_and_refuses_others() {
        assert_eq!(
            sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(),
            "image/jpeg"
        );
        assert_eq!(
            sniff_image(b"\x00\x00\x00\x18ftypheic\x00\x00").unwrap(),
            "image/heic"
        );
        assert!(sniff_image(b"<html>").is_err());
        assert!(sniff_image(b"").is_err());
    }
}
