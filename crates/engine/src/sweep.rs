//! The file sweeper and the retention purges.
//!
//! Every `OZ_FILE_SWEEP_PERIOD` the sweeper removes media files that no row references and that
//! are older than `OZ_FILE_SWEEP_GRACE` (uploads of a client that disconnected before its folder
//! was written, best shots of a worker killed before recording its outcome, files of rows deleted
//! by a process that died before removing them) and `.tmp-*` leftovers of interrupted writes.
//! Young files are left alone: their rows may not be committed yet. The same loop deletes the
//! folders of companies that no longer exist (a folder created while its company was deleted),
//! finished jobs older than `OZ_JOB_RETENTION` and delivered (or given up) webhooks older than
//! `OZ_WEBHOOK_RETENTION`, liveness challenges a day after they expired, and SDK telemetry
//! sessions 30 days after their last event.

use std::time::Duration;

use oz_storage::StoreError;
use tokio::sync::watch;

use crate::Engine;
use crate::files::FileError;

/// SDK telemetry sessions are deleted this long after their last event, seconds (30 days).
pub const EVENT_SESSION_RETENTION_S: f64 = 30.0 * 86_400.0;
/// Liveness challenges are deleted this long after they expired, seconds.
pub const CHALLENGE_RETENTION_S: f64 = 86_400.0;

/// Sweeper and retention settings.
#[derive(Debug, Clone)]
pub struct LifecycleConfig {
    /// `OZ_FILE_SWEEP_GRACE`: an unreferenced file is removed once it is this old.
    pub sweep_grace: Duration,
    /// `OZ_FILE_SWEEP_PERIOD`: how often the sweeper runs.
    pub sweep_every: Duration,
    /// `OZ_JOB_RETENTION`: finished jobs older than this are deleted (zero: kept).
    pub job_retention: Duration,
    /// `OZ_WEBHOOK_RETENTION`: delivered or given-up webhooks older than this are deleted (zero: kept).
    pub webhook_retention: Duration,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            sweep_grace: Duration::from_secs(3600),
            sweep_every: Duration::from_secs(600),
            job_retention: Duration::from_secs(7 * 86_400),
            webhook_retention: Duration::from_secs(7 * 86_400),
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Unreferenced stored files removed.
    pub files: usize,
    /// `.tmp-*` leftovers removed.
    pub temporary: usize,
    /// Files of folders whose company no longer exists.
    pub orphan_folder_files: usize,
    pub jobs: u64,
    pub deliveries: u64,
    /// Liveness challenges purged.
    pub challenges: u64,
    /// SDK telemetry sessions purged.
    pub event_sessions: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("sweeper task failed: {0}")]
    Task(String),
}

impl Engine {
    /// One pass of the sweeper and the purges (see the module documentation).
    pub async fn sweep(&self) -> Result<SweepReport, SweepError> {
        let cfg = &self.cfg.lifecycle;
        let mut report = SweepReport::default();

        let orphans = self.db.purge_orphan_folders().await?;
        report.orphan_folder_files = orphans.len();
        self.forget_and_remove(orphans).await?;

        // List first, then ask the database: a file written after the listing is not looked at,
        // and one listed is at least `grace` old, so its upload or analysis has long finished.
        let files = self.files.clone();
        let grace = cfg.sweep_grace;
        let (stored, tmp) = tokio::task::spawn_blocking(move || files.older_than(grace))
            .await
            .map_err(|e| SweepError::Task(e.to_string()))??;
        let referenced = self.db.referenced_files(&stored).await?;
        let unreferenced: Vec<String> = stored.into_iter().filter(|n| !referenced.contains(n)).collect();
        report.files = unreferenced.len();
        report.temporary = tmp.len();
        self.forget_and_remove(unreferenced).await?;
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || files.remove_temporary(&tmp))
            .await
            .map_err(|e| SweepError::Task(e.to_string()))?;

        let now = oz_storage::now();
        if !cfg.job_retention.is_zero() {
            report.jobs = self.db.purge_finished_jobs(now - cfg.job_retention.as_secs_f64()).await?;
        }
        if !cfg.webhook_retention.is_zero() {
            report.deliveries = self.db.purge_deliveries(now - cfg.webhook_retention.as_secs_f64()).await?;
        }
        // Liveness challenges a day past their expiry (a used one is kept as long: the analysis
        // that verified it names it in its confs).
        report.challenges = self.db.purge_challenges(now - CHALLENGE_RETENTION_S).await?;
        // SDK telemetry sessions 30 days after their last event.
        report.event_sessions = self.db.purge_event_sessions(now - EVENT_SESSION_RETENTION_S).await?;
        Ok(report)
    }

    /// Drops files from the decode and analysis caches and removes them from disk (on a blocking
    /// thread).
    pub async fn forget_and_remove(&self, names: Vec<String>) -> Result<(), SweepError> {
        if names.is_empty() {
            return Ok(());
        }
        for n in &names {
            self.cache.forget(n);
            self.analyses.forget(n);
        }
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || files.remove_all(&names)).await.map_err(|e| SweepError::Task(e.to_string()))
    }

    pub(crate) async fn sweep_loop(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(self.cfg.lifecycle.sweep_every) => {}
            }
            match self.sweep().await {
                Ok(r) if r != SweepReport::default() => tracing::info!(
                    files = r.files,
                    temporary = r.temporary,
                    orphan_folder_files = r.orphan_folder_files,
                    jobs = r.jobs,
                    deliveries = r.deliveries,
                    "sweeper removed unreferenced files and old rows"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweeper failed"),
            }
        }
    }
}
