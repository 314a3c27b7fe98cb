//! Small image operations shared by the stages: resizing (fast_image_resize, SIMD), crops and
//! conversion of RGB8 pixels into the float tensors the models take.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{GrayImage, RgbImage};

use crate::error::VisionError;

/// Resizes `src` (optionally a crop of it, in source pixels) to `w`x`h` with a bilinear filter.
/// A crop that reaches outside the image is clipped to it.
pub fn resize(src: &RgbImage, crop: Option<(f64, f64, f64, f64)>, w: u32, h: u32) -> Result<RgbImage, VisionError> {
    let mut dst = RgbImage::new(w.max(1), h.max(1));
    let mut opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    if let Some((left, top, cw, ch)) = crop {
        let (iw, ih) = (f64::from(src.width()), f64::from(src.height()));
        let l = left.clamp(0.0, iw - 1.0);
        let t = top.clamp(0.0, ih - 1.0);
        let cw = cw.min(iw - l).max(1.0);
        let ch = ch.min(ih - t).max(1.0);
        opts = opts.crop(l, t, cw, ch);
    }
    Resizer::new().resize(src, &mut dst, &opts).map_err(|e| VisionError::Model(format!("resize failed: {e}")))?;
    Ok(dst)
}

/// Channel order of a model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Rgb,
    Bgr,
}

/// NCHW float tensor data from an RGB8 image: `(pixel - mean[c]) / std[c]`, channels in `order`.
#[must_use]
pub fn to_nchw(img: &RgbImage, order: Channels, mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    let (w, h) = img.dimensions();
    let plane = (w * h) as usize;
    let mut out = vec![0f32; plane * 3];
    let map: [usize; 3] = match order {
        Channels::Rgb => [0, 1, 2],
        Channels::Bgr => [2, 1, 0],
    };
    for (i, px) in img.pixels().enumerate() {
        for (dst_c, &src_c) in map.iter().enumerate() {
            out[dst_c * plane + i] = (f32::from(px[src_c]) - mean[dst_c]) / std[dst_c];
        }
    }
    out
}

/// Greyscale (BT.601 luma) of an RGB image.
#[must_use]
pub fn to_gray(img: &RgbImage) -> GrayImage {
    let (w, h) = img.dimensions();
    let mut g = GrayImage::new(w, h);
    for (d, s) in g.pixels_mut().zip(img.pixels()) {
        let y = 0.299 * f32::from(s[0]) + 0.587 * f32::from(s[1]) + 0.114 * f32::from(s[2]);
        d[0] = y.round().clamp(0.0, 255.0) as u8;
    }
    g
}

/// Encodes an RGB image as JPEG.
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, VisionError> {
    // jpeg-encoder (SIMD picked at run time): 2.0-2.5x faster than image's encoder on 720p and
    // 1080p frames at the same quality (4:4:4, PSNR 46.5 dB both; files ~3% larger); BENCHMARKS.md.
    let (Ok(w), Ok(h)) = (u16::try_from(img.width()), u16::try_from(img.height())) else {
        return Err(VisionError::Model(format!("jpeg encode failed: {}x{} is too large", img.width(), img.height())));
    };
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| VisionError::Model(format!("jpeg encode failed: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_orders_channels() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([10, 20, 30]));
        let rgb = to_nchw(&img, Channels::Rgb, [0.0; 3], [1.0; 3]);
        assert_eq!(rgb, vec![10.0, 10.0, 20.0, 20.0, 30.0, 30.0]);
        let bgr = to_nchw(&img, Channels::Bgr, [0.0; 3], [1.0; 3]);
        assert_eq!(bgr, vec![30.0, 30.0, 20.0, 20.0, 10.0, 10.0]);
    }

    #[test]
    fn resize_clips_crop() {
        let img = RgbImage::from_pixel(10, 10, image::Rgb([5, 5, 5]));
        let out = resize(&img, Some((-5.0, -5.0, 30.0, 30.0)), 4, 4).expect("resize");
        assert_eq!(out.dimensions(), (4, 4));
        assert_eq!(out.get_pixel(2, 2).0, [5, 5, 5]);
    }
}
