//! Webhooks through the whole server: endpoint checks when stored, the address guard at delivery,
//! per-company signing secrets, and concurrent delivery with a per-host limit. SQLite and
//! PostgreSQL.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Hook, Kind, Options, TestServer, fixture, login, receiver, start};
use oz_engine::webhook::verify;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

struct C<'a> {
    s: &'a TestServer,
    token: String,
}

impl C<'_> {
    fn req(&self, m: reqwest::Method, p: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().request(m, format!("{}{p}", self.s.base)).header("X-Forensic-Access-Token", &self.token)
    }
    async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let r = r.send().await.expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
    async fn get(&self, p: &str) -> (u16, Value) {
        self.send(self.req(reqwest::Method::GET, p)).await
    }
    async fn post(&self, p: &str, b: Value) -> (u16, Value) {
        self.send(self.req(reqwest::Method::POST, p).json(&b)).await
    }
    async fn upload(&self, payload: Value) -> (u16, Value) {
        let form = Form::new()
            .part(
                "photo1",
                Part::bytes(fixture("faces/live/obama__podium.jpg"))
                    .file_name("selfie.jpg")
                    .mime_str("image/jpeg")
                    .expect("mime"),
            )
            .part("payload", Part::text(payload.to_string()));
        self.send(self.req(reqwest::Method::POST, "/api/folders/").multipart(form)).await
    }
}

async fn admin(s: &TestServer) -> C<'_> {
    C { s, token: common::admin_token(s).await }
}

/// A company with a CLIENT user: (company id, the user's client).
async fn company<'a>(admin: &C<'a>, email: &str) -> (String, C<'a>) {
    let (st, c) = admin.post("/api/companies/", json!({ "name": format!("co-{email}") })).await;
    assert_eq!(st, 201, "{c}");
    let company_id = c["company_id"].as_str().expect("id").to_string();
    let (st, u) = admin
        .post(
            "/api/users/",
            json!({ "email": email, "password": "password-123", "user_type": "CLIENT", "company_id": company_id }),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    let token = login(admin.s, email, "password-123").await;
    (company_id, C { s: admin.s, token })
}

/// A folder with one photo and a QUALITY analysis whose webhook goes to `hook`.
async fn hooked_folder(c: &C<'_>, hook: &str) -> String {
    let (st, f) = c.upload(json!({ "media:tags": { "photo1": ["photo_selfie"] } })).await;
    assert_eq!(st, 201, "{f}");
    let fid = f["folder_id"].as_str().expect("folder id").to_string();
    analyse(c, &fid, hook).await;
    fid
}

async fn analyse(c: &C<'_>, fid: &str, hook: &str) {
    let (st, a) = c
        .post(
            &format!("/api/folders/{fid}/analyses"),
            json!({ "analyses": [{ "type": "QUALITY" }], "resolution_endpoint": hook }),
        )
        .await;
    assert_eq!(st, 201, "{a}");
}

async fn wait_hooks(hooks: &std::sync::Mutex<Vec<Hook>>, n: usize, what: &str) -> Vec<Hook> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let got = hooks.lock().expect("lock").clone();
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "{what}: {} of {n} webhooks", got.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signed_with(h: &Hook, secret: &str) -> bool {
    let ts: i64 = h.headers["x-oz-timestamp"].to_str().expect("ts").parse().expect("ts");
    verify(secret, ts, &h.body, h.headers["x-oz-signature"].to_str().expect("signature"))
}

/// Waits until the folder's only delivery leaves `pending`; returns (state, attempts, last_error).
async fn settled(s: &TestServer, fid: &str) -> (String, i64, Option<String>) {
    let id = uuid::Uuid::parse_str(fid).expect("uuid");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let d = s.db.deliveries_of_folder(id).await.expect("deliveries");
        if let Some(d) = d.first()
            && d.state != "pending"
        {
            return (d.state.clone(), d.attempts, d.last_error.clone());
        }
        assert!(Instant::now() < deadline, "delivery of {fid} still pending: {d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP listener that counts connections and never answers (keeps them open).
async fn black_hole() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    (format!("http://{addr}/hook"), n)
}

fn oz_error(v: &Value, code: i64) {
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

both!(endpoints_checked_when_stored, endpoints_checked_when_stored_body);
async fn endpoints_checked_when_stored_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let (_, c) = company(&admin, "client@example.com").await;
    let (st, f) = c.upload(json!({})).await;
    assert_eq!(st, 201, "{f}");
    let fid = f["folder_id"].as_str().expect("id").to_string();
    for bad in [
        json!("ftp://hooks.example.com/x"),
        json!("file:///etc/passwd"),
        json!("gopher://127.0.0.1:6379/_FLUSHALL"),
        json!("https://user:password@hooks.example.com/x"),
        json!("https://token@hooks.example.com/x"),
        json!("hooks.example.com/x"),
        json!(42),
    ] {
        // Not a URL: 4; not a string: Oz's INVALID TYPE, 5.
        let code = if bad.is_string() { 4 } else { 5 };
        let (st, v) = c.upload(json!({ "resolution_endpoint": bad })).await;
        assert_eq!(st, 400, "folder with {bad}: {v}");
        oz_error(&v, code);
        let (st, v) = c
            .post(
                &format!("/api/folders/{fid}/analyses"),
                json!({ "analyses": [{ "type": "QUALITY" }], "resolution_endpoint": bad }),
            )
            .await;
        assert_eq!(st, 400, "analyses with {bad}: {v}");
        oz_error(&v, code);
    }
    let (_, folders) = c.get("/api/folders/").await;
    assert_eq!(folders["items"].as_array().map(Vec::len), Some(1), "no folder was created: {folders}");
    // Private addresses may be stored (they are refused, or allowed, when sent).
    let (st, v) = c.upload(json!({ "resolution_endpoint": "https://10.0.0.1/x?token=1" })).await;
    assert_eq!(st, 201, "{v}");
}

both!(private_addresses_refused_at_delivery, private_addresses_refused_at_delivery_body);
async fn private_addresses_refused_at_delivery_body(kind: Kind) {
    let opts = Options { webhook_allow_private: false, ..Options::default() };
    let Some(s) = start(kind, opts).await else { return };
    let admin = admin(&s).await;
    let (_, c) = company(&admin, "client@example.com").await;
    let (hook, accepted) = black_hole().await;
    let port = hook.rsplit(':').next().and_then(|p| p.split('/').next()).expect("port").to_string();
    for url in [hook.clone(), format!("http://localhost:{port}/hook?token=secret")] {
        let fid = hooked_folder(&c, &url).await;
        let (state, attempts, error) = settled(&s, &fid).await;
        assert_eq!((state.as_str(), attempts), ("failed", 1), "{url}: refused once, not retried");
        let error = error.expect("error");
        assert!(error.contains("refused"), "{url}: {error}");
        assert!(!error.contains("token=secret"), "no query string in the error: {error}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made to the loopback listener");
}

both!(company_signing_secrets, company_signing_secrets_body);
async fn company_signing_secrets_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let (a_id, a) = company(&admin, "a@example.com").await;
    let (b_id, b) = company(&admin, "b@example.com").await;
    let (_, plain) = company(&admin, "c@example.com").await;

    // Set by ADMIN, shown once.
    let (st, v) = admin.post(&format!("/api/companies/{a_id}/webhook_secret"), json!({})).await;
    assert_eq!(st, 200, "{v}");
    let secret_a = v["webhook_secret"].as_str().expect("secret").to_string();
    assert!(secret_a.starts_with("whsec_") && secret_a.len() == 6 + 64, "{secret_a}");
    assert_eq!(v["company_id"], a_id.as_str());
    let (st, v) = admin.post(&format!("/api/companies/{b_id}/webhook_secret/"), json!({})).await;
    assert_eq!(st, 200, "{v}");
    let secret_b = v["webhook_secret"].as_str().expect("secret").to_string();
    assert_ne!(secret_a, secret_b);
    // Never shown again.
    for p in
        [format!("/api/companies/{a_id}"), format!("/api/companies/{a_id}/webhook_secret"), "/api/companies/".into()]
    {
        let (st, v) = admin.get(&p).await;
        assert_eq!(st, 200, "{p}: {v}");
        assert!(!v.to_string().contains(&secret_a), "{p} shows the secret: {v}");
    }
    let (_, v) = admin.get(&format!("/api/companies/{a_id}/webhook_secret")).await;
    assert_eq!(v["is_set"], true, "{v}");
    // Only ADMIN or the company's own admin may set it.
    let (st, v) = a.post(&format!("/api/companies/{a_id}/webhook_secret"), json!({})).await;
    assert_eq!(st, 403, "a plain CLIENT: {v}");
    let (st, v) = a.post(&format!("/api/companies/{b_id}/webhook_secret"), json!({})).await;
    assert!(st == 403 || st == 404, "another company: {st} {v}");
    let (st, _) = admin.post(&format!("/api/companies/{}/webhook_secret", uuid::Uuid::new_v4()), json!({})).await;
    assert_eq!(st, 404);

    // B's webhook: signed with B's secret, not verifiable with A's (or the global one); it
    // names B's company.
    let (hook, hooks) = receiver(0).await;
    let fb = hooked_folder(&b, &hook).await;
    let got = wait_hooks(&hooks, 1, "B's webhook").await;
    let body: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!((body["folder_id"].as_str(), body["company_id"].as_str()), (Some(fb.as_str()), Some(b_id.as_str())));
    assert!(signed_with(&got[0], &secret_b), "B's secret verifies B's webhook");
    assert!(!signed_with(&got[0], &secret_a), "A's secret must not verify B's webhook");
    assert!(!signed_with(&got[0], common::SECRET), "the global secret must not verify B's webhook");

    // A company without a secret of its own: OZ_WEBHOOK_SECRET.
    let fc = hooked_folder(&plain, &hook).await;
    let got = wait_hooks(&hooks, 2, "C's webhook").await;
    let c_hook = got.iter().find(|h| h.body.windows(fc.len()).any(|w| w == fc.as_bytes())).expect("C's hook");
    assert!(signed_with(c_hook, common::SECRET) && !signed_with(c_hook, &secret_a));

    // Rotation: the next webhook of B is signed with the new secret only.
    let (st, v) = admin.post(&format!("/api/companies/{b_id}/webhook_secret"), json!({})).await;
    assert_eq!(st, 200, "{v}");
    let secret_b2 = v["webhook_secret"].as_str().expect("secret").to_string();
    assert_ne!(secret_b2, secret_b);
    analyse(&b, &fb, &hook).await;
    let got = wait_hooks(&hooks, 3, "B's webhook after rotation").await;
    assert!(signed_with(&got[2], &secret_b2), "the new secret verifies");
    assert!(!signed_with(&got[2], &secret_b), "the old secret no longer does");

    // Removed: back to the global secret.
    let (st, _) =
        admin.send(admin.req(reqwest::Method::DELETE, &format!("/api/companies/{b_id}/webhook_secret"))).await;
    assert_eq!(st, 204);
    let (_, v) = admin.get(&format!("/api/companies/{b_id}/webhook_secret")).await;
    assert_eq!(v["is_set"], false, "{v}");
    analyse(&b, &fb, &hook).await;
    let got = wait_hooks(&hooks, 4, "B's webhook after removal").await;
    assert!(signed_with(&got[3], common::SECRET) && !signed_with(&got[3], &secret_b2));
}

both!(black_hole_delays_nobody, black_hole_delays_nobody_body);
async fn black_hole_delays_nobody_body(kind: Kind) {
    // Attempts to the black hole last the whole (long) timeout.
    let opts = Options { webhook_timeout: Duration::from_secs(120), ..Options::default() };
    let Some(s) = start(kind, opts).await else { return };
    let admin = admin(&s).await;
    let (_, c) = company(&admin, "client@example.com").await;
    let (hole, accepted) = black_hole().await;
    let mut stuck = Vec::new();
    for _ in 0..3 {
        stuck.push(hooked_folder(&c, &hole).await);
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    while accepted.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the black hole was not contacted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A webhook to another host arrives while the black-hole attempts hang.
    let (hook, hooks) = receiver(0).await;
    let fid = hooked_folder(&c, &hook).await;
    let got = wait_hooks(&hooks, 1, "the normal receiver's webhook, behind a black hole").await;
    let body: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!(body["folder_id"], fid.as_str());
    for f in &stuck {
        let d = s.db.deliveries_of_folder(uuid::Uuid::parse_str(f).expect("uuid")).await.expect("deliveries");
        assert_eq!(d[0].state, "pending", "black-hole deliveries still pending");
        assert!(d[0].last_error.is_none() && d[0].attempts <= 1, "no black-hole attempt has ended yet: {d:?}");
    }
    // At most OZ_WEBHOOK_PER_HOST (2) attempts hang on the black hole at once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "per-host limit");
}
