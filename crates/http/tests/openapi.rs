//! The OpenAPI document: `docs/openapi.json` is current (the CI drift check), every documented
//! route is served (with and without the trailing slash of `/api/...`), and `/docs` serves
//! Swagger UI, its assets and the document.

mod common;

use common::{Kind, Options, start};
use serde_json::Value;

const REGENERATE: &str = "cargo run -p oz-server -- openapi > docs/openapi.json";

#[test]
fn committed_document_is_current() {
    let path = common::root().join("docs/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = oz_http::openapi::json();
    if committed != generated {
        let line = committed.lines().zip(generated.lines()).position(|(a, b)| a != b);
        panic!(
            "docs/openapi.json is not the document the code describes (first difference near line {}); \
             regenerate it with `{REGENERATE}` and commit it",
            line.map_or_else(|| "end".to_string(), |l| (l + 1).to_string())
        );
    }
}

/// (method, path) of every documented operation.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in ["get", "put", "post", "delete", "patch", "head", "options", "trace"] {
            if item.get(m).is_some() {
                out.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn documents_every_route_family() {
    let doc = serde_json::to_value(oz_http::openapi::document()).expect("json");
    let ops = operations(&doc);
    assert!(ops.len() >= 75, "{} operations", ops.len());
    let has = |m: &str, p: &str| ops.iter().any(|(a, b)| a == m && b == p);
    for kind in ["users", "folders", "media", "analyses", "collections"] {
        let p = format!("/api/{kind}/{{id}}/meta_data/");
        for m in ["GET", "POST", "PATCH", "DELETE"] {
            assert!(has(m, &p), "{m} {p}");
        }
    }
    assert!(has("GET", "/static/{file}"));
    assert!(has("POST", "/api/authorize/auth/"));
    assert!(has("GET", "/v1/face/pattern/health") && has("GET", "/v1/face/liveness/health"));
    assert!(has("POST", "/v1/face/liveness/detect") && has("GET", "/version"));
    for (m, p) in &ops {
        assert!(p.starts_with("/api/") == p.ends_with('/') || p.starts_with("/static/"), "{m} {p}: Oz form");
        let op = &doc["paths"][p][m.to_lowercase()];
        assert!(op["operationId"].is_string() && op["responses"].is_object(), "{m} {p}");
    }
    let mut ids: Vec<&str> =
        ops.iter().map(|(m, p)| doc["paths"][p][m.to_lowercase()]["operationId"].as_str().unwrap_or("")).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "operation ids are unique");
}

fn concrete(path: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    path.split('/')
        .map(|seg| if seg.starts_with('{') { if seg == "{file}" { "nothing.jpg" } else { id.as_str() } } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every documented (method, path) reaches a handler on a real server: no 405 and no "no such
/// route" 404, in the documented form and, for `/api/...`, without the trailing slash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let Some(s) = start(Kind::Sqlite, Options::default()).await else { return };
    let token = common::admin_token(&s).await;
    let doc = serde_json::to_value(oz_http::openapi::document()).expect("json");
    let client = reqwest::Client::new();
    for (m, p) in operations(&doc) {
        if p.ends_with("/authorize/logout/") || (m == "DELETE" && p.ends_with("/sessions/")) {
            continue; // would end the test's own login; served, as the API tests show
        }
        let concrete = concrete(&p);
        let mut forms = vec![concrete.clone()];
        if let Some(bare) = concrete.strip_suffix('/') {
            forms.push(bare.to_string());
        }
        for url in forms {
            let method = reqwest::Method::from_bytes(m.as_bytes()).expect("method");
            let r = client
                .request(method, format!("{}{url}", s.base))
                .header("X-Forensic-Access-Token", &token)
                .send()
                .await
                .expect("send");
            let status = r.status().as_u16();
            let body: Value = serde_json::from_str(&r.text().await.expect("text")).unwrap_or(Value::Null);
            assert_ne!(status, 405, "{m} {url}: {body}");
            let no_route = body["error_message"] == "no such route" || body["code"].as_str() == Some("BPE-002002");
            assert!(!(status == 404 && no_route), "{m} {url} is not routed: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_serves_swagger_ui_and_the_document() {
    let Some(s) = start(Kind::Sqlite, Options::default()).await else { return };
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let get = |p: &str| client.get(format!("{}{p}", s.base)).send();

    let r = get("/docs").await.expect("send");
    assert!(r.status().is_redirection(), "{}", r.status());
    let r = get("/docs/").await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/html"));
    let html = r.text().await.expect("html");
    assert!(html.contains("swagger-ui-bundle.js") && html.contains("swagger-ui.css"), "{html}");

    for (asset, kind) in [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")] {
        let r = get(&format!("/docs/{asset}")).await.expect("send");
        assert_eq!(r.status(), 200, "{asset}");
        let ct = r.headers()["content-type"].to_str().expect("ct").to_string();
        assert!(ct.contains(kind), "{asset}: {ct}");
        assert!(r.bytes().await.expect("bytes").len() > 10_000, "{asset} is the real file");
    }
    let init = get("/docs/swagger-initializer.js").await.expect("send").text().await.expect("js");
    assert!(init.contains("/docs/openapi.json"), "{init}");
    // The token given to "Authorize" is not kept in localStorage on the console's origin.
    assert!(!init.contains("\"persistAuthorization\":true") && !init.contains("persistAuthorization: true"), "{init}");
    // Every /docs answer: a CSP without inline scripts or framing, and the other headers.
    for p in ["/docs/", "/docs/swagger-initializer.js", "/docs/openapi.json"] {
        let r = get(p).await.expect("send");
        let h = r.headers();
        let csp = h.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{p}: {csp:?}");
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{p}: {csp:?}");
        assert_eq!(h.get("x-frame-options").map(|v| v.to_str().unwrap_or_default()), Some("DENY"), "{p}");
        assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap_or_default()), Some("nosniff"), "{p}");
    }

    let r = get("/docs/openapi.json").await.expect("send");
    assert_eq!(r.status(), 200);
    let served: Value = r.json().await.expect("json");
    assert_eq!(served, serde_json::to_value(oz_http::openapi::document()).expect("json"));
    assert_eq!(served["components"]["securitySchemes"]["token"]["name"], "X-Forensic-Access-Token");
}

/// What an attacker sends to `/docs`: traversal out of the embedded assets, encoded dots, a NUL,
/// a very long name, writes. Nothing but the embedded files answers, and never from the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_routes_refuse_hostile_paths() {
    let Some(s) = start(Kind::Sqlite, Options::default()).await else { return };
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let long = format!("/docs/{}", "a".repeat(8000));
    for p in [
        "/docs/../Cargo.toml",
        "/docs/%2e%2e/%2e%2e/Cargo.toml",
        "/docs/..%2f..%2fCargo.toml",
        "/docs/%00swagger-ui.css",
        "/docs/Cargo.toml",
        "/docs/openapi.json/..%2f..%2fetc%2fpasswd",
        long.as_str(),
    ] {
        let r = client.get(format!("{}{p}", s.base)).send().await.expect("send");
        let status = r.status().as_u16();
        let body = r.text().await.expect("body");
        assert!(matches!(status, 400 | 404), "{p}: {status}");
        assert!(!body.contains("[workspace]") && !body.contains("root:"), "{p} leaked a file: {body:.200}");
    }
    for m in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let r = client.request(m.clone(), format!("{}/docs/openapi.json", s.base)).body("{}").send().await;
        assert_eq!(r.expect("send").status(), 405, "{m} /docs/openapi.json");
    }
}
