//! Shared by the process-level tests of `oz-server`.

/// A fresh, empty PostgreSQL database named `{prefix}_{uuid}` on the throw-away cluster of
/// scripts/with-postgres.sh; `None` (skip) when it is not running, outside CI (in CI a missing
/// PostgreSQL fails the test).
pub async fn postgres_database(prefix: &str) -> Option<String> {
    let Ok(admin) = std::env::var("OZ_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OZ_TEST_POSTGRES_URL is not set: run through scripts/with-postgres.sh"
        );
        eprintln!("skipping: OZ_TEST_POSTGRES_URL is not set");
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::AnyPool::connect(&admin).await.expect("admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}"))).execute(&pool).await.expect("create");
    pool.close().await;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
    Some(format!("{base}/{name}"))
}
