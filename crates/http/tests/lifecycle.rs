//! Files and data lifecycle over real HTTP, on SQLite and on PostgreSQL: signed direct links to
//! stored files, company deletion (refused, then cascading to every file and row of the tenant),
//! and the file sweeper.

#[macro_use]
mod common;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::{C, Kind, Options, TestServer, fixture, login, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

fn oz_error(v: &Value, code: i64) {
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

fn photo_form() -> Form {
    Form::new()
        .part(
            "photo1",
            Part::bytes(fixture("faces/live/obama__podium.jpg"))
                .file_name("id.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        )
        .part("payload", Part::text(json!({ "media:tags": { "photo1": ["photo_selfie"] } }).to_string()))
}

/// A company with a CLIENT_ADMIN; answers (company id, token).
async fn tenant(admin: &C<'_>, email: &str) -> (String, String) {
    let (st, c) = admin.post("/api/companies/", json!({ "name": format!("co-{email}") })).await;
    assert_eq!(st, 201, "{c}");
    let company = c["company_id"].as_str().expect("id").to_string();
    let (st, u) = admin
        .post(
            "/api/users/",
            json!({ "email": email, "password": "password-123", "user_type": "CLIENT_ADMIN", "company_id": company }),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    (company, login(admin.s, email, "password-123").await)
}

/// GET without any token header; answers status, headers and body.
async fn open(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = reqwest::Client::new().get(url).send().await.expect("send");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.expect("bytes").to_vec())
}

fn media_dir(s: &TestServer) -> PathBuf {
    s.data.join("media")
}

/// The stored file name in an `original_url`.
fn file_name(url: &str) -> String {
    let path = url.split('?').next().expect("path");
    path.rsplit('/').next().expect("name").to_string()
}

fn query_of(url: &str) -> String {
    url.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default()
}

both!(signed_links, signed_links_body);
async fn signed_links_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, a_token) = tenant(&admin, "a@example.com").await;
    let (_, b_token) = tenant(&admin, "b@example.com").await;
    let a = C { s: &s, token: a_token };
    let b = C { s: &s, token: b_token };
    let (st, f) = a.upload("/api/folders/", photo_form()).await;
    assert_eq!(st, 201, "{f}");
    let url = f["media"][0]["original_url"].as_str().expect("original_url").to_string();
    let name = file_name(&url);
    let q = query_of(&url);
    assert!(q.contains("expires=") && q.contains("signature="), "original_url is a signed link: {url}");
    let plain = format!("{}/static/{name}", s.base);
    let photo = fixture("faces/live/obama__podium.jpg");

    // The link opens without the token header, streamed with its type and length.
    let (st, h, body) = open(&url).await;
    assert_eq!(st, 200);
    assert_eq!(body, photo);
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["content-length"].to_str().expect("len"), photo.len().to_string());
    assert_eq!(h["x-content-type-options"], "nosniff");
    // The owner's token opens the plain path too (the existing access).
    let r = a.req(reqwest::Method::GET, &format!("/static/{name}")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), photo);

    // Neither token nor signature: 401, error 6.
    let (st, _, body) = open(&plain).await;
    assert_eq!(st, 401);
    oz_error(&serde_json::from_slice(&body).expect("json"), 6);
    // Tampered signature, moved expiry, half a link, another file's signature: 401, error 7.
    let expires: i64 =
        q.split('&').find_map(|kv| kv.strip_prefix("expires=")).and_then(|v| v.parse().ok()).expect("expires");
    let sig = common::links().signature(&name, expires);
    assert!(url.ends_with(&sig), "the test signer matches the server's");
    let flipped = format!("{}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]);
    let other_name = format!("{}.jpg", uuid::Uuid::new_v4().simple());
    for bad in [
        format!("{plain}?expires={expires}&signature={flipped}"),
        format!("{plain}?expires={}&signature={sig}", expires + 3600),
        format!("{plain}?expires={expires}"),
        format!("{plain}?signature={sig}"),
        format!("{plain}?expires=soon&signature={sig}"),
        format!("{}/static/{other_name}?expires={expires}&signature={sig}", s.base),
    ] {
        let (st, _, body) = open(&bad).await;
        assert_eq!(st, 401, "{bad}");
        oz_error(&serde_json::from_slice(&body).expect("json"), 7);
    }
    // Expired (validly signed, in the past): 401, error 8.
    let past = oz_storage::now() as i64 - 10;
    let expired = format!("{plain}?expires={past}&signature={}", common::links().signature(&name, past));
    let (st, _, body) = open(&expired).await;
    assert_eq!(st, 401);
    oz_error(&serde_json::from_slice(&body).expect("json"), 8);

    // With a token, the token decides: another tenant's is refused (404), even with the signed link,
    // and an unknown token is 401.
    for path in [format!("/static/{name}"), format!("/static/{name}?{q}")] {
        let (st, e) = b.get(&path).await;
        assert_eq!(st, 404, "another tenant's token on {path}");
        oz_error(&e, 10);
    }
    let nobody = C { s: &s, token: "f".repeat(128) };
    assert_eq!(nobody.get(&format!("/static/{name}?{q}")).await.0, 401);

    // Media JSON everywhere carries signed links, and they work: the best shot of an analysis.
    let fid = f["folder_id"].as_str().expect("folder");
    let (st, an) =
        a.post(&format!("/api/folders/{fid}/analyses"), json!({ "analyses": [{ "type": "quality" }] })).await;
    assert_eq!(st, 201, "{an}");
    let aid = an[0]["analysis_id"].as_str().expect("id").to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let done = loop {
        let (_, v) = a.get(&format!("/api/analyses/{aid}")).await;
        if v["resolution_status"] != "PROCESSING" {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "analysis did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let shot = done["results_media"][0]["output_images"][0]["original_url"].as_str().expect("best shot url");
    let (st, h, body) = open(shot).await;
    assert_eq!(st, 200, "{shot}");
    assert_eq!(h["content-type"], "image/jpeg");
    assert!(image::load_from_memory(&body).is_ok());

    // A deleted media's link answers 404, and its file is gone from disk.
    let (st, _) = a.json(reqwest::Method::DELETE, &format!("/api/folders/{fid}"), None).await;
    assert_eq!(st, 204);
    let (st, _, body) = open(&url).await;
    assert_eq!(st, 404);
    oz_error(&serde_json::from_slice(&body).expect("json"), 10);
    assert!(!media_dir(&s).join(&name).exists(), "deleting the folder removed the file");
    assert!(!media_dir(&s).join(file_name(shot)).exists(), "and its best shot");
}

both!(company_deletion, company_deletion_body);
async fn company_deletion_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (company, token) = tenant(&admin, "gone@example.com").await;
    let (_, other_token) = tenant(&admin, "stays@example.com").await;
    let t = C { s: &s, token };
    let other = C { s: &s, token: other_token };
    let hook_url = "http://127.0.0.1:9/never";
    let (st, f) = t.upload("/api/folders/", photo_form()).await;
    assert_eq!(st, 201, "{f}");
    let fid = f["folder_id"].as_str().expect("folder").to_string();
    let (st, an) = t
        .post(
            &format!("/api/folders/{fid}/analyses"),
            json!({ "analyses": [{ "type": "quality" }], "resolution_endpoint": hook_url }),
        )
        .await;
    assert_eq!(st, 201, "{an}");
    let aid = an[0]["analysis_id"].as_str().expect("id").to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while t.get(&format!("/api/analyses/{aid}")).await.1["resolution_status"] == "PROCESSING" {
        assert!(std::time::Instant::now() < deadline, "analysis did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, full) = t.get(&format!("/api/folders/{fid}/?with_analyses=true")).await;
    let mut urls: Vec<String> = full["media"]
        .as_array()
        .expect("media")
        .iter()
        .filter_map(|m| m["original_url"].as_str().map(String::from))
        .collect();
    assert_eq!(urls.len(), 2, "the photo and its best shot: {full}");
    let (_, f2) = other.upload("/api/folders/", photo_form()).await;
    let other_url = f2["media"][0]["original_url"].as_str().expect("url").to_string();
    urls.sort();
    for u in &urls {
        assert!(media_dir(&s).join(file_name(u)).exists());
    }

    // Refused while it has folders (409, error 4); nothing is gone.
    let (st, e) = admin.json(reqwest::Method::DELETE, &format!("/api/companies/{company}"), None).await;
    assert_eq!(st, 409, "{e}");
    oz_error(&e, 4);
    assert!(e["error_message"].as_str().unwrap_or_default().contains("force=true"), "{e}");
    assert_eq!(t.get(&format!("/api/folders/{fid}")).await.0, 200);
    assert_eq!(open(&urls[0]).await.0, 200);

    // With force: everything of the tenant goes, rows and files.
    let (st, e) = admin.json(reqwest::Method::DELETE, &format!("/api/companies/{company}/?force=true"), None).await;
    assert_eq!(st, 204, "{e}");
    for u in &urls {
        assert!(!media_dir(&s).join(file_name(u)).exists(), "file of the deleted tenant: {u}");
        assert_eq!(open(u).await.0, 404, "signed link of the deleted tenant");
    }
    assert_eq!(admin.get(&format!("/api/folders/{fid}")).await.0, 404);
    assert_eq!(admin.get(&format!("/api/analyses/{aid}")).await.0, 404);
    assert_eq!(admin.get(&format!("/api/companies/{company}")).await.0, 404);
    let (st, e) = t.get("/api/folders/").await;
    assert_eq!(st, 401, "the tenant's sessions are gone: {e}");
    assert!(s.db.deliveries_of_folder(fid.parse().expect("uuid")).await.expect("deliveries").is_empty());
    // The other tenant is untouched.
    assert_eq!(open(&other_url).await.0, 200);
    assert_eq!(other.get("/api/folders/").await.1["items"].as_array().map(Vec::len), Some(1));
    // Deleting again: 404.
    assert_eq!(admin.json(reqwest::Method::DELETE, &format!("/api/companies/{company}?force=true"), None).await.0, 404);
}

fn age(path: &std::path::Path, by: Duration) {
    let f = std::fs::File::options().write(true).open(path).expect("open to age");
    f.set_modified(SystemTime::now() - by).expect("set mtime");
}

both!(file_sweeper, file_sweeper_body);
async fn file_sweeper_body(kind: Kind) {
    let Some(s) = start(kind, Options { sweep_grace: Duration::from_secs(600), ..Options::default() }).await else {
        return;
    };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, token) = tenant(&admin, "sweep@example.com").await;
    let t = C { s: &s, token };
    let (st, f) = t.upload("/api/folders/", photo_form()).await;
    assert_eq!(st, 201, "{f}");
    let referenced = media_dir(&s).join(file_name(f["media"][0]["original_url"].as_str().expect("url")));
    let dir = media_dir(&s);
    let name = || format!("{}.jpg", uuid::Uuid::new_v4().simple());
    // An old referenced file; an old upload nobody recorded (client gone); an old best shot of a
    // killed worker; a young unreferenced file (its row may be on its way); old and young
    // temporary leftovers.
    let (orphan_upload, orphan_shot, young) = (dir.join(name()), dir.join(name()), dir.join(name()));
    let (old_tmp, young_tmp) = (dir.join(format!(".tmp-{}", name())), dir.join(format!(".tmp-{}", name())));
    for p in [&orphan_upload, &orphan_shot, &young, &old_tmp, &young_tmp] {
        std::fs::write(p, b"bytes").expect("write");
    }
    let hour = Duration::from_secs(3600);
    for p in [&referenced, &orphan_upload, &orphan_shot, &old_tmp] {
        age(p, hour);
    }

    let r = s.engine.sweep().await.expect("sweep");
    assert_eq!((r.files, r.temporary), (2, 1), "{r:?}");
    assert!(referenced.exists(), "a referenced file stays, however old");
    assert!(!orphan_upload.exists() && !orphan_shot.exists(), "old unreferenced files go");
    assert!(young.exists() && young_tmp.exists(), "young files stay (grace period)");
    assert!(!old_tmp.exists(), "old temporary leftovers go");
    // The referenced file still opens.
    let r = t.req(reqwest::Method::GET, &format!("/static/{}", file_name(&referenced.display().to_string()))).send();
    assert_eq!(r.await.expect("send").status(), 200);
    // Once past the grace the young one goes too; a second pass has nothing else to do.
    age(&young, hour);
    let r = s.engine.sweep().await.expect("sweep");
    assert_eq!((r.files, r.temporary), (1, 0), "{r:?}");
    assert!(!young.exists() && referenced.exists());
}
