//! Replays the seeds of every fuzz target (`fuzz/corpus/<target>/`) and every saved reproducer
//! (`tests/fixtures/hostile/fuzz/<target>/`) through the very harness the fuzzer runs
//! (`fuzz/src/http.rs`, `fuzz/src/vision.rs`), so what a fuzzing run found stays fixed on stable,
//! without nightly.

#[path = "../../../fuzz/src/http.rs"]
mod harness;
#[path = "../../../fuzz/src/vision.rs"]
mod vision;

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [root().join("fuzz/corpus").join(target), root().join("tests/fixtures/hostile/fuzz").join(target)] {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        out.extend(rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()));
    }
    out.sort();
    out
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no seed for {target}");
    for f in files {
        let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        eprintln!("{target}: {}", f.display());
        run(&data);
    }
}

#[test]
fn api_payload_corpus() {
    replay("api_payload", harness::api_payload);
}

#[test]
fn lite_payload_corpus() {
    replay("lite_payload", harness::lite_payload);
}

#[test]
fn lite_multipart_corpus() {
    replay("lite_multipart", harness::lite_multipart);
}

#[test]
fn media_decode_corpus() {
    replay("media_decode", vision::media_decode);
}

#[test]
fn image_decode_corpus() {
    replay("image_decode", vision::image_decode);
}

#[test]
fn zip_shot_set_corpus() {
    replay("zip_shot_set", vision::zip_shot_set);
}

#[test]
fn template_parse_corpus() {
    replay("template_parse", vision::template_parse);
}

/// The media seeds are real media: they must decode, or the fuzzer starts from nothing.
#[test]
fn media_seeds_decode() {
    for f in inputs("media_decode").into_iter().filter(|p| p.starts_with(root().join("fuzz/corpus"))) {
        let data = std::fs::read(&f).expect("seed");
        let m = oz_vision::media::decode(&data, &vision::small_limits());
        assert!(m.is_ok(), "{}: {:?}", f.display(), m.err());
    }
}
