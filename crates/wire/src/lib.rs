//! The Oz wire model: every JSON object the server writes that Oz documents (folder, media,
//! analysis, result media, output image, company, user, collection, person, errors, API Lite
//! answers) is one type here, used by the HTTP handlers, the webhook sender and the Instant / Lite
//! folders alike, and by the OpenAPI document. Field order is Oz's key order (the examples of
//! oz-docs/api-lite-methods.md and spec §4); [`json`] writes Python's separators.
//!
//! No IO and no HTTP: the engine renders stored rows into these types, the HTTP layer sends them.

pub mod accounts;
pub mod collections;
pub mod errors;
pub mod events;
pub mod folder;
pub mod json;
pub mod lite;
pub mod page;
pub mod results;
pub mod vocab;

pub use folder::{Analysis, AnalysisCollection, Folder, Media, ResultMedia};
pub use page::Page;
pub use vocab::{AnalysisType, MediaType, State, Status};
