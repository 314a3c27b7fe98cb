//! The model manifest (`models/manifest.json`): which ONNX file plays which role, where it came
//! from, its licence and its sha256. Every file is verified at start-up; a missing or altered model
//! stops the server with a clear message.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::VisionError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelEntry {
    /// File name inside the models folder.
    pub file: String,
    /// detector | embedder | liveness | pose | mesh
    pub role: String,
    /// Short model name reported by `/version`.
    pub name: String,
    pub version: String,
    pub source: String,
    pub license: String,
    pub sha256: String,
    pub input: String,
    pub output: String,
    /// For the liveness role: how a face is given to the model and how its output is read
    /// ([`crate::liveness::LivenessSpec`]); absent = the shipped MiniFASNet's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<crate::liveness::LivenessSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub models: Vec<ModelEntry>,
}

/// A verified manifest with absolute paths.
#[derive(Debug, Clone)]
pub struct VerifiedModels {
    pub dir: PathBuf,
    pub entries: Vec<ModelEntry>,
}

impl VerifiedModels {
    /// The entry for a role.
    pub fn role(&self, role: &str) -> Result<&ModelEntry, VisionError> {
        self.entries
            .iter()
            .find(|e| e.role == role)
            .ok_or_else(|| VisionError::Model(format!("models/manifest.json has no model for role '{role}'")))
    }

    #[must_use]
    pub fn path(&self, entry: &ModelEntry) -> PathBuf {
        self.dir.join(&entry.file)
    }
}

/// sha256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// Reads `dir/manifest.json` and checks that every listed file exists with the recorded sha256.
pub fn verify(dir: &Path) -> Result<VerifiedModels, VisionError> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| VisionError::Model(format!("cannot read {}: {e}", manifest_path.display())))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| VisionError::Model(format!("invalid {}: {e}", manifest_path.display())))?;
    for entry in &manifest.models {
        let path = dir.join(&entry.file);
        if entry.file.contains('/') || entry.file.contains("..") {
            return Err(VisionError::Model(format!("manifest file name must be plain: {}", entry.file)));
        }
        let actual = sha256_file(&path)
            .map_err(|e| VisionError::Model(format!("model {} is missing ({}): {e}", entry.name, path.display())))?;
        if !actual.eq_ignore_ascii_case(&entry.sha256) {
            return Err(VisionError::Model(format!(
                "model {} ({}) has sha256 {actual}, the manifest says {}: the file was altered or replaced",
                entry.name,
                path.display(),
                entry.sha256
            )));
        }
    }
    Ok(VerifiedModels { dir: dir.to_path_buf(), entries: manifest.models })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"))
    }

    #[test]
    fn shipped_manifest_verifies() {
        let m = verify(&models_dir()).expect("shipped models verify");
        for role in ["detector", "embedder", "liveness", "pose", "mesh"] {
            assert!(m.role(role).is_ok(), "role {role}");
        }
    }

    #[test]
    fn altered_or_missing_model_is_refused() {
        let tmp = std::env::temp_dir().join(format!("oz-models-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("tmp");
        let src = models_dir();
        std::fs::copy(src.join("manifest.json"), tmp.join("manifest.json")).expect("copy manifest");
        // Missing files first.
        let err = verify(&tmp).expect_err("missing models");
        assert!(err.to_string().contains("missing"), "{err}");
        // Then every file present but one altered.
        let manifest: Manifest =
            serde_json::from_str(&std::fs::read_to_string(tmp.join("manifest.json")).expect("read")).expect("json");
        for e in &manifest.models {
            std::fs::copy(src.join(&e.file), tmp.join(&e.file)).expect("copy model");
        }
        verify(&tmp).expect("copied models verify");
        let victim = tmp.join(&manifest.models[0].file);
        let mut bytes = std::fs::read(&victim).expect("read model");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        std::fs::write(&victim, bytes).expect("write");
        let err = verify(&tmp).expect_err("altered model");
        assert!(err.to_string().contains("altered"), "{err}");
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
