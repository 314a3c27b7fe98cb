//! The rest of the full API surface (issue #7, item 4) over real HTTP, on SQLite and PostgreSQL:
//! `GET /api/analyses/` and `GET /api/media/`, `with_user` / `with_company`, the folder list's
//! `.exclude` filters and `search_text`, real totals on users and companies, `GET /api/config`,
//! `GET /api/statistics/`, and single request mode refusing a bad payload before anything is
//! stored. Every list is checked for tenant isolation.

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::{Kind, Options, TestServer, fixture, start};
use oz_domain::status::ResolutionStatus as R;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

struct C<'a> {
    s: &'a TestServer,
    token: String,
    user_id: String,
}

impl C<'_> {
    fn req(&self, m: reqwest::Method, p: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().request(m, format!("{}{p}", self.s.base)).header("X-Forensic-Access-Token", &self.token)
    }
    async fn json(&self, m: reqwest::Method, p: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.req(m, p);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn get(&self, p: &str) -> (u16, Value) {
        self.json(reqwest::Method::GET, p, None).await
    }
    /// A 200 list answer.
    async fn list(&self, p: &str) -> Value {
        let (st, v) = self.get(p).await;
        assert_eq!(st, 200, "GET {p}: {v}");
        assert!(v["items"].is_array(), "GET {p}: {v}");
        v
    }
    async fn post(&self, p: &str, b: Value) -> (u16, Value) {
        self.json(reqwest::Method::POST, p, Some(b)).await
    }
    async fn upload(&self, p: &str, form: Form) -> (u16, Value) {
        let r = self.req(reqwest::Method::POST, p).multipart(form).send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

async fn admin(s: &TestServer) -> C<'_> {
    let token = common::admin_token(s).await;
    let c = C { s, token, user_id: String::new() };
    let (_, me) = c.get("/api/users/?search_text=admin@example.com").await;
    let user_id = me["items"][0]["user_id"].as_str().expect("admin id").to_string();
    C { s, token: c.token, user_id }
}

async fn company(admin: &C<'_>, name: &str) -> String {
    let (st, c) = admin.post("/api/companies/", json!({ "name": name })).await;
    assert_eq!(st, 201, "{c}");
    c["company_id"].as_str().expect("id").to_string()
}

async fn user<'a>(admin: &C<'a>, company: &str, email: &str, user_type: &str, extra: Value) -> C<'a> {
    let mut body = json!({ "email": email, "password": "password-123", "user_type": user_type, "company_id": company });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (st, u) = admin.post("/api/users/", body).await;
    assert_eq!(st, 201, "{u}");
    let token = common::login(admin.s, email, "password-123").await;
    C { s: admin.s, token, user_id: u["user_id"].as_str().expect("id").to_string() }
}

/// A multipart upload of fixture files `(part, fixture path)` and a payload.
fn form(files: &[(&str, &str)], payload: Value) -> Form {
    let mut f = Form::new();
    for (key, rel) in files {
        let name = rel.rsplit('/').next().unwrap_or(rel).to_string();
        f = f.part(key.to_string(), Part::bytes(fixture(rel)).file_name(name).mime_str("image/jpeg").expect("mime"));
    }
    f.part("payload", Part::text(payload.to_string()))
}

const SELFIE: &str = "faces/live/obama__portrait.jpg";
const ID_PHOTO: &str = "faces/live/obama__podium.jpg";

/// Uploads one selfie photo (and runs `analyses` in single request mode when given): the folder.
async fn folder(c: &C<'_>, meta: Value, analyses: Option<Value>) -> Value {
    let mut payload = json!({ "media:tags": { "selfie": ["photo_selfie"] }, "folder:meta_data": meta });
    if let (Some(a), Some(p)) = (analyses, payload.as_object_mut()) {
        p.insert("analyses".into(), a);
    }
    let (st, f) = c.upload("/api/folders/", form(&[("selfie", SELFIE)], payload)).await;
    assert_eq!(st, 201, "{f}");
    f
}

fn id(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}")).to_string()
}

/// The `key` of every item of a list answer.
fn keys(list: &Value, key: &str) -> BTreeSet<String> {
    list["items"].as_array().expect("items").iter().map(|x| id(x, key)).collect()
}

fn set(v: &[&String]) -> BTreeSet<String> {
    v.iter().map(|s| (*s).clone()).collect()
}

fn oz_error(st: u16, v: &Value, status: u16, code: i64, what: &str) {
    assert_eq!(st, status, "{what}: {v}");
    assert_eq!(v["error_code"], code, "{what}: {v}");
    assert!(v["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {v}");
}

fn media_files(s: &TestServer) -> Vec<String> {
    std::fs::read_dir(s.data.join("media"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Moves rows' times (tests of day buckets), straight in the database.
async fn set_time(s: &TestServer, sql: &str, t: f64, id: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&s.url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(t)
        .bind(id.to_string())
        .execute(&pool)
        .await
        .expect("update");
    pool.close().await;
}

// ---------------------------------------------------------------------------------------------
// GET /api/analyses/ and GET /api/media/
// ---------------------------------------------------------------------------------------------

both!(analyses_and_media_lists, lists_body);
async fn lists_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let a = company(&admin, "Acme").await;
    let b = company(&admin, "Bravo").await;
    let a_user = user(&admin, &a, "a-user@example.com", "CLIENT", json!({})).await;
    let a_admin = user(&admin, &a, "a-admin@example.com", "CLIENT ADMIN", json!({})).await;
    let b_user = user(&admin, &b, "b-user@example.com", "CLIENT", json!({})).await;

    // F1 (a-user): a selfie and an ID photo, QUALITY (with metadata) and BIOMETRY.
    let payload = json!({
        "media:tags": { "selfie": ["photo_selfie"], "id": ["photo_id", "photo_id_front"] },
        "media:meta_data": { "selfie": { "side": "front" } },
        "analyses": [{ "type": "quality", "meta_data": { "m": "1" } }, { "type": "biometry" }],
    });
    let (st, f1) = a_user.upload("/api/folders/", form(&[("selfie", SELFIE), ("id", ID_PHOTO)], payload)).await;
    assert_eq!(st, 201, "{f1}");
    let fid1 = id(&f1, "folder_id");
    let an1 = f1["analyses"].as_array().expect("analyses").clone();
    assert!(an1.iter().all(|x| x["state"] != "PROCESSING"), "single request waits: {f1}");
    let (q1, b1) = (id(&an1[0], "analysis_id"), id(&an1[1], "analysis_id"));
    // F2 (a-admin) and F3 (b-user): one selfie each, QUALITY.
    let f2 = folder(&a_admin, json!({}), Some(json!([{ "type": "quality" }]))).await;
    let (fid2, q2) = (id(&f2, "folder_id"), id(&f2["analyses"][0], "analysis_id"));
    let f3 = folder(&b_user, json!({}), Some(json!([{ "type": "quality" }]))).await;
    let (fid3, q3) = (id(&f3, "folder_id"), id(&f3["analyses"][0], "analysis_id"));

    // Scopes: own folders, the company's, everything; never another tenant's.
    let l = a_user.list("/api/analyses/").await;
    assert_eq!((keys(&l, "analysis_id"), l["total"].clone()), (set(&[&q1, &b1]), json!(2)), "{l}");
    let l = a_admin.list("/api/analyses").await;
    assert_eq!((keys(&l, "analysis_id"), l["total"].clone()), (set(&[&q1, &b1, &q2]), json!(3)));
    let l = b_user.list("/api/analyses/").await;
    assert_eq!(keys(&l, "analysis_id"), set(&[&q3]));
    assert_eq!(admin.list("/api/analyses/").await["total"], 4);
    for probe in [format!("folder_id={fid1}"), format!("analyse_id={q1}"), format!("company_id={a}")] {
        let l = b_user.list(&format!("/api/analyses/?{probe}")).await;
        assert_eq!((l["items"].as_array().map(Vec::len), l["total"].clone()), (Some(0), json!(0)), "{probe}");
    }

    // Items render as GET /api/analyses/{id} does.
    let l = a_user.list(&format!("/api/analyses/?analyse_id={q1}")).await;
    let item = &l["items"][0];
    let (_, one) = a_user.get(&format!("/api/analyses/{q1}")).await;
    assert_eq!(item["source_media"], one["source_media"]);
    assert_eq!(item["results_media"].as_array().map(Vec::len), one["results_media"].as_array().map(Vec::len));
    assert_eq!(item["folder_time_created"], f1["time_created"]);
    assert_eq!(item["meta_data"]["m"], "1");

    // Filters (company admin of A: Q1, B1, Q2).
    let f = |q: &str| {
        let c = &a_admin;
        let q = q.to_string();
        async move { keys(&c.list(&format!("/api/analyses/?{q}")).await, "analysis_id") }
    };
    assert_eq!(f("type=QUALITY").await, set(&[&q1, &q2]));
    assert_eq!(f("type=liveness").await, set(&[&q1, &q2]), "Oz's other name of QUALITY");
    assert_eq!(f("type=quality,biometry").await, set(&[&q1, &q2, &b1]));
    assert_eq!(f("type.exclude=QUALITY").await, set(&[&b1]));
    assert_eq!(f(&format!("folder_id={fid1}")).await, set(&[&q1, &b1]));
    assert_eq!(f(&format!("folder_id.exclude={fid1}")).await, set(&[&q2]));
    assert_eq!(f(&format!("analyse_id={q1},{q2}")).await, set(&[&q1, &q2]));
    assert_eq!(f(&format!("analysis_id={q2}")).await, set(&[&q2]));
    assert_eq!(f(&format!("analyse_id.exclude={q1}")).await, set(&[&b1, &q2]));
    assert_eq!(f(&format!("user_id={}", a_user.user_id)).await, set(&[&q1, &b1]));
    assert_eq!(f(&format!("user_id.exclude={}", a_user.user_id)).await, set(&[&q2]));
    assert_eq!(f(&format!("group_id={}", id(&an1[0], "group_id"))).await, set(&[&q1, &b1]));
    assert_eq!(f("state=FINISHED").await, set(&[&q1, &b1, &q2]));
    assert_eq!(f("state.exclude=FINISHED").await, set(&[]));
    let rs = id(&an1[1], "resolution_status");
    assert!(f(&format!("resolution_status={rs}")).await.contains(&b1));
    assert!(!f(&format!("state.exclude={rs}")).await.contains(&b1));
    assert_eq!(f("meta_data=m==1").await, set(&[&q1]));
    assert_eq!(f("meta_data=m!=1").await, set(&[&b1, &q2]));
    assert_eq!(f(&format!("company_id={b}")).await, set(&[]), "another company's id shows nothing");

    // Everything for ADMIN, with company filters, sorting, paging, time windows.
    let l = admin.list(&format!("/api/analyses/?company_id={a}")).await;
    assert_eq!(l["total"], 3);
    let l = admin.list(&format!("/api/analyses/?company_id.exclude={a}")).await;
    assert_eq!(keys(&l, "analysis_id"), set(&[&q3]));
    let order = |l: &Value| -> Vec<String> {
        l["items"].as_array().expect("items").iter().map(|x| id(x, "analysis_id")).collect()
    };
    assert_eq!(
        order(&admin.list("/api/analyses/").await),
        [q3.clone(), q2.clone(), b1.clone(), q1.clone()],
        "newest first"
    );
    let l = admin.list("/api/analyses/?sorting=time_created{asc}&offset=1&limit=2").await;
    assert_eq!(
        (order(&l), l["total"].clone(), l["offset"].clone(), l["limit"].clone()),
        (vec![b1.clone(), q2.clone()], json!(4), json!(1), json!(2))
    );
    let l = admin.list("/api/analyses/?total_omit=true&limit=1").await;
    assert!(l.get("total").is_none(), "{l}");
    let t_b1 = an1[1]["time_created"].as_f64().expect("time");
    let t_q2 = f2["analyses"][0]["time_created"].as_f64().expect("time");
    let mid_ms = ((t_b1 + t_q2) / 2.0 * 1000.0) as i64;
    assert_eq!(
        keys(&admin.list(&format!("/api/analyses/?time_created.min={mid_ms}")).await, "analysis_id"),
        set(&[&q2, &q3])
    );
    assert_eq!(
        keys(&admin.list(&format!("/api/analyses/?time_created.max={}", (t_b1 + t_q2) / 2.0)).await, "analysis_id"),
        set(&[&q1, &b1])
    );
    assert_eq!(admin.list(&format!("/api/analyses/?time_updated.min={}", t_q2 - 0.001)).await["total"], 2);
    for (q, what) in [
        ("analyse_id=nope", "a bad id"),
        ("limit=5000", "limit over 1000"),
        ("sorting=name", "unknown sort"),
        ("time_created.min=soon", "a bad time"),
    ] {
        let (st, e) = admin.get(&format!("/api/analyses/?{q}")).await;
        oz_error(st, &e, 400, 4, what);
    }

    // GET /api/media/: the folder routes' media are the oracle.
    let media_of = |f: &Value| -> Vec<Value> { f["media"].as_array().expect("media").clone() };
    let (_, f1_now) = a_user.get(&format!("/api/folders/{fid1}")).await;
    let m1 = media_of(&f1_now);
    let all1: BTreeSet<String> = m1.iter().map(|m| id(m, "media_id")).collect();
    let by = |pred: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        m1.iter().filter(|m| pred(m)).map(|m| id(m, "media_id")).collect()
    };
    let shots = by(&|m| m["media_type"] == "IMAGE_RESULT_ANALYSIS_SINGLE");
    assert_eq!(shots.len(), 1, "QUALITY kept a best shot of the selfie: {f1_now}");
    let selfie = by(&|m| m["original_name"] == "obama__portrait.jpg");
    let id_photo = by(&|m| m["original_name"] == "obama__podium.jpg");
    let (_, f2_now) = a_admin.get(&format!("/api/folders/{fid2}")).await;
    let all2: BTreeSet<String> = media_of(&f2_now).iter().map(|m| id(m, "media_id")).collect();
    let (_, f3_now) = b_user.get(&format!("/api/folders/{fid3}")).await;
    let all3: BTreeSet<String> = media_of(&f3_now).iter().map(|m| id(m, "media_id")).collect();

    let l = a_user.list("/api/media/").await;
    assert_eq!((keys(&l, "media_id"), l["total"].clone()), (all1.clone(), json!(all1.len())));
    let l = a_admin.list("/api/media").await;
    assert_eq!(keys(&l, "media_id"), all1.union(&all2).cloned().collect());
    assert_eq!(keys(&b_user.list("/api/media/").await, "media_id"), all3);
    assert_eq!(admin.list("/api/media/").await["total"], json!(all1.len() + all2.len() + all3.len()));
    let sid = selfie.iter().next().expect("selfie").clone();
    for probe in [format!("media_id={sid}"), format!("folder_id={fid1}")] {
        assert_eq!(b_user.list(&format!("/api/media/?{probe}")).await["total"], 0, "{probe}");
    }
    assert_eq!(a_user.list(&format!("/api/media/?folder_id={fid2}")).await["total"], 0, "a company admin's folder");

    let m = |q: &str| {
        let c = &a_user;
        let q = q.to_string();
        async move { keys(&c.list(&format!("/api/media/?{q}")).await, "media_id") }
    };
    let minus = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> BTreeSet<String> { a.difference(b).cloned().collect() };
    assert_eq!(m("media_type=IMAGE_RESULT_ANALYSIS_SINGLE").await, shots);
    assert_eq!(m("media_type.exclude=IMAGE_RESULT_ANALYSIS_SINGLE").await, minus(&all1, &shots));
    assert_eq!(m(&format!("analysis_id={q1}")).await, shots, "best shots of an analysis");
    assert_eq!(m("tags=photo_id").await, id_photo);
    assert_eq!(m("tags=photo_id,photo_selfie").await, selfie.union(&id_photo).cloned().collect());
    assert_eq!(m("tags.exclude=photo_id").await, minus(&all1, &id_photo));
    assert_eq!(m("tags=PHOTO_ID").await, set(&[]), "tags are case-sensitive");
    assert_eq!(m("meta_data=side==front").await, selfie);
    assert_eq!(m(&format!("media_id={sid}")).await, selfie);
    assert_eq!(m(&format!("media_id.exclude={sid}")).await, minus(&all1, &selfie));
    let l = a_user.list("/api/media/?limit=1&sorting=time_created{asc}").await;
    assert_eq!((l["items"].as_array().map(Vec::len), l["total"].clone()), (Some(1), json!(all1.len())));
    let item = &l["items"][0];
    assert_eq!(item["folder_time_created"], f1["time_created"]);
    assert!(item["original_url"].as_str().is_some_and(|u| u.contains("/static/")), "{item}");
    let (st, e) = a_user.get("/api/media/?media_id=nope").await;
    oz_error(st, &e, 400, 4, "a bad media id");
}

// ---------------------------------------------------------------------------------------------
// Folder reads: with_user / with_company, .exclude filters, search_text
// ---------------------------------------------------------------------------------------------

both!(folder_reads_and_filters, folders_body);
async fn folders_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let a = company(&admin, "Acme Corp").await;
    let b = company(&admin, "Bravo").await;
    let alice = user(&admin, &a, "alice@acme.example", "CLIENT ADMIN", json!({})).await;
    let bob = user(&admin, &a, "bob@acme.example", "CLIENT", json!({})).await;
    let carol = user(&admin, &b, "carol@bravo.example", "CLIENT", json!({})).await;
    let fa1 = id(&folder(&alice, json!({ "transaction_id": "TX-100%" }), None).await, "folder_id");
    let fa2 = id(&folder(&bob, json!({ "transaction_id": "tx-200" }), None).await, "folder_id");
    let fb1 = id(&folder(&carol, json!({ "transaction_id": "tx-300" }), None).await, "folder_id");
    let fx = id(&folder(&admin, json!({ "note": "no company" }), None).await, "folder_id");

    // with_user / with_company on one folder.
    let (st, v) = alice.get(&format!("/api/folders/{fa2}/?with_user=true&with_company=True")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["user"]["user_id"], bob.user_id.as_str());
    assert_eq!(v["user"]["email"], "bob@acme.example");
    assert!(v["user"].get("password_hash").is_none());
    assert_eq!((v["company"]["company_id"].clone(), v["company"]["name"].clone()), (json!(a), json!("Acme Corp")));
    let (_, v) = alice.get(&format!("/api/folders/{fa2}")).await;
    assert!(v.get("user").is_none() && v.get("company").is_none(), "only when asked: {v}");
    let (_, v) = bob.get(&format!("/api/folders/{fa2}?with_user=true")).await;
    assert_eq!(v["user"]["email"], "bob@acme.example");
    assert!(v.get("company").is_none());
    let (_, v) = admin.get(&format!("/api/folders/{fx}?with_user=true&with_company=true&with_analyses=true")).await;
    assert_eq!(v["user"]["email"], "admin@example.com");
    assert!(v["company"].is_null(), "a folder without a company: {v}");
    assert_eq!(v["analyses"], json!([]));
    let (st, _) = carol.get(&format!("/api/folders/{fa2}?with_user=true")).await;
    assert_eq!(st, 404, "still another tenant's folder");

    // ... and on the list.
    let l = alice.list("/api/folders/?with_user=true&with_company=true").await;
    assert_eq!(keys(&l, "folder_id"), set(&[&fa1, &fa2]));
    for it in l["items"].as_array().expect("items") {
        assert_eq!(it["user"]["user_id"], it["user_id"], "{it}");
        assert_eq!(it["company"]["company_id"], json!(a), "{it}");
    }
    let l = admin.list("/api/folders/?with_company=true").await;
    for it in l["items"].as_array().expect("items") {
        assert_eq!(it["company"]["company_id"], it["company_id"], "{it}");
        assert!(it.get("user").is_none());
    }

    // .exclude filters and owner lists (ADMIN sees the four folders).
    let f = |q: &str| {
        let c = &admin;
        let q = q.to_string();
        async move {
            let l = c.list(&format!("/api/folders/?{q}")).await;
            let k = keys(&l, "folder_id");
            assert_eq!(l["total"], json!(k.len()), "{q}: {l}");
            k
        }
    };
    assert_eq!(f(&format!("folder_id.exclude={fa1}")).await, set(&[&fa2, &fb1, &fx]));
    assert_eq!(f(&format!("folder_id.exclude={fa1},{fx}")).await, set(&[&fa2, &fb1]));
    assert_eq!(f(&format!("user_id.exclude={}", alice.user_id)).await, set(&[&fa2, &fb1, &fx]));
    assert_eq!(f(&format!("company_id.exclude={a}")).await, set(&[&fb1, &fx]), "no company is not company A");
    assert_eq!(f(&format!("user_id={},{}", alice.user_id, bob.user_id)).await, set(&[&fa1, &fa2]));
    assert_eq!(f(&format!("company_id={a},{b}")).await, set(&[&fa1, &fa2, &fb1]));
    let fa1_uuid = uuid::Uuid::parse_str(&fa1).expect("uuid");
    s.db.set_folder_status(fa1_uuid, R::Finished, R::Success).await.expect("status");
    assert_eq!(f("resolution_status.exclude=INITIAL").await, set(&[&fa1]));
    assert_eq!(f("resolution_status.exclude=SUCCESS").await, set(&[&fa2, &fb1, &fx]), "either status field");
    assert_eq!(f("resolution_status.exclude=finished,initial").await, set(&[]));

    // search_text: metadata, emails, ids; case-insensitive; % and _ are literal.
    assert_eq!(f("search_text=tx-2").await, set(&[&fa2]));
    assert_eq!(f("search_text=TX-").await, set(&[&fa1, &fa2, &fb1]));
    assert_eq!(f("search_text=100%25").await, set(&[&fa1]));
    assert_eq!(f("search_text=%25").await, set(&[&fa1]), "% is a character");
    assert_eq!(f("search_text=_").await, set(&[&fa1, &fa2, &fb1]), "_ is a character (transaction_id)");
    assert_eq!(f("search_text=BOB@acme").await, set(&[&fa2]), "the creator's email");
    assert_eq!(f("search_text=acme.EXAMPLE").await, set(&[&fa1, &fa2]));
    assert_eq!(f(&format!("search_text={}", &fb1[..13])).await, set(&[&fb1]), "part of the id");
    assert_eq!(f("search_text=no%20company").await, set(&[&fx]), "a metadata value");
    assert_eq!(f("search_text=NOTE").await, set(&[&fx]), "a metadata key");
    let l = admin.list(&format!("/api/folders/?search_text=tx-&company_id.exclude={b}&limit=1")).await;
    assert_eq!(l["total"], 2, "the total ignores paging");
    let l = alice.list("/api/folders/?search_text=tx-300").await;
    assert_eq!(l["total"], 0, "scope first: {l}");
    let l = alice.list("/api/folders/?search_text=carol").await;
    assert_eq!(l["total"], 0);
    let (st, e) = admin.get(&format!("/api/folders/?search_text={}", "x".repeat(300))).await;
    oz_error(st, &e, 400, 4, "search_text over 256 characters");
    let (st, e) = admin.get("/api/folders/?company_id.exclude=nope").await;
    oz_error(st, &e, 400, 4, "a bad id");
}

/// (items on the page, total) of a list.
async fn page(c: &C<'_>, p: &str) -> (usize, Value) {
    let l = c.list(p).await;
    (l["items"].as_array().map_or(0, Vec::len), l["total"].clone())
}

// ---------------------------------------------------------------------------------------------
// Users and companies: total is the real count
// ---------------------------------------------------------------------------------------------

both!(account_list_totals, totals_body);
async fn totals_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let alpha = company(&admin, "Alpha").await;
    let beta = company(&admin, "Beta").await;
    company(&admin, "Gamma").await;
    let alpha_admin = user(&admin, &alpha, "boss@alpha.example", "CLIENT ADMIN", json!({})).await;
    let alpha_1 = user(&admin, &alpha, "one@alpha.example", "CLIENT", json!({})).await;
    user(&admin, &beta, "one@beta.example", "CLIENT", json!({})).await;

    assert_eq!(page(&admin, "/api/companies/?limit=1").await, (1, json!(3)));
    assert_eq!(page(&admin, "/api/companies/?offset=2&limit=1").await, (1, json!(3)));
    assert_eq!(page(&admin, "/api/companies/?offset=5").await, (0, json!(3)));
    assert_eq!(page(&admin, "/api/companies/?search_text=MM&limit=1").await, (1, json!(1)));
    assert_eq!(page(&admin, "/api/companies/?search_text=a&limit=2").await, (2, json!(3)));
    assert_eq!(page(&alpha_1, "/api/companies/?limit=1").await, (1, json!(1)), "its own only");
    let l = admin.list("/api/companies/?total_omit=true").await;
    assert!(l.get("total").is_none(), "{l}");

    assert_eq!(page(&admin, "/api/users/?limit=1").await, (1, json!(4)), "the ADMIN counts too");
    assert_eq!(page(&admin, &format!("/api/users/?company_id={alpha}&limit=1")).await, (1, json!(2)));
    assert_eq!(page(&admin, "/api/users/?search_text=ALPHA&limit=1").await, (1, json!(2)));
    assert_eq!(page(&admin, "/api/users/?search_text=one@&offset=1").await, (1, json!(2)));
    assert_eq!(page(&alpha_admin, "/api/users/?limit=1").await, (1, json!(2)), "the company's users");
    assert_eq!(page(&alpha_admin, &format!("/api/users/?company_id={beta}")).await, (0, json!(0)));
    assert_eq!(page(&alpha_admin, "/api/users/?search_text=beta").await, (0, json!(0)));
    assert_eq!(page(&alpha_1, "/api/users/").await, (1, json!(1)), "itself");
    let l = alpha_admin.list("/api/users/?total_omit=1").await;
    assert!(l.get("total").is_none(), "{l}");
}

// ---------------------------------------------------------------------------------------------
// GET /api/config and GET /api/statistics/
// ---------------------------------------------------------------------------------------------

both!(config_and_statistics, stats_body);
async fn stats_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;

    let r = reqwest::Client::new().get(format!("{}/api/config", s.base)).send().await.expect("send");
    assert_eq!(r.status(), 401);
    let (st, cfg) = admin.get("/api/config/").await;
    assert_eq!(st, 200, "{cfg}");
    assert_eq!((cfg["timezone"].clone(), cfg["tz_offset"].clone()), (json!("UTC"), json!(0)), "{cfg}");
    // The upload limits the server applies (Options: 10 MiB a file, 10 files).
    assert_eq!(cfg["uploads"]["max_file_bytes"], 10 * 1024 * 1024, "{cfg}");
    assert_eq!(cfg["uploads"]["max_files"], 10, "{cfg}");
    assert!(cfg["uploads"]["media_types"].as_array().is_some_and(|t| t.iter().any(|x| x == "video/mp4")), "{cfg}");

    let a = company(&admin, "Acme").await;
    let b = company(&admin, "Bravo").await;
    let a_admin = user(&admin, &a, "a-admin@example.com", "CLIENT ADMIN", json!({})).await;
    let b_user = user(&admin, &b, "b-user@example.com", "CLIENT", json!({})).await;
    let operator = user(&admin, &a, "op@example.com", "OPERATOR", json!({ "company_id": null })).await;
    let fa1 = folder(&a_admin, json!({}), Some(json!([{ "type": "quality" }]))).await;
    let fa2 = folder(&a_admin, json!({}), None).await;
    let fb1 = folder(&b_user, json!({}), Some(json!([{ "type": "quality" }]))).await;
    let rs_a = id(&fa1["analyses"][0], "resolution_status");
    let rs_b = id(&fb1["analyses"][0], "resolution_status");
    // 2025-06-30T23:30Z, 2025-07-01T12:00Z, 2025-07-02T08:00Z.
    let (t1, t2, t3) = (1_751_326_200.0, 1_751_371_200.0, 1_751_443_200.0);
    let folders_sql = "update folders set time_created = $1, time_updated = $1 where id = $2";
    let analyses_sql = "update analyses set time_created = $1, time_updated = $1 where folder_id = $2";
    for (f, t) in [(&fa1, t1), (&fa2, t2), (&fb1, t3)] {
        set_time(&s, folders_sql, t, &id(f, "folder_id")).await;
        set_time(&s, analyses_sql, t, &id(f, "folder_id")).await;
    }
    let day = |date: &str, time: i64, count: i64| json!({ "date": date, "time": time, "count": count });
    let (d0630, d0701, d0702) = (1_751_241_600_i64, 1_751_328_000_i64, 1_751_414_400_i64);

    let (st, v) = admin.get("/api/statistics/").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["folders"]["total"], 3, "{v}");
    assert_eq!(
        v["folders"]["per_day"],
        json!([day("2025-06-30", d0630, 1), day("2025-07-01", d0701, 1), day("2025-07-02", d0702, 1)])
    );
    let per_status = v["folders"]["per_status"].as_array().expect("per_status");
    assert_eq!(per_status.iter().map(|x| x["count"].as_i64().unwrap_or(0)).sum::<i64>(), 3);
    assert!(
        per_status.contains(&json!({ "resolution_status": "INITIAL", "system_resolution": "INITIAL", "count": 1 })),
        "{v}"
    );
    assert_eq!(v["analyses"]["total"], 2);
    let an_day = |date: &str, time: i64, rs: &str| json!({ "date": date, "time": time, "type": "QUALITY", "resolution_status": rs, "count": 1 });
    assert_eq!(
        v["analyses"]["per_day"],
        json!([an_day("2025-06-30", d0630, &rs_a), an_day("2025-07-02", d0702, &rs_b)])
    );
    let per_type = v["analyses"]["per_type"].as_array().expect("per_type");
    assert_eq!(per_type.iter().map(|x| x["count"].as_i64().unwrap_or(0)).sum::<i64>(), 2);
    assert!(per_type.iter().all(|x| x["type"] == "QUALITY"));
    let per_company = v["per_company"].as_array().expect("per_company for ADMIN");
    assert_eq!(per_company.len(), 2, "{v}");
    assert_eq!(per_company[0], json!({ "company_id": a, "name": "Acme", "folders": 2, "analyses": 1 }));
    assert_eq!(per_company[1], json!({ "company_id": b, "name": "Bravo", "folders": 1, "analyses": 1 }));

    // The caller's time zone moves the day boundary: 23:30Z is the next day in UTC+3.
    for tz in ["180", "%2B03:00"] {
        let (_, v) = admin.get(&format!("/api/statistics/?tz_offset={tz}")).await;
        let (n0701, n0702) = (d0701 - 10_800, d0702 - 10_800);
        assert_eq!(
            v["folders"]["per_day"],
            json!([day("2025-07-01", n0701, 2), day("2025-07-02", n0702, 1)]),
            "{tz}: {v}"
        );
        assert_eq!(v["tz_offset"], 180);
        assert_eq!(v["analyses"]["per_day"][0]["date"], "2025-07-01");
    }
    let (_, v) = admin.get("/api/statistics/?tz_offset=-05:00").await;
    assert_eq!(v["folders"]["per_day"][0], day("2025-06-30", d0630 + 18_000, 1), "{v}");

    // Time windows (seconds or milliseconds) and a company filter.
    let (_, v) = admin.get(&format!("/api/statistics/?time_created.min={}", d0701 * 1000)).await;
    assert_eq!((v["folders"]["total"].clone(), v["analyses"]["total"].clone()), (json!(2), json!(1)), "{v}");
    assert_eq!(v["time_created.min"], json!(d0701 as f64));
    let (_, v) = admin.get(&format!("/api/statistics/?time_created.max={t2}")).await;
    assert_eq!((v["folders"]["total"].clone(), v["analyses"]["total"].clone()), (json!(2), json!(1)));
    let (_, v) = admin.get(&format!("/api/statistics/?company_id={a}")).await;
    assert_eq!((v["folders"]["total"].clone(), v["analyses"]["total"].clone()), (json!(2), json!(1)));
    assert_eq!(v["per_company"].as_array().map(Vec::len), Some(1));
    let (_, v) = operator.get("/api/statistics/").await;
    assert_eq!((v["folders"]["total"].clone(), v["per_company"].as_array().map(Vec::len)), (json!(3), Some(2)));

    // Tenants count their own only, and see no per-company breakdown.
    let (st, v) = a_admin.get("/api/statistics").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["folders"]["total"].clone(), v["analyses"]["total"].clone()), (json!(2), json!(1)), "{v}");
    assert!(v.get("per_company").is_none(), "{v}");
    assert!(v["folders"]["per_day"].as_array().expect("days").iter().all(|d| d["date"] != "2025-07-02"));
    let (_, v) = a_admin.get(&format!("/api/statistics/?company_id={b}")).await;
    assert_eq!((v["folders"]["total"].clone(), v["analyses"]["total"].clone()), (json!(0), json!(0)), "{v}");
    let (_, v) = b_user.get("/api/statistics/").await;
    assert_eq!((v["folders"]["total"].clone(), v["analyses"]["total"].clone()), (json!(1), json!(1)));

    for (q, what) in [
        ("tz_offset=abc", "a bad offset"),
        ("tz_offset=900", "an offset past UTC+14"),
        ("time_created.min=20&time_created.max=10", "an empty window"),
        ("company_id=nope", "a bad id"),
    ] {
        let (st, e) = admin.get(&format!("/api/statistics/?{q}")).await;
        oz_error(st, &e, 400, 4, what);
    }
    let r = reqwest::Client::new().get(format!("{}/api/statistics/", s.base)).send().await.expect("send");
    assert_eq!(r.status(), 401);
}

/// Runs one statement with text binds straight in the database (test set-up the API has no
/// route for: a system verdict, a job's state); answers the rows it changed.
async fn exec(s: &TestServer, sql: &str, binds: &[&str]) -> u64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&s.url).await.expect("connect");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for b in binds {
        q = q.bind(b.to_string());
    }
    let n = q.execute(&pool).await.expect("statement").rows_affected();
    pool.close().await;
    n
}

/// Waits until no analysis of the folder is PROCESSING; answers the id of its first analysis.
async fn settled(c: &C<'_>, folder: &Value) -> String {
    let fid = id(folder, "folder_id");
    for _ in 0..600 {
        let (_, v) = c.get(&format!("/api/folders/{fid}/?with_analyses=true")).await;
        let list = v["analyses"].as_array().cloned().unwrap_or_default();
        if !list.is_empty() && list.iter().all(|a| a["state"] != "PROCESSING") {
            return id(&list[0], "analysis_id");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("analyses of {fid} did not finish");
}

both!(statistics_liveness_and_queue, liveness_body);
async fn liveness_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let a = company(&admin, "Acme").await;
    let b = company(&admin, "Bravo").await;
    let c = company(&admin, "Charlie").await;
    let a_user = user(&admin, &a, "a-user@example.com", "CLIENT", json!({})).await;
    let b_user = user(&admin, &b, "b-user@example.com", "CLIENT", json!({})).await;
    let c_admin = user(&admin, &c, "c-admin@example.com", "CLIENT ADMIN", json!({})).await;
    let operator = user(&admin, &a, "op@example.com", "OPERATOR", json!({ "company_id": null })).await;
    let quality = || Some(json!([{ "type": "quality" }]));

    // Six QUALITY analyses of Acme and one of Bravo, finished, then given the system verdict each
    // case needs; the operator's decisions go through the API (the audit trail).
    let mut acme = Vec::new();
    for _ in 0..6 {
        let f = folder(&a_user, json!({}), quality()).await;
        acme.push(settled(&a_user, &f).await);
    }
    let fb = folder(&b_user, json!({}), quality()).await;
    let bravo = settled(&b_user, &fb).await;
    let verdict = "update analyses set state = 'FINISHED', resolution_status = $1 where id = $2";
    let system = ["SUCCESS", "DECLINED", "OPERATOR_REQUIRED", "SUCCESS", "FAILED", "DECLINED"];
    for (aid, rs) in acme.iter().zip(system) {
        assert_eq!(exec(&s, verdict, &[rs, aid]).await, 1);
    }
    exec(&s, "update analyses set state = 'FAILED' where id = $1", &[&acme[4]]).await;
    exec(&s, verdict, &["SUCCESS", &bravo]).await;
    let decide = |aid: String, to: &'static str| {
        let operator = &operator;
        async move {
            let (st, v) = operator
                .post(
                    &format!("/api/analyses/{aid}/resolution"),
                    json!({ "resolution_status": to, "comment": "checked" }),
                )
                .await;
            assert_eq!(st, 200, "decide {aid} {to}: {v}");
        }
    };
    decide(acme[0].clone(), "DECLINED").await; // a missed attack
    decide(acme[1].clone(), "SUCCESS").await; // a false reject
    decide(acme[2].clone(), "DECLINED").await; // the review band caught an attack
    decide(acme[5].clone(), "SUCCESS").await; // changed back: the system's DECLINED stood
    decide(acme[5].clone(), "DECLINED").await;
    decide(bravo.clone(), "DECLINED").await; // Bravo's missed attack

    let liveness =
        |finished: i64, failed: i64, sys: [i64; 3], decided: [i64; 3], flips: [i64; 2], rates: [Value; 2]| {
            json!({
                "finished": finished, "failed": failed, "processing": 0,
                "system_success": sys[0], "system_declined": sys[1], "system_operator_required": sys[2],
                "decided": decided[0], "operator_success": decided[1], "operator_declined": decided[2],
                "missed_attacks": flips[0], "false_rejects": flips[1],
                "apcer_estimate": rates[0], "bpcer_estimate": rates[1],
            })
        };
    let acme_l = liveness(5, 1, [2, 2, 1], [4, 1, 3], [1, 1], [json!(0.333333), json!(1.0)]);
    let bravo_l = liveness(1, 0, [1, 0, 0], [1, 0, 1], [1, 0], [json!(1.0), Value::Null]);
    let none = liveness(0, 0, [0, 0, 0], [0, 0, 0], [0, 0], [Value::Null, Value::Null]);
    let (st, v) = a_user.get("/api/statistics/").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["liveness"], acme_l, "{v}");
    let (_, v) = b_user.get("/api/statistics/").await;
    assert_eq!(v["liveness"], bravo_l, "{v}");
    let (_, v) = c_admin.get("/api/statistics/").await;
    assert_eq!(v["liveness"], none, "another company counts nothing: {v}");
    let (_, v) = a_user.get(&format!("/api/statistics/?company_id={b}")).await;
    assert_eq!(v["liveness"], none, "{v}");
    let (_, v) = admin.get("/api/statistics/").await;
    assert_eq!(v["liveness"], liveness(6, 1, [3, 2, 1], [5, 1, 4], [2, 1], [json!(0.5), json!(1.0)]), "{v}");
    let (_, v) = operator.get(&format!("/api/statistics/?company_id={b}")).await;
    assert_eq!(v["liveness"], bravo_l, "{v}");
    // The time window applies: the undecided SUCCESS moved to 2025 falls out of a later window.
    set_time(&s, "update analyses set time_created = $1 where id = $2", 1_751_326_200.0, &acme[3]).await;
    let (_, v) = a_user.get("/api/statistics/?time_created.min=1751400000").await;
    assert_eq!(
        (v["liveness"]["finished"].clone(), v["liveness"]["system_success"].clone()),
        (json!(4), json!(1)),
        "{v}"
    );
    let (_, v) = a_user.get("/api/statistics/?time_created.max=1751400000").await;
    assert_eq!((v["liveness"]["finished"].clone(), v["liveness"]["decided"].clone()), (json!(1), json!(0)), "{v}");
    assert_eq!(v["queue"]["processing"], 0, "{v}");
    assert!(v["queue"]["oldest_age_s"].is_null(), "{v}");

    // The queue: one Acme analysis waits (queued for later), one is held by a worker; a webhook
    // delivery is pending for an Acme folder and one for Bravo's.
    let fq1 = folder(&a_user, json!({}), quality()).await;
    let q1 = settled(&a_user, &fq1).await;
    let fq2 = folder(&a_user, json!({}), quality()).await;
    let q2 = settled(&a_user, &fq2).await;
    let now = oz_storage::now();
    let (old, later) = ((now - 100.0).to_string(), (now + 3600.0).to_string());
    let processing = "update analyses set state = 'PROCESSING', resolution_status = 'PROCESSING', \
                      time_created = cast($1 as double precision) where id = $2";
    let processing =
        if kind == Kind::Sqlite { processing.replace("double precision", "real") } else { processing.into() };
    exec(&s, &processing, &[&old, &q1]).await;
    exec(&s, &processing, &[&now.to_string(), &q2]).await;
    let queued = "update jobs set state = 'queued', run_after = cast($1 as double precision) where analysis_id = $2";
    let running = "update jobs set state = 'running', lease_until = cast($1 as double precision), \
                   started_at = cast($1 as double precision) - 3000 where analysis_id = $2";
    for (sql, aid) in [(queued, &q1), (running, &q2)] {
        let sql = if kind == Kind::Sqlite { sql.replace("double precision", "real") } else { sql.into() };
        assert_eq!(exec(&s, &sql, &[&later, aid]).await, 1, "{sql}");
    }
    let hook = "insert into webhook_deliveries (id, folder_id, url, state, attempts, next_attempt_at, time_created) \
                values ($1, $2, 'http://127.0.0.1:9/hook', 'pending', 0, cast($3 as double precision), 0)";
    let hook = if kind == Kind::Sqlite { hook.replace("double precision", "real") } else { hook.into() };
    for f in [&fq1, &fb] {
        exec(&s, &hook, &[&uuid::Uuid::new_v4().to_string(), &id(f, "folder_id"), &later]).await;
    }
    let (_, v) = a_user.get("/api/statistics/").await;
    let q = &v["queue"];
    assert_eq!(
        (q["processing"].clone(), q["waiting"].clone(), q["running"].clone(), q["webhooks_pending"].clone()),
        (json!(2), json!(1), json!(1), json!(1)),
        "{v}"
    );
    let age = q["oldest_age_s"].as_i64().expect("an age");
    assert!((100..160).contains(&age), "oldest_age_s {age}");
    assert_eq!(v["liveness"]["processing"], 2, "{v}");
    // The window does not hide the queue (it is now), the company filter and the scope do.
    let (_, v) = a_user.get("/api/statistics/?time_created.max=1751400000").await;
    assert_eq!(v["queue"]["processing"], 2, "{v}");
    let (_, v) = b_user.get("/api/statistics/").await;
    assert_eq!(
        v["queue"],
        json!({ "processing": 0, "waiting": 0, "running": 0, "oldest_age_s": null, "webhooks_pending": 1 }),
        "{v}"
    );
    let (_, v) = c_admin.get("/api/statistics/").await;
    assert_eq!(
        v["queue"],
        json!({ "processing": 0, "waiting": 0, "running": 0, "oldest_age_s": null, "webhooks_pending": 0 }),
        "{v}"
    );
    let (_, v) = admin.get("/api/statistics/").await;
    assert_eq!((v["queue"]["processing"].clone(), v["queue"]["webhooks_pending"].clone()), (json!(2), json!(2)), "{v}");
    let (_, v) = admin.get(&format!("/api/statistics/?company_id={b}")).await;
    assert_eq!((v["queue"]["processing"].clone(), v["queue"]["webhooks_pending"].clone()), (json!(0), json!(1)), "{v}");
    let (_, v) = operator.get(&format!("/api/statistics/?company_id={a}")).await;
    assert_eq!((v["queue"]["waiting"].clone(), v["queue"]["webhooks_pending"].clone()), (json!(1), json!(1)), "{v}");
}

// ---------------------------------------------------------------------------------------------
// Single request mode: the whole payload is checked before anything is stored
// ---------------------------------------------------------------------------------------------

/// No folder row (ADMIN sees every folder) and no file in the media folder.
async fn nothing_stored(admin: &C<'_>, what: String) {
    let l = admin.list("/api/folders/").await;
    assert_eq!(l["total"], 0, "{what}: a folder was left: {l}");
    let left = media_files(admin.s);
    assert!(left.is_empty(), "{what}: files were left: {left:?}");
}

/// Uploads `files` with `payload` and expects the Oz error `status` / `code`; answers the payload
/// as text (for messages).
async fn refused(c: &C<'_>, files: &[(&str, &str)], payload: Value, status: u16, code: i64) -> String {
    let (st, e) = c.upload("/api/folders/", form(files, payload.clone())).await;
    oz_error(st, &e, status, code, &payload.to_string());
    payload.to_string()
}

both!(single_request_checks_everything_first, single_request_body);
async fn single_request_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = admin(&s).await;
    let a = company(&admin, "Acme").await;
    let b = company(&admin, "Bravo").await;
    let client = user(&admin, &a, "client@example.com", "CLIENT", json!({})).await;
    let no_biometry =
        user(&admin, &a, "nobio@example.com", "CLIENT", json!({ "can_start_analysis_biometry": false })).await;
    let both_files = [("selfie", SELFIE), ("id", ID_PHOTO)];
    let tags = json!({ "selfie": ["photo_selfie"], "id": ["photo_id", "photo_id_front"] });
    let nothing_stored = |what: String| nothing_stored(&admin, what);
    let cases: Vec<(Value, u16, i64)> = vec![
        (json!([{ "type": "quality" }, { "type": "nonsense" }]), 400, 4),
        (json!([{ "type": "documents" }]), 501, 2),
        (json!([{ "params": {} }]), 400, 3),
        (json!([{ "type": "quality", "params": { "threshold_spoofing": 2 } }]), 400, 4),
        // A parameter of the wrong type is Oz's INVALID TYPE (5).
        (json!([{ "type": "quality", "params": { "extract_best_shot": "yes" } }]), 400, 5),
        (json!([{ "type": "quality", "params": [1] }]), 400, 5),
        (json!([{ "type": "quality", "meta_data": [1] }]), 400, 5),
        (json!([{ "type": "biometry", "source_media": [uuid::Uuid::new_v4().to_string()] }]), 400, 4),
        (json!([{ "type": "quality", "source_media": "all" }]), 400, 5),
        (json!([{ "type": "collection" }]), 400, 4),
        (json!([{ "type": "collection", "params": { "collection_id": uuid::Uuid::new_v4().to_string() } }]), 400, 4),
        (json!(vec![json!({ "type": "quality" }); 21]), 400, 4),
        (json!({ "type": "quality" }), 400, 5),
    ];
    for (analyses, status, code) in cases {
        let what =
            refused(&client, &both_files, json!({ "media:tags": tags, "analyses": analyses }), status, code).await;
        nothing_stored(what).await;
    }
    // The media each analysis takes, from the uploads' kinds and tags.
    let what = refused(
        &client,
        &[("id", ID_PHOTO)],
        json!({ "media:tags": { "id": ["photo_id"] }, "analyses": [{ "type": "quality" }] }),
        400,
        4,
    )
    .await;
    nothing_stored(what).await;
    let what = refused(&client, &[("selfie", SELFIE)], json!({ "analyses": [{ "type": "biometry" }] }), 400, 4).await;
    nothing_stored(what).await;
    // The endpoint, and the caller's rights.
    let payload = json!({ "media:tags": tags, "analyses": [{ "type": "quality" }], "resolution_endpoint": "ftp://example.com/hook" });
    nothing_stored(refused(&client, &both_files, payload, 400, 4).await).await;
    let payload = json!({ "media:tags": tags, "analyses": [{ "type": "quality" }, { "type": "biometry" }] });
    nothing_stored(refused(&no_biometry, &both_files, payload, 403, 9).await).await;
    // COLLECTION params are looked up: another company's collection, a bad threshold.
    let (st, col_a) = admin.post("/api/collections/", json!({ "alias": "blacklist", "company_id": a })).await;
    assert_eq!(st, 201, "{col_a}");
    let (st, col_b) = admin.post("/api/collections/", json!({ "alias": "blacklist", "company_id": b })).await;
    assert_eq!(st, 201, "{col_b}");
    let (col_a, col_b) = (id(&col_a, "collection_id"), id(&col_b, "collection_id"));
    for params in [json!({ "collection_id": col_b }), json!({ "collection_id": col_a, "decision_threshold": 5 })] {
        let payload = json!({ "media:tags": tags, "analyses": [{ "type": "quality" }, { "type": "collection", "params": params }] });
        nothing_stored(refused(&client, &both_files, payload, 400, 4).await).await;
    }
    // A file that is not media, or empty, is refused before anything is written, naming its key.
    for bytes in [b"hello, not an image".to_vec(), Vec::new()] {
        let f = Form::new()
            .part("selfie", Part::bytes(fixture(SELFIE)).file_name("s.jpg").mime_str("image/jpeg").expect("mime"))
            .part("junk", Part::bytes(bytes).file_name("j.jpg").mime_str("image/jpeg").expect("mime"))
            .part(
                "payload",
                Part::text(json!({ "media:tags": tags, "analyses": [{ "type": "quality" }] }).to_string()),
            );
        let (st, e) = client.upload("/api/folders/", f).await;
        oz_error(st, &e, 400, 4, "junk media");
        assert_eq!(e["details"]["key"], "junk", "{e}");
        nothing_stored("junk media".into()).await;
    }

    // A good request still runs, and its analyses take the stored media.
    let payload = json!({
        "media:tags": tags,
        "analyses": [{ "type": "quality" }, { "type": "biometry" }, { "type": "collection", "params": { "collection_id": col_a } }],
    });
    let (st, f) = client.upload("/api/folders/", form(&both_files, payload)).await;
    assert_eq!(st, 201, "{f}");
    let stored: BTreeSet<String> = f["media"].as_array().expect("media").iter().map(|m| id(m, "media_id")).collect();
    let an = f["analyses"].as_array().expect("analyses");
    assert_eq!(an.len(), 3);
    for x in an {
        assert_eq!(x["state"], "FINISHED", "{x}");
        let src: BTreeSet<String> =
            x["source_media"].as_array().expect("source").iter().map(|m| id(m, "media_id")).collect();
        assert!(!src.is_empty() && src.is_subset(&stored), "{x}");
    }
    let selfie_id = f["media"]
        .as_array()
        .expect("media")
        .iter()
        .find(|m| m["original_name"] == "obama__portrait.jpg")
        .map(|m| id(m, "media_id"));
    assert_eq!(
        an[0]["source_media"][0]["media_id"].as_str().map(str::to_string),
        selfie_id,
        "QUALITY takes the selfie"
    );
    assert_eq!(an[1]["source_media"].as_array().map(Vec::len), Some(2), "BIOMETRY takes both");
    assert_eq!(admin.list("/api/folders/").await["total"], 1);
}
