//! Accounts and sessions hardening over real HTTP, on SQLite and on PostgreSQL: login throttling,
//! bounded password hashing, logout, password changes, session revocation, single-use refresh
//! tokens and case-insensitive emails.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Kind, Options, TestServer, start};
use oz_http::api::throttle::{LoginGuard, LoginLimits, parse_trusted_proxies};
use oz_http::{ApiConfig, AppState, FullApi, LiteConfig};
use serde_json::{Value, json};

/// A client of one server with one token.
#[derive(Clone)]
struct C {
    base: String,
    token: String,
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl C {
    fn anon(base: &str) -> Self {
        Self { base: base.to_string(), token: String::new() }
    }
    fn with(&self, token: &str) -> Self {
        Self { base: self.base.clone(), token: token.to_string() }
    }
    async fn send(&self, m: reqwest::Method, p: &str, body: Option<Value>, xff: Option<&str>) -> Answer {
        let mut r = reqwest::Client::new().request(m, format!("{}{p}", self.base));
        if !self.token.is_empty() {
            r = r.header("X-Forensic-Access-Token", &self.token);
        }
        if let Some(x) = xff {
            r = r.header("X-Forwarded-For", x);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("send");
        let status = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = r.text().await.expect("text");
        Answer { status, retry_after, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }
    async fn get(&self, p: &str) -> Answer {
        self.send(reqwest::Method::GET, p, None, None).await
    }
    async fn post(&self, p: &str, b: Value) -> Answer {
        self.send(reqwest::Method::POST, p, Some(b), None).await
    }
    async fn patch(&self, p: &str, b: Value) -> Answer {
        self.send(reqwest::Method::PATCH, p, Some(b), None).await
    }
    async fn delete(&self, p: &str) -> Answer {
        self.send(reqwest::Method::DELETE, p, None, None).await
    }
    async fn login_from(&self, email: &str, password: &str, xff: Option<&str>) -> Answer {
        let body = json!({ "credentials": { "email": email, "password": password } });
        self.send(reqwest::Method::POST, "/api/authorize/auth", Some(body), xff).await
    }
    /// Logs in and returns the full answer (access_token, expire_token...).
    async fn login(&self, email: &str, password: &str) -> Value {
        let a = self.login_from(email, password, None).await;
        assert_eq!(a.status, 200, "login {email}: {}", a.body);
        a.body
    }
    async fn session(&self, email: &str, password: &str) -> C {
        let v = self.login(email, password).await;
        self.with(v["access_token"].as_str().expect("token"))
    }
}

fn oz_error(a: &Answer, status: u16, code: i64) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error_code"], code, "{}", a.body);
    assert!(a.body["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{}", a.body);
    assert!(a.body.get("details").is_some(), "{}", a.body);
}

/// A second HTTP server on the test server's database and engine, with these login limits.
async fn serve_with(s: &TestServer, limits: LoginLimits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let api = FullApi {
        db: s.db.clone(),
        engine: s.engine.clone(),
        cfg: ApiConfig { login: LoginGuard::new(limits), ..ApiConfig::default() },
        dummy_hash: oz_http::api::auth::hash_password("dummy-password".into()).await.expect("hash"),
    };
    let state = AppState::with_api(common::pipeline(), LiteConfig::default(), api);
    tokio::spawn(async move {
        let _ = oz_http::serve(listener, state, std::future::pending()).await;
    });
    base
}

/// An ADMIN (admin@example.com / admin-password) and its client on the default server.
async fn admin(s: &TestServer) -> C {
    C { base: s.base.clone(), token: common::admin_token(s).await }
}

/// Creates a user through the API; returns its id.
async fn create_user(admin: &C, body: Value) -> String {
    let a = admin.post("/api/users/", body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["user_id"].as_str().expect("id").to_string()
}

fn limited(per_address: u32, per_email: u32) -> LoginLimits {
    LoginLimits { per_address_per_minute: per_address, per_email_per_minute: per_email, ..LoginLimits::default() }
}

both!(login_rate_limit_per_address, login_rate_limit_per_address_body);
async fn login_rate_limit_per_address_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let _admin = admin(&s).await;
    let base = serve_with(&s, limited(3, 1000)).await;
    let anon = C::anon(&base);
    for i in 0..3 {
        let a = anon.login_from(&format!("nobody{i}@example.com"), "wrong-password", None).await;
        oz_error(&a, 401, 7);
    }
    // The fourth attempt from this address is refused, even with the right password.
    let a = anon.login_from("admin@example.com", "admin-password", None).await;
    oz_error(&a, 429, 11);
    let wait: u64 = a.retry_after.as_deref().and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
    assert!((1..=20).contains(&wait), "one attempt every 20 s: {wait}");
    assert_eq!(a.body["details"]["retry_after"], wait);
    // Malformed requests count too (they are refused before they are read).
    let a = anon.send(reqwest::Method::POST, "/api/authorize/auth", Some(json!({})), None).await;
    oz_error(&a, 429, 11);

    // X-Forwarded-For is ignored unless the peer is a trusted proxy.
    let a = anon.login_from("admin@example.com", "admin-password", Some("203.0.113.7")).await;
    oz_error(&a, 429, 11);
    let trusted =
        LoginLimits { trusted_proxies: parse_trusted_proxies("127.0.0.1/32").expect("proxies"), ..limited(2, 1000) };
    let behind_proxy = C::anon(&serve_with(&s, trusted).await);
    for _ in 0..2 {
        let a = behind_proxy.login_from("x@example.com", "wrong-password", Some("6.6.6.6, 203.0.113.7")).await;
        oz_error(&a, 401, 7);
    }
    let a = behind_proxy.login_from("x@example.com", "wrong-password", Some("203.0.113.7")).await;
    oz_error(&a, 429, 11);
    let a = behind_proxy.login_from("admin@example.com", "admin-password", Some("203.0.113.8")).await;
    assert_eq!(a.status, 200, "another client behind the proxy: {}", a.body);
}

both!(login_rate_limit_per_email, login_rate_limit_per_email_body);
async fn login_rate_limit_per_email_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let _admin = admin(&s).await;
    let anon = C::anon(&serve_with(&s, limited(1000, 2)).await);
    oz_error(&anon.login_from("admin@example.com", "guess-1", None).await, 401, 7);
    oz_error(&anon.login_from(" ADMIN@example.com", "guess-2", None).await, 401, 7);
    // The third attempt on this email, in any spelling, is refused without checking the password.
    let a = anon.login_from("Admin@Example.com ", "admin-password", None).await;
    oz_error(&a, 429, 11);
    assert!(a.retry_after.as_deref().and_then(|v| v.parse::<u64>().ok()).is_some_and(|w| w >= 1));
    // Other emails are not affected.
    oz_error(&anon.login_from("someone-else@example.com", "guess", None).await, 401, 7);
}

both!(password_hashing_is_bounded, password_hashing_is_bounded_body);
async fn password_hashing_is_bounded_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let _admin = admin(&s).await;
    let limits = LoginLimits { hash_concurrency: 1, hash_wait: Duration::ZERO, ..limited(0, 0) };
    let anon = C::anon(&serve_with(&s, limits).await);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let anon = anon.clone();
            tokio::spawn(async move { anon.login_from(&format!("u{i}@example.com"), "wrong-password", None).await })
        })
        .collect();
    let (mut refused, mut checked) = (0, 0);
    for t in tasks {
        let a = t.await.expect("task");
        match a.status {
            401 => checked += 1,
            503 => {
                oz_error(&a, 503, 11);
                assert_eq!(a.retry_after.as_deref(), Some("1"));
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    assert!(checked >= 1, "the slot serves someone");
    assert!(refused >= 1, "16 logins at once with one hashing slot and no wait: some are refused");
    // Once the flood is over, logins work again.
    let a = anon.login_from("admin@example.com", "admin-password", None).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

both!(logout_revokes_the_session, logout_body);
async fn logout_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let anon = C::anon(&s.base);
    let full = anon.login("admin@example.com", "admin-password").await;
    let me = anon.with(full["access_token"].as_str().expect("token"));
    assert_eq!(me.get("/api/users/").await.status, 200);
    let a = me.post("/api/authorize/logout/", json!({})).await;
    assert_eq!(a.status, 204, "{}", a.body);
    oz_error(&me.get("/api/users/").await, 401, 7);
    oz_error(&me.post("/api/authorize/logout", json!({})).await, 401, 7);
    // Its refresh token is dead too, and the other login of the same user is untouched.
    let a = admin.post("/api/authorize/refresh", json!({ "expire_token": full["expire_token"] })).await;
    oz_error(&a, 401, 7);
    assert_eq!(admin.get("/api/users/").await.status, 200);
    oz_error(&anon.post("/api/authorize/logout", json!({})).await, 401, 6);
}

both!(password_change, password_change_body);
async fn password_change_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    // Many logins of one email: a server without login limits (they have their own tests).
    let anon = C::anon(&serve_with(&s, limited(0, 0)).await);
    let company = admin.post("/api/companies/", json!({ "name": "Co" })).await.body["company_id"].clone();
    let uid =
        create_user(&admin, json!({ "email": "pat@example.com", "password": "password-123", "company_id": company }))
            .await;
    let path = format!("/api/users/{uid}");
    let phone = anon.session("pat@example.com", "password-123").await;
    let laptop = anon.session("pat@example.com", "password-123").await;

    // Their own password: the current one is required and checked.
    let a = laptop.patch(&path, json!({ "password": "new-password-1" })).await;
    oz_error(&a, 400, 3);
    let a = laptop.patch(&path, json!({ "password": "new-password-1", "current_password": "wrong-one" })).await;
    oz_error(&a, 403, 9);
    assert_eq!(anon.login_from("pat@example.com", "new-password-1", None).await.status, 401, "unchanged");
    let a = laptop.patch(&path, json!({ "password": "new-password-1", "current_password": "password-123" })).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The other sessions end; the one that changed it goes on.
    oz_error(&phone.get(&path).await, 401, 7);
    assert_eq!(laptop.get(&path).await.status, 200);
    oz_error(&anon.login_from("pat@example.com", "password-123", None).await, 401, 7);
    let phone = anon.session("pat@example.com", "new-password-1").await;
    let a = laptop.patch(&path, json!({ "password": "new-password-2", "old_password": "new-password-1" })).await;
    assert_eq!(a.status, 200, "old_password is accepted too: {}", a.body);
    oz_error(&phone.get(&path).await, 401, 7);

    // An ADMIN sets it without the current one, and every session of the user ends.
    let phone = anon.session("pat@example.com", "new-password-2").await;
    let a = admin.patch(&path, json!({ "password": "reset-by-admin" })).await;
    assert_eq!(a.status, 200, "{}", a.body);
    oz_error(&phone.get(&path).await, 401, 7);
    oz_error(&laptop.get(&path).await, 401, 7);
    assert_eq!(admin.get("/api/users/").await.status, 200, "the ADMIN's own session goes on");
    anon.session("pat@example.com", "reset-by-admin").await;
}

both!(revoke_sessions, revoke_sessions_body);
async fn revoke_sessions_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let anon = C::anon(&s.base);
    let company = admin.post("/api/companies/", json!({ "name": "Co" })).await.body["company_id"].clone();
    let a_id =
        create_user(&admin, json!({ "email": "a@example.com", "password": "password-123", "company_id": company }))
            .await;
    let b_id =
        create_user(&admin, json!({ "email": "b@example.com", "password": "password-123", "company_id": company }))
            .await;
    let a1 = anon.session("a@example.com", "password-123").await;
    let a2 = anon.session("a@example.com", "password-123").await;
    let b = anon.session("b@example.com", "password-123").await;

    // A CLIENT cannot end someone else's sessions.
    oz_error(&b.delete(&format!("/api/users/{a_id}/sessions")).await, 404, 10);
    // An ADMIN can: every session of that user ends, nobody else's.
    let a = admin.delete(&format!("/api/users/{a_id}/sessions/")).await;
    assert_eq!(a.status, 204, "{}", a.body);
    oz_error(&a1.get("/api/users/").await, 401, 7);
    oz_error(&a2.get("/api/users/").await, 401, 7);
    assert_eq!(b.get("/api/users/").await.status, 200);
    assert_eq!(admin.get("/api/users/").await.status, 200);
    // "Log out everywhere": a user may end its own sessions.
    let b2 = anon.session("b@example.com", "password-123").await;
    assert_eq!(b.delete(&format!("/api/users/{b_id}/sessions")).await.status, 204);
    oz_error(&b2.get("/api/users/").await, 401, 7);
    oz_error(&b.get("/api/users/").await, 401, 7);
    oz_error(&admin.delete("/api/users/not-a-uuid/sessions").await, 404, 10);
}

both!(refresh_token_works_once, refresh_once_body);
async fn refresh_once_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let _admin = admin(&s).await;
    let anon = C::anon(&s.base);

    // Reused before the new pair is used: the whole chain ends.
    let first = anon.login("admin@example.com", "admin-password").await;
    let old = anon.with(first["access_token"].as_str().expect("t"));
    let a = old.post("/api/authorize/refresh", json!({ "expire_token": first["expire_token"] })).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let new = anon.with(a.body["access_token"].as_str().expect("t"));
    let a = old.post("/api/authorize/refresh", json!({ "expire_token": first["expire_token"] })).await;
    oz_error(&a, 401, 7);
    oz_error(&new.get("/api/users/").await, 401, 7);
    oz_error(&old.get("/api/users/").await, 401, 7);

    // Reused after the new pair replaced it, by someone holding only the old pair.
    let first = anon.login("admin@example.com", "admin-password").await;
    let old = anon.with(first["access_token"].as_str().expect("t"));
    let a = old.post("/api/authorize/refresh", json!({ "expire_token": first["expire_token"] })).await;
    let second = a.body;
    let new = anon.with(second["access_token"].as_str().expect("t"));
    assert_eq!(new.get("/api/users/").await.status, 200, "the new pair works");
    oz_error(&old.get("/api/users/").await, 401, 7);
    let a = new.post("/api/authorize/refresh", json!({ "expire_token": first["expire_token"] })).await;
    oz_error(&a, 401, 7);
    oz_error(&new.get("/api/users/").await, 401, 7);
    let a = new.post("/api/authorize/refresh", json!({ "expire_token": second["expire_token"] })).await;
    oz_error(&a, 401, 7);

    // A chain of good refreshes keeps working, and other logins are never touched.
    let other = anon.session("admin@example.com", "admin-password").await;
    let mut pair = anon.login("admin@example.com", "admin-password").await;
    for _ in 0..3 {
        let c = anon.with(pair["access_token"].as_str().expect("t"));
        let a = c.post("/api/authorize/refresh", json!({ "expire_token": pair["expire_token"] })).await;
        assert_eq!(a.status, 200, "{}", a.body);
        pair = a.body;
        assert_eq!(anon.with(pair["access_token"].as_str().expect("t")).get("/api/users/").await.status, 200);
    }
    assert_eq!(other.get("/api/users/").await.status, 200);
}

both!(emails_ignore_case_and_spaces, emails_body);
async fn emails_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let anon = C::anon(&s.base);
    let a = admin
        .post(
            "/api/users/",
            json!({ "email": "  Mixed.Case@Example.COM ", "password": "password-123", "user_type": "ADMIN" }),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["email"], "mixed.case@example.com", "stored trimmed and lower-case");
    let uid = a.body["user_id"].as_str().expect("id").to_string();
    let a = admin
        .post(
            "/api/users/",
            json!({ "email": "MIXED.case@example.com", "password": "password-123", "user_type": "ADMIN" }),
        )
        .await;
    oz_error(&a, 400, 4);
    anon.session(" MIXED.CASE@example.com  ", "password-123").await;
    let found = admin.get("/api/users/?search_text=MIXED.CASE@EXAMPLE").await.body;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    let a = admin.patch(&format!("/api/users/{uid}"), json!({ "email": " ADMIN@Example.com" })).await;
    oz_error(&a, 400, 4);
    let a = admin.patch(&format!("/api/users/{uid}"), json!({ "email": " Renamed@Example.com\t" })).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["email"], "renamed@example.com");
}

// Found by scripts/schemathesis.sh: PATCH /api/users/{id}/ with the id of a company that does not
// exist (or was just deleted) failed the foreign key and answered 500.
both!(moving_a_user_to_an_unknown_company, unknown_company_body);
async fn unknown_company_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let company = admin.post("/api/companies/", json!({ "name": "Gone soon" })).await.body["company_id"]
        .as_str()
        .expect("company")
        .to_string();
    let uid = create_user(
        &admin,
        json!({ "email": "mover@example.com", "password": "password-123", "user_type": "CLIENT", "company_id": company }),
    )
    .await;
    let gone = admin.post("/api/companies/", json!({ "name": "Gone" })).await.body["company_id"]
        .as_str()
        .expect("company")
        .to_string();
    assert_eq!(admin.delete(&format!("/api/companies/{gone}/")).await.status, 204);
    for missing in [gone, uuid::Uuid::new_v4().to_string()] {
        let a = admin.patch(&format!("/api/users/{uid}/"), json!({ "company_id": missing })).await;
        oz_error(&a, 400, 4);
    }
    let u = admin.get(&format!("/api/users/{uid}/")).await.body;
    assert_eq!(u["company_id"], company.as_str(), "unchanged: {u}");
}

both!(account_fields_are_capped, account_fields_are_capped_body);
/// Users and companies get the caps folder metadata has: a 900 KB `first_name`, a company name of
/// the same size or 4000 `meta_data` keys are refused with error 4, and nothing is stored.
async fn account_fields_are_capped_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let huge = "a".repeat(900_000);
    let wide: serde_json::Map<String, Value> = (0..4000).map(|i| (format!("k{i}"), json!(i))).collect();

    let a = admin.post("/api/companies/", json!({ "name": huge })).await;
    oz_error(&a, 400, 4);
    let a = admin.post("/api/companies/", json!({ "name": "Capped Co", "meta_data": wide })).await;
    oz_error(&a, 400, 4);
    let a = admin.post("/api/companies/", json!({ "name": "Capped Co" })).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let company = a.body["company_id"].as_str().expect("id").to_string();
    let a = admin.patch(&format!("/api/companies/{company}/"), json!({ "name": huge })).await;
    oz_error(&a, 400, 4);
    let a = admin.patch(&format!("/api/companies/{company}/"), json!({ "meta_data": wide })).await;
    oz_error(&a, 400, 4);

    let user = |extra: Value| {
        let mut b = json!({ "email": "capped@example.com", "password": "capped-password", "user_type": "CLIENT", "company_id": company });
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    for extra in [
        json!({ "first_name": huge }),
        json!({ "last_name": huge }),
        json!({ "meta_data": wide }),
        json!({ "password": "p".repeat(2000) }),
    ] {
        let a = admin.post("/api/users/", user(extra.clone())).await;
        oz_error(&a, 400, 4);
    }
    let id = create_user(&admin, user(json!({ "first_name": "Ann" }))).await;
    let a = admin.patch(&format!("/api/users/{id}/"), json!({ "first_name": huge })).await;
    oz_error(&a, 400, 4);
    let a = admin.get(&format!("/api/users/{id}/")).await;
    assert_eq!(a.body["first_name"], "Ann", "the refused change stored nothing");
    let a = admin.get(&format!("/api/companies/{company}/")).await;
    assert_eq!(a.body["name"], "Capped Co");
    assert_eq!(a.body["meta_data"], json!({}));
}
