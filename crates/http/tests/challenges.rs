//! Liveness challenges (issue 20) over real HTTP, on SQLite and on PostgreSQL: issuing
//! (`POST /api/liveness/challenges/` with an access token or an SDK session token), the refusals of
//! forged, foreign, expired, reused and misplaced challenges before any work, the limit on open
//! challenges, and QUALITY verifying synthetic clips (`tests/fixtures/gestures/challenge_*.mp4`):
//! the issued sequence passes; the wrong order, a still photo, a spliced identity and a cut fail,
//! each with the right check. Also what an SDK session token may do with folders (upload its
//! capture, read only that), and folder creation without media (empty folders, the pre-5 routes).

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{C, Kind, Options, company_user, fixture, start};
use oz_domain::challenge::Action;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use uuid::Uuid;

const CHALLENGES: &str = "/api/liveness/challenges/";

fn oz_error(e: &Value, code: i64) {
    assert_eq!(e["error_code"], code, "{e}");
    assert!(e["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
}

/// A folder of `parts` (name, fixture path, content type) uploaded by `c`: (folder id, media ids
/// in upload order).
async fn folder(c: &C<'_>, parts: &[(&str, &str, &str)]) -> (String, Vec<String>) {
    let form = parts.iter().fold(Form::new(), |f, (name, rel, ct)| {
        let file = rel.rsplit('/').next().unwrap_or(rel).to_string();
        f.part(name.to_string(), Part::bytes(fixture(rel)).file_name(file).mime_str(ct).expect("mime"))
    });
    let (st, f) = c.upload("/api/folders/", form).await;
    assert_eq!(st, 201, "{f}");
    let media = f["media"].as_array().expect("media").iter().map(|m| m["media_id"].as_str().expect("id").to_string());
    (f["folder_id"].as_str().expect("folder id").to_string(), media.collect())
}

fn quality(media: &str, challenge: &str) -> Value {
    json!({ "analyses": [{ "type": "QUALITY", "source_media": [media],
        "params": { "challenge_id": challenge, "extract_best_shot": false, "threshold_spoofing": 1.0 } }] })
}

both!(challenges_are_issued_and_refused_before_any_work, issue_body);
async fn issue_body(kind: Kind) {
    let opts = Options { challenge_max_open: 7, ..Options::default() };
    let Some(s) = start(kind, opts).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (ca, ua, ta) = company_user(&admin, "a@example.com", "CLIENT").await;
    let (_, _, tb) = company_user(&admin, "b@example.com", "CLIENT").await;
    let (_, _, top) = company_user(&admin, "op@example.com", "CLIENT_OPERATOR").await;
    let a = C { s: &s, token: ta };
    let b = C { s: &s, token: tb };

    // Issued: 2-4 actions, no repeats in a row, at least one head movement, in plain words too,
    // valid 120 s, the caller's company.
    let r = a.req(reqwest::Method::POST, CHALLENGES).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 201);
    let text = r.text().await.expect("text");
    let c: Value = serde_json::from_str(&text).expect("json");
    let actions: Vec<Action> = c["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| Action::parse(a.as_str().expect("name")).expect("known action"))
        .collect();
    assert!((2..=4).contains(&actions.len()), "{c}");
    assert!(actions.windows(2).all(|w| w[0] != w[1]), "{c}");
    assert!(actions.iter().any(|a| !matches!(a, Action::Blink | Action::Smile)), "a head movement: {c}");
    assert_eq!(c["instructions"].as_array().map(Vec::len), Some(actions.len()));
    let ttl = c["expires_at"].as_f64().expect("expires_at") - c["time_created"].as_f64().expect("time_created");
    assert!((ttl - 120.0).abs() < 1e-6, "{c}");
    assert_eq!(c["company_id"].as_str(), Some(ca.to_string().as_str()));
    // Random: four more are not all the same sequence.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..4 {
        let (st, x) = a.post(CHALLENGES, json!({})).await;
        assert_eq!(st, 201, "{x}");
        seen.insert(x["actions"].to_string());
    }
    assert!(seen.len() > 1, "four draws, one sequence: {seen:?}");

    // An SDK session token may ask too; no token, a bad token and OPERATOR roles may not.
    let (st, v) = a.get("/api/authorize/session_token").await;
    assert_eq!(st, 200, "{v}");
    let session = C { s: &s, token: v["session_token"].as_str().expect("session token").to_string() };
    let (st, x) = session.post(CHALLENGES, json!({})).await;
    assert_eq!(st, 201, "{x}");
    assert_eq!(x["company_id"].as_str(), Some(ca.to_string().as_str()));
    let r = reqwest::Client::new().post(format!("{}{CHALLENGES}", s.base)).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let (st, e) = C { s: &s, token: "forged.token.value".into() }.post(CHALLENGES, json!({})).await;
    assert_eq!(st, 401, "{e}");
    let (st, e) = C { s: &s, token: top }.post(CHALLENGES, json!({})).await;
    assert_eq!(st, 403, "{e}");
    oz_error(&e, 9);
    // Without the trailing slash too.
    let (st, _) = a.post(CHALLENGES.trim_end_matches('/'), json!({})).await;
    assert_eq!(st, 201);

    // At the limit of open challenges (7; used ones do not count): 429 with Retry-After.
    let r = a.req(reqwest::Method::POST, CHALLENGES).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_some());
    oz_error(&r.json().await.expect("json"), 11);
    // Another company is not held by A's limit.
    let (st, cb) = b.post(CHALLENGES, json!({})).await;
    assert_eq!(st, 201, "{cb}");

    // Refusals before any work: nothing is queued, and the challenge stays usable.
    let (fid, media) = folder(
        &a,
        &[
            ("video", "gestures/gesture_left.mp4", "video/mp4"),
            ("photo", "faces/live/obama__portrait.jpg", "image/jpeg"),
        ],
    )
    .await;
    let path = format!("/api/folders/{fid}/analyses/");
    let mine = s.db.create_challenge(Some(ca), ua, &[Action::TurnLeft, Action::Smile], 120.0).await.expect("row");
    let expired = s.db.create_challenge(Some(ca), ua, &[Action::TurnLeft, Action::Smile], -1.0).await.expect("row");
    let cases = [
        (quality(&media[0], cb["challenge_id"].as_str().expect("id")), "no such challenge"),
        (quality(&media[0], &Uuid::new_v4().to_string()), "no such challenge"),
        (quality(&media[0], "not-a-uuid"), "UUID"),
        (quality(&media[0], &expired.id.to_string()), "expired"),
        (quality(&media[1], &mine.id.to_string()), "one video"),
        (
            json!({ "analyses": [{ "type": "BIOMETRY", "source_media": [media[0].clone(), media[1].clone()],
                "params": { "challenge_id": mine.id.to_string() } }] }),
            "QUALITY",
        ),
        (
            json!({ "analyses": [quality(&media[0], &mine.id.to_string())["analyses"][0].clone(),
                quality(&media[0], &mine.id.to_string())["analyses"][0].clone()] }),
            "one analysis",
        ),
    ];
    for (body, says) in cases {
        let (st, e) = a.post(&path, body.clone()).await;
        assert_eq!(st, 400, "{body}: {e}");
        oz_error(&e, 4);
        assert!(e["error_message"].as_str().is_some_and(|m| m.contains(says)), "{says}: {e}");
    }
    let (_, none) = a.get(&path).await;
    assert_eq!(none, json!([]), "refused requests queue nothing");

    // The Instant API verifies challenges too (nothing stored): a clip of a left turn only is
    // DECLINED, and the challenge is then used.
    let instant = s.db.create_challenge(Some(ca), ua, &[Action::TurnLeft, Action::Smile], 120.0).await.expect("row");
    let payload = json!({ "media:tags": { "video": ["video_selfie", "video_selfie_blank"] },
        "analyses": [{ "type": "QUALITY", "params": { "challenge_id": instant.id.to_string(), "threshold_spoofing": 1.0 } }] });
    let form = || {
        Form::new()
            .part(
                "video",
                Part::bytes(fixture("gestures/gesture_left.mp4"))
                    .file_name("v.mp4")
                    .mime_str("video/mp4")
                    .expect("mime"),
            )
            .text("payload", payload.to_string())
    };
    let (st, f) = a.upload("/api/instant/folders/", form()).await;
    assert_eq!(st, 201, "{f}");
    let an = &f["analyses"][0];
    assert_eq!(an["resolution_status"], "DECLINED", "{an}");
    assert_eq!(an["confs"]["challenge"]["actions"], json!(["turn_left", "smile"]), "{an}");
    let ch = &an["results_media"][0]["results_data"]["challenge"];
    assert_eq!((ch["passed"].as_bool(), ch["actions"][0]["detected"].as_bool()), (Some(false), Some(true)), "{ch}");
    let (st, e) = a.upload("/api/instant/folders/", form()).await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error_message"].as_str().is_some_and(|m| m.contains("already used")), "{e}");
    // Another company's challenge is unknown to Instant callers too.
    let payload_b = json!({ "media:tags": { "video": ["video_selfie", "video_selfie_blank"] },
        "analyses": [{ "type": "QUALITY", "params": { "challenge_id": cb["challenge_id"] } }] });
    let form_b = Form::new()
        .part(
            "video",
            Part::bytes(fixture("gestures/gesture_left.mp4")).file_name("v.mp4").mime_str("video/mp4").expect("mime"),
        )
        .text("payload", payload_b.to_string());
    let (st, e) = a.upload("/api/instant/folders/", form_b).await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error_message"].as_str().is_some_and(|m| m.contains("no such challenge")), "{e}");

    // Used once: the second analysis naming it is refused.
    let (st, created) = a.post(&path, quality(&media[0], &mine.id.to_string())).await;
    assert_eq!(st, 201, "{created}");
    let (st, e) = a.post(&path, quality(&media[0], &mine.id.to_string())).await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error_message"].as_str().is_some_and(|m| m.contains("already used")), "{e}");
    assert_eq!(created[0]["confs"]["challenge"]["challenge_id"], json!(mine.id.to_string()), "{created}");
    // The verdict of a clip that shows only a left turn: DECLINED, the smile not seen.
    let done = wait(&a, created[0]["analysis_id"].as_str().expect("id")).await;
    let ch = &done["results_media"][0]["results_data"]["challenge"];
    assert_eq!(done["resolution_status"], "DECLINED", "{done}");
    assert_eq!(ch["passed"], false, "{ch}");
    assert_eq!(ch["actions"][0]["action"], "turn_left", "{ch}");
    assert_eq!(ch["actions"][0]["detected"], true, "{ch}");
    assert_eq!(ch["actions"][1]["detected"], false, "{ch}");
    assert!(ch["reason"].as_str().is_some_and(|r| r.contains("smile")), "{ch}");
}

/// Polls an analysis until it leaves PROCESSING (a guard against a hang, not a timing target).
async fn wait(c: &C<'_>, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (st, an) = c.get(&format!("/api/analyses/{id}")).await;
        assert_eq!(st, 200, "{an}");
        if an["state"] != "PROCESSING" {
            return an;
        }
        assert!(Instant::now() < deadline, "analysis did not finish: {an}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both!(quality_verifies_the_challenge_on_the_clip, verify_body);
async fn verify_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (ca, ua, ta) = company_user(&admin, "a@example.com", "CLIENT").await;
    let a = C { s: &s, token: ta };
    let issued = [Action::TurnLeft, Action::Smile, Action::LookUp];
    // The clip shows the issued sequence: SUCCESS (the passive threshold set to 1 here: these are
    // warped photos), every check passed and reported.
    let (fid, media) = folder(&a, &[("video", "gestures/challenge_left_smile_up.mp4", "video/mp4")]).await;
    let path = format!("/api/folders/{fid}/analyses/");
    let c = s.db.create_challenge(Some(ca), ua, &issued, 120.0).await.expect("row");
    let (st, created) = a.post(&path, quality(&media[0], &c.id.to_string())).await;
    assert_eq!(st, 201, "{created}");
    let done = wait(&a, created[0]["analysis_id"].as_str().expect("id")).await;
    assert_eq!(done["resolution_status"], "SUCCESS", "{done}");
    let ch = &done["results_media"][0]["results_data"]["challenge"];
    assert_eq!(ch["challenge_id"], json!(c.id.to_string()), "{ch}");
    assert_eq!(ch["passed"], true, "{ch}");
    for k in ["order_ok", "identity_ok", "continuity_ok", "depth_ok"] {
        assert_eq!(ch[k], true, "{k}: {ch}");
    }
    let names: Vec<&str> =
        ch["actions"].as_array().expect("actions").iter().filter_map(|x| x["action"].as_str()).collect();
    assert_eq!(names, ["turn_left", "smile", "look_up"], "{ch}");
    assert!(
        ch["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .all(|x| x["frames"].as_array().is_some_and(|f| !f.is_empty()))
    );
    assert_eq!(ch["reason"], Value::Null, "{ch}");

    // Single request: the same check on a clip in the wrong order, DECLINED whatever the
    // texture score; the challenge is claimed before the folder is written.
    let c = s.db.create_challenge(Some(ca), ua, &issued, 120.0).await.expect("row");
    let payload = json!({
        "media:tags": { "video": ["video_selfie", "video_selfie_blank"] },
        "analyses": [{ "type": "QUALITY", "params": { "challenge_id": c.id.to_string(), "threshold_spoofing": 1.0 } }],
    });
    let form = Form::new()
        .part(
            "video",
            Part::bytes(fixture("gestures/challenge_up_smile_left.mp4"))
                .file_name("clip.mp4")
                .mime_str("video/mp4")
                .expect("mime"),
        )
        .text("payload", payload.to_string());
    let (st, f) = a.upload("/api/folders/", form).await;
    assert_eq!(st, 201, "{f}");
    let an = &f["analyses"][0];
    assert_eq!(an["resolution_status"], "DECLINED", "{an}");
    let ch = &an["results_media"][0]["results_data"]["challenge"];
    assert_eq!((ch["passed"].as_bool(), ch["order_ok"].as_bool()), (Some(false), Some(false)), "{ch}");
    assert!(ch["reason"].as_str().is_some_and(|r| r.contains("out of order")), "{ch}");
    // Used by that request: a second single request with it stores nothing.
    let before = s.db.folders(&oz_storage::folders::FolderFilter::new(oz_domain::access::Scope::All), true).await;
    let form = Form::new()
        .part(
            "video",
            Part::bytes(fixture("gestures/challenge_left_smile_up.mp4"))
                .file_name("clip.mp4")
                .mime_str("video/mp4")
                .expect("mime"),
        )
        .text("payload", payload.to_string());
    let (st, e) = a.upload("/api/folders/", form).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
    let after = s.db.folders(&oz_storage::folders::FolderFilter::new(oz_domain::access::Scope::All), true).await;
    assert_eq!(before.expect("folders").1, after.expect("folders").1, "no folder stored");

    // Another person spliced in: DECLINED on identity.
    let (fid, media) = folder(&a, &[("video", "gestures/challenge_spliced_identity.mp4", "video/mp4")]).await;
    let c = s.db.create_challenge(Some(ca), ua, &issued, 120.0).await.expect("row");
    let (st, created) = a.post(&format!("/api/folders/{fid}/analyses/"), quality(&media[0], &c.id.to_string())).await;
    assert_eq!(st, 201, "{created}");
    let done = wait(&a, created[0]["analysis_id"].as_str().expect("id")).await;
    assert_eq!(done["resolution_status"], "DECLINED", "{done}");
    assert_eq!(done["results_media"][0]["results_data"]["challenge"]["identity_ok"], false, "{done}");
}

async fn session_token(c: &C<'_>) -> String {
    let (st, v) = c.get("/api/authorize/session_token").await;
    assert_eq!(st, 200, "{v}");
    v["session_token"].as_str().expect("session token").to_string()
}

fn clip_form(rel: &str, payload: &Value) -> Form {
    Form::new()
        .part("video", Part::bytes(fixture(rel)).file_name("clip.mp4").mime_str("video/mp4").expect("mime"))
        .text("payload", payload.to_string())
}

both!(a_session_token_uploads_its_capture_and_reads_only_that, capture_folder_body);
async fn capture_folder_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, _, ta) = company_user(&admin, "a@example.com", "CLIENT").await;
    let a = C { s: &s, token: ta };
    let session = C { s: &s, token: session_token(&a).await };
    let other_session = C { s: &s, token: session_token(&a).await };
    let count = || async {
        s.db.folders(&oz_storage::folders::FolderFilter::new(oz_domain::access::Scope::All), true)
            .await
            .expect("folders")
            .1
    };
    let before = count().await;

    // Refused before anything is stored: a plain upload, analyses without a challenge, a
    // resolution_endpoint (the browser would choose where the result goes).
    let plain = json!({ "media:tags": { "video": ["video_selfie", "video_selfie_blank"] } });
    let no_challenge = json!({ "media:tags": { "video": ["video_selfie", "video_selfie_blank"] },
        "analyses": [{ "type": "QUALITY" }] });
    let (st, c) = session.post(CHALLENGES, json!({})).await;
    assert_eq!(st, 201, "{c}");
    let challenge = c["challenge_id"].as_str().expect("id").to_string();
    let with_hook = json!({ "media:tags": { "video": ["video_selfie", "video_selfie_blank"] },
        "resolution_endpoint": "https://example.com/hook",
        "analyses": [{ "type": "QUALITY", "params": { "challenge_id": challenge } }] });
    for payload in [&plain, &no_challenge, &with_hook] {
        let (st, e) = session.upload("/api/folders/", clip_form("gestures/challenge_left_smile_up.mp4", payload)).await;
        assert_eq!(st, 403, "{payload}: {e}");
        oz_error(&e, 9);
    }
    assert_eq!(count().await, before, "nothing stored");
    // The challenge was not used by the refusals.
    let row = s.db.challenge(challenge.parse().expect("uuid")).await.expect("row").expect("exists");
    assert!(row.used_at.is_none());

    // The capture: a QUALITY analysis with the challenge this session opened. The clip performs
    // another sequence, so the verdict is DECLINED, and it is the session's to read back.
    let payload = json!({ "media:tags": { "video": ["video_selfie", "video_selfie_blank"] },
        "analyses": [{ "type": "QUALITY", "params": { "challenge_id": challenge, "threshold_spoofing": 1.0 } }] });
    let (st, f) = session.upload("/api/folders/", clip_form("gestures/challenge_left_smile_up.mp4", &payload)).await;
    assert_eq!(st, 201, "{f}");
    let fid = f["folder_id"].as_str().expect("folder id").to_string();
    assert_eq!(f["analyses"][0]["state"], "FINISHED", "{f}");
    assert!(f["analyses"][0]["results_media"][0]["results_data"]["challenge"].is_object(), "{f}");
    let (st, got) = session.get(&format!("/api/folders/{fid}/?with_analyses=true")).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["folder_id"], json!(fid));
    assert_eq!(got["analyses"][0]["analysis_id"], f["analyses"][0]["analysis_id"], "{got}");
    // The company's back end reads it with its own token too (it is the company's folder).
    let (st, mine) = a.get(&format!("/api/folders/{fid}/")).await;
    assert_eq!(st, 200, "{mine}");

    // Another session token of the same user reads neither it nor the user's other folders; the
    // session token lists nothing and cannot delete.
    let (st, e) = other_session.get(&format!("/api/folders/{fid}/")).await;
    assert_eq!(st, 404, "{e}");
    let (theirs, _) = folder(&a, &[("video", "gestures/challenge_left_smile_up.mp4", "video/mp4")]).await;
    let (st, e) = session.get(&format!("/api/folders/{theirs}/")).await;
    assert_eq!(st, 404, "{e}");
    let (st, e) = session.get(&format!("/api/folders/{}/", Uuid::new_v4())).await;
    assert_eq!(st, 404, "{e}");
    let (st, e) = session.get("/api/folders/").await;
    assert_eq!(st, 401, "{e}");
    assert_eq!(session.delete(&format!("/api/folders/{fid}/")).await, 401);
    let (st, e) = session.get(&format!("/api/folders/{fid}/media/")).await;
    assert!(st == 401 || st == 404 || st == 405, "{st} {e}");

    // A forged session token (its signature changed) opens neither the upload nor the folder:
    // 401 error 7, before the body is read.
    let mut forged: Vec<char> = session.token.chars().collect();
    let k = forged.len() - 5;
    forged[k] = if forged[k] == 'A' { 'B' } else { 'A' };
    let forged = C { s: &s, token: forged.into_iter().collect() };
    let (st, e) = forged.upload("/api/folders/", clip_form("gestures/challenge_left_smile_up.mp4", &payload)).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 7);
    let (st, e) = forged.get(&format!("/api/folders/{fid}/")).await;
    assert_eq!(st, 401, "{e}");
    oz_error(&e, 7);

    // Deleting the folder takes its capture binding with it.
    assert_eq!(admin.delete(&format!("/api/folders/{fid}/")).await, 204);
    assert_eq!(s.db.capture_session_of(fid.parse().expect("uuid")).await.expect("query"), None);
}

both!(empty_folders_and_the_pre_5_routes, empty_folder_body);
async fn empty_folder_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, _, ta) = company_user(&admin, "a@example.com", "CLIENT").await;
    let a = C { s: &s, token: ta };
    // No body: an empty folder (201), to which media are added afterwards.
    let r = a.req(reqwest::Method::POST, "/api/folders/").send().await.expect("send");
    assert_eq!(r.status().as_u16(), 201);
    let f: Value = r.json().await.expect("json");
    assert_eq!(f["media"], json!([]), "{f}");
    let fid = f["folder_id"].as_str().expect("id").to_string();
    let form = Form::new().part(
        "photo1",
        Part::bytes(fixture("faces/live/obama__portrait.jpg")).file_name("p.jpg").mime_str("image/jpeg").expect("mime"),
    );
    let (st, m) = a.upload(&format!("/api/folders/{fid}/media/"), form).await;
    assert_eq!(st, 201, "{m}");
    let (_, got) = a.get(&format!("/api/folders/{fid}/")).await;
    assert_eq!(got["media"].as_array().map(Vec::len), Some(1), "{got}");
    // A multipart body with only the payload: the same, with its metadata.
    let form = Form::new().text("payload", json!({ "folder:meta_data": { "case": 7 } }).to_string());
    let (st, f) = a.upload("/api/folders/", form).await;
    assert_eq!(st, 201, "{f}");
    assert_eq!((f["media"].clone(), f["meta_data"]["case"].clone()), (json!([]), json!(7)), "{f}");
    // Analyses need media: refused, nothing stored.
    let form = Form::new().text("payload", json!({ "analyses": [{ "type": "QUALITY" }] }).to_string());
    let (st, e) = a.upload("/api/folders/", form).await;
    assert_eq!(st, 400, "{e}");
    // A JSON body is not an upload: 400 error 3.
    let (st, e) = a.post("/api/folders/", json!({ "folder:meta_data": {} })).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 3);
    // The pre-5 image routes are gone in Oz 6 (spec §5.2 has only /media/): Oz's "no such route".
    for path in [format!("/api/folders/{fid}/images/"), format!("/api/folders/{fid}/images")] {
        let r = a.req(reqwest::Method::POST, &path).send().await.expect("send");
        assert_eq!(r.status().as_u16(), 404, "{path}");
        let e: Value = r.json().await.expect("json");
        oz_error(&e, 10);
    }
    // A session token gets no empty folder.
    let session = C { s: &s, token: session_token(&a).await };
    let r = session.req(reqwest::Method::POST, "/api/folders/").send().await.expect("send");
    assert_eq!(r.status().as_u16(), 403);
}
