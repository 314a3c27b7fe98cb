//! Issue 19, part 2: one company cannot starve the others, on SQLite and on PostgreSQL.
//!
//! Companies A and C each fill the queue with BIOMETRY analyses of 50 photos (they hold both
//! workers); company B's QUALITY of one photo, queued after them, gets the first worker that frees
//! up (the worker takes the company with the fewest running jobs, then the one served longest ago)
//! and finishes while both backlogs still wait. On the way: an analysis that would take more than
//! 50 media without `source_media` is refused at request time (400, error 4), and a request past
//! the company's queue limit (`OZ_COMPANY_QUEUE_LIMIT`) answers 429 with `Retry-After` and stores
//! nothing.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{C, Kind, Options, TestServer, fixture, login, start};
use oz_engine::render::Urls;
use oz_http::{ApiConfig, AppState, FullApi, LiteConfig};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

/// Photos with one clear face each: every BIOMETRY of A runs its models on all of them.
const PHOTOS: [(&str, &str); 4] = [
    ("faces/live/obama__podium.jpg", "image/jpeg"),
    ("faces/live/obama__portrait.jpg", "image/jpeg"),
    ("faces/live/collins__astronaut.png", "image/png"),
    ("faces/live/biden__full.jpg", "image/jpeg"),
];
/// A's folder: more media than one analysis may take.
const FOLDER_MEDIA: usize = 60;
/// One upload's parts (`OZ_ATTACHMENT_MAX_COUNT` of the test server).
const PER_UPLOAD: usize = 10;
/// A's backlog: one request of the most analyses a request may start.
const BACKLOG: usize = oz_domain::caps::MAX_ANALYSES;

/// `n` photos, parts `p{first}`..., cycling through [`PHOTOS`].
fn photos(first: usize, n: usize) -> Form {
    (first..first + n).fold(Form::new(), |form, i| {
        let (rel, ct) = PHOTOS[i % PHOTOS.len()];
        let ext = rel.rsplit('.').next().unwrap_or("jpg");
        let part = Part::bytes(fixture(rel)).file_name(format!("p{i}.{ext}")).mime_str(ct).expect("mime");
        form.part(format!("p{i}"), part)
    })
}

/// A company and a CLIENT of it; answers the CLIENT's token.
async fn company_user(admin: &C<'_>, email: &str) -> String {
    let (st, c) = admin.post("/api/companies/", json!({ "name": format!("co-{email}") })).await;
    assert_eq!(st, 201, "{c}");
    let body =
        json!({ "email": email, "password": "password-123", "user_type": "CLIENT", "company_id": c["company_id"] });
    let (st, u) = admin.post("/api/users/", body).await;
    assert_eq!(st, 201, "{u}");
    login(admin.s, email, "password-123").await
}

/// A second HTTP front on the test server's database and engine (its workers run the jobs) with
/// `OZ_COMPANY_QUEUE_LIMIT = limit`; it stops when dropped.
struct Front {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn limited_front(s: &TestServer, limit: usize) -> Front {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let api = FullApi {
        db: s.db.clone(),
        engine: s.engine.clone(),
        cfg: ApiConfig {
            urls: Urls { base: base.clone(), links: Some(common::links()) },
            company_queue_limit: limit,
            ..ApiConfig::default()
        },
        dummy_hash: oz_http::api::auth::hash_password("dummy-password".into()).await.expect("hash"),
    };
    let state = AppState::with_api(common::pipeline(), LiteConfig::default(), api);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = oz_http::serve(listener, state, async move {
            let _ = stopped.await;
        })
        .await;
    });
    Front { base, _stop: stop }
}

/// `POST` of JSON to the front: status, `Retry-After` and the body.
async fn post(front: &Front, token: &str, path: &str, body: Value) -> (u16, Option<String>, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", front.base))
        .header("X-Forensic-Access-Token", token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("array").iter().map(|a| a["analysis_id"].as_str().expect("id").to_string()).collect()
}

/// A folder of `n` photos uploaded by `c`: its id and its media ids.
async fn photo_folder(c: &C<'_>, n: usize) -> (String, Vec<String>) {
    let (st, folder) = c.upload("/api/folders/", photos(0, PER_UPLOAD.min(n))).await;
    assert_eq!(st, 201, "{folder}");
    let fid = folder["folder_id"].as_str().expect("folder id").to_string();
    for first in (PER_UPLOAD..n).step_by(PER_UPLOAD) {
        let (st, added) =
            c.upload(&format!("/api/folders/{fid}/media/"), photos(first, PER_UPLOAD.min(n - first))).await;
        assert_eq!(st, 201, "{added}");
    }
    let (st, folder) = c.get(&format!("/api/folders/{fid}/")).await;
    assert_eq!(st, 200, "{folder}");
    let media: Vec<String> = folder["media"]
        .as_array()
        .expect("media")
        .iter()
        .map(|m| m["media_id"].as_str().expect("media id").to_string())
        .collect();
    assert_eq!(media.len(), n);
    (fid, media)
}

/// Analyses whose job still waits in the queue (not claimed yet).
async fn queued(s: &TestServer, analyses: &[String]) -> usize {
    let mut n = 0;
    for id in analyses {
        let (state, _) = s.db.job_of(id.parse().expect("uuid")).await.expect("job");
        n += usize::from(state == "queued");
    }
    n
}

both!(busy_company_does_not_starve_another, busy_company_body);
async fn busy_company_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let a = C { s: &s, token: company_user(&admin, "a@example.com").await };
    let b = C { s: &s, token: company_user(&admin, "b@example.com").await };
    let c = C { s: &s, token: company_user(&admin, "c@example.com").await };
    // Room for a backlog and not one analysis more.
    let front = limited_front(&s, BACKLOG).await;

    // A's folder of 60 photos, C's of 50.
    let (fid, media) = photo_folder(&a, FOLDER_MEDIA).await;
    let (fc, media_c) = photo_folder(&c, oz_domain::caps::MAX_SOURCE_MEDIA).await;
    let analyses_path = format!("/api/folders/{fid}/analyses/");

    // Without source_media an analysis would take all 60 photos: refused before anything is
    // queued, with the limit and the way out in the answer.
    for kind in ["BIOMETRY", "QUALITY"] {
        let (st, _, e) = post(&front, &a.token, &analyses_path, json!({ "analyses": [{ "type": kind }] })).await;
        assert_eq!(st, 400, "{kind}: {e}");
        assert_eq!(e["error_code"], 4, "{e}");
        assert_eq!(e["details"]["limit"], 50, "{e}");
        assert_eq!(e["details"]["media"], FOLDER_MEDIA, "{e}");
        assert!(e["error_message"].as_str().is_some_and(|m| m.contains("source_media")), "{e}");
    }
    let (_, none) = a.get(&analyses_path).await;
    assert_eq!(none, json!([]), "a refused request queues nothing");

    // A's backlog: as many BIOMETRY analyses as a request may start, each on 50 photos (the cap).
    let pick = &media[..oz_domain::caps::MAX_SOURCE_MEDIA];
    let backlog: Vec<Value> = (0..BACKLOG).map(|_| json!({ "type": "BIOMETRY", "source_media": pick })).collect();
    let (st, _, created) = post(&front, &a.token, &analyses_path, json!({ "analyses": backlog })).await;
    assert_eq!(st, 201, "{created}");
    let a_analyses = ids(&created);
    assert_eq!(a_analyses.len(), BACKLOG);
    // C's backlog: as many, all media taken implicitly (50, at the cap).
    let backlog: Vec<Value> = (0..BACKLOG).map(|_| json!({ "type": "BIOMETRY" })).collect();
    let (st, _, created) =
        post(&front, &c.token, &format!("/api/folders/{fc}/analyses/"), json!({ "analyses": backlog })).await;
    assert_eq!(st, 201, "{created}");
    let c_analyses = ids(&created);
    assert_eq!(c_analyses.len(), BACKLOG);
    assert!(
        created
            .as_array()
            .expect("list")
            .iter()
            .all(|a| a["source_media"].as_array().map(Vec::len) == Some(media_c.len()))
    );

    // A is at its limit: 429 with Retry-After, in the Oz error shape, and nothing stored.
    let more = json!({ "analyses": [{ "type": "BIOMETRY", "source_media": pick }] });
    let (st, retry, e) = post(&front, &a.token, &analyses_path, more).await;
    assert_eq!(st, 429, "{e}");
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!(retry >= 1);
    assert_eq!(e["error_code"], 11, "{e}");
    assert_eq!(e["details"]["retry_after"], retry, "{e}");
    assert_eq!(e["details"]["limit"], BACKLOG, "{e}");
    assert!(e["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    let (_, stored) = a.get(&analyses_path).await;
    assert_eq!(stored.as_array().map(Vec::len), Some(BACKLOG), "the refused analysis was not stored");

    // B, another company, is not held by A's limit, and gets the first worker that frees up
    // although A and C queued long before it: both backlogs still wait when B's photo is done.
    let (st, fb) = b.upload("/api/folders/", photos(1, 1)).await;
    assert_eq!(st, 201, "{fb}");
    let fb = fb["folder_id"].as_str().expect("folder id").to_string();
    let (st, _, created) =
        post(&front, &b.token, &format!("/api/folders/{fb}/analyses/"), json!({ "analyses": [{ "type": "QUALITY" }] }))
            .await;
    assert_eq!(st, 201, "{created}");
    let b_id = ids(&created).remove(0);
    // A guard against a hang, not a timing target.
    let deadline = Instant::now() + Duration::from_secs(300);
    let done = loop {
        let (st, an) = b.get(&format!("/api/analyses/{b_id}")).await;
        assert_eq!(st, 200, "{an}");
        if an["state"] != "PROCESSING" {
            break an;
        }
        assert!(Instant::now() < deadline, "B's analysis did not finish: {an}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["state"], "FINISHED", "{done}");
    let (left_a, left_c) = (queued(&s, &a_analyses).await, queued(&s, &c_analyses).await);
    assert!(
        left_a > 0 && left_c > 0,
        "B's one photo waited for a whole backlog: {left_a} of A's and {left_c} of C's analyses still queued"
    );
}
