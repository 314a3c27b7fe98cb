//! Wire compatibility with real Oz clients, checked on the bytes they read: Python-style JSON
//! separators (scripts grep `"access_token": "` and `{"error_code":`), odd request shapes from
//! the mobile SDKs and public proxies (`/api/folders/?`, JSON login labelled form-urlencoded,
//! millisecond time filters, polling with `?with_analyses=true`), and `/api/version`.

#[macro_use]
mod common;

use common::{Kind, Options, fixture, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

both!(oz_bytes, oz_bytes_body);
async fn oz_bytes_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let b = &s.base;
    let http = reqwest::Client::new();
    common::admin_token(&s).await;

    // An on-premise init script: POST the JSON login, find the token with a regex on the text.
    let r = http
        .post(format!("{b}/api/authorize/auth/"))
        // Some SDK versions label the JSON body as a form.
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(r#"{"credentials": {"email": "admin@example.com", "password": "admin-password"}}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let text = r.text().await.expect("text");
    let at = text.find(r#""access_token": ""#).unwrap_or_else(|| panic!("no `\"access_token\": \"` in {text}"));
    let token: String = text[at + 17..].chars().take_while(|c| *c != '"').collect();
    assert_eq!(token.len(), 128, "{text}");
    assert!(token.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "lower-case hex: {token}");
    assert!(text.contains(r#"", "expire_token": ""#) || text.contains(r#""expire_token": ""#), "{text}");
    assert!(!text.contains("\":\"") && !text.contains("\",\""), "no compact separators: {text}");

    // Errors are spotted by their first bytes.
    let r = http.post(format!("{b}/api/authorize/auth")).body(r#"{"credentials": {}}"#).send().await.expect("send");
    assert_eq!(r.status(), 400);
    let text = r.text().await.expect("text");
    assert!(text.starts_with(r#"{"error_code": "#), "{text}");
    let r = http.get(format!("{b}/api/no-such-route")).send().await.expect("send");
    assert_eq!(r.status(), 404);
    assert!(r.text().await.expect("text").starts_with(r#"{"error_code": "#));
    let r = http.get(format!("{b}/v1/face/nothing")).send().await.expect("send");
    let text = r.text().await.expect("text");
    assert!(text.starts_with(r#"{"code": ""#) && text.contains(r#", "message": "#), "{text}");

    // Versions: an Oz client sees 6.x; ours is beside it.
    let r = http.get(format!("{b}/api/version")).send().await.expect("send");
    let text = r.text().await.expect("text");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert!(v["version"].as_str().is_some_and(|x| x.starts_with("6.")), "{text}");
    assert_eq!(v["openoz_version"], env!("CARGO_PKG_VERSION"));
    assert!(text.contains(r#""version": "6."#), "{text}");
    let text = http.get(format!("{b}/version")).send().await.expect("send").text().await.expect("text");
    assert!(text.contains(r#""core": ""#), "Lite answers too: {text}");

    // A mobile SDK's upload: `/api/folders/?` with an empty query string.
    let form = Form::new()
        .part(
            "photo1",
            Part::bytes(fixture("faces/live/obama__podium.jpg"))
                .file_name("id.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        )
        .part("payload", Part::text(json!({ "media:tags": { "photo1": ["photo_selfie"] } }).to_string()));
    let r =
        http.post(format!("{b}/api/folders/?")).header("X-Forensic-Access-Token", &token).multipart(form).send().await;
    let r = r.expect("send");
    assert_eq!(r.status(), 201);
    let f: Value = r.json().await.expect("json");
    let fid = f["folder_id"].as_str().expect("id").to_string();
    let r = http
        .post(format!("{b}/api/folders/{fid}/analyses"))
        .header("X-Forensic-Access-Token", &token)
        .json(&json!({ "analyses": [{ "type": "quality" }] }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    // The SDK polls the folder every second with analyses.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let r = http
            .get(format!("{b}/api/folders/{fid}?with_analyses=true"))
            .header("X-Forensic-Access-Token", &token)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["analyses"].as_array().map(Vec::len), Some(1), "{v}");
        if v["analyses"][0]["resolution_status"] != "PROCESSING" {
            assert_eq!(v["analyses"][0]["state"], "FINISHED", "{v}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // A public proxy filters with milliseconds (Date.now() - 3600000).
    let now_ms = (oz_storage::now() * 1000.0) as i64;
    for (min, found) in [(now_ms - 3_600_000, 1), (now_ms + 3_600_000, 0)] {
        let r = http
            .get(format!("{b}/api/folders/?time_created.min={min}"))
            .header("X-Forensic-Access-Token", &token)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["items"].as_array().map(Vec::len), Some(found), "time_created.min={min}: {v}");
    }
}
