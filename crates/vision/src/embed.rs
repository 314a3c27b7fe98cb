//! Face embedding with SFace: aligned 112x112 RGB (0..255, NCHW) → 128 floats, L2-normalised.

use image::RgbImage;

use crate::error::VisionError;
use crate::imgops::{self, Channels};
use crate::runtime::ModelPool;

/// Embedding dimension of SFace.
pub const DIM: usize = 128;

/// Embeds an aligned 112x112 face.
pub fn embed(pool: &ModelPool, aligned: &RgbImage) -> Result<Vec<f32>, VisionError> {
    let data = imgops::to_nchw(aligned, Channels::Rgb, [0.0; 3], [1.0; 3]);
    let outs = pool.run("data", &[1, 3, 112, 112], data)?;
    let v =
        outs.first().map(|(_, _, d)| d.clone()).ok_or_else(|| VisionError::Model("embedder gave no output".into()))?;
    if v.len() != DIM {
        return Err(VisionError::Model(format!("embedder gave {} values, expected {DIM}", v.len())));
    }
    normalize(v)
}

/// L2-normalises a vector; a zero or non-finite vector is a model error.
pub fn normalize(mut v: Vec<f32>) -> Result<Vec<f32>, VisionError> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !n.is_finite() || n <= 1e-12 {
        return Err(VisionError::Model("embedding has zero or non-finite norm".into()));
    }
    v.iter_mut().for_each(|x| *x /= n);
    Ok(v)
}

/// Cosine similarity of two L2-normalised vectors.
#[must_use]
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>().clamp(-1.0, 1.0)
}
