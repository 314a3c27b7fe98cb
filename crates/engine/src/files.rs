//! Stored files (uploaded media, best shots, previews, shot-set videos, blacklist photos) behind
//! one interface with two backends, chosen by `OZ_STORAGE_URL`:
//!
//! - a local directory (`file:///path`, the default `OZ_DATA_DIR/media`): random names, written to
//!   a temporary file, flushed and renamed, so a reader never sees half a file;
//! - an S3-compatible bucket (`s3://bucket/prefix`, through the `object_store` crate; endpoint,
//!   region and credentials from the usual `AWS_*` variables): one PUT per file, which S3 makes
//!   visible whole or not at all. API and worker processes on several machines share it.
//!
//! Names are always `<uuid>.<ext>` made here; a name from a request is checked before it is used,
//! so no name can leave the directory or the prefix.
//!
//! The synchronous methods (`write`, `read`, `remove_all`, ...) are for blocking threads (the
//! decode and analysis code runs there); with the bucket backend they wait on the runtime the
//! store was opened on. Async code uses the `*_async` methods and [`MediaFiles::download`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use uuid::Uuid;

/// How many deletes run at once against a bucket.
const DELETE_CONCURRENCY: usize = 8;

#[derive(Clone)]
pub struct MediaFiles {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Local { dir: PathBuf },
    Bucket(Arc<Bucket>),
}

struct Bucket {
    store: Arc<dyn ObjectStore>,
    /// Key prefix (no leading or trailing slash; empty for the bucket's root).
    prefix: String,
    /// `s3://bucket/prefix`, for logs.
    url: String,
    /// The runtime the synchronous methods wait on (they run on its blocking threads).
    rt: tokio::runtime::Handle,
}

impl std::fmt::Debug for MediaFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MediaFiles").field(&self.location()).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("invalid stored file name")]
    BadName,
    #[error("no such stored file")]
    NotFound,
    #[error("media file i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage: {0}")]
    Store(object_store::Error),
    #[error("invalid OZ_STORAGE_URL: {0}")]
    Config(String),
}

impl From<object_store::Error> for FileError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

/// A stored file opened for download: its length and its bytes as a stream.
pub struct Download {
    pub len: u64,
    pub stream: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// True for names this store makes (`<hex>.<ext>`, or anything of letters, digits, `.`, `_`, `-`
/// not starting with a dot): nothing that could name another folder or key.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
}

fn fresh_name(ext: &str) -> String {
    format!("{}.{}", Uuid::new_v4().simple(), ext.trim_start_matches('.'))
}

impl MediaFiles {
    /// The default local store: (creates and) uses `data_dir/media`.
    pub fn open(data_dir: &Path) -> Result<Self, FileError> {
        Self::local(&data_dir.join("media"))
    }

    /// A local store in `dir` (created if missing).
    pub fn local(dir: &Path) -> Result<Self, FileError> {
        std::fs::create_dir_all(dir)?;
        Ok(Self { backend: Backend::Local { dir: dir.to_path_buf() } })
    }

    /// The store `OZ_STORAGE_URL` names: `file:///abs/path`, `s3://bucket[/prefix]`, or (unset or
    /// empty) `data_dir/media`. For `s3://` the endpoint, region and credentials come from the
    /// `AWS_*` variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, ...); an `http://` endpoint is allowed as
    /// such. Must be called inside a Tokio runtime (the bucket backend keeps its handle).
    pub fn from_url(url: Option<&str>, data_dir: &Path) -> Result<Self, FileError> {
        let url = url.map(str::trim).unwrap_or_default();
        if url.is_empty() {
            return Self::open(data_dir);
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(FileError::Config(format!(
                    "{url}: a file:// URL needs an absolute path (file:///srv/media)"
                )));
            }
            return Self::local(Path::new(path));
        }
        if url.starts_with("s3://") {
            return Self::s3(url, AmazonS3Builder::from_env());
        }
        Err(FileError::Config(format!("{url}: expected file:///path or s3://bucket/prefix")))
    }

    /// An S3 store for `url` (`s3://bucket[/prefix]`) with the settings in `builder`.
    pub fn s3(url: &str, builder: AmazonS3Builder) -> Result<Self, FileError> {
        let parsed = url::Url::parse(url).map_err(|e| FileError::Config(format!("{url}: {e}")))?;
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| FileError::Config(format!("{url}: no bucket name (s3://bucket/prefix)")))?;
        let prefix = parsed.path().trim_matches('/').to_string();
        if prefix.split('/').any(|s| s == "." || s == "..") {
            return Err(FileError::Config(format!("{url}: the prefix may not contain . or ..")));
        }
        let mut b = builder.with_bucket_name(bucket);
        let endpoint = b.get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint);
        if endpoint.is_some_and(|e| e.starts_with("http://")) {
            b = b.with_allow_http(true);
        }
        let store = b.build().map_err(|e| FileError::Config(format!("{url}: {e}")))?;
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| FileError::Config("the bucket store must be opened inside the runtime".into()))?;
        let url = if prefix.is_empty() { format!("s3://{bucket}") } else { format!("s3://{bucket}/{prefix}") };
        Ok(Self { backend: Backend::Bucket(Arc::new(Bucket { store: Arc::new(store), prefix, url, rt })) })
    }

    /// Where the files are: a directory path or `s3://bucket/prefix`.
    #[must_use]
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Local { dir } => dir.display().to_string(),
            Backend::Bucket(b) => b.url.clone(),
        }
    }

    /// True when the files live in a bucket (shared by every process that names it).
    #[must_use]
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Bucket(_))
    }

    /// The local path of a stored file (local backend only); refuses names that could leave the
    /// folder.
    pub fn path(&self, name: &str) -> Result<PathBuf, FileError> {
        match &self.backend {
            Backend::Local { dir } if valid_name(name) => Ok(dir.join(name)),
            _ => Err(FileError::BadName),
        }
    }

    /// Checks that the store can be written, read and cleaned, so a wrong bucket, endpoint or
    /// credential stops the process at start instead of failing the first upload.
    pub async fn check(&self) -> Result<(), FileError> {
        let probe = format!(".probe-{}", Uuid::new_v4().simple());
        match &self.backend {
            Backend::Local { dir } => {
                let p = dir.join(&probe);
                tokio::fs::write(&p, b"openoz").await?;
                tokio::fs::remove_file(&p).await?;
            }
            Backend::Bucket(b) => {
                let key = b.key(&probe);
                b.store.put(&key, PutPayload::from_static(b"openoz")).await?;
                let back = b.store.get(&key).await?.bytes().await?;
                b.store.delete(&key).await?;
                if back.as_ref() != b"openoz" {
                    return Err(FileError::Config(format!("{}: a probe object read back different bytes", b.url)));
                }
            }
        }
        Ok(())
    }

    /// Writes `bytes` under a fresh random name with extension `ext` and returns the name.
    /// Blocking (for blocking threads).
    pub fn write(&self, bytes: &[u8], ext: &str) -> Result<String, FileError> {
        let name = fresh_name(ext);
        match &self.backend {
            Backend::Local { dir } => {
                let tmp = dir.join(format!(".tmp-{name}"));
                let result = (|| {
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(bytes)?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, dir.join(&name))
                })();
                if let Err(e) = result {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.into());
                }
            }
            Backend::Bucket(b) => {
                let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
                b.rt.block_on(b.store.put(&b.key(&name), payload))?;
            }
        }
        Ok(name)
    }

    /// The whole content of a stored file. Blocking.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, FileError> {
        if !valid_name(name) {
            return Err(FileError::BadName);
        }
        match &self.backend {
            Backend::Local { dir } => match std::fs::read(dir.join(name)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(FileError::NotFound),
                other => Ok(other?),
            },
            Backend::Bucket(b) => {
                let key = b.key(name);
                b.rt.block_on(async { Ok(b.store.get(&key).await?.bytes().await?.to_vec()) })
            }
        }
    }

    /// Whether a stored file exists. Blocking.
    pub fn exists(&self, name: &str) -> Result<bool, FileError> {
        match &self.backend {
            Backend::Local { .. } => Ok(self.path(name)?.is_file()),
            Backend::Bucket(b) => {
                if !valid_name(name) {
                    return Err(FileError::BadName);
                }
                match b.rt.block_on(b.store.head(&b.key(name))) {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Opens a stored file for a streamed download (the bytes are not held in memory).
    pub async fn download(&self, name: &str) -> Result<Download, FileError> {
        if !valid_name(name) {
            return Err(FileError::BadName);
        }
        match &self.backend {
            Backend::Local { dir } => {
                let file = match tokio::fs::File::open(dir.join(name)).await {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FileError::NotFound),
                    other => other?,
                };
                let len = file.metadata().await?.len();
                Ok(Download { len, stream: file_stream(file).boxed() })
            }
            Backend::Bucket(b) => {
                let got = b.store.get(&b.key(name)).await?;
                let len = got.meta.size;
                let stream = got.into_stream().map_err(|e| std::io::Error::other(e.to_string())).boxed();
                Ok(Download { len, stream })
            }
        }
    }

    /// Removes stored files, ignoring those already gone. Blocking.
    pub fn remove_all<S: AsRef<str>>(&self, names: &[S]) {
        match &self.backend {
            Backend::Local { .. } => self.remove_local(names),
            Backend::Bucket(b) => b.rt.block_on(b.remove(names)),
        }
    }

    /// [`MediaFiles::remove_all`] for async code.
    pub async fn remove_all_async<S: AsRef<str>>(&self, names: &[S]) {
        match &self.backend {
            Backend::Local { .. } => {
                let names: Vec<String> = names.iter().map(|n| n.as_ref().to_string()).collect();
                let me = self.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || me.remove_local(&names)).await {
                    tracing::warn!(error = %e, "cannot remove media files");
                }
            }
            Backend::Bucket(b) => b.remove(names).await,
        }
    }

    fn remove_local<S: AsRef<str>>(&self, names: &[S]) {
        for n in names {
            if let Ok(p) = self.path(n.as_ref())
                && let Err(e) = std::fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %p.display(), error = %e, "cannot remove media file");
            }
        }
    }

    /// Files of the store last modified more than `grace` ago: stored names, and leftover
    /// temporary files (`.tmp-*`, from a local write that never finished; a bucket has none).
    /// Anything else is ignored. For the sweeper: a file this young may belong to an upload or
    /// an analysis still running, whose row is not written yet. Blocking.
    pub fn older_than(&self, grace: Duration) -> Result<(Vec<String>, Vec<String>), FileError> {
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let (mut stored, mut tmp) = (Vec::new(), Vec::new());
        match &self.backend {
            Backend::Local { dir } => {
                for e in std::fs::read_dir(dir)? {
                    let Ok(e) = e else { continue };
                    let Ok(meta) = e.metadata() else { continue };
                    if !meta.is_file() || !meta.modified().is_ok_and(|m| m <= cutoff) {
                        continue;
                    }
                    let Some(name) = e.file_name().to_str().map(str::to_string) else { continue };
                    if let Some(rest) = name.strip_prefix(".tmp-") {
                        if valid_name(rest) {
                            tmp.push(name);
                        }
                    } else if valid_name(&name) {
                        stored.push(name);
                    }
                }
            }
            Backend::Bucket(b) => {
                let cutoff = cutoff.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                for (name, modified) in b.rt.block_on(b.list())? {
                    if valid_name(&name) && modified <= cutoff {
                        stored.push(name);
                    }
                }
            }
        }
        Ok((stored, tmp))
    }

    /// Removes leftover temporary files (names as [`MediaFiles::older_than`] lists them).
    pub fn remove_temporary<S: AsRef<str>>(&self, names: &[S]) {
        let Backend::Local { dir } = &self.backend else { return };
        for n in names {
            let n = n.as_ref();
            if let Some(rest) = n.strip_prefix(".tmp-")
                && valid_name(rest)
                && let Err(e) = std::fs::remove_file(dir.join(n))
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = n, error = %e, "cannot remove a temporary media file");
            }
        }
    }

    /// Number of stored files (temporary files excluded). Blocking.
    pub fn count(&self) -> usize {
        match &self.backend {
            Backend::Local { dir } => std::fs::read_dir(dir)
                .map(|d| d.filter_map(Result::ok).filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
                .unwrap_or(0),
            Backend::Bucket(b) => b.rt.block_on(b.list()).map(|v| v.len()).unwrap_or(0),
        }
    }
}

impl Bucket {
    fn key(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    async fn remove<S: AsRef<str>>(&self, names: &[S]) {
        let keys: Vec<ObjectPath> =
            names.iter().map(AsRef::as_ref).filter(|n| valid_name(n)).map(|n| self.key(n)).collect();
        futures_util::stream::iter(keys)
            .for_each_concurrent(DELETE_CONCURRENCY, |key| async move {
                match self.store.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => tracing::warn!(key = %key, error = %e, "cannot remove a stored object"),
                }
            })
            .await;
    }

    /// Every object directly under the prefix: (name, last modified in seconds since the epoch).
    async fn list(&self) -> Result<Vec<(String, f64)>, FileError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let mut out = Vec::new();
        let mut s = self.store.list(prefix.as_ref());
        while let Some(meta) = s.next().await {
            let meta = meta?;
            let Some(name) = meta.location.filename() else { continue };
            // Only direct children: the store never writes deeper keys.
            let parent_ok = match meta.location.as_ref().rsplit_once('/') {
                Some((parent, _)) => parent == self.prefix,
                None => self.prefix.is_empty(),
            };
            if parent_ok {
                out.push((name.to_string(), meta.last_modified.timestamp_millis() as f64 / 1000.0));
            }
        }
        Ok(out)
    }
}

fn file_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |state| async move {
        let mut f = state?;
        let mut buf = bytes::BytesMut::with_capacity(64 * 1024);
        match f.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), Some(f))),
            Err(e) => Some((Err(e), None)),
        }
    })
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
        assert!(matches!(f.read("0123.jpg"), Err(FileError::NotFound)));
        assert!(matches!(f.read("../etc/passwd"), Err(FileError::BadName)));
        assert!(f.exists(&a).expect("exists"));
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
        f.remove_all(&[a.clone(), b]);
        assert_eq!(f.count(), 0);
        assert!(!f.exists(&a).expect("exists"));
        assert!(dir.join("media").join("..weird").exists(), "names the store never writes are left alone");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn storage_urls() {
        let dir = std::env::temp_dir().join(format!("oz-files-{}", Uuid::new_v4()));
        let f = MediaFiles::from_url(None, &dir).expect("default");
        assert_eq!(f.location(), dir.join("media").display().to_string());
        assert!(!f.is_shared());
        f.check().await.expect("a local directory passes the start-up check");
        let other = dir.join("elsewhere");
        let f = MediaFiles::from_url(Some(&format!("file://{}", other.display())), &dir).expect("file url");
        assert_eq!(f.location(), other.display().to_string());
        assert!(other.is_dir());
        for bad in ["file://relative/path", "ftp://x/y", "s3://", "s3:///prefix", "gs://bucket"] {
            assert!(matches!(MediaFiles::from_url(Some(bad), &dir), Err(FileError::Config(_))), "{bad}");
        }
        let s3 = MediaFiles::s3(
            "s3://media-bucket/openoz/prod/",
            AmazonS3Builder::new().with_endpoint("http://127.0.0.1:9").with_region("us-east-1"),
        )
        .expect("s3 url");
        assert_eq!(s3.location(), "s3://media-bucket/openoz/prod");
        assert!(s3.is_shared());
        assert!(s3.path("a.jpg").is_err(), "a bucket has no local paths");
        // Dot segments are resolved by the URL parser: the prefix cannot climb out of the bucket.
        let s3 = MediaFiles::s3("s3://b/a/../../x", AmazonS3Builder::new().with_region("us-east-1")).expect("s3 url");
        assert_eq!(s3.location(), "s3://b/x");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
