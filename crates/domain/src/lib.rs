//! Oz domain: the types and rules every other crate shares, with no IO.
//!
//! - [`decision`]: biometric score mapping (cosine → Oz score) and the approved /
//!   operator_required / declined decision from two thresholds.
//! - [`liveness`]: the QUALITY (liveness) verdict from `confidence_spoofing` and `threshold_spoofing`.
//! - [`status`]: Oz analysis and folder statuses and how they aggregate.
//! - [`lite`]: Oz API Lite error codes (`BPE-*`, `LDE-*`) with their HTTP statuses.
//! - [`access`]: roles and scopes (who sees and changes what).
//! - [`assign`]: which media an analysis takes, and the BIOMETRY verdict over pairs.
//! - [`caps`]: bounds on every list and object a client sends.
//! - [`instant`]: what the Instant API runs without storage, and SDK session-token claims.
//! - [`gesture`]: the gesture a selfie video was recorded for, from its media tags.

pub mod access;
pub mod assign;
pub mod caps;
pub mod challenge;
pub mod decision;
pub mod gesture;
pub mod instant;
pub mod lite;
pub mod liveness;
pub mod precheck;
pub mod status;
