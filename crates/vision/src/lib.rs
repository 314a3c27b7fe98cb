//! Vision: everything between media bytes and face numbers, with no HTTP and no database.
//!
//! Stages, each in its own module: [`media`] decodes images, videos ([`video`]) and zip shot sets
//! into upright RGB frames under [`limits`] and a memory [`budget`]; [`detect`] finds faces (YuNet) with 5 landmarks;
//! [`align`] warps a face to the 112x112 template; [`embed`] turns it into an L2-normalised vector
//! (SFace) kept as a versioned [`template`]; [`liveness`] scores presentation attacks
//! (MiniFASNet); [`pose`] estimates head pose; [`quality`] scores frames and picks the best shot.
//! [`mesh`] gives the 468-point MediaPipe face mesh, from which [`gesture`] measures eyes, mouth,
//! face size and head turns per frame and tells whether a requested gesture (blink, smile, turn...)
//! happens in a clip, and [`planarity`] tells a flat photo or screen moved in front of the camera
//! from a turning head (a second anti-spoofing signal for videos). [`challenge`] verifies that a
//! clip shows exactly a server-issued sequence of actions, by one person, in one take.
//! [`load`] lets a decode or frame loop that starts beside another run on one thread.
//! [`encode`] makes an upload's JPEG preview and the mp4 of a zip shot set.
//! [`pipeline::Pipeline`] ties them together over an ONNX Runtime session pool ([`runtime`]) whose
//! models are checked against `models/manifest.json` ([`models`]).

pub mod align;
pub mod budget;
pub mod challenge;
pub mod detect;
pub mod embed;
pub mod encode;
pub mod error;
pub mod gesture;
pub mod imgops;
pub mod limits;
pub mod liveness;
pub mod load;
pub mod media;
pub mod mesh;
pub mod models;
pub mod pipeline;
pub mod planarity;
pub mod pose;
pub mod prescore;
pub mod quality;
pub mod runtime;
pub mod template;
pub mod testdata;
pub mod video;

/// Histogram (seconds) of one ONNX Runtime `run`, by `model` (the manifest's model name).
pub const INFERENCE_SECONDS: &str = "openoz_inference_seconds";
/// Histogram (seconds) of decoding one upload, by `kind` (`image`, `video`, `shots`).
pub const MEDIA_DECODE_SECONDS: &str = "openoz_media_decode_seconds";
/// Histogram (seconds) of the stages of a video decode, by `stage` (`open`: container and header;
/// `decode`: one demux and decode pass; `convert`: sampled frames to upright RGB).
pub const VIDEO_DECODE_SECONDS: &str = "openoz_video_decode_seconds";
/// Counter of bytes of cached frames (decode cache, best frames) taken back from the decode
/// budget because a decode needed the room.
pub const DECODE_BUDGET_RECLAIMED_BYTES: &str = "openoz_decode_budget_reclaimed_bytes_total";
/// Counter of requests refused by their work budget, by `limit` (`pixels`, `frames`, `time`).
pub const REQUEST_WORK_REFUSED: &str = "openoz_request_work_refused_total";

pub use budget::{BudgetConfig, DecodeBudget, RequestBudget, WorkLimits};
pub use error::VisionError;
pub use limits::MediaLimits;
pub use pipeline::{Pipeline, PipelineConfig};
