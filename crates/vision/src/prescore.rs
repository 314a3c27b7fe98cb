//! A cheap quality pre-score of every decoded video frame, computed on its luma plane before any
//! colour conversion or model: sharpness (variance of the Laplacian) and exposure on a plane
//! downscaled to about [`TARGET_WIDTH`] pixels. The decoder keeps the best-scoring frames as
//! best-shot candidates ([`Candidates`]), so the one sharp second of a blurred clip is not lost
//! between evenly spaced samples.

/// Width (in pixels) the luma plane is brought down to before it is measured.
pub const TARGET_WIDTH: usize = 160;

/// Candidates closer than this many frames to a better one are not kept (neighbouring frames
/// of a video are near copies: keep different moments).
pub const MIN_SPACING: u64 = 3;

/// Pre-score of one frame: higher is better. `ln(1 + sharpness) + ln(exposure)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PreScore {
    /// Variance of the 4-neighbour Laplacian of the downscaled luma.
    pub sharpness: f32,
    /// Mean luma, 0..255.
    pub mean_luma: f32,
    /// Exposure factor in (0, 1]: 1 for a mid-grey mean with few clipped pixels.
    pub exposure: f32,
    pub score: f32,
}

/// Scores a luma plane of `width` x `height` pixels whose rows start every `stride` bytes.
/// Returns `None` when the plane is too small or shorter than its size says.
///
/// Runs on every decoded frame, so it works on integers: the downscaled plane holds cell sums
/// (not means), and the Laplacian, its variance and the exposure counts are exact integer sums,
/// scaled back to means only at the end.
#[must_use]
pub fn score_luma(plane: &[u8], stride: usize, width: usize, height: usize) -> Option<PreScore> {
    let factor = (width / TARGET_WIDTH).max(1);
    let (w, h) = (width / factor, height / factor);
    if w < 8 || h < 8 || stride < width || plane.len() < stride * (height - 1) + width {
        return None;
    }
    // Block sums over factor x factor cells, every other row and column of a cell read (the
    // plane is a few hundred KB: reading a quarter of it keeps this well under a millisecond).
    let step = if factor >= 4 { 2 } else { 1 };
    let taps = factor.div_ceil(step);
    let mut sums = vec![0u32; w * h];
    for (by, out) in sums.chunks_exact_mut(w).enumerate() {
        for dy in (0..factor).step_by(step) {
            let start = (by * factor + dy) * stride;
            let row = &plane[start..start + w * factor];
            match (factor, step) {
                // The common phone sizes (720 and 1080 wide: factors 4 and 6, every other pixel).
                (4, 2) => out.iter_mut().zip(row.chunks_exact(4)).for_each(|(a, c)| {
                    *a += u32::from(c[0]) + u32::from(c[2]);
                }),
                (6, 2) => out.iter_mut().zip(row.chunks_exact(6)).for_each(|(a, c)| {
                    *a += u32::from(c[0]) + u32::from(c[2]) + u32::from(c[4]);
                }),
                _ => out.iter_mut().zip(row.chunks_exact(factor)).for_each(|(a, c)| {
                    *a += c.iter().step_by(step).map(|&v| u32::from(v)).sum::<u32>();
                }),
            }
        }
    }
    Some(score_sums(&sums, w, h, (taps * taps) as u32))
}

/// Scores a small plane of cell sums (row-major, `w` x `h`, each the sum of `n` luma samples).
fn score_sums(p: &[u32], w: usize, h: usize, n: u32) -> PreScore {
    let (mut sum, mut sum2, mut count) = (0i64, 0i64, 0i64);
    for y in 1..h.saturating_sub(1) {
        let (up, mid, down) = (&p[(y - 1) * w..y * w], &p[y * w..(y + 1) * w], &p[(y + 1) * w..(y + 2) * w]);
        let (mut rs, mut rs2) = (0i64, 0i64);
        for x in 1..w - 1 {
            // Up to 4 x 255 x n: far inside i64, and its square too.
            let l = i64::from(mid[x - 1]) + i64::from(mid[x + 1]) + i64::from(up[x]) + i64::from(down[x])
                - 4 * i64::from(mid[x]);
            rs += l;
            rs2 += l * l;
        }
        sum += rs;
        sum2 += rs2;
        count += (w - 2) as i64;
    }
    let nf = f64::from(n.max(1));
    let sharpness = if count > 0 {
        let (c, s, s2) = (count as f64, sum as f64, sum2 as f64);
        ((s2 / c - (s / c).powi(2)) / (nf * nf)).max(0.0) as f32
    } else {
        0.0
    };
    let total = p.len().max(1) as f64;
    let mean_luma = (p.iter().map(|&v| u64::from(v)).sum::<u64>() as f64 / nf / total) as f32;
    let (lo, hi) = (12 * n, 243 * n);
    let clipped = (p.iter().filter(|&&v| v < lo || v > hi).count() as f64 / total) as f32;
    // Mid-grey is best; a mean under ~50 or over ~205 and many clipped pixels cost a lot.
    let mean_q = 1.0 - ((mean_luma - 128.0).abs() / 128.0).powi(2);
    let exposure = (mean_q * (1.0 - clipped)).clamp(0.01, 1.0);
    PreScore { sharpness, mean_luma, exposure, score: sharpness.ln_1p() + exposure.ln() }
}

/// The best-scoring frames seen so far, at most `capacity`, each at least [`MIN_SPACING`] frames
/// from the others. Fed in frame order; decides at once whether a frame is kept, and which kept
/// frame it replaces, so the decoder only holds the frames that can still win.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    capacity: usize,
    /// (frame index, score), in frame order.
    kept: Vec<(u64, f32)>,
}

/// What [`Candidates::offer`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Not kept.
    Rejected,
    /// Kept; nothing was dropped.
    Kept,
    /// Kept in place of this frame index, which the caller may now release.
    Replaced(u64),
}

impl Candidates {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self { capacity, kept: Vec::with_capacity(capacity) }
    }

    /// Offers frame `index` (indices must increase) with `score`.
    pub fn offer(&mut self, index: u64, score: f32) -> Offer {
        if self.capacity == 0 || !score.is_finite() {
            return Offer::Rejected;
        }
        // A close neighbour already kept (only the last one can be within the spacing).
        if let Some(&(last, last_score)) = self.kept.last()
            && index.saturating_sub(last) < MIN_SPACING
        {
            if score > last_score {
                self.kept.pop();
                self.kept.push((index, score));
                return Offer::Replaced(last);
            }
            return Offer::Rejected;
        }
        if self.kept.len() < self.capacity {
            self.kept.push((index, score));
            return Offer::Kept;
        }
        let Some((worst_pos, &(worst, worst_score))) =
            self.kept.iter().enumerate().min_by(|a, b| a.1.1.total_cmp(&b.1.1))
        else {
            return Offer::Rejected;
        };
        if score > worst_score {
            self.kept.remove(worst_pos);
            self.kept.push((index, score));
            Offer::Replaced(worst)
        } else {
            Offer::Rejected
        }
    }

    #[must_use]
    pub fn contains(&self, index: u64) -> bool {
        self.kept.iter().any(|&(i, _)| i == index)
    }

    /// Kept frames, in frame order.
    #[must_use]
    pub fn indices(&self) -> Vec<u64> {
        self.kept.iter().map(|&(i, _)| i).collect()
    }

    /// Score of a kept frame.
    #[must_use]
    pub fn score_of(&self, index: u64) -> Option<f32> {
        self.kept.iter().find(|&&(i, _)| i == index).map(|&(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker(w: usize, h: usize, cell: usize, lo: u8, hi: u8) -> Vec<u8> {
        (0..w * h).map(|i| if ((i % w) / cell + (i / w) / cell).is_multiple_of(2) { lo } else { hi }).collect()
    }

    fn box_blur(p: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
        let mut out = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (mut s, mut n) = (0u32, 0u32);
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        s += u32::from(p[yy * w + xx]);
                        n += 1;
                    }
                }
                out[y * w + x] = (s / n) as u8;
            }
        }
        out
    }

    /// The float implementation this module had before (cell means, f64 sums), kept as the
    /// reference the integer one must agree with.
    fn reference(plane: &[u8], stride: usize, width: usize, height: usize) -> PreScore {
        let factor = (width / TARGET_WIDTH).max(1);
        let (w, h) = (width / factor, height / factor);
        let step = if factor >= 4 { 2 } else { 1 };
        let mut p = vec![0f32; w * h];
        for by in 0..h {
            for bx in 0..w {
                let (mut sum, mut n) = (0u32, 0u32);
                for dy in (0..factor).step_by(step) {
                    let row = (by * factor + dy) * stride + bx * factor;
                    for dx in (0..factor).step_by(step) {
                        sum += u32::from(plane[row + dx]);
                        n += 1;
                    }
                }
                p[by * w + bx] = sum as f32 / n.max(1) as f32;
            }
        }
        let (mut sum, mut sum2, mut n) = (0f64, 0f64, 0f64);
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let i = y * w + x;
                let l = f64::from(p[i - 1] + p[i + 1] + p[i - w] + p[i + w] - 4.0 * p[i]);
                sum += l;
                sum2 += l * l;
                n += 1.0;
            }
        }
        let sharpness = (sum2 / n - (sum / n).powi(2)).max(0.0) as f32;
        let total = p.len() as f32;
        let mean_luma = p.iter().sum::<f32>() / total;
        let clipped = p.iter().filter(|&&v| !(12.0..=243.0).contains(&v)).count() as f32 / total;
        let mean_q = 1.0 - ((mean_luma - 128.0).abs() / 128.0).powi(2);
        let exposure = (mean_q * (1.0 - clipped)).clamp(0.01, 1.0);
        PreScore { sharpness, mean_luma, exposure, score: sharpness.ln_1p() + exposure.ln() }
    }

    #[test]
    fn integer_scores_agree_with_the_float_reference() {
        // Noisy pictures with gradients and clipped corners, at the phone widths (factors 4, 6),
        // odd ones (factors 1, 2, 3, 5, 8, 12) and a padded stride.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for &(width, height, pad) in &[
            (720, 1280, 0),
            (1080, 1920, 32),
            (160, 120, 0),
            (333, 97, 3),
            (480, 640, 0),
            (800, 450, 16),
            (1280, 720, 0),
            (1920, 1080, 0),
        ] {
            let stride = width + pad;
            let plane: Vec<u8> = (0..stride * height)
                .map(|i| {
                    let (x, y) = (i % stride, i / stride);
                    let base = (x * 255 / width + y * 128 / height) as u64;
                    let v = base + rnd() % 40;
                    if x < width / 10 && y < height / 10 { 255 } else { v.min(255) as u8 }
                })
                .collect();
            let a = score_luma(&plane, stride, width, height).expect("scored");
            let b = reference(&plane, stride, width, height);
            let close = |x: f32, y: f32| (x - y).abs() <= 1e-3 * y.abs().max(1.0);
            assert!(close(a.sharpness, b.sharpness), "{width}x{height}: {a:?} vs {b:?}");
            assert!(close(a.mean_luma, b.mean_luma) && close(a.exposure, b.exposure), "{a:?} vs {b:?}");
            assert!(close(a.score, b.score), "{width}x{height}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn sharp_beats_blurred_and_dark() {
        let (w, h) = (640, 480);
        let sharp = checker(w, h, 12, 60, 190);
        let blurred = box_blur(&sharp, w, h, 10);
        let dark: Vec<u8> = sharp.iter().map(|v| v / 8).collect();
        let s = score_luma(&sharp, w, w, h).expect("scored");
        let b = score_luma(&blurred, w, w, h).expect("scored");
        let d = score_luma(&dark, w, w, h).expect("scored");
        assert!(s.score > b.score + 1.0, "{s:?} vs {b:?}");
        assert!(s.score > d.score + 1.0, "{s:?} vs {d:?}");
        assert!(d.exposure < 0.5, "{d:?}");
    }

    #[test]
    fn short_or_tiny_planes_are_not_scored() {
        assert!(score_luma(&[0u8; 10], 4, 4, 4).is_none());
        assert!(score_luma(&[0u8; 100], 640, 640, 480).is_none(), "plane shorter than its size");
        assert!(score_luma(&[0u8; 640 * 480], 600, 640, 480).is_none(), "stride below width");
    }

    #[test]
    fn padded_stride_reads_only_the_picture() {
        let (w, h, stride) = (320, 240, 384);
        let mut plane = vec![255u8; stride * h];
        let pic = checker(w, h, 8, 40, 200);
        for y in 0..h {
            plane[y * stride..y * stride + w].copy_from_slice(&pic[y * w..(y + 1) * w]);
        }
        let a = score_luma(&plane, stride, w, h).expect("scored");
        let b = score_luma(&pic, w, w, h).expect("scored");
        assert!((a.score - b.score).abs() < 1e-4);
    }

    #[test]
    fn candidates_keep_the_best_spaced_frames() {
        let mut c = Candidates::new(2);
        assert_eq!(c.offer(0, 1.0), Offer::Kept);
        assert_eq!(c.offer(1, 2.0), Offer::Replaced(0), "a better neighbour replaces");
        assert_eq!(c.offer(2, 1.5), Offer::Rejected, "a worse neighbour does not");
        assert_eq!(c.offer(10, 0.5), Offer::Kept);
        assert_eq!(c.offer(20, 0.4), Offer::Rejected, "full and worse than all");
        assert_eq!(c.offer(30, 3.0), Offer::Replaced(10));
        assert_eq!(c.indices(), vec![1, 30]);
        assert_eq!(c.offer(40, f32::NAN), Offer::Rejected);
        assert_eq!(Candidates::new(0).offer(0, 9.0), Offer::Rejected);
        assert_eq!(c.score_of(30), Some(3.0));
        assert!(c.contains(1) && !c.contains(10));
    }

    #[test]
    fn a_sharp_window_wins_over_a_long_blurred_clip() {
        let mut c = Candidates::new(4);
        for i in 0..120u64 {
            let s =
                if (55..65).contains(&i) { 8.0 + (i as f32 - 60.0).abs() * -0.1 } else { 2.0 + (i % 7) as f32 * 0.1 };
            c.offer(i, s);
        }
        let idx = c.indices();
        // The window's best frame (60) and another of its moments, a few frames apart.
        assert!(idx.contains(&60) && idx.iter().filter(|i| (55..65).contains(*i)).count() >= 2, "{idx:?}");
        assert!(idx.windows(2).all(|w| w[1] - w[0] >= MIN_SPACING), "{idx:?}");
    }
}
