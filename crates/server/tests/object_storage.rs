//! Shared object storage (`OZ_STORAGE_URL=s3://...`) against a real S3-compatible server: an
//! API-only process (`serve`, `OZ_WORKERS=0`) and a `worker` process that share nothing but the
//! database and the bucket (each has its own, empty, `OZ_DATA_DIR`).
//!
//! The S3 server is `s3s-fs` (crates.io: the S3 API over a directory), which `make test` installs
//! into `.tools/` (scripts/s3-server.sh). Its binary is found through `OZ_TEST_S3_SERVER`, then
//! `.tools/bin/s3s-fs`; without it the tests are skipped outside CI and fail in CI.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const BUCKET: &str = "openoz-media";
const PREFIX: &str = "deploy-a";
const ACCESS_KEY: &str = "openoz-test-access";
const SECRET_KEY: &str = "openoz-test-secret-key";
const ADMIN: (&str, &str) = ("admin@example.com", "admin-password-for-s3");

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn tmp(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oz-s3-{what}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port()
}

/// The s3s-fs binary, or `None` (skip) outside CI.
fn s3_server() -> Option<PathBuf> {
    let found = std::env::var_os("OZ_TEST_S3_SERVER")
        .map(PathBuf::from)
        .or_else(|| Some(root().join(".tools/bin/s3s-fs")))
        .filter(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no S3 server: run `bash scripts/s3-server.sh install` or set OZ_TEST_S3_SERVER"
        );
        eprintln!("skipping: no S3 server (bash scripts/s3-server.sh install)");
    }
    found
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct S3 {
    _proc: Proc,
    endpoint: String,
    /// The directory the server keeps the bucket's objects in.
    dir: PathBuf,
}

async fn start_s3(bin: &Path) -> S3 {
    let data = tmp("bucket");
    std::fs::create_dir_all(data.join(BUCKET)).expect("bucket dir");
    let port = free_port();
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", ACCESS_KEY])
        .args(["--secret-key", SECRET_KEY])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs starts");
    let proc = Proc(child);
    wait_for_port(port, Duration::from_secs(20)).await;
    S3 { _proc: proc, endpoint: format!("http://127.0.0.1:{port}"), dir: data.join(BUCKET).join(PREFIX) }
}

async fn wait_for_port(port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `oz-server <cmd>` with the shared database and bucket, its own empty data folder.
fn oz(cmd: &str, data: &Path, db: &str, s3: &S3, secret: &str, extra: &[(&str, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oz-server"));
    c.arg(cmd)
        .current_dir(root())
        .env("DATABASE_URL", db)
        .env("OZ_DATA_DIR", data)
        .env("OZ_STORAGE_URL", format!("s3://{BUCKET}/{PREFIX}"))
        .env("AWS_ENDPOINT_URL", &s3.endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn");
    for (k, v) in extra {
        c.env(k, v);
    }
    c
}

fn objects(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    v.retain(|n| !n.starts_with('.'));
    v.sort();
    v
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures").join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn name_in(url: &str) -> String {
    url.split('?').next().and_then(|p| p.rsplit('/').next()).expect("name").to_string()
}

async fn scenario(db: String) {
    let Some(bin) = s3_server() else { return };
    let s3 = start_s3(&bin).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let api_env = [
        ("OZ_LISTEN", format!("127.0.0.1:{port}")),
        ("OZ_WORKERS", "0".to_string()),
        ("OZ_ADMIN_EMAIL", ADMIN.0.to_string()),
        ("OZ_ADMIN_PASSWORD", ADMIN.1.to_string()),
    ];
    let api_data = tmp("api");
    let api =
        Proc(oz("serve", &api_data, &db, &s3, SECRET_KEY, &api_env).stdout(Stdio::null()).spawn().expect("serve"));
    wait_for_port(port, Duration::from_secs(120)).await;
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/authorize/auth"))
        .json(&json!({ "credentials": { "email": ADMIN.0, "password": ADMIN.1 } }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_string();
    let auth = |r: reqwest::RequestBuilder| r.header("X-Forensic-Access-Token", &token);

    // Upload: the files land in the bucket, under the prefix, and nowhere on the API's disk.
    let video = fixture("videos/portrait_720x1280.mp4");
    let photo = fixture("faces/live/obama__podium.jpg");
    let form = Form::new()
        .part("video1", Part::bytes(video.clone()).file_name("selfie.mp4").mime_str("video/mp4").expect("mime"))
        .part("photo1", Part::bytes(photo.clone()).file_name("id.jpg").mime_str("image/jpeg").expect("mime"))
        .part(
            "payload",
            Part::text(
                json!({ "media:tags": { "video1": ["video_selfie_blank"], "photo1": ["photo_id_front"] } }).to_string(),
            ),
        );
    let r = auth(http.post(format!("{base}/api/folders/"))).multipart(form).send().await.expect("upload");
    assert_eq!(r.status(), 201);
    let folder: Value = r.json().await.expect("folder");
    let fid = folder["folder_id"].as_str().expect("folder id").to_string();
    let stored = objects(&s3.dir);
    for m in folder["media"].as_array().expect("media") {
        let name = name_in(m["original_url"].as_str().expect("url"));
        assert!(stored.contains(&name), "{name} is in the bucket: {stored:?}");
    }
    assert!(stored.len() >= 4, "originals and their previews: {stored:?}");
    assert!(objects(&api_data.join("media")).is_empty(), "nothing is stored on the API's own disk");

    // Analyses: the worker process (its own empty data folder) reads the media from the bucket and
    // writes the best shot there; the API process serves it.
    let worker_data = tmp("worker");
    let worker = Proc(
        oz("worker", &worker_data, &db, &s3, SECRET_KEY, &[("OZ_WORKERS", "1".into())])
            .stdout(Stdio::null())
            .spawn()
            .expect("worker"),
    );
    let r = auth(http.post(format!("{base}/api/folders/{fid}/analyses/")))
        .json(&json!({ "analyses": [{ "type": "quality", "params": { "extract_best_shot": true } }, { "type": "biometry" }] }))
        .send()
        .await
        .expect("analyses");
    assert_eq!(r.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(240);
    let analyses = loop {
        let v: Value = auth(http.get(format!("{base}/api/folders/{fid}/analyses/")))
            .send()
            .await
            .expect("analyses")
            .json()
            .await
            .expect("json");
        let list = v.as_array().cloned().unwrap_or_default();
        if list.len() == 2 && list.iter().all(|a| a["resolution_status"] != "PROCESSING") {
            break list;
        }
        assert!(Instant::now() < deadline, "the worker did not finish the analyses: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let done: Value =
        auth(http.get(format!("{base}/api/folders/{fid}/"))).send().await.expect("folder").json().await.expect("json");
    drop(worker);
    assert!(objects(&worker_data.join("media")).is_empty(), "nothing is stored on the worker's own disk");
    for a in &analyses {
        assert_eq!(a["state"], "FINISHED", "{a}");
        assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    }
    let quality = analyses.iter().find(|a| a["type"] == "QUALITY").expect("quality");
    let shot = quality["results_media"][0]["output_images"][0]["original_url"].as_str().expect("best shot url");
    let shot_name = name_in(shot);
    let in_bucket = std::fs::read(s3.dir.join(&shot_name)).expect("the best shot is in the bucket");
    // The signed link streams it without a token, with its type and length.
    let r = http.get(shot).send().await.expect("best shot");
    assert_eq!(r.status(), 200, "{shot}");
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["content-length"].to_str().expect("len"), in_bucket.len().to_string());
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), in_bucket);
    // The uploaded video, through the token, byte for byte.
    let video_url = done["media"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["original_name"] == "selfie.mp4"))
        .and_then(|m| m["original_url"].as_str())
        .expect("video url")
        .to_string();
    let r = auth(http.get(format!("{base}/static/{}", name_in(&video_url)))).send().await.expect("video");
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), video);
    // A name that is not in the bucket is a 404, a hostile one too.
    for bad in [format!("{}.jpg", uuid::Uuid::new_v4().simple()), "..%2F..%2Fetc%2Fpasswd".to_string()] {
        let r = auth(http.get(format!("{base}/static/{bad}"))).send().await.expect("missing");
        assert_eq!(r.status(), 404, "{bad}");
    }

    // Deleting the folder removes every object it had, best shot included.
    let before = objects(&s3.dir);
    assert!(before.contains(&shot_name));
    let r = auth(http.delete(format!("{base}/api/folders/{fid}/"))).send().await.expect("delete");
    assert!(r.status().is_success(), "{}", r.status());
    let after = objects(&s3.dir);
    assert!(after.is_empty(), "the folder's objects are gone: {after:?}");
    drop(api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_worker_share_only_postgres_and_the_bucket() {
    let Some(db) = common::postgres_database("oz_s3").await else { return };
    scenario(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_worker_share_a_sqlite_file_and_the_bucket() {
    // One machine, one SQLite file, two processes: the same bucket flow on the embedded default.
    let dir = tmp("sqlite");
    scenario(format!("sqlite://{}?mode=rwc", dir.join("openoz.db").display())).await;
}

/// A wrong secret key stops the process at start with a message naming the store, before it
/// takes any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_stop_the_start() {
    let Some(bin) = s3_server() else { return };
    let s3 = start_s3(&bin).await;
    let dir = tmp("badkey");
    let db = format!("sqlite://{}?mode=rwc", dir.join("openoz.db").display());
    let port = free_port();
    let out = oz("serve", &dir, &db, &s3, "not-the-secret", &[("OZ_LISTEN", format!("127.0.0.1:{port}"))])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("serve runs");
    assert!(!out.status.success(), "the server refused to start");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("media store") && text.contains(&format!("s3://{BUCKET}/{PREFIX}")), "{text}");
    assert!(!text.contains("not-the-secret"), "the secret is not printed");
    assert!(objects(&s3.dir).is_empty());
}
