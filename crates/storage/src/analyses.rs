//! Analyses, their jobs on the durable queue, and how finishing one updates its folder.
//!
//! A job is claimed with a lease (`for update skip locked` on PostgreSQL; SQLite serialises
//! writers, so the same `update ... returning` is atomic there). A finished job is recorded only
//! by the worker that still holds its lease, so no analysis is finished twice.
//!
//! Claiming is fair between companies: the next job is the oldest runnable job of the company
//! with the fewest jobs running now and, among those, of the company whose last job started
//! longest ago (round robin; folders without a company count as one company). One company's
//! backlog, or several companies' backlogs, delay a newcomer's job by the end of one running job,
//! not by the backlogs.

use oz_domain::access::{AnalysisKind, Scope};
use oz_domain::status::{self, AnalysisState, ResolutionStatus};
use serde_json::Value;
use uuid::Uuid;

use crate::dynq;

use crate::accounts::scope_sql;
use crate::folders::{NewMedia, insert_media};
use crate::model::{Analysis, Folder, Job, ostr, state_str};
use crate::{Backend, Db, Result, StoreError, now};

/// An analysis to create.
#[derive(Debug, Clone)]
pub struct NewAnalysis {
    pub kind: AnalysisKind,
    pub confs: Value,
    pub source_media: Vec<Uuid>,
    pub meta_data: Value,
}

/// Filters of `GET /api/folders/{id}/analyses/`.
#[derive(Debug, Clone, Default)]
pub struct AnalysisFilter {
    pub ids: Vec<Uuid>,
    pub ids_exclude: Vec<Uuid>,
    pub types: Vec<String>,
    pub types_exclude: Vec<String>,
    /// Matches `state` or `resolution_status`.
    pub states: Vec<String>,
    pub states_exclude: Vec<String>,
}

impl AnalysisFilter {
    fn keeps(&self, a: &Analysis) -> bool {
        let t = a.kind.as_str();
        let st = state_str(a.state);
        let rs = a.resolution_status.as_str();
        (self.ids.is_empty() || self.ids.contains(&a.id))
            && !self.ids_exclude.contains(&a.id)
            && (self.types.is_empty() || self.types.iter().any(|x| x.eq_ignore_ascii_case(t)))
            && !self.types_exclude.iter().any(|x| x.eq_ignore_ascii_case(t))
            && (self.states.is_empty()
                || self.states.iter().any(|x| x.eq_ignore_ascii_case(st) || x.eq_ignore_ascii_case(rs)))
            && !self.states_exclude.iter().any(|x| x.eq_ignore_ascii_case(st) || x.eq_ignore_ascii_case(rs))
    }
}

/// The result of running an analysis.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: AnalysisState,
    pub resolution_status: ResolutionStatus,
    pub results_data: Option<Value>,
    pub results_media: Value,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub technical_meta_data: Value,
    /// Output images (best shots) to store in the folder.
    pub outputs: Vec<NewMedia>,
}

impl Outcome {
    /// A failed analysis with an Oz error.
    #[must_use]
    pub fn failed(code: i64, message: impl Into<String>) -> Self {
        Self {
            state: AnalysisState::Failed,
            resolution_status: ResolutionStatus::Failed,
            results_data: None,
            results_media: Value::Array(Vec::new()),
            error_code: Some(code),
            error_message: Some(message.into()),
            technical_meta_data: Value::Object(serde_json::Map::new()),
            outputs: Vec::new(),
        }
    }
}

/// What finishing an analysis did to its folder.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderUpdate {
    pub folder_id: Uuid,
    pub resolution_status: ResolutionStatus,
    pub system_resolution: ResolutionStatus,
    /// A webhook delivery queued because the folder's analyses all finished.
    pub webhook: Option<Uuid>,
}

/// What [`Db::queue_stats`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueStats {
    /// Jobs waiting for a worker (due now or retried later).
    pub queued: i64,
    /// Jobs a worker holds.
    pub running: i64,
    /// Age of the oldest queued job, seconds.
    pub oldest_queued_s: f64,
    /// Webhook deliveries not yet delivered or given up.
    pub webhooks_pending: i64,
}

/// Job states.
const QUEUED: &str = "queued";
const RUNNING: &str = "running";

impl Db {
    /// Creates analyses (one group) with their queued jobs, and sets the folder to PROCESSING.
    pub async fn create_analyses(
        &self,
        folder: &Folder,
        user_id: Option<Uuid>,
        items: &[NewAnalysis],
        resolution_endpoint: Option<&str>,
    ) -> Result<Vec<Analysis>> {
        self.create_analyses_traced(folder, user_id, items, resolution_endpoint, None).await
    }

    /// [`Db::create_analyses`] that stores `request_id` (the request's `X-Request-Id`) with each
    /// job, so the worker that runs it logs the same id.
    pub async fn create_analyses_traced(
        &self,
        folder: &Folder,
        user_id: Option<Uuid>,
        items: &[NewAnalysis],
        resolution_endpoint: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<Vec<Analysis>> {
        let group = Uuid::new_v4();
        let t = now();
        let mut ids = Vec::with_capacity(items.len());
        let mut tx = self.pool.begin().await?;
        for (k, a) in items.iter().enumerate() {
            let id = Uuid::new_v4();
            // Keep creation order stable within the group.
            let tc = t + k as f64 * 1e-6;
            sqlx::query(
                "insert into analyses (id, folder_id, company_id, user_id, group_id, type, state, resolution_status, confs, \
                 source_media, meta_data, time_created, time_updated) \
                 values ($1, $2, $3, $4, $5, $6, 'PROCESSING', 'PROCESSING', $7, $8, $9, $10, $10)",
            )
            .bind(id.to_string())
            .bind(folder.id.to_string())
            .bind(ostr(folder.company_id))
            .bind(ostr(user_id))
            .bind(group.to_string())
            .bind(a.kind.as_str())
            .bind(a.confs.to_string())
            .bind(serde_json::to_string(&a.source_media).unwrap_or_else(|_| "[]".into()))
            .bind(a.meta_data.to_string())
            .bind(tc)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "insert into jobs (id, analysis_id, state, attempts, run_after, time_created, time_updated, request_id, \
                 company_id) values ($1, $2, 'queued', 0, $3, $3, $3, $4, $5)",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(id.to_string())
            .bind(t)
            .bind(request_id.map(str::to_string))
            .bind(job_company(folder.company_id))
            .execute(&mut *tx)
            .await?;
            ids.push(id);
        }
        sqlx::query(
            "update folders set resolution_status = 'PROCESSING', system_resolution = 'PROCESSING', time_updated = $2, \
             resolution_endpoint = coalesce($3, resolution_endpoint) where id = $1",
        )
        .bind(folder.id.to_string())
        .bind(t)
        .bind(resolution_endpoint.map(str::to_string))
        .execute(&mut *tx)
        .await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("select pg_notify('oz_jobs', '')").execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.analysis(id, &Scope::All).await?);
        }
        Ok(out)
    }

    pub async fn analysis(&self, id: Uuid, scope: &Scope) -> Result<Analysis> {
        let (w, arg) = scope_sql(scope, "user_id", "company_id", 2);
        // Analyses are visible to whoever sees their folder.
        let sql = format!("select * from analyses where id = $1 and folder_id in (select id from folders where {})", w);
        let mut q = dynq(sql.clone()).bind(id.to_string());
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let row = q.fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        Analysis::from_row(&row)
    }

    /// Analyses of a folder, oldest first, filtered.
    pub async fn folder_analyses(&self, folder_id: Uuid, filter: &AnalysisFilter) -> Result<Vec<Analysis>> {
        let all = self.analyses_of_folders(&[folder_id]).await?;
        Ok(all.into_iter().filter(|a| filter.keeps(a)).collect())
    }

    /// Analyses of many folders, oldest first.
    pub async fn analyses_of_folders(&self, folder_ids: &[Uuid]) -> Result<Vec<Analysis>> {
        if folder_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (1..=folder_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!("select * from analyses where folder_id in ({}) order by time_created, id", list.join(", "));
        let mut q = dynq(sql.clone());
        for id in folder_ids {
            q = q.bind(id.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(Analysis::from_row).collect()
    }

    /// Claims the next runnable job: queued and due, or running with an expired lease.
    /// Jobs already tried `max_attempts` times are left for the expiry sweep.
    ///
    /// Fair between companies: the oldest runnable job (by `run_after`, then id) of the company
    /// with the fewest jobs running under a live lease; between companies running as many, the
    /// one whose last job started longest ago (never: first). A company that queues a thousand
    /// jobs therefore gets a free worker only when no company with fewer running jobs, or served
    /// before it, waits; a company whose job just finished does not win the freed worker back from
    /// a newcomer because its backlog is older.
    pub async fn claim_job(&self, worker: &str, lease_s: f64, max_attempts: i64) -> Result<Option<Job>> {
        self.claim_job_capped(worker, lease_s, max_attempts, None).await
    }

    /// [`Db::claim_job`] that also leaves alone the jobs of a company already running
    /// `company_max_running` jobs under a live lease (`None`: no cap). With a cap below the
    /// workers, a company that queues long jobs cannot hold every worker, so another company's
    /// job starts at once instead of after one of them; the cost is workers left idle while only
    /// that company has work.
    pub async fn claim_job_capped(
        &self,
        worker: &str,
        lease_s: f64,
        max_attempts: i64,
        company_max_running: Option<i64>,
    ) -> Result<Option<Job>> {
        let t = now();
        // PostgreSQL locks the chosen row only (not the grouped side of the join) and skips rows
        // another worker is claiming; SQLite serialises writers.
        let lock = if self.backend() == Backend::Postgres { "for update of j skip locked" } else { "" };
        // The runnable jobs, and for each company that has some: its jobs running under a live
        // lease and when it last had a job started (index look-ups per company).
        let runnable = "((state = 'queued' and run_after <= $3) or (state = 'running' and lease_until < $3)) \
                        and attempts < $4";
        let runnable_j = "((j.state = 'queued' and j.run_after <= $3) or (j.state = 'running' and j.lease_until < $3)) \
                          and j.attempts < $4";
        let sql = format!(
            "update jobs set state = 'running', attempts = attempts + 1, lease_until = $1, worker = $2, time_updated = $3, \
             started_at = $3 \
             where id = (select j.id from jobs j join (select c.company_id, \
             (select count(*) from jobs r where r.company_id = c.company_id and r.state = 'running' \
             and r.lease_until >= $3) as n, \
             (select max(s.started_at) from jobs s where s.company_id = c.company_id) as served \
             from (select distinct company_id from jobs where {runnable}) c) k on k.company_id = j.company_id \
             where {runnable_j} and k.n < $5 \
             order by k.n, coalesce(k.served, 0), j.run_after, j.id limit 1 {lock}) \
             returning id, analysis_id, attempts, time_created, request_id"
        );
        let row = dynq(sql.clone())
            .bind(t + lease_s)
            .bind(worker)
            .bind(t)
            .bind(max_attempts)
            .bind(company_max_running.map_or(i64::MAX, |n| n.max(1)))
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(Job {
                id: crate::model::id(&r, "id")?,
                analysis_id: crate::model::id(&r, "analysis_id")?,
                attempts: crate::model::i(&r, "attempts")?,
                queued_at: crate::model::f(&r, "time_created")?,
                request_id: crate::model::os(&r, "request_id")?,
            })),
        }
    }

    /// Extends a lease; false when the job is no longer this worker's.
    pub async fn renew_lease(&self, job: &Job, worker: &str, lease_s: f64) -> Result<bool> {
        let r = sqlx::query("update jobs set lease_until = $3 where id = $1 and worker = $2 and state = 'running'")
            .bind(job.id.to_string())
            .bind(worker)
            .bind(now() + lease_s)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Puts a job back in the queue after a transient error.
    pub async fn retry_job(&self, job: &Job, worker: &str, error: &str, run_after: f64) -> Result<bool> {
        let r = sqlx::query(
            "update jobs set state = 'queued', run_after = $3, lease_until = null, worker = null, last_error = $4, \
             time_updated = $5 where id = $1 and worker = $2 and state = 'running'",
        )
        .bind(job.id.to_string())
        .bind(worker)
        .bind(run_after)
        .bind(error)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Begins a transaction that holds the folder: on PostgreSQL its row (`no key update` still
    /// lets other transactions insert media that reference the folder), on SQLite the database's
    /// write lock, taken at `BEGIN IMMEDIATE` (a deferred transaction that reads and then writes
    /// gets SQLITE_BUSY at once, without waiting, when another writer came in between). Finishes
    /// and decisions within a folder are serialised and the last one sees every other result.
    pub(crate) async fn begin_on_folder(&self, folder: Uuid) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        if self.backend() == Backend::Sqlite {
            return Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?);
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("select id from folders where id = $1 for no key update")
            .bind(folder.to_string())
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Records the outcome of a job's analysis, stores its output images and updates the folder;
    /// all in one transaction, and only if `worker` still holds the job.
    pub async fn finish_job(&self, job: &Job, worker: &str, outcome: &Outcome) -> Result<FolderUpdate> {
        let t = now();
        let analysis = self.analysis(job.analysis_id, &Scope::All).await?;
        let folder = self.folder(analysis.folder_id, &Scope::All).await?;
        let mut tx = self.begin_on_folder(folder.id).await?;
        let done = sqlx::query(
            "update jobs set state = $3, lease_until = null, time_updated = $4, last_error = $5 \
             where id = $1 and worker = $2 and state = 'running'",
        )
        .bind(job.id.to_string())
        .bind(worker)
        .bind(if outcome.state == AnalysisState::Failed { "failed" } else { "done" })
        .bind(t)
        .bind(outcome.error_message.clone())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict("the job's lease was lost".into()));
        }
        for (i, m) in outcome.outputs.iter().enumerate() {
            let at = crate::folders::in_order(t, i);
            insert_media(&mut tx, folder.id, folder.company_id, folder.user_id, m, at).await?;
        }
        write_outcome(&mut tx, job.analysis_id, outcome, t).await?;
        let update = close_folder(&mut tx, &folder, t).await?;
        if let (Some(delivery), Some(rid)) = (update.webhook, job.request_id.as_deref()) {
            // The webhook of this result logs the id of the request that started it.
            sqlx::query("update webhook_deliveries set request_id = $2 where id = $1")
                .bind(delivery.to_string())
                .bind(rid)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(update)
    }

    /// Fails analyses still PROCESSING that a worker started before `started_before` and that
    /// are not waiting for another worker: the worker still holds the lease (it hangs) or the job
    /// was tried `max_attempts` times (no worker will take it again). A job that waits in the
    /// queue, or whose lease ran out and will be claimed again, is a backlog: it is not failed,
    /// however old (see [`Db::queue_backlog`]). Updates the folders of the failed analyses.
    pub async fn expire_stuck(&self, started_before: f64, max_attempts: i64) -> Result<Vec<FolderUpdate>> {
        let rows = sqlx::query(
            "select a.id, a.folder_id from analyses a left join jobs j on j.analysis_id = a.id \
             where a.state = 'PROCESSING' and ( \
             (j.state = 'running' and j.started_at < $1 and (j.lease_until >= $3 or j.attempts >= $2)) \
             or (j.state = 'queued' and j.attempts >= $2 and coalesce(j.started_at, j.time_updated) < $1) \
             or (j.id is null and a.time_created < $1))",
        )
        .bind(started_before)
        .bind(max_attempts)
        .bind(now())
        .fetch_all(&self.pool)
        .await?;
        let mut updates = Vec::new();
        for r in rows {
            let id = crate::model::id(&r, "id")?;
            let folder = self.folder(crate::model::id(&r, "folder_id")?, &Scope::All).await?;
            let t = now();
            let mut tx = self.begin_on_folder(folder.id).await?;
            let changed = sqlx::query(
                "update analyses set state = 'FAILED', resolution_status = 'FAILED', error_code = 0, \
                 error_message = 'analysis expired: not finished within OZ_ANALYSE_PROCESSING_EXPIRE_TIMEOUT', \
                 time_updated = $2 where id = $1 and state = 'PROCESSING'",
            )
            .bind(id.to_string())
            .bind(t)
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() == 0 {
                tx.rollback().await?;
                continue;
            }
            sqlx::query(
                "update jobs set state = 'failed', lease_until = null, time_updated = $2 where analysis_id = $1",
            )
            .bind(id.to_string())
            .bind(t)
            .execute(&mut *tx)
            .await?;
            updates.push(close_folder(&mut tx, &folder, t).await?);
            tx.commit().await?;
        }
        Ok(updates)
    }

    /// Counts jobs by state (for tests and health).
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("select state, count(*) as n from jobs group by state order by state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((crate::model::s(r, "state")?, crate::model::i(r, "n")?))).collect()
    }

    /// How many times the job of an analysis was claimed, and its state.
    pub async fn job_of(&self, analysis_id: Uuid) -> Result<(String, i64)> {
        let row = sqlx::query("select state, attempts from jobs where analysis_id = $1")
            .bind(analysis_id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((crate::model::s(&row, "state")?, crate::model::i(&row, "attempts")?))
    }

    /// The queue as metrics see it: jobs queued and running, and the age in seconds of the
    /// oldest queued job (0 when none). One indexed query, cheap enough for every scrape.
    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let rows = sqlx::query(
            "select state, count(*) as n, min(time_created) as oldest from jobs where state in ($1, $2) group by state",
        )
        .bind(QUEUED)
        .bind(RUNNING)
        .fetch_all(&self.pool)
        .await?;
        let mut out = QueueStats::default();
        let t = now();
        for r in &rows {
            let n = crate::model::i(r, "n")?;
            match crate::model::s(r, "state")?.as_str() {
                QUEUED => {
                    out.queued = n;
                    out.oldest_queued_s = crate::model::of(r, "oldest")?.map_or(0.0, |o| (t - o).max(0.0));
                }
                RUNNING => out.running = n,
                _ => {}
            }
        }
        let row = sqlx::query("select count(*) as n from webhook_deliveries where state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        out.webhooks_pending = crate::model::i(&row, "n")?;
        Ok(out)
    }

    /// Jobs of `company_id` queued or running: the work it has in the queue now, for the
    /// per-company queue limit (`OZ_COMPANY_QUEUE_LIMIT`). One indexed count.
    pub async fn company_open_jobs(&self, company_id: Uuid) -> Result<i64> {
        let row = sqlx::query("select count(*) as n from jobs where company_id = $1 and state in ($2, $3)")
            .bind(company_id.to_string())
            .bind(QUEUED)
            .bind(RUNNING)
            .fetch_one(&self.pool)
            .await?;
        crate::model::i(&row, "n")
    }

    /// True while some job can run now or later.
    pub async fn has_pending_jobs(&self) -> Result<bool> {
        let row = sqlx::query("select count(*) as n from jobs where state in ($1, $2)")
            .bind(QUEUED)
            .bind(RUNNING)
            .fetch_one(&self.pool)
            .await?;
        Ok(crate::model::i(&row, "n")? > 0)
    }
}

/// `jobs.company_id`: the folder's company, or `''` for a folder of none (one group of its own).
fn job_company(company_id: Option<Uuid>) -> String {
    company_id.map(|c| c.to_string()).unwrap_or_default()
}

async fn write_outcome(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: Uuid, o: &Outcome, t: f64) -> Result<()> {
    sqlx::query(
        "update analyses set state = $2, resolution_status = $3, results_data = $4, results_media = $5, error_code = $6, \
         error_message = $7, technical_meta_data = $8, time_updated = $9 where id = $1 and state = 'PROCESSING'",
    )
    .bind(id.to_string())
    .bind(state_str(o.state))
    .bind(o.resolution_status.as_str())
    .bind(o.results_data.as_ref().map(Value::to_string))
    .bind(o.results_media.to_string())
    .bind(o.error_code)
    .bind(o.error_message.clone())
    .bind(o.technical_meta_data.to_string())
    .bind(t)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Recomputes the folder's statuses from its last group of analyses and, when that group has
/// just closed (the folder was not FINISHED/FAILED before) and the folder has a webhook URL,
/// queues one delivery. An analysis of an older group that finishes after a newer group closed
/// changes nothing and queues nothing. Callers hold the folder's lock (PostgreSQL) or the write
/// lock (SQLite), so the status read here is the latest.
pub(crate) async fn close_folder(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    folder: &Folder,
    t: f64,
) -> Result<FolderUpdate> {
    let before = sqlx::query("select resolution_status, resolution_endpoint from folders where id = $1")
        .bind(folder.id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let was_closed = matches!(
        crate::model::status(&before, "resolution_status")?,
        ResolutionStatus::Finished | ResolutionStatus::Failed
    );
    let endpoint = crate::model::os(&before, "resolution_endpoint")?;
    let rows = sqlx::query(
        "select resolution_status from analyses where folder_id = $1 and group_id = \
         (select group_id from analyses where folder_id = $1 order by time_created desc, id desc limit 1)",
    )
    .bind(folder.id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let statuses = rows.iter().map(|r| crate::model::status(r, "resolution_status")).collect::<Result<Vec<_>>>()?;
    let (fs, sys) = status::folder_status(&statuses);
    sqlx::query("update folders set resolution_status = $2, system_resolution = $3, time_updated = $4 where id = $1")
        .bind(folder.id.to_string())
        .bind(fs.as_str())
        .bind(sys.as_str())
        .bind(t)
        .execute(&mut **tx)
        .await?;
    let closed = matches!(fs, ResolutionStatus::Finished | ResolutionStatus::Failed);
    let mut webhook = None;
    if closed
        && !was_closed
        && let Some(url) = endpoint.filter(|u| !u.trim().is_empty())
    {
        webhook = Some(crate::webhooks::queue_delivery(tx, folder.id, &url, t).await?);
    }
    Ok(FolderUpdate { folder_id: folder.id, resolution_status: fs, system_resolution: sys, webhook })
}
