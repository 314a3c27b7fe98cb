//! Operator decisions on SQLite and PostgreSQL: an OPERATOR_REQUIRED BIOMETRY (a band is
//! configured) closed by a CLIENT OPERATOR, overridden by an OPERATOR, refused to ADMIN and
//! others; folder fields, the webhook sent again, and the audit trail.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{C, Kind, Options, fixture, login, receiver, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

fn photo(rel: &str, key: &str) -> Part {
    let _ = key;
    Part::bytes(fixture(rel))
        .file_name(rel.rsplit('/').next().unwrap_or(rel).to_string())
        .mime_str("image/jpeg")
        .expect("mime")
}

async fn user(admin: &C<'_>, company: Option<&str>, email: &str, user_type: &str) -> (String, String) {
    let mut body = json!({ "email": email, "password": "password-123", "user_type": user_type });
    if let Some(c) = company {
        body["company_id"] = json!(c);
    }
    let (st, u) = admin.post("/api/users/", body).await;
    assert_eq!(st, 201, "{u}");
    (u["user_id"].as_str().expect("id").to_string(), login(admin.s, email, "password-123").await)
}

async fn finished(c: &C<'_>, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (st, a) = c.get(&format!("/api/analyses/{id}")).await;
        assert_eq!(st, 200, "{a}");
        if a["resolution_status"] != "PROCESSING" {
            return a;
        }
        assert!(Instant::now() < deadline, "{a}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn hooks_at_least(hooks: &std::sync::Arc<std::sync::Mutex<Vec<common::Hook>>>, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got: Vec<Value> =
            hooks.lock().expect("lock").iter().map(|h| serde_json::from_slice(&h.body).expect("json body")).collect();
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "{} webhooks, expected {n}", got.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both!(operator_decisions, operator_decisions_body);
async fn operator_decisions_body(kind: Kind) {
    // A band: same-person scores (about 0.95) fall between decline 0.5 and approve 0.99.
    let thresholds = oz_domain::decision::DecisionThresholds::new(0.99, 0.5).expect("valid");
    let Some(s) = start(kind, Options { thresholds, ..Options::default() }).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (st, co) = admin.post("/api/companies/", json!({ "name": "bank" })).await;
    assert_eq!(st, 201);
    let cid = co["company_id"].as_str().expect("id").to_string();
    let (st, other) = admin.post("/api/companies/", json!({ "name": "other" })).await;
    assert_eq!(st, 201);
    let other_id = other["company_id"].as_str().expect("id").to_string();
    let (_, client) = user(&admin, Some(&cid), "client@bank.test", "CLIENT").await;
    let (cop_id, cop) = user(&admin, Some(&cid), "cop@bank.test", "CLIENT_OPERATOR").await;
    let (_, cadmin) = user(&admin, Some(&cid), "cadmin@bank.test", "CLIENT_ADMIN").await;
    let (_, other_cop) = user(&admin, Some(&other_id), "cop@other.test", "CLIENT_OPERATOR").await;
    let (op_id, op) = user(&admin, None, "op@oz.test", "OPERATOR").await;
    let (client, cop, cadmin, other_cop, op) = (
        C { s: &s, token: client },
        C { s: &s, token: cop },
        C { s: &s, token: cadmin },
        C { s: &s, token: other_cop },
        C { s: &s, token: op },
    );

    let (hook_url, hooks) = receiver(0).await;
    let form = Form::new()
        .part("photo1", photo("faces/live/obama__portrait.jpg", "photo1"))
        .part("photo2", photo("faces/live/obama__podium.jpg", "photo2"))
        .part(
            "payload",
            Part::text(
                json!({
                    "media:tags": { "photo1": ["photo_selfie"], "photo2": ["photo_id", "photo_id_front"] },
                    "resolution_endpoint": hook_url,
                })
                .to_string(),
            ),
        );
    let r = reqwest::Client::new()
        .post(format!("{}/api/folders/", s.base))
        .header("X-Forensic-Access-Token", &client.token)
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let folder: Value = r.json().await.expect("json");
    let fid = folder["folder_id"].as_str().expect("id").to_string();
    let (st, a) =
        client.post(&format!("/api/folders/{fid}/analyses/"), json!({ "analyses": [{ "type": "biometry" }] })).await;
    assert_eq!(st, 201, "{a}");
    let aid = a[0]["analysis_id"].as_str().expect("id").to_string();
    let a = finished(&client, &aid).await;
    assert_eq!(a["resolution_status"], "OPERATOR_REQUIRED", "{a}");
    assert_eq!(a["resolution_operator"], Value::Null);
    let first = hooks_at_least(&hooks, 1).await;
    assert_eq!(first[0]["system_resolution"], "OPERATOR_REQUIRED");

    let decide = format!("/api/analyses/{aid}/resolution");
    let success = json!({ "resolution_status": "SUCCESS", "comment": "ID checked by phone" });
    // Who may not: ADMIN (spec §3.1), the uploading CLIENT, the company admin, another company.
    for (who, c, want) in [("admin", &admin, 403), ("client", &client, 403), ("company admin", &cadmin, 403)] {
        let (st, e) = c.post(&decide, success.clone()).await;
        assert_eq!(st, want, "{who}: {e}");
        assert_eq!(e["error_code"], 9, "{who}: {e}");
    }
    let (st, e) = other_cop.post(&decide, success.clone()).await;
    assert_eq!(st, 404, "another company's analysis does not exist for it: {e}");
    // Not a verdict.
    let (st, e) = cop.post(&decide, json!({ "resolution_status": "OPERATOR_REQUIRED" })).await;
    assert_eq!((st, e["error_code"].as_i64()), (400, Some(4)), "{e}");
    let (st, e) = cop.post(&decide, json!({ "comment": "no verdict" })).await;
    assert_eq!(st, 400, "{e}");
    // Hostile bodies: a huge comment, a verdict of the wrong type, a body that is not JSON.
    let (st, e) = cop.post(&decide, json!({ "resolution_status": "SUCCESS", "comment": "x".repeat(5000) })).await;
    assert_eq!((st, e["error_code"].as_i64()), (400, Some(4)), "{e}");
    let (st, e) = cop.post(&decide, json!({ "resolution_status": ["SUCCESS"] })).await;
    assert_eq!(st, 400, "{e}");
    let r = reqwest::Client::new()
        .post(format!("{}{decide}", s.base))
        .header("X-Forensic-Access-Token", &cop.token)
        .body("{\"resolution_status\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let (st, e) = cop.get(&format!("/api/analyses/{aid}")).await;
    assert_eq!((st, e["resolution_status"].as_str()), (200, Some("OPERATOR_REQUIRED")), "refusals changed nothing");

    // The company's client operator closes the case.
    let (st, a) = cop.post(&decide, success.clone()).await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["resolution_status"], "SUCCESS");
    assert_eq!(a["resolution"], "SUCCESS");
    assert_eq!(a["resolution_operator"], cop_id.as_str());
    assert_eq!(a["operator_comment"], "ID checked by phone");
    assert!(a["resolution_time"].as_f64().is_some(), "{a}");
    let (_, f) = client.get(&format!("/api/folders/{fid}/")).await;
    assert_eq!(f["system_resolution"], "SUCCESS", "{f}");
    assert_eq!(f["resolution_status"], "FINISHED");
    assert_eq!(f["operator_status"], "SUCCESS");
    assert_eq!(f["operator_comment"], "ID checked by phone");
    assert_eq!(f["resolution_author_id"], cop_id.as_str());
    assert!(f["resolution_time"].as_f64().is_some());
    // The folder's webhook goes again, with the decision.
    let got = hooks_at_least(&hooks, 2).await;
    assert_eq!(got[1]["system_resolution"], "SUCCESS", "{}", got[1]);
    assert_eq!(got[1]["operator_status"], "SUCCESS");

    // Replacing that decision needs a comment saying why (error 4), and the refusal changes nothing.
    for body in [json!({ "resolution_status": "DECLINED" }), json!({ "resolution_status": "DECLINED", "comment": " " })]
    {
        let (st, e) = op.post(&decide, body).await;
        assert_eq!((st, e["error_code"].as_i64()), (400, Some(4)), "{e}");
        assert!(e["error_message"].as_str().is_some_and(|m| m.contains("comment")), "{e}");
    }
    let (_, now) = cop.get(&format!("/api/analyses/{aid}")).await;
    assert_eq!(now["resolution_status"], "SUCCESS", "{now}");

    // An OPERATOR overrides it.
    let (st, a) =
        op.post(&decide, json!({ "resolution_status": "declined", "operator_comment": "document forged" })).await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(
        (a["resolution_status"].as_str(), a["resolution_operator"].as_str()),
        (Some("DECLINED"), Some(op_id.as_str()))
    );
    let (_, f) = client.get(&format!("/api/folders/{fid}")).await;
    assert_eq!(f["system_resolution"], "DECLINED");
    hooks_at_least(&hooks, 3).await;

    // The audit trail: every decision, newest first.
    let (st, trail) = op.get(&decide).await;
    assert_eq!(st, 200, "{trail}");
    let trail = trail.as_array().cloned().expect("array");
    assert_eq!(trail.len(), 2);
    assert_eq!(
        (trail[0]["resolution_status_before"].as_str(), trail[0]["resolution_status"].as_str()),
        (Some("SUCCESS"), Some("DECLINED"))
    );
    assert_eq!(trail[0]["user_id"], op_id.as_str());
    assert_eq!(trail[0]["comment"], "document forged");
    assert_eq!(
        (
            trail[1]["resolution_status_before"].as_str(),
            trail[1]["resolution_status"].as_str(),
            trail[1]["user_email"].as_str()
        ),
        (Some("OPERATOR_REQUIRED"), Some("SUCCESS"), Some("cop@bank.test"))
    );
    let (st, all) = admin.get(&format!("/api/resolutions/?folder_id={fid}")).await;
    assert_eq!((st, all["total"].as_i64()), (200, Some(2)), "{all}");
    let (st, mine) = cadmin.get("/api/resolutions/").await;
    assert_eq!((st, mine["total"].as_i64()), (200, Some(2)), "the company's own trail: {mine}");
    let (st, none) = other_cop.get("/api/resolutions/").await;
    assert_eq!((st, none["total"].as_i64()), (200, Some(0)), "{none}");
    let (st, _) = client.get("/api/resolutions/").await;
    assert_eq!(st, 403);

    // A failed analysis has no verdict to decide.
    let form = Form::new()
        .part("photo1", photo("faces/extra/cat.png", "photo1"))
        .part("photo2", photo("faces/live/obama__podium.jpg", "photo2"));
    let r = reqwest::Client::new()
        .post(format!("{}/api/folders/", s.base))
        .header("X-Forensic-Access-Token", &client.token)
        .multipart(form)
        .send()
        .await
        .expect("send");
    let folder: Value = r.json().await.expect("json");
    let fid2 = folder["folder_id"].as_str().expect("id").to_string();
    let (_, a) =
        client.post(&format!("/api/folders/{fid2}/analyses"), json!({ "analyses": [{ "type": "biometry" }] })).await;
    let aid2 = a[0]["analysis_id"].as_str().expect("id").to_string();
    assert_eq!(finished(&client, &aid2).await["resolution_status"], "FAILED");
    let (st, e) = op.post(&format!("/api/analyses/{aid2}/resolution"), success).await;
    assert_eq!((st, e["error_code"].as_i64()), (400, Some(4)), "{e}");
}
