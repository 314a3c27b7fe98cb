//! A small cache of decoded media, keyed by stored file name. An upload is decoded once to check
//! it; the analyses that follow (QUALITY and BIOMETRY usually run right after, in parallel) reuse
//! those frames instead of decoding the video again. Bounded by the bytes of the cached frames
//! (`OZ_DECODE_CACHE_BYTES`) and by an entry count (`OZ_DECODE_CACHE`). Cached frames keep their
//! decode budget reservation, so they count in `OZ_DECODE_BUDGET_BYTES` too, but they are held
//! as [`CachedMedia`]: a decode that finds the budget full takes them back instead of waiting
//! (an entry taken back is a miss; the worker decodes the file again), so neither this cache nor
//! the best frames of [`SharedAnalysis`] can ever make a request wait for the budget or answer 503.
//!
//! Once a media has been analysed (the shared analysis below holds its results, and the best
//! frame for the best shot) the runner forgets its entry. When room is needed, entries that an
//! analysis has already read go first. The others wait for the workers, which take jobs oldest
//! first: when the cache is full of them the newcomer is not kept (evicting the oldest would drop
//! the very media a worker needs next, and under a backlog every video would be decoded twice),
//! unless an entry has waited longer than [`DecodeCache::STALE_AFTER`] (an upload nobody
//! analyses).
//!
//! [`AnalysisCache`] does the same one step later: the model results of a stored media
//! ([`MediaAnalysis`]), so that QUALITY, BIOMETRY and COLLECTION on the same media run the models
//! once. It is single-flight: an analysis asked for while the same one is being computed waits
//! for it instead of computing it again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use oz_vision::media::{CachedMedia, DecodedMedia};
use oz_vision::pipeline::{BestShot, MediaAnalysis};

#[derive(Debug)]
pub struct DecodeCache {
    cap_entries: usize,
    cap_bytes: u64,
    stale_after: Duration,
    entries: Mutex<Entries>,
}

#[derive(Debug)]
struct Entry {
    key: String,
    /// Gone when the decode budget took it back.
    media: CachedMedia,
    bytes: u64,
    /// An analysis has read it: evicted first.
    read: bool,
    since: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    list: VecDeque<Entry>,
    bytes: u64,
}

impl Entries {
    fn remove(&mut self, file_name: &str) {
        let mut freed = 0;
        self.list.retain(|e| {
            let keep = e.key != file_name;
            if !keep {
                freed += e.bytes;
            }
            keep
        });
        self.bytes -= freed;
    }

    /// Forgets the entries whose frames the decode budget took back.
    fn drop_reclaimed(&mut self) {
        let mut freed = 0;
        self.list.retain(|e| {
            let keep = e.media.is_held();
            if !keep {
                freed += e.bytes;
            }
            keep
        });
        self.bytes -= freed;
    }

    /// Evicts the oldest entry that `evictable` accepts; false when there is none.
    fn evict_first(&mut self, evictable: impl Fn(&Entry) -> bool) -> bool {
        let Some(i) = self.list.iter().position(evictable) else { return false };
        if let Some(e) = self.list.remove(i) {
            self.bytes -= e.bytes;
        }
        true
    }
}

impl DecodeCache {
    /// How long an entry that was never analysed is kept before it may be evicted for a newcomer.
    pub const STALE_AFTER: Duration = Duration::from_secs(60);

    /// At most `cap_entries` media and `cap_bytes` bytes of frames (either 0 = off).
    #[must_use]
    pub fn new(cap_entries: usize, cap_bytes: u64) -> Self {
        Self { cap_entries, cap_bytes, stale_after: Self::STALE_AFTER, entries: Mutex::new(Entries::default()) }
    }

    /// The same cache with another [`Self::STALE_AFTER`] (tests).
    #[must_use]
    pub fn with_stale_after(mut self, after: Duration) -> Self {
        self.stale_after = after;
        self
    }

    /// Bytes of frames this cache may hold.
    #[must_use]
    pub fn cap_bytes(&self) -> u64 {
        if self.cap_entries == 0 { 0 } else { self.cap_bytes }
    }

    /// Bytes of frames held now.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.entries.lock().map_or(0, |e| e.bytes)
    }

    /// Keeps `media` for the analyses to come. Room is made by evicting the entries already read,
    /// then those older than the stale age, oldest first; if that is not enough the media is not
    /// kept (nor is a media larger than the whole cache).
    pub fn put(&self, file_name: &str, media: Arc<DecodedMedia>) {
        let size = media.frame_bytes();
        let Ok(mut e) = self.entries.lock() else { return };
        e.remove(file_name);
        e.drop_reclaimed();
        if self.cap_entries == 0 || size > self.cap_bytes {
            return;
        }
        let now = Instant::now();
        let full = |e: &Entries| e.list.len() + 1 > self.cap_entries || e.bytes + size > self.cap_bytes;
        while full(&e) {
            if !(e.evict_first(|x| x.read) || e.evict_first(|x| now.duration_since(x.since) >= self.stale_after)) {
                // Full of media waiting for their analyses, which will come before this one's.
                return;
            }
        }
        let media = CachedMedia::new(media);
        e.list.push_back(Entry { key: file_name.to_string(), media, bytes: size, read: false, since: now });
        e.bytes += size;
    }

    /// The frames of `file_name`, unless they were never kept, were evicted, or the decode
    /// budget took them back.
    #[must_use]
    pub fn get(&self, file_name: &str) -> Option<Arc<DecodedMedia>> {
        let found = self.entries.lock().ok().and_then(|mut e| {
            let held = e.list.iter_mut().find(|x| x.key == file_name).and_then(|x| {
                x.read = true;
                x.media.get()
            });
            if held.is_none() {
                e.remove(file_name);
            }
            held
        });
        crate::observe::decode_cache(found.is_some());
        found
    }

    pub fn forget(&self, file_name: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(file_name);
        }
    }
}

/// Why an analysis of a media failed, as shared with the callers that waited for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisFailure {
    /// No sampled frame shows a face.
    NoFace,
    /// Anything else (reading, decoding, a model), as text.
    Other(String),
}

/// One media's analysis, shared: the per-frame model results and the choice of the best frame
/// (computed once), and the parts only some analyses need, each computed once when first asked
/// for: the embedding of the best face (BIOMETRY, COLLECTION) and the best-shot JPEG (QUALITY).
/// It may hold the best frame alone until the best shot is made of it, so that the media's other
/// frames can go ([`DecodedMedia::only_frame`]). That frame stays in the decode budget only as a
/// [`CachedMedia`]: an analysis that makes no best shot (QUALITY without `extract_best_shot`,
/// BIOMETRY or COLLECTION of a video) may keep it until the entry is evicted, so any decode that
/// needs the room takes it back (the best shot, if one is asked for later, decodes the media
/// again).
#[derive(Debug)]
pub struct SharedAnalysis {
    pub core: MediaAnalysis,
    best_frame: Option<CachedMedia>,
    embedding: OnceLock<Result<Option<Vec<f32>>, AnalysisFailure>>,
    best_shot: OnceLock<Result<Option<BestShot>, AnalysisFailure>>,
}

impl From<MediaAnalysis> for SharedAnalysis {
    fn from(core: MediaAnalysis) -> Self {
        Self::new(core, None)
    }
}

impl SharedAnalysis {
    /// `core`, with the best frame alone (`best_frame`) when the caller kept it (held as a
    /// [`CachedMedia`]).
    #[must_use]
    pub fn new(core: MediaAnalysis, best_frame: Option<Arc<DecodedMedia>>) -> Self {
        Self {
            core,
            best_frame: best_frame.map(CachedMedia::new),
            embedding: OnceLock::new(),
            best_shot: OnceLock::new(),
        }
    }

    /// The embedding of the best face, computed by `f` the first time (others wait for it).
    pub fn embedding(
        &self,
        f: impl FnOnce(&MediaAnalysis) -> Result<Option<Vec<f32>>, AnalysisFailure>,
    ) -> Result<Option<Vec<f32>>, AnalysisFailure> {
        self.embedding.get_or_init(|| f(&self.core)).clone()
    }

    /// The best shot, computed by `f` the first time (others wait for it), given the best frame
    /// when this analysis still holds it (which it then lets go).
    pub fn best_shot(
        &self,
        f: impl FnOnce(&MediaAnalysis, Option<Arc<DecodedMedia>>) -> Result<Option<BestShot>, AnalysisFailure>,
    ) -> Result<Option<BestShot>, AnalysisFailure> {
        self.best_shot
            .get_or_init(|| {
                let frame = self.best_frame.as_ref().and_then(CachedMedia::take);
                f(&self.core, frame)
            })
            .clone()
    }
}

type Slot<T> = Arc<OnceLock<Result<T, AnalysisFailure>>>;

/// Single-flight slots keyed by stored file name, at most `cap`, oldest out first.
#[derive(Debug)]
struct Slots<T> {
    list: Mutex<VecDeque<(String, Slot<T>)>>,
}

impl<T: Clone> Slots<T> {
    fn new() -> Self {
        Self { list: Mutex::new(VecDeque::new()) }
    }

    /// The value of `key`: the held one, the one being computed (waited for), or a new one
    /// computed by `compute` on this thread. `Err` values are given to the callers that waited,
    /// then forgotten. Returns whether `compute` ran.
    fn get_or_compute(
        &self,
        cap: usize,
        key: &str,
        compute: impl FnOnce() -> Result<T, AnalysisFailure>,
    ) -> (Result<T, AnalysisFailure>, bool) {
        if cap == 0 {
            return (compute(), true);
        }
        let slot = {
            let Ok(mut list) = self.list.lock() else {
                return (compute(), true);
            };
            if let Some((_, s)) = list.iter().find(|(k, _)| k == key) {
                Arc::clone(s)
            } else {
                let s: Slot<T> = Arc::new(OnceLock::new());
                list.push_back((key.to_string(), Arc::clone(&s)));
                while list.len() > cap {
                    list.pop_front();
                }
                s
            }
        };
        let mut ran = false;
        let r = slot
            .get_or_init(|| {
                ran = true;
                compute()
            })
            .clone();
        if r.is_err() {
            // Do not keep a failure: the next attempt computes again.
            if let Ok(mut list) = self.list.lock() {
                list.retain(|(_, s)| !Arc::ptr_eq(s, &slot));
            }
        }
        (r, ran)
    }

    fn contains(&self, key: &str) -> bool {
        self.list.lock().is_ok_and(|l| l.iter().any(|(k, _)| k == key))
    }

    fn forget(&self, key: &str) {
        if let Ok(mut list) = self.list.lock() {
            list.retain(|(k, _)| k != key);
        }
    }

    fn len(&self) -> usize {
        self.list.lock().map_or(0, |l| l.len())
    }
}

/// Analyses of stored media, keyed by stored file name (a stored file never changes; the
/// pipeline's settings are the process's), at most `cap` entries, oldest out first. Options that
/// differ between analyses (best shot or not, embedding or not) are not part of the key: they are
/// separate, lazily computed parts of one entry, so one cannot be served for another. A failed
/// analysis is given to the callers that waited for it, then forgotten (a retry computes again).
///
/// Beside the shared analyses it keeps the embeddings of stills computed alone
/// ([`oz_vision::Pipeline::still_embedding`]: BIOMETRY or COLLECTION on an ID photo, no liveness
/// or pose), under the same rules and bound.
#[derive(Debug)]
pub struct AnalysisCache {
    cap: usize,
    shared: Slots<Arc<SharedAnalysis>>,
    stills: Slots<Option<Vec<f32>>>,
    computed: AtomicU64,
    reused: AtomicU64,
    stills_computed: AtomicU64,
}

/// How often the analysis cache computed and reused an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnalysisCacheStats {
    /// Analyses computed (the models ran): shared analyses and still embeddings.
    pub computed: u64,
    /// Analyses served from the cache, or from a computation in flight that the caller waited for.
    pub reused: u64,
    /// Of `computed`, the still embeddings computed alone (detector and embedder only).
    pub still_embeddings: u64,
}

impl AnalysisCache {
    /// At most `cap` analyses, and as many still embeddings (0 = off: every call computes).
    #[must_use]
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            shared: Slots::new(),
            stills: Slots::new(),
            computed: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            stills_computed: AtomicU64::new(0),
        }
    }

    #[must_use]
    pub fn stats(&self) -> AnalysisCacheStats {
        AnalysisCacheStats {
            computed: self.computed.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
            still_embeddings: self.stills_computed.load(Ordering::Relaxed),
        }
    }

    fn count(&self, ran: bool) {
        if ran {
            self.computed.fetch_add(1, Ordering::Relaxed);
            crate::observe::analysis_cache("miss");
        } else {
            self.reused.fetch_add(1, Ordering::Relaxed);
            crate::observe::analysis_cache("hit");
        }
    }

    /// The analysis of `file_name`: the cached one, the one being computed (waited for), or a new
    /// one computed by `compute` on this thread.
    pub fn get_or_compute(
        &self,
        file_name: &str,
        compute: impl FnOnce() -> Result<SharedAnalysis, AnalysisFailure>,
    ) -> Result<Arc<SharedAnalysis>, AnalysisFailure> {
        let (r, ran) = self.shared.get_or_compute(self.cap, file_name, || compute().map(Arc::new));
        self.count(ran);
        r
    }

    /// Whether a shared analysis of `file_name` is held or being computed (then its embedding
    /// costs no model run beyond the embedder).
    #[must_use]
    pub fn has_shared(&self, file_name: &str) -> bool {
        self.cap > 0 && self.shared.contains(file_name)
    }

    /// The embedding of the still `file_name` computed alone by `compute` (see the type's doc).
    pub fn still_embedding(
        &self,
        file_name: &str,
        compute: impl FnOnce() -> Result<Option<Vec<f32>>, AnalysisFailure>,
    ) -> Result<Option<Vec<f32>>, AnalysisFailure> {
        let (r, ran) = self.stills.get_or_compute(self.cap, file_name, compute);
        self.count(ran);
        if ran {
            self.stills_computed.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    pub fn forget(&self, file_name: &str) {
        self.shared.forget(file_name);
        self.stills.forget(file_name);
    }

    /// Entries held now (finished or in flight), shared analyses and still embeddings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.len() + self.stills.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oz_vision::media::{Frame, MediaInfo, MediaKind};
    use std::time::Duration;

    /// A media of one `w x 1` frame: `3 * w` bytes.
    pub(super) fn media(w: u32) -> Arc<DecodedMedia> {
        let info = MediaInfo {
            kind: MediaKind::Image,
            mime_type: "image/png".into(),
            size: 1,
            md5: String::new(),
            width: w,
            height: 1,
            video: None,
            shots: None,
        };
        let frame =
            Frame { index: 0, timestamp_s: None, name: None, image: image::RgbImage::new(w, 1), candidate: false };
        Arc::new(DecodedMedia::untracked(info, vec![frame]))
    }

    #[test]
    fn bounded_by_entries_read_ones_out_first_then_newcomers_wait() {
        let c = DecodeCache::new(2, u64::MAX);
        c.put("a", media(1));
        c.put("b", media(2));
        c.put("c", media(3));
        assert!(c.get("c").is_none(), "full of media no analysis has read: the newcomer waits");
        assert!(c.get("a").is_some() && c.get("b").is_some(), "the older ones stay for the workers");
        c.put("c", media(3));
        assert!(c.get("a").is_none(), "read entries go first, oldest first");
        assert_eq!(c.get("c").map(|m| m.info.width), Some(3));
        c.forget("c");
        assert!(c.get("c").is_none());
        assert_eq!(c.bytes(), 6);
        // An entry nobody reads goes once it is stale.
        let stale = DecodeCache::new(1, u64::MAX).with_stale_after(Duration::ZERO);
        stale.put("a", media(1));
        stale.put("b", media(2));
        assert!(stale.get("a").is_none() && stale.get("b").is_some());
        let off = DecodeCache::new(0, u64::MAX);
        off.put("a", media(1));
        assert!(off.get("a").is_none());
        assert_eq!(off.cap_bytes(), 0);
    }

    #[test]
    fn bounded_by_bytes() {
        // 30 bytes: room for a 10-byte-wide (30 B) media, or two 5-wide (15 B) ones.
        let c = DecodeCache::new(100, 30);
        c.put("a", media(5));
        c.put("b", media(5));
        assert_eq!(c.bytes(), 30);
        c.put("c", media(4));
        assert!(c.get("c").is_none(), "no room without dropping media still to analyse");
        assert!(c.get("a").is_some(), "read now");
        c.put("c", media(4));
        assert!(c.get("a").is_none(), "the read entry made room");
        assert!(c.get("b").is_some() && c.get("c").is_some());
        assert_eq!(c.bytes(), 27);
        c.put("huge", media(11));
        assert!(c.get("huge").is_none(), "larger than the whole cache: not kept");
        assert!(c.get("b").is_some(), "and nothing evicted for it");
        c.put("b", media(1));
        assert_eq!(c.bytes(), 15, "replacing an entry counts its new size only");
        c.forget("b");
        c.forget("c");
        assert_eq!(c.bytes(), 0);
    }
}

#[cfg(test)]
mod analysis_tests {
    use super::tests::media;
    use super::*;
    use oz_vision::pipeline::StageTimings;
    use std::sync::Barrier;
    use std::time::Duration;

    fn analysis(score: f32) -> MediaAnalysis {
        MediaAnalysis {
            frames: Vec::new(),
            confidence_spoofing: score,
            model_spoofing: score,
            planarity: None,
            frames_with_face: 1,
            best_frame: None,
            best_shot: None,
            embedding: None,
            timings: StageTimings::default(),
        }
    }

    #[test]
    fn computed_once_and_reused() {
        let c = AnalysisCache::new(4);
        let a = c.get_or_compute("a", || Ok(analysis(0.25).into())).expect("computed");
        let b = c.get_or_compute("a", || panic!("must not compute twice")).expect("reused");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(c.stats(), AnalysisCacheStats { computed: 1, reused: 1, still_embeddings: 0 });
        // The lazily computed parts are computed once too.
        let mut calls = 0;
        for _ in 0..2 {
            let e = a
                .embedding(|_| {
                    calls += 1;
                    Ok(Some(vec![1.0]))
                })
                .expect("embedding");
            assert_eq!(e, Some(vec![1.0]));
        }
        assert_eq!(calls, 1);
        c.forget("a");
        assert!(c.is_empty());
        c.get_or_compute("a", || Ok(analysis(0.5).into())).expect("computed again");
        assert_eq!(c.stats().computed, 2);
    }

    #[test]
    fn bounded_and_failures_not_kept() {
        let c = AnalysisCache::new(2);
        for k in ["a", "b", "c"] {
            c.get_or_compute(k, || Ok(analysis(0.1).into())).expect("computed");
        }
        assert_eq!(c.len(), 2);
        c.get_or_compute("a", || Ok(analysis(0.1).into())).expect("computed");
        assert_eq!(c.stats(), AnalysisCacheStats { computed: 4, reused: 0, still_embeddings: 0 }, "oldest out");
        let e = c.get_or_compute("x", || Err(AnalysisFailure::NoFace));
        assert_eq!(e.err(), Some(AnalysisFailure::NoFace));
        c.get_or_compute("x", || Ok(analysis(0.1).into())).expect("a failure is not kept");
        let off = AnalysisCache::new(0);
        off.get_or_compute("a", || Ok(analysis(0.1).into())).expect("computed");
        off.get_or_compute("a", || Ok(analysis(0.1).into())).expect("computed");
        assert_eq!(off.stats().computed, 2);
    }

    #[test]
    fn still_embeddings_are_kept_apart_from_shared_analyses() {
        let c = AnalysisCache::new(2);
        assert!(!c.has_shared("photo"));
        let e = c.still_embedding("photo", || Ok(Some(vec![0.6, 0.8]))).expect("embedding");
        assert_eq!(e, Some(vec![0.6, 0.8]));
        let again = c.still_embedding("photo", || panic!("computed twice")).expect("embedding");
        assert_eq!(again, e);
        assert!(!c.has_shared("photo"), "a still embedding is not a shared analysis (QUALITY needs more)");
        c.get_or_compute("photo", || Ok(analysis(0.2).into())).expect("analysis");
        assert!(c.has_shared("photo"));
        assert_eq!(c.stats(), AnalysisCacheStats { computed: 2, reused: 1, still_embeddings: 1 });
        // Failures are not kept; forget drops both kinds; a cache of 0 computes every time.
        assert!(c.still_embedding("bad", || Err(AnalysisFailure::NoFace)).is_err());
        assert!(c.still_embedding("bad", || Ok(None)).expect("retried").is_none());
        c.forget("photo");
        assert!(!c.has_shared("photo"));
        let off = AnalysisCache::new(0);
        off.still_embedding("p", || Ok(None)).expect("computed");
        off.still_embedding("p", || Ok(None)).expect("computed");
        assert_eq!(off.stats().still_embeddings, 2);
        assert!(!off.has_shared("p"));
    }

    #[test]
    fn the_best_frame_serves_the_best_shot_then_goes() {
        let info = oz_vision::media::MediaInfo {
            kind: oz_vision::media::MediaKind::Video,
            mime_type: "video/mp4".into(),
            size: 1,
            md5: String::new(),
            width: 4,
            height: 4,
            video: None,
            shots: None,
        };
        let frame = oz_vision::media::Frame {
            index: 7,
            timestamp_s: None,
            name: None,
            image: image::RgbImage::new(4, 4),
            candidate: false,
        };
        let best = Arc::new(DecodedMedia::untracked(info, vec![frame]));
        let shared = SharedAnalysis::new(analysis(0.1), Some(Arc::clone(&best)));
        let shot = shared
            .best_shot(|_, f| {
                let f = f.expect("the held frame is given");
                assert_eq!(f.frames[0].index, 7);
                Ok(Some(BestShot { frame_index: 7, width: 4, height: 4, quality: 0.5, jpeg: vec![1] }))
            })
            .expect("made");
        assert_eq!(shot.map(|b| b.frame_index), Some(7));
        assert_eq!(Arc::strong_count(&best), 1, "the analysis let the frame go");
        let again = shared.best_shot(|_, _| panic!("made once")).expect("kept");
        assert_eq!(again.map(|b| b.jpeg), Some(vec![1]));
        // Without a held frame the caller decodes it itself.
        let bare: SharedAnalysis = analysis(0.1).into();
        bare.best_shot(|_, f| {
            assert!(f.is_none());
            Ok(None)
        })
        .expect("made");
    }

    /// Cached frames (the best frame an analysis keeps without making a best shot, an upload in
    /// the decode cache) fill the process decode budget; a decode that needs the room takes them
    /// back at once instead of waiting and answering 503.
    #[test]
    fn cached_frames_never_starve_a_decode() {
        use oz_vision::budget::{BudgetConfig, DecodeBudget};
        let frame = 1000u64;
        let budget =
            DecodeBudget::new(BudgetConfig { total_bytes: 3 * frame, request_bytes: 3 * frame, wait: Duration::ZERO });
        let reserved = |w: u32| {
            let mut m = (*media(w)).clone();
            m.reservation = budget.request().reserve(frame).expect("fits");
            Arc::new(m)
        };
        // A QUALITY without best shot: the shared analysis keeps its best frame.
        let shared = SharedAnalysis::new(analysis(0.1), Some(reserved(7)));
        // Two uploads waiting in the decode cache.
        let cache = DecodeCache::new(8, u64::MAX);
        cache.put("a", reserved(1));
        cache.put("b", reserved(2));
        assert_eq!(budget.used(), 3 * frame, "the process budget is full of cached frames");
        // A new request's decode, allowed no wait, gets its room.
        let r = budget.request().reserve(2 * frame).expect("cached frames gave way");
        assert_eq!(budget.used(), 3 * frame);
        drop(r);
        // Oldest first: the best frame and the first upload went, the other upload stayed.
        shared
            .best_shot(|_, f| {
                assert!(f.is_none(), "the best frame was taken back: the best shot decodes again");
                Ok(None)
            })
            .expect("best shot");
        assert!(cache.get("a").is_none(), "taken back: a miss");
        assert!(cache.get("b").is_some());
        // Frames a worker is reading are never taken: then the newcomer finds the budget full.
        let reading = cache.get("b").expect("held");
        assert!(matches!(budget.request().reserve(3 * frame), Err(oz_vision::VisionError::Busy)));
        drop(reading);
        let r = budget.request().reserve(3 * frame).expect("now it gave way");
        assert!(cache.get("b").is_none());
        cache.put("c", media(3));
        assert_eq!(cache.bytes(), 9, "taken-back entries no longer count in the cache");
        drop(r);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn concurrent_callers_wait_for_the_one_in_flight() {
        let c = AnalysisCache::new(4);
        let start = Barrier::new(4);
        let runs = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    start.wait();
                    c.get_or_compute("v", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                        Ok(analysis(0.3).into())
                    })
                    .expect("analysis")
                });
            }
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(c.stats(), AnalysisCacheStats { computed: 1, reused: 3, still_embeddings: 0 });
    }
}
