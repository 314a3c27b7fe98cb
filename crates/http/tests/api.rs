//! The full Oz API over real HTTP, the same scenarios on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{C, Kind, Options, fixture, login, receiver, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

fn file(rel: &str, name: &str, ct: &str) -> Part {
    Part::bytes(fixture(rel)).file_name(name.to_string()).mime_str(ct).expect("mime")
}

fn selfie_and_id(payload: Value) -> Form {
    Form::new()
        .part("video1", file("videos/portrait_720x1280.mp4", "selfie.mp4", "video/mp4"))
        .part("photo1", file("faces/live/obama__podium.jpg", "id.jpg", "image/jpeg"))
        .part("payload", Part::text(payload.to_string()))
}

fn oz_error(v: &Value, code: i64) {
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(v.get("details").is_some(), "{v}");
}

/// Company + user of `user_type`, returns (company_id, token).
async fn company_user(admin: &C<'_>, company: Option<&str>, email: &str, user_type: &str) -> (String, String) {
    let company_id = match company {
        Some(c) => c.to_string(),
        None => {
            let (st, c) = admin.post("/api/companies/", json!({ "name": format!("co-{email}") })).await;
            assert_eq!(st, 201, "{c}");
            c["company_id"].as_str().expect("id").to_string()
        }
    };
    let (st, u) = admin
        .post(
            "/api/users/",
            json!({ "email": email, "password": "password-123", "user_type": user_type, "company_id": company_id }),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    assert!(u.get("password").is_none() && u.get("password_hash").is_none());
    (company_id, login(admin.s, email, "password-123").await)
}

async fn poll_analysis(c: &C<'_>, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (st, a) = c.get(&format!("/api/analyses/{id}")).await;
        assert_eq!(st, 200, "{a}");
        if a["resolution_status"] != "PROCESSING" {
            return a;
        }
        assert!(Instant::now() < deadline, "analysis did not finish: {a}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both!(whole_flow, whole_flow_body);
async fn whole_flow_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, client_token) = company_user(&admin, None, "client@example.com", "CLIENT").await;
    let c = C { s: &s, token: client_token };
    let (hook_url, hooks) = receiver(1).await;

    // Upload a selfie video and an ID photo with tags and metadata.
    let payload = json!({
        "media:tags": { "video1": ["video_selfie", "video_selfie_blank", "orientation_portrait"], "photo1": ["photo_id", "photo_id_front"] },
        "folder:meta_data": { "transaction_id": "tx-42" },
        "media:meta_data": { "video1": { "k": "v" } },
    });
    let (st, folder) = c.upload("/api/folders/", selfie_and_id(payload)).await;
    assert_eq!(st, 201, "{folder}");
    let fid = folder["folder_id"].as_str().expect("folder id").to_string();
    assert_eq!(folder["resolution_status"], "INITIAL");
    assert_eq!(folder["meta_data"]["transaction_id"], "tx-42");
    let media = folder["media"].as_array().expect("media");
    assert_eq!(media.len(), 2);
    let video = media.iter().find(|m| m["media_type"] == "VIDEO_FOLDER").expect("video");
    assert_eq!(video["info"]["video"]["width"], 720);
    assert_eq!(video["tags"][0], "video_selfie");
    assert_eq!(video["meta_data"]["k"], "v");
    assert!(video["time_created"].as_f64().is_some());
    // Stored files are served to the owner.
    let orig = video["original_url"].as_str().expect("url");
    let r = c.req(reqwest::Method::GET, &orig.replacen(&s.base, "", 1)).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), fixture("videos/portrait_720x1280.mp4"));

    // Start QUALITY + BIOMETRY with a webhook.
    let (st, created) = c
        .post(
            &format!("/api/folders/{fid}/analyses"),
            json!({ "analyses": [{ "type": "quality", "meta_data": {"m": 1} }, { "type": "BIOMETRY" }], "resolution_endpoint": hook_url }),
        )
        .await;
    assert_eq!(st, 201, "{created}");
    let created = created.as_array().expect("array").clone();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["state"], "PROCESSING");
    assert_eq!(created[0]["analyse_id"], created[0]["analysis_id"]);
    assert_eq!(created[0]["confs"]["extract_best_shot"], true);
    let quality = poll_analysis(&c, created[0]["analysis_id"].as_str().expect("id")).await;
    let biometry = poll_analysis(&c, created[1]["analysis_id"].as_str().expect("id")).await;

    assert_eq!(quality["type"], "QUALITY");
    assert_eq!(quality["state"], "FINISHED");
    assert_eq!(quality["resolution_status"], "SUCCESS");
    assert_eq!(quality["resolution"], "SUCCESS");
    assert_eq!(quality["meta_data"]["m"], 1);
    let q = quality["results_media"].as_array().expect("results");
    assert_eq!(q.len(), 1, "QUALITY takes the selfie video, not the ID photo");
    assert_eq!(q[0]["source_media_id"], video["media_id"]);
    assert_eq!(q[0]["source_video_id"], video["media_id"]);
    assert!(q[0]["results_data"]["confidence_spoofing"].as_f64().expect("score") < 0.2);
    let shot = &q[0]["output_images"][0];
    assert_eq!(shot["media_type"], "IMAGE_RESULT_ANALYSIS_SINGLE");
    assert_eq!(shot["original_name"], "ResultImage.jpg");
    let shot_url = shot["original_url"].as_str().expect("best shot url").replacen(&s.base, "", 1);
    let r = c.req(reqwest::Method::GET, &shot_url).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let img = image::load_from_memory(&r.bytes().await.expect("bytes")).expect("best shot is an image");
    assert_eq!((img.width(), img.height()), (720, 1280));

    assert_eq!(biometry["state"], "FINISHED");
    assert_eq!(biometry["resolution_status"], "SUCCESS", "{biometry}");
    let min = biometry["results_data"]["min_confidence"].as_f64().expect("min");
    assert!(min >= 0.8, "same person in selfie and ID: {min}");
    assert_eq!(biometry["results_media"].as_array().map(Vec::len), Some(2));

    // The folder closes; the webhook (first attempt answered 500) is retried and delivered signed.
    let (_, f) = c.get(&format!("/api/folders/{fid}/?with_analyses=true")).await;
    assert_eq!(f["resolution_status"], "FINISHED");
    assert_eq!(f["system_resolution"], "SUCCESS");
    assert_eq!(f["analyses"].as_array().map(Vec::len), Some(2));
    let deadline = Instant::now() + Duration::from_secs(30);
    while hooks.lock().expect("lock").len() < 2 {
        assert!(Instant::now() < deadline, "webhook not retried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = hooks.lock().expect("lock").clone();
    assert_eq!(got.len(), 2, "delivered once after one failure, then no more");
    let ev0 = got[0].headers["x-oz-event-id"].to_str().expect("event id").to_string();
    assert_eq!(got[1].headers["x-oz-event-id"].to_str().expect("event id"), ev0, "same event id on retry");
    let ts: i64 = got[1].headers["x-oz-timestamp"].to_str().expect("ts").parse().expect("ts number");
    let sig = got[1].headers["x-oz-signature"].to_str().expect("signature");
    assert!(oz_engine::webhook::verify(common::SECRET, ts, &got[1].body, sig));
    let body: Value = serde_json::from_slice(&got[1].body).expect("json body");
    assert_eq!(body["folder_id"], fid.as_str());
    assert_eq!(body["resolution_status"], "FINISHED");
    assert_eq!(body["analyses"].as_array().map(Vec::len), Some(2));

    // Find the folder again by metadata.
    let (st, list) = c.get("/api/folders/?meta_data=transaction_id==tx-42&with_analyses=true").await;
    assert_eq!(st, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["folder_id"], fid.as_str());
    assert_eq!(list["total"], 1);
    let (_, none) = c.get("/api/folders/?meta_data=transaction_id==nope").await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
    let (_, omit) = c.get("/api/folders/?total_omit=true").await;
    assert!(omit.get("total").is_none());
    // Analyses of the folder with filters.
    let (_, only_q) = c.get(&format!("/api/folders/{fid}/analyses/?type=quality")).await;
    assert_eq!(only_q.as_array().map(Vec::len), Some(1));
    let (_, not_q) = c.get(&format!("/api/folders/{fid}/analyses?type.exclude=QUALITY")).await;
    assert_eq!(not_q[0]["type"], "BIOMETRY");

    // Tags and metadata sub-resources.
    let vid = video["media_id"].as_str().expect("id");
    let (st, m) =
        c.json(reqwest::Method::PATCH, &format!("/api/media/{vid}"), Some(json!({ "tags": ["video_selfie"] }))).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["tags"], json!(["video_selfie"]));
    let (st, meta) = c
        .json(reqwest::Method::PATCH, &format!("/api/folders/{fid}/meta_data"), Some(json!({ "client_iin": "123" })))
        .await;
    assert_eq!(st, 200);
    assert_eq!(meta, json!({ "transaction_id": "tx-42", "client_iin": "123" }));
    let (_, meta) = c.get(&format!("/api/folders/{fid}/meta_data/")).await;
    assert_eq!(meta["client_iin"], "123");
    let (st, _) = c.json(reqwest::Method::DELETE, &format!("/api/folders/{fid}/meta_data"), None).await;
    assert_eq!(st, 204);
    let (_, meta) = c.get(&format!("/api/folders/{fid}/meta_data")).await;
    assert_eq!(meta, json!({}));

    // A client cannot delete folders.
    let (st, e) = c.json(reqwest::Method::DELETE, &format!("/api/folders/{fid}/"), None).await;
    assert_eq!(st, 403);
    oz_error(&e, 9);
}

both!(single_request, single_request_body);
async fn single_request_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, t) = company_user(&admin, None, "c@example.com", "CLIENT").await;
    let c = C { s: &s, token: t };
    let payload = json!({
        "media:tags": { "video1": ["video_selfie", "video_selfie_blank"], "photo1": ["photo_selfie"] },
        "analyses": [{ "type": "quality", "params": { "threshold_spoofing": 0.0, "extract_best_shot": false } }],
    });
    let (st, f) = c.upload("/api/folders", selfie_and_id(payload)).await;
    assert_eq!(st, 201, "{f}");
    let a = &f["analyses"][0];
    assert_eq!(a["state"], "FINISHED", "single request answers with finished analyses: {f}");
    // threshold 0: everything counts as an attack.
    assert_eq!(a["resolution_status"], "DECLINED");
    assert_eq!(f["system_resolution"], "DECLINED");
    assert_eq!(a["results_media"].as_array().map(Vec::len), Some(2), "photo_selfie images are QUALITY inputs");
    assert_eq!(a["results_media"][0]["output_images"].as_array().map(Vec::len), Some(0));
}

both!(analyses_share_the_models, analyses_share_the_models_body);
async fn analyses_share_the_models_body(kind: Kind) {
    // QUALITY and BIOMETRY on the same video run the models on it once (the analysis cache), and
    // a later QUALITY that wants the best shot gets it from the same analysis.
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, t) = company_user(&admin, None, "share@example.com", "CLIENT").await;
    let c = C { s: &s, token: t };
    let payload = json!({
        "media:tags": { "video1": ["video_selfie", "video_selfie_blank"], "photo1": ["photo_id", "photo_id_front"] },
        "analyses": [{ "type": "quality", "params": { "extract_best_shot": false } }, { "type": "biometry" }],
    });
    let (st, f) = c.upload("/api/folders", selfie_and_id(payload)).await;
    assert_eq!(st, 201, "{f}");
    let states: Vec<&Value> = f["analyses"].as_array().expect("analyses").iter().map(|a| &a["state"]).collect();
    assert_eq!(states, [&json!("FINISHED"), &json!("FINISHED")], "{f}");
    let quality = &f["analyses"][0];
    assert_eq!(quality["results_media"][0]["output_images"].as_array().map(Vec::len), Some(0), "{quality}");
    assert_eq!(f["analyses"][1]["resolution_status"], "SUCCESS", "{f}");
    // The video (QUALITY, BIOMETRY) and the photo (BIOMETRY): two runs of the models, one reuse;
    // the photo's run is the detector and the embedder alone (no liveness or pose for an ID photo).
    let stats = s.engine.analyses.stats();
    assert_eq!((stats.computed, stats.reused, stats.still_embeddings), (2, 1, 1), "{stats:?}");
    // Analysed media leave the decode cache (the shared analysis keeps the best frame alone).
    assert_eq!(s.engine.cache.bytes(), 0, "decoded frames left after the analyses");

    let fid = f["folder_id"].as_str().expect("folder id");
    let (st, created) =
        c.post(&format!("/api/folders/{fid}/analyses/"), json!({ "analyses": [{ "type": "quality" }] })).await;
    assert_eq!(st, 201, "{created}");
    let again = poll_analysis(&c, created[0]["analysis_id"].as_str().expect("id")).await;
    assert_eq!(again["state"], "FINISHED", "{again}");
    assert_eq!(again["results_media"][0]["output_images"].as_array().map(Vec::len), Some(1), "{again}");
    assert_eq!(
        again["results_media"][0]["results_data"]["confidence_spoofing"],
        quality["results_media"][0]["results_data"]["confidence_spoofing"]
    );
    let stats = s.engine.analyses.stats();
    assert_eq!((stats.computed, stats.reused, stats.still_embeddings), (2, 2, 1), "{stats:?}");

    // An ID "photo" without a face: BIOMETRY fails on it with the usual message.
    let payload = json!({
        "media:tags": { "video1": ["video_selfie", "video_selfie_blank"], "photo1": ["photo_id", "photo_id_front"] },
        "analyses": [{ "type": "biometry" }],
    });
    let form = Form::new()
        .part("video1", file("videos/portrait_720x1280.mp4", "selfie.mp4", "video/mp4"))
        .part("photo1", file("faces/extra/cat.png", "id.png", "image/png"))
        .part("payload", Part::text(payload.to_string()));
    let (st, f) = c.upload("/api/folders", form).await;
    assert_eq!(st, 201, "{f}");
    let a = &f["analyses"][0];
    assert_eq!(a["state"], "FAILED", "{a}");
    assert!(a["error_message"].as_str().is_some_and(|m| m.contains("no face found")), "{a}");
    assert_eq!(s.engine.analyses.stats().still_embeddings, 2);
}

both!(best_shot_from_the_whole_clip, best_shot_from_the_whole_clip_body);
async fn best_shot_from_the_whole_clip_body(kind: Kind) {
    // A 4 s clip sharp only in frames 55..=64, none of which the even 8-frame spread samples.
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, t) = company_user(&admin, None, "clip@example.com", "CLIENT").await;
    let c = C { s: &s, token: t };
    let payload = json!({
        "media:tags": { "video1": ["video_selfie", "video_selfie_blank", "orientation_portrait"] },
        "analyses": [{ "type": "quality" }],
    });
    let form = Form::new()
        .part("video1", file("videos/sharp_window.mp4", "selfie.mp4", "video/mp4"))
        .part("payload", Part::text(payload.to_string()));
    let (st, f) = c.upload("/api/folders", form).await;
    assert_eq!(st, 201, "{f}");
    let r = &f["analyses"][0]["results_media"][0];
    let shot = &r["output_images"][0];
    let frame = shot["technical_meta_data"]["frame_index"].as_u64().expect("frame index");
    assert!((55..=64).contains(&frame), "best shot from frame {frame}: {shot}");
    // The per-frame liveness scores behind confidence_spoofing: the 8 spread frames.
    let frames = r["results_data"]["frames"].as_array().expect("per-frame scores");
    let idx: Vec<u64> = frames.iter().filter_map(|x| x["frame_index"].as_u64()).collect();
    assert_eq!(idx, vec![0, 17, 34, 51, 68, 85, 102, 119], "{r}");
    assert!(frames.iter().all(|x| x["confidence_spoofing"].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v))));
    assert!(r["results_data"]["confidence_spoofing"].as_f64().is_some());
}

both!(gestures_and_planarity, gestures_and_planarity_body);
async fn gestures_and_planarity_body(kind: Kind) {
    // Phone-like 4 s clips at 30 fps: a 0.17 s blink (frames 70..74) and its twin without one;
    // and a flat photo moved in front of the camera, which the anti-spoofing model passes.
    async fn quality(c: &C<'_>, clip: &str, tags: &[&str]) -> (String, Value) {
        let payload = json!({ "media:tags": { "video1": tags }, "analyses": [{ "type": "quality" }] });
        let form = Form::new()
            .part("video1", file(clip, "selfie.mp4", "video/mp4"))
            .part("payload", Part::text(payload.to_string()));
        let (st, f) = c.upload("/api/folders", form).await;
        assert_eq!(st, 201, "{f}");
        let a = &f["analyses"][0];
        (a["resolution_status"].as_str().unwrap_or_default().to_string(), a["results_media"][0]["results_data"].clone())
    }
    // OZ_GESTURE_CHECK=decline (the default is report).
    let decline = Options { gesture_policy: oz_domain::gesture::GesturePolicy::Decline, ..Options::default() };
    let Some(s) = start(kind, decline).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, t) = company_user(&admin, None, "gesture@example.com", "CLIENT").await;
    let c = C { s: &s, token: t };
    let eyes = ["video_selfie", "video_selfie_eyes", "orientation_portrait"];

    let (status, r) = quality(&c, "gestures/gesture_blink_long.mp4", &eyes).await;
    assert_eq!(status, "SUCCESS", "{r}");
    let g = &r["gesture"];
    assert_eq!(
        (g["requested"].as_str(), g["tag"].as_str(), g["detected"].as_bool()),
        (Some("blink"), Some("video_selfie_eyes"), Some(true)),
        "{r}"
    );
    let frames: Vec<u64> =
        g["frames"].as_array().map(|v| v.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
    assert!(!frames.is_empty() && frames.iter().all(|i| (70..=74).contains(i)), "{r}");
    assert!(g["confidence"].as_f64().is_some_and(|v| v >= 0.5), "{r}");
    assert_eq!(g["frames_analysed"].as_u64(), Some(40));

    let (status, r) = quality(&c, "gestures/gesture_neutral_long.mp4", &eyes).await;
    assert_eq!(status, "DECLINED", "no blink: {r}");
    assert_eq!(r["gesture"]["detected"].as_bool(), Some(false), "{r}");
    assert!(r["gesture"]["confidence"].as_f64().is_some_and(|v| v < 0.5), "{r}");
    assert!(r["confidence_spoofing"].as_f64().is_some_and(|v| v < 0.42), "live, only the gesture is missing: {r}");

    // The same clip with a passive-liveness tag: no gesture asked, none checked.
    let (status, r) = quality(&c, "gestures/gesture_neutral_long.mp4", &["video_selfie", "video_selfie_blank"]).await;
    assert_eq!(status, "SUCCESS", "{r}");
    assert!(r.get("gesture").is_none(), "{r}");
    assert!(r["signals"]["model"].as_f64().is_some(), "{r}");

    // A head turning left as asked: the planarity of its dense frames says it is not flat.
    let (status, r) = quality(&c, "gestures/gesture_left.mp4", &["video_selfie", "video_selfie_left"]).await;
    assert_eq!(status, "SUCCESS", "{r}");
    assert_eq!(r["gesture"]["detected"].as_bool(), Some(true), "{r}");
    assert_eq!(r["signals"]["planarity"].as_f64(), Some(0.0), "{r}");
    // Asked to turn right, turned left.
    let (status, r) = quality(&c, "gestures/gesture_left.mp4", &["video_selfie", "video_selfie_right"]).await;
    assert_eq!(status, "DECLINED", "{r}");

    // A printed photo moved in 3D: the model scores it live, planarity declines it.
    let (status, r) = quality(&c, "gestures/planar_photo_obama.mp4", &["video_selfie", "video_selfie_blank"]).await;
    assert_eq!(status, "DECLINED", "{r}");
    let model = r["signals"]["model"].as_f64().unwrap_or(1.0);
    let planar = r["signals"]["planarity"].as_f64().unwrap_or(0.0);
    assert!(model < 0.42 && planar > 0.8, "{r}");
    // confidence_spoofing = max(model, 0.75 x planarity) (OZ_PLANARITY_WEIGHT's default).
    let fused = r["confidence_spoofing"].as_f64().unwrap_or(0.0);
    assert!((fused - (0.75 * planar).max(model)).abs() < 1e-5, "{r}");

    // OZ_GESTURE_CHECK=report (the default): the missing blink is reported, the verdict is
    // liveness alone.
    let Some(s2) = start(kind, Options::default()).await else {
        return;
    };
    let admin2 = C { s: &s2, token: common::admin_token(&s2).await };
    let (_, t2) = company_user(&admin2, None, "report@example.com", "CLIENT").await;
    let c2 = C { s: &s2, token: t2 };
    let (status, r) = quality(&c2, "gestures/gesture_neutral_long.mp4", &eyes).await;
    assert_eq!(status, "SUCCESS", "{r}");
    assert_eq!(r["gesture"]["detected"].as_bool(), Some(false), "{r}");
}

both!(auth_and_errors, auth_and_errors_body);
async fn auth_and_errors_body(kind: Kind) {
    let Some(s) = start(
        kind,
        Options {
            session_ttl: Duration::from_secs(2),
            attachment_max_count: 2,
            attachment_max_size: 400_000,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let anon = C { s: &s, token: String::new() };
    let http = reqwest::Client::new();

    // No token, unknown token.
    let r = http.get(anon.url("/api/folders/")).send().await.expect("send");
    assert_eq!(r.status(), 401);
    oz_error(&r.json().await.expect("json"), 6);
    let bad = C { s: &s, token: "ab".repeat(64) };
    let (st, e) = bad.get("/api/folders").await;
    assert_eq!(st, 401);
    oz_error(&e, 7);
    // Wrong password, malformed login.
    let r = http
        .post(anon.url("/api/authorize/auth/"))
        .json(&json!({ "credentials": { "email": "admin@example.com", "password": "nope" } }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    oz_error(&r.json().await.expect("json"), 7);
    let r = http.post(anon.url("/api/authorize/auth")).json(&json!({ "email": "x" })).send().await.expect("send");
    assert_eq!(r.status(), 400);
    oz_error(&r.json().await.expect("json"), 3);

    // Forbidden: a client cannot create companies.
    let (company, ct) = company_user(&admin, None, "client@example.com", "CLIENT").await;
    let c = C { s: &s, token: ct.clone() };
    let (st, e) = c.post("/api/companies", json!({ "name": "x" })).await;
    assert_eq!(st, 403);
    oz_error(&e, 9);

    // Refresh: missing field, unknown token, someone else's session, then a good refresh.
    let (st, e) = c.post("/api/authorize/refresh", json!({})).await;
    assert_eq!(st, 400);
    assert_eq!(e["error_message"], "Could not locate field for key_path expire_token from provided dict data");
    let (st, e) = c.post("/api/authorize/refresh/", json!({ "expire_token": "00" })).await;
    assert_eq!(st, 401);
    assert_eq!(e["error_message"], "Session not found");
    let login_body = |email: &str| json!({ "credentials": { "email": email, "password": "password-123" } });
    let full: Value = http
        .post(anon.url("/api/authorize/auth"))
        .json(&login_body("client@example.com"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let (st, e) = admin.post("/api/authorize/refresh", json!({ "expire_token": full["expire_token"] })).await;
    assert_eq!(st, 403);
    assert_eq!(e["error_message"], "You have not access to refresh this session");
    let old = C { s: &s, token: full["access_token"].as_str().expect("t").to_string() };
    let (st, fresh) = old.post("/api/authorize/refresh", json!({ "expire_token": full["expire_token"] })).await;
    assert_eq!(st, 200, "{fresh}");
    assert!(fresh["expire_date"].as_f64().is_some());
    let new = C { s: &s, token: fresh["access_token"].as_str().expect("t").to_string() };
    // The old pair works until the new one is used, then it is gone.
    assert_eq!(old.get("/api/folders/").await.0, 200);
    assert_eq!(new.get("/api/folders/").await.0, 200);
    let (st, e) = old.get("/api/folders/").await;
    assert_eq!(st, 401);
    oz_error(&e, 7);

    // Expired (TTL 2 s, sliding: idle for 3 s).
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (st, e) = new.get("/api/folders/").await;
    assert_eq!(st, 401);
    oz_error(&e, 8);
    let c = C { s: &s, token: login(&s, "client@example.com", "password-123").await };

    // Upload errors leave no row and no file behind.
    let files_before = s.engine.files.count();
    let form = Form::new()
        .part(
            "v",
            Part::bytes(b"definitely not a video".to_vec()).file_name("x.mp4").mime_str("video/mp4").expect("mime"),
        )
        .part("payload", Part::text("{}"));
    let (st, e) = c.upload("/api/folders/", form).await;
    assert_eq!(st, 400);
    oz_error(&e, 4);
    let form = Form::new()
        .part("a", file("faces/extra/hanks_aligned.png", "a.png", "image/png"))
        .part("b", file("faces/extra/hanks_aligned.png", "b.png", "image/png"))
        .part("c", file("faces/extra/hanks_aligned.png", "c.png", "image/png"));
    let (st, e) = c.upload("/api/folders/", form).await;
    assert_eq!(st, 400, "OZ_ATTACHMENT_MAX_COUNT");
    oz_error(&e, 4);
    let form = Form::new().part("big", file("faces/live/obama__full.jpg", "big.jpg", "image/jpeg"));
    let (st, e) = c.upload("/api/folders/", form).await;
    assert_eq!(st, 413, "OZ_ATTACHMENT_MAX_SIZE");
    oz_error(&e, 4);
    let form = Form::new()
        .part("x", file("faces/extra/hanks_aligned.png", "a.png", "image/png"))
        .part("payload", Part::text("{oops"));
    let (st, e) = c.upload("/api/folders/", form).await;
    assert_eq!(st, 400);
    oz_error(&e, 3);
    let (_, list) = c.get("/api/folders/").await;
    assert_eq!(list["total"], 0, "no folder row left behind");
    assert_eq!(s.engine.files.count(), files_before, "no file left behind");

    // Bad analysis requests.
    let form = Form::new().part("p", file("faces/extra/hanks_aligned.png", "a.png", "image/png"));
    let (_, f) = c.upload("/api/folders/", form).await;
    let fid = f["folder_id"].as_str().expect("id");
    let (st, e) =
        c.post(&format!("/api/folders/{fid}/analyses/"), json!({ "analyses": [{ "type": "biometry" }] })).await;
    assert_eq!(st, 400, "BIOMETRY needs two media");
    oz_error(&e, 4);
    let (st, e) =
        c.post(&format!("/api/folders/{fid}/analyses/"), json!({ "analyses": [{ "type": "palmistry" }] })).await;
    assert_eq!(st, 400);
    oz_error(&e, 4);
    let (st, e) = c.post(&format!("/api/folders/{fid}/analyses/"), json!({ "nothing": [] })).await;
    assert_eq!(st, 400);
    oz_error(&e, 3);
    let (st, e) = c.get("/api/folders/not-a-uuid/").await;
    assert_eq!(st, 404);
    oz_error(&e, 10);
    let (st, e) = c.get("/api/folders/?time_created.min=yesterday").await;
    assert_eq!(st, 400);
    oz_error(&e, 4);
    let _ = company;
}

both!(tenant_isolation, tenant_isolation_body);
async fn tenant_isolation_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (company_a, a1) = company_user(&admin, None, "a1@example.com", "CLIENT").await;
    let (_, a2) = company_user(&admin, Some(&company_a), "a2@example.com", "CLIENT").await;
    let (_, a_admin) = company_user(&admin, Some(&company_a), "aadmin@example.com", "CLIENT ADMIN").await;
    let (company_b, b1) = company_user(&admin, None, "b1@example.com", "CLIENT").await;
    let (_, b_admin) = company_user(&admin, Some(&company_b), "badmin@example.com", "CLIENT_ADMIN").await;
    let (_, op) = {
        let (st, u) = admin
            .post(
                "/api/users/",
                json!({ "email": "op@example.com", "password": "password-123", "user_type": "OPERATOR" }),
            )
            .await;
        assert_eq!(st, 201, "{u}");
        ((), login(&s, "op@example.com", "password-123").await)
    };
    let a1 = C { s: &s, token: a1 };
    let payload = json!({ "media:tags": { "video1": ["video_selfie"], "photo1": ["photo_selfie"] } });
    let (st, f) = a1.upload("/api/folders/", selfie_and_id(payload)).await;
    assert_eq!(st, 201);
    let fid = f["folder_id"].as_str().expect("id").to_string();
    let mid = f["media"][0]["media_id"].as_str().expect("media").to_string();
    let file_path = f["media"][0]["original_url"].as_str().expect("url").replacen(&s.base, "", 1);
    let (_, an) = a1
        .post(
            &format!("/api/folders/{fid}/analyses"),
            json!({ "analyses": [{ "type": "quality", "params": {"extract_best_shot": false} }] }),
        )
        .await;
    let aid = an[0]["analysis_id"].as_str().expect("analysis").to_string();

    let routes_get = [
        format!("/api/folders/{fid}/"),
        format!("/api/folders/{fid}"),
        format!("/api/folders/{fid}/analyses/"),
        format!("/api/analyses/{aid}"),
        format!("/api/media/{mid}"),
        format!("/api/folders/{fid}/meta_data"),
        format!("/api/media/{mid}/meta_data"),
        format!("/api/analyses/{aid}/meta_data"),
        file_path.clone(),
    ];
    // Another company's users (client and company admin) and a colleague who is not admin see nothing.
    for (who, token) in [("b1", &b1), ("b_admin", &b_admin), ("a2", &a2)] {
        let c = C { s: &s, token: token.clone() };
        for r in &routes_get {
            let (st, e) = c.get(r).await;
            assert_eq!(st, 404, "{who} GET {r}: {e}");
            if !r.starts_with("/static/") {
                oz_error(&e, 10);
            }
        }
        let (_, list) = c.get("/api/folders/").await;
        assert!(
            list["items"].as_array().expect("items").iter().all(|f| f["folder_id"] != fid.as_str()),
            "{who} lists it"
        );
        let (st, _) =
            c.post(&format!("/api/folders/{fid}/analyses"), json!({ "analyses": [{ "type": "quality" }] })).await;
        assert_eq!(st, 404, "{who} starts an analysis");
        let (st, _) = c.json(reqwest::Method::PATCH, &format!("/api/media/{mid}"), Some(json!({ "tags": [] }))).await;
        assert_eq!(st, 404, "{who} retags");
        let (st, _) =
            c.json(reqwest::Method::PATCH, &format!("/api/folders/{fid}/meta_data"), Some(json!({ "x": 1 }))).await;
        assert_eq!(st, 404, "{who} writes metadata");
        let (st, _) = c.json(reqwest::Method::DELETE, &format!("/api/media/{mid}"), None).await;
        assert_eq!(st, 404, "{who} deletes media");
        let (st, _) = c.json(reqwest::Method::DELETE, &format!("/api/folders/{fid}/"), None).await;
        assert_eq!(st, 404, "{who} deletes the folder");
        // A small body: the folder is refused before the body is read, and a large body still being
        // written when the 404 comes back would end in a broken pipe on the client side.
        let small = Part::bytes(vec![0u8; 1024]).file_name("a.png").mime_str("image/png").expect("mime");
        let form = Form::new().part("x", small);
        let (st, _) = c.upload(&format!("/api/folders/{fid}/media/"), form).await;
        assert_eq!(st, 404, "{who} adds media");
    }
    // The own company admin, the OPERATOR and the ADMIN see everything.
    for (who, token) in [("a_admin", &a_admin), ("operator", &op), ("admin", &admin.token)] {
        let c = C { s: &s, token: token.clone() };
        for r in &routes_get {
            let (st, e) = c.get(r).await;
            assert_eq!(st, 200, "{who} GET {r}: {e}");
        }
    }
    // Users and companies are scoped too.
    let b = C { s: &s, token: b_admin.clone() };
    let (_, users) = b.get("/api/users/").await;
    assert!(users["items"].as_array().expect("items").iter().all(|u| u["company_id"] == company_b.as_str()));
    let (st, _) = b.get(&format!("/api/companies/{company_a}/")).await;
    assert_eq!(st, 404);
    let (st, e) = b
        .post(
            "/api/users/",
            json!({ "email": "evil@example.com", "password": "password-123", "company_id": company_a }),
        )
        .await;
    assert!(st == 400 || st == 403, "{e}");
    let (st, u) = b.post("/api/users/", json!({ "email": "new@example.com", "password": "password-123" })).await;
    assert_eq!(st, 201, "company admin adds a user to its own company");
    assert_eq!(u["company_id"], company_b.as_str());
    let (st, _) = b
        .post("/api/users/", json!({ "email": "boss@example.com", "password": "password-123", "user_type": "ADMIN" }))
        .await;
    assert_eq!(st, 403, "company admin cannot create ADMINs");
    // The company admin of A may delete A's folder; the operator may not.
    let o = C { s: &s, token: op };
    let (st, _) = o.json(reqwest::Method::DELETE, &format!("/api/folders/{fid}"), None).await;
    assert_eq!(st, 403);
    poll_analysis(&a1, &aid).await;
    let aa = C { s: &s, token: a_admin };
    let files_before = s.engine.files.count();
    let (st, _) = aa.json(reqwest::Method::DELETE, &format!("/api/folders/{fid}/"), None).await;
    assert_eq!(st, 204);
    assert!(s.engine.files.count() < files_before, "deleting a folder removes its files");
    assert_eq!(a1.get(&format!("/api/folders/{fid}")).await.0, 404);
}

both!(accounts_and_best_shot, accounts_and_best_shot_body);
async fn accounts_and_best_shot_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (company_a, a_admin) = company_user(&admin, None, "aadmin@example.com", "CLIENT_ADMIN").await;
    let (company_b, b_client) = company_user(&admin, None, "b@example.com", "CLIENT").await;
    let aa = C { s: &s, token: a_admin };
    let b = C { s: &s, token: b_client };

    // Company admin A manages A's users; B sees none of them, on every user and company route.
    let (st, u) = aa
        .post("/api/users", json!({ "email": "a2@example.com", "password": "password-123", "first_name": "Ann" }))
        .await;
    assert_eq!(st, 201, "{u}");
    let uid = u["user_id"].as_str().expect("id").to_string();
    let (st, u) = aa
        .json(
            reqwest::Method::PATCH,
            &format!("/api/users/{uid}/"),
            Some(json!({ "last_name": "Lee", "can_start_analysis_biometry": false })),
        )
        .await;
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["last_name"], "Lee");
    assert_eq!(u["can_start_analysis_biometry"], false);
    for (m, path, body) in [
        (reqwest::Method::GET, format!("/api/users/{uid}"), None),
        (reqwest::Method::PATCH, format!("/api/users/{uid}"), Some(json!({ "first_name": "X" }))),
        (reqwest::Method::DELETE, format!("/api/users/{uid}/"), None),
        (reqwest::Method::GET, format!("/api/users/{uid}/meta_data"), None),
        (reqwest::Method::PATCH, format!("/api/users/{uid}/meta_data"), Some(json!({ "x": 1 }))),
        (reqwest::Method::GET, format!("/api/companies/{company_a}"), None),
        (reqwest::Method::PATCH, format!("/api/companies/{company_a}/"), Some(json!({ "name": "stolen" }))),
        (reqwest::Method::DELETE, format!("/api/companies/{company_a}"), None),
    ] {
        let (st, e) = b.json(m.clone(), &path, body).await;
        assert_eq!(st, 404, "B {m} {path}: {e}");
        oz_error(&e, 10);
    }
    let (_, companies) = b.get("/api/companies/").await;
    let ids: Vec<&str> =
        companies["items"].as_array().expect("items").iter().filter_map(|c| c["company_id"].as_str()).collect();
    assert_eq!(ids, vec![company_b.as_str()]);
    let (_, found) = admin.get("/api/companies/?search_text=CO-AADMIN").await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "search is case-insensitive");
    // The flag just cleared stops the user from starting BIOMETRY.
    let a2 = C { s: &s, token: login(&s, "a2@example.com", "password-123").await };
    let form = Form::new()
        .part("v", file("videos/portrait_720x1280.mp4", "v.mp4", "video/mp4"))
        .part("p", file("faces/live/obama__podium.jpg", "p.jpg", "image/jpeg"))
        .part("payload", Part::text(json!({ "media:tags": { "v": ["video_selfie"] } }).to_string()));
    let (_, f) = a2.upload("/api/folders/", form).await;
    let fid = f["folder_id"].as_str().expect("folder").to_string();
    let (st, e) =
        a2.post(&format!("/api/folders/{fid}/analyses"), json!({ "analyses": [{ "type": "biometry" }] })).await;
    assert_eq!(st, 403);
    oz_error(&e, 9);

    // The best shot of a QUALITY analysis is a BIOMETRY input against the ID photo.
    let (_, q) = a2.post(&format!("/api/folders/{fid}/analyses"), json!({ "analyses": [{ "type": "quality" }] })).await;
    let q = poll_analysis(&a2, q[0]["analysis_id"].as_str().expect("id")).await;
    let shot = q["results_media"][0]["output_images"][0]["media_id"].as_str().expect("best shot").to_string();
    let photo = f["media"]
        .as_array()
        .expect("media")
        .iter()
        .find(|m| m["media_type"] == "IMAGE_FOLDER")
        .expect("photo")["media_id"]
        .as_str()
        .expect("id")
        .to_string();
    let (st, bio) = aa
        .post(
            &format!("/api/folders/{fid}/analyses/"),
            json!({ "analyses": [{ "type": "biometry", "source_media": [shot, photo] }] }),
        )
        .await;
    assert_eq!(st, 201, "{bio}");
    let bio = poll_analysis(&aa, bio[0]["analysis_id"].as_str().expect("id")).await;
    assert_eq!(bio["resolution_status"], "SUCCESS", "{bio}");
    assert_eq!(bio["source_media"][0]["media_type"], "IMAGE_RESULT_ANALYSIS_SINGLE");

    // Deleting a user, by its company admin.
    let (st, _) = aa.json(reqwest::Method::DELETE, &format!("/api/users/{uid}"), None).await;
    assert_eq!(st, 204);
    assert_eq!(aa.get(&format!("/api/users/{uid}")).await.0, 404);

    // Service users get the long-lived session.
    let (st, _) = admin
        .post("/api/users/", json!({ "email": "svc@example.com", "password": "password-123", "user_type": "CLIENT SERVICE", "company_id": company_b }))
        .await;
    assert_eq!(st, 201);
    let r: Value = reqwest::Client::new()
        .post(format!("{}/api/authorize/auth", s.base))
        .json(&json!({ "credentials": { "email": "SVC@example.com", "password": "password-123" } }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let left = r["expire_date"].as_f64().expect("expire") - oz_storage::now();
    assert!(left > 365.0 * 24.0 * 3600.0, "service session lasts years, got {left} s");
}

both!(client_limits, client_limits_body);
/// JSON bodies of non-upload routes are capped (413, Oz body); every list a client sends is
/// de-duplicated and capped (400, error 4).
async fn client_limits_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, t) = company_user(&admin, None, "limits@example.com", "CLIENT").await;
    let c = C { s: &s, token: t };

    // A 2 MiB JSON body, with and without a token, on routes that take no upload.
    let big = json!({ "name": "x".repeat(2 << 20) });
    let (st, e) = admin.post("/api/companies/", big.clone()).await;
    assert_eq!(st, 413, "{e}");
    oz_error(&e, 4);
    let r = reqwest::Client::new()
        .post(admin.url("/api/authorize/auth"))
        .header("Content-Type", "application/json")
        .body(format!(r#"{{"credentials": {{"email": "{}", "password": "x"}}}}"#, "a".repeat(2 << 20)))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 413);
    oz_error(&r.json().await.expect("json"), 4);

    // A folder with two media; the payload part of an upload has the same JSON cap.
    let (st, e) = c
        .upload(
            "/api/folders",
            Form::new()
                .part("photo1", file("faces/live/obama__podium.jpg", "id.jpg", "image/jpeg"))
                .part("payload", Part::text(big.to_string())),
        )
        .await;
    assert_eq!(st, 413, "{e}");
    oz_error(&e, 4);
    let payload = json!({ "media:tags": { "photo1": ["photo_selfie", "photo_selfie", "x", "photo_selfie"] } });
    let form = Form::new()
        .part("photo1", file("faces/live/obama__podium.jpg", "a.jpg", "image/jpeg"))
        .part("photo2", file("faces/live/obama__full.jpg", "b.jpg", "image/jpeg"))
        .part("payload", Part::text(payload.to_string()));
    let (st, f) = c.upload("/api/folders", form).await;
    assert_eq!(st, 201, "{f}");
    let folder = f["folder_id"].as_str().expect("folder id").to_string();
    let media: Vec<Value> = f["media"].as_array().expect("media").clone();
    let photo1 = media.iter().find(|m| m["original_name"] == "a.jpg").expect("photo1");
    assert_eq!(photo1["tags"], json!(["photo_selfie", "x"]), "tags de-duplicated");
    let ids: Vec<String> = media.iter().map(|m| m["media_id"].as_str().expect("id").to_string()).collect();

    // source_media: repeats are one; more than 50 distinct ids are refused before any lookup.
    let repeated = json!([ids[0], ids[1], ids[0], ids[0], ids[1]]);
    let (st, a) = c
        .post(
            &format!("/api/folders/{folder}/analyses/"),
            json!({ "analyses": [{ "type": "biometry", "source_media": repeated }] }),
        )
        .await;
    assert_eq!(st, 201, "{a}");
    assert_eq!(a[0]["source_media"].as_array().map(Vec::len), Some(2), "{a}");
    let many: Vec<String> = (0..51).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let (st, e) = c
        .post(
            &format!("/api/folders/{folder}/analyses/"),
            json!({ "analyses": [{ "type": "biometry", "source_media": many }] }),
        )
        .await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
    assert!(e["error_message"].as_str().is_some_and(|m| m.contains("limit is 50")), "{e}");
    // Analyses per request.
    let analyses: Vec<Value> = (0..21).map(|_| json!({ "type": "quality" })).collect();
    let (st, e) = c.post(&format!("/api/folders/{folder}/analyses/"), json!({ "analyses": analyses })).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);

    // Tags of a media, meta_data objects, query lists.
    let tags: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let (st, e) =
        c.json(reqwest::Method::PATCH, &format!("/api/media/{}", ids[0]), Some(json!({ "tags": tags }))).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
    let keys: serde_json::Map<String, Value> = (0..257).map(|i| (format!("k{i}"), json!(i))).collect();
    let (st, e) = c.post(&format!("/api/folders/{folder}/meta_data"), Value::Object(keys)).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
    let (st, m) = c.post(&format!("/api/folders/{folder}/meta_data"), json!({ "ok": true })).await;
    assert_eq!((st, &m["ok"]), (200, &json!(true)), "{m}");
    let list: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let (st, e) = c.get(&format!("/api/folders/?folder_id={}", list.join(","))).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
}
