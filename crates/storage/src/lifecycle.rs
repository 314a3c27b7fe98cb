//! Data lifecycle: deleting a tenant with everything it owns, the look-ups of the file sweeper,
//! retention purges, and server-wide secrets.
//!
//! Rows are deleted in one transaction that answers the stored file names of the deleted media;
//! callers remove those files only after the commit. A crash between the commit and the removal
//! leaves unreferenced files, which the file sweeper removes after its grace period.

use std::collections::HashSet;

use uuid::Uuid;

use crate::folders::{MEDIA_FILE_COLUMNS, media_files_of};
use crate::{Backend, Db, Result, StoreError, dynq, now};

/// Most values bound in one `in (...)` list (SQLite allows 32766, PostgreSQL 65535).
const CHUNK: usize = 500;

impl Db {
    /// Deletes a company. With `cascade` false it is refused (`Conflict`) while the company still
    /// has folders; with `cascade` true its folders, media, analyses, jobs and webhook deliveries
    /// go with it. Its users and their sessions always go with it. Answers the stored file names of
    /// the deleted media (originals, previews, assembled videos) and person photos, for the caller
    /// to remove once this has returned (the rows are committed).
    pub async fn remove_company(&self, id: Uuid, cascade: bool) -> Result<Vec<String>> {
        let cid = id.to_string();
        let mut tx = self.pool.begin().await?;
        // Take the write lock first. On SQLite a deferred transaction that reads and then writes
        // fails with SQLITE_BUSY_SNAPSHOT (no busy wait) when another writer committed in
        // between; a write as the first statement waits for the lock (busy_timeout) instead.
        // On PostgreSQL it locks the company row as `select ... for update` would.
        let found =
            sqlx::query("update companies set id = id where id = $1").bind(cid.clone()).execute(&mut *tx).await?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query("select count(*) as n from folders where company_id = $1")
            .bind(cid.clone())
            .fetch_one(&mut *tx)
            .await?;
        let folders = crate::model::i(&row, "n")?;
        if folders > 0 && !cascade {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "the company still has {folders} folder(s): delete them first, or delete the company with ?force=true \
                 to delete its folders, media and analyses with it"
            )));
        }
        let in_company = "select id from folders where company_id = $1";
        let rows = dynq(format!("delete from media where folder_id in ({in_company}) returning {MEDIA_FILE_COLUMNS}"))
            .bind(cid.clone())
            .fetch_all(&mut *tx)
            .await?;
        let mut files = media_files_of(&rows)?;
        // Its blacklist collections, persons and their photos go too (no biometric data of a
        // deleted tenant stays), logged for every process's 1:N index.
        if self.backend() == Backend::Postgres {
            sqlx::query("select pg_advisory_xact_lock($1)")
                .bind(crate::collections::CHANGE_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let rows = sqlx::query("delete from person_images where company_id = $1 returning file_name")
            .bind(cid.clone())
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            files.push(crate::model::s(r, "file_name")?);
        }
        sqlx::query("delete from persons where company_id = $1").bind(cid.clone()).execute(&mut *tx).await?;
        sqlx::query("delete from resolution_audit where company_id = $1").bind(cid.clone()).execute(&mut *tx).await?;
        let rows = sqlx::query("delete from collections where company_id = $1 returning id")
            .bind(cid.clone())
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            let collection = crate::model::id(r, "id")?;
            crate::collections::log_change(
                &mut tx,
                crate::collections::ChangeOp::RemoveCollection,
                collection,
                None,
                None,
            )
            .await?;
        }
        dynq(format!("delete from webhook_deliveries where folder_id in ({in_company})"))
            .bind(cid.clone())
            .execute(&mut *tx)
            .await?;
        // Analyses and their jobs go with their folders (foreign keys, on delete cascade).
        sqlx::query("delete from folders where company_id = $1").bind(cid.clone()).execute(&mut *tx).await?;
        sqlx::query("delete from sessions where user_id in (select id from users where company_id = $1)")
            .bind(cid.clone())
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from users where company_id = $1").bind(cid.clone()).execute(&mut *tx).await?;
        sqlx::query("delete from companies where id = $1").bind(cid).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(files)
    }

    /// Deletes the folders (with media, analyses, jobs and deliveries) whose company no longer
    /// exists: folders created by a request that raced a company deletion. Answers the file names
    /// of their media.
    pub async fn purge_orphan_folders(&self) -> Result<Vec<String>> {
        let orphans =
            "select id from folders where company_id is not null and company_id not in (select id from companies)";
        let mut tx = self.pool.begin().await?;
        let rows = dynq(format!("delete from media where folder_id in ({orphans}) returning {MEDIA_FILE_COLUMNS}"))
            .fetch_all(&mut *tx)
            .await?;
        let files = media_files_of(&rows)?;
        dynq(format!("delete from webhook_deliveries where folder_id in ({orphans})")).execute(&mut *tx).await?;
        dynq(format!("delete from folders where id in ({orphans})")).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(files)
    }

    /// The names among `names` that a media row (original, preview or assembled video) or a
    /// person photo row references.
    pub async fn referenced_files(&self, names: &[String]) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for chunk in names.chunks(CHUNK) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let list = list.join(", ");
            let mut q = dynq(format!(
                "select file_name from media where file_name in ({list}) \
                 union select preview_file as file_name from media where preview_file in ({list}) \
                 union select video_file as file_name from media where video_file in ({list}) \
                 union select file_name from person_images where file_name in ({list})"
            ));
            for n in chunk {
                q = q.bind(n.clone());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.insert(crate::model::s(&r, "file_name")?);
            }
        }
        Ok(out)
    }

    /// Removes jobs that finished (done or failed) before `before`. Their analyses stay.
    pub async fn purge_finished_jobs(&self, before: f64) -> Result<u64> {
        let r = sqlx::query("delete from jobs where state in ('done', 'failed') and time_updated < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Removes webhook deliveries that were delivered, or given up, before `before`.
    pub async fn purge_deliveries(&self, before: f64) -> Result<u64> {
        let r = sqlx::query(
            "delete from webhook_deliveries where (state = 'delivered' and delivered_at < $1) \
             or (state = 'failed' and next_attempt_at < $1)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Jobs waiting in the queue since before `queued_before` (never started, or put back for a
    /// retry): how many, and when the oldest was created. A backlog is reported, never failed.
    pub async fn queue_backlog(&self, queued_before: f64) -> Result<(i64, Option<f64>)> {
        let row = sqlx::query(
            "select count(*) as n, min(time_created) as oldest from jobs where state = 'queued' and time_created < $1",
        )
        .bind(queued_before)
        .fetch_one(&self.pool)
        .await?;
        Ok((crate::model::i(&row, "n")?, crate::model::of(&row, "oldest")?))
    }

    /// The server-wide secret `name`: the stored one, or `candidate` stored now when there is none
    /// (the first process to start wins; every process on the database gets the same value).
    pub async fn server_secret(&self, name: &str, candidate: &str) -> Result<String> {
        sqlx::query(
            "insert into server_secrets (name, value, time_created) values ($1, $2, $3) on conflict (name) do nothing",
        )
        .bind(name)
        .bind(candidate)
        .bind(now())
        .execute(&self.pool)
        .await?;
        let row =
            sqlx::query("select value from server_secrets where name = $1").bind(name).fetch_one(&self.pool).await?;
        crate::model::s(&row, "value")
    }
}
