//! Vector checks, int8 quantisation and the dot-product kernels.
//!
//! A unit vector `v` is stored as `codes[i] = round(v[i] / s)` in `-127..=127` with one `f32`
//! scale per vector, `s = max|v[i]| / 127`; it stands for `v̂ = s * codes`. Scanning multiplies the
//! int8 codes of the query and of each stored vector (exact `i32` sum) and rescales; candidates are
//! then re-scored as `f32 query · v̂`, which is the cosine a [`crate::Hit`] reports.

use crate::IndexError;

/// How far from 1 the L2 norm of an accepted vector may be (same tolerance as the template
/// format of `oz-vision`).
pub const UNIT_TOLERANCE: f32 = 1e-3;

/// Checks the dimension, finiteness and unit length of `v`, and returns it re-normalised exactly.
pub(crate) fn checked_unit(v: &[f32], dim: usize) -> Result<Vec<f32>, IndexError> {
    if v.len() != dim {
        return Err(IndexError::Dimension { expected: dim, got: v.len() });
    }
    if !v.iter().all(|x| x.is_finite()) {
        return Err(IndexError::NotFinite);
    }
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if !norm.is_finite() || (norm - 1.0).abs() > f64::from(UNIT_TOLERANCE) {
        return Err(IndexError::NotUnit(norm as f32));
    }
    Ok(v.iter().map(|x| (f64::from(*x) / norm) as f32).collect())
}

/// Quantises `v` into `out` (same length) and returns the scale.
pub fn quantize(v: &[f32], out: &mut [i8]) -> f32 {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        out.fill(0);
        return 0.0;
    }
    let inv = 127.0 / max;
    for (o, x) in out.iter_mut().zip(v) {
        *o = (x * inv).round().clamp(-127.0, 127.0) as i8;
    }
    max / 127.0
}

/// Which int8 dot-product kernel a scan uses.
///
/// The default depends on the build: with AVX2 enabled at compile time (`-C target-cpu=x86-64-v3`
/// or `native`) the plain loop is inlined and vectorised by LLVM and scans 1M templates 1.6–1.8x
/// faster than a simsimd call per template; on a baseline build (SSE2 only, the default x86-64
/// target) simsimd's run-time dispatch to AVX2 / AVX-512 VNNI is 2.5x faster than the plain loop.
/// Measurements in BENCHMARKS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// `simsimd::i8::dot`: C kernels picked at run time for the CPU (AVX-512 VNNI, AVX2, NEON,
    /// SVE...), one call per template.
    SimSimd,
    /// A plain Rust loop, auto-vectorised by LLVM for the compile-time target.
    Portable,
}

impl Default for Kernel {
    fn default() -> Self {
        if cfg!(all(target_arch = "x86_64", target_feature = "avx2")) { Kernel::Portable } else { Kernel::SimSimd }
    }
}

/// `Σ a[i]·b[i]` over int8 codes with the simsimd kernel (exact: the kernel sums in integers).
#[inline]
pub fn dot_i8_simsimd(a: &[i8], b: &[i8]) -> i32 {
    use simsimd::SpatialSimilarity;
    match <i8 as SpatialSimilarity>::dot(a, b) {
        Some(d) => d as i32,
        None => dot_i8_portable(a, b),
    }
}

/// `Σ a[i]·b[i]` over int8 codes, plain Rust.
#[inline]
pub fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

impl Kernel {
    #[inline]
    pub(crate) fn dot(self, a: &[i8], b: &[i8]) -> i32 {
        match self {
            Kernel::SimSimd => dot_i8_simsimd(a, b),
            Kernel::Portable => dot_i8_portable(a, b),
        }
    }
}

/// `scale · Σ q[i]·codes[i]`: the f32 query against a stored int8 vector. Eight partial sums in a
/// fixed order, so the result does not depend on how a search was split over threads.
#[inline]
pub fn rescore(q: &[f32], codes: &[i8], scale: f32) -> f32 {
    let mut acc = [0f32; 8];
    let mut qc = q.chunks_exact(8);
    let mut cc = codes.chunks_exact(8);
    for (qs, cs) in qc.by_ref().zip(cc.by_ref()) {
        for k in 0..8 {
            acc[k] += qs[k] * f32::from(cs[k]);
        }
    }
    let mut tail = 0f32;
    for (x, &c) in qc.remainder().iter().zip(cc.remainder()) {
        tail += x * f32::from(c);
    }
    let sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
    sum * scale
}

/// f32 dot product (reference for error measurements).
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum::<f64>() as f32
}

/// The query as a scan needs it.
pub(crate) struct Query {
    pub f32: Vec<f32>,
    pub codes: Vec<i8>,
    pub scale: f32,
    /// Upper bound of `|int8·int8 score − rescored score|` for any stored vector.
    pub margin: f32,
}

impl Query {
    pub(crate) fn new(v: Vec<f32>) -> Self {
        let mut codes = vec![0i8; v.len()];
        let scale = quantize(&v, &mut codes);
        // |q·v̂ − q̂·v̂| ≤ ‖q − q̂‖·‖v̂‖ and ‖v̂‖ ≤ 1 + √dim·s_v/2 with s_v ≤ 1/127 for a unit v.
        let err = v
            .iter()
            .zip(&codes)
            .map(|(x, &c)| {
                let d = f64::from(*x) - f64::from(c) * f64::from(scale);
                d * d
            })
            .sum::<f64>()
            .sqrt();
        let vhat = 1.0 + (v.len() as f64).sqrt() / 254.0;
        // plus slack for the f32 arithmetic of both scores
        let margin = (err * vhat + 1e-4) as f32;
        Query { f32: v, codes, scale, margin }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree() {
        let a: Vec<i8> = (0..128).map(|i| ((i * 37) % 255 - 127) as i8).collect();
        let b: Vec<i8> = (0..128).map(|i| ((i * 91 + 5) % 255 - 127) as i8).collect();
        assert_eq!(dot_i8_simsimd(&a, &b), dot_i8_portable(&a, &b));
        let max = vec![127i8; 128];
        let min = vec![-127i8; 128];
        assert_eq!(dot_i8_simsimd(&max, &max), 127 * 127 * 128);
        assert_eq!(dot_i8_simsimd(&max, &min), -127 * 127 * 128);
        // odd length goes through the tails of both kernels
        assert_eq!(dot_i8_simsimd(&a[..77], &b[..77]), dot_i8_portable(&a[..77], &b[..77]));
    }

    #[test]
    fn quantize_round_trip_is_close() {
        let v: Vec<f32> = (0..128).map(|i| ((i as f32) * 0.37).sin()).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let v: Vec<f32> = v.iter().map(|x| x / n).collect();
        let mut c = vec![0i8; 128];
        let s = quantize(&v, &mut c);
        assert!(c.iter().any(|&x| x == 127 || x == -127));
        for (x, &q) in v.iter().zip(&c) {
            assert!((x - f32::from(q) * s).abs() <= s / 2.0 + 1e-7);
        }
        let self_score = rescore(&v, &c, s);
        assert!((self_score - 1.0).abs() < 1e-3, "{self_score}");
    }

    #[test]
    fn checks() {
        assert_eq!(checked_unit(&[1.0, 0.0], 3), Err(IndexError::Dimension { expected: 3, got: 2 }));
        assert_eq!(checked_unit(&[f32::NAN, 0.0], 2), Err(IndexError::NotFinite));
        assert_eq!(checked_unit(&[f32::INFINITY, 0.0], 2), Err(IndexError::NotFinite));
        assert!(matches!(checked_unit(&[0.0, 0.0], 2), Err(IndexError::NotUnit(_))));
        assert!(matches!(checked_unit(&[0.5, 0.5], 2), Err(IndexError::NotUnit(_))));
        assert!(checked_unit(&[0.6, 0.8], 2).is_ok());
        assert!(checked_unit(&[0.6, 0.8004], 2).is_ok());
    }
}
