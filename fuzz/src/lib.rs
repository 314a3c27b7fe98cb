//! Fuzz harnesses of openoz. Each `fuzz_targets/<name>.rs` calls the function of the same name
//! here; the same files are included by the corpus replay tests of oz-vision and oz-http, so a
//! reproducer saved under `fuzz/corpus/<name>/` or `tests/fixtures/hostile/<name>/` is replayed by
//! plain `cargo test` on stable.

pub mod vision;

#[cfg(feature = "http")]
pub mod http;
