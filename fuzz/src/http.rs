//! Harnesses over oz-http's request parsers: the full API upload `payload`, and API Lite's
//! payload, analysis list, base64 and multipart reading.
//!
//! Included as a module by `fuzz/src/lib.rs` and by `crates/http/tests/fuzz_corpus.rs`.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use oz_domain::lite::Processor;
use oz_http::api::folders;
use oz_http::lite::{liveness, parts};

/// The multipart boundary of the `lite_multipart` target's bodies.
pub const BOUNDARY: &str = "XBOUNDARY";
/// Parts `read_multipart` may accept in the `lite_multipart` target.
pub const MAX_PARTS: usize = 8;

/// Target `api_payload`: the JSON `payload` of `POST /api/folders/` attached to two file parts.
/// Every refusal is a 4xx with an Oz error code.
pub fn api_payload(data: &[u8]) {
    let payload = match folders::parse_payload(data) {
        Ok(p) => p,
        Err(e) => {
            // 3: not a JSON object or a field missing; 5: a field of the wrong type; 4: a value out of range.
            assert!(e.status.is_client_error() && matches!(e.code, 3..=5), "payload refusal {} {}", e.status, e.code);
            return;
        }
    };
    if let Err(e) = folders::endpoint(&payload) {
        assert!(e.status.is_client_error());
    }
    let raw = vec![
        ("photo".to_string(), "a.jpg".to_string(), vec![0xFF, 0xD8]),
        ("video".to_string(), "b.mp4".to_string(), vec![0]),
    ];
    match folders::attach_payload(raw, payload) {
        Ok(body) => {
            assert_eq!(body.files.len(), 2);
            assert!(body.files.iter().all(|f| f.meta_data.is_object()));
        }
        Err(e) => assert!(e.status.is_client_error() && matches!(e.code, 3 | 4), "{} {}", e.status, e.code),
    }
}

/// Target `lite_payload`: Lite's `payload` part and its analyses, and the base64 decoder.
pub fn lite_payload(data: &[u8]) {
    if let Some(decoded) = parts::decode_b64(data) {
        assert!(decoded.len() <= data.len(), "base64 never grows");
    }
    if let Ok(p) = serde_json::from_slice::<liveness::Payload>(data) {
        match liveness::analysis_specs(&p, 0.5) {
            Ok(specs) => assert!(!specs.is_empty(), "at least the default QUALITY analysis"),
            Err(e) => assert_eq!(e.code(), "LDE-002005"),
        }
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    })
}

/// Target `lite_multipart`: a multipart/form-data body (boundary [`BOUNDARY`]) read by Lite's
/// `read_multipart`; a `payload` part goes on through [`lite_payload`].
pub fn lite_multipart(data: &[u8]) {
    let req = match Request::builder()
        .method("POST")
        .uri("/v1/face/liveness/detect")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(data.to_vec()))
    {
        Ok(r) => r,
        Err(e) => panic!("request: {e}"),
    };
    match runtime().block_on(parts::read_multipart(req, Processor::Liveness, MAX_PARTS)) {
        Ok(all) => {
            assert!(all.len() <= MAX_PARTS);
            for p in all.iter().filter(|p| p.name == "payload") {
                lite_payload(&p.data);
            }
        }
        Err(e) => assert!(e.code().starts_with("LDE-002"), "{}: {}", e.code(), e.message),
    }
}
