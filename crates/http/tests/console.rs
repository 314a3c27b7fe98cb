//! `/console`: the embedded files, their security headers, hostile paths, the development folder,
//! `OZ_CONSOLE=off`, a static check of the page's code (module graph, no HTML injection sinks),
//! and the API route the console added (`GET /api/folders/{id}/webhooks/`, SQLite and PostgreSQL).
//! The page itself is driven in Chromium by `scripts/console-e2e.sh`.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{C, Kind, Options, admin_token, fixture, login, receiver, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

fn console_dir() -> std::path::PathBuf {
    common::root().join("crates/http/console")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_served_from_the_binary_with_a_strict_policy() {
    let Some(s) = start(Kind::Sqlite, Options::default()).await else { return };
    let c = client();
    let get = |p: &str| c.get(format!("{}{p}", s.base)).send();

    let r = get("/console").await.expect("send");
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/console/");

    let r = get("/console/").await.expect("send");
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["content-security-policy"], oz_http::console::CSP);
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = oz_http::console::CSP;
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe"), "{csp}");
    let html = r.text().await.expect("html");
    assert!(html.contains(r#"<script type="module" src="js/app.js">"#), "{html}");
    assert!(!html.contains("style=") && !html.contains("<script>"), "inline code in index.html");

    // Every embedded file is served with its type, cached by ETag.
    let files = oz_http::console::files();
    for want in [
        "index.html",
        "console.css",
        "js/app.js",
        "js/api.js",
        "js/ui.js",
        "js/pages/folders.js",
        "js/pages/operator.js",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} is not embedded: {files:?}");
    }
    for f in &files {
        let r = get(&format!("/console/{f}")).await.expect("send");
        assert_eq!(r.status(), 200, "{f}");
        let ct = r.headers()["content-type"].to_str().expect("ct").to_string();
        let etag = r.headers()["etag"].to_str().expect("etag").to_string();
        assert!(r.headers().contains_key("content-security-policy"), "{f}");
        let want = match f.rsplit_once('.').map(|x| x.1) {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("html") => "text/html",
            Some("svg") => "image/svg+xml",
            _ => "",
        };
        assert!(ct.starts_with(want), "{f}: {ct}");
        let body = r.bytes().await.expect("bytes");
        assert_eq!(body.as_ref(), std::fs::read(console_dir().join(f)).expect("file"), "{f} differs from the source");
        let again = c.get(format!("{}/console/{f}", s.base)).header("If-None-Match", &etag).send().await.expect("send");
        assert_eq!(again.status(), 304, "{f}");
    }
}

/// Every relative import of every embedded module, and every file index.html names, is embedded;
/// no module writes markup from strings (the page's data is attacker-controlled).
#[test]
fn console_code_is_whole_and_has_no_html_sinks() {
    let files = oz_http::console::files();
    let dir = console_dir();
    let html = std::fs::read_to_string(dir.join("index.html")).expect("index");
    for attr in html.split(['"']).filter(|v| v.ends_with(".js") || v.ends_with(".css") || v.ends_with(".svg")) {
        assert!(files.iter().any(|f| f == attr), "index.html names {attr}, which is not embedded");
    }
    let mut modules = 0;
    for f in files.iter().filter(|f| f.starts_with("js/") && f.ends_with(".js")) {
        modules += 1;
        let src = std::fs::read_to_string(dir.join(f)).expect("module");
        for sink in
            ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage"]
        {
            assert!(!src.contains(sink), "{f} uses {sink}");
        }
        let base = std::path::Path::new(f).parent().expect("dir").to_path_buf();
        for piece in src.split(['\'', '`']).filter(|p| p.starts_with("./") || p.starts_with("../")) {
            if !piece.ends_with(".js") {
                continue;
            }
            let mut path = base.clone();
            for seg in piece.split('/') {
                match seg {
                    "." => {}
                    ".." => {
                        path.pop();
                    }
                    s => path.push(s),
                }
            }
            let name = path.to_string_lossy().replace('\\', "/");
            assert!(files.contains(&name), "{f} imports {piece} ({name}), which is not embedded");
        }
    }
    assert!(modules >= 6, "{modules} modules");
}

/// Traversal out of the embedded files, encoded dots, NUL, very long names, dot files, writes:
/// only embedded names answer, never a file of the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_refuses_hostile_paths() {
    let dev = tempfile_dir("openoz-console-dev");
    std::fs::write(dev.join("index.html"), "<!doctype html><p>dev copy</p>").expect("write");
    std::fs::write(dev.join("notes.txt"), "not a console file").expect("write");
    std::fs::write(dev.join(".hidden.js"), "hidden").expect("write");
    let outside = dev.parent().expect("parent").join("openoz-console-outside.js");
    std::fs::write(&outside, "outside").expect("write");
    let embedded = start(Kind::Sqlite, Options::default()).await;
    let Some(embedded) = embedded else { return };
    let opts = Options {
        console: oz_http::console::ConsoleConfig { enabled: true, dir: Some(dev.clone()) },
        ..Options::default()
    };
    let Some(devsrv) = start(Kind::Sqlite, opts).await else { return };
    let long = format!("/console/{}.js", "a".repeat(8000));
    for s in [&embedded, &devsrv] {
        for p in [
            "/console/../Cargo.toml",
            "/console/%2e%2e/%2e%2e/Cargo.toml",
            "/console/..%2f..%2fCargo.toml",
            "/console/js/..%2f..%2f..%2fsrc%2fconsole.rs",
            "/console/%2e%2e%2fopenoz-console-outside.js",
            "/console/%00index.html",
            "/console/index.html%00.js",
            "/console/.hidden.js",
            "/console/notes.txt",
            "/console//etc/passwd",
            "/console/README.md",
            long.as_str(),
        ] {
            let r = client().get(format!("{}{p}", s.base)).send().await.expect("send");
            let status = r.status().as_u16();
            let body = r.text().await.expect("body");
            assert!(matches!(status, 400 | 404), "{p}: {status}");
            assert!(
                !body.contains("[workspace]")
                    && !body.contains("root:")
                    && !body.contains("outside")
                    && !body.contains("hidden"),
                "{p} leaked a file: {body:.200}"
            );
        }
        for m in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let r = client().request(m.clone(), format!("{}/console/index.html", s.base)).body("x").send().await;
            assert_eq!(r.expect("send").status(), 405, "{m}");
        }
    }
    // The development folder is what OZ_CONSOLE_DIR serves.
    let r = client().get(format!("{}/console/", devsrv.base)).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("content-security-policy"));
    assert!(r.text().await.expect("body").contains("dev copy"));
    let _ = std::fs::remove_dir_all(&dev);
    let _ = std::fs::remove_file(&outside);
}

fn tempfile_dir(prefix: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_off_answers_404() {
    let opts = Options { console: oz_http::console::ConsoleConfig { enabled: false, dir: None }, ..Options::default() };
    let Some(s) = start(Kind::Sqlite, opts).await else { return };
    for p in ["/console", "/console/", "/console/js/app.js"] {
        let r = client().get(format!("{}{p}", s.base)).send().await.expect("send");
        assert_eq!(r.status(), 404, "{p}");
    }
}

async fn folder_webhooks(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: admin_token(&s).await };
    let mut clients = Vec::new();
    for n in ["a", "b"] {
        let (st, co) = admin.post("/api/companies/", json!({ "name": format!("hooks-{n}") })).await;
        assert_eq!(st, 201, "{co}");
        let email = format!("hooks-{n}@example.com");
        let (st, u) = admin
            .post(
                "/api/users/",
                json!({ "email": email, "password": "password-123", "user_type": "CLIENT", "company_id": co["company_id"] }),
            )
            .await;
        assert_eq!(st, 201, "{u}");
        clients.push(C { s: &s, token: login(&s, &email, "password-123").await });
    }
    let (a, b) = (&clients[0], &clients[1]);
    let (hook, got) = receiver(0).await;
    let form = Form::new()
        .part(
            "photo",
            Part::bytes(fixture("faces/live/obama__podium.jpg"))
                .file_name("p.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        )
        .part("payload", Part::text(json!({ "resolution_endpoint": hook }).to_string()));
    let (st, f) = a.upload("/api/folders/", form).await;
    assert_eq!(st, 201, "{f}");
    let fid = f["folder_id"].as_str().expect("id").to_string();
    let path = format!("/api/folders/{fid}/webhooks/");
    // No analysis yet: no delivery.
    let (st, v) = a.get(&path).await;
    assert_eq!((st, v.clone()), (200, json!({ "total": 0, "items": [] })), "{v}");

    let (st, an) =
        a.post(&format!("/api/folders/{fid}/analyses/"), json!({ "analyses": [{ "type": "QUALITY" }] })).await;
    assert_eq!(st, 201, "{an}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let item = loop {
        let (st, v) = a.get(&path).await;
        assert_eq!(st, 200, "{v}");
        if v["items"][0]["state"] == "delivered" {
            break v["items"][0].clone();
        }
        assert!(Instant::now() < deadline, "no delivery: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(got.lock().expect("lock").len(), 1);
    assert_eq!(item["url"], Value::String(hook.clone()));
    assert_eq!(item["attempts"], 1);
    assert_eq!(item["last_status"], 200);
    assert_eq!(item["last_error"], Value::Null);
    assert_eq!(item["next_attempt_at"], Value::Null);
    assert!(item["delivered_at"].as_f64().is_some() && item["time_created"].as_f64().is_some(), "{item}");
    assert!(uuid::Uuid::parse_str(item["delivery_id"].as_str().expect("id")).is_ok(), "{item}");
    let keys: Vec<&str> = item.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 10, "{keys:?}");

    // Another company's folder is not found; the admin sees it; no token is 401; a bad id 404.
    let (st, v) = b.get(&path).await;
    assert_eq!((st, v["error_code"].clone()), (404, json!(10)), "{v}");
    let (st, v) = admin.get(&path).await;
    assert_eq!((st, v["total"].clone()), (200, json!(1)), "{v}");
    let r = client().get(format!("{}{path}", s.base)).send().await.expect("send");
    assert_eq!(r.status(), 401);
    let (st, _) = a.get("/api/folders/not-a-uuid/webhooks/").await;
    assert!(matches!(st, 400 | 404), "{st}");
}
both!(folder_webhooks_route, folder_webhooks);

/// The vendored chart library is byte for byte the npm release VENDOR.md names (offline check of
/// the sha256 values; `scripts/vendor-console.sh` checks them against the registry).
#[test]
fn vendored_files_match_their_recorded_hashes() {
    use sha2::Digest;
    let dir = console_dir().join("vendor");
    let manifest = std::fs::read_to_string(dir.join("VENDOR.md")).expect("VENDOR.md");
    let mut checked = 0;
    for line in manifest.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(|c| c.trim().trim_matches('`')).collect();
        let (file, sha) = (cells[1], cells[3]);
        if sha.len() != 64 {
            continue;
        }
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sha, "{file} differs from the vendored release");
        checked += 1;
    }
    assert_eq!(checked, 3, "uPlot js, css and licence are listed");
    let embedded = oz_http::console::files();
    for f in std::fs::read_dir(&dir).expect("vendor").flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".md") {
            assert!(manifest.contains(&format!("`{name}`")), "vendor/{name} is not recorded in VENDOR.md");
            assert!(embedded.contains(&format!("vendor/{name}")), "vendor/{name} is not embedded");
        }
    }
}

/// `GET /`: a browser gets a page of links (console, docs, capture) under a policy with no script;
/// an API client (no `Accept: text/html`) gets API Lite's 404 as before; `OZ_CONSOLE=off` drops
/// the console link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_answers_browsers_with_links_and_api_clients_as_before() {
    let Some(s) = start(Kind::Sqlite, Options::default()).await else { return };
    let c = client();
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let r = c.get(format!("{}/", s.base)).header("Accept", browser).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"].to_str().expect("csp").to_string();
    assert!(csp.starts_with("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    let html = r.text().await.expect("text");
    for link in ["href=\"/console/\"", "href=\"/docs\"", "href=\"/capture/\""] {
        assert!(html.contains(link), "{link} in {html}");
    }
    for accept in [None, Some("*/*"), Some("application/json")] {
        let mut req = c.get(format!("{}/", s.base));
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let r = req.send().await.expect("send");
        assert_eq!(r.status(), 404, "{accept:?}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["code"], "BPE-002002", "{accept:?}: {v}");
    }
    let r = c.post(format!("{}/", s.base)).header("Accept", browser).send().await.expect("send");
    assert_eq!(r.status(), 404, "only GET shows the page");
    let off = Options { console: oz_http::console::ConsoleConfig { enabled: false, dir: None }, ..Options::default() };
    let Some(s) = start(Kind::Sqlite, off).await else { return };
    let html =
        c.get(format!("{}/", s.base)).header("Accept", browser).send().await.expect("send").text().await.expect("text");
    assert!(!html.contains("/console/") && html.contains("href=\"/docs\""), "{html}");
}
