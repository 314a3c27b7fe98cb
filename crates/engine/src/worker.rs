//! Workers on the durable queue, the expiry sweep and the webhook loop.
//!
//! A worker claims a job with a lease, runs the analysis on a blocking thread while renewing the
//! lease, then records the outcome in one transaction that only succeeds while it still holds
//! the lease. A worker that dies stops renewing; after the lease the job is claimed again. Wake-ups:
//! an in-process `Notify` when this process queues work, PostgreSQL `LISTEN oz_jobs` for work
//! queued by other processes, and a poll interval as a fallback.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use oz_domain::access::Scope;
use oz_storage::{Backend, Db, StoreError};
use oz_vision::Pipeline;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::cache::{AnalysisCache, DecodeCache};
use crate::collections::CollectionIndex;
use crate::files::MediaFiles;
use crate::render::{self, Urls};
use crate::runner::{self, RunnerConfig};
use crate::webhook::{self, Attempt, WebhookConfig};

#[derive(Clone)]
pub struct EngineConfig {
    pub workers: usize,
    pub lease: Duration,
    pub poll: Duration,
    pub max_attempts: i64,
    /// `OZ_ANALYSE_PROCESSING_EXPIRE_TIMEOUT`: analyses that a worker started this long ago and
    /// that are still processing fail (a queued backlog is reported, not failed).
    pub expire_after: Duration,
    /// `OZ_ANALYSE_EXPIRE_BEAT_PERIOD`.
    pub expire_every: Duration,
    pub runner: RunnerConfig,
    pub webhook: WebhookConfig,
    pub urls: Urls,
    /// Used to LISTEN on PostgreSQL.
    pub database_url: Option<String>,
    /// Decoded media kept in memory between upload and analysis (entries; 0 = off).
    pub decode_cache: usize,
    /// Bytes of decoded frames that cache may hold (`OZ_DECODE_CACHE_BYTES`).
    pub decode_cache_bytes: u64,
    /// Analyses of stored media shared by QUALITY, BIOMETRY and COLLECTION (entries; 0 = off).
    pub analysis_cache: usize,
    /// File sweeper and retention purges.
    pub lifecycle: crate::sweep::LifecycleConfig,
    /// Threads one 1:N search splits its scan over (`OZ_INDEX_THREADS`).
    pub index_threads: usize,
    /// How often an idle process applies collection changes made elsewhere.
    pub index_poll: Duration,
    /// Jobs one company may run at once in this database (`OZ_COMPANY_MAX_RUNNING`; `None`: no
    /// cap beyond the fair claim order).
    pub company_max_running: Option<i64>,
}

/// `database_url` may hold a password: only whether it is set is shown.
impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("workers", &self.workers)
            .field("lease", &self.lease)
            .field("poll", &self.poll)
            .field("max_attempts", &self.max_attempts)
            .field("expire_after", &self.expire_after)
            .field("expire_every", &self.expire_every)
            .field("runner", &self.runner)
            .field("webhook", &self.webhook)
            .field("urls", &self.urls)
            .field("database_url", &self.database_url.as_ref().map(|_| "[redacted]"))
            .field("decode_cache", &self.decode_cache)
            .field("decode_cache_bytes", &self.decode_cache_bytes)
            .field("analysis_cache", &self.analysis_cache)
            .field("lifecycle", &self.lifecycle)
            .field("index_threads", &self.index_threads)
            .field("index_poll", &self.index_poll)
            .finish_non_exhaustive()
    }
}

pub struct Engine {
    pub db: Db,
    pub pipeline: Arc<Pipeline>,
    pub files: MediaFiles,
    /// Decoded uploads kept for the analyses that follow.
    pub cache: Arc<DecodeCache>,
    /// Model results of stored media, shared by the analyses of one media.
    pub analyses: Arc<AnalysisCache>,
    /// This process's 1:N index of collection templates.
    pub collections: Arc<CollectionIndex>,
    pub cfg: EngineConfig,
    jobs_wake: Notify,
    hooks_wake: Notify,
    name: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Engine {
    #[must_use]
    pub fn new(db: Db, pipeline: Arc<Pipeline>, files: MediaFiles, cfg: EngineConfig) -> Arc<Self> {
        let name = format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let cache = Arc::new(DecodeCache::new(cfg.decode_cache, cfg.decode_cache_bytes));
        let analyses = Arc::new(AnalysisCache::new(cfg.analysis_cache));
        let collections =
            Arc::new(CollectionIndex::new(pipeline.embedder_id(), oz_vision::embed::DIM, cfg.index_threads.max(1)));
        Arc::new(Self {
            db,
            pipeline,
            files,
            cache,
            analyses,
            collections,
            cfg,
            jobs_wake: Notify::new(),
            hooks_wake: Notify::new(),
            name,
        })
    }

    /// Tells the webhook loop that deliveries were queued (by an operator's decision, say).
    pub fn wake_hooks(&self) {
        self.hooks_wake.notify_waiters();
    }

    /// Tells idle workers that jobs were queued.
    pub fn wake(&self) {
        self.jobs_wake.notify_waiters();
    }

    /// Starts the workers, the expiry sweep and the webhook loop; they stop when `shutdown`
    /// turns true.
    pub fn start(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut handles = Vec::new();
        // `workers: 0` is an API-only process: separate worker processes run the queue.
        for i in 0..self.cfg.workers {
            let e = Arc::clone(self);
            let sd = shutdown.clone();
            handles.push(tokio::spawn(async move { e.worker_loop(format!("{}-w{i}", e.name), sd).await }));
        }
        let e = Arc::clone(self);
        let sd = shutdown.clone();
        handles.push(tokio::spawn(async move { e.expiry_loop(sd).await }));
        let e = Arc::clone(self);
        let sd = shutdown.clone();
        handles.push(tokio::spawn(async move { e.sweep_loop(sd).await }));
        let e = Arc::clone(self);
        let sd = shutdown.clone();
        handles.push(tokio::spawn(async move { e.webhook_loop(sd).await }));
        let e = Arc::clone(self);
        let sd = shutdown.clone();
        handles.push(tokio::spawn(async move { e.index_loop(sd).await }));
        if self.db.backend() == Backend::Postgres
            && let Some(url) = self.cfg.database_url.clone()
        {
            let e = Arc::clone(self);
            handles.push(tokio::spawn(async move { e.listen_loop(url, shutdown).await }));
        }
        handles
    }

    /// Applies collection changes made by other processes while this one is idle (searches
    /// catch up by themselves first).
    async fn index_loop(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.collections.catch_up(&self.db).await {
                tracing::warn!(error = %e, "cannot apply collection changes");
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(self.cfg.index_poll) => {}
            }
        }
    }

    async fn listen_loop(&self, url: String, mut shutdown: watch::Receiver<bool>) {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut l) => {
                    if let Err(e) = l.listen("oz_jobs").await {
                        tracing::warn!(error = %e, "LISTEN oz_jobs failed");
                    } else {
                        loop {
                            tokio::select! {
                                _ = shutdown.changed() => return,
                                n = l.recv() => match n {
                                    Ok(_) => self.wake(),
                                    Err(e) => { tracing::warn!(error = %e, "LISTEN connection lost"); break; }
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN for jobs; polling only"),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    async fn worker_loop(&self, worker: String, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let claim = self.db.claim_job_capped(
                &worker,
                self.cfg.lease.as_secs_f64(),
                self.cfg.max_attempts,
                self.cfg.company_max_running,
            );
            match claim.await {
                Ok(Some(job)) => {
                    self.run_job(&worker, job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "claiming a job failed"),
            }
            let notified = self.jobs_wake.notified();
            tokio::select! {
                _ = shutdown.changed() => return,
                () = notified => {}
                () = tokio::time::sleep(self.cfg.poll) => {}
            }
        }
    }

    /// Runs one claimed job to its recorded outcome.
    #[tracing::instrument(
        skip_all,
        fields(job = %job.id, analysis = %job.analysis_id, attempt = job.attempts, request_id = job.request_id.as_deref())
    )]
    async fn run_job(&self, worker: &str, job: oz_storage::Job) {
        let loaded = async {
            let a = self.db.analysis(job.analysis_id, &Scope::All).await?;
            let media = self.db.folder_media(a.folder_id).await?;
            Ok::<_, StoreError>((a, media))
        }
        .await;
        let (analysis, media) = match loaded {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the analysis of a job");
                let _ = self.db.retry_job(&job, worker, &e.to_string(), oz_storage::now() + 5.0).await;
                return;
            }
        };
        if analysis.kind == oz_domain::access::AnalysisKind::Collection
            && let Err(e) = self.collections.catch_up(&self.db).await
        {
            tracing::warn!(error = %e, "cannot bring the 1:N index up to date");
            let _ = self.db.retry_job(&job, worker, &e.to_string(), oz_storage::now() + 5.0).await;
            return;
        }
        let kind = analysis.kind;
        crate::observe::analysis_started(kind, job.attempts, job.queued_at);
        let started = std::time::Instant::now();
        let p = Arc::clone(&self.pipeline);
        let index = Arc::clone(&self.collections);
        let files = self.files.clone();
        let cache = Arc::clone(&self.cache);
        let analyses = Arc::clone(&self.analyses);
        let rcfg = self.cfg.runner.clone();
        let mut task = tokio::task::spawn_blocking(move || {
            let src = runner::Source {
                files: &files,
                cache: Some(&cache),
                analyses: Some(&analyses),
                collections: Some(&index),
            };
            runner::run(&p, &src, &analysis, &media, &rcfg)
        });
        let beat = self.cfg.lease / 3;
        let outcome = loop {
            tokio::select! {
                r = &mut task => break r,
                () = tokio::time::sleep(beat) => {
                    match self.db.renew_lease(&job, worker, self.cfg.lease.as_secs_f64()).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("lease lost while running"),
                        Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
                    }
                }
            }
        };
        let outcome = outcome.unwrap_or_else(|e| {
            tracing::error!(error = %e, "analysis runner panicked");
            oz_storage::analyses::Outcome::failed(runner::ERR_UNKNOWN, "internal error while running the analysis")
        });
        let outputs: Vec<String> = outcome.outputs.iter().map(|m| m.file.file_name.clone()).collect();
        match self.db.finish_job(&job, worker, &outcome).await {
            Ok(update) => {
                crate::observe::analysis_finished(kind, outcome.resolution_status, started.elapsed(), job.queued_at);
                tracing::info!(
                    ms = started.elapsed().as_millis() as u64,
                    resolution = outcome.resolution_status.as_str(),
                    folder = update.resolution_status.as_str(),
                    "analysis finished"
                );
                if update.webhook.is_some() {
                    self.hooks_wake.notify_waiters();
                }
            }
            Err(e) => {
                // Nothing recorded: remove the files this attempt wrote, so no orphan remains.
                self.files.remove_all_async(&outputs).await;
                tracing::warn!(error = %e, "analysis outcome not recorded");
            }
        }
    }

    async fn expiry_loop(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let before = oz_storage::now() - self.cfg.expire_after.as_secs_f64();
            match self.db.queue_backlog(before).await {
                Ok((0, _)) => {}
                Ok((n, oldest)) => tracing::warn!(
                    queued = n,
                    oldest_wait_s = oldest.map_or(0, |t| (oz_storage::now() - t).max(0.0) as u64),
                    "analyses are waiting in the queue longer than OZ_ANALYSE_PROCESSING_EXPIRE_TIMEOUT: add workers"
                ),
                Err(e) => tracing::warn!(error = %e, "queue backlog check failed"),
            }
            match self.db.expire_stuck(before, self.cfg.max_attempts).await {
                Ok(updates) => {
                    if updates.iter().any(|u| u.webhook.is_some()) {
                        self.hooks_wake.notify_waiters();
                    }
                    if !updates.is_empty() {
                        crate::observe::analyses_expired(updates.len());
                        tracing::warn!(count = updates.len(), "expired stuck analyses");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
            }
            if let Err(e) = self.db.purge_sessions(oz_storage::now() - 86_400.0).await {
                tracing::warn!(error = %e, "session purge failed");
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(self.cfg.expire_every) => {}
            }
        }
    }

    /// Claims due deliveries and runs them concurrently: at most `concurrency` attempts in
    /// flight, at most `per_host` to one `host:port`. A delivery whose host is busy goes back to
    /// the queue for a moment (without counting an attempt), so a slow or black-hole endpoint
    /// holds only its own slots and delays nobody else.
    async fn webhook_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let cfg = &self.cfg.webhook;
        let client = match webhook::client(cfg) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhooks cannot be delivered");
                return;
            }
        };
        let global = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
        let mut running = JoinSet::new();
        // Deferred deliveries come back after this; a busy host's slot frees within `timeout`.
        let defer = cfg.timeout.clamp(Duration::from_millis(200), Duration::from_secs(1)).as_secs_f64();
        'outer: loop {
            loop {
                while running.try_join_next().is_some() {}
                let slot = tokio::select! {
                    _ = shutdown.changed() => break 'outer,
                    p = Arc::clone(&global).acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break 'outer,
                    },
                };
                let d = match self.db.claim_delivery(cfg.timeout.as_secs_f64() + 30.0).await {
                    Ok(Some(d)) => d,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming a webhook failed");
                        break;
                    }
                };
                if hosts.len() > 1024 {
                    hosts.retain(|_, s| Arc::strong_count(s) > 1);
                }
                let host = webhook::guard::host_key(&d.url);
                let per_host = cfg.per_host.max(1);
                let sem = Arc::clone(hosts.entry(host).or_insert_with(|| Arc::new(Semaphore::new(per_host))));
                match sem.try_acquire_owned() {
                    Ok(host_slot) => {
                        let e = Arc::clone(&self);
                        let client = client.clone();
                        running.spawn(async move {
                            e.deliver(&client, d).await;
                            drop((host_slot, slot));
                        });
                    }
                    Err(_) => {
                        if let Err(e) = self.db.delivery_deferred(d.id, oz_storage::now() + defer).await {
                            tracing::warn!(error = %e, "cannot defer a webhook");
                        }
                    }
                }
            }
            let notified = self.hooks_wake.notified();
            tokio::select! {
                _ = shutdown.changed() => break,
                () = notified => {}
                () = tokio::time::sleep(self.cfg.poll.max(Duration::from_millis(500))) => {}
            }
        }
        // Let attempts in flight finish for a moment; the others are claimed again after their
        // lease (same event id).
        let _ = tokio::time::timeout(cfg.timeout.min(Duration::from_secs(5)), async {
            while running.join_next().await.is_some() {}
        })
        .await;
    }

    /// A delivery whose folder cannot be read: ended when the folder was deleted, tried again in
    /// 5 s on any other error.
    async fn folder_unreadable(&self, delivery: uuid::Uuid, e: &StoreError) {
        let _ = match e {
            StoreError::NotFound => self.db.delivery_failed(delivery, None, "folder was deleted", None).await,
            e => self.db.delivery_failed(delivery, None, &e.to_string(), Some(oz_storage::now() + 5.0)).await,
        };
    }

    #[tracing::instrument(skip_all, fields(event = %d.id, request_id = d.request_id.as_deref()))]
    async fn deliver(&self, client: &reqwest::Client, d: oz_storage::Delivery) {
        let url = webhook::guard::redact(&d.url);
        let signing = match self.db.webhook_signing(d.folder_id).await {
            Ok(s) => s,
            Err(e) => return self.folder_unreadable(d.id, &e).await,
        };
        let body = match d.body.clone() {
            Some(b) => b,
            None => match self.folder_json(d.folder_id).await {
                Ok(v) => {
                    // The bytes `GET /api/folders/{id}/?with_analyses=true` answers.
                    let b = oz_wire::json::to_string(&v).unwrap_or_default();
                    if let Err(e) = self.db.set_delivery_body(d.id, &b).await {
                        tracing::warn!(error = %e, "cannot store the webhook body");
                    }
                    b
                }
                Err(e) => return self.folder_unreadable(d.id, &e).await,
            },
        };
        let secret = signing.secret.as_deref().or(self.cfg.webhook.secret.as_deref());
        let sent = std::time::Instant::now();
        let attempt = webhook::send(client, &self.cfg.webhook, &d.url, &d.id.to_string(), &body, secret).await;
        let took = sent.elapsed();
        match attempt {
            Attempt::Delivered(status) => {
                crate::observe::webhook_attempt("delivered", took);
                tracing::info!(%url, event = %d.id, status, "webhook delivered");
                let _ = self.db.delivery_done(d.id, i64::from(status)).await;
            }
            Attempt::Failed { status, error } => {
                let next = self.cfg.webhook.backoff(d.attempts).map(|s| oz_storage::now() + s);
                crate::observe::webhook_attempt(if next.is_some() { "retry" } else { "gave_up" }, took);
                tracing::warn!(%url, event = %d.id, attempt = d.attempts, %error, retry = next.is_some(), "webhook failed");
                let _ = self.db.delivery_failed(d.id, status.map(i64::from), &error, next).await;
            }
            Attempt::Refused(error) => {
                crate::observe::webhook_attempt("refused", took);
                tracing::warn!(%url, event = %d.id, %error, "webhook refused");
                let _ = self.db.delivery_failed(d.id, None, &error, None).await;
            }
        }
    }

    /// The folder as `GET /api/folders/{id}/?with_analyses=true` renders it.
    pub async fn folder_json(&self, folder_id: uuid::Uuid) -> Result<oz_wire::Folder, StoreError> {
        let f = self.db.folder(folder_id, &Scope::All).await?;
        let media = self.db.folder_media(folder_id).await?;
        let analyses = self.db.analyses_of_folders(&[folder_id]).await?;
        Ok(render::folder(&f, &media, Some(&analyses), &self.cfg.urls))
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_redacts_the_database_url_and_the_webhook_secret() {
        let cfg = EngineConfig {
            workers: 1,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            max_attempts: 5,
            expire_after: Duration::from_secs(900),
            expire_every: Duration::from_secs(60),
            runner: RunnerConfig {
                thresholds: oz_domain::decision::DecisionThresholds::DEFAULT,
                threshold_spoofing: 0.42,
                gesture_policy: oz_domain::gesture::GesturePolicy::default(),
            },
            webhook: WebhookConfig { secret: Some("hook-secret-5678".into()), ..WebhookConfig::default() },
            urls: Urls::new("http://127.0.0.1:8080"),
            database_url: Some("postgres://oz:db-pass-1234@db/oz".into()),
            decode_cache: 8,
            decode_cache_bytes: 128 << 20,
            analysis_cache: 16,
            lifecycle: crate::sweep::LifecycleConfig::default(),
            index_threads: 1,
            index_poll: Duration::from_secs(2),
            company_max_running: None,
        };
        let shown = format!("{cfg:?} {cfg:#?}");
        assert!(!shown.contains("db-pass-1234") && !shown.contains("hook-secret-5678"), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains("decode_cache"), "{shown}");
    }
}
