//! Simulated presentation attacks made from real photos, for `oz-server eval --simulate-attacks`.
//!
//! They imitate what a camera sees when shown a replayed screen or a printed photo: the pixel grid
//! and moiré of a screen, its colour cast, gamma and glare; the halftone, desaturation and paper
//! tint of a print; and the blur of a re-captured image. They are stand-ins for real attack media,
//! which this project does not have, and the calibration notes say so.

use image::{Rgb, RgbImage, imageops};

/// Attack kinds.
pub const KINDS: [&str; 4] = ["screen_replay", "print", "moire", "blur"];

fn clamp8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

fn map_pixels(img: &RgbImage, f: impl Fn(u32, u32, [f32; 3]) -> [f32; 3]) -> RgbImage {
    let mut out = img.clone();
    for (x, y, p) in out.enumerate_pixels_mut() {
        let v = f(x, y, [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]);
        *p = Rgb([clamp8(v[0]), clamp8(v[1]), clamp8(v[2])]);
    }
    out
}

/// A photo of a screen showing the face: coarser pixel grid, moiré, cool colour cast,
/// lifted blacks, gamma and a soft glare spot.
pub fn screen_replay(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let small = imageops::resize(img, (w * 2 / 5).max(1), (h * 2 / 5).max(1), imageops::FilterType::Triangle);
    let grid = imageops::resize(&small, w, h, imageops::FilterType::Nearest);
    let (gx, gy) = (w as f32 * 0.6, h as f32 * 0.3);
    let r2 = (w.min(h) as f32 * 0.35).powi(2);
    map_pixels(&grid, |x, y, [r, g, b]| {
        let (xf, yf) = (x as f32, y as f32);
        let moire = 1.0 + 0.10 * (0.9 * xf + 0.35 * yf).sin() * (0.2 * xf - 0.85 * yf).cos();
        let glare = 60.0 * (-((xf - gx).powi(2) + (yf - gy).powi(2)) / r2).exp();
        let f = |c: f32, gain: f32| (255.0 * (c / 255.0).powf(0.8)) * 0.8 * gain * moire + 28.0 + glare;
        [f(r, 0.92), f(g, 1.0), f(b, 1.12)]
    })
}

/// A photo of a printed photo: desaturated, halftone dots, warm paper tint, low contrast.
pub fn print(img: &RgbImage) -> RgbImage {
    map_pixels(img, |x, y, [r, g, b]| {
        let grey = 0.299 * r + 0.587 * g + 0.114 * b;
        let sat = 0.5;
        let dot = 1.0 + 0.12 * ((x as f32) * 1.6).sin() * ((y as f32) * 1.6).sin();
        let f = |c: f32, tint: f32| ((grey + sat * (c - grey)) * 0.75 * dot + 40.0) * tint;
        [f(r, 1.04), f(g, 1.0), f(b, 0.88)]
    })
}

/// Strong moiré interference at two angles, as when the camera and screen grids beat.
pub fn moire(img: &RgbImage) -> RgbImage {
    map_pixels(img, |x, y, [r, g, b]| {
        let (xf, yf) = (x as f32, y as f32);
        let m = 1.0 + 0.18 * (0.7 * xf + 0.7 * yf).sin() + 0.12 * (1.1 * xf - 0.4 * yf).sin();
        [r * m, g * m, b * m]
    })
}

/// A defocused re-capture.
pub fn blur(img: &RgbImage) -> RgbImage {
    let sigma = (img.width().min(img.height()) as f32 / 250.0).max(2.0);
    imageops::blur(img, sigma)
}

/// Long side of the simulated re-capture: attacks are seen through a phone camera at selfie
/// resolution, so the source is first brought to that scale (a screen's pixel grid or a print's
/// halftone is a few camera pixels wide, not a few pixels of a 2000-pixel press photo).
pub const CAPTURE_SIDE: u32 = 640;

/// The source as the camera would frame it, long side [`CAPTURE_SIDE`].
pub fn capture_scale(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let long = w.max(h).max(1);
    if long <= CAPTURE_SIDE {
        return img.clone();
    }
    let s = CAPTURE_SIDE as f32 / long as f32;
    let (nw, nh) = (((w as f32 * s).round() as u32).max(1), ((h as f32 * s).round() as u32).max(1));
    imageops::resize(img, nw, nh, imageops::FilterType::Triangle)
}

/// Applies the attack `kind` (one of [`KINDS`]) to the source brought to capture scale.
pub fn simulate(kind: &str, img: &RgbImage) -> Option<RgbImage> {
    let img = &capture_scale(img);
    match kind {
        "screen_replay" => Some(screen_replay(img)),
        "print" => Some(print(img)),
        "moire" => Some(moire(img)),
        "blur" => Some(blur(img)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacks_change_the_image_and_keep_its_size() {
        let mut img = RgbImage::new(64, 48);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = Rgb([(x * 4) as u8, (y * 5) as u8, 128]);
        }
        for k in KINDS {
            let out = simulate(k, &img).expect("known kind");
            assert_eq!(out.dimensions(), img.dimensions());
            assert_ne!(out, img, "{k} changed nothing");
        }
        assert!(simulate("nope", &img).is_none());
    }
}
