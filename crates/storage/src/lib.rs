//! Storage: everything openoz keeps, on SQLite (embedded default) or PostgreSQL (production),
//! behind one type, [`Db`].
//!
//! One set of SQL with `$1` placeholders and portable column types (UUIDs and JSON as TEXT,
//! epoch-second floats, 0/1 integers) runs on both engines through sqlx's `Any` driver. Only job
//! claiming and JSON look-ups differ per engine ([`Backend`]). Migrations live in
//! `migrations/{sqlite,postgres}` and run at start-up. Modules follow the aggregates:
//! [`accounts`] (companies, users, sessions), [`folders`] (folders, media), [`analyses`]
//! (analyses and their jobs), [`decisions`] (operator verdicts and their audit trail), [`collections`] (blacklist collections, persons, their photos and
//! templates, and the change log every process's 1:N index follows), [`webhooks`] (deliveries); [`lifecycle`] deletes tenants and serves
//! the file sweeper and the retention purges; [`lists`] lists analyses and media across folders and
//! counts the statistics.

pub mod accounts;
pub mod analyses;
pub mod challenges;
pub mod collections;
pub mod decisions;
pub mod events;
pub mod folders;
pub mod lifecycle;
pub mod lists;
pub mod model;
pub mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use model::*;

/// Storage errors. `NotFound` and `Conflict` are the caller's business; the rest are the server's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("unsupported DATABASE_URL: {0}")]
    BadUrl(String),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict`.
    fn from_insert(e: sqlx::Error, what: &str) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("{what} already exists"))
            }
            _ => StoreError::Db(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The SQL dialect in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle: a connection pool and its dialect. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// A query whose SQL text is assembled at run time. Only fixed fragments (column names, placeholder
/// numbers, `for update skip locked`) are ever interpolated; every value is bound.
pub(crate) fn dynq(sql: String) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
}

/// Current time as UNIX epoch seconds.
#[must_use]
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Db {
    /// The database URL to use: `DATABASE_URL` if set, else an SQLite file in the data folder.
    #[must_use]
    pub fn url_or_default(database_url: Option<&str>, data_dir: &Path) -> String {
        match database_url {
            Some(u) if !u.trim().is_empty() => u.to_string(),
            _ => format!("sqlite://{}?mode=rwc", data_dir.join("openoz.db").display()),
        }
    }

    /// Connects and applies the migrations of the URL's engine.
    pub async fn connect(url: &str) -> Result<Self> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(format!(
                "{}: use postgres://user@host/db or sqlite://path?mode=rwc",
                url.split(':').next().unwrap_or("")
            )));
        };
        let mut opts = AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 8 } else { 16 });
        if backend == Backend::Sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            // Every connection to an in-memory SQLite is a database of its own: keep exactly one,
            // for good (no method holds a transaction while it takes a second connection).
            opts = opts.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        }
        let pool = if backend == Backend::Sqlite {
            // Validate the URL with the SQLite parser first for a clear error.
            sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
            opts.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("pragma journal_mode = wal; pragma foreign_keys = on; pragma busy_timeout = 10000; pragma synchronous = normal")
                        .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?
        } else {
            opts.connect(url).await?
        };
        let db = Self { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
