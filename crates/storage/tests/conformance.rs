//! Storage conformance: one set of scenarios, run on SQLite and on PostgreSQL.
//!
//! Every scenario is an `async fn(Db, String)` (the database and its URL) and `both!` turns it
//! into two tests, `<scenario>::sqlite` and `<scenario>::postgres`, each on a fresh database:
//!
//! - SQLite: a temporary file `sqlite:///tmp/oz-test-<uuid>.db?mode=rwc`, removed afterwards;
//! - PostgreSQL: `create database oz_test_<uuid>` on the server of `OZ_TEST_POSTGRES_URL`, dropped
//!   afterwards. `scripts/with-postgres.sh cargo test -p oz-storage` starts a throw-away server and
//!   sets the variable. Without it the PostgreSQL tests print a notice and pass, except when `CI` is
//!   set: then they fail, so CI cannot skip them silently.
//!
//! Run one engine with `cargo test -p oz-storage --test conformance sqlite` (or `postgres`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use oz_domain::access::{AnalysisKind, Role, Scope};
use oz_domain::assign::MediaClass;
use oz_domain::status::{AnalysisState, ResolutionStatus as R};
use oz_storage::accounts::{MetaTable, NewUser, UserPatch};
use oz_storage::analyses::{AnalysisFilter, NewAnalysis, Outcome};
use oz_storage::folders::{FolderFilter, MetaCondition, NewMedia};
use oz_storage::{Analysis, Backend, Db, Folder, Job, StoreError, now};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection};
use uuid::Uuid;

// ---- harness ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

/// Removes an SQLite database file and its WAL companions, even when the scenario panicked.
struct SqliteFiles(PathBuf);

impl Drop for SqliteFiles {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] SqliteFiles),
    Postgres { admin_url: String, name: String },
}

/// `OZ_TEST_POSTGRES_URL`, or `None` (skip) outside CI. Panics in CI when it is missing.
fn postgres_admin_url() -> Option<String> {
    if let Ok(u) = std::env::var("OZ_TEST_POSTGRES_URL")
        && !u.trim().is_empty()
    {
        return Some(u);
    }
    let ci =
        std::env::var("CI").map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")).unwrap_or(false);
    assert!(
        !ci,
        "OZ_TEST_POSTGRES_URL is not set and CI is: run `scripts/with-postgres.sh cargo test -p oz-storage` \
         so the PostgreSQL conformance tests cannot be skipped"
    );
    // Straight to the stderr handle: `eprintln!` is captured by the test harness and never shown.
    static NOTICE: std::sync::Once = std::sync::Once::new();
    NOTICE.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "notice: OZ_TEST_POSTGRES_URL is not set; the PostgreSQL conformance tests are skipped \
             (run `scripts/with-postgres.sh cargo test -p oz-storage`)"
        );
    });
    None
}

/// The same server URL with another database name (keeps user, host, port and query).
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

async fn admin_exec(admin_url: &str, sql: String) {
    let mut conn = sqlx::PgConnection::connect(admin_url).await.expect("connect to OZ_TEST_POSTGRES_URL");
    sqlx::raw_sql(AssertSqlSafe(sql.clone())).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// A fresh, migrated database of `engine`, or `None` when the engine is not available here.
async fn fresh(engine: Engine) -> Option<(Db, String, Cleanup)> {
    let name = format!("oz_test_{}", Uuid::new_v4().simple());
    let (url, cleanup) = match engine {
        Engine::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            (url, Cleanup::Sqlite(SqliteFiles(path)))
        }
        Engine::Postgres => {
            let admin_url = postgres_admin_url()?;
            admin_exec(&admin_url, format!("create database {name}")).await;
            (with_database(&admin_url, &name), Cleanup::Postgres { admin_url, name })
        }
    };
    let db = Db::connect(&url).await.unwrap_or_else(|e| panic!("connect {url}: {e}"));
    let expected = if engine == Engine::Sqlite { Backend::Sqlite } else { Backend::Postgres };
    assert_eq!(db.backend(), expected);
    Some((db, url, cleanup))
}

/// Runs one scenario on a fresh database of `engine`, then drops the database.
async fn run<F, Fut>(engine: Engine, scenario: F)
where
    F: FnOnce(Db, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((db, url, cleanup)) = fresh(engine).await else { return };
    scenario(db.clone(), url).await;
    db.close().await;
    if let Cleanup::Postgres { admin_url, name } = cleanup {
        admin_exec(&admin_url, format!("drop database if exists {name} with (force)")).await;
    }
}

/// `both!(a, b)` makes the tests `a::sqlite`, `a::postgres`, `b::sqlite`, `b::postgres` out of
/// the scenarios `async fn a(db: Db, url: String)` and `async fn b(...)`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::run(super::Engine::Sqlite, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::run(super::Engine::Postgres, super::$name).await;
            }
        }
    )*};
}

both!(
    migrations_apply_twice,
    companies,
    users,
    sessions,
    emails_trimmed_and_unique_ignoring_case,
    refresh_families,
    folders_and_media,
    folder_list_filters,
    analyses_and_queue,
    lost_lease_cannot_finish,
    retry_and_max_attempts,
    expire_stuck,
    concurrent_workers,
    webhook_deliveries,
    fair_claiming,
    fair_claiming_round_robin,
    media_keep_the_client_order,
    liveness_challenges,
);

/// `sqlite::memory:` is one database, not one per pooled connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_sqlite_is_one_database() {
    let db = Db::connect("sqlite::memory:").await.expect("in-memory SQLite");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let db = db.clone();
        tasks.spawn(async move {
            let (_, user, f, media) = company_user_folder(&db, Some("https://hook.example/mem")).await;
            db.create_analyses(&f, Some(user), &[new_analysis(AnalysisKind::Quality, &media)], None)
                .await
                .expect("analysis");
            i
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    assert_eq!(db.count_users().await.expect("count"), 8);
    let mut n = 0;
    while let Some(j) = db.claim_job("w", 30.0, 3).await.expect("claim") {
        db.finish_job(&j, "w", &finished(R::Success, "w", vec![])).await.expect("finish");
        n += 1;
    }
    assert_eq!(n, 8);
    assert_eq!(db.folders(&FolderFilter::new(Scope::All), true).await.expect("folders").1, Some(8));
    db.close().await;
}

// ---- fixtures ---------------------------------------------------------------------------------

fn new_user(email: &str, role: Role, company_id: Option<Uuid>) -> NewUser {
    NewUser {
        email: email.to_string(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string(),
        role,
        company_id,
        is_admin: false,
        is_service: false,
        can_start_quality: true,
        can_start_biometry: true,
        can_start_collection: false,
        first_name: None,
        last_name: None,
        middle_name: None,
        meta_data: json!({}),
    }
}

fn new_media(class: MediaClass, original_name: &str) -> NewMedia {
    NewMedia {
        id: Uuid::new_v4(),
        class,
        file: oz_storage::StoredFile {
            original_name: original_name.to_string(),
            file_name: format!("{}.bin", Uuid::new_v4().simple()),
            mime_type: if class == MediaClass::Video { "video/mp4" } else { "image/jpeg" }.to_string(),
            size: 123_456,
            md5: "d41d8cd98f00b204e9800998ecf8427e".to_string(),
            info: json!({"thumb": null, "video": {"duration": 1.5, "FPS": 30}}),
        },
        tags: vec!["video_selfie_blank".to_string(), "orientation_portrait".to_string()],
        meta_data: json!({"camera": "front"}),
        technical_meta_data: json!({}),
        source_media_id: None,
        analysis_id: None,
        preview_file: None,
        video_file: None,
    }
}

fn new_analysis(kind: AnalysisKind, source: &[Uuid]) -> NewAnalysis {
    NewAnalysis {
        kind,
        confs: json!({"extract_best_shot": true}),
        source_media: source.to_vec(),
        meta_data: json!({"k": kind.as_str()}),
    }
}

/// A finished analysis with `verdict`, marked with the worker that produced it.
fn finished(verdict: R, by: &str, outputs: Vec<NewMedia>) -> Outcome {
    Outcome {
        state: AnalysisState::Finished,
        resolution_status: verdict,
        results_data: Some(json!({"by": by, "confidence_spoofing": 0.01})),
        results_media: json!([{"source_media_id": null, "results_data": {"by": by}, "output_images": []}]),
        error_code: None,
        error_message: None,
        technical_meta_data: json!({"worker": by}),
        outputs,
    }
}

async fn company_user_folder(db: &Db, endpoint: Option<&str>) -> (Uuid, Uuid, Folder, Vec<Uuid>) {
    let c = db.create_company(&format!("co {}", Uuid::new_v4()), &json!({})).await.expect("company");
    let u = db
        .create_user(&new_user(&format!("{}@example.com", Uuid::new_v4()), Role::Client, Some(c.id)))
        .await
        .expect("user");
    let (folder, media) = db
        .create_folder(Some(c.id), Some(u.id), &json!({}), endpoint, &[new_media(MediaClass::Video, "v.mp4")])
        .await
        .expect("folder");
    (c.id, u.id, folder, media.iter().map(|m| m.id).collect())
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::NotFound) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

async fn claim(db: &Db, worker: &str) -> Job {
    db.claim_job(worker, 30.0, 5).await.expect("claim_job").unwrap_or_else(|| panic!("{worker}: no job to claim"))
}

async fn job_state(db: &Db, analysis_id: Uuid) -> (String, i64) {
    db.job_of(analysis_id).await.expect("job_of")
}

async fn analysis(db: &Db, id: Uuid) -> Analysis {
    db.analysis(id, &Scope::All).await.expect("analysis")
}

async fn folder(db: &Db, id: Uuid) -> Folder {
    db.folder(id, &Scope::All).await.expect("folder")
}

fn ids<T, F: Fn(&T) -> Uuid>(items: &[T], f: F) -> Vec<Uuid> {
    items.iter().map(f).collect()
}

// ---- scenarios --------------------------------------------------------------------------------

async fn migrations_apply_twice(db: Db, url: String) {
    db.ping().await.expect("ping");
    let c = db.create_company("Kept", &json!({"a": 1})).await.expect("company");

    // A second server start on the same database: the migrations are already there.
    let again = Db::connect(&url).await.expect("second connect re-runs the migrations");
    assert_eq!(again.backend(), db.backend());
    assert_eq!(again.company(c.id, &Scope::All).await.expect("same data"), c);
    again.close().await;

    // Two more at once (two replicas starting together).
    let (a, b) = tokio::join!(Db::connect(&url), Db::connect(&url));
    let (a, b) = (a.expect("concurrent connect a"), b.expect("concurrent connect b"));
    a.ping().await.expect("ping a");
    b.ping().await.expect("ping b");
    assert_eq!(b.companies(&Scope::All, None, 0, 10).await.expect("companies").len(), 1);
    a.close().await;
    b.close().await;

    assert_eq!(
        Db::url_or_default(None, std::path::Path::new("/var/lib/openoz")),
        "sqlite:///var/lib/openoz/openoz.db?mode=rwc"
    );
    assert_eq!(Db::url_or_default(Some(" "), std::path::Path::new("/d")), "sqlite:///d/openoz.db?mode=rwc");
    assert_eq!(Db::url_or_default(Some(&url), std::path::Path::new("/d")), url);
    match Db::connect("mysql://localhost/x").await {
        Err(StoreError::BadUrl(m)) => assert!(m.starts_with("mysql"), "{m}"),
        other => panic!("expected BadUrl, got {other:?}"),
    }
}

async fn companies(db: Db, _url: String) {
    let a = db.create_company("Acme Corp", &json!({"tier": "gold"})).await.expect("create a");
    let b = db.create_company("Other_Co 100%", &json!({})).await.expect("create b");
    assert_eq!(a.name, "Acme Corp");
    assert_eq!(a.meta_data, json!({"tier": "gold"}));

    assert_eq!(db.company(a.id, &Scope::All).await.expect("all"), a);
    assert_eq!(db.company(a.id, &Scope::Company(a.id)).await.expect("own company"), a);
    assert_not_found(db.company(a.id, &Scope::Company(b.id)).await, "other company");
    assert_not_found(db.company(a.id, &Scope::Nothing).await, "scope nothing");
    assert_not_found(db.company(Uuid::new_v4(), &Scope::All).await, "unknown id");

    let names = |v: Vec<oz_storage::Company>| v.into_iter().map(|c| c.name).collect::<Vec<_>>();
    let search = |s: &'static str| {
        let db = db.clone();
        async move { names(db.companies(&Scope::All, Some(s), 0, 100).await.expect("search")) }
    };
    assert_eq!(search("ACME").await, ["Acme Corp"]);
    assert_eq!(search("corp").await, ["Acme Corp"]);
    assert_eq!(search("co").await, ["Acme Corp", "Other_Co 100%"]);
    assert_eq!(search("_").await, ["Other_Co 100%"], "_ is literal");
    assert_eq!(search("%").await, ["Other_Co 100%"], "% is literal");
    assert_eq!(search("r_c").await, ["Other_Co 100%"]);
    assert!(search("zzz").await.is_empty());
    assert_eq!(names(db.companies(&Scope::All, None, 0, 1).await.expect("page 1")), ["Acme Corp"]);
    assert_eq!(names(db.companies(&Scope::All, None, 1, 1).await.expect("page 2")), ["Other_Co 100%"]);
    assert_eq!(names(db.companies(&Scope::Company(b.id), None, 0, 100).await.expect("scoped")), ["Other_Co 100%"]);
    assert!(db.companies(&Scope::Company(b.id), Some("acme"), 0, 100).await.expect("scoped search").is_empty());
    assert!(db.companies(&Scope::Nothing, None, 0, 100).await.expect("nothing").is_empty());

    db.update_company(a.id, Some("Acme Inc"), None).await.expect("rename");
    let a2 = db.company(a.id, &Scope::All).await.expect("get");
    assert_eq!(
        (a2.name.as_str(), &a2.meta_data, a2.time_created),
        ("Acme Inc", &json!({"tier": "gold"}), a.time_created)
    );
    db.update_company(a.id, None, Some(&json!({"tier": "silver", "n": [1, 2]}))).await.expect("meta");
    let a3 = db.company(a.id, &Scope::All).await.expect("get");
    assert_eq!((a3.name.as_str(), a3.meta_data), ("Acme Inc", json!({"tier": "silver", "n": [1, 2]})));
    assert_not_found(db.update_company(Uuid::new_v4(), Some("x"), None).await, "update unknown");

    // Deleting a company removes its users.
    let u = db.create_user(&new_user("member@b.example", Role::Client, Some(b.id))).await.expect("user");
    db.delete_company(b.id).await.expect("delete");
    assert_not_found(db.company(b.id, &Scope::All).await, "deleted");
    assert_not_found(db.delete_company(b.id).await, "delete twice");
    assert_not_found(db.user(u.id).await, "user of a deleted company");
    assert_eq!(names(db.companies(&Scope::All, None, 0, 100).await.expect("list")), ["Acme Inc"]);
}

async fn users(db: Db, _url: String) {
    let c1 = db.create_company("One", &json!({})).await.expect("c1").id;
    let c2 = db.create_company("Two", &json!({})).await.expect("c2").id;

    let mut nu = new_user("Alice@Example.com", Role::Client, Some(c1));
    nu.is_admin = true;
    nu.first_name = Some("Alice".into());
    nu.meta_data = json!({"team": "red"});
    let alice = db.create_user(&nu).await.expect("alice");
    assert_eq!(alice.email, "alice@example.com", "emails are stored lower-case");
    assert_eq!((alice.role, alice.company_id, alice.is_admin, alice.is_service), (Role::Client, Some(c1), true, false));
    assert_eq!((alice.can_start_quality, alice.can_start_biometry, alice.can_start_collection), (true, true, false));
    assert_eq!((alice.first_name.as_deref(), alice.last_name.as_deref()), (Some("Alice"), None));
    assert_eq!(alice.meta_data, json!({"team": "red"}));
    assert_eq!(alice.principal().company_id, Some(c1));
    assert_eq!(db.user(alice.id).await.expect("user"), alice);

    assert_conflict(db.create_user(&new_user("ALICE@example.COM", Role::Client, None)).await, "duplicate email");
    assert_eq!(db.user_by_email("  ALICE@EXAMPLE.COM ").await.expect("by email"), alice);
    assert_not_found(db.user_by_email("nobody@example.com").await, "unknown email");

    let mut nb = new_user("bob@example.com", Role::ClientOperator, Some(c1));
    nb.last_name = Some("Builder".into());
    let bob = db.create_user(&nb).await.expect("bob");
    let carol = db.create_user(&new_user("carol@other.org", Role::Client, Some(c2))).await.expect("carol");
    let root = db.create_user(&new_user("root@example.com", Role::Admin, None)).await.expect("root");
    assert_eq!(db.count_users().await.expect("count"), 4);

    let list = |scope: Scope, company: Option<Uuid>, search: Option<&'static str>, offset: i64, limit: i64| {
        let db = db.clone();
        async move { ids(&db.users(&scope, company, search, offset, limit).await.expect("users"), |u| u.id) }
    };
    assert_eq!(list(Scope::All, None, None, 0, 100).await, [alice.id, bob.id, carol.id, root.id]);
    assert_eq!(list(Scope::Company(c1), None, None, 0, 100).await, [alice.id, bob.id]);
    assert_eq!(list(Scope::Own(carol.id), None, None, 0, 100).await, [carol.id]);
    assert!(list(Scope::Nothing, None, None, 0, 100).await.is_empty());
    assert_eq!(list(Scope::All, Some(c2), None, 0, 100).await, [carol.id]);
    assert!(list(Scope::Company(c1), Some(c2), None, 0, 100).await.is_empty());
    assert_eq!(list(Scope::All, None, Some("BUILDER"), 0, 100).await, [bob.id], "last name");
    assert_eq!(list(Scope::All, None, Some("alic"), 0, 100).await, [alice.id], "first name / email");
    assert_eq!(list(Scope::All, None, Some("Example"), 0, 100).await, [alice.id, bob.id, root.id]);
    assert_eq!(list(Scope::Company(c1), None, Some("example"), 0, 100).await, [alice.id, bob.id]);
    assert_eq!(list(Scope::Company(c1), Some(c1), Some("bob"), 0, 100).await, [bob.id], "every filter at once");
    assert!(list(Scope::All, None, Some("%"), 0, 100).await.is_empty(), "% is literal");
    assert!(list(Scope::All, None, Some("_"), 0, 100).await.is_empty(), "_ is literal");
    assert_eq!(list(Scope::All, None, None, 1, 2).await, [bob.id, carol.id], "offset/limit");

    assert_eq!(db.user_in(alice.id, &Scope::Company(c1)).await.expect("in company").id, alice.id);
    assert_eq!(db.user_in(alice.id, &Scope::Own(alice.id)).await.expect("own").id, alice.id);
    assert_not_found(db.user_in(alice.id, &Scope::Company(c2)).await, "other company");
    assert_not_found(db.user_in(alice.id, &Scope::Own(bob.id)).await, "other user");
    assert_not_found(db.user_in(alice.id, &Scope::Nothing).await, "nothing");

    // Partial updates keep what they do not name.
    let p = UserPatch { last_name: Some("Smith".into()), ..UserPatch::default() };
    let a = db.update_user(alice.id, &p).await.expect("last name");
    assert_eq!((a.last_name.as_deref(), a.first_name.as_deref()), (Some("Smith"), Some("Alice")));
    assert_eq!(
        (a.company_id, a.is_admin, a.email.as_str(), a.role),
        (Some(c1), true, "alice@example.com", Role::Client)
    );
    assert_eq!(a.password_hash, alice.password_hash);

    let p = UserPatch { company_id: Some(None), is_admin: Some(false), ..UserPatch::default() };
    let a = db.update_user(alice.id, &p).await.expect("no company");
    assert_eq!((a.company_id, a.is_admin), (None, false), "Some(None) clears the company");
    assert_eq!((a.last_name.as_deref(), a.first_name.as_deref()), (Some("Smith"), Some("Alice")));
    assert_eq!((a.can_start_quality, a.can_start_biometry, a.can_start_collection), (true, true, false));

    let p = UserPatch {
        company_id: Some(Some(c2)),
        role: Some(Role::ClientOperator),
        email: Some("Alice2@Example.COM".into()),
        password_hash: Some("new-hash".into()),
        can_start_collection: Some(true),
        is_service: Some(true),
        middle_name: Some("Q".into()),
        ..UserPatch::default()
    };
    let a = db.update_user(alice.id, &p).await.expect("many fields");
    assert_eq!((a.company_id, a.role, a.email.as_str()), (Some(c2), Role::ClientOperator, "alice2@example.com"));
    assert_eq!((a.password_hash.as_str(), a.can_start_collection, a.is_service), ("new-hash", true, true));
    assert_eq!((a.middle_name.as_deref(), a.last_name.as_deref()), (Some("Q"), Some("Smith")));
    let unchanged = db.update_user(alice.id, &UserPatch::default()).await.expect("empty patch");
    assert_eq!(unchanged, a);
    assert_eq!(db.user_by_email("alice2@example.com").await.expect("new email").id, alice.id);
    assert_not_found(db.user_by_email("alice@example.com").await, "old email");

    let p = UserPatch { email: Some("BOB@example.com".into()), ..UserPatch::default() };
    assert_conflict(db.update_user(alice.id, &p).await, "email taken by bob");
    assert_not_found(db.update_user(Uuid::new_v4(), &UserPatch::default()).await, "update unknown");

    db.set_meta_data(MetaTable::Users, bob.id, &json!({"x": [1, {"y": "z"}]})).await.expect("set meta");
    assert_eq!(db.meta_data(MetaTable::Users, bob.id).await.expect("meta"), json!({"x": [1, {"y": "z"}]}));
    assert_not_found(db.meta_data(MetaTable::Users, Uuid::new_v4()).await, "meta of unknown");
    assert_not_found(db.set_meta_data(MetaTable::Users, Uuid::new_v4(), &json!({})).await, "set meta of unknown");

    db.delete_user(bob.id).await.expect("delete");
    assert_not_found(db.user(bob.id).await, "deleted user");
    assert_not_found(db.delete_user(bob.id).await, "delete twice");
    assert_eq!(db.count_users().await.expect("count"), 3);
}

async fn sessions(db: Db, _url: String) {
    let u = db.create_user(&new_user("s@example.com", Role::Admin, None)).await.expect("user");
    let t0 = now();
    let s1 = db.create_session(u.id, "acc-1", "exp-1", 3600.0, None).await.expect("s1");
    assert!((s1.expire_at - (t0 + 3600.0)).abs() < 5.0);
    assert_eq!(db.session_by_access("acc-1").await.expect("by access"), s1);
    assert_eq!(db.session_by_expire("exp-1").await.expect("by expire"), s1);
    assert_not_found(db.session_by_access("exp-1").await, "expire token as access token");
    assert_not_found(db.session_by_expire("nope").await, "unknown");
    assert!(db.create_session(u.id, "acc-1", "exp-x", 60.0, None).await.is_err(), "access hashes are unique");

    // Refresh: a new pair that replaces s1 on first use.
    let s2 = db.create_session(u.id, "acc-2", "exp-2", 60.0, Some(s1.id)).await.expect("s2");
    assert_eq!(db.session_by_access("acc-2").await.expect("s2").predecessor_id, Some(s1.id));
    assert!(db.session_by_access("acc-1").await.is_ok(), "the old pair works until the new one is used");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let new_expiry = db.touch_session(&s2).await.expect("touch");
    assert!(new_expiry > s2.expire_at, "touch slides the expiry");
    let s2b = db.session_by_access("acc-2").await.expect("s2 after touch");
    assert_eq!((s2b.expire_at, s2b.predecessor_id), (new_expiry, None));
    assert_not_found(db.session_by_access("acc-1").await, "the predecessor is gone");
    assert_not_found(db.session_by_expire("exp-1").await, "the predecessor is gone");
    db.touch_session(&s2b).await.expect("touch without predecessor");

    let old = db.create_session(u.id, "acc-3", "exp-3", -10.0, None).await.expect("expired");
    assert_eq!(db.purge_sessions(now()).await.expect("purge"), 1);
    assert_not_found(db.session_by_access("acc-3").await, "purged");
    assert!(db.session_by_access("acc-2").await.is_ok(), "live session kept");
    assert_eq!(db.purge_sessions(old.expire_at - 1.0).await.expect("purge none"), 0);

    db.delete_session(s2.id).await.expect("delete");
    assert_not_found(db.session_by_access("acc-2").await, "deleted");

    db.create_session(u.id, "acc-4", "exp-4", 60.0, None).await.expect("s4");
    db.delete_user(u.id).await.expect("delete user");
    assert_not_found(db.session_by_access("acc-4").await, "sessions go with their user");
}

async fn emails_trimmed_and_unique_ignoring_case(db: Db, url: String) {
    let dave = db.create_user(&new_user("  Dave@Example.COM \t", Role::Admin, None)).await.expect("dave");
    assert_eq!(dave.email, "dave@example.com", "stored trimmed and lower-case");
    assert_eq!(db.user_by_email("DAVE@example.com").await.expect("by email").id, dave.id);
    assert_conflict(db.create_user(&new_user(" dave@EXAMPLE.com", Role::Client, None)).await, "same email");
    let erin = db.create_user(&new_user("erin@example.com", Role::Admin, None)).await.expect("erin");
    let p = UserPatch { email: Some("  Erin.New@Example.com  ".into()), ..UserPatch::default() };
    assert_eq!(db.update_user(erin.id, &p).await.expect("patch").email, "erin.new@example.com");
    let p = UserPatch { email: Some(" DAVE@example.com ".into()), ..UserPatch::default() };
    assert_conflict(db.update_user(erin.id, &p).await, "email taken, other case and spaces");
    let found = db.users(&Scope::All, None, Some("Erin.NEW@EXAMPLE"), 0, 10).await.expect("search");
    assert_eq!(ids(&found, |u| u.id), [erin.id], "search ignores case");

    // The database itself refuses a second spelling of an email (a row written by other means).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("raw connect");
    let raw = sqlx::query(
        "insert into users (id, email, password_hash, user_type, meta_data, time_created) \
         values ($1, 'DAVE@example.com', 'x', 'ADMIN', '{}', 0)",
    )
    .bind(Uuid::new_v4().to_string())
    .execute(&pool)
    .await;
    assert!(raw.is_err(), "unique index on lower(email)");
    pool.close().await;
}

async fn refresh_families(db: Db, _url: String) {
    let u = db.create_user(&new_user("f@example.com", Role::Client, None)).await.expect("user");
    let other = db.create_user(&new_user("g@example.com", Role::Client, None)).await.expect("other");
    let login = db.create_session(u.id, "acc-1", "exp-1", 60.0, None).await.expect("login");
    assert_eq!(login.family_id, login.id, "a login starts a family");
    let second_login = db.create_session(u.id, "acc-b", "exp-b", 60.0, None).await.expect("second login");
    let theirs = db.create_session(other.id, "acc-o", "exp-o", 60.0, None).await.expect("other user");

    // Each refresh token is spent once.
    assert_eq!(db.spent_refresh_family("exp-1").await.expect("not spent"), None);
    assert!(db.spend_refresh_token(&login, "exp-1").await.expect("spend"));
    assert!(!db.spend_refresh_token(&login, "exp-1").await.expect("spend again"), "second spend is refused");
    assert_eq!(db.spent_refresh_family("exp-1").await.expect("spent"), Some(login.id));
    let r1 = db.create_session(u.id, "acc-2", "exp-2", 60.0, Some(login.id)).await.expect("refresh 1");
    assert_eq!(r1.family_id, login.id, "a refreshed pair joins the family");
    assert_eq!(db.session_by_access("acc-2").await.expect("r1"), r1);
    db.touch_session(&r1).await.expect("first use removes the predecessor");
    assert!(db.spend_refresh_token(&r1, "exp-2").await.expect("spend r1"));
    let r2 = db.create_session(u.id, "acc-3", "exp-3", 60.0, Some(r1.id)).await.expect("refresh 2");
    assert_eq!(r2.family_id, login.id, "the family spans the whole chain");
    assert_eq!(db.spent_refresh_family("exp-1").await.expect("still known"), Some(login.id));

    // Purging keeps spent tokens while their family lives.
    db.purge_sessions(now()).await.expect("purge");
    assert_eq!(db.spent_refresh_family("exp-2").await.expect("kept"), Some(login.id));

    // Revoking the family ends every pair of the chain, nothing else.
    assert_eq!(db.revoke_session_family(login.id).await.expect("revoke"), 2, "r1 (not yet replaced) and r2");
    assert_not_found(db.session_by_access("acc-2").await, "r1 revoked");
    assert_not_found(db.session_by_access("acc-3").await, "r2 revoked");
    assert!(db.session_by_access("acc-b").await.is_ok(), "another login of the user is untouched");
    assert!(db.session_by_access("acc-o").await.is_ok(), "another user is untouched");
    db.purge_sessions(now()).await.expect("purge");
    assert_eq!(db.spent_refresh_family("exp-1").await.expect("purged"), None, "family gone, its tokens too");

    // A user's sessions, except one family (a password change), or all of them (an ADMIN).
    let third = db.create_session(u.id, "acc-c", "exp-c", 60.0, None).await.expect("third login");
    assert_eq!(db.revoke_user_sessions(u.id, Some(third.family_id)).await.expect("others"), 1);
    assert_not_found(db.session_by_access("acc-b").await, "other login revoked");
    assert!(db.session_by_access("acc-c").await.is_ok(), "kept family");
    assert_eq!(db.revoke_user_sessions(u.id, None).await.expect("all"), 1);
    assert_not_found(db.session_by_access("acc-c").await, "all revoked");
    assert_eq!(db.session_by_access("acc-o").await.expect("other user"), theirs);
    let _ = second_login;
}

/// Rows written before migration 0003 (emails with capitals and spaces, sessions without a
/// family) come out normalised.
async fn migration_0003_normalises(engine: Engine) {
    let name = format!("oz_test_{}", Uuid::new_v4().simple());
    let (url, cleanup) = match engine {
        Engine::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            (format!("sqlite://{}?mode=rwc", path.display()), Cleanup::Sqlite(SqliteFiles(path)))
        }
        Engine::Postgres => {
            let Some(admin_url) = postgres_admin_url() else { return };
            admin_exec(&admin_url, format!("create database {name}")).await;
            (with_database(&admin_url, &name), Cleanup::Postgres { admin_url, name })
        }
    };
    let dir = if engine == Engine::Sqlite { "sqlite" } else { "postgres" };
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations")).join(dir);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("raw connect");
    let old = sqlx::migrate::Migrator::new(dir).await.expect("migrations");
    old.run_to(2, &pool).await.expect("migrations before 0003");
    let uid = Uuid::new_v4();
    sqlx::query(
        "insert into users (id, email, password_hash, user_type, meta_data, time_created) \
         values ($1, '  Mixed@Case.COM ', 'x', 'ADMIN', '{}', 0)",
    )
    .bind(uid.to_string())
    .execute(&pool)
    .await
    .expect("old user");
    let sid = Uuid::new_v4();
    sqlx::query(
        "insert into sessions (id, user_id, access_hash, expire_hash, expire_at, ttl_s, time_created) \
         values ($1, $2, 'acc-old', 'exp-old', $3, 60, 0)",
    )
    .bind(sid.to_string())
    .bind(uid.to_string())
    .bind(now() + 60.0)
    .execute(&pool)
    .await
    .expect("old session");
    pool.close().await;

    let db = Db::connect(&url).await.expect("the remaining migrations");
    let u = db.user_by_email("mixed@case.com").await.expect("normalised email");
    assert_eq!((u.id, u.email.as_str()), (uid, "mixed@case.com"));
    let s = db.session_by_access("acc-old").await.expect("old session");
    assert_eq!(s.family_id, sid, "an old session is its own family");
    db.close().await;
    if let Cleanup::Postgres { admin_url, name } = cleanup {
        admin_exec(&admin_url, format!("drop database if exists {name} with (force)")).await;
    }
}

mod migration_0003 {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::migration_0003_normalises(super::Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::migration_0003_normalises(super::Engine::Postgres).await;
    }
}

async fn folders_and_media(db: Db, _url: String) {
    let c1 = db.create_company("c1", &json!({})).await.expect("c1").id;
    let c2 = db.create_company("c2", &json!({})).await.expect("c2").id;
    let u1 = db.create_user(&new_user("u1@x.example", Role::Client, Some(c1))).await.expect("u1").id;
    let u2 = db.create_user(&new_user("u2@x.example", Role::Client, Some(c1))).await.expect("u2").id;

    let m1 = new_media(MediaClass::Video, "selfie.mp4");
    let mut m2 = new_media(MediaClass::Image, "photo_id.jpg");
    m2.tags = vec!["photo_id_front".into()];
    m2.file.info = json!({"thumb": null, "original": {"width": 640, "height": 480}});
    let (f, media) = db
        .create_folder(
            Some(c1),
            Some(u1),
            &json!({"order": "A-1"}),
            Some("https://hook.example/x"),
            &[m1.clone(), m2.clone()],
        )
        .await
        .expect("create folder");
    assert_eq!((f.company_id, f.user_id), (Some(c1), Some(u1)));
    assert_eq!((f.resolution_status, f.system_resolution), (R::Initial, R::Initial));
    assert_eq!(f.resolution_endpoint.as_deref(), Some("https://hook.example/x"));
    assert_eq!(f.meta_data, json!({"order": "A-1"}));
    assert_eq!(f.time_created, f.time_updated);
    assert_eq!(media.len(), 2);
    let got: HashMap<Uuid, &oz_storage::Media> = media.iter().map(|m| (m.id, m)).collect();
    for nm in [&m1, &m2] {
        let m = got.get(&nm.id).unwrap_or_else(|| panic!("media {} stored", nm.file.original_name));
        assert_eq!((m.folder_id, m.company_id, m.user_id, m.class), (f.id, Some(c1), Some(u1), nm.class));
        assert_eq!(
            (&m.file.original_name, &m.file.file_name, &m.file.mime_type, m.file.size),
            (&nm.file.original_name, &nm.file.file_name, &nm.file.mime_type, nm.file.size)
        );
        assert_eq!(
            (&m.file.md5, &m.file.info, &m.tags, &m.meta_data),
            (&nm.file.md5, &nm.file.info, &nm.tags, &nm.meta_data)
        );
        assert_eq!((m.source_media_id, m.analysis_id), (None, None));
    }

    assert_eq!(db.folder(f.id, &Scope::Own(u1)).await.expect("own"), f);
    assert_eq!(db.folder(f.id, &Scope::Company(c1)).await.expect("company"), f);
    assert_eq!(db.folder(f.id, &Scope::All).await.expect("all"), f);
    assert_not_found(db.folder(f.id, &Scope::Own(u2)).await, "another user's folder");
    assert_not_found(db.folder(f.id, &Scope::Company(c2)).await, "another company's folder");
    assert_not_found(db.folder(f.id, &Scope::Nothing).await, "nothing");
    assert_not_found(db.folder(Uuid::new_v4(), &Scope::All).await, "unknown");

    assert_eq!(db.media(m1.id, &Scope::Company(c1)).await.expect("media").id, m1.id);
    assert_not_found(db.media(m1.id, &Scope::Company(c2)).await, "media of another company");
    assert_not_found(db.media(m1.id, &Scope::Own(u2)).await, "media of another user");
    assert_eq!(db.media_by_file(&m2.file.file_name, &Scope::Own(u1)).await.expect("by file").id, m2.id);
    assert_not_found(db.media_by_file(&m2.file.file_name, &Scope::Company(c2)).await, "file of another company");
    assert_not_found(db.media_by_file("nope.bin", &Scope::All).await, "unknown file");

    // A failing insert leaves no half-made folder behind.
    let before = db.folders(&FolderFilter::new(Scope::All), true).await.expect("list").1;
    let dup = new_media(MediaClass::Image, "dup.jpg");
    assert!(db.create_folder(None, None, &json!({}), None, &[dup.clone(), dup]).await.is_err(), "duplicate media id");
    assert_eq!(db.folders(&FolderFilter::new(Scope::All), true).await.expect("list").1, before, "rolled back");

    tokio::time::sleep(Duration::from_millis(5)).await;
    let m3 = new_media(MediaClass::ShotSet, "shots.zip");
    let added = db.add_media(&f, std::slice::from_ref(&m3)).await.expect("add media");
    assert_eq!(ids(&added, |m| m.id), [m3.id]);
    assert_eq!(added[0].class, MediaClass::ShotSet);
    assert_eq!(db.folder_media(f.id).await.expect("media").len(), 3);
    assert!(folder(&db, f.id).await.time_updated > f.time_updated, "add_media touches the folder");

    db.set_media_tags(m3.id, &["a".into(), "b \"quoted\"".into()]).await.expect("tags");
    assert_eq!(db.media(m3.id, &Scope::All).await.expect("media").tags, ["a", "b \"quoted\""]);
    assert_not_found(db.set_media_tags(Uuid::new_v4(), &[]).await, "tags of unknown");
    db.set_meta_data(MetaTable::Media, m3.id, &json!({"m": true})).await.expect("media meta");
    assert_eq!(db.meta_data(MetaTable::Media, m3.id).await.expect("media meta"), json!({"m": true}));
    db.set_meta_data(MetaTable::Folders, f.id, &json!({"order": "A-2"})).await.expect("folder meta");
    assert_eq!(folder(&db, f.id).await.meta_data, json!({"order": "A-2"}));

    assert_eq!(db.delete_media(m3.id).await.expect("delete media"), vec![m3.file.file_name.clone()]);
    assert_not_found(db.media(m3.id, &Scope::All).await, "deleted media");
    assert_not_found(db.delete_media(m3.id).await, "delete twice");

    db.set_folder_endpoint(f.id, "https://hook.example/y").await.expect("endpoint");
    db.set_folder_status(f.id, R::Finished, R::OperatorRequired).await.expect("status");
    let f2 = folder(&db, f.id).await;
    assert_eq!(f2.resolution_endpoint.as_deref(), Some("https://hook.example/y"));
    assert_eq!((f2.resolution_status, f2.system_resolution), (R::Finished, R::OperatorRequired));

    // Another folder, to see that listing by folders and deleting stay per folder.
    let (g, gm) =
        db.create_folder(Some(c2), None, &json!({}), None, &[new_media(MediaClass::Image, "g.jpg")]).await.expect("g");
    let all = db.media_of_folders(&[f.id, g.id]).await.expect("media of folders");
    assert_eq!(all.len(), 3);
    assert!(db.media_of_folders(&[]).await.expect("none").is_empty());

    // Deleting a folder takes its media, analyses and jobs with it.
    let analyses = db
        .create_analyses(&f2, Some(u1), &[new_analysis(AnalysisKind::Quality, &[m1.id])], None)
        .await
        .expect("analyses");
    let mut files = db.delete_folder(f.id).await.expect("delete folder");
    files.sort();
    let mut expected = vec![m1.file.file_name.clone(), m2.file.file_name.clone()];
    expected.sort();
    assert_eq!(files, expected, "delete_folder returns the files to remove");
    assert_not_found(db.folder(f.id, &Scope::All).await, "deleted folder");
    assert!(db.folder_media(f.id).await.expect("media").is_empty());
    assert_not_found(db.media(m1.id, &Scope::All).await, "media of a deleted folder");
    assert_not_found(db.analysis(analyses[0].id, &Scope::All).await, "analysis of a deleted folder");
    assert_not_found(db.job_of(analyses[0].id).await, "job of a deleted folder");
    assert!(!db.has_pending_jobs().await.expect("pending"), "no job left");
    assert_not_found(db.delete_folder(f.id).await, "delete twice");
    assert_eq!(ids(&db.folder_media(g.id).await.expect("g media"), |m| m.id), [gm[0].id], "other folder intact");
}

async fn folder_list_filters(db: Db, _url: String) {
    let c1 = db.create_company("c1", &json!({})).await.expect("c1").id;
    let c2 = db.create_company("c2", &json!({})).await.expect("c2").id;
    let u1 = db.create_user(&new_user("u1@y.example", Role::Client, Some(c1))).await.expect("u1").id;
    let u2 = db.create_user(&new_user("u2@y.example", Role::Client, Some(c1))).await.expect("u2").id;
    let u3 = db.create_user(&new_user("u3@y.example", Role::Client, Some(c2))).await.expect("u3").id;

    let metas = [
        json!({"name": "alice", "n": 5, "x": 1.5, "flag": true, "say \"hi\"": "yes", "a.b": "dot", "nested": {"a": 1}}),
        json!({"name": "bob", "n": 6, "it's": "ok", "flag": false, "nothing": null}),
        json!({"name": "alice", "n": 5, "x": "1.5"}),
        json!({}),
        json!({"n": "5", "name": "Alice"}),
    ];
    let owners = [(Some(c1), Some(u1)), (Some(c1), Some(u2)), (Some(c2), Some(u3)), (Some(c1), Some(u1)), (None, None)];
    let mut f = Vec::new();
    let mut after = Vec::new(); // after[i]: a time between folder i and folder i + 1
    for (meta, (c, u)) in metas.iter().zip(owners) {
        f.push(db.create_folder(c, u, meta, None, &[]).await.expect("folder").0.id);
        tokio::time::sleep(Duration::from_millis(3)).await;
        after.push(now());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let (f1, f2, f3, f4, f5) = (f[0], f[1], f[2], f[3], f[4]);

    let run = |flt: FolderFilter, with_total: bool| {
        let db = db.clone();
        async move {
            let (rows, total) = db.folders(&flt, with_total).await.expect("folders");
            (ids(&rows, |x| x.id), total)
        }
    };
    let set = |v: Vec<Uuid>| v.into_iter().collect::<BTreeSet<_>>();
    let meta = |conds: &[(&str, bool, &str)]| {
        let mut flt = FolderFilter::new(Scope::All);
        flt.meta = conds
            .iter()
            .map(|(k, eq, v)| MetaCondition { key: k.to_string(), equal: *eq, value: v.to_string() })
            .collect();
        flt
    };

    // Sorting and paging.
    assert_eq!(run(FolderFilter::new(Scope::All), true).await, (vec![f5, f4, f3, f2, f1], Some(5)), "newest first");
    let mut flt = FolderFilter::new(Scope::All);
    flt.page.descending = false;
    assert_eq!(run(flt.clone(), true).await, (vec![f1, f2, f3, f4, f5], Some(5)), "ascending");
    flt.page.offset = 1;
    flt.page.limit = 2;
    assert_eq!(run(flt, false).await, (vec![f2, f3], None), "offset/limit, no total");
    let mut flt = FolderFilter::new(Scope::All);
    flt.page.offset = 1;
    flt.page.limit = 2;
    assert_eq!(run(flt.clone(), true).await, (vec![f4, f3], Some(5)), "the total ignores paging");
    flt.page.offset = 10;
    assert_eq!(run(flt, true).await, (vec![], Some(5)));

    // Metadata: strings, numbers, booleans, odd keys; a missing key is "not equal".
    let m = |conds: &'static [(&'static str, bool, &'static str)]| {
        let flt = meta(conds);
        async move { set(run(flt, true).await.0) }
    };
    assert_eq!(m(&[("name", true, "alice")]).await, set(vec![f1, f3]), "case-sensitive string match");
    assert_eq!(m(&[("name", false, "alice")]).await, set(vec![f2, f4, f5]), "!= includes missing keys");
    assert_eq!(m(&[("n", true, "5")]).await, set(vec![f1, f3, f5]), "number 5 and string \"5\"");
    assert_eq!(m(&[("n", false, "5")]).await, set(vec![f2, f4]));
    assert_eq!(m(&[("n", true, "6")]).await, set(vec![f2]));
    assert_eq!(m(&[("x", true, "1.5")]).await, set(vec![f1, f3]), "float and string");
    assert_eq!(m(&[("flag", true, "true")]).await, set(vec![f1]), "boolean true");
    assert_eq!(m(&[("flag", true, "false")]).await, set(vec![f2]), "boolean false");
    assert_eq!(m(&[("flag", false, "true")]).await, set(vec![f2, f3, f4, f5]));
    assert_eq!(m(&[("say \"hi\"", true, "yes")]).await, set(vec![f1]), "key with double quotes");
    assert_eq!(m(&[("it's", true, "ok")]).await, set(vec![f2]), "key with a single quote");
    assert_eq!(m(&[("a.b", true, "dot")]).await, set(vec![f1]), "key with a dot is one key");
    assert_eq!(m(&[("nothing", true, "null")]).await, set(vec![]), "JSON null is not the string null");
    assert_eq!(m(&[("nothing", false, "x")]).await, set(vec![f1, f2, f3, f4, f5]));
    assert_eq!(m(&[("nested", false, "1")]).await, set(vec![f1, f2, f3, f4, f5]), "an object is not 1");
    assert_eq!(m(&[("name", true, "alice"), ("n", true, "5")]).await, set(vec![f1, f3]), "conditions combine");
    assert_eq!(m(&[("name", true, "alice"), ("n", false, "5")]).await, set(vec![]));
    assert_eq!(m(&[("'; drop table folders; --", true, "x")]).await, set(vec![]));
    assert_eq!(run(FolderFilter::new(Scope::All), true).await.1, Some(5), "still there");

    // Scopes and owner filters.
    let scoped = |scope: Scope| async move { run(FolderFilter::new(scope), true).await };
    assert_eq!(scoped(Scope::Company(c1)).await, (vec![f4, f2, f1], Some(3)));
    assert_eq!(scoped(Scope::Own(u1)).await, (vec![f4, f1], Some(2)));
    assert_eq!(scoped(Scope::Nothing).await, (vec![], Some(0)));
    let mut flt = FolderFilter::new(Scope::All);
    flt.owners.company_ids = vec![c2];
    assert_eq!(run(flt, true).await, (vec![f3], Some(1)));
    let mut flt = FolderFilter::new(Scope::Company(c1));
    flt.owners.user_ids = vec![u2];
    assert_eq!(run(flt, true).await, (vec![f2], Some(1)));
    let mut flt = FolderFilter::new(Scope::All);
    flt.owners.folder_ids = vec![f1, f3, Uuid::new_v4()];
    assert_eq!(run(flt, true).await, (vec![f3, f1], Some(2)));

    // Time windows.
    let mut flt = FolderFilter::new(Scope::All);
    flt.window.created_min = Some(after[1]);
    assert_eq!(set(run(flt, true).await.0), set(vec![f3, f4, f5]));
    let mut flt = FolderFilter::new(Scope::All);
    flt.window.created_max = Some(after[1]);
    assert_eq!(set(run(flt, true).await.0), set(vec![f1, f2]));
    let mut flt = FolderFilter::new(Scope::All);
    flt.window.created_min = Some(after[0]);
    flt.window.created_max = Some(after[2]);
    assert_eq!(run(flt, true).await, (vec![f3, f2], Some(2)));

    // Statuses (either field) and sorting by update time.
    let t_before_update = now();
    tokio::time::sleep(Duration::from_millis(3)).await;
    db.set_folder_status(f2, R::Processing, R::Processing).await.expect("status f2");
    tokio::time::sleep(Duration::from_millis(3)).await;
    db.set_folder_status(f1, R::Finished, R::Declined).await.expect("status f1");
    let st = |statuses: &[&str]| {
        let mut flt = FolderFilter::new(Scope::All);
        flt.statuses = statuses.iter().map(|s| s.to_string()).collect();
        async move { set(run(flt, true).await.0) }
    };
    assert_eq!(st(&["DECLINED"]).await, set(vec![f1]), "system_resolution");
    assert_eq!(st(&["FINISHED"]).await, set(vec![f1]), "resolution_status");
    assert_eq!(st(&["PROCESSING"]).await, set(vec![f2]));
    assert_eq!(st(&["INITIAL"]).await, set(vec![f3, f4, f5]));
    assert_eq!(st(&["FINISHED", "PROCESSING"]).await, set(vec![f1, f2]));
    let mut flt = FolderFilter::new(Scope::All);
    flt.page.sort_by_updated = true;
    assert_eq!(run(flt.clone(), true).await.0, [f1, f2, f5, f4, f3], "by time_updated, newest first");
    flt.window.updated_min = Some(t_before_update);
    assert_eq!(run(flt.clone(), true).await, (vec![f1, f2], Some(2)));
    flt.window.updated_min = None;
    flt.window.updated_max = Some(t_before_update);
    assert_eq!(run(flt, true).await, (vec![f5, f4, f3], Some(3)));

    // Everything at once: placeholders stay numbered right, and the total ignores paging.
    let mut flt = FolderFilter::new(Scope::All);
    flt.owners.folder_ids = vec![f1, f2, f3, f4];
    flt.statuses = vec!["INITIAL".into(), "FINISHED".into()];
    flt.meta = vec![
        MetaCondition { key: "n".into(), equal: true, value: "5".into() },
        MetaCondition { key: "name".into(), equal: false, value: "bob".into() },
    ];
    flt.window.created_min = Some(after[0] - 10.0);
    flt.window.created_max = Some(now() + 10.0);
    flt.page.descending = false;
    assert_eq!(run(flt.clone(), true).await, (vec![f1, f3], Some(2)));
    flt.page.offset = 1;
    flt.page.limit = 1;
    assert_eq!(run(flt.clone(), true).await, (vec![f3], Some(2)));
    flt.scope = Scope::Company(c1);
    flt.owners.user_ids = vec![u1];
    flt.owners.company_ids = vec![c1];
    flt.page.offset = 0;
    assert_eq!(run(flt, true).await, (vec![f1], Some(1)));
}

async fn analyses_and_queue(db: Db, _url: String) {
    let (company, user, f, media) = company_user_folder(&db, Some("https://hook.example/a")).await;
    let m1 = media[0];

    let group = db
        .create_analyses(
            &f,
            Some(user),
            &[new_analysis(AnalysisKind::Quality, &[m1]), new_analysis(AnalysisKind::Biometry, &[m1])],
            None,
        )
        .await
        .expect("create analyses");
    assert_eq!(group.len(), 2);
    let (qa, ba) = (&group[0], &group[1]);
    assert_eq!(qa.group_id, ba.group_id, "one group");
    assert_ne!(qa.id, ba.id);
    for (a, kind) in [(qa, AnalysisKind::Quality), (ba, AnalysisKind::Biometry)] {
        assert_eq!((a.folder_id, a.company_id, a.user_id, a.kind), (f.id, Some(company), Some(user), kind));
        assert_eq!((a.state, a.resolution_status), (AnalysisState::Processing, R::Processing));
        assert_eq!(
            (&a.source_media, &a.confs, &a.results_data),
            (&vec![m1], &json!({"extract_best_shot": true}), &None)
        );
    }
    let fp = folder(&db, f.id).await;
    assert_eq!((fp.resolution_status, fp.system_resolution), (R::Processing, R::Processing), "folder is PROCESSING");
    assert_eq!(db.analysis(qa.id, &Scope::Own(user)).await.expect("own").id, qa.id);
    assert_eq!(db.analysis(qa.id, &Scope::Company(company)).await.expect("company").id, qa.id);
    assert_not_found(db.analysis(qa.id, &Scope::Company(Uuid::new_v4())).await, "another company's analysis");
    assert_not_found(db.analysis(qa.id, &Scope::Nothing).await, "nothing");

    let filtered = |flt: AnalysisFilter| {
        let db = db.clone();
        async move { ids(&db.folder_analyses(f.id, &flt).await.expect("folder analyses"), |a| a.id) }
    };
    assert_eq!(filtered(AnalysisFilter::default()).await, [qa.id, ba.id], "creation order");
    assert_eq!(filtered(AnalysisFilter { types: vec!["quality".into()], ..Default::default() }).await, [qa.id]);
    assert_eq!(filtered(AnalysisFilter { types_exclude: vec!["QUALITY".into()], ..Default::default() }).await, [ba.id]);
    assert_eq!(filtered(AnalysisFilter { states: vec!["processing".into()], ..Default::default() }).await.len(), 2);
    assert_eq!(filtered(AnalysisFilter { ids_exclude: vec![qa.id], ..Default::default() }).await, [ba.id]);
    assert_eq!(db.analyses_of_folders(&[f.id, Uuid::new_v4()]).await.expect("of folders").len(), 2);
    assert!(db.analyses_of_folders(&[]).await.expect("none").is_empty());
    db.set_meta_data(MetaTable::Analyses, qa.id, &json!({"note": "x"})).await.expect("analysis meta");
    assert_eq!(db.meta_data(MetaTable::Analyses, qa.id).await.expect("analysis meta"), json!({"note": "x"}));
    assert!(analysis(&db, qa.id).await.time_updated >= qa.time_updated);

    assert_eq!(db.job_counts().await.expect("counts"), [("queued".to_string(), 2)]);
    assert!(db.has_pending_jobs().await.expect("pending"));

    // Each job is claimed once.
    let j1 = claim(&db, "w1").await;
    let j2 = claim(&db, "w2").await;
    assert_ne!(j1.id, j2.id);
    assert_eq!((j1.attempts, j2.attempts), (1, 1));
    assert_eq!([j1.analysis_id, j2.analysis_id].into_iter().collect::<HashSet<_>>(), HashSet::from([qa.id, ba.id]));
    assert_eq!(db.claim_job("w3", 30.0, 5).await.expect("claim"), None, "nothing left to claim");
    assert_eq!(db.job_counts().await.expect("counts"), [("running".to_string(), 2)]);
    assert!(db.has_pending_jobs().await.expect("pending"), "running jobs are pending");

    assert!(db.renew_lease(&j1, "w1", 60.0).await.expect("renew"));
    assert!(!db.renew_lease(&j1, "w2", 60.0).await.expect("renew by another"), "not w2's job");

    assert_conflict(db.finish_job(&j1, "w2", &finished(R::Success, "w2", vec![])).await, "finish by another worker");

    let mut best_shot = new_media(MediaClass::ResultImage, "best_shot.jpg");
    best_shot.source_media_id = Some(m1);
    best_shot.analysis_id = Some(j1.analysis_id);
    let up = db.finish_job(&j1, "w1", &finished(R::Success, "w1", vec![best_shot.clone()])).await.expect("finish j1");
    assert_eq!(
        (up.folder_id, up.resolution_status, up.system_resolution, up.webhook),
        (f.id, R::Processing, R::Processing, None)
    );
    let a1 = analysis(&db, j1.analysis_id).await;
    assert_eq!((a1.state, a1.resolution_status), (AnalysisState::Finished, R::Success));
    assert_eq!(a1.results_data, Some(json!({"by": "w1", "confidence_spoofing": 0.01})));
    assert_eq!(a1.technical_meta_data, json!({"worker": "w1"}));
    assert_eq!(a1.results_media[0]["results_data"], json!({"by": "w1"}));
    let out = db.media(best_shot.id, &Scope::Own(user)).await.expect("output media stored in the folder");
    assert_eq!(
        (out.folder_id, out.class, out.source_media_id, out.analysis_id),
        (f.id, MediaClass::ResultImage, Some(m1), Some(j1.analysis_id))
    );
    assert_eq!(job_state(&db, j1.analysis_id).await, ("done".to_string(), 1));
    assert_conflict(db.finish_job(&j1, "w1", &finished(R::Declined, "again", vec![])).await, "finish twice");
    assert_eq!(analysis(&db, j1.analysis_id).await.results_data, a1.results_data, "the first result stays");

    let up = db.finish_job(&j2, "w2", &finished(R::Declined, "w2", vec![])).await.expect("finish j2");
    assert_eq!((up.resolution_status, up.system_resolution), (R::Finished, R::Declined), "worst verdict of the group");
    let hook1 = up.webhook.expect("a webhook is queued when the group closes");
    let fd = folder(&db, f.id).await;
    assert_eq!((fd.resolution_status, fd.system_resolution), (R::Finished, R::Declined));
    let deliveries = db.deliveries_of_folder(f.id).await.expect("deliveries");
    assert_eq!(ids(&deliveries, |d| d.id), [hook1]);
    assert_eq!((deliveries[0].state.as_str(), deliveries[0].attempts), ("pending", 0));
    assert_eq!(db.job_counts().await.expect("counts"), [("done".to_string(), 2)]);
    assert!(!db.has_pending_jobs().await.expect("pending"));

    // A later group is all that counts, and it may bring its own webhook URL.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let g2 = db
        .create_analyses(&fd, Some(user), &[new_analysis(AnalysisKind::Quality, &[m1])], Some("https://hook.example/b"))
        .await
        .expect("second group");
    assert_ne!(g2[0].group_id, qa.group_id);
    let fp = folder(&db, f.id).await;
    assert_eq!(
        (fp.resolution_status, fp.resolution_endpoint.as_deref()),
        (R::Processing, Some("https://hook.example/b"))
    );
    let j3 = claim(&db, "w1").await;
    assert_eq!(j3.analysis_id, g2[0].id);
    let up = db.finish_job(&j3, "w1", &finished(R::Success, "w1", vec![])).await.expect("finish j3");
    assert_eq!(
        (up.resolution_status, up.system_resolution),
        (R::Finished, R::Success),
        "the DECLINED of group 1 is ignored"
    );
    let hook2 = up.webhook.expect("second webhook");
    assert_eq!(ids(&db.deliveries_of_folder(f.id).await.expect("deliveries"), |d| d.id), [hook1, hook2]);

    // Group 3 is still running when group 4 is created and closes: a late result of group 3
    // neither changes the folder nor sends another webhook.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let g3 = db
        .create_analyses(
            &fp,
            Some(user),
            &[new_analysis(AnalysisKind::Quality, &[m1]), new_analysis(AnalysisKind::Quality, &[m1])],
            None,
        )
        .await
        .expect("group 3");
    let (j4, j5) = (claim(&db, "w1").await, claim(&db, "w2").await);
    assert_eq!(HashSet::from([j4.analysis_id, j5.analysis_id]), HashSet::from([g3[0].id, g3[1].id]));
    let up = db.finish_job(&j4, "w1", &finished(R::Success, "w1", vec![])).await.expect("finish j4");
    assert_eq!((up.resolution_status, up.webhook), (R::Processing, None));
    tokio::time::sleep(Duration::from_millis(2)).await;
    let g4 = db
        .create_analyses(&fp, Some(user), &[new_analysis(AnalysisKind::Quality, &[m1])], None)
        .await
        .expect("group 4");
    let j6 = claim(&db, "w3").await;
    assert_eq!(j6.analysis_id, g4[0].id);
    let up = db.finish_job(&j6, "w3", &finished(R::OperatorRequired, "w3", vec![])).await.expect("finish j6");
    assert_eq!((up.resolution_status, up.system_resolution), (R::Finished, R::OperatorRequired));
    let hook3 = up.webhook.expect("third webhook");
    let late = Outcome::failed(3, "late failure");
    let up = db.finish_job(&j5, "w2", &late).await.expect("late finish of group 3");
    assert_eq!((up.resolution_status, up.system_resolution, up.webhook), (R::Finished, R::OperatorRequired, None));
    let a5 = analysis(&db, j5.analysis_id).await;
    assert_eq!(
        (a5.state, a5.resolution_status, a5.error_code, a5.error_message.as_deref()),
        (AnalysisState::Failed, R::Failed, Some(3), Some("late failure"))
    );
    assert_eq!(job_state(&db, j5.analysis_id).await.0, "failed");
    let fd = folder(&db, f.id).await;
    assert_eq!((fd.resolution_status, fd.system_resolution), (R::Finished, R::OperatorRequired));
    assert_eq!(
        ids(&db.deliveries_of_folder(f.id).await.expect("deliveries"), |d| d.id),
        [hook1, hook2, hook3],
        "no extra webhook"
    );

    // Without an endpoint, nothing is queued.
    let (_, u, plain, pm) = company_user_folder(&db, None).await;
    db.create_analyses(&plain, Some(u), &[new_analysis(AnalysisKind::Quality, &pm)], None).await.expect("analysis");
    let j = claim(&db, "w1").await;
    let up = db.finish_job(&j, "w1", &finished(R::Success, "w1", vec![])).await.expect("finish");
    assert_eq!((up.resolution_status, up.webhook), (R::Finished, None));
    assert!(db.deliveries_of_folder(plain.id).await.expect("deliveries").is_empty());
}

async fn lost_lease_cannot_finish(db: Db, _url: String) {
    let (_, user, f, media) = company_user_folder(&db, Some("https://hook.example/lease")).await;
    let a = db
        .create_analyses(&f, Some(user), &[new_analysis(AnalysisKind::Quality, &media)], None)
        .await
        .expect("analysis");

    // A negative lease is already over: the job can be taken over at once.
    let ja = db.claim_job("wa", -1.0, 5).await.expect("claim").expect("job for wa");
    let jb = db.claim_job("wb", 30.0, 5).await.expect("claim").expect("the expired lease is claimed again");
    assert_eq!((jb.id, jb.analysis_id, jb.attempts), (ja.id, a[0].id, 2));
    assert_eq!(db.claim_job("wc", 30.0, 5).await.expect("claim"), None, "wb's lease is live");

    assert!(!db.renew_lease(&ja, "wa", 30.0).await.expect("renew"), "wa lost the job");
    assert!(!db.retry_job(&ja, "wa", "late", now()).await.expect("retry"), "wa cannot requeue it");
    assert_conflict(
        db.finish_job(&ja, "wa", &finished(R::Declined, "wa", vec![])).await,
        "finish after the lease was lost",
    );
    let still = analysis(&db, a[0].id).await;
    assert_eq!((still.state, still.results_data), (AnalysisState::Processing, None), "the loser wrote nothing");
    assert_eq!(folder(&db, f.id).await.resolution_status, R::Processing);

    let up = db.finish_job(&jb, "wb", &finished(R::Success, "wb", vec![])).await.expect("wb finishes");
    assert_eq!((up.resolution_status, up.system_resolution), (R::Finished, R::Success));
    assert_conflict(db.finish_job(&ja, "wa", &finished(R::Declined, "wa", vec![])).await, "still no double finish");
    let done = analysis(&db, a[0].id).await;
    assert_eq!(
        (done.resolution_status, done.results_data.as_ref().map(|r| r["by"].clone())),
        (R::Success, Some(json!("wb")))
    );
    assert_eq!(job_state(&db, a[0].id).await, ("done".to_string(), 2));
    assert_eq!(db.deliveries_of_folder(f.id).await.expect("deliveries").len(), 1);
}

async fn retry_and_max_attempts(db: Db, _url: String) {
    let (_, user, f, media) = company_user_folder(&db, None).await;
    let a = db
        .create_analyses(&f, Some(user), &[new_analysis(AnalysisKind::Quality, &media)], None)
        .await
        .expect("analysis");
    let aid = a[0].id;

    let j = db.claim_job("w", 30.0, 2).await.expect("claim").expect("job");
    assert!(!db.retry_job(&j, "other", "not mine", now() - 1.0).await.expect("retry"), "only the holder retries");
    assert!(db.retry_job(&j, "w", "transient", now() - 1.0).await.expect("retry"));
    assert_eq!(job_state(&db, aid).await, ("queued".to_string(), 1));
    assert!(!db.renew_lease(&j, "w", 30.0).await.expect("renew"), "a queued job has no lease");
    assert_conflict(db.finish_job(&j, "w", &finished(R::Success, "w", vec![])).await, "finish a requeued job");

    let j = db.claim_job("w2", 30.0, 2).await.expect("claim").expect("re-queued job");
    assert_eq!((j.analysis_id, j.attempts), (aid, 2));
    assert!(db.retry_job(&j, "w2", "transient again", now() - 1.0).await.expect("retry"));
    assert_eq!(db.claim_job("w3", 30.0, 2).await.expect("claim"), None, "max_attempts = 2 reached");
    let j = db.claim_job("w3", 30.0, 3).await.expect("claim").expect("a third attempt is allowed");
    assert_eq!(j.attempts, 3);

    // An expired lease also counts against max_attempts.
    assert!(db.retry_job(&j, "w3", "x", now() - 1.0).await.expect("retry"));
    let j = db.claim_job("w4", -1.0, 4).await.expect("claim").expect("fourth");
    assert_eq!(j.attempts, 4);
    assert_eq!(db.claim_job("w5", 30.0, 4).await.expect("claim"), None, "expired, but out of attempts");
    assert!(db.has_pending_jobs().await.expect("pending"), "left for the expiry sweep");

    // Retrying later: not claimable before run_after.
    let j = db.claim_job("w5", 30.0, 10).await.expect("claim").expect("fifth");
    assert!(db.retry_job(&j, "w5", "later", now() + 3600.0).await.expect("retry"));
    assert_eq!(db.claim_job("w6", 30.0, 10).await.expect("claim"), None, "not due yet");
    assert_eq!(job_state(&db, aid).await, ("queued".to_string(), 5));
    assert_eq!(analysis(&db, aid).await.state, AnalysisState::Processing);
}

async fn expire_stuck(db: Db, _url: String) {
    let (_, user, f, media) = company_user_folder(&db, Some("https://hook.example/stuck")).await;
    let t_before = now();
    tokio::time::sleep(Duration::from_millis(3)).await;
    let g = db
        .create_analyses(
            &f,
            Some(user),
            &[new_analysis(AnalysisKind::Quality, &media), new_analysis(AnalysisKind::Biometry, &media)],
            None,
        )
        .await
        .expect("analyses");
    let (ja, jb) = (claim(&db, "wa").await, claim(&db, "wb").await);
    db.finish_job(&ja, "wa", &finished(R::Success, "wa", vec![])).await.expect("finish a");

    assert!(db.expire_stuck(t_before, 5).await.expect("expire none").is_empty(), "started after the cut-off");
    assert_eq!(analysis(&db, jb.analysis_id).await.state, AnalysisState::Processing);

    let ups = db.expire_stuck(now() + 1.0, 5).await.expect("expire");
    assert_eq!(ups.len(), 1);
    assert_eq!((ups[0].folder_id, ups[0].resolution_status, ups[0].system_resolution), (f.id, R::Failed, R::Failed));
    let hook = ups[0].webhook.expect("the closed folder's webhook");
    let b = analysis(&db, jb.analysis_id).await;
    assert_eq!((b.state, b.resolution_status, b.error_code), (AnalysisState::Failed, R::Failed, Some(0)));
    assert!(b.error_message.as_deref().unwrap_or("").contains("expired"), "{:?}", b.error_message);
    assert_eq!(analysis(&db, ja.analysis_id).await.resolution_status, R::Success, "finished analyses are left alone");
    assert_eq!(job_state(&db, jb.analysis_id).await.0, "failed");
    let fd = folder(&db, f.id).await;
    assert_eq!((fd.resolution_status, fd.system_resolution), (R::Failed, R::Failed));

    // The worker that still runs it cannot finish it any more; a second sweep does nothing.
    assert_conflict(db.finish_job(&jb, "wb", &finished(R::Success, "wb", vec![])).await, "finish an expired analysis");
    assert!(db.expire_stuck(now() + 1.0, 5).await.expect("expire again").is_empty());
    assert_eq!(ids(&db.deliveries_of_folder(f.id).await.expect("deliveries"), |d| d.id), [hook]);
    assert!(!db.has_pending_jobs().await.expect("pending"));
    assert_eq!(g.len(), 2);
}

/// Issue 19: a company's backlog does not starve another company. The worker claims the oldest
/// runnable job of the company with the fewest jobs running (ties: the oldest job), so company B's
/// one job, queued after company A's twenty, is the second job claimed, not the twenty-first.
async fn fair_claiming(db: Db, _url: String) {
    let (ca, ua, fa, media_a) = company_user_folder(&db, None).await;
    let backlog: Vec<NewAnalysis> = (0..20).map(|_| new_analysis(AnalysisKind::Biometry, &media_a)).collect();
    let a_jobs: HashSet<Uuid> =
        ids(&db.create_analyses(&fa, Some(ua), &backlog, None).await.expect("A's backlog"), |a| a.id)
            .into_iter()
            .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (cb, ub, fb, media_b) = company_user_folder(&db, None).await;
    let b_jobs = ids(
        &db.create_analyses(
            &fb,
            Some(ub),
            &[new_analysis(AnalysisKind::Quality, &media_b), new_analysis(AnalysisKind::Quality, &media_b)],
            None,
        )
        .await
        .expect("B's two"),
        |a| a.id,
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    // A folder without a company is a company of its own.
    let (none_f, none_media) =
        db.create_folder(None, None, &json!({}), None, &[new_media(MediaClass::Image, "x.jpg")]).await.expect("f");
    let none_media = none_media[0].id;
    let c_job = db
        .create_analyses(&none_f, None, &[new_analysis(AnalysisKind::Quality, &[none_media])], None)
        .await
        .expect("C")[0]
        .id;
    assert_eq!(db.company_open_jobs(ca).await.expect("count A"), 20);
    assert_eq!(db.company_open_jobs(cb).await.expect("count B"), 2);
    assert_eq!(db.company_open_jobs(Uuid::new_v4()).await.expect("count none"), 0);

    let owner = |j: &Job| {
        if a_jobs.contains(&j.analysis_id) {
            "A"
        } else if b_jobs.contains(&j.analysis_id) {
            "B"
        } else {
            assert_eq!(j.analysis_id, c_job);
            "C"
        }
    };
    // All idle: A's job is the oldest. Then B and C have none running: B's is older than C's.
    // Then A and B have one each, C too: A's job is the oldest again; then B's second.
    let mut order = Vec::new();
    let mut held = Vec::new();
    for w in 0..5 {
        let j = claim(&db, &format!("w{w}")).await;
        order.push(owner(&j));
        held.push((j, format!("w{w}")));
    }
    assert_eq!(order, ["A", "B", "C", "A", "B"], "claim order");
    // Only A has work left; a running job still counts as open work.
    assert_eq!(db.company_open_jobs(ca).await.expect("count A"), 20);
    assert_eq!(owner(&claim(&db, "w5").await), "A");
    // Finished jobs no longer count.
    let (j, w) = held.remove(1);
    assert_eq!(owner(&j), "B");
    db.finish_job(&j, &w, &finished(R::Success, &w, vec![])).await.expect("finish B");
    assert_eq!(db.company_open_jobs(cb).await.expect("count B"), 1);

    // A lease that ran out is no longer a running job of its company: D's job, whose lease is
    // over, is claimed again before A's older backlog (D has no live job, A has three).
    let (_, ud, fd, media_d) = company_user_folder(&db, None).await;
    let d = db.create_analyses(&fd, Some(ud), &[new_analysis(AnalysisKind::Quality, &media_d)], None).await.expect("D")
        [0]
    .id;
    let first = db.claim_job("wd", -1.0, 5).await.expect("claim").expect("D's job, its lease already over");
    assert_eq!(first.analysis_id, d, "D has nothing running: D first");
    let again = claim(&db, "wd2").await;
    assert_eq!((again.analysis_id, again.attempts), (d, 2), "D's expired lease goes before A's backlog");

    // With a cap of three running jobs a company, A (three running) gets nothing more while
    // another company has no work; without the cap the backlog goes on.
    assert_eq!(db.claim_job_capped("w6", 30.0, 5, Some(3)).await.expect("capped"), None, "A is at the cap");
    assert_eq!(owner(&claim(&db, "w6").await), "A", "then the backlog");
}

/// Issue 19: several companies with backlogs do not starve a newcomer. X and Y hold the two
/// workers; when X's job ends, X and the newcomer Z both run nothing, and Z, never served, gets
/// the worker although X's backlog is older. Then the companies take turns.
async fn fair_claiming_round_robin(db: Db, _url: String) {
    let mut owners: HashMap<Uuid, &str> = HashMap::new();
    for (name, n) in [("X", 5), ("Y", 5), ("Z", 1)] {
        let (_, u, f, media) = company_user_folder(&db, None).await;
        let items: Vec<NewAnalysis> = (0..n).map(|_| new_analysis(AnalysisKind::Biometry, &media)).collect();
        for a in db.create_analyses(&f, Some(u), &items, None).await.expect("analyses") {
            owners.insert(a.id, name);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let x = claim(&db, "w1").await;
    assert_eq!(owners[&x.analysis_id], "X", "all idle: the oldest job");
    let y = claim(&db, "w2").await;
    assert_eq!(owners[&y.analysis_id], "Y", "Y runs nothing, X one");
    db.finish_job(&x, "w1", &finished(R::Success, "w1", vec![])).await.expect("finish X");
    let z = claim(&db, "w1").await;
    assert_eq!(owners[&z.analysis_id], "Z", "X was just served: the newcomer first");
    db.finish_job(&y, "w2", &finished(R::Success, "w2", vec![])).await.expect("finish Y");
    let next = claim(&db, "w2").await;
    assert_eq!(owners[&next.analysis_id], "X", "X (served before Y) and Y run nothing, Z one");
    db.finish_job(&z, "w1", &finished(R::Success, "w1", vec![])).await.expect("finish Z");
    let next = claim(&db, "w1").await;
    assert_eq!(owners[&next.analysis_id], "Y", "then Y's turn");
}

/// Media written in one request come back in the client's order (their ids are random), for a
/// new folder and for media added to it.
async fn media_keep_the_client_order(db: Db, _url: String) {
    let batch =
        |n: usize| -> Vec<NewMedia> { (0..n).map(|i| new_media(MediaClass::Image, &format!("p{i}.jpg"))).collect() };
    let first = batch(12);
    let (folder, media) = db.create_folder(None, None, &json!({}), None, &first).await.expect("folder");
    assert_eq!(media.iter().map(|m| m.id).collect::<Vec<_>>(), first.iter().map(|m| m.id).collect::<Vec<_>>());
    let more = batch(12);
    db.add_media(&folder, &more).await.expect("add");
    let all = db.folder_media(folder.id).await.expect("media");
    let want: Vec<Uuid> = first.iter().chain(&more).map(|m| m.id).collect();
    assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), want);
}

/// Challenges: stored with their actions in order, used once (of two claims exactly one wins),
/// not after expiry, counted while open, purged after expiry.
async fn liveness_challenges(db: Db, _url: String) {
    use oz_domain::challenge::Action;
    let (company, user, _, _) = company_user_folder(&db, None).await;
    let actions = [Action::LookUp, Action::Blink, Action::TurnRight];
    let c = db.create_challenge(Some(company), user, &actions, 120.0).await.expect("create");
    let got = db.challenge(c.id).await.expect("read").expect("found");
    assert_eq!(got, c);
    assert_eq!(got.actions, actions);
    assert_eq!(got.company_id, Some(company));
    assert_eq!(db.challenge(Uuid::new_v4()).await.expect("read"), None);
    let admin = db.create_challenge(None, user, &actions, 120.0).await.expect("create");
    assert_eq!(db.challenge(admin.id).await.expect("read").expect("found").company_id, None);
    let now = oz_storage::now();
    assert_eq!(db.open_challenges(Some(company), now).await.expect("count"), 1);
    let (a, b) = tokio::join!(db.use_challenge(c.id, now), db.use_challenge(c.id, now));
    assert_eq!(u8::from(a.expect("use")) + u8::from(b.expect("use")), 1, "exactly one claim wins");
    assert!(db.challenge(c.id).await.expect("read").expect("found").used_at.is_some());
    assert_eq!(db.open_challenges(Some(company), now).await.expect("count"), 0);
    let old = db.create_challenge(Some(company), user, &actions, -10.0).await.expect("create");
    assert!(!db.use_challenge(old.id, now).await.expect("use"), "expired");
    assert_eq!(db.open_challenges(Some(company), now).await.expect("count"), 0);
    assert_eq!(db.purge_challenges(now - 5.0).await.expect("purge"), 1);
    assert_eq!(db.challenge(old.id).await.expect("read"), None);
    assert!(db.challenge(c.id).await.expect("read").is_some(), "unexpired rows stay");
}

async fn concurrent_workers(db: Db, _url: String) {
    const FOLDERS: usize = 5;
    const GROUPS: usize = 2;
    const PER_GROUP: usize = 4;
    const WORKERS: usize = 8;

    let mut folders = Vec::new();
    let mut all = HashSet::new();
    for i in 0..FOLDERS {
        let (_, user, f, media) = company_user_folder(&db, Some(&format!("https://hook.example/{i}"))).await;
        for _ in 0..GROUPS {
            let items: Vec<NewAnalysis> = (0..PER_GROUP).map(|_| new_analysis(AnalysisKind::Quality, &media)).collect();
            let created = db.create_analyses(&f, Some(user), &items, None).await.expect("analyses");
            all.extend(created.iter().map(|a| a.id));
        }
        folders.push(f.id);
    }
    assert_eq!(all.len(), FOLDERS * GROUPS * PER_GROUP);

    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let db = db.clone();
        tasks.spawn(async move {
            let worker = format!("worker-{w}");
            let mut done = Vec::new();
            let mut hooks = Vec::new();
            while let Some(job) = db.claim_job(&worker, 60.0, 3).await.expect("claim_job") {
                let mut shot = new_media(MediaClass::ResultImage, "best_shot.jpg");
                shot.analysis_id = Some(job.analysis_id);
                let up =
                    db.finish_job(&job, &worker, &finished(R::Success, &worker, vec![shot])).await.expect("finish_job");
                done.push((job.analysis_id, job.attempts, w));
                hooks.extend(up.webhook.map(|h| (up.folder_id, h)));
            }
            (done, hooks)
        });
    }
    let mut done = Vec::new();
    let mut hooks = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (d, h) = r.expect("worker task");
        done.extend(d);
        hooks.extend(h);
    }

    assert_eq!(done.len(), all.len(), "every job finished exactly once");
    assert!(done.iter().all(|(_, attempts, _)| *attempts == 1), "no job claimed twice");
    assert_eq!(done.iter().map(|(a, _, _)| *a).collect::<HashSet<_>>(), all);
    let busy = done.iter().map(|(_, _, w)| *w).collect::<HashSet<_>>();
    assert!(busy.len() > 1, "the jobs were spread over several workers: {busy:?}");
    assert_eq!(db.job_counts().await.expect("counts"), [("done".to_string(), all.len() as i64)]);
    for id in &all {
        assert_eq!(job_state(&db, *id).await, ("done".to_string(), 1));
        assert_eq!(analysis(&db, *id).await.state, AnalysisState::Finished);
    }
    let hooked: HashMap<Uuid, Uuid> = hooks.iter().copied().collect();
    assert_eq!(hooks.len(), FOLDERS, "one webhook per folder: {hooks:?}");
    for fid in &folders {
        let f = folder(&db, *fid).await;
        assert_eq!((f.resolution_status, f.system_resolution), (R::Finished, R::Success));
        let d = db.deliveries_of_folder(*fid).await.expect("deliveries");
        assert_eq!(ids(&d, |x| x.id), [hooked[fid]], "exactly one delivery for the folder");
        assert_eq!(db.folder_media(*fid).await.expect("media").len(), 1 + GROUPS * PER_GROUP, "inputs and outputs");
    }
    assert!(!db.has_pending_jobs().await.expect("pending"));
}

/// A finished folder with one queued delivery.
async fn folder_with_delivery(db: &Db, url: &str) -> (Uuid, Uuid) {
    let (_, user, f, media) = company_user_folder(db, Some(url)).await;
    db.create_analyses(&f, Some(user), &[new_analysis(AnalysisKind::Quality, &media)], None).await.expect("analysis");
    let j = claim(db, "w").await;
    let up = db.finish_job(&j, "w", &finished(R::Success, "w", vec![])).await.expect("finish");
    (f.id, up.webhook.expect("webhook queued"))
}

async fn webhook_deliveries(db: Db, _url: String) {
    assert_eq!(db.claim_delivery(30.0).await.expect("claim"), None, "empty queue");
    let (f1, d1) = folder_with_delivery(&db, "https://hook.example/one").await;

    let d = db.claim_delivery(30.0).await.expect("claim").expect("delivery");
    assert_eq!(
        (d.id, d.folder_id, d.url.as_str(), d.body.as_deref(), d.attempts),
        (d1, f1, "https://hook.example/one", None, 1)
    );
    assert_eq!(db.claim_delivery(30.0).await.expect("claim"), None, "leased");

    db.set_delivery_body(d1, "{\"event\":1}").await.expect("body");
    db.set_delivery_body(d1, "{\"event\":2}").await.expect("second body is ignored");

    db.delivery_failed(d1, Some(500), "HTTP 500", Some(now() + 0.6)).await.expect("failed");
    let st = db.deliveries_of_folder(f1).await.expect("deliveries");
    assert_eq!(st.len(), 1);
    assert_eq!(
        (st[0].state.as_str(), st[0].attempts, st[0].last_status, st[0].last_error.as_deref()),
        ("pending", 1, Some(500), Some("HTTP 500"))
    );
    assert_eq!(db.claim_delivery(30.0).await.expect("claim"), None, "not before next_attempt_at");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let d = db.claim_delivery(30.0).await.expect("claim").expect("due again");
    assert_eq!((d.id, d.body.as_deref(), d.attempts), (d1, Some("{\"event\":1}"), 2), "the first body is kept");

    db.delivery_done(d1, 204).await.expect("done");
    let st = db.deliveries_of_folder(f1).await.expect("deliveries");
    assert_eq!(
        (st[0].state.as_str(), st[0].attempts, st[0].last_status, st[0].last_error.as_deref()),
        ("delivered", 2, Some(204), None)
    );
    assert_eq!(db.claim_delivery(30.0).await.expect("claim"), None, "delivered");

    // Giving up.
    let (f2, d2) = folder_with_delivery(&db, "https://hook.example/two").await;
    let d = db.claim_delivery(30.0).await.expect("claim").expect("delivery 2");
    assert_eq!(d.id, d2);
    db.delivery_failed(d2, None, "connection refused", None).await.expect("give up");
    let st = db.deliveries_of_folder(f2).await.expect("deliveries");
    assert_eq!(
        (st[0].state.as_str(), st[0].last_status, st[0].last_error.as_deref()),
        ("failed", None, Some("connection refused"))
    );
    assert_eq!(db.claim_delivery(30.0).await.expect("claim"), None, "given up");

    // A delivery whose claimer died is claimed again once its lease is over.
    let (f3, d3) = folder_with_delivery(&db, "https://hook.example/three").await;
    let d = db.claim_delivery(-1.0).await.expect("claim").expect("delivery 3");
    assert_eq!((d.id, d.attempts), (d3, 1));
    let d = db.claim_delivery(30.0).await.expect("claim").expect("lease over");
    assert_eq!((d.id, d.folder_id, d.attempts), (d3, f3, 2));

    assert!(db.deliveries_of_folder(Uuid::new_v4()).await.expect("none").is_empty());
    let mut states = Vec::new();
    for f in [f1, f2, f3] {
        states.push(db.deliveries_of_folder(f).await.expect("deliveries")[0].state.clone());
    }
    assert_eq!(states, ["delivered", "failed", "pending"]);
}

// ---- webhook hardening --------------------------------------------------------------------------

both!(webhook_secrets_and_deferral);

/// Per-company webhook secrets (set, rotate, remove, removed with the company) and deliveries
/// given back to the queue without counting an attempt.
async fn webhook_secrets_and_deferral(db: Db, _url: String) {
    let (company, _, f, _) = company_user_folder(&db, Some("https://hook.example/s")).await;
    let s = db.webhook_signing(f.id).await.expect("signing");
    assert_eq!((s.company_id, s.secret), (Some(company), None), "no secret of its own yet");
    assert!(db.company_webhook_secret_time(company).await.expect("time").is_none());

    let t1 = db.set_company_webhook_secret(company, "first").await.expect("set");
    assert_eq!(db.webhook_signing(f.id).await.expect("signing").secret.as_deref(), Some("first"));
    assert_eq!(db.company_webhook_secret_time(company).await.expect("time"), Some(t1));
    db.set_company_webhook_secret(company, "second").await.expect("rotate");
    assert_eq!(db.webhook_signing(f.id).await.expect("signing").secret.as_deref(), Some("second"));

    // Another company's folder does not see it; a folder without a company has none.
    let (other, _, g, _) = company_user_folder(&db, None).await;
    assert_eq!(
        db.webhook_signing(g.id).await.expect("signing"),
        oz_storage::webhooks::WebhookSigning { company_id: Some(other), secret: None }
    );
    let (nobody, _) = db.create_folder(None, None, &json!({}), None, &[]).await.expect("folder");
    assert_eq!(db.webhook_signing(nobody.id).await.expect("signing").company_id, None);
    assert_not_found(db.webhook_signing(Uuid::new_v4()).await, "unknown folder");

    db.delete_company_webhook_secret(company).await.expect("delete");
    assert_eq!(db.webhook_signing(f.id).await.expect("signing").secret, None);
    assert_not_found(db.delete_company_webhook_secret(company).await, "deleted twice");

    // Removed with its company.
    let lone = db.create_company("lone", &json!({})).await.expect("company");
    db.set_company_webhook_secret(lone.id, "x").await.expect("set");
    db.delete_company(lone.id).await.expect("delete company");
    assert!(db.company_webhook_secret_time(lone.id).await.expect("time").is_none());

    // Deferral: back in the queue, later, without an attempt counted.
    let (_, d1) = folder_with_delivery(&db, "https://hook.example/d").await;
    let d = db.claim_delivery(30.0).await.expect("claim").expect("delivery");
    assert_eq!((d.id, d.attempts), (d1, 1));
    db.delivery_deferred(d1, now() + 0.5).await.expect("defer");
    assert_eq!(db.claim_delivery(30.0).await.expect("claim"), None, "not before its time");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let d = db.claim_delivery(30.0).await.expect("claim").expect("due again");
    assert_eq!((d.id, d.attempts), (d1, 1), "the deferral did not count as an attempt");
}

// ---- data lifecycle (issue 6, section 6) -------------------------------------------------------

both!(company_deletion, backlog_is_not_expired, sweeper_lookups_and_retention);

/// Does `sql` (one `$1` bound to `id`) find a row? For checking that nothing of a tenant is left.
async fn exists(url: &str, sql: &str, id: Uuid) -> bool {
    // A second pool on the same database: the test reads rows the API has no getter for.
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .bind(id.to_string())
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
    n > 0
}

/// A company is deleted only without folders, unless cascading; the cascade leaves no row of the
/// tenant (folders, media, best shots, analyses, jobs, webhook deliveries, users, sessions) and
/// answers every stored file name, while another tenant is untouched.
async fn company_deletion(db: Db, url: String) {
    let (c, user, f, media) = company_user_folder(&db, Some("https://hook.example/tenant")).await;
    db.create_session(user, "acc-tenant", "exp-tenant", 3600.0, None).await.expect("session");
    // One finished analysis with a best shot (a delivery is queued), one still running.
    db.create_analyses(&f, Some(user), &[new_analysis(AnalysisKind::Quality, &media)], None).await.expect("a1");
    let j = claim(&db, "w").await;
    let mut shot = new_media(MediaClass::ResultImage, "ResultImage.jpg");
    shot.analysis_id = Some(j.analysis_id);
    shot.source_media_id = Some(media[0]);
    let up = db.finish_job(&j, "w", &finished(R::Success, "w", vec![shot.clone()])).await.expect("finish");
    let delivery = up.webhook.expect("delivery");
    db.create_analyses(&f, Some(user), &[new_analysis(AnalysisKind::Biometry, &media)], None).await.expect("a2");
    let running = claim(&db, "w2").await;
    let (f2, m2) = db
        .create_folder(Some(c), Some(user), &json!({}), None, &[new_media(MediaClass::Image, "second.jpg")])
        .await
        .expect("second folder");
    let mut expected: Vec<String> =
        db.folder_media(f.id).await.expect("media").into_iter().map(|m| m.file.file_name).collect();
    expected.push(m2[0].file.file_name.clone());
    expected.sort();
    assert!(expected.contains(&shot.file.file_name));

    // Another tenant, and an ADMIN's folder without company.
    let (other_c, other_user, other_f, _) = company_user_folder(&db, None).await;
    db.create_session(other_user, "acc-other", "exp-other", 3600.0, None).await.expect("other session");
    let (free, _) = db
        .create_folder(None, None, &json!({}), None, &[new_media(MediaClass::Image, "admin.jpg")])
        .await
        .expect("folder without company");

    // Refused while it has folders, and nothing is gone.
    assert_conflict(db.delete_company(c).await, "delete a company with folders");
    match db.remove_company(c, false).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("2 folder") && m.contains("force"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(folder(&db, f.id).await.id, f.id);
    assert!(db.session_by_access("acc-tenant").await.is_ok());

    // Cascade.
    let mut files = db.remove_company(c, true).await.expect("cascade");
    files.sort();
    assert_eq!(files, expected, "every stored file of the tenant, best shot included");
    assert_not_found(db.company(c, &Scope::All).await, "company");
    for fid in [f.id, f2.id] {
        assert_not_found(db.folder(fid, &Scope::All).await, "folder");
        assert!(db.folder_media(fid).await.expect("media").is_empty());
        assert!(db.analyses_of_folders(&[fid]).await.expect("analyses").is_empty());
    }
    assert_not_found(db.media(media[0], &Scope::All).await, "media");
    assert_not_found(db.media(shot.id, &Scope::All).await, "best shot");
    assert_not_found(db.media_by_file(&shot.file.file_name, &Scope::All).await, "best shot by file");
    assert_not_found(db.job_of(running.analysis_id).await, "job");
    assert!(db.deliveries_of_folder(f.id).await.expect("deliveries").is_empty());
    assert!(!exists(&url, "select count(*) from webhook_deliveries where id = $1", delivery).await);
    assert_not_found(db.user(user).await, "user");
    assert_not_found(db.session_by_access("acc-tenant").await, "session");
    for table in ["folders", "media", "analyses"] {
        let sql = format!("select count(*) from {table} where company_id = $1");
        assert!(!exists(&url, &sql, c).await, "{table} rows of the deleted tenant");
    }
    // A worker still running one of its analyses cannot record it.
    assert!(db.finish_job(&running, "w2", &finished(R::Success, "w2", vec![])).await.is_err());
    assert_not_found(db.remove_company(c, true).await, "delete twice");

    // The other tenant and the ADMIN's folder are intact.
    assert_eq!(db.company(other_c, &Scope::All).await.expect("other company").id, other_c);
    assert_eq!(folder(&db, other_f.id).await.id, other_f.id);
    assert_eq!(db.folder_media(other_f.id).await.expect("other media").len(), 1);
    assert!(db.session_by_access("acc-other").await.is_ok());
    assert_eq!(folder(&db, free.id).await.id, free.id);

    // A company without folders goes without force; its users with it.
    let empty = db.create_company("Empty", &json!({})).await.expect("empty");
    let member = db.create_user(&new_user("member@empty.example", Role::Client, Some(empty.id))).await.expect("u");
    assert!(db.remove_company(empty.id, false).await.expect("delete empty").is_empty());
    assert_not_found(db.user(member.id).await, "member");

    // A folder that raced the deletion (its company is gone) is purged by the sweeper.
    let ghost = Uuid::new_v4();
    let (g, gm) = db
        .create_folder(Some(ghost), None, &json!({}), None, &[new_media(MediaClass::Image, "ghost.jpg")])
        .await
        .expect("ghost folder");
    assert_eq!(db.purge_orphan_folders().await.expect("purge"), [gm[0].file.file_name.clone()]);
    assert_not_found(db.folder(g.id, &Scope::All).await, "orphan folder");
    assert!(db.purge_orphan_folders().await.expect("purge again").is_empty());
    assert_eq!(folder(&db, other_f.id).await.id, other_f.id, "folders of live companies stay");
    assert_eq!(folder(&db, free.id).await.id, free.id, "folders without company stay");
}

/// Analyses expire counting from the moment a worker started them: a queued backlog older than
/// the timeout is reported, not failed, and so is a job whose worker died while another worker
/// can still take it. A job no worker will take again, or a worker that hangs, is failed.
async fn backlog_is_not_expired(db: Db, _url: String) {
    let (_, user, f, media) = company_user_folder(&db, None).await;
    let queued = db
        .create_analyses(
            &f,
            Some(user),
            &[new_analysis(AnalysisKind::Quality, &media), new_analysis(AnalysisKind::Biometry, &media)],
            None,
        )
        .await
        .expect("backlog");
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The timeout ran out long ago for analyses created now (cut-off in the future): still kept.
    let cutoff = now() + 1000.0;
    assert!(db.expire_stuck(cutoff, 5).await.expect("expire").is_empty(), "a queued backlog is not failed");
    for a in &queued {
        assert_eq!(analysis(&db, a.id).await.state, AnalysisState::Processing);
    }
    let (n, oldest) = db.queue_backlog(cutoff).await.expect("backlog");
    assert_eq!(n, 2, "the backlog is reported");
    assert!(oldest.is_some_and(|t| t <= now()));
    assert_eq!(db.queue_backlog(now() - 1000.0).await.expect("no backlog").0, 0);

    // A worker died holding the first one (its lease is over): another worker will take it.
    let dead = db.claim_job("dead", -1.0, 5).await.expect("claim").expect("job");
    assert!(db.expire_stuck(cutoff, 5).await.expect("expire").is_empty(), "waiting for a new worker");
    assert_eq!(db.queue_backlog(cutoff).await.expect("backlog").0, 1, "only queued jobs are the backlog");
    // ... unless it has used up its attempts: then nobody will, and it fails.
    let ups = db.expire_stuck(cutoff, 1).await.expect("expire");
    assert_eq!(ups.len(), 1);
    assert_eq!(analysis(&db, dead.analysis_id).await.state, AnalysisState::Failed);

    // A worker that holds the lease but hangs past the timeout: failed, counted from its start.
    let hung = claim(&db, "hung").await;
    assert!(db.expire_stuck(now() - 1000.0, 5).await.expect("expire").is_empty(), "started just now");
    let ups = db.expire_stuck(cutoff, 5).await.expect("expire");
    assert_eq!(ups.len(), 1);
    let a = analysis(&db, hung.analysis_id).await;
    assert_eq!((a.state, a.error_code), (AnalysisState::Failed, Some(0)));
    assert_eq!(db.queue_backlog(cutoff).await.expect("backlog").0, 0);
}

/// The sweeper's reference look-up, retention purges, deliveries deleted with their folder, and
/// the server secret shared by every process.
async fn sweeper_lookups_and_retention(db: Db, url: String) {
    let (_, user, f, _) = company_user_folder(&db, None).await;
    let stored = db.folder_media(f.id).await.expect("media")[0].file.file_name.clone();
    let mut names: Vec<String> = (0..1200).map(|i| format!("{i:032x}.jpg")).collect();
    names.push(stored.clone());
    let refs = db.referenced_files(&names).await.expect("refs");
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        std::slice::from_ref(&stored),
        "only the stored one, across chunks"
    );
    assert!(db.referenced_files(&[]).await.expect("none").is_empty());

    // Jobs and deliveries: purged only when finished and older than the retention.
    let (f1, d1) = folder_with_delivery(&db, "https://hook.example/ret").await;
    let a1 = db.analyses_of_folders(&[f1]).await.expect("analyses")[0].id;
    db.delivery_done(d1, 200).await.expect("delivered");
    let (f2, d2) = folder_with_delivery(&db, "https://hook.example/pending").await;
    let queued =
        db.create_analyses(&f, Some(user), &[new_analysis(AnalysisKind::Quality, &[])], None).await.expect("queued")[0]
            .id;
    assert_eq!(db.purge_finished_jobs(now() - 3600.0).await.expect("young"), 0);
    assert_eq!(db.purge_deliveries(now() - 3600.0).await.expect("young"), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The first folder's job finished; the second folder's too; the queued one stays.
    assert_eq!(db.purge_finished_jobs(now()).await.expect("old"), 2);
    assert_not_found(db.job_of(a1).await, "purged job");
    assert_eq!(analysis(&db, a1).await.state, AnalysisState::Finished, "the analysis stays");
    assert_eq!(job_state(&db, queued).await.0, "queued");
    assert_eq!(db.purge_deliveries(now()).await.expect("old"), 1, "the delivered one, not the pending one");
    assert!(db.deliveries_of_folder(f1).await.expect("d1").is_empty());
    assert_eq!(ids(&db.deliveries_of_folder(f2).await.expect("d2"), |d| d.id), [d2]);

    // Deleting a folder deletes its deliveries (their bodies hold the folder's results).
    assert!(!db.delete_folder(f2).await.expect("delete").is_empty());
    assert!(db.deliveries_of_folder(f2).await.expect("gone").is_empty());
    assert!(!exists(&url, "select count(*) from webhook_deliveries where id = $1", d2).await);

    // The server secret: the first value stored wins, for every process.
    let k = db.server_secret("link_signing_key", "first").await.expect("secret");
    assert_eq!(k, "first");
    let other = Db::connect(&url).await.expect("second process");
    assert_eq!(other.server_secret("link_signing_key", "second").await.expect("secret"), "first");
    other.close().await;
    assert_eq!(db.server_secret("another", "x").await.expect("another"), "x");
}

both!(queue_stats_and_request_ids);

/// The queue as `/metrics` reads it, and the request id stored with a job and carried on to the
/// webhook delivery its result queues.
async fn queue_stats_and_request_ids(db: Db, _url: String) {
    let empty = db.queue_stats().await.expect("stats");
    assert_eq!((empty.queued, empty.running, empty.webhooks_pending, empty.oldest_queued_s), (0, 0, 0, 0.0));

    let before = now();
    let (_, user, fa, ma) = company_user_folder(&db, Some("https://hook.example/traced")).await;
    let (_, user_b, fb, mb) = company_user_folder(&db, None).await;
    let traced = db
        .create_analyses_traced(&fa, Some(user), &[new_analysis(AnalysisKind::Quality, &ma)], None, Some("req-42"))
        .await
        .expect("traced")[0]
        .id;
    db.create_analyses(&fb, Some(user_b), &[new_analysis(AnalysisKind::Quality, &mb)], None).await.expect("untraced");
    tokio::time::sleep(Duration::from_millis(30)).await;
    let q = db.queue_stats().await.expect("stats");
    assert_eq!((q.queued, q.running, q.webhooks_pending), (2, 0, 0));
    assert!(q.oldest_queued_s >= 0.02 && q.oldest_queued_s < 60.0, "{q:?}");

    let (j1, j2) = (claim(&db, "w1").await, claim(&db, "w2").await);
    let ((jt, worker), ju) = if j1.analysis_id == traced { ((j1, "w1"), j2) } else { ((j2, "w2"), j1) };
    assert_eq!(jt.request_id.as_deref(), Some("req-42"));
    assert_eq!(ju.request_id, None);
    for j in [&jt, &ju] {
        assert!(j.queued_at >= before - 1.0 && j.queued_at <= now(), "{j:?}");
    }
    let q = db.queue_stats().await.expect("stats");
    assert_eq!((q.queued, q.running, q.oldest_queued_s), (0, 2, 0.0));

    let up = db.finish_job(&jt, worker, &finished(R::Success, worker, vec![])).await.expect("finish traced");
    let delivery = up.webhook.expect("webhook queued");
    assert_eq!(db.queue_stats().await.expect("stats").webhooks_pending, 1);
    let d = db.claim_delivery(30.0).await.expect("claim").expect("delivery");
    assert_eq!((d.id, d.request_id.as_deref()), (delivery, Some("req-42")));
    db.delivery_done(d.id, 200).await.expect("delivered");
    let q = db.queue_stats().await.expect("stats");
    assert_eq!((q.queued, q.running, q.webhooks_pending), (0, 1, 0));
}
