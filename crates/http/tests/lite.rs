//! Oz API Lite over real HTTP: a server on 127.0.0.1 with the real models, driven by reqwest.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use oz_http::{AppState, LiteConfig};
use oz_vision::{Pipeline, PipelineConfig};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures").join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// One server for the whole test binary, on its own runtime thread.
fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let cfg = PipelineConfig { models_dir: root().join("models"), ..PipelineConfig::default() };
        let pipeline = Pipeline::load(cfg).expect("models load");
        let lite = LiteConfig { max_request_bytes: 8 * 1024 * 1024, ..LiteConfig::default() };
        let state = AppState::new(Arc::new(pipeline), lite);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send");
                oz_http::serve(listener, state, std::future::pending()).await.expect("serve");
            });
        });
        format!("http://{}", rx.recv().expect("server address"))
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn url(path: &str) -> String {
    format!("{}{path}", base())
}

async fn extract(rel: &str) -> Vec<u8> {
    let r = client()
        .post(url("/v1/face/pattern/extract"))
        .header("Content-Type", "image/jpeg")
        .body(fixture(rel))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "{rel}");
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    r.bytes().await.expect("body").to_vec()
}

fn bin(data: Vec<u8>, ct: &str) -> Part {
    Part::bytes(data).mime_str(ct).expect("mime")
}

fn file(data: Vec<u8>, name: &str, ct: &str) -> Part {
    Part::bytes(data).file_name(name.to_string()).mime_str(ct).expect("mime")
}

async fn expect_error(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().await.expect("json error body");
    assert_eq!(v["code"], code, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    v
}

#[tokio::test]
async fn version_and_health() {
    let v: Value = client().get(url("/version")).send().await.expect("send").json().await.expect("json");
    assert!(v["core"].is_string() && v["tfss"].is_string());
    let names: Vec<&str> = v["models"].as_array().expect("models").iter().filter_map(|m| m["name"].as_str()).collect();
    assert!(names.contains(&"yunet") && names.contains(&"sface"));
    for path in ["/v1/face/pattern/health", "/v1/face/liveness/health"] {
        let h: Value = client().get(url(path)).send().await.expect("send").json().await.expect("json");
        assert_eq!(h["status"], 0);
    }
}

#[tokio::test]
async fn extract_compare_verify() {
    let obama = extract("faces/live/obama__portrait.jpg").await;
    let obama2 = extract("faces/live/obama__podium.jpg").await;
    let biden = extract("faces/live/biden__full.jpg").await;

    let compare = |a: Vec<u8>, b: Vec<u8>| async move {
        let form = Form::new()
            .part("bio_feature", bin(a, "application/octet-stream"))
            .part("bio_template", bin(b, "application/octet-stream"));
        let r = client().post(url("/v1/face/pattern/compare")).multipart(form).send().await.expect("send");
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("json")
    };
    let same = compare(obama.clone(), obama2.clone()).await;
    assert_eq!(same["decision"], "approved", "{same}");
    assert!(same["score"].as_f64().expect("score") >= 0.8);
    let diff = compare(obama.clone(), biden.clone()).await;
    assert_eq!(diff["decision"], "declined", "{diff}");
    assert!(diff["score"].as_f64().expect("score") < 0.5);
    let identical = compare(obama.clone(), obama.clone()).await;
    assert_eq!(identical["score"], 1.0);

    // verify answers multipart with score and the sample's template.
    let form = Form::new()
        .part("bio_template", bin(obama.clone(), "application/octet-stream"))
        .part("sample", file(fixture("faces/live/obama__podium.jpg"), "s.jpg", "image/jpeg"));
    let r = client().post(url("/v1/face/pattern/verify")).multipart(form).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().expect("ct").to_string();
    assert!(ct.starts_with("multipart/form-data; boundary="));
    let body = r.bytes().await.expect("body");
    let boundary = ct.split("boundary=").nth(1).expect("boundary");
    let mut mp = multer::Multipart::new(futures_stream(body.to_vec()), boundary);
    let mut seen = Vec::new();
    while let Some(field) = mp.next_field().await.expect("field") {
        let name = field.name().expect("name").to_string();
        let data = field.bytes().await.expect("bytes");
        if name == "score" {
            let v: Value = serde_json::from_slice(&data).expect("score json");
            assert!(v["score"].as_f64().expect("score") >= 0.8);
        } else if name == "bio_feature" {
            assert_eq!(data.to_vec(), obama2, "template of the sample");
        }
        seen.push(name);
    }
    assert_eq!(seen, vec!["score", "bio_feature"]);
}

fn futures_stream(body: Vec<u8>) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::once(async move { Ok(bytes::Bytes::from(body)) })
}

#[tokio::test]
async fn one_to_n_methods() {
    let obama = extract("faces/live/obama__portrait.jpg").await;
    let obama2 = extract("faces/live/obama__podium.jpg").await;
    let biden = extract("faces/live/biden__full.jpg").await;
    let form = Form::new()
        .part("template_1", bin(obama.clone(), "application/octet-stream"))
        .part("templates_n", file(biden.clone(), "1.template", "application/octet-stream"))
        .part("templates_n", file(obama2.clone(), "2.template", "application/octet-stream"));
    let v: Value = client()
        .post(url("/v1/face/pattern/compare_n"))
        .multipart(form)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let res = v["results"].as_array().expect("results");
    assert_eq!(res.len(), 2);
    assert_eq!(res[0]["filename"], "1.template");
    assert_eq!(res[0]["decision"], "declined");
    assert_eq!(res[1]["filename"], "2.template");
    assert_eq!(res[1]["decision"], "approved");

    let form = Form::new()
        .part("sample_1", file(fixture("faces/live/obama__full.jpg"), "a.jpg", "image/jpeg"))
        .part("templates_n", file(biden, "b.template", "application/octet-stream"))
        .part("templates_n", file(obama, "o.template", "application/octet-stream"));
    let v: Value = client()
        .post(url("/v1/face/pattern/verify_n"))
        .multipart(form)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["results"][0]["decision"], "declined");
    assert_eq!(v["results"][1]["decision"], "approved");

    let form = Form::new()
        .part("sample_1", file(fixture("faces/live/obama__portrait.jpg"), "a.jpg", "image/jpeg"))
        .part("samples_n", file(fixture("faces/live/collins__astronaut.png"), "1.png", "image/png"))
        .part("samples_n", file(fixture("faces/live/obama__full.jpg"), "2.jpeg", "image/jpeg"));
    let v: Value = client()
        .post(url("/v1/face/pattern/extract_and_compare_n"))
        .multipart(form)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["results"][0]["filename"], "1.png");
    assert_eq!(v["results"][0]["decision"], "declined");
    assert_eq!(v["results"][1]["decision"], "approved");

    let form = Form::new()
        .part("sample_1", file(fixture("faces/live/obama__portrait.jpg"), "a.jpg", "image/jpeg"))
        .part("sample_2", file(fixture("faces/live/obama__podium.jpg"), "b.jpg", "image/jpeg"));
    let v: Value = client()
        .post(url("/v1/face/pattern/extract_and_compare"))
        .multipart(form)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["decision"], "approved");
}

#[tokio::test]
async fn base64_in_and_out() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let img = b64.encode(fixture("faces/live/obama__portrait.jpg"));
    let r = client()
        .post(url("/v1/face/pattern/extract"))
        .header("Content-Type", "image/jpeg")
        .header("Content-Transfer-Encoding", "base64")
        .body(img)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    let raw = b64.decode(text.trim()).expect("template comes back as base64");
    assert_eq!(raw, extract("faces/live/obama__portrait.jpg").await);

    let form = Form::new().part("bio_feature", Part::text(text.clone())).part("bio_template", Part::text(text));
    let r = client()
        .post(url("/v1/face/pattern/compare"))
        .header("Content-Transfer-Encoding", "base64")
        .multipart(form)
        .send()
        .await
        .expect("send");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["score"], 1.0);
}

#[tokio::test]
async fn biometry_errors() {
    let post_image = |rel: &'static str, ct: &'static str| async move {
        client()
            .post(url("/v1/face/pattern/extract"))
            .header("Content-Type", ct)
            .body(fixture(rel))
            .send()
            .await
            .expect("send")
    };
    expect_error(post_image("faces/extra/cat.png", "image/png").await, 400, "BPE-003002").await;
    expect_error(post_image("faces/extra/group_t1.jpg", "image/jpeg").await, 400, "BPE-003003").await;
    expect_error(post_image("faces/live/obama__portrait.jpg", "text/plain").await, 400, "BPE-002001").await;
    let r = client()
        .post(url("/v1/face/pattern/extract"))
        .header("Content-Type", "image/jpeg")
        .body(b"not an image at all".to_vec())
        .send()
        .await
        .expect("send");
    expect_error(r, 400, "BPE-002003").await;
    // Truncated JPEG.
    let mut jpeg = fixture("faces/live/obama__portrait.jpg");
    jpeg.truncate(2000);
    let r = client()
        .post(url("/v1/face/pattern/extract"))
        .header("Content-Type", "image/jpeg")
        .body(jpeg)
        .send()
        .await
        .expect("send");
    expect_error(r, 400, "BPE-002003").await;

    // Bad template.
    let good = extract("faces/live/obama__portrait.jpg").await;
    let mut corrupted = good.clone();
    corrupted[100] ^= 0x55;
    let form = Form::new()
        .part("bio_feature", bin(good.clone(), "application/octet-stream"))
        .part("bio_template", bin(corrupted, "application/octet-stream"));
    expect_error(
        client().post(url("/v1/face/pattern/compare")).multipart(form).send().await.expect("send"),
        400,
        "BPE-002004",
    )
    .await;
    // Wrong Content-Type of a part.
    let form = Form::new()
        .part("bio_feature", bin(good.clone(), "image/jpeg"))
        .part("bio_template", bin(good.clone(), "application/octet-stream"));
    expect_error(
        client().post(url("/v1/face/pattern/compare")).multipart(form).send().await.expect("send"),
        400,
        "BPE-002005",
    )
    .await;
    // Missing part.
    let form = Form::new().part("bio_feature", bin(good.clone(), "application/octet-stream"));
    expect_error(
        client().post(url("/v1/face/pattern/compare")).multipart(form).send().await.expect("send"),
        400,
        "BPE-002005",
    )
    .await;
    // Not multipart at all.
    let r = client()
        .post(url("/v1/face/pattern/compare"))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("send");
    expect_error(r, 400, "BPE-002001").await;
    // Wrong method.
    let r = client().get(url("/v1/face/pattern/extract")).send().await.expect("send");
    expect_error(r, 400, "BPE-002002").await;
    // A huge PNG header is refused before allocation.
    let png = oz_vision::testdata::huge_png(50_000, 50_000);
    let r = client()
        .post(url("/v1/face/pattern/extract"))
        .header("Content-Type", "image/png")
        .body(png)
        .send()
        .await
        .expect("send");
    let v = expect_error(r, 400, "BPE-002003").await;
    assert!(v["message"].as_str().expect("message").contains("50000x50000"), "{v}");
    // The server is still up after all of that.
    let h: Value = client().get(url("/v1/face/pattern/health")).send().await.expect("send").json().await.expect("json");
    assert_eq!(h["status"], 0);
}

#[tokio::test]
async fn liveness_image() {
    let r = client()
        .post(url("/v1/face/liveness/detect"))
        .header("Content-Type", "image/jpeg")
        .body(fixture("faces/live/obama__portrait.jpg"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["passed"], true, "{v}");
    let score = v["score"].as_f64().expect("score");
    assert!((0.0..0.2).contains(&score));
}

#[tokio::test]
async fn liveness_errors() {
    let r = client()
        .post(url("/v1/face/liveness/detect"))
        .header("Content-Type", "image/png")
        .body(fixture("faces/extra/cat.png"))
        .send()
        .await
        .expect("send");
    expect_error(r, 400, "LDE-002004").await;
    let r = client()
        .post(url("/v1/face/liveness/detect"))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("send");
    expect_error(r, 400, "LDE-002001").await;
    let r = client().get(url("/v1/face/liveness/detect")).send().await.expect("send");
    expect_error(r, 400, "LDE-002002").await;
    let form = Form::new()
        .part("media_key1", file(fixture("faces/live/obama__portrait.jpg"), "a.jpg", "image/jpeg"))
        .part("payload", Part::text("{not json"));
    let r = client().post(url("/v1/face/liveness/detect")).multipart(form).send().await.expect("send");
    expect_error(r, 400, "LDE-002005").await;
    let form = Form::new().part("media_key1", file(b"garbage video".to_vec(), "v.mp4", "video/mp4"));
    let r = client().post(url("/v1/face/liveness/detect")).multipart(form).send().await.expect("send");
    expect_error(r, 400, "LDE-002004").await;
    let form = Form::new()
        .part("media_key1", file(fixture("faces/live/obama__portrait.jpg"), "a.jpg", "image/jpeg"))
        .part("payload", Part::text(r#"{"analyses":[{"type":"quality","params":{"threshold_spoofing":7}}]}"#));
    let r = client().post(url("/v1/face/liveness/detect")).multipart(form).send().await.expect("send");
    expect_error(r, 400, "LDE-002005").await;
}

#[tokio::test]
async fn liveness_payload_lists_and_size_are_capped() {
    let face = || file(fixture("faces/live/obama__portrait.jpg"), "a.jpg", "image/jpeg");
    let analyses: Vec<serde_json::Value> = (0..21).map(|_| serde_json::json!({ "type": "quality" })).collect();
    let form = Form::new()
        .part("media_key1", face())
        .part("payload", Part::text(serde_json::json!({ "analyses": analyses }).to_string()));
    let r = client().post(url("/v1/face/liveness/detect")).multipart(form).send().await.expect("send");
    let v = expect_error(r, 400, "LDE-002005").await;
    assert!(v["message"].as_str().is_some_and(|m| m.contains("limit is 20")), "{v}");
    let tags: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let form = Form::new()
        .part("media_key1", face())
        .part("payload", Part::text(serde_json::json!({ "media:tags": { "media_key1": tags } }).to_string()));
    let r = client().post(url("/v1/face/liveness/detect")).multipart(form).send().await.expect("send");
    expect_error(r, 400, "LDE-002005").await;
    // A payload over OZ_MAX_JSON_BYTES (1 MiB by default): 413 before it is parsed.
    let big = serde_json::json!({ "folder:meta_data": { "blob": "x".repeat(2 << 20) } });
    let form = Form::new().part("media_key1", face()).part("payload", Part::text(big.to_string()));
    let r = client().post(url("/v1/face/liveness/detect")).multipart(form).send().await.expect("send");
    expect_error(r, 413, "LDE-002005").await;
}

#[tokio::test]
async fn liveness_multipart_video_with_best_shot() {
    let payload = serde_json::json!({
        "folder:meta_data": {"partner_side_folder_id": "p-1"},
        "resolution_endpoint": "https://example.invalid/hook",
        "media:meta_data": {"media_key1": {"foo": "bar"}},
        "media:tags": {"media_key1": ["video_selfie", "video_selfie_blank"]},
        "analyses": [{"type": "quality", "meta_data": {"k": "v"}, "params": {"threshold_spoofing": 0.6, "extract_best_shot": true}}]
    });
    let form = Form::new()
        .part("media_key1", file(fixture("videos/portrait_720x1280.mp4"), "video.mp4", "video/mp4"))
        .part("media_key2", file(fixture("faces/live/obama__portrait.jpg"), "photo.jpg", "image/jpeg"))
        .part("payload", Part::text(payload.to_string()));
    let r = client().post(url("/v1/face/liveness/detect")).multipart(form).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["resolution_status"], "FINISHED");
    assert_eq!(v["system_resolution"], "SUCCESS");
    assert_eq!(v["meta_data"]["partner_side_folder_id"], "p-1");
    assert_eq!(v["resolution_endpoint"], "https://example.invalid/hook");
    let media = v["media"].as_array().expect("media");
    assert_eq!(media.len(), 2);
    assert_eq!(media[0]["media_type"], "VIDEO_FOLDER");
    assert_eq!(media[0]["original_name"], "video.mp4");
    assert_eq!(media[0]["tags"][0], "video_selfie");
    assert_eq!(media[0]["meta_data"]["foo"], "bar");
    let info = &media[0]["info"]["video"];
    assert_eq!(info["width"], 720);
    assert_eq!(info["height"], 1280);
    assert!((info["duration"].as_f64().expect("duration") - 4.0).abs() < 0.1);
    assert!((info["FPS"].as_f64().expect("fps") - 30.0).abs() < 0.5);
    assert_eq!(info["mime-type"], "video/mp4");
    assert_eq!(info["md5"].as_str().expect("md5").len(), 32);
    assert_eq!(media[1]["media_type"], "IMAGE_FOLDER");
    assert_eq!(media[1]["info"]["original"]["width"], 910);

    let an = &v["analyses"][0];
    assert_eq!(an["type"], "QUALITY");
    assert_eq!(an["state"], "FINISHED");
    assert_eq!(an["resolution_status"], "SUCCESS");
    assert_eq!(an["resolution"], "SUCCESS");
    assert_eq!(an["confs"]["threshold_spoofing"], 0.6);
    assert_eq!(an["confs"]["extract_best_shot"], true);
    assert_eq!(an["meta_data"]["k"], "v");
    let results = an["results_media"].as_array().expect("results_media");
    assert_eq!(results.len(), 2);
    for (res, m) in results.iter().zip(media) {
        assert_eq!(res["source_media_id"], m["media_id"]);
        let c = res["results_data"]["confidence_spoofing"].as_f64().expect("confidence");
        assert!((0.0..0.2).contains(&c));
        let out = &res["output_images"][0];
        assert_eq!(out["media_type"], "IMAGE_RESULT_ANALYSIS_SINGLE");
        assert_eq!(out["media_association_id"], m["media_id"]);
        use base64::Engine;
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(out["image_b64"].as_str().expect("b64"))
            .expect("b64 decodes");
        let img = image::load_from_memory(&jpeg).expect("best shot is an image");
        assert_eq!(img.width(), out["info"]["original"]["width"].as_u64().expect("w") as u32);
    }
}

/// Lite folders check the gesture the tags ask for, as the full API does: under the default
/// `OZ_GESTURE_CHECK=report` a clip without the blink it is tagged for keeps its passive verdict,
/// the one with it passes, and both report `gesture` (detected or not).
#[tokio::test]
async fn liveness_checks_the_requested_gesture() {
    async fn detect(clip: &str, tags: &[&str]) -> Value {
        let payload = serde_json::json!({ "media:tags": { "media_key1": tags }, "analyses": [{ "type": "quality" }] });
        let form = Form::new()
            .part("media_key1", file(fixture(clip), "selfie.mp4", "video/mp4"))
            .part("payload", Part::text(payload.to_string()));
        let r = client().post(url("/v1/face/liveness/detect")).multipart(form).send().await.expect("send");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }
    let eyes = ["video_selfie", "video_selfie_eyes"];
    let v = detect("gestures/gesture_blink_long.mp4", &eyes).await;
    let an = &v["analyses"][0];
    assert_eq!(an["resolution_status"], "SUCCESS", "{an}");
    let g = &an["results_media"][0]["results_data"]["gesture"];
    assert_eq!((g["requested"].as_str(), g["detected"].as_bool()), (Some("blink"), Some(true)), "{an}");

    let v = detect("gestures/gesture_neutral_long.mp4", &eyes).await;
    let an = &v["analyses"][0];
    assert_eq!(an["resolution_status"], "SUCCESS", "reported, not declined: {an}");
    assert_eq!(an["results_media"][0]["results_data"]["gesture"]["detected"].as_bool(), Some(false), "{an}");
    assert_eq!(v["system_resolution"], "SUCCESS");

    let v = detect("gestures/gesture_neutral_long.mp4", &["video_selfie", "video_selfie_blank"]).await;
    let an = &v["analyses"][0];
    assert_eq!(an["resolution_status"], "SUCCESS", "{an}");
    assert!(an["results_media"][0]["results_data"].get("gesture").is_none(), "{an}");
}

#[tokio::test]
async fn liveness_threshold_decides() {
    // With threshold 0 every media is an attack: DECLINED.
    let form = Form::new()
        .part("media_key1", file(fixture("faces/live/obama__portrait.jpg"), "a.jpg", "image/jpeg"))
        .part("payload", Part::text(r#"{"analyses":[{"type":"QUALITY","params":{"threshold_spoofing":0.0}}]}"#));
    let v: Value = client()
        .post(url("/v1/face/liveness/detect"))
        .multipart(form)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["analyses"][0]["resolution_status"], "DECLINED", "{v}");
    assert_eq!(v["system_resolution"], "DECLINED");
    assert_eq!(v["analyses"][0]["results_media"][0]["output_images"].as_array().map(Vec::len), Some(0));
}
