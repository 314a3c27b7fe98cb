//! The Instant API (`POST /api/instant/folders/`), SDK session tokens
//! (`GET /api/authorize/session_token`) and OzCapsula refusals over real HTTP, on SQLite and on
//! PostgreSQL: an Instant request leaves no row and no file behind.

#[macro_use]
mod common;

use std::time::Duration;

use base64::Engine;
use common::{Kind, Options, TestServer, fixture, login, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const INSTANT: &str = "/api/instant/folders/";

fn url(s: &TestServer, p: &str) -> String {
    format!("{}{p}", s.base)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn answer(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("send");
    let status = r.status().as_u16();
    let text = r.text().await.expect("text");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(s: &TestServer, token: &str, p: &str) -> (u16, Value) {
    answer(client().get(url(s, p)).header("X-Forensic-Access-Token", token)).await
}

async fn post_json(s: &TestServer, token: &str, p: &str, body: Value) -> (u16, Value) {
    answer(client().post(url(s, p)).header("X-Forensic-Access-Token", token).json(&body)).await
}

/// `POST /api/instant/folders/` with `form`, with the token header when given.
async fn instant(s: &TestServer, token: Option<&str>, form: Form) -> (u16, Value) {
    let mut r = client().post(url(s, INSTANT)).multipart(form);
    if let Some(t) = token {
        r = r.header("X-Forensic-Access-Token", t);
    }
    answer(r).await
}

fn file(rel: &str, name: &str, ct: &str) -> Part {
    Part::bytes(fixture(rel)).file_name(name.to_string()).mime_str(ct).expect("mime")
}

/// A selfie video (`video1`) and an ID photo of the same person (`photo1`) with `payload`.
fn selfie_and_id(payload: &Value) -> Form {
    Form::new()
        .part("video1", file("videos/portrait_720x1280.mp4", "selfie.mp4", "video/mp4"))
        .part("photo1", file("faces/live/obama__podium.jpg", "id.jpg", "image/jpeg"))
        .part("payload", Part::text(payload.to_string()))
}

/// A small body for requests refused before it is read (a large one could meet a closed socket).
fn small_form() -> Form {
    Form::new()
        .part("photo1", Part::bytes(vec![0xFF, 0xD8, 0xFF]).file_name("x.jpg").mime_str("image/jpeg").expect("mime"))
        .part("payload", Part::text(json!({ "analyses": [{ "type": "quality" }] }).to_string()))
}

fn tagged(analyses: &Value) -> Value {
    json!({
        "media:tags": { "video1": ["video_selfie", "video_selfie_blank"], "photo1": ["photo_id", "photo_id_front"] },
        "analyses": analyses,
    })
}

fn oz_error(v: &Value, code: i64) {
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(v.get("details").is_some(), "{v}");
}

/// Rows of every table a folder upload or an analysis writes, and the files of the media folder.
async fn stored(s: &TestServer) -> (Vec<(String, i64)>, Vec<String>) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&s.url).await.expect("connect");
    let mut rows = Vec::new();
    for t in ["folders", "media", "analyses", "jobs", "webhook_deliveries", "persons", "person_images"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {t}")))
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("count {t}: {e}"));
        rows.push((t.to_string(), n));
    }
    pool.close().await;
    let mut files: Vec<String> = std::fs::read_dir(s.data.join("media"))
        .expect("media folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    (rows, files)
}

fn nothing_stored(state: &(Vec<(String, i64)>, Vec<String>)) {
    assert!(state.0.iter().all(|(_, n)| *n == 0), "rows: {:?}", state.0);
    assert!(state.1.is_empty(), "files: {:?}", state.1);
}

/// A company and a user of `user_type` in it: (company_id, user_id, token).
async fn company_user(s: &TestServer, admin: &str, email: &str, user_type: &str) -> (String, String, String) {
    let (st, c) = post_json(s, admin, "/api/companies/", json!({ "name": format!("co-{email}") })).await;
    assert_eq!(st, 201, "{c}");
    let company = c["company_id"].as_str().expect("company").to_string();
    let (st, u) = post_json(
        s,
        admin,
        "/api/users/",
        json!({ "email": email, "password": "password-123", "user_type": user_type, "company_id": company }),
    )
    .await;
    assert_eq!(st, 201, "{u}");
    let user = u["user_id"].as_str().expect("user").to_string();
    (company, user, login(s, email, "password-123").await)
}

fn is_uuid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

both!(instant_leaves_nothing, instant_leaves_nothing_body);
async fn instant_leaves_nothing_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = common::admin_token(&s).await;
    let (company, user, token) = company_user(&s, &admin, "client@example.com", "CLIENT").await;
    let before = stored(&s).await;
    nothing_stored(&before);

    let payload = json!({
        "media:tags": { "video1": ["video_selfie", "video_selfie_blank"], "photo1": ["photo_id", "photo_id_front"] },
        "media:meta_data": { "video1": { "k": "v" } },
        "folder:meta_data": { "order": 42 },
        "resolution_endpoint": "https://example.com/hook",
        "analyses": [
            { "type": "quality", "meta_data": { "m": 1 } },
            { "type": "BIOMETRY" },
        ],
    });
    let (st, f) = instant(&s, Some(&token), selfie_and_id(&payload)).await;
    assert_eq!(st, 201, "{f}");
    assert!(is_uuid(&f["folder_id"]), "temporary folder id: {f}");
    assert_eq!(f["company_id"], company.as_str());
    assert_eq!(f["user_id"], user.as_str());
    assert_eq!(f["meta_data"], json!({ "order": 42 }));
    assert_eq!(f["resolution_endpoint"], "https://example.com/hook", "echoed, never called");
    assert_eq!(f["resolution_status"], "FINISHED", "{f}");
    assert_eq!(f["system_resolution"], "SUCCESS", "{f}");
    let media = f["media"].as_array().expect("media");
    assert_eq!(media.len(), 2);
    assert_eq!(media[0]["media_type"], "VIDEO_FOLDER");
    assert_eq!(media[0]["meta_data"], json!({ "k": "v" }));
    assert_eq!(media[1]["media_type"], "IMAGE_FOLDER");
    assert_eq!(media[1]["original_name"], "id.jpg");
    for m in media {
        assert!(is_uuid(&m["media_id"]), "{m}");
        assert!(m["original_url"].is_null(), "URLs are null: {m}");
        assert_eq!(m["company_id"], company.as_str());
    }
    assert!(media[0]["video_url"].is_null());

    let q = &f["analyses"][0];
    assert_eq!((q["type"].as_str(), q["state"].as_str()), (Some("QUALITY"), Some("FINISHED")), "{q}");
    assert!(is_uuid(&q["analysis_id"]) && q["analysis_id"] == q["analyse_id"], "{q}");
    assert!(is_uuid(&q["group_id"]));
    assert_eq!(q["meta_data"], json!({ "m": 1 }));
    assert_eq!(q["confs"]["extract_best_shot"], true, "the best shot is on by default, as in the full API");
    // The ID photo is not a QUALITY input (spec §7.4): only the selfie video is.
    let results = q["results_media"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{q}");
    assert_eq!(results[0]["source_media_id"], media[0]["media_id"]);
    assert!(results[0]["results_data"]["confidence_spoofing"].as_f64().is_some());
    let shot = &results[0]["output_images"][0];
    assert_eq!(shot["original_name"], "ResultImage.jpg");
    assert_eq!(shot["media_type"], "IMAGE_RESULT_ANALYSIS_SINGLE");
    assert!(shot["original_url"].is_null());
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(shot["image_b64"].as_str().expect("image_b64"))
        .expect("base64");
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF], "a JPEG inline");

    let b = &f["analyses"][1];
    assert_eq!((b["type"].as_str(), b["state"].as_str()), (Some("BIOMETRY"), Some("FINISHED")), "{b}");
    assert_eq!(b["resolution_status"], "SUCCESS", "same person: {b}");
    assert!(b["results_data"]["min_confidence"].as_f64().is_some_and(|v| v >= 0.8), "{b}");
    assert_eq!(b["results_media"].as_array().map(Vec::len), Some(2));
    assert_eq!(b["source_media"].as_array().map(Vec::len), Some(2));
    assert_ne!(b["group_id"], Value::Null);
    assert_eq!(b["group_id"], q["group_id"]);

    // A second person: BIOMETRY declines; source_media names parts.
    let form = Form::new()
        .part("me", file("faces/live/obama__portrait.jpg", "a.jpg", "image/jpeg"))
        .part("other", file("faces/live/biden__full.jpg", "b.jpg", "image/jpeg"))
        .part(
            "payload",
            Part::text(
                json!({ "analyses": [
                    { "type": "biometry", "source_media": ["me", "other"] },
                    { "type": "quality", "source_media": ["other"], "params": { "extract_best_shot": false } },
                ] })
                .to_string(),
            ),
        );
    let (st, f2) = instant(&s, Some(&token), form).await;
    assert_eq!(st, 201, "{f2}");
    assert_eq!(f2["analyses"][0]["resolution_status"], "DECLINED", "{f2}");
    assert_eq!(f2["system_resolution"], "DECLINED");
    let q2 = &f2["analyses"][1];
    assert_eq!(q2["results_media"].as_array().map(Vec::len), Some(1));
    assert_eq!(q2["results_media"][0]["source_media_id"], f2["media"][1]["media_id"]);
    assert_eq!(q2["results_media"][0]["output_images"], json!([]));

    // No analyses: the media are read and described, nothing runs.
    let (st, f3) =
        instant(&s, Some(&token), selfie_and_id(&json!({ "media:tags": { "video1": ["video_selfie"] } }))).await;
    assert_eq!(st, 201, "{f3}");
    assert_eq!((f3["analyses"].clone(), f3["resolution_status"].clone()), (json!([]), json!("INITIAL")));
    assert_eq!(f3["media"].as_array().map(Vec::len), Some(2));

    // A media without a face fails the analyses that take it, as the full API reports it.
    let form = Form::new()
        .part("cat", file("faces/extra/cat.png", "cat.png", "image/png"))
        .part("payload", Part::text(json!({ "analyses": [{ "type": "quality" }] }).to_string()));
    let (st, f4) = instant(&s, Some(&token), form).await;
    assert_eq!(st, 201, "{f4}");
    let a = &f4["analyses"][0];
    assert_eq!((a["state"].as_str(), a["resolution_status"].as_str()), (Some("FAILED"), Some("FAILED")), "{a}");
    assert_eq!(a["error_code"], 4);
    assert!(a["error_message"].as_str().is_some_and(|m| m.contains("no face")), "{a}");
    assert_eq!(f4["resolution_status"], "FAILED");

    // Nothing of the four requests is in the database or on disk, nor visible through the API.
    nothing_stored(&stored(&s).await);
    let (st, list) = get(&s, &token, "/api/folders/").await;
    assert_eq!((st, list["total"].as_i64()), (200, Some(0)), "{list}");
    let (st, e) = get(&s, &token, &format!("/api/folders/{}/", f["folder_id"].as_str().expect("id"))).await;
    assert_eq!(st, 404, "{e}");
    oz_error(&e, 10);
    // The Lite path it shares still answers as before.
    let form = Form::new().part("media_key1", file("videos/portrait_720x1280.mp4", "v.mp4", "video/mp4"));
    let (st, lite) = answer(client().post(url(&s, "/v1/face/liveness/detect")).multipart(form)).await;
    assert_eq!(st, 200, "{lite}");
    assert!(lite["analyses"][0]["analysis_id"].is_null() && lite["company_id"].is_null(), "{lite}");
    assert_eq!(lite["analyses"][0]["confs"]["extract_best_shot"], false);
    nothing_stored(&stored(&s).await);
}

both!(instant_refusals, instant_refusals_body);
async fn instant_refusals_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = common::admin_token(&s).await;
    let (company, _, token) = company_user(&s, &admin, "client@example.com", "CLIENT").await;
    let quality = json!([{ "type": "quality" }]);

    // Authentication (OZ_INSTANT_AUTH=token, the default) and roles.
    let (st, e) = instant(&s, None, small_form()).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 6);
    let (st, e) = instant(&s, Some(&"0".repeat(128)), small_form()).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 7);
    let (st, u) = post_json(
        &s,
        &admin,
        "/api/users/",
        json!({ "email": "op@example.com", "password": "password-123", "user_type": "CLIENT_OPERATOR", "company_id": company }),
    )
    .await;
    assert_eq!(st, 201, "{u}");
    let operator = login(&s, "op@example.com", "password-123").await;
    let (st, e) = instant(&s, Some(&operator), small_form()).await;
    assert_eq!(st, 403, "{e}");
    oz_error(&e, 9);

    // Analyses Instant does not run, and bad requests.
    let cases: Vec<(Value, u16, i64, &str)> = vec![
        (tagged(&json!([{ "type": "collection" }])), 400, 4, "Instant"),
        (tagged(&json!([{ "type": "blacklist" }])), 400, 4, "Instant"),
        (tagged(&json!([{ "type": "documents" }])), 501, 2, "DOCUMENTS"),
        (tagged(&json!([{ "type": "palmistry" }])), 400, 4, "palmistry"),
        (tagged(&json!([{ "params": {} }])), 400, 3, "type"),
        (tagged(&json!({ "type": "quality" })), 400, 5, "analyses: invalid type"),
        (tagged(&json!([{ "type": "quality", "params": { "threshold_spoofing": 2 } }])), 400, 4, "threshold"),
        (tagged(&json!([{ "type": "quality", "params": { "extract_best_shot": "yes" } }])), 400, 5, "boolean"),
        (tagged(&json!([{ "type": "biometry", "source_media": ["video1", "nope"] }])), 400, 4, "nope"),
        (tagged(&json!([{ "type": "biometry", "source_media": ["video1"] }])), 400, 4, "BIOMETRY"),
        (json!({ "media:tags": { "photo1": ["photo_id"] }, "analyses": quality }), 400, 4, "QUALITY"),
        (json!({ "folder:meta_data": [1], "analyses": quality }), 400, 5, "folder:meta_data"),
        (json!({ "resolution_endpoint": 17, "analyses": quality }), 400, 5, "resolution_endpoint"),
    ];
    for (payload, status, code, word) in cases {
        let (st, e) = instant(&s, Some(&token), selfie_and_id(&payload)).await;
        assert_eq!(st, status, "{payload}: {e}");
        oz_error(&e, code);
        assert!(e["error_message"].as_str().is_some_and(|m| m.contains(word)), "{payload}: {e}");
    }
    // No media; not multipart; an unreadable media names its part.
    let (st, e) =
        instant(&s, Some(&token), Form::new().part("payload", Part::text(tagged(&quality).to_string()))).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 3);
    let (st, e) = post_json(&s, &token, INSTANT, json!({ "analyses": quality })).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 3);
    let form = Form::new()
        .part(
            "junk",
            Part::bytes(b"not an image at all".to_vec()).file_name("x.jpg").mime_str("image/jpeg").expect("mime"),
        )
        .part("payload", Part::text(json!({ "analyses": quality }).to_string()));
    let (st, e) = instant(&s, Some(&token), form).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
    assert_eq!(e["details"]["key"], "junk");
    let truncated = fixture("faces/live/obama__portrait.jpg")[..2000].to_vec();
    let form = Form::new()
        .part("cut", Part::bytes(truncated).file_name("x.jpg").mime_str("image/jpeg").expect("mime"))
        .part("payload", Part::text(json!({ "analyses": quality }).to_string()));
    let (st, e) = instant(&s, Some(&token), form).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
    assert_eq!(e["details"]["key"], "cut");

    // OzCapsula containers: 13 when empty, 14 otherwise, on both upload routes.
    for path in [INSTANT, "/api/folders/", "/api/instant/folders", "/api/folders"] {
        for (body, code) in [(Vec::new(), 13), (vec![0x4f, 0x5a, 0x43, 0x01, 0x02, 0x03], 14)] {
            let r = client()
                .post(url(&s, path))
                .header("X-Forensic-Access-Token", &token)
                .header("Content-Type", "application/octet-stream")
                .body(body);
            let (st, e) = answer(r).await;
            assert_eq!(st, 400, "{path}: {e}");
            oz_error(&e, code);
        }
    }
    let r = client().post(url(&s, "/api/folders/")).header("Content-Type", "application/octet-stream").body(vec![1]);
    let (st, e) = answer(r).await;
    assert_eq!(st, 401, "the token is checked first: {e}");
    oz_error(&e, 6);
    let r = client()
        .post(url(&s, "/api/folders/"))
        .header("X-Forensic-Access-Token", &operator)
        .header("Content-Type", "application/octet-stream")
        .body(vec![1]);
    let (st, e) = answer(r).await;
    assert_eq!(st, 403, "{e}");
    oz_error(&e, 9);
    // Plain uploads to /api/folders/ still work through the same route.
    let (st, f) = answer(
        client()
            .post(url(&s, "/api/folders/"))
            .header("X-Forensic-Access-Token", &token)
            .multipart(selfie_and_id(&json!({}))),
    )
    .await;
    assert_eq!(st, 201, "{f}");
    assert!(f["media"][0]["original_url"].as_str().is_some(), "{f}");
    let (rows, _) = stored(&s).await;
    assert!(rows.iter().any(|(t, n)| t == "folders" && *n == 1), "{rows:?}");
}

both!(session_tokens, session_tokens_body);
async fn session_tokens_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = common::admin_token(&s).await;
    let (company, user, token) = company_user(&s, &admin, "client@example.com", "CLIENT").await;

    let r = client().get(url(&s, "/api/authorize/session_token"));
    let (st, e) = answer(r).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 6);
    let (st, v) = get(&s, &token, "/api/authorize/session_token").await;
    assert_eq!(st, 200, "{v}");
    let session = v["session_token"].as_str().expect("session_token").to_string();
    assert_eq!(session.split('.').count(), 3, "a JWT: {session}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    let exp = v["expire_date"].as_f64().expect("expire_date");
    assert!((exp - now - 600.0).abs() < 5.0, "OZ_SESSION_TOKEN_TTL default 600 s: {v}");
    // The claims name the user and the company.
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(session.split('.').nth(1).expect("claims"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!((claims["sub"].as_str(), claims["company_id"].as_str()), (Some(user.as_str()), Some(company.as_str())));
    // Also with the trailing slash; an ADMIN gets one too.
    let (st, _) = get(&s, &admin, "/api/authorize/session_token/").await;
    assert_eq!(st, 200);

    // OPERATOR roles do not.
    let (st, u) = post_json(
        &s,
        &admin,
        "/api/users/",
        json!({ "email": "op@example.com", "password": "password-123", "user_type": "OPERATOR" }),
    )
    .await;
    assert_eq!(st, 201, "{u}");
    let operator = login(&s, "op@example.com", "password-123").await;
    let (st, e) = get(&s, &operator, "/api/authorize/session_token").await;
    assert_eq!(st, 403, "{e}");
    oz_error(&e, 9);

    // The session token opens the Instant API as its user, and nothing else.
    let quality = json!([{ "type": "quality", "params": { "extract_best_shot": false } }]);
    let (st, f) = instant(&s, Some(&session), selfie_and_id(&tagged(&quality))).await;
    assert_eq!(st, 201, "{f}");
    assert_eq!((f["company_id"].as_str(), f["user_id"].as_str()), (Some(company.as_str()), Some(user.as_str())));
    let (st, e) = get(&s, &session, "/api/folders/").await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 7);
    let (st, e) = get(&s, &session, "/api/authorize/session_token").await;
    assert_eq!(st, 401, "a session token does not make another: {e}");

    // Forged: another signature, changed claims.
    let mut forged = session.clone();
    let last = forged.pop().expect("char");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (st, e) = instant(&s, Some(&forged), small_form()).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 7);
    let parts: Vec<&str> = session.split('.').collect();
    let mut c2 = claims.clone();
    c2["exp"] = json!(claims["exp"].as_i64().expect("exp") + 86_400);
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c2.to_string());
    let (st, e) = instant(&s, Some(&format!("{}.{body}.{}", parts[0], parts[2])), small_form()).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 7);

    // The user is gone: the token goes with it.
    let (st, _) =
        answer(client().delete(url(&s, &format!("/api/users/{user}/"))).header("X-Forensic-Access-Token", &admin))
            .await;
    assert_eq!(st, 204);
    let (st, e) = instant(&s, Some(&session), small_form()).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 7);

    // Only the signing key was stored (server_secrets), no folder data.
    nothing_stored(&stored(&s).await);
}

/// Expiry does not depend on the database: SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_session_tokens_answer_8() {
    let opts = Options { session_token_ttl: Duration::from_secs(1), ..Options::default() };
    let Some(s) = start(Kind::Sqlite, opts).await else { return };
    let admin = common::admin_token(&s).await;
    let (st, v) = get(&s, &admin, "/api/authorize/session_token").await;
    assert_eq!(st, 200, "{v}");
    let session = v["session_token"].as_str().expect("token").to_string();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (st, e) = instant(&s, Some(&session), small_form()).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 8);
}

/// `OZ_INSTANT_AUTH=none`: no token needed, no caller in the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_without_auth() {
    let opts = Options { instant_auth: oz_http::InstantAuth::None, ..Options::default() };
    let Some(s) = start(Kind::Sqlite, opts).await else { return };
    let analyses = json!([{ "type": "quality", "params": { "extract_best_shot": false } }, { "type": "biometry" }]);
    let (st, f) = instant(&s, None, selfie_and_id(&tagged(&analyses))).await;
    assert_eq!(st, 201, "{f}");
    assert!(f["company_id"].is_null() && f["user_id"].is_null(), "{f}");
    assert_eq!(f["system_resolution"], "SUCCESS", "{f}");
    // The rest of the API still wants its token.
    let (st, e) = answer(client().get(url(&s, "/api/folders/"))).await;
    assert_eq!(st, 401, "{e}");
    nothing_stored(&stored(&s).await);
}

/// Instant requests go through the admission gate like every inference route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_waits_for_admission() {
    let admission = oz_http::AdmissionConfig { max_inflight: 1, queue: 0, max_wait: Duration::from_millis(50) };
    let Some(s) = start(Kind::Sqlite, Options { admission, ..Options::default() }).await else { return };
    let admin = common::admin_token(&s).await;
    let analyses = json!([{ "type": "quality", "params": { "extract_best_shot": false } }]);
    let held = s.admission.enter().await.expect("the only permit");
    let r = client()
        .post(url(&s, INSTANT))
        .header("X-Forensic-Access-Token", &admin)
        .multipart(selfie_and_id(&tagged(&analyses)))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let e: Value = r.json().await.expect("json");
    oz_error(&e, 11);
    drop(held);
    let (st, f) = instant(&s, Some(&admin), selfie_and_id(&tagged(&analyses))).await;
    assert_eq!(st, 201, "{f}");
    assert_eq!(s.admission.in_flight(), 0);
    nothing_stored(&stored(&s).await);
}
