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
//!
//! Frames kept only for reuse (the decode cache, a shared analysis's best frame) stay counted,
//! but they never make a decode wait or fail: they are registered as [`Reclaim`]ers, and a
//! reservation that does not fit takes them back (oldest first, those nothing else is using)
//! before it waits.
//!
//! A request also has a work budget ([`WorkLimits`]): pixels decoded, frames handed to the models
//! and seconds spent decoding, all its media together. Past any of them the request is refused
//! with [`VisionError::TooMuchWork`] (a 4xx), so one request cannot hold an inference slot for
//! minutes with many cheap-to-send, expensive-to-decode parts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
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

/// Limits on the decoding work of one request, all its media together (beside its memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkLimits {
    /// Pixels decoded: every frame a decoder produces (kept or not), every image and shot
    /// (`OZ_REQUEST_MAX_PIXELS`).
    pub pixels: u64,
    /// Frames handed to the models: images, sampled video frames and best-shot candidates, shots,
    /// the frames of gesture checks (`OZ_REQUEST_MAX_FRAMES`).
    pub frames: u64,
    /// Time spent decoding, all the request's decodes together (`OZ_REQUEST_DECODE_TIMEOUT`).
    /// Each decode also has its own deadline (`OZ_VIDEO_DECODE_TIMEOUT`); the shorter one applies.
    pub time: Duration,
}

impl WorkLimits {
    /// No limit at all (tools, tests).
    pub const UNLIMITED: WorkLimits = WorkLimits { pixels: u64::MAX, frames: u64::MAX, time: Duration::MAX };
}

impl Default for WorkLimits {
    /// 8 Gpx (a 60 s 1080p60 clip decodes 7.5 Gpx), 256 frames (four videos checked for a gesture
    /// and a few photos), 30 s of decoding.
    fn default() -> Self {
        Self { pixels: 8_000_000_000, frames: 256, time: Duration::from_secs(30) }
    }
}

/// What a request has spent of its [`WorkLimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkDone {
    pub pixels: u64,
    pub frames: u64,
    pub time: Duration,
}

#[derive(Debug)]
struct Work {
    limits: WorkLimits,
    pixels: AtomicU64,
    frames: AtomicU64,
    nanos: AtomicU64,
}

impl Work {
    fn new(limits: WorkLimits) -> Arc<Self> {
        Arc::new(Self { limits, pixels: AtomicU64::new(0), frames: AtomicU64::new(0), nanos: AtomicU64::new(0) })
    }

    fn time(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// Frames held only as a cache (see the module docs): they can be given back to the decode
/// budget whenever a decode needs the room.
pub trait Reclaim: Send + Sync {
    /// Lets the cached frames go if nothing else is using them; the bytes given back to the
    /// budget (0 when they are in use or already gone).
    fn reclaim(&self) -> u64;
}

struct Shared {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
    /// Cached frames a reservation may take back, oldest first. Never locked while `used` is.
    cached: Mutex<VecDeque<Weak<dyn Reclaim>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("total", &self.total).field("used", &self.used).finish_non_exhaustive()
    }
}

impl Shared {
    /// Takes back cached frames, oldest first, until `need` bytes were given back or none is
    /// left that nothing else uses; the bytes given back.
    fn reclaim(&self, need: u64) -> u64 {
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut freed = 0u64;
        let mut i = 0;
        while i < cached.len() && freed < need {
            match cached[i].upgrade() {
                None => {
                    cached.remove(i);
                }
                Some(r) => match r.reclaim() {
                    0 => i += 1,
                    n => {
                        freed = freed.saturating_add(n);
                        cached.remove(i);
                    }
                },
            }
        }
        drop(cached);
        if freed > 0 {
            metrics::counter!(crate::DECODE_BUDGET_RECLAIMED_BYTES).increment(freed);
        }
        freed
    }

    fn register(&self, r: Weak<dyn Reclaim>) {
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cached.retain(|w| w.strong_count() > 0);
        cached.push_back(r);
    }

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
        Self {
            shared: Arc::new(Shared {
                total: cfg.total_bytes,
                used: Mutex::new(0),
                freed: Condvar::new(),
                cached: Mutex::new(VecDeque::new()),
            }),
            cfg,
        }
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

    /// A new request scope with the configured per-request limit and wait, and no work limit
    /// (see [`RequestBudget::with_work`]).
    #[must_use]
    pub fn request(&self) -> RequestBudget {
        RequestBudget {
            shared: Arc::clone(&self.shared),
            limit: self.cfg.request_bytes,
            used: Arc::new(AtomicU64::new(0)),
            peak: Arc::new(AtomicU64::new(0)),
            wait: self.cfg.wait,
            work: Work::new(WorkLimits::UNLIMITED),
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
    /// The request's decoding work so far, shared by its clones.
    work: Arc<Work>,
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

    /// The same request with a fresh work meter under `limits` (give it before any decode).
    #[must_use]
    pub fn with_work(mut self, limits: WorkLimits) -> Self {
        self.work = Work::new(limits);
        self
    }

    /// The work limits of this request.
    #[must_use]
    pub fn work_limits(&self) -> WorkLimits {
        self.work.limits
    }

    /// The work this request has done so far.
    #[must_use]
    pub fn work_done(&self) -> WorkDone {
        WorkDone {
            pixels: self.work.pixels.load(Ordering::SeqCst),
            frames: self.work.frames.load(Ordering::SeqCst),
            time: self.work.time(),
        }
    }

    /// Counts `pixels` decoded (or about to be); refused past [`WorkLimits::pixels`].
    pub fn charge_pixels(&self, pixels: u64) -> Result<(), VisionError> {
        let limit = self.work.limits.pixels;
        let after = self.work.pixels.fetch_add(pixels, Ordering::SeqCst).saturating_add(pixels);
        if after > limit {
            metrics::counter!(crate::REQUEST_WORK_REFUSED, "limit" => "pixels").increment(1);
            return Err(VisionError::TooMuchWork { what: "decoded pixels", limit, setting: "OZ_REQUEST_MAX_PIXELS" });
        }
        Ok(())
    }

    /// Counts `frames` for the models (before they are decoded); refused past [`WorkLimits::frames`].
    pub fn charge_frames(&self, frames: u64) -> Result<(), VisionError> {
        let limit = self.work.limits.frames;
        let after = self.work.frames.fetch_add(frames, Ordering::SeqCst).saturating_add(frames);
        if after > limit {
            metrics::counter!(crate::REQUEST_WORK_REFUSED, "limit" => "frames").increment(1);
            return Err(VisionError::TooMuchWork {
                what: "frames to analyse",
                limit,
                setting: "OZ_REQUEST_MAX_FRAMES",
            });
        }
        Ok(())
    }

    /// Gives back frames charged by [`Self::charge_frames`] that a decode did not produce (a clip
    /// shorter than its sampling).
    pub fn refund_frames(&self, frames: u64) {
        let _ = self.work.frames.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v.saturating_sub(frames)));
    }

    /// Counts time spent decoding.
    pub fn charge_time(&self, spent: Duration) {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        let _ = self.work.nanos.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v.saturating_add(nanos)));
    }

    /// How long the next decode may take: `per_decode`, or less when the request's decoding time
    /// ([`WorkLimits::time`]) has less left; refused when none is left.
    pub fn decode_time_left(&self, per_decode: Duration) -> Result<Duration, VisionError> {
        let limit = self.work.limits.time;
        let left = limit.saturating_sub(self.work.time());
        if left.is_zero() {
            return Err(self.out_of_time());
        }
        Ok(per_decode.min(left))
    }

    /// The refusal of a request whose decoding time is spent.
    #[must_use]
    pub fn out_of_time(&self) -> VisionError {
        metrics::counter!(crate::REQUEST_WORK_REFUSED, "limit" => "time").increment(1);
        VisionError::TooMuchWork {
            what: "seconds of decoding",
            limit: self.work.limits.time.as_secs(),
            setting: "OZ_REQUEST_DECODE_TIMEOUT",
        }
    }

    /// Registers frames held only as a cache (see [`Reclaim`]): a reservation that does not fit
    /// takes them back before it waits.
    pub fn register_cached(&self, r: Weak<dyn Reclaim>) {
        self.shared.register(r);
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
            // Cached frames give way before anyone waits (released without `used` held: dropping
            // them takes that lock).
            let short = used.saturating_add(bytes) - self.shared.total;
            drop(used);
            let reclaimed = self.shared.reclaim(short);
            used = self.shared.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if reclaimed > 0 {
                continue;
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

    /// The request this reservation belongs to (`None` for [`Reservation::none`]).
    #[must_use]
    pub fn budget(&self) -> Option<&RequestBudget> {
        self.owner.as_ref()
    }

    /// [`RequestBudget::charge_pixels`] of the owner (nothing for an untracked reservation).
    pub fn charge_pixels(&self, pixels: u64) -> Result<(), VisionError> {
        self.owner.as_ref().map_or(Ok(()), |o| o.charge_pixels(pixels))
    }

    /// [`RequestBudget::charge_frames`] of the owner (nothing for an untracked reservation).
    pub fn charge_frames(&self, frames: u64) -> Result<(), VisionError> {
        self.owner.as_ref().map_or(Ok(()), |o| o.charge_frames(frames))
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

    /// Frames held as a cache: a reservation taken back whole.
    struct Cached(Mutex<Option<Reservation>>, bool);

    impl Reclaim for Cached {
        fn reclaim(&self) -> u64 {
            if self.1 {
                return 0; // in use
            }
            self.0.lock().expect("lock").take().map_or(0, |r| r.bytes())
        }
    }

    #[test]
    fn cached_frames_give_way_instead_of_making_a_request_wait() {
        let b = budget(100, 100, 0);
        let keep = |bytes: u64, in_use: bool| {
            let req = b.request();
            let c = Arc::new(Cached(Mutex::new(Some(req.reserve(bytes).expect("fits"))), in_use));
            let weak: Weak<dyn Reclaim> = Arc::downgrade(&c) as Weak<Cached>;
            req.register_cached(weak);
            c
        };
        let old = keep(40, false);
        let busy = keep(20, true);
        let young = keep(30, false);
        assert_eq!(b.used(), 90);
        // 50 bytes with no wait allowed: the oldest cached frames that nobody uses go first, only
        // as many as needed.
        let r = b.request().reserve(50).expect("cached frames gave way");
        assert!(old.0.lock().expect("lock").is_none(), "the oldest went");
        assert!(young.0.lock().expect("lock").is_some(), "no more than needed");
        assert_eq!(b.used(), 100);
        drop(r);
        // Frames in use are never taken: then the budget is really full.
        let r = b.request().reserve(80).expect("the young ones went too");
        assert!(young.0.lock().expect("lock").is_none());
        assert!(matches!(b.request().reserve(1), Err(VisionError::Busy)));
        drop((r, busy));
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn work_is_counted_per_request_and_refused_past_its_limits() {
        let b = budget(1000, 1000, 0);
        let limits = WorkLimits { pixels: 100, frames: 3, time: Duration::from_secs(5) };
        let req = b.request().with_work(limits);
        let twin = req.clone();
        req.charge_pixels(60).expect("fits");
        assert!(matches!(
            twin.charge_pixels(41),
            Err(VisionError::TooMuchWork { what: "decoded pixels", limit: 100, .. })
        ));
        twin.charge_frames(3).expect("fits");
        assert!(matches!(req.charge_frames(1), Err(VisionError::TooMuchWork { limit: 3, .. })));
        req.refund_frames(2);
        assert_eq!(req.work_done().frames, 2, "the refused frame stays counted, the refund is given back");
        assert_eq!(req.decode_time_left(Duration::from_secs(10)).expect("time left"), Duration::from_secs(5));
        req.charge_time(Duration::from_secs(4));
        assert_eq!(twin.decode_time_left(Duration::from_secs(10)).expect("time left"), Duration::from_secs(1));
        req.charge_time(Duration::from_secs(1));
        assert!(matches!(
            req.decode_time_left(Duration::from_secs(10)),
            Err(VisionError::TooMuchWork { setting: "OZ_REQUEST_DECODE_TIMEOUT", .. })
        ));
        // Another request starts afresh; a bare request scope has no work limit.
        let other = b.request().with_work(limits);
        other.charge_frames(3).expect("its own budget");
        b.request().charge_pixels(u64::MAX).expect("unlimited");
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
