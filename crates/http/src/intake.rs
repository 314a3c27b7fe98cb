//! Intake: what a connection or a request body may cost the server before any handler work.
//!
//! - Connections: at most `OZ_MAX_CONNECTIONS` at once (one more is closed as soon as it is
//!   accepted), request headers within `OZ_HEADER_TIMEOUT_S` (hyper's own limit), and a connection
//!   with no request in flight that moves no byte for the idle limit (the larger of
//!   `OZ_HEADER_TIMEOUT_S` and `OZ_BODY_IDLE_TIMEOUT_S`) is closed ([`Activity`]): one that never
//!   sends a request, an idle keep-alive connection, a client that stopped reading its answer.
//!   [`crate::serve`] applies them.
//! - Bodies are paced ([`pace`]): a body that sends nothing for `OZ_BODY_IDLE_TIMEOUT_S`, falls
//!   below `OZ_BODY_MIN_RATE` bytes per second on average after a 10 s grace, or takes longer than
//!   `OZ_BODY_TIMEOUT_S` in all fails with [`BodyTimeout`]; the handler answers 408 and the
//!   connection is closed.
//! - Memory: every byte of a request body the server holds in memory (JSON bodies, the first
//!   `OZ_SPOOL_MEMORY_BYTES` of an upload while it arrives, an upload's parts once it has arrived)
//!   is reserved from one process-wide budget of `OZ_BODY_MEMORY_BYTES` ([`Intake::memory`]); when
//!   it is spent, a JSON body answers 503 and an arriving upload goes straight to disk.
//! - Uploads are spooled ([`Intake::spool`]): received into a temporary file in the data folder
//!   (unlinked at once, gone when the request ends), at most `OZ_SPOOL_MAX_BYTES` on disk across
//!   all requests; only a complete upload is read back into memory, and only once the memory
//!   budget has room for all of it. A client that stalls its upload costs a socket and the part
//!   already on disk, never memory.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::Frame;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The memory budget is counted in units of this many bytes (a semaphore counts `u32` permits).
const UNIT: u64 = 1024;
/// A body may fall below the minimum rate during its first seconds (TCP slow start, a phone
/// waking its radio).
const RATE_GRACE: Duration = Duration::from_secs(10);
/// Chunks read back from a spool file.
const READ_CHUNK: usize = 64 * 1024;

/// The intake settings (`OZ_MAX_CONNECTIONS`, `OZ_HEADER_TIMEOUT_S`, `OZ_BODY_IDLE_TIMEOUT_S`,
/// `OZ_BODY_MIN_RATE`, `OZ_BODY_TIMEOUT_S`, `OZ_BODY_MEMORY_BYTES`, `OZ_SPOOL_MEMORY_BYTES`,
/// `OZ_SPOOL_MAX_BYTES`, the spool folder under `OZ_DATA_DIR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeConfig {
    /// Connections open at once; more are closed when accepted.
    pub max_connections: usize,
    /// Time to send a request's headers (and the longest idle keep-alive gap).
    pub header_timeout: Duration,
    /// Longest gap without a byte of the body.
    pub body_idle_timeout: Duration,
    /// Slowest average body rate after the grace (bytes per second; 0: no minimum).
    pub body_min_rate: u64,
    /// Longest time to receive a whole body.
    pub body_timeout: Duration,
    /// Request-body bytes held in memory across all requests.
    pub memory_bytes: u64,
    /// Bytes of an arriving upload kept in memory before the rest goes to disk.
    pub spool_memory_bytes: u64,
    /// Upload bytes on disk across all requests.
    pub spool_max_bytes: u64,
    /// Where spool files are made (`OZ_DATA_DIR/spool`); `None`: the system's temporary folder.
    pub spool_dir: Option<PathBuf>,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(15),
            body_min_rate: 16 * 1024,
            body_timeout: Duration::from_secs(300),
            memory_bytes: 512 << 20,
            spool_memory_bytes: 256 << 10,
            spool_max_bytes: 4 << 30,
            spool_dir: None,
        }
    }
}

/// Why a body stopped arriving: the error a [`pace`]d body fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyTimeout {
    /// Nothing arrived for the idle limit.
    Idle,
    /// Below the minimum average rate.
    TooSlow,
    /// Longer than the whole-body limit.
    Total,
}

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Idle => "the request body stopped arriving",
            Self::TooSlow => "the request body arrived too slowly",
            Self::Total => "the request body took too long to arrive",
        })
    }
}

impl std::error::Error for BodyTimeout {}

/// The [`BodyTimeout`] behind a body error, if that is what it is.
#[must_use]
pub fn timeout_of(err: &(dyn std::error::Error + 'static)) -> Option<BodyTimeout> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<BodyTimeout>() {
            return Some(*t);
        }
        cur = e.source();
    }
    None
}

/// Why an upload could not be taken.
#[derive(Debug)]
pub enum IntakeError {
    /// Larger than the route's limit.
    TooLarge { limit: u64 },
    /// The body stopped arriving or came too slowly.
    TimedOut(BodyTimeout),
    /// No room on disk or in memory now: 503.
    Busy,
    /// The client's body broke off (connection reset, bad chunking).
    Client(String),
    /// The spool file could not be written or read.
    Io(String),
}

impl std::fmt::Display for IntakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(f, "the request body is larger than {limit} bytes"),
            Self::TimedOut(t) => write!(f, "{t}"),
            Self::Busy => f.write_str("the server is busy: retry later"),
            Self::Client(e) => write!(f, "cannot read the request body: {e}"),
            Self::Io(e) => write!(f, "cannot hold the request body: {e}"),
        }
    }
}

impl IntakeError {
    /// Counts the refusal in `openoz_request_bodies_refused_total` (client-side breaks and
    /// oversize bodies are not counted here: they have their own answers).
    pub fn count(&self) {
        let reason = match self {
            Self::TimedOut(BodyTimeout::Idle) => "idle",
            Self::TimedOut(BodyTimeout::TooSlow) => "too_slow",
            Self::TimedOut(BodyTimeout::Total) => "total",
            Self::Busy => "memory_or_disk",
            _ => return,
        };
        metrics::counter!(crate::observe::BODIES_REFUSED, "reason" => reason).increment(1);
    }

    fn of_body(e: &axum::Error) -> Self {
        match timeout_of(e) {
            Some(t) => Self::TimedOut(t),
            None => Self::Client(e.to_string()),
        }
    }
}

/// The shared intake state: the memory budget and the spool's disk use.
#[derive(Debug)]
pub struct Intake {
    cfg: IntakeConfig,
    memory: Arc<Semaphore>,
    units: u64,
    disk: Arc<AtomicU64>,
}

impl Default for Intake {
    fn default() -> Self {
        Self::new(IntakeConfig::default())
    }
}

/// Memory reserved for a request's body; given back when dropped.
#[derive(Debug, Default)]
pub struct MemoryGrant {
    _permit: Option<OwnedSemaphorePermit>,
}

/// Disk reserved for a spool file; given back when dropped.
#[derive(Debug)]
struct DiskGrant {
    used: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for DiskGrant {
    fn drop(&mut self) {
        self.used.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

fn units(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

impl Intake {
    #[must_use]
    pub fn new(cfg: IntakeConfig) -> Self {
        let units = (cfg.memory_bytes / UNIT).clamp(1, u64::from(u32::MAX >> 3));
        let permits = usize::try_from(units).unwrap_or(usize::MAX);
        Self { cfg, memory: Arc::new(Semaphore::new(permits)), units, disk: Arc::new(AtomicU64::new(0)) }
    }

    #[must_use]
    pub fn config(&self) -> &IntakeConfig {
        &self.cfg
    }

    /// Body bytes held in memory now (reserved).
    #[must_use]
    pub fn memory_used(&self) -> u64 {
        (self.units - self.memory.available_permits() as u64) * UNIT
    }

    /// Upload bytes on disk now.
    #[must_use]
    pub fn disk_used(&self) -> u64 {
        self.disk.load(Ordering::SeqCst)
    }

    /// `bytes` of the memory budget now, or `None`.
    #[must_use]
    pub fn try_memory(&self, bytes: u64) -> Option<MemoryGrant> {
        if bytes == 0 {
            return Some(MemoryGrant::default());
        }
        let n = units(bytes);
        if u64::from(n) > self.units {
            return None;
        }
        Arc::clone(&self.memory).try_acquire_many_owned(n).ok().map(|p| MemoryGrant { _permit: Some(p) })
    }

    /// `bytes` of the memory budget, waiting at most `wait` for others to give theirs back.
    pub async fn memory(&self, bytes: u64, wait: Duration) -> Option<MemoryGrant> {
        if let Some(g) = self.try_memory(bytes) {
            return Some(g);
        }
        let n = units(bytes);
        if u64::from(n) > self.units || wait.is_zero() {
            return None;
        }
        match tokio::time::timeout(wait, Arc::clone(&self.memory).acquire_many_owned(n)).await {
            Ok(Ok(p)) => Some(MemoryGrant { _permit: Some(p) }),
            _ => None,
        }
    }

    fn disk(&self, bytes: u64) -> Option<DiskGrant> {
        let mut cur = self.disk.load(Ordering::SeqCst);
        loop {
            let next = cur.checked_add(bytes).filter(|n| *n <= self.cfg.spool_max_bytes)?;
            match self.disk.compare_exchange(cur, next, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return Some(DiskGrant { used: Arc::clone(&self.disk), bytes }),
                Err(now) => cur = now,
            }
        }
    }

    /// Receives a whole upload body (at most `limit` bytes) into a [`Spooled`]: the first
    /// `OZ_SPOOL_MEMORY_BYTES` in memory when the budget has room, the rest in an unlinked
    /// temporary file. A declared `Content-Length` over the limit is refused before any byte is read.
    pub async fn spool(&self, body: Body, declared: Option<u64>, limit: u64) -> Result<Spooled, IntakeError> {
        if declared.is_some_and(|n| n > limit) {
            return Err(IntakeError::TooLarge { limit });
        }
        let head_cap = self.cfg.spool_memory_bytes.min(declared.unwrap_or(u64::MAX)).min(limit);
        let head_grant = self.try_memory(head_cap);
        let head_cap = if head_grant.is_some() { head_cap } else { 0 };
        let mut out =
            Spooled { len: 0, head: Vec::new(), file: None, _head_grant: head_grant.unwrap_or_default(), disk: None };
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| IntakeError::of_body(&e))?;
            let Ok(data) = frame.into_data() else { continue };
            let len = out.len.saturating_add(data.len() as u64);
            if len > limit {
                return Err(IntakeError::TooLarge { limit });
            }
            out.len = len;
            let room = usize::try_from(head_cap).unwrap_or(usize::MAX).saturating_sub(out.head.len());
            let (to_head, rest) = data.split_at(room.min(data.len()));
            out.head.extend_from_slice(to_head);
            if !rest.is_empty() {
                self.write_rest(&mut out, declared, rest).await?;
            }
        }
        Ok(out)
    }

    async fn write_rest(&self, out: &mut Spooled, declared: Option<u64>, rest: &[u8]) -> Result<(), IntakeError> {
        if out.file.is_none() {
            let dir = self.cfg.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
            let file = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir)?;
                tempfile::tempfile_in(&dir)
            })
            .await
            .map_err(|e| IntakeError::Io(e.to_string()))?
            .map_err(|e| IntakeError::Io(e.to_string()))?;
            out.file = Some(file);
            // The declared length is reserved at once, so the disk cap refuses a large upload
            // before its bytes are written; a chunked body reserves as it grows.
            let want = declared.map_or(0, |d| d.saturating_sub(out.head.len() as u64));
            if want > 0 {
                out.disk = Some(self.disk(want).ok_or(IntakeError::Busy)?);
            }
        }
        let on_disk = out.len - out.head.len() as u64;
        let reserved = out.disk.as_ref().map_or(0, |d| d.bytes);
        if on_disk > reserved {
            let mut more = self.disk(on_disk - reserved).ok_or(IntakeError::Busy)?;
            if let Some(grant) = out.disk.as_mut() {
                grant.bytes += std::mem::take(&mut more.bytes);
            } else {
                out.disk = Some(more);
            }
        }
        let Some(file) = out.file.as_mut() else { return Err(IntakeError::Io("no spool file".into())) };
        // Local-disk writes of at most one frame: short enough for the async thread.
        file.write_all(rest).map_err(|e| IntakeError::Io(e.to_string()))
    }
}

/// A received upload body: a head in memory, the rest in an unlinked temporary file.
#[derive(Debug)]
pub struct Spooled {
    len: u64,
    head: Vec<u8>,
    file: Option<std::fs::File>,
    _head_grant: MemoryGrant,
    disk: Option<DiskGrant>,
}

impl Spooled {
    /// Bytes received.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when part of the body went to disk.
    #[must_use]
    pub fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    /// The body again, streamed from memory and the spool file (the file goes when the stream
    /// is dropped).
    pub fn into_body(self) -> Result<Body, IntakeError> {
        let Self { head, file, disk, _head_grant, .. } = self;
        let head =
            futures_util::stream::iter((!head.is_empty()).then(|| Ok::<Bytes, std::io::Error>(Bytes::from(head))));
        let Some(mut file) = file else {
            return Ok(Body::from_stream(head));
        };
        file.seek(SeekFrom::Start(0)).map_err(|e| IntakeError::Io(e.to_string()))?;
        let file = tokio::fs::File::from_std(file);
        let rest = futures_util::stream::unfold((file, disk, _head_grant), |(mut f, d, g)| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; READ_CHUNK];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (f, d, g)))
                }
                Err(e) => Some((Err(e), (f, d, g))),
            }
        });
        Ok(Body::from_stream(futures_util::StreamExt::chain(head, rest)))
    }
}

/// What one connection is doing: the last byte read or written, and the requests being answered.
/// A connection with no request in flight that moves no byte for the idle limit is closed: one
/// that never sends a request, an idle keep-alive connection, a client that stopped reading its
/// answer.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    busy: std::sync::atomic::AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Self { started: Instant::now(), last_ms: AtomicU64::new(0), busy: std::sync::atomic::AtomicUsize::new(0) }
    }
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// True when no request is in flight and nothing moved for `limit`.
    #[must_use]
    pub fn idle_past(&self, limit: Duration) -> bool {
        let since = self.started.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)));
        self.busy.load(Ordering::SeqCst) == 0 && since >= limit
    }

    /// Marks a request in flight until the guard is dropped (when its answer's head is ready).
    #[must_use]
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.busy.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }
}

/// A request in flight on a connection ([`Activity::request`]).
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection's socket that records its [`Activity`].
#[derive(Debug)]
pub struct TrackedIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> TrackedIo<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for TrackedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for TrackedIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The pacing of one body: see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    pub idle: Duration,
    pub min_rate: u64,
    pub total: Duration,
}

impl From<&IntakeConfig> for Pacing {
    fn from(c: &IntakeConfig) -> Self {
        Self { idle: c.body_idle_timeout, min_rate: c.body_min_rate, total: c.body_timeout }
    }
}

/// A request body that fails with [`BodyTimeout`] when it stops arriving or comes too slowly.
pub struct PacedBody {
    inner: Body,
    pacing: Pacing,
    started: Instant,
    last: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
    failed: Option<BodyTimeout>,
}

impl PacedBody {
    #[must_use]
    pub fn new(inner: Body, pacing: Pacing) -> Self {
        let now = Instant::now();
        let mut b = Self {
            inner,
            pacing,
            started: now,
            last: now,
            received: 0,
            timer: Box::pin(tokio::time::sleep_until(now)),
            failed: None,
        };
        let (at, _) = b.deadline();
        b.timer.as_mut().reset(at);
        b
    }

    /// The first moment the body fails if nothing more arrives, and why.
    fn deadline(&self) -> (Instant, BodyTimeout) {
        let mut at = (self.last + self.pacing.idle, BodyTimeout::Idle);
        let total = self.started + self.pacing.total;
        if total < at.0 {
            at = (total, BodyTimeout::Total);
        }
        if self.pacing.min_rate > 0 {
            // By time t the body must have brought min_rate * (t - started - grace) bytes.
            let secs = self.received as f64 / self.pacing.min_rate as f64;
            let rate = self.started + RATE_GRACE + Duration::from_secs_f64(secs.min(1e9));
            if rate < at.0 {
                at = (rate, BodyTimeout::TooSlow);
            }
        }
        at
    }
}

impl http_body::Body for PacedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(t) = self.failed {
            return Poll::Ready(Some(Err(Box::new(t))));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref()
                    && !d.is_empty()
                {
                    self.received += d.len() as u64;
                    self.last = Instant::now();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let (at, why) = self.deadline();
                if Instant::now() >= at {
                    self.failed = Some(why);
                    return Poll::Ready(Some(Err(Box::new(why))));
                }
                self.timer.as_mut().reset(at);
                if self.timer.as_mut().poll(cx).is_ready() {
                    self.failed = Some(why);
                    return Poll::Ready(Some(Err(Box::new(why))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: every request body with bytes to come is paced.
pub async fn pace(pacing: Pacing, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if http_body::Body::is_end_stream(&body) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(Request::from_parts(parts, Body::new(PacedBody::new(body, pacing)))).await
}

/// The declared `Content-Length` of a request.
#[must_use]
pub fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Spools `req`'s body (at most `limit` bytes), then reserves memory for all of it (waiting at
/// most `wait`): the request comes back with its body streamed from the spool, ready for a
/// parser that reads it whole, and the grant that must live as long as what is parsed from it.
pub async fn take_upload(
    intake: &Intake,
    req: Request,
    limit: u64,
    wait: Duration,
) -> Result<(Request, MemoryGrant), IntakeError> {
    let (parts, body) = req.into_parts();
    let spooled = intake.spool(body, declared_length(&parts.headers), limit).await?;
    let grant = intake.memory(spooled.len(), wait).await.ok_or(IntakeError::Busy)?;
    let mut parts = parts;
    parts.headers.insert(axum::http::header::CONTENT_LENGTH, axum::http::HeaderValue::from(spooled.len()));
    Ok((Request::from_parts(parts, spooled.into_body()?), grant))
}

/// Reads a small body whole (a JSON route), reserving its bytes from the memory budget as they
/// come: `Ok(None)` past `limit`, [`IntakeError::Busy`] when the budget is spent.
pub async fn read_small(
    intake: &Intake,
    body: Body,
    declared: Option<u64>,
    limit: u64,
) -> Result<Option<(Bytes, MemoryGrant)>, IntakeError> {
    if declared.is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let want = declared.unwrap_or(UNIT).min(limit);
    let mut grant = intake.try_memory(want).ok_or(IntakeError::Busy)?;
    let mut reserved = want;
    let mut buf: Vec<u8> = Vec::new();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| IntakeError::of_body(&e))?;
        let Ok(data) = frame.into_data() else { continue };
        let len = buf.len() as u64 + data.len() as u64;
        if len > limit {
            return Ok(None);
        }
        if len > reserved {
            // A chunked body: twice the reservation, within the limit.
            let next = (reserved * 2).max(len).min(limit);
            grant = intake.try_memory(next).ok_or(IntakeError::Busy)?;
            reserved = next;
        }
        buf.extend_from_slice(&data);
    }
    Ok(Some((Bytes::from(buf), grant)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intake(memory: u64, disk: u64, head: u64) -> Intake {
        Intake::new(IntakeConfig {
            memory_bytes: memory,
            spool_max_bytes: disk,
            spool_memory_bytes: head,
            ..IntakeConfig::default()
        })
    }

    async fn collect(b: Body) -> Vec<u8> {
        b.collect().await.expect("body").to_bytes().to_vec()
    }

    #[tokio::test]
    async fn spools_small_in_memory_and_large_on_disk() {
        let i = intake(1 << 20, 1 << 20, 1024);
        let small = i.spool(Body::from(vec![7u8; 100]), Some(100), 1 << 20).await.expect("small");
        assert!(!small.on_disk());
        assert_eq!(collect(small.into_body().expect("body")).await, vec![7u8; 100]);
        let data: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        let big = i.spool(Body::from(data.clone()), Some(data.len() as u64), 1 << 20).await.expect("big");
        assert!(big.on_disk());
        assert_eq!(i.disk_used(), data.len() as u64 - 1024);
        assert!(i.memory_used() <= 1024, "the head only: {}", i.memory_used());
        assert_eq!(collect(big.into_body().expect("body")).await, data);
        assert_eq!(i.disk_used(), 0, "the disk grant goes with the stream");
        assert_eq!(i.memory_used(), 0);
    }

    #[tokio::test]
    async fn limits_refuse_before_and_while_reading() {
        let i = intake(1 << 20, 10_000, 1024);
        assert!(matches!(
            i.spool(Body::from(vec![0u8; 10]), Some(1 << 30), 1 << 20).await,
            Err(IntakeError::TooLarge { .. })
        ));
        // Chunked (no length): refused once past the limit.
        let stream = futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 4096]))));
        let roomy = intake(1 << 20, 1 << 20, 1024);
        assert!(matches!(
            roomy.spool(Body::from_stream(stream), None, 20_000).await,
            Err(IntakeError::TooLarge { .. })
        ));
        assert_eq!(roomy.disk_used(), 0, "a refused upload gives its disk back");
        // The disk cap: a declared length past it is refused before it is written.
        assert!(matches!(i.spool(Body::from(vec![0u8; 50_000]), Some(50_000), 1 << 20).await, Err(IntakeError::Busy)));
        assert_eq!(i.disk_used(), 0);
    }

    #[tokio::test]
    async fn memory_budget_is_shared() {
        let i = intake(64 * 1024, 1 << 20, 1024);
        let a = i.try_memory(40 * 1024).expect("first");
        assert!(i.try_memory(40 * 1024).is_none());
        assert!(i.memory(40 * 1024, Duration::from_millis(20)).await.is_none());
        drop(a);
        assert!(i.try_memory(40 * 1024).is_some());
        assert!(i.try_memory(1 << 30).is_none(), "more than the budget is never granted");
        // With the budget spent, an upload's head goes to disk instead.
        let _hold = i.try_memory(64 * 1024).expect("all");
        let s = i.spool(Body::from(vec![3u8; 2000]), Some(2000), 1 << 20).await.expect("spooled");
        assert!(s.on_disk());
        let r = read_small(&i, Body::from("{}"), Some(2), 1024).await;
        assert!(matches!(r, Err(IntakeError::Busy)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
        let pacing = Pacing { idle: Duration::from_secs(5), min_rate: 0, total: Duration::from_secs(600) };
        let body = Body::new(PacedBody::new(Body::from_stream(stream), pacing));
        tx.send(Ok(Bytes::from_static(b"abc"))).await.expect("send");
        let i = intake(1 << 20, 1 << 20, 1024);
        let err = i.spool(body, None, 1 << 20).await.expect_err("stalled");
        assert!(matches!(err, IntakeError::TimedOut(BodyTimeout::Idle)), "{err}");
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_fails_the_minimum_rate() {
        let stream = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), n + 1))
        });
        let pacing = Pacing { idle: Duration::from_secs(5), min_rate: 1024, total: Duration::from_secs(600) };
        let body = Body::new(PacedBody::new(Body::from_stream(stream), pacing));
        let started = Instant::now();
        let err = intake(1 << 20, 1 << 20, 1024).spool(body, None, 1 << 20).await.expect_err("trickle");
        assert!(matches!(err, IntakeError::TimedOut(BodyTimeout::TooSlow)), "{err}");
        let took = started.elapsed();
        assert!(took >= RATE_GRACE && took < RATE_GRACE + Duration::from_secs(2), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_passes() {
        let stream = futures_util::stream::iter(0..40).then(|_| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 8192]))
        });
        let pacing = Pacing { idle: Duration::from_secs(5), min_rate: 8192, total: Duration::from_secs(600) };
        let body = Body::new(PacedBody::new(Body::from_stream(stream), pacing));
        let s = intake(1 << 20, 1 << 20, 1024).spool(body, None, 1 << 20).await.expect("steady");
        assert_eq!(s.len(), 40 * 8192);
    }

    use futures_util::StreamExt;
}
