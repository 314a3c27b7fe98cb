//! A budget of decoded pixel memory, per process and per request.
//!
//! Decoding turns a few kilobytes of PNG into hundreds of megabytes of RGB, so the bytes of
//! decoded frames are reserved before they are allocated (from the image header) and released
//! when the frames are dropped (a [`Reservation`] lives inside [`crate::media::DecodedMedia`]).
//!
//! - One request (a [`RequestBudget`]) may hold at most `request_bytes` at once: more is refused
//!   with [`VisionError::OverBudget`] (the client's fault: a 4xx).
//! - The whole process holds at most `total_bytes`: a request that would go over waits up to
//!   `wait` for others to release, then fails with [`VisionError::Busy`] (503, retry later).
//!
//! The waits are blocking (decoding runs on blocking threads).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::VisionError;

/// Budget settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    /// Bytes of decoded frames the whole process may hold (`OZ_DECODE_BUDGET_BYTES`).
    pub total_bytes: u64,
    /// Bytes of decoded frames one request may hold (`OZ_DECODE_REQUEST_BUDGET_BYTES`).
    pub request_bytes: u64,
    /// How long a decode waits for the process budget before giving up (`OZ_DECODE_BUDGET_WAIT_MS`).
    pub wait: Duration,
}

impl BudgetConfig {
    /// No limit at all (tools, tests).
    pub const UNLIMITED: BudgetConfig =
        BudgetConfig { total_bytes: u64::MAX, request_bytes: u64::MAX, wait: Duration::from_secs(0) };
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self { total_bytes: 1 << 30, request_bytes: 512 << 20, wait: Duration::from_secs(10) }
    }
}

#[derive(Debug)]
struct Shared {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl Shared {
    fn release(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        // A poisoned lock still holds a valid counter.
        let mut used = self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *used = used.saturating_sub(bytes);
        drop(used);
        self.freed.notify_all();
    }
}

/// The process-wide budget. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct DecodeBudget {
    shared: Arc<Shared>,
    cfg: BudgetConfig,
}

impl DecodeBudget {
    #[must_use]
    pub fn new(cfg: BudgetConfig) -> Self {
        Self { shared: Arc::new(Shared { total: cfg.total_bytes, used: Mutex::new(0), freed: Condvar::new() }), cfg }
    }

    /// A budget that never refuses.
    #[must_use]
    pub fn unlimited() -> Self {
        Self::new(BudgetConfig::UNLIMITED)
    }

    #[must_use]
    pub fn config(&self) -> BudgetConfig {
        self.cfg
    }

    /// Bytes reserved now, all requests together.
    #[must_use]
    pub fn used(&self) -> u64 {
        *self.shared.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new request scope with the configured per-request limit and wait.
    #[must_use]
    pub fn request(&self) -> RequestBudget {
        RequestBudget {
            shared: Arc::clone(&self.shared),
            limit: self.cfg.request_bytes,
            used: Arc::new(AtomicU64::new(0)),
            peak: Arc::new(AtomicU64::new(0)),
            wait: self.cfg.wait,
        }
    }
}

/// The share of one request. Clones share the request's counter.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    shared: Arc<Shared>,
    limit: u64,
    used: Arc<AtomicU64>,
    /// The most this request has held at once.
    peak: Arc<AtomicU64>,
    wait: Duration,
}

impl RequestBudget {
    /// A request scope of its own unlimited budget (for callers without a pipeline).
    #[must_use]
    pub fn unlimited() -> Self {
        DecodeBudget::unlimited().request()
    }

    /// The same request waiting up to `wait` for the process budget (workers can wait longer
    /// than HTTP requests).
    #[must_use]
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Bytes this request holds now.
    #[must_use]
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// The most bytes this request has held at once (its high-water mark).
    #[must_use]
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }

    /// An empty reservation of this request, to grow as frames are decoded.
    #[must_use]
    pub fn empty(&self) -> Reservation {
        Reservation { owner: Some(self.clone()), bytes: 0 }
    }

    /// Reserves `bytes` now (see the module docs for refusals and waits).
    pub fn reserve(&self, bytes: u64) -> Result<Reservation, VisionError> {
        let mut r = self.empty();
        r.grow(bytes)?;
        Ok(r)
    }

    fn acquire(&self, bytes: u64) -> Result<(), VisionError> {
        if bytes == 0 {
            return Ok(());
        }
        // The request's own limit first: going over it is the client's fault, never worth a wait.
        let before = self.used.fetch_add(bytes, Ordering::SeqCst);
        let after = before.saturating_add(bytes);
        let limit = self.limit.min(self.shared.total);
        if after > limit {
            self.used.fetch_sub(bytes, Ordering::SeqCst);
            return Err(VisionError::OverBudget { need: after, limit });
        }
        let deadline = Instant::now() + self.wait;
        let mut used = self.shared.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if used.saturating_add(bytes) <= self.shared.total {
                *used += bytes;
                self.peak.fetch_max(after, Ordering::SeqCst);
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                drop(used);
                self.used.fetch_sub(bytes, Ordering::SeqCst);
                return Err(VisionError::Busy);
            }
            used = match self.shared.freed.wait_timeout(used, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    fn release(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.used.fetch_sub(bytes, Ordering::SeqCst);
        self.shared.release(bytes);
    }
}

/// Bytes held by decoded frames; released on drop.
#[derive(Debug, Default)]
pub struct Reservation {
    owner: Option<RequestBudget>,
    bytes: u64,
}

impl Reservation {
    /// A reservation of nothing, tied to no budget (hand-made media, clones).
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reserves `bytes` more (may wait; refused as in [`RequestBudget::reserve`]).
    pub fn grow(&mut self, bytes: u64) -> Result<(), VisionError> {
        if let Some(o) = &self.owner {
            o.acquire(bytes)?;
        }
        self.bytes = self.bytes.saturating_add(bytes);
        Ok(())
    }

    /// Gives back everything above `bytes`.
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes >= self.bytes {
            return;
        }
        let extra = self.bytes - bytes;
        self.bytes = bytes;
        if let Some(o) = &self.owner {
            o.release(extra);
        }
    }

    /// Gives everything back now.
    pub fn release(&mut self) {
        self.shrink_to(0);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(total: u64, request: u64, wait_ms: u64) -> DecodeBudget {
        DecodeBudget::new(BudgetConfig {
            total_bytes: total,
            request_bytes: request,
            wait: Duration::from_millis(wait_ms),
        })
    }

    #[test]
    fn request_over_its_limit_is_refused_without_waiting() {
        let b = budget(1000, 100, 10_000);
        let r = b.request();
        let start = Instant::now();
        match r.reserve(101) {
            Err(VisionError::OverBudget { need: 101, limit: 100 }) => {}
            other => panic!("expected OverBudget, got {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no wait for a request's own limit");
        let a = r.reserve(60).expect("fits");
        assert!(matches!(r.reserve(41), Err(VisionError::OverBudget { need: 101, .. })));
        assert_eq!(r.used(), 60);
        drop(a);
        assert_eq!(r.used(), 0);
        assert_eq!(b.used(), 0);
        // More than the whole process is never possible either.
        let b = budget(50, 100, 10_000);
        assert!(matches!(b.request().reserve(51), Err(VisionError::OverBudget { limit: 50, .. })));
    }

    #[test]
    fn process_full_waits_then_busy() {
        let b = budget(100, 100, 30);
        let r1 = b.request();
        let r2 = b.request();
        let held = r1.reserve(80).expect("first");
        assert!(matches!(r2.reserve(30), Err(VisionError::Busy)));
        assert_eq!(r2.used(), 0, "a refused reservation leaves nothing behind");
        drop(held);
        let ok = r2.reserve(30).expect("fits after release");
        assert_eq!(b.used(), 30);
        drop(ok);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn waiter_proceeds_when_another_releases() {
        let b = budget(100, 100, 5_000);
        let held = b.request().reserve(90).expect("first");
        let r = b.request();
        let t = std::thread::spawn(move || r.reserve(50).map(|x| x.bytes()));
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        assert_eq!(t.join().expect("join").expect("granted after release"), 50);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn grow_and_shrink_track_bytes() {
        let b = budget(1000, 500, 0);
        let req = b.request();
        let mut r = req.empty();
        r.grow(300).expect("grow");
        r.grow(150).expect("grow");
        assert!(r.grow(100).is_err());
        assert_eq!((r.bytes(), req.used(), b.used()), (450, 450, 450));
        r.shrink_to(100);
        assert_eq!((r.bytes(), req.used(), b.used()), (100, 100, 100));
        r.shrink_to(500);
        assert_eq!(r.bytes(), 100, "shrink never grows");
        drop(r);
        assert_eq!((req.used(), b.used()), (0, 0));
        let mut none = Reservation::none();
        none.grow(u64::MAX).expect("untracked");
    }
}
