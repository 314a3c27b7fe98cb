//! Face alignment: the least-squares similarity transform (Umeyama without reflection) that maps
//! the 5 detected landmarks onto the standard 112x112 template, and a bilinear warp.

use image::RgbImage;

use crate::detect::Face;

/// The ArcFace/SFace 112x112 template: eyes, nose tip, mouth corners.
pub const TEMPLATE_112: [[f32; 2]; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// A 2D similarity `dst = [a -b; b a] * src + t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares fit from `src` to `dst` points.
    #[must_use]
    pub fn fit(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Self {
        let n = src.len().min(dst.len()).max(1) as f32;
        let mean = |p: &[[f32; 2]]| {
            let (sx, sy) = p.iter().fold((0.0, 0.0), |(x, y), q| (x + q[0], y + q[1]));
            (sx / n, sy / n)
        };
        let (msx, msy) = mean(src);
        let (mdx, mdy) = mean(dst);
        let (mut dot, mut cross, mut norm) = (0.0f32, 0.0f32, 0.0f32);
        for (s, d) in src.iter().zip(dst) {
            let (px, py) = (s[0] - msx, s[1] - msy);
            let (qx, qy) = (d[0] - mdx, d[1] - mdy);
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
            norm += px * px + py * py;
        }
        if norm <= f32::EPSILON {
            return Self { a: 1.0, b: 0.0, tx: mdx - msx, ty: mdy - msy };
        }
        let a = dot / norm;
        let b = cross / norm;
        Self { a, b, tx: mdx - (a * msx - b * msy), ty: mdy - (b * msx + a * msy) }
    }

    #[must_use]
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [self.a * p[0] - self.b * p[1] + self.tx, self.b * p[0] + self.a * p[1] + self.ty]
    }

    /// The inverse transform.
    #[must_use]
    pub fn inverse(&self) -> Self {
        let d = self.a * self.a + self.b * self.b;
        let (a, b) = (self.a / d, -self.b / d);
        Self { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) }
    }
}

/// Warps `img` into a `size`x`size` crop through the inverse of `m` (bilinear, black outside).
#[must_use]
pub fn warp(img: &RgbImage, m: &Similarity, size: u32) -> RgbImage {
    let inv = m.inverse();
    let (w, h) = (img.width() as i64, img.height() as i64);
    let mut out = RgbImage::new(size, size);
    let raw = img.as_raw();
    let px = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h { 0.0 } else { f32::from(raw[((y * w + x) * 3) as usize + c]) }
    };
    for oy in 0..size {
        for ox in 0..size {
            let [sx, sy] = inv.apply([ox as f32, oy as f32]);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let mut v = [0u8; 3];
            for (c, slot) in v.iter_mut().enumerate() {
                let top = px(x0, y0, c) * (1.0 - fx) + px(x0 + 1, y0, c) * fx;
                let bot = px(x0, y0 + 1, c) * (1.0 - fx) + px(x0 + 1, y0 + 1, c) * fx;
                *slot = (top * (1.0 - fy) + bot * fy).round().clamp(0.0, 255.0) as u8;
            }
            out.put_pixel(ox, oy, image::Rgb(v));
        }
    }
    out
}

/// The 112x112 aligned face crop for the embedder.
#[must_use]
pub fn align_112(img: &RgbImage, face: &Face) -> RgbImage {
    let m = Similarity::fit(&face.landmarks, &TEMPLATE_112);
    warp(img, &m, 112)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_similarity() {
        let truth = Similarity { a: 0.8, b: 0.3, tx: 5.0, ty: -7.0 };
        let src = [[10.0, 20.0], [40.0, 22.0], [25.0, 40.0], [12.0, 55.0], [38.0, 56.0]];
        let dst: Vec<[f32; 2]> = src.iter().map(|p| truth.apply(*p)).collect();
        let m = Similarity::fit(&src, &dst);
        assert!((m.a - truth.a).abs() < 1e-4 && (m.b - truth.b).abs() < 1e-4);
        assert!((m.tx - truth.tx).abs() < 1e-3 && (m.ty - truth.ty).abs() < 1e-3);
        let back = m.inverse().apply(m.apply([3.0, 4.0]));
        assert!((back[0] - 3.0).abs() < 1e-3 && (back[1] - 4.0).abs() < 1e-3);
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let mut img = RgbImage::new(8, 8);
        img.put_pixel(3, 4, image::Rgb([200, 100, 50]));
        let id = Similarity { a: 1.0, b: 0.0, tx: 0.0, ty: 0.0 };
        let out = warp(&img, &id, 8);
        assert_eq!(out.get_pixel(3, 4).0, [200, 100, 50]);
    }
}
