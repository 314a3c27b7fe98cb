//! Typed errors of the vision crate. Callers map them to Oz error codes in one place (oz-http).

use crate::template::TemplateError;
use crate::video::VideoError;

#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("empty media")]
    Empty,
    #[error("media is {size} bytes, the limit is {limit}")]
    FileTooLarge { size: u64, limit: u64 },
    #[error("unsupported media format (expected JPEG, PNG, a video or a zip of images)")]
    UnsupportedFormat,
    #[error("unreadable image: {0}")]
    UnreadableImage(String),
    #[error("image is {width}x{height} pixels, the limit is {limit} pixels")]
    ImageTooLarge { width: u32, height: u32, limit: u64 },
    #[error(transparent)]
    Video(#[from] VideoError),
    #[error("unreadable zip archive: {0}")]
    UnreadableZip(String),
    #[error("zip archive has {count} entries, the limit is {limit}")]
    ZipTooManyEntries { count: usize, limit: usize },
    #[error("zip archive expands to more than {limit} bytes")]
    ZipTooLarge { limit: u64 },
    #[error("zip entry has an unsafe path: {0}")]
    ZipUnsafePath(String),
    #[error("zip archive holds no image")]
    ZipEmpty,
    #[error("zip entry {name:?} expands to more than {limit} bytes (OZ_ZIP_MAX_ENTRY_BYTES)")]
    ZipEntryTooLarge { name: String, limit: u64 },
    #[error("decoding took longer than {0:.1} s")]
    DecodeTimeout(f64),
    #[error("the request asks for too much decoding: more than {limit} {what} ({setting})")]
    TooMuchWork { what: &'static str, limit: u64, setting: &'static str },
    #[error("decoding needs {need} bytes of frames, the limit is {limit} (OZ_DECODE_REQUEST_BUDGET_BYTES)")]
    OverBudget { need: u64, limit: u64 },
    #[error("the server is decoding too much media right now, retry later")]
    Busy,
    #[error("no face found")]
    NoFace,
    #[error("{0} faces found where one was expected")]
    ManyFaces(usize),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("model error: {0}")]
    Model(String),
}

impl VisionError {
    /// True when the error is the server's fault (models, runtime), not the input's.
    #[must_use]
    pub fn is_internal(&self) -> bool {
        matches!(self, VisionError::Model(_))
    }
}

impl From<ort::Error> for VisionError {
    fn from(e: ort::Error) -> Self {
        VisionError::Model(e.to_string())
    }
}
