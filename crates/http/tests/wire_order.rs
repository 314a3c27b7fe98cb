//! The Oz wire model end to end: parts keep the client's order in every answer that lists media,
//! objects come out in Oz's key order with Python separators, the client's `meta_data` keeps its
//! own key order, and a webhook body is the bytes `GET /api/folders/{id}/?with_analyses=true`
//! answers. SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{Kind, Options, fixture, receiver, start};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// Top-level keys of a JSON object text, in the order written (serde_json's `preserve_order`).
fn keys(v: &Value) -> Vec<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// `want` appear in `got` in this order (other keys may sit between or after them).
fn in_order(got: &[String], want: &[&str], what: &str) {
    let mut at = 0;
    for w in want {
        let i = got
            .iter()
            .skip(at)
            .position(|k| k == w)
            .unwrap_or_else(|| panic!("{what}: {w} missing or early in {got:?}"));
        at += i + 1;
    }
}

/// Oz's documented orders (oz-docs/api-lite-methods.md).
const FOLDER: &[&str] = &[
    "company_id",
    "time_created",
    "folder_id",
    "user_id",
    "resolution_endpoint",
    "resolution_status",
    "resolution_comment",
    "system_resolution",
    "resolution_time",
    "resolution_author_id",
    "resolution_state_hash",
    "operator_comment",
    "operator_status",
    "is_cleared",
    "meta_data",
    "technical_meta_data",
    "time_updated",
    "media",
];
const MEDIA: &[&str] = &[
    "folder_id",
    "media_id",
    "media_type",
    "info",
    "tags",
    "original_name",
    "original_url",
    "company_id",
    "technical_meta_data",
    "time_created",
    "time_updated",
    "meta_data",
    "thumb_url",
    "folder_time_created",
];
const ANALYSIS: &[&str] = &[
    "analyse_id",
    "analysis_id",
    "folder_id",
    "folder_time_created",
    "type",
    "state",
    "company_id",
    "group_id",
    "results_data",
    "confs",
    "error_message",
    "error_code",
    "resolution_operator",
    "technical_meta_data",
    "time_created",
    "time_updated",
    "meta_data",
    "source_media",
    "results_media",
    "resolution_status",
    "resolution",
];
const RESULT: &[&str] = &[
    "company_id",
    "media_association_id",
    "analysis_id",
    "results_data",
    "source_media_id",
    "output_images",
    "collection_persons",
    "folder_time_created",
];

fn part(rel: &str, name: &str, ct: &str) -> Part {
    Part::bytes(fixture(rel)).file_name(name.to_string()).mime_str(ct).expect("mime")
}

/// Signed links carry the time they were made; the rest of the bytes must be equal.
fn without_link_signatures(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("?expires=") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find('"').unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

async fn order_and_bytes(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let token = common::admin_token(&s).await;
    let (hook, hooks) = receiver(0).await;
    let client = reqwest::Client::new();
    // photo, video, photo: media_id is random, so only a kept order gives this order back.
    let payload = serde_json::json!({
        "folder:meta_data": { "zeta": 1, "alpha": { "b": 2, "a": 1 } },
        "media:tags": { "p1": ["photo_selfie"], "v": ["video_selfie", "video_selfie_blank"], "p2": ["photo_id_front"] },
        "resolution_endpoint": format!("{hook}"),
        "analyses": [{ "type": "quality" }, { "type": "biometry" }],
    });
    let form = Form::new()
        .part("p1", part("faces/live/obama__podium.jpg", "first.jpg", "image/jpeg"))
        .part("v", part("videos/portrait_720x1280.mp4", "second.mp4", "video/mp4"))
        .part("p2", part("faces/live/obama__podium.jpg", "third.jpg", "image/jpeg"))
        .part("payload", Part::text(payload.to_string()));
    let r = client
        .post(format!("{}/api/folders/", s.base))
        .header("X-Forensic-Access-Token", &token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = r.status();
    let text = r.text().await.expect("text");
    assert_eq!(status, 201, "{text}");
    assert!(text.starts_with("{\"company_id\": "), "{text}");
    let f: Value = serde_json::from_str(&text).expect("json");
    in_order(&keys(&f), FOLDER, "folder");
    let names = |f: &Value| -> Vec<String> {
        // Best shots (outputs of the analyses) are media of the folder too; the originals first.
        let all = f["media"].as_array().expect("media");
        all.iter()
            .filter(|m| m["media_type"] != "IMAGE_RESULT_ANALYSIS_SINGLE")
            .map(|m| m["original_name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names(&f), ["first.jpg", "second.mp4", "third.jpg"], "create answer");
    assert_eq!(keys(&f["meta_data"]), ["zeta", "alpha"], "the client's key order");
    assert_eq!(keys(&f["meta_data"]["alpha"]), ["b", "a"]);
    for m in f["media"].as_array().expect("media") {
        in_order(&keys(m), MEDIA, "media");
    }
    let fid = f["folder_id"].as_str().expect("id").to_string();

    // The webhook of the upload's analyses, then the folder as the API answers it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        if let Some(h) = hooks.lock().expect("lock").first() {
            break String::from_utf8(h.body.to_vec()).expect("utf-8");
        }
        assert!(Instant::now() < deadline, "no webhook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let got = client
        .get(format!("{}/api/folders/{fid}/?with_analyses=true", s.base))
        .header("X-Forensic-Access-Token", &token)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let folder: Value = serde_json::from_str(&got).expect("json");
    assert_eq!(names(&folder), ["first.jpg", "second.mp4", "third.jpg"], "GET: upload order");
    let analyses = folder["analyses"].as_array().expect("analyses");
    assert_eq!(analyses.len(), 2);
    for a in analyses {
        in_order(&keys(a), ANALYSIS, "analysis");
        for r in a["results_media"].as_array().expect("results") {
            in_order(&keys(r), RESULT, "result media");
        }
    }
    let quality = &analyses[0];
    assert_eq!(quality["type"], "QUALITY");
    assert_eq!(
        keys(&quality["confs"])[..4],
        ["threshold_replay", "extract_best_shot", "threshold_liveness", "threshold_spoofing"],
        "Oz's confs order"
    );
    // Each analysis: its sources in the folder's order, one result per source in the same order.
    let order: Vec<&str> =
        folder["media"].as_array().expect("media").iter().filter_map(|m| m["media_id"].as_str()).collect();
    for a in analyses {
        let sources: Vec<&str> =
            a["source_media"].as_array().expect("src").iter().filter_map(|m| m["media_id"].as_str()).collect();
        assert!(sources.len() >= 2, "{a}");
        let at: Vec<usize> = sources.iter().filter_map(|id| order.iter().position(|o| o == id)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "source_media in the folder's order: {at:?}");
        let results: Vec<&str> =
            a["results_media"].as_array().expect("res").iter().filter_map(|r| r["source_media_id"].as_str()).collect();
        assert_eq!(results, sources, "results_media follow source_media");
    }
    // The webhook: the bytes of the API's answer (Python separators, Oz's key order); only the
    // signed links differ, signed at another second.
    assert!(body.contains("\", \"") && body.contains("\": "), "Python separators");
    assert_eq!(without_link_signatures(&body), without_link_signatures(&got));

    // Added media come after, in their own order.
    let more = Form::new()
        .part("later2", part("faces/live/obama__podium.jpg", "fourth.jpg", "image/jpeg"))
        .part("later1", part("faces/live/obama__podium.jpg", "fifth.jpg", "image/jpeg"));
    let r = client
        .post(format!("{}/api/folders/{fid}/media/", s.base))
        .header("X-Forensic-Access-Token", &token)
        .multipart(more)
        .send()
        .await
        .expect("add");
    assert_eq!(r.status(), 201);
    let added: Value = r.json().await.expect("json");
    let added: Vec<&str> = added.as_array().expect("list").iter().filter_map(|m| m["original_name"].as_str()).collect();
    assert_eq!(added, ["fourth.jpg", "fifth.jpg"]);

    let all: Value = client
        .get(format!("{}/api/folders/{fid}/", s.base))
        .header("X-Forensic-Access-Token", &token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(names(&all), ["first.jpg", "second.mp4", "third.jpg", "fourth.jpg", "fifth.jpg"]);
}

both!(order_and_bytes_in_every_answer, order_and_bytes);

/// `/docs`'s "Try it out" on `POST /api/folders/`: the document's own `payload` example, a video,
/// and the photo field left empty (a part with no bytes and no file name) gives a folder; an
/// empty file that has a name is still refused.
async fn try_it_out(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let token = common::admin_token(&s).await;
    let doc: Value = serde_json::from_str(&oz_http::openapi::json()).expect("document");
    let example = doc["components"]["schemas"]["UploadForm"]["properties"]["payload"]["example"]
        .as_str()
        .expect("a payload example")
        .to_string();
    let client = reqwest::Client::new();
    let send = |form: Form| {
        client.post(format!("{}/api/folders/", s.base)).header("X-Forensic-Access-Token", &token).multipart(form).send()
    };
    let form = Form::new()
        .part("payload", Part::text(example.clone()))
        .part("video1", part("videos/portrait_720x1280.mp4", "selfie.mp4", "video/mp4"))
        .part("photo1", Part::bytes(Vec::new()).mime_str("application/octet-stream").expect("mime"));
    let r = send(form).await.expect("send");
    let status = r.status();
    let f: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{f}");
    let originals: Vec<&Value> =
        f["media"].as_array().expect("media").iter().filter(|m| m["media_type"] == "VIDEO_FOLDER").collect();
    assert_eq!(originals.len(), 1, "{f}");
    assert_eq!(f["meta_data"]["transaction_id"], "try-1");
    let form = Form::new()
        .part("payload", Part::text(example))
        .part("photo1", Part::bytes(Vec::new()).file_name("empty.jpg").mime_str("image/jpeg").expect("mime"));
    let r = send(form).await.expect("send");
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error_code"], 4, "{e}");
}

both!(docs_try_it_out_upload, try_it_out);
