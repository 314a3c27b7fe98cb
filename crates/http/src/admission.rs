//! Bounded admission for inference: at most `max_inflight` requests decode or analyse media at
//! once, a few more wait (at most `queue` of them, each at most `max_wait`), the rest are refused at
//! once with 503 and `Retry-After`. Cheap routes never take a permit, so they stay fast while
//! inference is saturated.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The `Retry-After` (seconds) of every 503 the server answers.
pub const RETRY_AFTER_SECS: u64 = 2;

/// `OZ_MAX_INFLIGHT`, `OZ_ADMISSION_QUEUE`, `OZ_ADMISSION_WAIT_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Requests decoding or analysing media at once (at least 1).
    pub max_inflight: usize,
    /// Requests allowed to wait for a permit; more are refused at once.
    pub queue: usize,
    /// Longest wait for a permit.
    pub max_wait: Duration,
}

impl AdmissionConfig {
    /// The defaults: one request per core, as many waiting, three seconds of wait at most.
    #[must_use]
    pub fn for_cores(cores: usize) -> Self {
        let n = cores.max(1);
        Self { max_inflight: n, queue: n, max_wait: Duration::from_secs(3) }
    }
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self::for_cores(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
    }
}

/// Refused: every permit is taken and the queue is full, or the wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// The right to decode or analyse media; released when dropped.
#[derive(Debug)]
pub struct Permit {
    _permit: OwnedSemaphorePermit,
}

impl Permit {
    /// Ties the permit to `value`: it is released when the value is dropped (moved into the
    /// blocking thread that does the work, the permit lives exactly as long as the work).
    #[must_use]
    pub fn holding<T>(self, value: T) -> Admitted<T> {
        Admitted { value, _permit: self }
    }
}

/// A value that holds an admission permit; derefs to the value.
#[derive(Debug)]
pub struct Admitted<T> {
    value: T,
    _permit: Permit,
}

impl<T> std::ops::Deref for Admitted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The admission gate shared by every inference route.
#[derive(Debug)]
pub struct Admission {
    cfg: AdmissionConfig,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// Decrements the waiting count when a waiter leaves, however it leaves.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Admission {
    #[must_use]
    pub fn new(cfg: AdmissionConfig) -> Arc<Self> {
        let cfg = AdmissionConfig { max_inflight: cfg.max_inflight.max(1), ..cfg };
        Arc::new(Self { cfg, permits: Arc::new(Semaphore::new(cfg.max_inflight)), waiting: AtomicUsize::new(0) })
    }

    #[must_use]
    pub fn config(&self) -> AdmissionConfig {
        self.cfg
    }

    /// Requests holding a permit now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.cfg.max_inflight - self.permits.available_permits()
    }

    /// True when a request would be refused now: every permit is taken and the queue is full.
    /// Checked before a Lite request's body is read, so a saturated server answers 503 without
    /// receiving the upload (the permit itself is taken once the body has arrived: a slow upload
    /// never holds an inference slot).
    #[must_use]
    pub fn saturated(&self) -> bool {
        self.permits.available_permits() == 0
            && (self.waiting.load(Ordering::SeqCst) >= self.cfg.queue || self.cfg.max_wait.is_zero())
    }

    /// A permit now, or after a short wait in the queue, or [`Busy`].
    pub async fn enter(&self) -> Result<Permit, Busy> {
        if let Ok(p) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(Permit { _permit: p });
        }
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if before >= self.cfg.queue || self.cfg.max_wait.is_zero() {
            metrics::counter!(crate::observe::ADMISSION_REJECTIONS, "reason" => "queue_full").increment(1);
            return Err(Busy);
        }
        match tokio::time::timeout(self.cfg.max_wait, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(p)) => Ok(Permit { _permit: p }),
            _ => {
                metrics::counter!(crate::observe::ADMISSION_REJECTIONS, "reason" => "timeout").increment(1);
                Err(Busy)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max_inflight: usize, queue: usize, wait_ms: u64) -> Arc<Admission> {
        Admission::new(AdmissionConfig { max_inflight, queue, max_wait: Duration::from_millis(wait_ms) })
    }

    #[tokio::test]
    async fn refuses_at_once_without_a_queue() {
        let g = gate(1, 0, 1000);
        let held = g.enter().await.expect("first permit");
        let started = std::time::Instant::now();
        assert_eq!(g.enter().await.err(), Some(Busy));
        assert!(started.elapsed() < Duration::from_millis(100), "no wait without a queue");
        assert_eq!(g.in_flight(), 1);
        drop(held);
        assert_eq!(g.in_flight(), 0);
        assert!(g.enter().await.is_ok(), "free again once released");
    }

    #[tokio::test]
    async fn a_waiter_gets_the_released_permit() {
        let g = gate(1, 1, 5000);
        let held = g.enter().await.expect("first permit");
        let g2 = Arc::clone(&g);
        let waiter = tokio::spawn(async move { g2.enter().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The queue (1) is full: a third request is refused without waiting.
        assert_eq!(g.enter().await.err(), Some(Busy));
        drop(held);
        assert_eq!(waiter.await.expect("join"), Ok(()));
    }

    #[tokio::test]
    async fn the_wait_is_bounded() {
        let g = gate(1, 4, 50);
        let _held = g.enter().await.expect("first permit");
        let started = std::time::Instant::now();
        assert_eq!(g.enter().await.err(), Some(Busy));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(50) && waited < Duration::from_secs(2), "{waited:?}");
        // The waiter left the queue: the next one may wait again.
        assert_eq!(g.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_held_value_keeps_the_permit() {
        let g = gate(1, 0, 0);
        let files = g.enter().await.expect("permit").holding(vec![1, 2, 3]);
        assert_eq!(files.len(), 3);
        assert_eq!(g.in_flight(), 1);
        std::thread::spawn(move || drop(files)).join().expect("join");
        assert_eq!(g.in_flight(), 0);
    }

    #[test]
    fn at_least_one_permit() {
        assert_eq!(AdmissionConfig::for_cores(0).max_inflight, 1);
        assert_eq!(gate(0, 0, 0).config().max_inflight, 1);
    }
}
