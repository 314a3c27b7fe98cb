//! SDK telemetry sessions (`/api/event_sessions/`, spec §15) on SQLite and PostgreSQL: opening a
//! session and appending to it with an access token or an SDK session token, Oz's list filters,
//! tenant isolation, and every limit (events per request and per session, names, data, types).

#[macro_use]
mod common;

use common::{C, Kind, Options, company_user, start};
use serde_json::{Value, json};

const SESSIONS: &str = "/api/event_sessions/";

fn oz_error(e: &Value, code: i64) {
    assert_eq!(e["error_code"], code, "{e}");
    assert!(e["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|s| s["session_id"].as_str().expect("id").to_string()).collect()
}

async fn sessions_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (company, user, token) = company_user(&admin, "events@example.com", "CLIENT").await;
    let client = C { s: &s, token };
    let (_, _, other) = company_user(&admin, "other-events@example.com", "CLIENT").await;
    let other = C { s: &s, token: other };

    // Open with two events; the answer names the owner, counts the events, keeps meta_data's order.
    let body = json!({
        "meta_data": { "sdk": "openoz-web", "app": "demo" },
        "events": [
            { "event": "capture_started", "timemark": 1_733_600_000.25, "data": { "camera": "front", "a": 1 } },
            { "event": "precheck", "data": { "hint": "too_dark" } },
        ],
    });
    let (st, first) = client.post(SESSIONS, body).await;
    assert_eq!(st, 201, "{first}");
    assert_eq!(first["events_count"], 2);
    assert_eq!(first["company_id"], company.to_string());
    assert_eq!(first["user_id"], user.to_string());
    let keys: Vec<&String> = first["meta_data"].as_object().expect("meta").keys().collect();
    assert_eq!(keys, ["sdk", "app"]);
    let id = first["session_id"].as_str().expect("id").to_string();

    // Append: the count grows and the events keep the order sent.
    let more =
        json!({ "events": [{ "event": "action_shown", "data": { "action": "blink" } }, { "event": "upload_done" }] });
    let (st, after) = client.post(&format!("{SESSIONS}{id}/events/"), more).await;
    assert_eq!(st, 200, "{after}");
    assert_eq!(after["events_count"], 4);
    let (st, full) = client.get(&format!("{SESSIONS}{id}/")).await;
    assert_eq!(st, 200, "{full}");
    let names: Vec<&str> =
        full["events"].as_array().expect("events").iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(names, ["capture_started", "precheck", "action_shown", "upload_done"]);
    assert_eq!(full["events"][0]["timemark"], 1_733_600_000.25);
    assert_eq!(full["events"][0]["data"], json!({ "camera": "front", "a": 1 }));
    assert!(full["events"][1]["timemark"].as_f64().is_some_and(|t| t > 1.7e9), "defaults to now: {full}");

    // An SDK session token opens its own sessions and appends to them only.
    let (st, v) = client.get("/api/authorize/session_token").await;
    assert_eq!(st, 200, "{v}");
    let sdk = C { s: &s, token: v["session_token"].as_str().expect("session token").to_string() };
    let (st, mine) = sdk.post(SESSIONS, json!({ "events": [{ "event": "capture_started" }] })).await;
    assert_eq!(st, 201, "{mine}");
    assert_eq!(mine["company_id"], company.to_string());
    let mine_id = mine["session_id"].as_str().expect("id").to_string();
    let (st, _) = sdk.post(&format!("{SESSIONS}{mine_id}/events/"), json!({ "events": [{ "event": "x" }] })).await;
    assert_eq!(st, 200);
    let (st, e) = sdk.post(&format!("{SESSIONS}{id}/events/"), json!({ "events": [{ "event": "x" }] })).await;
    assert_eq!(st, 404, "not the token's own session: {e}");
    oz_error(&e, 10);
    let (st, _) = sdk.get(SESSIONS).await;
    assert_eq!(st, 401, "reading takes an access token");

    // The list: Oz's filters.
    let (st, page) = client.get(SESSIONS).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["total"], 2);
    assert_eq!(ids(&page), [mine_id.as_str(), id.as_str()], "newest first");
    let (_, page) = client.get(&format!("{SESSIONS}?session_id={id}")).await;
    assert_eq!(ids(&page), [id.as_str()]);
    let (_, page) = client.get(&format!("{SESSIONS}?session_id.exclude={id}")).await;
    assert_eq!(ids(&page), [mine_id.as_str()]);
    let (_, page) = client.get(&format!("{SESSIONS}?sorting=time_created{{asc}}&total_omit=true&limit=1")).await;
    assert_eq!(ids(&page), [id.as_str()]);
    assert!(page.get("total").is_none(), "{page}");
    let t = first["time_created"].as_f64().expect("time");
    let (_, page) = client.get(&format!("{SESSIONS}?time_created.max={}", t - 1.0)).await;
    assert!(ids(&page).is_empty(), "{page}");
    let (_, page) = client.get(&format!("{SESSIONS}?time_updated.min={}", t - 1.0)).await;
    assert_eq!(ids(&page).len(), 2);

    // Another company sees nothing of it; the admin sees everything.
    let (st, e) = other.get(&format!("{SESSIONS}{id}/")).await;
    assert_eq!(st, 404, "{e}");
    oz_error(&e, 10);
    let (st, _) = other.post(&format!("{SESSIONS}{id}/events/"), json!({ "events": [{ "event": "x" }] })).await;
    assert_eq!(st, 404);
    let (_, page) = other.get(SESSIONS).await;
    assert!(ids(&page).is_empty(), "{page}");
    let (_, page) = admin.get(SESSIONS).await;
    assert_eq!(page["total"], 2);
}

both!(sessions, sessions_body);

async fn refusals_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, _, token) = company_user(&admin, "events-limits@example.com", "CLIENT").await;
    let c = C { s: &s, token };
    let refused = |body: Value, code: i64| {
        let c = &c;
        async move {
            let (st, e) = c.post(SESSIONS, body.clone()).await;
            assert_eq!(st, 400, "{body} -> {e}");
            oz_error(&e, code);
        }
    };
    let many: Vec<Value> = (0..101).map(|i| json!({ "event": format!("e{i}") })).collect();
    refused(json!({ "events": many }), 4).await;
    refused(json!({ "events": [{ "event": "has space" }] }), 4).await;
    refused(json!({ "events": [{ "event": "" }] }), 4).await;
    refused(json!({ "events": [{ "event": "x".repeat(65) }] }), 4).await;
    refused(json!({ "events": [{ "event": "x", "data": [1, 2] }] }), 4).await;
    refused(json!({ "events": [{ "event": "x", "timemark": -5 }] }), 4).await;
    refused(json!({ "events": [{ "data": {} }] }), 3).await;
    refused(json!({ "events": "x" }), 5).await;
    refused(json!({ "events": [{ "event": 7 }] }), 5).await;
    refused(json!({ "meta_data": [1] }), 4).await;
    let r = c.req(reqwest::Method::POST, SESSIONS).body("{not json").send().await.expect("send");
    assert_eq!(r.status(), 400);
    oz_error(&r.json().await.expect("json"), 3);
    // Nothing was stored by the refusals.
    let (_, page) = c.get(SESSIONS).await;
    assert_eq!(page["total"], 0, "{page}");

    // A session holds at most 2000 events.
    let hundred: Vec<Value> = (0..100).map(|i| json!({ "event": "tick", "data": { "i": i } })).collect();
    let (st, v) = c.post(SESSIONS, json!({ "events": hundred })).await;
    assert_eq!(st, 201, "{v}");
    let id = v["session_id"].as_str().expect("id").to_string();
    for _ in 1..20 {
        let (st, v) = c.post(&format!("{SESSIONS}{id}/events/"), json!({ "events": hundred })).await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, e) = c.post(&format!("{SESSIONS}{id}/events/"), json!({ "events": [{ "event": "tick" }] })).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
    assert_eq!(e["details"]["limit"], 2000);
    let (_, full) = c.get(&format!("{SESSIONS}{id}/")).await;
    assert_eq!(full["events_count"], 2000);
    assert_eq!(full["events"].as_array().map(Vec::len), Some(2000));
    let (st, e) = c.get(&format!("{SESSIONS}not-a-uuid/")).await;
    assert_eq!(st, 404, "{e}");
}

both!(refusals, refusals_body);

/// A stolen SDK session token (or a noisy client) cannot fill the table: each token opens at most
/// `OZ_EVENT_SESSIONS_PER_TOKEN` sessions and each company `OZ_EVENT_SESSIONS_PER_DAY` a day; past
/// either, 429 with Retry-After and nothing stored, while appending to an open session still works
/// and another company is not affected.
async fn caps_body(kind: Kind) {
    let opts =
        Options { event_sessions: oz_http::state::EventSessionCaps { per_day: 5, per_token: 3 }, ..Options::default() };
    let Some(s) = start(kind, opts).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, _, token) = company_user(&admin, "events-caps@example.com", "CLIENT").await;
    let client = C { s: &s, token };
    let (_, _, other) = company_user(&admin, "events-caps-other@example.com", "CLIENT").await;
    let other = C { s: &s, token: other };
    let open = |c: &C<'_>| {
        let r = c.req(reqwest::Method::POST, SESSIONS).json(&json!({ "events": [{ "event": "capture_started" }] }));
        async move { r.send().await.expect("send") }
    };
    let (st, v) = client.get("/api/authorize/session_token").await;
    assert_eq!(st, 200, "{v}");
    let sdk = C { s: &s, token: v["session_token"].as_str().expect("session token").to_string() };

    let mut last = String::new();
    for _ in 0..3 {
        let r = open(&sdk).await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("json");
        last = v["session_id"].as_str().expect("id").to_string();
    }
    let r = open(&sdk).await;
    assert_eq!(r.status(), 429, "the token's fourth session");
    assert!(r.headers().get("retry-after").is_some());
    let e: Value = r.json().await.expect("json");
    assert!(e["error_message"].as_str().is_some_and(|m| m.contains("OZ_EVENT_SESSIONS_PER_TOKEN")), "{e}");
    let (st, v) = sdk.post(&format!("{SESSIONS}{last}/events/"), json!({ "events": [{ "event": "x" }] })).await;
    assert_eq!(st, 200, "appending is not opening: {v}");

    // The company's day: 3 by the token + 2 by the access token = 5; the sixth is refused.
    for _ in 0..2 {
        assert_eq!(open(&client).await.status(), 201);
    }
    let r = open(&client).await;
    assert_eq!(r.status(), 429);
    let e: Value = r.json().await.expect("json");
    assert!(e["error_message"].as_str().is_some_and(|m| m.contains("OZ_EVENT_SESSIONS_PER_DAY")), "{e}");
    let (_, page) = client.get(SESSIONS).await;
    assert_eq!(page["total"], 5, "nothing stored by the refusals: {page}");
    assert_eq!(open(&other).await.status(), 201, "another company has its own count");
}

both!(caps, caps_body);
