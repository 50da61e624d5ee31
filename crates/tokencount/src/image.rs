//! LiteLLM's image token estimate for `image_url` and Anthropic `image` blocks.
//!
//! Only what LiteLLM computes offline is reproduced: `detail: "low"`, the default count, and
//! the size of inline base64 images. A remote image with `detail: "high"` (which LiteLLM
//! downloads) is reported as [`Error::Unsupported`](crate::Error::Unsupported).

use crate::error::{Result, unsupported};

/// The image settings LiteLLM reads from its environment at import time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageConfig {
    /// `DEFAULT_IMAGE_TOKEN_COUNT` (250): the count when `use_default_image_token_count` is set.
    pub default_image_token_count: i64,
    /// `DEFAULT_IMAGE_WIDTH` (300): the width assumed for an image of unknown format.
    pub default_image_width: i64,
    /// `DEFAULT_IMAGE_HEIGHT` (300): the height assumed for an image of unknown format.
    pub default_image_height: i64,
    /// `MAX_IMAGE_URL_DOWNLOAD_SIZE_MB` (50.0): the largest inline image that is measured.
    pub max_image_url_download_size_mb: f64,
    /// `MAX_SHORT_SIDE_FOR_IMAGE_HIGH_RES` (768).
    pub max_short_side: i64,
    /// `MAX_LONG_SIDE_FOR_IMAGE_HIGH_RES` (2000).
    pub max_long_side: i64,
    /// `MAX_TILE_WIDTH` (512).
    pub tile_width: i64,
    /// `MAX_TILE_HEIGHT` (512).
    pub tile_height: i64,
}

impl Default for ImageConfig {
    fn default() -> Self {
        Self {
            default_image_token_count: 250,
            default_image_width: 300,
            default_image_height: 300,
            max_image_url_download_size_mb: 50.0,
            max_short_side: 768,
            max_long_side: 2000,
            tile_width: 512,
            tile_height: 512,
        }
    }
}

/// The `detail` of an image block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// `"low"`: a flat base count.
    Low,
    /// `"high"`: tiles of the image's real size (LiteLLM downloads remote images for this).
    High,
    /// `"auto"`: tiles of an inline image's size, or the base count.
    Auto,
}

/// OpenAI's base token count per image, which LiteLLM uses for every model.
const BASE_TOKENS: i64 = 85;

/// LiteLLM's `calculate_img_tokens(data, mode, use_default_image_token_count)`.
///
/// # Errors
///
/// [`Error::Unsupported`](crate::Error::Unsupported) where LiteLLM would fetch a URL or raise.
pub fn image_tokens(
    config: &ImageConfig,
    data: &str,
    detail: Detail,
    use_default_image_token_count: bool,
) -> Result<i64> {
    if use_default_image_token_count {
        return Ok(config.default_image_token_count);
    }
    let dimensions = match detail {
        Detail::Low => return Ok(BASE_TOKENS),
        Detail::Auto => auto_dimensions(config, data)?,
        Detail::High => Some(high_dimensions(config, data)?),
    };
    let Some((width, height)) = dimensions else {
        return Ok(BASE_TOKENS);
    };
    let (width, height) = resize_high_res(config, width, height)?;
    let tiles = tiles_needed(config, width, height);
    Ok(BASE_TOKENS + BASE_TOKENS * 2 * tiles)
}

fn max_bytes(config: &ImageConfig) -> i64 {
    // Python: int(MAX_IMAGE_URL_DOWNLOAD_SIZE_MB * 1024 * 1024), truncating toward zero.
    (config.max_image_url_download_size_mb * 1024.0 * 1024.0).trunc() as i64
}

/// `_auto_image_dimensions`: the size of a bounded inline image, or `None`.
fn auto_dimensions(config: &ImageConfig, data: &str) -> Result<Option<(i64, i64)>> {
    if !data.starts_with("data:image/") {
        return Ok(None);
    }
    let max_bytes = max_bytes(config);
    let max_encoded = 4 * ((max_bytes + 2).div_euclid(3));
    let chars = crate::counter::char_len(data) as i64;
    if max_bytes <= 0 || chars > max_encoded + 128 {
        return Ok(None);
    }
    let Some((header, encoded)) = data.split_once(',') else {
        return Ok(None);
    };
    if crate::counter::char_len(header) > 128
        || !header.ends_with(";base64")
        || crate::counter::char_len(encoded) as i64 > max_encoded
    {
        return Ok(None);
    }
    let Some(bytes) = decode_base64(encoded)? else {
        return Ok(None);
    };
    if bytes.len() as i64 > max_bytes
        || !matches!(
            image_type(&bytes),
            Some(ImageType::Png | ImageType::Gif | ImageType::Jpeg | ImageType::Webp)
        )
    {
        return Ok(None);
    }
    match dimensions_from_bytes(config, &bytes)? {
        Ok((w, h)) if w > 0 && h > 0 => Ok(Some((w, h))),
        _ => Ok(None),
    }
}

/// `get_image_dimensions` for an inline image (`detail: "high"`).
fn high_dimensions(config: &ImageConfig, data: &str) -> Result<(i64, i64)> {
    if data.starts_with("http://") || data.starts_with("https://") {
        return unsupported("an image URL with detail \"high\", which LiteLLM downloads");
    }
    let Some((_, encoded)) = data.split_once(',') else {
        return unsupported("an image with detail \"high\" that is neither a URL nor a data URL");
    };
    let Some(bytes) = decode_base64(encoded)? else {
        return unsupported("an image with detail \"high\" whose base64 LiteLLM reads leniently");
    };
    match dimensions_from_bytes(config, &bytes)? {
        Ok(size) => Ok(size),
        Err(()) => unsupported("an image with detail \"high\" whose header LiteLLM fails to read"),
    }
}

/// Base64 as Python's `b64decode(s, validate=True)` reads it: `Ok(None)` where Python raises.
///
/// # Errors
///
/// Unsupported for padding shapes whose reading was not verified against CPython.
fn decode_base64(encoded: &str) -> Result<Option<Vec<u8>>> {
    let bytes = encoded.as_bytes();
    let data_len = bytes.iter().position(|&b| b == b'=').unwrap_or(bytes.len());
    let (data, pad) = bytes.split_at(data_len);
    if pad.len() > 2
        || pad.iter().any(|&b| b != b'=')
        || !data
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        // Python's validating regex rejects it (or the string is not ASCII).
        return Ok(None);
    }
    let ok = match (data.len() % 4, pad.len()) {
        (0, 0) | (2, 2) | (3, 1) => true,
        (1, _) | (2, 0 | 1) | (3, 0) => false,
        _ => return unsupported("base64 with padding after a complete quantum"),
    };
    if !ok {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let value = |b: u8| -> u32 {
        match b {
            b'A'..=b'Z' => u32::from(b - b'A'),
            b'a'..=b'z' => u32::from(b - b'a') + 26,
            b'0'..=b'9' => u32::from(b - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    for quad in data.chunks(4) {
        let mut acc = 0u32;
        for &b in quad {
            acc = (acc << 6) | value(b);
        }
        match quad.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            _ => out.push((acc >> 4) as u8),
        }
    }
    Ok(Some(out))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageType {
    Png,
    Gif,
    Jpeg,
    Heic,
    Webp,
}

/// `get_image_type`: the format from the magic bytes.
fn image_type(data: &[u8]) -> Option<ImageType> {
    let slice = |a: usize, b: usize| data.get(a..b.min(data.len())).unwrap_or(&[]);
    if slice(0, 8) == b"\x89PNG\r\n\x1a\n" {
        Some(ImageType::Png)
    } else if slice(0, 4) == b"GIF8" && slice(5, 6) == b"a" {
        Some(ImageType::Gif)
    } else if slice(0, 3) == b"\xff\xd8\xff" {
        Some(ImageType::Jpeg)
    } else if slice(4, 8) == b"ftyp" {
        Some(ImageType::Heic)
    } else if slice(0, 4) == b"RIFF" && slice(8, 12) == b"WEBP" {
        Some(ImageType::Webp)
    } else {
        None
    }
}

/// `_image_dimensions_from_bytes`: `Ok(Err(()))` where Python raises `struct.error` or
/// `TypeError` on a truncated header.
fn dimensions_from_bytes(config: &ImageConfig, data: &[u8]) -> Result<Result<(i64, i64), ()>> {
    let take = |a: usize, n: usize| -> Result<&[u8], ()> { data.get(a..a + n).ok_or(()) };
    let u16_le = |b: &[u8]| i64::from(u16::from_le_bytes([b[0], b[1]]));
    let u24_le = |b: &[u8]| i64::from(b[0]) | i64::from(b[1]) << 8 | i64::from(b[2]) << 16;
    Ok(match image_type(data) {
        Some(ImageType::Png) => take(16, 8).map(|b| {
            (
                i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                i64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]])),
            )
        }),
        Some(ImageType::Gif) => take(6, 4).map(|b| (u16_le(&b[..2]), u16_le(&b[2..]))),
        Some(ImageType::Jpeg) => return jpeg_dimensions(data),
        Some(ImageType::Webp) => match data.get(12..16) {
            Some(b"VP8X") => {
                take(24, 3).and_then(|w| take(27, 3).map(|h| (u24_le(w) + 1, u24_le(h) + 1)))
            }
            Some(b"VP8 ") => take(26, 2)
                .and_then(|w| take(28, 2).map(|h| (u16_le(w) & 0x3fff, u16_le(h) & 0x3fff))),
            Some(b"VP8L") => take(21, 4).map(|b| {
                let bits = i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                ((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1)
            }),
            _ => Ok((config.default_image_width, config.default_image_height)),
        },
        Some(ImageType::Heic) | None => {
            Ok((config.default_image_width, config.default_image_height))
        }
    })
}

/// The JPEG marker walk of `_image_dimensions_from_bytes`, emulating Python's `BytesIO`
/// (seeks past the end are allowed, negative positions clamp to zero, short reads raise).
fn jpeg_dimensions(data: &[u8]) -> Result<Result<(i64, i64), ()>> {
    const MAX_STEPS: usize = 1 << 20;
    let mut pos: i64 = 0;
    let len = data.len() as i64;
    let read = |pos: &mut i64, n: i64| -> &[u8] {
        let start = (*pos).min(len).max(0) as usize;
        let end = (*pos + n).min(len).max(0) as usize;
        *pos += n.min((len - *pos).max(0));
        &data[start..end.max(start)]
    };
    let mut size: i64 = 2;
    let mut ftype: u8 = 0;
    let mut steps = 0;
    while !(0xc0..=0xcf).contains(&ftype) || matches!(ftype, 0xc4 | 0xc8 | 0xcc) {
        steps += 1;
        if steps > MAX_STEPS {
            return unsupported("a JPEG whose marker walk does not end");
        }
        pos = (pos + size).max(0);
        let mut byte = read(&mut pos, 1);
        let Some(&first) = byte.first() else {
            return Ok(Err(()));
        };
        let mut b = first;
        while b == 0xff {
            steps += 1;
            if steps > MAX_STEPS {
                return unsupported("a JPEG whose marker walk does not end");
            }
            byte = read(&mut pos, 1);
            let Some(&next) = byte.first() else {
                return Ok(Err(()));
            };
            b = next;
        }
        ftype = b;
        let two = read(&mut pos, 2);
        if two.len() != 2 {
            return Ok(Err(()));
        }
        size = i64::from(u16::from_be_bytes([two[0], two[1]])) - 2;
    }
    pos += 1;
    let four = read(&mut pos, 4);
    if four.len() != 4 {
        return Ok(Err(()));
    }
    let h = i64::from(u16::from_be_bytes([four[0], four[1]]));
    let w = i64::from(u16::from_be_bytes([four[2], four[3]]));
    Ok(Ok((w, h)))
}

/// `resize_image_high_res`.
fn resize_high_res(config: &ImageConfig, width: i64, height: i64) -> Result<(i64, i64)> {
    let short = config.max_short_side;
    let long = config.max_long_side;
    if width <= short && height <= short {
        return Ok((width, height));
    }
    let longer = width.max(height);
    let shorter = width.min(height);
    if shorter == 0 {
        return unsupported("an image with a zero side, on which LiteLLM divides by zero");
    }
    let ratio = longer as f64 / shorter as f64;
    Ok(if width <= height {
        let mut w = short;
        let mut h = (w as f64 * ratio) as i64;
        if h > long {
            h = long;
            w = (h as f64 / ratio) as i64;
        }
        (w, h)
    } else {
        let mut h = short;
        let mut w = (h as f64 * ratio) as i64;
        if w > long {
            w = long;
            h = (w as f64 / ratio) as i64;
        }
        (w, h)
    })
}

/// `calculate_tiles_needed`.
fn tiles_needed(config: &ImageConfig, width: i64, height: i64) -> i64 {
    let across = (width + config.tile_width - 1).div_euclid(config.tile_width);
    let down = (height + config.tile_height - 1).div_euclid(config.tile_height);
    across * down
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> String {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 2, 0, 0, 0]);
        let encoded = base64_encode(&bytes);
        format!("data:image/png;base64,{encoded}")
    }

    fn base64_encode(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn low_detail_is_the_base_count() {
        let c = ImageConfig::default();
        assert_eq!(
            image_tokens(&c, "https://x/y.png", Detail::Low, false),
            Ok(85)
        );
        assert_eq!(
            image_tokens(&c, "https://x/y.png", Detail::Auto, false),
            Ok(85)
        );
        assert_eq!(image_tokens(&c, "anything", Detail::High, true), Ok(250));
    }

    #[test]
    fn inline_png_is_tiled() {
        let c = ImageConfig::default();
        // 1024x1024 → 768x768 → 2x2 tiles → 85 + 4 * 170.
        assert_eq!(
            image_tokens(&c, &png(1024, 1024), Detail::Auto, false),
            Ok(765)
        );
        // 100x100 → one tile.
        assert_eq!(
            image_tokens(&c, &png(100, 100), Detail::High, false),
            Ok(255)
        );
        // 4000x500 → 2000x250 (long side capped) → 4x1 tiles.
        assert_eq!(
            image_tokens(&c, &png(4000, 500), Detail::Auto, false),
            Ok(85 + 4 * 170)
        );
    }

    #[test]
    fn remote_high_detail_is_unsupported() {
        let c = ImageConfig::default();
        assert!(image_tokens(&c, "https://x/y.png", Detail::High, false).is_err());
    }

    #[test]
    fn python_base64_padding_rules() {
        assert_eq!(decode_base64("QUJD").unwrap(), Some(b"ABC".to_vec()));
        assert_eq!(decode_base64("QUI=").unwrap(), Some(b"AB".to_vec()));
        assert_eq!(decode_base64("QQ==").unwrap(), Some(b"A".to_vec()));
        assert_eq!(decode_base64("QQ=").unwrap(), None);
        assert_eq!(decode_base64("QUI").unwrap(), None);
        assert_eq!(decode_base64("Q").unwrap(), None);
        assert_eq!(decode_base64("QU!D").unwrap(), None);
        assert!(decode_base64("QUJD=").is_err());
    }
}
