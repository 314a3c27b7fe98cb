//! Metrics, request ids and the ops files: a real server on SQLite and PostgreSQL runs a QUALITY
//! analysis started by a request with a known `X-Request-Id`, then `/metrics` is scraped.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{C, Kind, Options, fixture, receiver, start};
use oz_http::observe::MetricsConfig;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const TOKEN: &str = "metrics-test-token";

/// One sample of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text format (no timestamps, as the exporter writes it).
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => (name.to_string(), parse_labels(rest.strip_suffix('}').expect("closing brace"))),
        };
        out.push(Sample { name, labels, value });
    }
    out
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label key");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => {
                    if let Some((_, c)) = chars.next() {
                        value.push(if c == 'n' { '\n' } else { c });
                    }
                }
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {s}"),
            }
        };
        map.insert(key.trim_start_matches(',').to_string(), value);
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    map
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect()
}

fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels).iter().map(|s| s.value).sum()
}

/// True when `s` has the shape of a UUID (8-4-4-4-12 hex digits) somewhere.
fn has_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(35)).any(|i| {
        b[i..i + 36].iter().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    })
}

async fn scrape(base: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.expect("scrape")
}

/// Metric names a text refers to (`openoz_...`), with histogram suffixes removed.
fn referenced_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("openoz_") {
        let tail = &rest[i..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        let mut name = &tail[..end];
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && base.ends_with("_seconds")
            {
                name = base;
            }
        }
        out.insert(name.to_string());
        rest = &tail[end..];
    }
    out
}

both!(metrics_after_an_analysis, metrics_body);
async fn metrics_body(kind: Kind) {
    let opts = Options { metrics: MetricsConfig { token: Some(TOKEN.into()), on_main: true }, ..Options::default() };
    let Some(s) = start(kind, opts).await else { return };
    let c = C { s: &s, token: common::admin_token(&s).await };
    let (hook_url, hooks) = receiver(0).await;

    // A folder with a selfie photo (QUALITY takes it) and a video (decoded at upload, not analysed).
    let form = Form::new()
        .part(
            "photo1",
            Part::bytes(fixture("faces/live/obama__portrait.jpg"))
                .file_name("selfie.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        )
        .part(
            "video1",
            Part::bytes(fixture("videos/portrait_720x1280.mp4"))
                .file_name("clip.mp4")
                .mime_str("video/mp4")
                .expect("mime"),
        )
        .part(
            "payload",
            Part::text(
                json!({ "media:tags": { "photo1": ["photo_selfie"], "video1": ["orientation_portrait"] } }).to_string(),
            ),
        );
    let (st, folder) = c.upload("/api/folders/", form).await;
    assert_eq!(st, 201, "{folder}");
    let fid = folder["folder_id"].as_str().expect("folder id").to_string();

    // Start QUALITY with a known request id and a webhook.
    let rid = format!("obs-{}", uuid::Uuid::new_v4().simple());
    let r = c
        .req(reqwest::Method::POST, &format!("/api/folders/{fid}/analyses"))
        .header("X-Request-Id", &rid)
        .json(&json!({ "analyses": [{ "type": "QUALITY" }], "resolution_endpoint": hook_url }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some(rid.as_str()));
    let created: Value = r.json().await.expect("json");
    let aid = created[0]["analysis_id"].as_str().expect("analysis id").to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let resolution = loop {
        let (st, a) = c.get(&format!("/api/analyses/{aid}")).await;
        assert_eq!(st, 200, "{a}");
        if a["resolution_status"] != "PROCESSING" {
            assert_eq!(a["state"], "FINISHED", "{a}");
            break a["resolution_status"].as_str().expect("resolution").to_string();
        }
        assert!(Instant::now() < deadline, "analysis did not finish: {a}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    while hooks.lock().expect("lock").is_empty() {
        assert!(Instant::now() < deadline, "no webhook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The request id went with the job and on to its webhook delivery.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&s.url).await.expect("connect");
    let job: (Option<String>,) = sqlx::query_as("select request_id from jobs where analysis_id = $1")
        .bind(&aid)
        .fetch_one(&pool)
        .await
        .expect("job");
    assert_eq!(job.0.as_deref(), Some(rid.as_str()));
    let hook: (Option<String>,) = sqlx::query_as("select request_id from webhook_deliveries where folder_id = $1")
        .bind(&fid)
        .fetch_one(&pool)
        .await
        .expect("delivery");
    assert_eq!(hook.0.as_deref(), Some(rid.as_str()));
    pool.close().await;

    // An unknown path, with an id in it.
    let r = reqwest::get(format!("{}/no/such/{}", s.base, uuid::Uuid::new_v4())).await.expect("send");
    assert_eq!(r.status(), 404);

    // Token protection.
    assert_eq!(scrape(&s.base, None).await.status(), 401);
    let wrong = scrape(&s.base, Some("not-the-token")).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().contains_key("www-authenticate"));
    // Odd Authorization shapes: no token, another scheme, the token with a tail, a huge value.
    let huge = format!("Bearer {}", "t".repeat(16 << 10));
    let shapes = [
        "Bearer".to_string(),
        "Bearer ".into(),
        format!("Basic {TOKEN}"),
        format!("Bearer {TOKEN}x"),
        TOKEN.into(),
        huge,
    ];
    for auth in shapes {
        let r = reqwest::Client::new()
            .get(format!("{}/metrics", s.base))
            .header("Authorization", auth.as_str())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "Authorization: {auth:.40}");
    }
    let r = scrape(&s.base, Some(TOKEN)).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/plain"));
    let text = r.text().await.expect("text");
    let samples = parse(&text);

    // HTTP series by route template; ids never become labels.
    assert!(!text.contains(&fid) && !text.contains(&aid) && !text.contains(&rid), "ids in /metrics");
    for smp in &samples {
        for v in smp.labels.values() {
            assert!(!has_uuid(v), "a uuid in a label: {smp:?}");
        }
    }
    let analyses_route = find(&samples, "openoz_http_requests_total", &[("method", "POST"), ("status", "201")])
        .into_iter()
        .filter(|s| s.labels["route"] == "/api/folders/{id}/analyses")
        .count();
    assert_eq!(analyses_route, 1, "POST /api/folders/{{id}}/analyses counted once under its template");
    assert!(
        total(&samples, "openoz_http_requests_total", &[("method", "GET"), ("route", "/api/analyses/{id}")]) >= 1.0
    );
    assert!(total(&samples, "openoz_http_requests_total", &[("route", "unmatched"), ("status", "404")]) >= 1.0);
    assert!(
        total(&samples, "openoz_http_request_duration_seconds_count", &[("route", "/api/folders/{id}/analyses")])
            >= 1.0
    );
    assert!(
        !find(
            &samples,
            "openoz_http_request_duration_seconds_bucket",
            &[("route", "/api/folders/{id}/analyses"), ("le", "+Inf")]
        )
        .is_empty()
    );
    // The two refused scrapes.
    assert!(total(&samples, "openoz_http_requests_total", &[("route", "/metrics"), ("status", "401")]) >= 2.0);

    // Analyses and their timings.
    assert!(total(&samples, "openoz_analyses_created_total", &[("type", "QUALITY")]) >= 1.0);
    assert!(total(&samples, "openoz_analyses_started_total", &[("type", "QUALITY")]) >= 1.0);
    assert!(
        total(&samples, "openoz_analyses_finished_total", &[("type", "QUALITY"), ("resolution", resolution.as_str())])
            >= 1.0
    );
    assert!(total(&samples, "openoz_analysis_duration_seconds_count", &[("type", "QUALITY")]) >= 1.0);
    assert!(total(&samples, "openoz_job_wait_seconds_count", &[("type", "QUALITY")]) >= 1.0);
    assert!(total(&samples, "openoz_analysis_latency_seconds_count", &[("type", "QUALITY")]) >= 1.0);

    // Inference by model role, decode by kind and stage.
    // QUALITY runs the detector and the liveness model (BIOMETRY adds the embedder).
    for model in ["detector", "liveness"] {
        assert!(total(&samples, "openoz_inference_seconds_count", &[("model", model)]) >= 1.0, "no {model} timing");
    }
    for smp in find(&samples, "openoz_inference_seconds_count", &[]) {
        let model = smp.labels["model"].as_str();
        assert!(["detector", "embedder", "liveness", "pose", "mesh"].contains(&model), "model label {model}");
    }
    assert!(total(&samples, "openoz_media_decode_seconds_count", &[("kind", "image")]) >= 1.0);
    assert!(total(&samples, "openoz_media_decode_seconds_count", &[("kind", "video")]) >= 1.0);
    for stage in ["open", "decode", "convert"] {
        assert!(total(&samples, "openoz_video_decode_seconds_count", &[("stage", stage)]) >= 1.0, "no {stage} timing");
    }

    // Queue gauges (read from this database at the scrape), webhooks, cache, gates.
    assert_eq!(find(&samples, "openoz_queue_jobs", &[("state", "queued")]).len(), 1);
    assert_eq!(find(&samples, "openoz_queue_jobs", &[("state", "running")]).len(), 1);
    assert_eq!(find(&samples, "openoz_queue_oldest_job_age_seconds", &[]).len(), 1);
    assert_eq!(find(&samples, "openoz_webhook_deliveries_pending", &[]).len(), 1);
    assert!(total(&samples, "openoz_webhook_deliveries_total", &[("outcome", "delivered")]) >= 1.0);
    assert!(total(&samples, "openoz_decode_cache_requests_total", &[("result", "hit")]) >= 1.0);
    assert_eq!(find(&samples, "openoz_admission_rejections_total", &[("reason", "queue_full")]).len(), 1);
    assert_eq!(find(&samples, "openoz_login_throttled_total", &[("reason", "address_rate")]).len(), 1);
    assert_eq!(find(&samples, "openoz_build_info", &[]).len(), 1);
    // Histograms are real Prometheus histograms, not summaries.
    assert!(text.contains("# TYPE openoz_analysis_duration_seconds histogram"), "{text}");

    // The ops files use only series this server exports (plus node exporter's).
    let families: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let root = common::root();
    let dashboard = std::fs::read_to_string(root.join("docs/ops/grafana-dashboard.json")).expect("dashboard");
    let parsed: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| !p.is_empty()), "dashboard without panels");
    let rules = std::fs::read_to_string(root.join("docs/ops/prometheus-rules.yml")).expect("rules");
    for (file, text) in [("grafana-dashboard.json", &dashboard), ("prometheus-rules.yml", &rules)] {
        let names = referenced_names(text);
        assert!(!names.is_empty(), "{file} uses no openoz series");
        for n in names {
            assert!(families.contains(&n), "{file} uses {n}, which /metrics does not export");
        }
    }
}

/// Request ids: echoed when sane, generated when absent, replaced when not sane; on every answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids() {
    let Some(s) = start(Kind::Sqlite, Options::default()).await else { return };
    let client = reqwest::Client::new();
    let id_of =
        |r: &reqwest::Response| r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);

    let r = client
        .get(format!("{}/api/version", s.base))
        .header("X-Request-Id", "client-id_42")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(id_of(&r).as_deref(), Some("client-id_42"));

    let r = client.get(format!("{}/api/version", s.base)).send().await.expect("send");
    let generated = id_of(&r).expect("a generated id");
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    let again = id_of(&client.get(format!("{}/api/version", s.base)).send().await.expect("send")).expect("id");
    assert_ne!(generated, again, "a fresh id per request");

    let long = "a".repeat(oz_http::observe::MAX_REQUEST_ID_LEN + 1);
    // Odd shapes: spaces, too long, a control byte (tab), empty.
    for bad in ["has spaces in it", long.as_str(), "tab\there", ""] {
        let r = client.get(format!("{}/api/version", s.base)).header("X-Request-Id", bad).send().await.expect("send");
        let got = id_of(&r).expect("an id");
        assert!(uuid::Uuid::parse_str(&got).is_ok(), "{bad:?} was not replaced: {got}");
    }
    let longest = "b".repeat(oz_http::observe::MAX_REQUEST_ID_LEN);
    let r = client.get(format!("{}/api/version", s.base)).header("X-Request-Id", &longest).send().await.expect("send");
    assert_eq!(id_of(&r).as_deref(), Some(longest.as_str()));

    // Error answers (unknown route, Lite, refused login) carry it too.
    let r = client.get(format!("{}/nope", s.base)).header("X-Request-Id", "err-1").send().await.expect("send");
    assert_eq!((r.status().as_u16(), id_of(&r).as_deref()), (404, Some("err-1")));
    let r = client
        .post(format!("{}/api/authorize/auth", s.base))
        .header("X-Request-Id", "err-2")
        .json(&json!({ "credentials": { "email": "nobody@example.com", "password": "wrong-password" } }))
        .send()
        .await
        .expect("send");
    assert!(r.status().is_client_error());
    assert_eq!(id_of(&r).as_deref(), Some("err-2"));

    // Without a token setting, /metrics is open on the main listener.
    assert_eq!(scrape(&s.base, None).await.status(), 200);
}

/// `OZ_METRICS_LISTEN`: `/metrics` only on its own listener, which serves nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_listener() {
    let state = oz_http::AppState::new(common::pipeline(), oz_http::LiteConfig::default())
        .with_metrics(MetricsConfig { token: Some(TOKEN.into()), on_main: false });
    let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let side = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (main_base, side_base) = (
        format!("http://{}", main.local_addr().expect("addr")),
        format!("http://{}", side.local_addr().expect("addr")),
    );
    let (stop, rx) = tokio::sync::watch::channel(false);
    let (mut rx1, mut rx2) = (rx.clone(), rx);
    let st = state.clone();
    tokio::spawn(async move { oz_http::serve(main, st, async move { drop(rx1.changed().await) }).await });
    tokio::spawn(async move {
        oz_http::observe::serve_metrics(side, state, async move { drop(rx2.changed().await) }).await
    });

    assert_eq!(reqwest::get(format!("{main_base}/version")).await.expect("send").status(), 200);
    assert_eq!(scrape(&main_base, Some(TOKEN)).await.status(), 404, "not on the main listener");
    assert_eq!(scrape(&side_base, None).await.status(), 401);
    let r = scrape(&side_base, Some(TOKEN)).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let text = r.text().await.expect("text");
    assert!(text.contains("openoz_http_requests_total"), "{text}");
    assert_eq!(reqwest::get(format!("{side_base}/version")).await.expect("send").status(), 404);
    let _ = stop.send(true);
}

#[test]
fn parser_and_uuid_shape() {
    let s = parse("# HELP x y\nx_total{a=\"1\",b=\"q\\\"z\"} 3\ny 0.5\n");
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].labels["b"], "q\"z");
    assert_eq!(s[1].value, 0.5);
    assert!(has_uuid("/api/folders/0b0c4a9e-8d2f-4f4e-9a53-3b7c2f4e9d10/"));
    assert!(!has_uuid("/api/folders/{id}/"));
    let names = referenced_names("rate(openoz_http_request_duration_seconds_bucket[5m]) openoz_queue_jobs");
    assert!(names.contains("openoz_http_request_duration_seconds") && names.contains("openoz_queue_jobs"));
}
