//! The biometric template: a documented, versioned binary format.
//!
//! ```text
//! offset size  field
//! 0      4     magic "OZFT"
//! 4      2     format version, u16 little-endian (1)
//! 6      2     dimension n, u16 little-endian (128 for SFace)
//! 8      8     model id: the first 8 bytes of the sha256 of the embedder's ONNX file
//! 16     4n    the L2-normalised embedding, n x f32 little-endian
//! 16+4n  4     checksum: the first 4 bytes of sha256(bytes 0 .. 16+4n)
//! ```
//! A template from another model (model id differs), of another version or dimension, with a bad
//! checksum, a wrong length or a vector that is not unit length is refused.

use sha2::{Digest, Sha256};

pub const MAGIC: &[u8; 4] = b"OZFT";
pub const VERSION: u16 = 1;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("template too short or wrong length")]
    Length,
    #[error("not a template (bad magic)")]
    Magic,
    #[error("unsupported template version {0}")]
    Version(u16),
    #[error("template checksum mismatch (corrupted)")]
    Checksum,
    #[error("template was made by another model")]
    OtherModel,
    #[error("template has dimension {0}, expected {1}")]
    Dimension(usize, usize),
    #[error("template vector is not unit length")]
    NotNormalised,
}

/// A decoded template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub model_id: [u8; 8],
    pub vector: Vec<f32>,
}

impl Template {
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.vector.len();
        let mut out = Vec::with_capacity(20 + 4 * n);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_le_bytes());
        out.extend_from_slice(&self.model_id);
        for v in &self.vector {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum[..4]);
        out
    }

    /// Parses and checks a template against the expected model id and dimension.
    pub fn from_bytes(bytes: &[u8], model_id: &[u8; 8], dim: usize) -> Result<Self, TemplateError> {
        if bytes.len() < 20 {
            return Err(TemplateError::Length);
        }
        if &bytes[..4] != MAGIC {
            return Err(TemplateError::Magic);
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != VERSION {
            return Err(TemplateError::Version(version));
        }
        let n = usize::from(u16::from_le_bytes([bytes[6], bytes[7]]));
        if bytes.len() != 20 + 4 * n {
            return Err(TemplateError::Length);
        }
        let body = &bytes[..16 + 4 * n];
        if Sha256::digest(body)[..4] != bytes[16 + 4 * n..] {
            return Err(TemplateError::Checksum);
        }
        if &bytes[8..16] != model_id {
            return Err(TemplateError::OtherModel);
        }
        if n != dim {
            return Err(TemplateError::Dimension(n, dim));
        }
        let vector: Vec<f32> =
            bytes[16..16 + 4 * n].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || (norm - 1.0).abs() > 1e-3 {
            return Err(TemplateError::NotNormalised);
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[8..16]);
        Ok(Self { model_id: id, vector })
    }
}

/// The model id for an embedder: the first 8 bytes of its file's sha256 (hex).
#[must_use]
pub fn model_id_from_sha256(hex_sha: &str) -> [u8; 8] {
    let mut id = [0u8; 8];
    if let Ok(bytes) = hex::decode(hex_sha.get(..16).unwrap_or("")) {
        id[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Template {
        let mut v = vec![0.0f32; 128];
        v[0] = 0.6;
        v[1] = 0.8;
        Template { model_id: *b"12345678", vector: v }
    }

    #[test]
    fn round_trip() {
        let t = sample();
        let b = t.to_bytes();
        assert_eq!(b.len(), 20 + 512);
        assert_eq!(Template::from_bytes(&b, b"12345678", 128), Ok(t));
    }

    #[test]
    fn refuses_bad_templates() {
        let b = sample().to_bytes();
        assert_eq!(Template::from_bytes(&b, b"87654321", 128), Err(TemplateError::OtherModel));
        assert_eq!(Template::from_bytes(&b[..100], b"12345678", 128), Err(TemplateError::Length));
        assert_eq!(Template::from_bytes(b"hello", b"12345678", 128), Err(TemplateError::Length));
        let mut c = b.clone();
        c[40] ^= 1;
        assert_eq!(Template::from_bytes(&c, b"12345678", 128), Err(TemplateError::Checksum));
        let mut m = b.clone();
        m[0] = b'X';
        assert_eq!(Template::from_bytes(&m, b"12345678", 128), Err(TemplateError::Magic));
        let mut not_unit = sample();
        not_unit.vector[0] = 3.0;
        assert_eq!(Template::from_bytes(&not_unit.to_bytes(), b"12345678", 128), Err(TemplateError::NotNormalised));
        assert_eq!(Template::from_bytes(&b, b"12345678", 64), Err(TemplateError::Dimension(128, 64)));
    }

    #[test]
    fn model_id_from_hex() {
        assert_eq!(model_id_from_sha256("bceb1bcb1db659f6aa"), [0xbc, 0xeb, 0x1b, 0xcb, 0x1d, 0xb6, 0x59, 0xf6]);
    }
}
