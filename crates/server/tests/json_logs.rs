//! The binary with `OZ_LOG_FORMAT=json`: every log line is a JSON object, and the lines of a
//! request with a known `X-Request-Id` and of the analysis job it queued carry that id.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

struct Server {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(addr: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("oz-json-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oz-server"))
        .arg("serve")
        .current_dir(root())
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("DATABASE_URL")
        .env("OZ_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,ort=warn")
        .env("OZ_LISTEN", addr)
        .env("OZ_DATA_DIR", dir.join("data"))
        .env("OZ_ADMIN_EMAIL", "admin@example.com")
        .env("OZ_ADMIN_PASSWORD", "admin-password-1")
        .env("OZ_WORKERS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().expect("stdout");
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            sink.lock().expect("lock").push(line);
        }
    });
    Server { child, lines, dir }
}

/// True when some span of the line (or its fields) has `request_id == id`.
fn carries(line: &Value, id: &str) -> bool {
    let in_spans = line["spans"].as_array().is_some_and(|s| s.iter().any(|sp| sp["request_id"] == id));
    in_spans || line["span"]["request_id"] == id || line["fields"]["request_id"] == id
}

fn in_span(line: &Value, name: &str) -> bool {
    line["spans"].as_array().is_some_and(|s| s.iter().any(|sp| sp["name"] == name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_carry_the_request_id_into_the_job() {
    let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let base = format!("http://{addr}");
    let server = spawn(&addr);
    let http = reqwest::Client::new();

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = http.get(format!("{base}/api/version")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let r = http
        .post(format!("{base}/api/authorize/auth"))
        .json(&json!({ "credentials": { "email": "admin@example.com", "password": "admin-password-1" } }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.expect("json")["access_token"].as_str().expect("token").to_string();

    let photo = std::fs::read(root().join("tests/fixtures/faces/live/obama__portrait.jpg")).expect("fixture");
    let form = reqwest::multipart::Form::new()
        .part(
            "photo1",
            reqwest::multipart::Part::bytes(photo).file_name("selfie.jpg").mime_str("image/jpeg").expect("mime"),
        )
        .part(
            "payload",
            reqwest::multipart::Part::text(json!({ "media:tags": { "photo1": ["photo_selfie"] } }).to_string()),
        );
    let r = http
        .post(format!("{base}/api/folders/"))
        .header("X-Forensic-Access-Token", &token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201);
    let fid = r.json::<Value>().await.expect("json")["folder_id"].as_str().expect("folder").to_string();

    let rid = format!("json-logs-{}", std::process::id());
    let r = http
        .post(format!("{base}/api/folders/{fid}/analyses"))
        .header("X-Forensic-Access-Token", &token)
        .header("X-Request-Id", &rid)
        .json(&json!({ "analyses": [{ "type": "QUALITY" }] }))
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some(rid.as_str()));
    let aid = r.json::<Value>().await.expect("json")[0]["analysis_id"].as_str().expect("analysis").to_string();

    loop {
        let a: Value = http
            .get(format!("{base}/api/analyses/{aid}"))
            .header("X-Forensic-Access-Token", &token)
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("json");
        if a["state"] != "PROCESSING" {
            break;
        }
        assert!(Instant::now() < deadline + Duration::from_secs(60), "analysis did not finish: {a}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The job's "analysis finished" line is written right after the result is stored.
    let parsed = loop {
        let lines = server.lines.lock().expect("lock").clone();
        let parsed: Vec<Value> = lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect();
        let job_done = parsed
            .iter()
            .any(|l| l["fields"]["message"] == "analysis finished" && carries(l, &rid) && in_span(l, "run_job"));
        if job_done || Instant::now() > deadline + Duration::from_secs(70) {
            break parsed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        parsed.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()),
        "every line has level and time"
    );
    let request_lines: Vec<&Value> = parsed.iter().filter(|l| in_span(l, "request") && carries(l, &rid)).collect();
    assert!(!request_lines.is_empty(), "no line of the request carries {rid}");
    for l in &request_lines {
        let req =
            l["spans"].as_array().and_then(|s| s.iter().find(|sp| sp["name"] == "request")).expect("request span");
        assert_eq!(req["method"], "POST");
        assert_eq!(req["path"], format!("/api/folders/{fid}/analyses"));
    }
    let job_lines: Vec<&Value> = parsed.iter().filter(|l| in_span(l, "run_job") && carries(l, &rid)).collect();
    assert!(
        job_lines.iter().any(|l| l["fields"]["message"] == "analysis finished"),
        "the job's lines do not carry {rid}: {job_lines:?}"
    );
    let job =
        job_lines[0]["spans"].as_array().and_then(|s| s.iter().find(|sp| sp["name"] == "run_job")).expect("job span");
    assert_eq!(job["analysis"], aid.as_str());
    // Other requests carry their own (generated) ids, never this one.
    let others = parsed.iter().filter(|l| in_span(l, "request") && !carries(l, &rid)).count();
    assert!(others > 0, "the other requests were logged with their own ids");
}

/// `oz-server worker` serves `/metrics` on `OZ_METRICS_LISTEN` (its only listener), behind
/// `OZ_METRICS_TOKEN`, with the queue read from its database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_metrics_on_its_own_listener() {
    let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("oz-worker-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let child = Command::new(env!("CARGO_BIN_EXE_oz-server"))
        .arg("worker")
        .current_dir(root())
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("OZ_DATA_DIR", dir.join("data"))
        .env("OZ_METRICS_LISTEN", format!("127.0.0.1:{port}"))
        .env("OZ_METRICS_TOKEN", "worker-token")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let _server = Server { child, lines: Arc::default(), dir };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let text = loop {
        if let Ok(r) = http.get(format!("{base}/metrics")).bearer_auth("worker-token").send().await
            && r.status() == 200
        {
            break r.text().await.expect("text");
        }
        assert!(Instant::now() < deadline, "the worker did not serve /metrics");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(text.contains("openoz_queue_jobs{state=\"queued\"} 0"), "{text}");
    assert_eq!(http.get(format!("{base}/metrics")).send().await.expect("send").status(), 401);
    assert_eq!(http.get(format!("{base}/api/version")).send().await.expect("send").status(), 404);
}
