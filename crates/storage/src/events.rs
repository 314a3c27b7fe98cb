//! SDK telemetry sessions (spec §15, Oz's `gw_logging_event_session` / `gw_logging_event_record`):
//! a session per capture with its events in the order sent. The list with Oz's filters is
//! [`Db::event_sessions_list`] (lists.rs); old sessions are purged by the lifecycle sweeper.

use oz_domain::access::Scope;
use serde_json::Value;
use uuid::Uuid;

use crate::model::{f, i, id, json, oid, ostr, s};
use crate::{Db, Result, StoreError};

/// A telemetry session.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSession {
    pub id: Uuid,
    pub company_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// The SDK session token (its `jti`) that created it, when one did.
    pub capture_session: Option<Uuid>,
    pub meta_data: Value,
    /// Events recorded.
    pub events: i64,
    pub time_created: f64,
    pub time_updated: f64,
}

impl EventSession {
    pub(crate) fn from_row(r: &sqlx::any::AnyRow) -> Result<Self> {
        Ok(Self {
            id: id(r, "id")?,
            company_id: oid(r, "company_id")?,
            user_id: oid(r, "user_id")?,
            capture_session: oid(r, "capture_session")?,
            meta_data: json(r, "meta_data")?,
            events: i(r, "events")?,
            time_created: f(r, "time_created")?,
            time_updated: f(r, "time_updated")?,
        })
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// When it happened on the device (the client's clock, seconds).
    pub timemark: f64,
    pub event: String,
    pub data: Value,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Its place in the session, from 0.
    pub seq: i64,
    pub timemark: f64,
    pub event: String,
    pub data: Value,
    pub time_created: f64,
}

impl EventRecord {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self> {
        let (seq, timemark, time_created) = (i(r, "seq")?, f(r, "timemark")?, f(r, "time_created")?);
        Ok(Self { seq, timemark, event: s(r, "event")?, data: json(r, "data")?, time_created })
    }
}

/// Why events were not appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendRefused {
    /// No such session, or not the caller's.
    NotFound,
    /// The session would hold more than this many events.
    Full(i64),
}

async fn insert_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session: Uuid,
    first_seq: i64,
    events: &[NewEvent],
    t: f64,
) -> Result<()> {
    for (k, e) in events.iter().enumerate() {
        sqlx::query(
            "insert into event_records (session_id, seq, timemark, event, data, time_created) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.to_string())
        .bind(first_seq + k as i64)
        .bind(e.timemark)
        .bind(&e.event)
        .bind(e.data.to_string())
        .bind(t)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Db {
    /// Opens a session of `user_id` in `company_id` with its first events.
    pub async fn create_event_session(
        &self,
        company_id: Option<Uuid>,
        user_id: Option<Uuid>,
        capture_session: Option<Uuid>,
        meta_data: &Value,
        events: &[NewEvent],
    ) -> Result<EventSession> {
        let t = crate::now();
        let sess = EventSession {
            id: Uuid::new_v4(),
            company_id,
            user_id,
            capture_session,
            meta_data: meta_data.clone(),
            events: events.len() as i64,
            time_created: t,
            time_updated: t,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into event_sessions (id, company_id, user_id, capture_session, meta_data, events, \
             time_created, time_updated) values ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(sess.id.to_string())
        .bind(ostr(company_id))
        .bind(ostr(user_id))
        .bind(ostr(capture_session))
        .bind(meta_data.to_string())
        .bind(sess.events)
        .bind(t)
        .execute(&mut *tx)
        .await?;
        insert_events(&mut tx, sess.id, 0, events, t).await?;
        tx.commit().await?;
        Ok(sess)
    }

    /// How many sessions were opened since `since` by `company_id` (by `user_id` where the caller
    /// has no company), and in all by the SDK session token `capture_session` when one is given:
    /// the counts the per-day and per-token caps are checked against.
    pub async fn event_sessions_opened(
        &self,
        company_id: Option<Uuid>,
        user_id: Option<Uuid>,
        capture_session: Option<Uuid>,
        since: f64,
    ) -> Result<(i64, i64)> {
        let (sql, owner) = match company_id {
            Some(c) => {
                ("select count(*) as n from event_sessions where company_id = $1 and time_created >= $2", Some(c))
            }
            None => ("select count(*) as n from event_sessions where user_id = $1 and time_created >= $2", user_id),
        };
        let by_owner = sqlx::query(sql).bind(ostr(owner)).bind(since).fetch_one(&self.pool).await?;
        let by_token = match capture_session {
            Some(c) => {
                let row = sqlx::query("select count(*) as n from event_sessions where capture_session = $1")
                    .bind(c.to_string())
                    .fetch_one(&self.pool)
                    .await?;
                i(&row, "n")?
            }
            None => 0,
        };
        Ok((i(&by_owner, "n")?, by_token))
    }

    /// Appends events to a session inside `scope` (or created by `capture_session`), keeping it
    /// at most `max_events` long. The count is raised in one statement, so concurrent appends
    /// get distinct places.
    pub async fn append_events(
        &self,
        session: Uuid,
        scope: &Scope,
        capture_session: Option<Uuid>,
        events: &[NewEvent],
        max_events: i64,
    ) -> Result<std::result::Result<EventSession, AppendRefused>> {
        let Some(current) = self.event_session_for(session, scope, capture_session).await? else {
            return Ok(Err(AppendRefused::NotFound));
        };
        let n = events.len() as i64;
        let t = crate::now();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "update event_sessions set events = events + $1, time_updated = $2 \
             where id = $3 and events + $1 <= $4 returning events",
        )
        .bind(n)
        .bind(t)
        .bind(session.to_string())
        .bind(max_events)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(AppendRefused::Full(max_events)));
        };
        let total = i(&row, "events")?;
        insert_events(&mut tx, session, total - n, events, t).await?;
        tx.commit().await?;
        Ok(Ok(EventSession { events: total, time_updated: t, ..current }))
    }

    /// A session inside `scope`, or created by `capture_session` (an SDK session token sees its
    /// own sessions only).
    async fn event_session_for(
        &self,
        session: Uuid,
        scope: &Scope,
        capture_session: Option<Uuid>,
    ) -> Result<Option<EventSession>> {
        let row = sqlx::query("select * from event_sessions where id = $1")
            .bind(session.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let sess = EventSession::from_row(&row)?;
        let visible = match capture_session {
            Some(c) => sess.capture_session == Some(c),
            None => scope.contains(sess.user_id, sess.company_id),
        };
        Ok(visible.then_some(sess))
    }

    /// A session inside `scope`.
    pub async fn event_session(&self, session: Uuid, scope: &Scope) -> Result<EventSession> {
        self.event_session_for(session, scope, None).await?.ok_or(StoreError::NotFound)
    }

    /// The events of a session, in order.
    pub async fn event_records(&self, session: Uuid) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query("select * from event_records where session_id = $1 order by seq")
            .bind(session.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(EventRecord::from_row).collect()
    }

    /// Deletes the sessions last updated before `before` (their events go with them).
    pub async fn purge_event_sessions(&self, before: f64) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        // Both engines cascade; the explicit delete keeps SQLite right even without foreign keys.
        sqlx::query(
            "delete from event_records where session_id in (select id from event_sessions where time_updated < $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let done =
            sqlx::query("delete from event_sessions where time_updated < $1").bind(before).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
