//! Over real HTTP: every error answer has the Oz body (404, 405, 413, rejections, panics) on
//! `/api` and on API Lite; inference is admitted or refused with 503 + `Retry-After` while cheap
//! routes stay fast; `OZ_LITE=off` and `OZ_LITE_AUTH`.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use common::{Kind, Options, TestServer, admin_token, fixture, login, start};
use oz_http::{Admission, AdmissionConfig, AppState, LiteAuth, LiteConfig};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Sends and returns status, headers and the JSON body (panics when the body is not JSON).
async fn send(rb: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = rb.send().await.expect("send");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = r.text().await.expect("body");
    assert!(ct.starts_with("application/json"), "status {status}: content-type {ct:?}, body {text:?}");
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("status {status}: {e}: {text:?}"));
    (status, headers, v)
}

/// Asserts an Oz full-API error body.
fn oz(v: &Value, code: i64) {
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(v.as_object().is_some_and(|o| o.contains_key("details")), "{v}");
}

/// Asserts a Lite error body.
fn lite(v: &Value, code: &str) {
    assert_eq!(v["code"], code, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

fn jpeg_request(base: &str, path: &str) -> reqwest::RequestBuilder {
    client()
        .post(format!("{base}{path}"))
        .header("Content-Type", "image/jpeg")
        .body(fixture("faces/live/obama__portrait.jpg"))
}

/// A Lite-only server (no database), as `oz_http::serve` runs it.
async fn lite_server(lite: LiteConfig, admission: Arc<Admission>) -> String {
    let state = AppState::new(common::pipeline(), lite).with_admission(admission);
    serve(oz_http::app(state)).await
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_wrong_methods_and_oversize_bodies_have_oz_bodies() {
    let lite_cfg = LiteConfig { max_request_bytes: 64 * 1024, ..LiteConfig::default() };
    let Some(s) = start(Kind::Sqlite, Options { lite: lite_cfg, ..Options::default() }).await else { return };
    let b = &s.base;
    let token = admin_token(&s).await;

    // Unknown routes: 404, error 10 under /api, Lite 404 elsewhere.
    for path in ["/api/nothing", "/api/nothing/", "/api/folders/x/y/z", "/static/", "/api"] {
        let (st, _, v) = send(client().get(format!("{b}{path}"))).await;
        assert_eq!(st, 404, "{path}");
        oz(&v, 10);
    }
    let (st, _, v) = send(client().get(format!("{b}/nothing"))).await;
    assert_eq!(st, 404);
    lite(&v, "BPE-002002");
    let (st, _, v) = send(client().post(format!("{b}/v1/face/liveness/nothing"))).await;
    assert_eq!(st, 404);
    lite(&v, "LDE-002002");

    // Wrong methods: 405, error 1, with Allow.
    for (m, path) in
        [(Method::DELETE, "/api/version"), (Method::PUT, "/api/folders/"), (Method::POST, "/api/analyses/x")]
    {
        let (st, h, v) =
            send(client().request(m.clone(), format!("{b}{path}")).header("X-Forensic-Access-Token", &token)).await;
        assert_eq!(st, 405, "{m} {path}");
        oz(&v, 1);
        assert!(h.contains_key("allow"), "{m} {path}: {h:?}");
    }
    // Lite keeps Oz's documented 400 with *-002002 for a wrong method.
    let (st, _, v) = send(client().get(format!("{b}/v1/face/liveness/detect"))).await;
    assert_eq!(st, 400);
    lite(&v, "LDE-002002");

    // Oversize bodies: 413 with the Oz body (error 4) and the Lite body.
    let big = vec![b'{'; 100 * 1024];
    let (st, _, v) = send(client().post(format!("{b}/api/authorize/auth")).body(big.clone())).await;
    assert_eq!(st, 413);
    oz(&v, 4);
    let (st, _, v) =
        send(client().post(format!("{b}/v1/face/pattern/extract")).header("Content-Type", "image/jpeg").body(big))
            .await;
    assert_eq!(st, 413);
    lite(&v, "BPE-002003");

    // A path the extractor cannot decode: 400 with the Oz body.
    let (st, _, v) =
        send(client().get(format!("{b}/api/folders/%FF%FE/")).header("X-Forensic-Access-Token", &token)).await;
    assert!(st == 400 || st == 404, "{st} {v}");
    oz(&v, if st == 400 { 3 } else { 10 });

    // Handlers' own answers are untouched.
    let (st, _, v) = send(client().get(format!("{b}/api/version"))).await;
    assert_eq!(st, 200);
    assert_eq!(v["name"], "openoz");
    let (st, _, v) = send(client().get(format!("{b}/api/folders/"))).await;
    assert_eq!(st, 401);
    oz(&v, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_and_extractor_rejections_through_the_outer_layers() {
    async fn boom() -> &'static str {
        panic!("secret internals in a panic message")
    }
    async fn echo(axum::Json(v): axum::Json<Value>) -> axum::Json<Value> {
        axum::Json(v)
    }
    async fn form(axum::Form(v): axum::Form<std::collections::HashMap<String, u32>>) -> String {
        format!("{}", v.len())
    }
    let routes = Router::new()
        .route("/api/boom", get(boom))
        .route("/v1/face/liveness/boom", get(boom))
        .route("/v1/face/pattern/boom", get(boom))
        .route("/api/json", post(echo))
        .route("/v1/face/pattern/json", post(echo))
        .route("/api/form", post(form));
    let b =
        serve(oz_http::outer::harden(routes, 1024, oz_http::intake::Pacing::from(&oz_http::IntakeConfig::default())))
            .await;

    for (path, code) in [
        ("/api/boom", None),
        ("/v1/face/liveness/boom", Some("LDE-001001")),
        ("/v1/face/pattern/boom", Some("BPE-001001")),
    ] {
        let (st, _, v) = send(client().get(format!("{b}{path}"))).await;
        assert_eq!(st, 500, "{path}");
        match code {
            None => oz(&v, 0),
            Some(c) => lite(&v, c),
        }
        assert!(!v.to_string().contains("secret internals"), "{v}");
    }
    // JSON rejections: syntax (400), missing Content-Type (415), too large (413).
    let (st, _, v) =
        send(client().post(format!("{b}/api/json")).header("Content-Type", "application/json").body("{not json")).await;
    assert_eq!(st, 400);
    oz(&v, 3);
    let (st, _, v) = send(client().post(format!("{b}/api/json")).body("{}")).await;
    assert_eq!(st, 415);
    oz(&v, 3);
    let (st, _, v) = send(
        client()
            .post(format!("{b}/api/json"))
            .header("Content-Type", "application/json")
            .body(format!("\"{}\"", "a".repeat(4096))),
    )
    .await;
    assert_eq!(st, 413);
    oz(&v, 4);
    let (st, _, v) =
        send(client().post(format!("{b}/v1/face/pattern/json")).header("Content-Type", "application/json").body("["))
            .await;
    assert_eq!(st, 400);
    lite(&v, "BPE-002005");
    // Form rejection (a value of the wrong type): the Oz body.
    let (st, _, v) = send(
        client().post(format!("{b}/api/form")).header("Content-Type", "application/x-www-form-urlencoded").body("a=x"),
    )
    .await;
    assert!(st == 400 || st == 422, "{st}");
    oz(&v, if st == 400 { 3 } else { 4 });
    // A good request passes unchanged.
    let (st, _, v) =
        send(client().post(format!("{b}/api/json")).header("Content-Type", "application/json").body("{\"a\":1}")).await;
    assert_eq!((st, v), (200, json!({ "a": 1 })));
}

/// Asserts a 503 with `Retry-After`.
fn busy(st: u16, h: &reqwest::header::HeaderMap) {
    assert_eq!(st, 503);
    let after: u64 =
        h.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!(after >= 1, "{after}");
}

fn no_queue() -> AdmissionConfig {
    AdmissionConfig { max_inflight: 1, queue: 0, max_wait: Duration::from_secs(0) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_inference_gets_503_while_every_slot_is_taken_and_cheap_routes_stay_fast() {
    let gate = Admission::new(no_queue());
    let b = lite_server(LiteConfig::default(), gate.clone()).await;

    // The only inference slot is held (as a long analysis would hold it).
    let held = gate.enter().await.expect("the only permit");
    let started = Instant::now();
    let (st, h, v) = send(jpeg_request(&b, "/v1/face/liveness/detect")).await;
    busy(st, &h);
    lite(&v, "LDE-001001");
    let (st, h, v) = send(jpeg_request(&b, "/v1/face/pattern/extract")).await;
    busy(st, &h);
    lite(&v, "BPE-001001");
    let form = Form::new()
        .part("sample_1", Part::bytes(fixture("faces/live/obama__portrait.jpg")).mime_str("image/jpeg").expect("mime"))
        .part("sample_2", Part::bytes(fixture("faces/live/obama__podium.jpg")).mime_str("image/jpeg").expect("mime"));
    let (st, h, v) = send(client().post(format!("{b}/v1/face/pattern/extract_and_compare")).multipart(form)).await;
    busy(st, &h);
    lite(&v, "BPE-001001");
    assert!(started.elapsed() < Duration::from_secs(2), "refused at once: {:?}", started.elapsed());
    // Cheap routes answer meanwhile.
    for path in ["/version", "/v1/face/pattern/health", "/v1/face/liveness/health"] {
        let t = Instant::now();
        let r = client().get(format!("{b}{path}")).send().await.expect("send");
        assert_eq!(r.status(), 200, "{path}");
        assert!(t.elapsed() < Duration::from_secs(2), "{path}: {:?}", t.elapsed());
    }
    drop(held);
    let (st, _, v) = send(jpeg_request(&b, "/v1/face/liveness/detect")).await;
    assert_eq!(st, 200, "{v}");
    assert!(v["passed"].is_boolean());
    assert_eq!(gate.in_flight(), 0, "the permit is released after the work");
}

both!(uploads_admission, uploads_admission_body);
async fn uploads_admission_body(kind: Kind) {
    let Some(s) = start(kind, Options { admission: no_queue(), ..Options::default() }).await else { return };
    let token = admin_token(&s).await;
    let b = s.base.clone();
    let upload = || {
        let form = Form::new()
            .part(
                "photo1",
                Part::bytes(fixture("faces/live/obama__podium.jpg"))
                    .file_name("p.jpg")
                    .mime_str("image/jpeg")
                    .expect("mime"),
            )
            .part("payload", Part::text(json!({ "media:tags": { "photo1": ["photo_selfie"] } }).to_string()));
        client().post(format!("{b}/api/folders/")).header("X-Forensic-Access-Token", &token).multipart(form)
    };
    let held = s.admission.enter().await.expect("the only permit");
    let (st, h, v) = send(upload()).await;
    busy(st, &h);
    // Error 11, "too many requests, retry later", like the login throttle's.
    oz(&v, 11);
    // Single request mode is refused the same way, before anything is written.
    let form = Form::new()
        .part(
            "photo1",
            Part::bytes(fixture("faces/live/obama__podium.jpg"))
                .file_name("p.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        )
        .part("payload", Part::text(json!({ "analyses": [{ "type": "quality" }] }).to_string()));
    let (st, h, v) =
        send(client().post(format!("{b}/api/folders/")).header("X-Forensic-Access-Token", &token).multipart(form))
            .await;
    busy(st, &h);
    // Error 11, "too many requests, retry later", like the login throttle's.
    oz(&v, 11);
    // Cheap routes stay fast: version, folder reads, login.
    let t = Instant::now();
    let (st, _, _) = send(client().get(format!("{b}/api/version"))).await;
    assert_eq!(st, 200);
    let (st, _, v) = send(client().get(format!("{b}/api/folders/")).header("X-Forensic-Access-Token", &token)).await;
    assert_eq!(st, 200);
    assert_eq!(v["total"], 0, "a refused upload leaves no folder: {v}");
    login(&s, "admin@example.com", "admin-password").await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(media_files(&s), 0, "a refused upload leaves no file");
    drop(held);
    let (st, _, v) = send(upload()).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(s.admission.in_flight(), 0);
}

fn media_files(s: &TestServer) -> usize {
    walk(&s.data.join("media"))
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map_or(0, |rd| rd.filter_map(Result::ok).map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_off_answers_404_with_the_lite_body() {
    let lite_cfg = LiteConfig { enabled: false, ..LiteConfig::default() };
    let Some(s) = start(Kind::Sqlite, Options { lite: lite_cfg, ..Options::default() }).await else { return };
    let b = &s.base;
    let (st, _, v) = send(client().get(format!("{b}/version"))).await;
    assert_eq!(st, 404);
    lite(&v, "BPE-002002");
    let (st, _, v) = send(jpeg_request(b, "/v1/face/liveness/detect")).await;
    assert_eq!(st, 404);
    lite(&v, "LDE-002002");
    let (st, _, _) = send(client().get(format!("{b}/v1/face/pattern/health"))).await;
    assert_eq!(st, 404);
    let (st, _, _) = send(client().get(format!("{b}/api/version"))).await;
    assert_eq!(st, 200, "the full API still answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_auth_token_and_service() {
    for mode in [LiteAuth::Token, LiteAuth::Service] {
        let lite_cfg = LiteConfig { auth: mode, ..LiteConfig::default() };
        let Some(s) = start(Kind::Sqlite, Options { lite: lite_cfg, ..Options::default() }).await else { return };
        let b = &s.base;
        let admin = admin_token(&s).await;
        let hash = oz_http::api::auth::hash_password("service-password".into()).await.expect("hash");
        s.db.create_user(&oz_storage::accounts::NewUser {
            email: "svc@example.com".into(),
            password_hash: hash,
            role: oz_domain::access::Role::Client,
            company_id: None,
            is_admin: false,
            is_service: true,
            can_start_quality: true,
            can_start_biometry: true,
            can_start_collection: true,
            first_name: None,
            last_name: None,
            middle_name: None,
            meta_data: json!({}),
        })
        .await
        .expect("service user");
        let service = login(&s, "svc@example.com", "service-password").await;

        // No token, a wrong token: 401 with the Lite body.
        let (st, _, v) = send(jpeg_request(b, "/v1/face/liveness/detect")).await;
        assert_eq!(st, 401, "{mode:?}");
        lite(&v, "LDE-002006");
        let (st, _, v) =
            send(jpeg_request(b, "/v1/face/pattern/extract").header("X-Forensic-Access-Token", "f00")).await;
        assert_eq!(st, 401, "{mode:?}");
        lite(&v, "BPE-002006");
        // /version and the health routes stay open.
        for path in ["/version", "/v1/face/pattern/health", "/v1/face/liveness/health"] {
            assert_eq!(client().get(format!("{b}{path}")).send().await.expect("send").status(), 200, "{path}");
        }
        // A service user's token always works; any user's only with `token`.
        let (st, _, v) =
            send(jpeg_request(b, "/v1/face/liveness/detect").header("X-Forensic-Access-Token", &service)).await;
        assert_eq!(st, 200, "{mode:?} {v}");
        let (st, _, v) =
            send(jpeg_request(b, "/v1/face/liveness/detect").header("X-Forensic-Access-Token", &admin)).await;
        match mode {
            LiteAuth::Token => assert_eq!(st, 200, "{v}"),
            _ => {
                assert_eq!(st, 401);
                lite(&v, "LDE-002006");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_auth_none_is_open() {
    let b = lite_server(LiteConfig::default(), Admission::new(AdmissionConfig::default())).await;
    let (st, _, v) = send(jpeg_request(&b, "/v1/face/liveness/detect")).await;
    assert_eq!(st, 200, "{v}");
}

// An upload refused before its body is read (no token: 401; a Lite call without a body part
// would be the same) still gets its Oz answer: the server reads the rest of the body before
// answering, so a client that writes the whole upload first (Node.js, newman) is not cut off
// mid-write with EPIPE. The client here sends the first 64 KiB, pauses (the old server had
// answered and closed by then), then the rest, and only then reads.
both!(refused_upload_is_drained, refused_upload_is_drained_body);
async fn refused_upload_is_drained_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let addr = s.base.trim_start_matches("http://").to_string();
    let head = format!(
        "POST /api/folders/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=b\r\n\
         Content-Length: {}\r\n\r\n",
        3 << 20
    );
    let text = paused_upload(addr, head, vec![b'x'; 3 << 20]).await;
    let status = text.split(' ').nth(1).unwrap_or("").to_string();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    assert_eq!(status, "401", "{body}");
    assert!(body.starts_with(r#"{"error_code": "#), "{body}");
}

/// The same for a Lite upload refused with 503 because every inference slot is taken: the client,
/// still writing its image after a pause, gets the 503 and its Retry-After, not a broken pipe
/// (the refusal comes before the body is read; the rest is drained and discarded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_upload_is_drained() {
    let gate = Admission::new(no_queue());
    let b = lite_server(LiteConfig::default(), gate.clone()).await;
    let held = gate.enter().await.expect("the only permit");
    let addr = b.trim_start_matches("http://").to_string();
    let head = format!(
        "POST /v1/face/liveness/detect HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        2 << 20
    );
    let answer = paused_upload(addr, head, vec![0xffu8; 2 << 20]).await;
    drop(held);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after:"), "{answer}");
    assert!(answer.contains("LDE-001001"), "{answer}");
}

/// Sends `head`, the first 64 KiB of `body`, pauses half a second (a server that answered
/// without draining has closed the connection by then), sends the rest (failing on a broken
/// pipe), then reads the whole answer.
async fn paused_upload(addr: String, head: String, body: Vec<u8>) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(&addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        c.write_all(head.as_bytes()).expect("head");
        c.write_all(&body[..64 << 10]).expect("first part");
        std::thread::sleep(Duration::from_millis(500));
        for chunk in body[64 << 10..].chunks(256 << 10) {
            c.write_all(chunk).expect("the server still reads the upload it refused");
        }
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                        break;
                    }
                }
                Err(e) => panic!("reading the answer: {e}"),
            }
        }
        String::from_utf8_lossy(&answer).to_string()
    })
    .await
    .expect("client thread")
}
