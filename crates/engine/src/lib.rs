//! Engine: what happens after a request is accepted.
//!
//! - [`files`]: media files on disk (random names, atomic writes); [`cache`]: decoded uploads
//!   kept for the analyses that follow.
//! - [`ingest`]: uploads decoded and checked before anything is stored.
//! - [`runner`]: QUALITY and BIOMETRY analyses on the vision pipeline.
//! - [`worker`]: workers that claim jobs from the durable queue in the database (leases,
//!   heartbeats, retries), the expiry sweep, and the webhook delivery loop.
//! - [`webhook`]: signing and sending one webhook attempt.
//! - [`render`]: Oz JSON of folders, media and analyses (shared with the HTTP layer).

pub mod cache;
pub mod files;
pub mod ingest;
pub mod render;
pub mod runner;
pub mod webhook;
pub mod worker;

pub use worker::{Engine, EngineConfig};
