//! How many of this process's heavy vision jobs (video decodes, parallel frame loops) are running.
//! A job that starts alone uses several threads (one request gets its answer sooner); a job that
//! starts while another runs uses one, so concurrent requests share the cores instead of
//! oversubscribing them: frame-threaded H.264 decoding costs about a quarter more CPU than one
//! thread for the same frames, and extra frame workers only queue for the model sessions.

use std::sync::atomic::{AtomicUsize, Ordering};

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// One running job; counted until dropped.
#[derive(Debug)]
pub struct Job {
    alone: bool,
}

impl Job {
    #[must_use]
    pub fn start() -> Self {
        let before = ACTIVE.fetch_add(1, Ordering::AcqRel);
        Self { alone: before == 0 }
    }

    /// Threads this job should use when it would like `wanted`: all of them when it started
    /// alone, else one.
    #[must_use]
    pub fn threads(&self, wanted: usize) -> usize {
        if self.alone { wanted.max(1) } else { 1 }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Jobs running now (metrics and tests).
#[must_use]
pub fn active() -> usize {
    ACTIVE.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_started_beside_another_takes_one_thread() {
        // Other tests of this crate may run jobs at the same time: only the relative rule is
        // certain, a job started while `first` runs is never alone.
        let first = Job::start();
        let second = Job::start();
        assert_eq!(second.threads(4), 1);
        assert!(active() >= 2);
        assert!(first.threads(4) == 4 || first.threads(4) == 1);
        assert_eq!(first.threads(0), 1, "never zero threads");
        drop(second);
        drop(first);
    }
}
