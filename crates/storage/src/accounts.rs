//! Companies, users and sessions.

use oz_domain::access::{Role, Scope, normalize_email};
use serde_json::Value;
use uuid::Uuid;

use crate::dynq;

use crate::model::{Company, Session, User, flag, ostr};
use crate::{Db, Result, StoreError, now};

/// Fields of a new user (the password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub company_id: Option<Uuid>,
    pub is_admin: bool,
    pub is_service: bool,
    pub can_start_quality: bool,
    pub can_start_biometry: bool,
    pub can_start_collection: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub meta_data: Value,
}

/// A partial update of a user: `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub company_id: Option<Option<Uuid>>,
    pub is_admin: Option<bool>,
    pub is_service: Option<bool>,
    pub can_start_quality: Option<bool>,
    pub can_start_biometry: Option<bool>,
    pub can_start_collection: Option<bool>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
}

/// The WHERE fragment for a scope on a table with `user_col` and `company_col`, binding from `$n`.
pub(crate) fn scope_sql(scope: &Scope, user_col: &str, company_col: &str, n: usize) -> (String, Option<String>) {
    match scope {
        Scope::All => ("1 = 1".into(), None),
        Scope::Nothing => ("1 = 0".into(), None),
        Scope::Company(c) => (format!("{company_col} = ${n}"), Some(c.to_string())),
        Scope::Own(u) => (format!("{user_col} = ${n}"), Some(u.to_string())),
    }
}

/// A `like ... escape '\'` pattern matching `s` anywhere, case-insensitively (with `lower()`):
/// `%`, `_` and `\` in the search are literal. SQLite has no default escape character.
pub(crate) fn like_pattern(s: &str) -> String {
    let s = s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{s}%")
}

/// The WHERE clause of the company list and its bound values (`$1`...).
fn companies_where(scope: &Scope, search: Option<&str>) -> (String, Vec<String>) {
    let (w, arg) = scope_sql(scope, "id", "id", 1);
    let mut binds: Vec<String> = arg.into_iter().collect();
    let mut sql = w;
    if let Some(s) = search {
        binds.push(like_pattern(s));
        sql.push_str(&format!(" and lower(name) like ${} escape '\\'", binds.len()));
    }
    (sql, binds)
}

/// The WHERE clause of the user list and its bound values (`$1`...).
fn users_where(scope: &Scope, company_id: Option<Uuid>, search: Option<&str>) -> (String, Vec<String>) {
    let (w, arg) = scope_sql(scope, "id", "company_id", 1);
    let mut binds: Vec<String> = arg.into_iter().collect();
    let mut sql = w;
    if let Some(c) = company_id {
        binds.push(c.to_string());
        sql.push_str(&format!(" and company_id = ${}", binds.len()));
    }
    if let Some(s) = search {
        binds.push(like_pattern(s));
        let n = binds.len();
        sql.push_str(&format!(
            " and (lower(email) like ${n} escape '\\' or lower(coalesce(first_name, '')) like ${n} escape '\\' \
             or lower(coalesce(last_name, '')) like ${n} escape '\\')"
        ));
    }
    (sql, binds)
}

impl Db {
    // ---- companies ---------------------------------------------------------------------------

    pub async fn create_company(&self, name: &str, meta_data: &Value) -> Result<Company> {
        let c =
            Company { id: Uuid::new_v4(), name: name.to_string(), meta_data: meta_data.clone(), time_created: now() };
        sqlx::query("insert into companies (id, name, meta_data, time_created) values ($1, $2, $3, $4)")
            .bind(c.id.to_string())
            .bind(&c.name)
            .bind(c.meta_data.to_string())
            .bind(c.time_created)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::from_insert(e, "company"))?;
        Ok(c)
    }

    pub async fn company(&self, id: Uuid, scope: &Scope) -> Result<Company> {
        let (w, arg) = scope_sql(scope, "id", "id", 2);
        let mut q = dynq(format!("select * from companies where id = $1 and {w}")).bind(id.to_string());
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let row = q.fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        Company::from_row(&row)
    }

    pub async fn companies(
        &self,
        scope: &Scope,
        search: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Company>> {
        let (w, binds) = companies_where(scope, search);
        let n = binds.len();
        let sql =
            format!("select * from companies where {w} order by time_created, id limit ${} offset ${}", n + 1, n + 2);
        let mut q = dynq(sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        rows.iter().map(Company::from_row).collect()
    }

    /// How many companies [`Db::companies`] finds, paging aside.
    pub async fn companies_total(&self, scope: &Scope, search: Option<&str>) -> Result<i64> {
        let (w, binds) = companies_where(scope, search);
        let mut q = dynq(format!("select count(*) as n from companies where {w}"));
        for b in binds {
            q = q.bind(b);
        }
        crate::model::i(&q.fetch_one(&self.pool).await?, "n")
    }

    pub async fn update_company(&self, id: Uuid, name: Option<&str>, meta_data: Option<&Value>) -> Result<()> {
        let r = sqlx::query(
            "update companies set name = coalesce($2, name), meta_data = coalesce($3, meta_data) where id = $1",
        )
        .bind(id.to_string())
        .bind(name.map(str::to_string))
        .bind(meta_data.map(Value::to_string))
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Deletes a company without folders (with its users); see [`Db::remove_company`].
    pub async fn delete_company(&self, id: Uuid) -> Result<()> {
        self.remove_company(id, false).await.map(|_| ())
    }

    // ---- users -------------------------------------------------------------------------------

    pub async fn create_user(&self, u: &NewUser) -> Result<User> {
        let id = Uuid::new_v4();
        let t = now();
        sqlx::query(
            "insert into users (id, email, password_hash, user_type, company_id, is_admin, is_service, can_start_quality, \
             can_start_biometry, can_start_collection, first_name, last_name, middle_name, meta_data, time_created) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(id.to_string())
        .bind(normalize_email(&u.email))
        .bind(&u.password_hash)
        .bind(u.role.as_str())
        .bind(ostr(u.company_id))
        .bind(flag(u.is_admin))
        .bind(flag(u.is_service))
        .bind(flag(u.can_start_quality))
        .bind(flag(u.can_start_biometry))
        .bind(flag(u.can_start_collection))
        .bind(u.first_name.clone())
        .bind(u.last_name.clone())
        .bind(u.middle_name.clone())
        .bind(u.meta_data.to_string())
        .bind(t)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "a user with this email"))?;
        self.user(id).await
    }

    /// A user by id, with no scope check (for authentication).
    pub async fn user(&self, id: Uuid) -> Result<User> {
        let row = sqlx::query("select * from users where id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        User::from_row(&row)
    }

    /// A user inside `scope` (company scope: same company; own scope: only oneself).
    pub async fn user_in(&self, id: Uuid, scope: &Scope) -> Result<User> {
        let u = self.user(id).await?;
        if scope.contains(Some(u.id), u.company_id) { Ok(u) } else { Err(StoreError::NotFound) }
    }

    pub async fn user_by_email(&self, email: &str) -> Result<User> {
        let row = sqlx::query("select * from users where email = $1")
            .bind(normalize_email(email))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        User::from_row(&row)
    }

    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("select count(*) as n from users").fetch_one(&self.pool).await?;
        crate::model::i(&row, "n")
    }

    pub async fn users(
        &self,
        scope: &Scope,
        company_id: Option<Uuid>,
        search: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<User>> {
        let (w, binds) = users_where(scope, company_id, search);
        let n = binds.len();
        let sql = format!("select * from users where {w} order by time_created, id limit ${} offset ${}", n + 1, n + 2);
        let mut q = dynq(sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        rows.iter().map(User::from_row).collect()
    }

    /// How many users [`Db::users`] finds, paging aside.
    pub async fn users_total(&self, scope: &Scope, company_id: Option<Uuid>, search: Option<&str>) -> Result<i64> {
        let (w, binds) = users_where(scope, company_id, search);
        let mut q = dynq(format!("select count(*) as n from users where {w}"));
        for b in binds {
            q = q.bind(b);
        }
        crate::model::i(&q.fetch_one(&self.pool).await?, "n")
    }

    pub async fn update_user(&self, id: Uuid, p: &UserPatch) -> Result<User> {
        let company = p.company_id.map(|c| c.map(|v| v.to_string()).unwrap_or_default());
        let r = sqlx::query(
            "update users set email = coalesce($2, email), password_hash = coalesce($3, password_hash), \
             user_type = coalesce($4, user_type), \
             company_id = case when $5 is null then company_id when $5 = '' then null else $5 end, \
             is_admin = coalesce($6, is_admin), is_service = coalesce($7, is_service), \
             can_start_quality = coalesce($8, can_start_quality), can_start_biometry = coalesce($9, can_start_biometry), \
             can_start_collection = coalesce($10, can_start_collection), first_name = coalesce($11, first_name), \
             last_name = coalesce($12, last_name), middle_name = coalesce($13, middle_name) where id = $1",
        )
        .bind(id.to_string())
        .bind(p.email.as_deref().map(normalize_email))
        .bind(p.password_hash.clone())
        .bind(p.role.map(|r| r.as_str().to_string()))
        .bind(company)
        .bind(p.is_admin.map(flag))
        .bind(p.is_service.map(flag))
        .bind(p.can_start_quality.map(flag))
        .bind(p.can_start_biometry.map(flag))
        .bind(p.can_start_collection.map(flag))
        .bind(p.first_name.clone())
        .bind(p.last_name.clone())
        .bind(p.middle_name.clone())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "a user with this email"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.user(id).await
    }

    pub async fn delete_user(&self, id: Uuid) -> Result<()> {
        let r = sqlx::query("delete from users where id = $1").bind(id.to_string()).execute(&self.pool).await?;
        if r.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    // ---- metadata on users, folders, media, analyses -----------------------------------------

    /// Reads the `meta_data` of a row of `table` (users, folders, media, analyses).
    pub async fn meta_data(&self, table: MetaTable, id: Uuid) -> Result<Value> {
        let row = dynq(format!("select meta_data from {} where id = $1", table.name()))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        crate::model::json(&row, "meta_data")
    }

    /// Replaces the `meta_data` of a row (callers merge for POST/PATCH).
    pub async fn set_meta_data(&self, table: MetaTable, id: Uuid, meta: &Value) -> Result<()> {
        let touch = if table.has_time_updated() { ", time_updated = $3" } else { "" };
        let mut q = dynq(format!("update {} set meta_data = $2{touch} where id = $1", table.name()))
            .bind(id.to_string())
            .bind(meta.to_string());
        if table.has_time_updated() {
            q = q.bind(now());
        }
        let r = q.execute(&self.pool).await?;
        if r.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    // ---- sessions ----------------------------------------------------------------------------

    /// Stores a session by the hashes of its tokens. A refreshed pair (`predecessor`) joins its
    /// predecessor's refresh family; a login starts a new one.
    pub async fn create_session(
        &self,
        user_id: Uuid,
        access_hash: &str,
        expire_hash: &str,
        ttl_s: f64,
        predecessor: Option<Uuid>,
    ) -> Result<Session> {
        let id = Uuid::new_v4();
        let family_id = match predecessor {
            Some(p) => {
                let row = sqlx::query("select family_id from sessions where id = $1")
                    .bind(p.to_string())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                crate::model::oid(&row, "family_id")?.unwrap_or(p)
            }
            None => id,
        };
        let s = Session { id, user_id, expire_at: now() + ttl_s, ttl_s, predecessor_id: predecessor, family_id };
        sqlx::query(
            "insert into sessions (id, user_id, access_hash, expire_hash, expire_at, ttl_s, predecessor_id, \
             time_created, family_id) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.id.to_string())
        .bind(user_id.to_string())
        .bind(access_hash)
        .bind(expire_hash)
        .bind(s.expire_at)
        .bind(ttl_s)
        .bind(ostr(predecessor))
        .bind(now())
        .bind(family_id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(s)
    }

    fn session_row(r: &sqlx::any::AnyRow) -> Result<Session> {
        use crate::model::{f, id, oid};
        Ok(Session {
            id: id(r, "id")?,
            user_id: id(r, "user_id")?,
            expire_at: f(r, "expire_at")?,
            ttl_s: f(r, "ttl_s")?,
            predecessor_id: oid(r, "predecessor_id")?,
            family_id: match oid(r, "family_id")? {
                Some(f) => f,
                None => id(r, "id")?,
            },
        })
    }

    pub async fn session_by_access(&self, access_hash: &str) -> Result<Session> {
        let row = sqlx::query("select * from sessions where access_hash = $1")
            .bind(access_hash)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Self::session_row(&row)
    }

    pub async fn session_by_expire(&self, expire_hash: &str) -> Result<Session> {
        let row = sqlx::query("select * from sessions where expire_hash = $1")
            .bind(expire_hash)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Self::session_row(&row)
    }

    /// Slides the expiry and, on the first use of a refreshed pair, removes the pair it replaced.
    pub async fn touch_session(&self, s: &Session) -> Result<f64> {
        let expire_at = now() + s.ttl_s;
        sqlx::query("update sessions set expire_at = $2, predecessor_id = null where id = $1")
            .bind(s.id.to_string())
            .bind(expire_at)
            .execute(&self.pool)
            .await?;
        if let Some(p) = s.predecessor_id {
            sqlx::query("delete from sessions where id = $1").bind(p.to_string()).execute(&self.pool).await?;
        }
        Ok(expire_at)
    }

    pub async fn delete_session(&self, id: Uuid) -> Result<()> {
        sqlx::query("delete from sessions where id = $1").bind(id.to_string()).execute(&self.pool).await?;
        Ok(())
    }

    /// Removes sessions that expired before `before`, and the spent refresh tokens of refresh
    /// families that have no session left.
    pub async fn purge_sessions(&self, before: f64) -> Result<u64> {
        let r = sqlx::query("delete from sessions where expire_at < $1").bind(before).execute(&self.pool).await?;
        sqlx::query(
            "delete from spent_refresh_tokens where not exists \
             (select 1 from sessions where sessions.family_id = spent_refresh_tokens.family_id)",
        )
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Marks the refresh token of `s` (its `expire_hash`) as spent. `false` when it already was:
    /// the token is being reused.
    pub async fn spend_refresh_token(&self, s: &Session, expire_hash: &str) -> Result<bool> {
        let r = sqlx::query(
            "insert into spent_refresh_tokens (expire_hash, family_id, time_spent) values ($1, $2, $3) \
             on conflict (expire_hash) do nothing",
        )
        .bind(expire_hash)
        .bind(s.family_id.to_string())
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The refresh family of a spent refresh token, if this hash was spent.
    pub async fn spent_refresh_family(&self, expire_hash: &str) -> Result<Option<Uuid>> {
        let row = sqlx::query("select family_id from spent_refresh_tokens where expire_hash = $1")
            .bind(expire_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| crate::model::id(&r, "family_id")).transpose()
    }

    /// Ends every session of a refresh family (logout, or a reused refresh token).
    pub async fn revoke_session_family(&self, family_id: Uuid) -> Result<u64> {
        let r = sqlx::query("delete from sessions where family_id = $1")
            .bind(family_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Ends every session of a user, except those of the refresh family `keep` (the caller's own
    /// login when users change their own password).
    pub async fn revoke_user_sessions(&self, user_id: Uuid, keep: Option<Uuid>) -> Result<u64> {
        let keep = keep.map(|k| k.to_string()).unwrap_or_default();
        let r = sqlx::query("delete from sessions where user_id = $1 and family_id <> $2")
            .bind(user_id.to_string())
            .bind(keep)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}

/// Tables with a `meta_data` sub-resource (spec §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaTable {
    Users,
    Folders,
    Media,
    Analyses,
    Collections,
}

impl MetaTable {
    fn name(self) -> &'static str {
        match self {
            MetaTable::Users => "users",
            MetaTable::Folders => "folders",
            MetaTable::Media => "media",
            MetaTable::Analyses => "analyses",
            MetaTable::Collections => "collections",
        }
    }

    fn has_time_updated(self) -> bool {
        self != MetaTable::Users
    }
}
