//! Engine: what happens after a request is accepted.
//!
//! - [`files`]: media files on disk (random names, atomic writes); [`cache`]: decoded uploads
//!   kept for the analyses that follow, and analyses shared by QUALITY, BIOMETRY and COLLECTION.
//! - [`ingest`]: uploads decoded and checked before anything is stored.
//! - [`runner`]: QUALITY, BIOMETRY and COLLECTION analyses on the vision pipeline;
//!   [`collections`]: this process's 1:N index, kept current from the database's change log.
//! - [`worker`]: workers that claim jobs from the durable queue in the database (leases,
//!   heartbeats, retries), the expiry sweep, and the webhook delivery loop.
//! - [`webhook`]: signing and sending one webhook attempt.
//! - [`links`]: signed, expiring direct links to stored files; [`sweep`]: the file sweeper and
//!   retention purges.
//! - [`observe`]: names of the metrics the engine records (queue, analyses, webhooks, cache).
//! - [`render`]: Oz JSON of folders, media and analyses (shared with the HTTP layer).

pub mod cache;
pub mod collections;
pub mod files;
pub mod ingest;
pub mod links;
pub mod observe;
pub mod render;
pub mod runner;
pub mod sweep;
pub mod webhook;
pub mod worker;

pub use worker::{Engine, EngineConfig};
