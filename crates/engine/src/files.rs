//! Media files under `OZ_DATA_DIR/media`, with random (unguessable) names, written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct MediaFiles {
    dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("invalid stored file name")]
    BadName,
    #[error("media file i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaFiles {
    /// Uses (and creates) `data_dir/media`.
    pub fn open(data_dir: &Path) -> Result<Self, FileError> {
        let dir = data_dir.join("media");
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// Writes `bytes` under a fresh random name with extension `ext`: to a temporary file first,
    /// flushed, then renamed, so a reader never sees half a file.
    pub fn write(&self, bytes: &[u8], ext: &str) -> Result<String, FileError> {
        let name = format!("{}.{}", Uuid::new_v4().simple(), ext.trim_start_matches('.'));
        let tmp = self.dir.join(format!(".tmp-{name}"));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.dir.join(&name))
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        Ok(name)
    }

    /// The path of a stored file; refuses names that could leave the folder.
    pub fn path(&self, name: &str) -> Result<PathBuf, FileError> {
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
        if ok { Ok(self.dir.join(name)) } else { Err(FileError::BadName) }
    }

    pub fn read(&self, name: &str) -> Result<Vec<u8>, FileError> {
        Ok(std::fs::read(self.path(name)?)?)
    }

    /// Removes stored files, ignoring those already gone.
    pub fn remove_all<S: AsRef<str>>(&self, names: &[S]) {
        for n in names {
            if let Ok(p) = self.path(n.as_ref())
                && let Err(e) = std::fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %p.display(), error = %e, "cannot remove media file");
            }
        }
    }

    /// Files of the media folder last modified more than `grace` ago: stored names, and leftover
    /// temporary files (`.tmp-*`, from a write that never finished). Anything else in the folder
    /// is ignored. For the sweeper: a file this young may belong to an upload or an analysis
    /// still running, whose row is not written yet.
    pub fn older_than(&self, grace: Duration) -> Result<(Vec<String>, Vec<String>), FileError> {
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let (mut stored, mut tmp) = (Vec::new(), Vec::new());
        for e in std::fs::read_dir(&self.dir)? {
            let Ok(e) = e else { continue };
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() || !meta.modified().is_ok_and(|m| m <= cutoff) {
                continue;
            }
            let Some(name) = e.file_name().to_str().map(str::to_string) else { continue };
            if let Some(rest) = name.strip_prefix(".tmp-") {
                if self.path(rest).is_ok() {
                    tmp.push(name);
                }
            } else if self.path(&name).is_ok() {
                stored.push(name);
            }
        }
        Ok((stored, tmp))
    }

    /// Removes leftover temporary files (names as [`MediaFiles::older_than`] lists them).
    pub fn remove_temporary<S: AsRef<str>>(&self, names: &[S]) {
        for n in names {
            let n = n.as_ref();
            if let Some(rest) = n.strip_prefix(".tmp-")
                && self.path(rest).is_ok()
                && let Err(e) = std::fs::remove_file(self.dir.join(n))
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = n, error = %e, "cannot remove a temporary media file");
            }
        }
    }

    /// Number of stored files (temporary files excluded).
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(Result::ok).filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reads_and_refuses_escapes() {
        let dir = std::env::temp_dir().join(format!("oz-files-{}", Uuid::new_v4()));
        let f = MediaFiles::open(&dir).expect("open");
        let a = f.write(b"hello", "jpg").expect("write");
        let b = f.write(b"world", "jpg").expect("write");
        assert_ne!(a, b);
        assert!(a.ends_with(".jpg") && a.len() > 30);
        assert_eq!(f.read(&a).expect("read"), b"hello");
        assert_eq!(f.count(), 2);
        assert!(f.path("../etc/passwd").is_err());
        assert!(f.path("a/b").is_err());
        assert!(f.path(".tmp-x").is_err());
        // Everything is younger than an hour; with no grace both files count, and a leftover
        // temporary file is listed apart; other names are ignored.
        std::fs::write(dir.join("media").join(".tmp-abc.jpg"), b"x").expect("tmp");
        std::fs::write(dir.join("media").join("..weird"), b"x").expect("weird");
        let (stored, tmp) = f.older_than(Duration::from_secs(3600)).expect("list");
        assert!(stored.is_empty() && tmp.is_empty());
        let (mut stored, tmp) = f.older_than(Duration::ZERO).expect("list");
        stored.sort();
        let mut both = vec![a.clone(), b.clone()];
        both.sort();
        assert_eq!((stored, tmp.clone()), (both, vec![".tmp-abc.jpg".to_string()]));
        f.remove_temporary(&tmp);
        f.remove_temporary(&["../../etc/passwd"]);
        assert!(!dir.join("media").join(".tmp-abc.jpg").exists());
        f.remove_all(&[a, b]);
        assert_eq!(f.count(), 0);
        assert!(dir.join("media").join("..weird").exists(), "names the store never writes are left alone");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
