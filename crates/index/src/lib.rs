//! oz-index: the in-memory 1:N face-template search index behind the COLLECTION (blacklist)
//! analysis.
//!
//! It holds every template of every collection, int8-quantised (128 B + a 4 B scale per 128-d
//! vector), and answers "which persons of these collections look like this face?" by an **exact**
//! scan over all templates of the named collections (no approximate-nearest-neighbour structure),
//! split over several threads. It does no IO: the caller loads it from the database at start-up
//! ([`Index::extend`]) and applies every insert and delete it sees (in this and other processes) to
//! keep it current. See `DESIGN.md` beside this crate for the layout, error bounds and scaling.
//!
//! # API
//! - [`Index::new`]`(dim, threads) -> Index` (`threads` = 0: one per core).
//! - [`Index::insert`]`(Entry, &[f32]) -> Result<bool, IndexError>`: `Ok(true)` when an image with
//!   this id was already present (in any collection) and has been replaced.
//! - [`Index::extend`]`(impl IntoIterator<Item = (Entry, impl AsRef<[f32]>)>) -> LoadReport`: bulk
//!   load; [`Builder`] + [`Index::replace_all`]`(Builder)`: a reload swapped in at once;
//!   [`Index::clear`].
//! - [`Index::remove_image`]`(Uuid) -> bool`, [`Index::remove_person`]`(Uuid) -> usize`,
//!   [`Index::remove_collection`]`(Uuid) -> usize`.
//! - [`Index::search`]`(query: &[f32], collections: &[Uuid], min_cosine: f32, limit: usize)
//!   -> Result<Vec<Hit>, IndexError>`: the best image of each person, best first;
//!   [`Index::search_with`]`(query, collections, &SearchOptions)`: per image, thread count, kernel.
//! - [`Index::len`], [`Index::collection_len`], [`Index::collections`],
//!   [`Index::contains_image`], [`Index::memory_bytes`], [`Index::shrink_to_fit`].
//!
//! # Vectors
//! Stored vectors and queries must have the index's dimension, finite components and unit L2 norm
//! within [`UNIT_TOLERANCE`] (1e-3, the tolerance of the template format); they are re-normalised
//! exactly, then quantised. Anything else is refused with an [`IndexError`], never normalised
//! silently: a non-unit vector means a bug or a corrupted template upstream.
//!
//! # Scores
//! [`Hit::cosine`] is `query · v̂`, the f32 query against the stored int8 vector `v̂`: its error
//! against the f32 cosine of the original vectors is below 0.005 (max over real-ish pairs; measured
//! in `BENCHMARKS.md`, bounded in the tests). The scan itself uses int8·int8 products and skips a
//! template only when a proven bound shows it cannot reach the result, so the result is exactly the
//! top of `query · v̂` over every template, whatever the thread split. Ties are broken by
//! collection id, person id, image id (ascending).
//!
//! # Concurrency
//! `Index` is `Send + Sync` and internally synchronised: one read-write lock per collection
//! (searches share it; an insert or delete holds it for microseconds, after waiting for the
//! searches in flight over that collection; the exception is the insert at which a collection's
//! id tables double and rehash, ~0.3 s at 917k templates) plus a mutex that serialises writers.
//! Share it in an `Arc`.
//! A search is split over up to `threads` scoped threads (the calling thread is one of them), one
//! per 128k templates searched (below that a thread costs more than it saves);
//! [`SearchOptions::threads`] overrides the index's default per search.

mod column;
mod quant;
mod search;
mod shard;

use std::hash::RandomState;
use std::num::NonZeroUsize;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use uuid::Uuid;

pub use quant::{Kernel, UNIT_TOLERANCE, dot_f32, dot_i8_portable, dot_i8_simsimd, quantize, rescore};
use search::{Part, TopK};
use shard::Shard;

/// Where a template belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    pub collection_id: Uuid,
    pub person_id: Uuid,
    pub image_id: Uuid,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub collection_id: Uuid,
    pub person_id: Uuid,
    pub image_id: Uuid,
    /// Cosine similarity in [-1, 1] (see the crate docs for its precision).
    pub cosine: f32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndexError {
    #[error("vector has dimension {got}, the index holds {expected}")]
    Dimension { expected: usize, got: usize },
    #[error("vector has a component that is NaN or infinite")]
    NotFinite,
    #[error("vector is not unit length (norm {0})")]
    NotUnit(f32),
    #[error("collection is full ({0} templates)")]
    Full(usize),
}

/// What one search asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    /// Hits below this cosine are not returned. Default -1 (everything).
    pub min_cosine: f32,
    /// Most hits returned. Default 10.
    pub limit: usize,
    /// One hit per person (the best image of each), as the API returns by default. Default true.
    pub per_person: bool,
    /// Threads that scan (`None`: the index's default).
    pub threads: Option<NonZeroUsize>,
    /// Dot-product kernel of the scan (default: the faster one for how the crate was compiled,
    /// see [`Kernel`]).
    pub kernel: Kernel,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions { min_cosine: -1.0, limit: 10, per_person: true, threads: None, kernel: Kernel::default() }
    }
}

/// Outcome of a bulk load.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LoadReport {
    /// Templates added (new image ids).
    pub inserted: usize,
    /// Templates that replaced one with the same image id (already in the index or earlier in the
    /// same load).
    pub replaced: usize,
    /// Refused entries with the reason; the rest of the load went on.
    pub rejected: Vec<(Entry, IndexError)>,
}

type ShardRef = Arc<RwLock<Shard>>;

fn new_map<V>() -> hashbrown::HashMap<Uuid, V, RandomState> {
    hashbrown::HashMap::with_hasher(RandomState::new())
}

/// Collections built without any lock, then swapped into an [`Index`] at once with
/// [`Index::replace_all`] (a reload that searches never see half done). Same rules as
/// [`Index::insert`]: an image id seen again replaces the earlier one.
pub struct Builder {
    dim: usize,
    shards: hashbrown::HashMap<Uuid, Shard, RandomState>,
    /// Image ids inserted so far (a repeated one is looked for in every collection).
    seen: hashbrown::HashSet<Uuid, RandomState>,
}

impl Builder {
    /// # Panics
    /// As [`Index::new`].
    #[must_use]
    pub fn new(dim: usize) -> Self {
        assert!((1..=65_536).contains(&dim), "dimension {dim} out of range");
        Builder { dim, shards: new_map(), seen: hashbrown::HashSet::with_hasher(RandomState::new()) }
    }

    /// Adds a template; `Ok(true)` when it replaced one with the same image id.
    pub fn insert(&mut self, entry: Entry, vector: &[f32]) -> Result<bool, IndexError> {
        let v = quant::checked_unit(vector, self.dim)?;
        let mut codes = vec![0i8; self.dim];
        let scale = quantize(&v, &mut codes);
        self.insert_codes(entry, &codes, scale)
    }

    fn insert_codes(&mut self, entry: Entry, codes: &[i8], scale: f32) -> Result<bool, IndexError> {
        let replaced = !self.seen.insert(entry.image_id) && self.remove_image(entry.image_id);
        let dim = self.dim;
        let shard = self.shards.entry(entry.collection_id).or_insert_with(|| Shard::new(entry.collection_id, dim));
        shard.push(entry.person_id, entry.image_id, codes, scale).map(|()| replaced)
    }

    fn remove_image(&mut self, image_id: Uuid) -> bool {
        for shard in self.shards.values_mut() {
            if let Some(slot) = shard.find_image(image_id) {
                shard.remove_slot(slot);
                return true;
            }
        }
        false
    }

    /// Templates held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.values().map(Shard::len).sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn finish(self) -> hashbrown::HashMap<Uuid, Shard, RandomState> {
        let mut shards = self.shards;
        shards.retain(|_, s| s.len() > 0);
        for s in shards.values_mut() {
            s.shrink_to_fit();
        }
        shards
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder").field("dim", &self.dim).field("templates", &self.len()).finish_non_exhaustive()
    }
}

/// The index. See the crate docs.
pub struct Index {
    dim: usize,
    threads: usize,
    /// See [`search::MIN_PER_THREAD`] (lowered by tests).
    min_per_thread: usize,
    /// Serialises writers, so that checking "is this image id anywhere?" and acting on it is
    /// atomic.
    writer: Mutex<()>,
    shards: RwLock<hashbrown::HashMap<Uuid, ShardRef, RandomState>>,
}

impl Index {
    /// An empty index for vectors of `dim` components whose searches use `threads` threads
    /// (0: as many as the machine has cores).
    ///
    /// # Panics
    /// When `dim` is 0 or above 65 536 (the int8 sums would overflow past ~133 000).
    #[must_use]
    pub fn new(dim: usize, threads: usize) -> Self {
        assert!((1..=65_536).contains(&dim), "dimension {dim} out of range");
        let threads =
            if threads == 0 { std::thread::available_parallelism().map_or(1, NonZeroUsize::get) } else { threads };
        Index {
            dim,
            threads,
            min_per_thread: search::MIN_PER_THREAD,
            writer: Mutex::new(()),
            shards: RwLock::new(new_map()),
        }
    }

    #[must_use]
    pub fn dim(&self) -> usize {
        self.dim
    }

    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads
    }

    fn prepare(&self, v: &[f32]) -> Result<(Vec<i8>, f32), IndexError> {
        let v = quant::checked_unit(v, self.dim)?;
        let mut codes = vec![0i8; self.dim];
        let scale = quantize(&v, &mut codes);
        Ok((codes, scale))
    }

    fn shard_refs(&self) -> Vec<ShardRef> {
        self.shards.read().values().cloned().collect()
    }

    /// Adds a template, or replaces the one with the same image id (wherever it is). Returns
    /// `Ok(true)` when it replaced one.
    pub fn insert(&self, entry: Entry, vector: &[f32]) -> Result<bool, IndexError> {
        let (codes, scale) = self.prepare(vector)?;
        let _w = self.writer.lock();
        self.insert_locked(entry, &codes, scale)
    }

    /// Writer mutex held by the caller.
    fn insert_locked(&self, entry: Entry, codes: &[i8], scale: f32) -> Result<bool, IndexError> {
        let target = self.shards.read().get(&entry.collection_id).cloned();
        // Same collection, same person: overwrite in place.
        if let Some(shard) = &target {
            let found = shard.read().find_image(entry.image_id);
            if let Some(slot) = found {
                let mut s = shard.write();
                if s.person(slot) == entry.person_id {
                    s.set_vector(slot, codes, scale);
                    return Ok(true);
                }
                s.remove_slot(slot);
                drop(s);
                return self.push_locked(target, entry, codes, scale).map(|()| true);
            }
        }
        // Anywhere else?
        let replaced = self.remove_image_locked(entry.image_id);
        // (the target shard cannot have been dropped: it did not hold the image)
        self.push_locked(target, entry, codes, scale).map(|()| replaced)
    }

    fn push_locked(&self, target: Option<ShardRef>, entry: Entry, codes: &[i8], scale: f32) -> Result<(), IndexError> {
        match target {
            Some(shard) => shard.write().push(entry.person_id, entry.image_id, codes, scale),
            None => {
                let mut shard = Shard::new(entry.collection_id, self.dim);
                shard.push(entry.person_id, entry.image_id, codes, scale)?;
                self.shards.write().insert(entry.collection_id, Arc::new(RwLock::new(shard)));
                Ok(())
            }
        }
    }

    /// Removes shards left empty (writer mutex held).
    fn drop_empty_shards(&self) {
        let empty: Vec<Uuid> =
            self.shards.read().iter().filter(|(_, s)| s.read().len() == 0).map(|(id, _)| *id).collect();
        if !empty.is_empty() {
            let mut map = self.shards.write();
            for id in empty {
                map.remove(&id);
            }
        }
    }

    /// Bulk load: like calling [`Index::insert`] for each item, with one writer lock for the whole
    /// load; collections that are new to the index are built privately (no lock per template),
    /// shrunk to fit and published when the load ends. Refused items are reported and skipped.
    pub fn extend<I, V>(&self, items: I) -> LoadReport
    where
        I: IntoIterator<Item = (Entry, V)>,
        V: AsRef<[f32]>,
    {
        let _w = self.writer.lock();
        let mut report = LoadReport::default();
        let index_was_empty = self.shards.read().is_empty();
        let mut fresh = Builder::new(self.dim);
        let mut codes = vec![0i8; self.dim];
        let items = items.into_iter();
        fresh.seen.reserve(items.size_hint().0);
        for (entry, v) in items {
            let scale = match quant::checked_unit(v.as_ref(), self.dim) {
                Ok(v) => quantize(&v, &mut codes),
                Err(e) => {
                    report.rejected.push((entry, e));
                    continue;
                }
            };
            let to_fresh = fresh.shards.contains_key(&entry.collection_id)
                || !self.shards.read().contains_key(&entry.collection_id);
            let result = if to_fresh {
                let mut replaced = false;
                if !index_was_empty {
                    // it may be in a collection that was there before
                    replaced = self.remove_image_locked(entry.image_id);
                }
                fresh.insert_codes(entry, &codes, scale).map(|r| r || replaced)
            } else {
                let replaced = fresh.seen.contains(&entry.image_id) && fresh.remove_image(entry.image_id);
                self.insert_locked(entry, &codes, scale).map(|r| r || replaced)
            };
            match result {
                Ok(true) => report.replaced += 1,
                Ok(false) => report.inserted += 1,
                Err(e) => report.rejected.push((entry, e)),
            }
        }
        let fresh = fresh.finish();
        self.shards.write().extend(fresh.into_iter().map(|(id, s)| (id, Arc::new(RwLock::new(s)))));
        self.drop_empty_shards();
        report
    }

    /// Replaces the whole content by what `builder` holds, at once: searches see the old content
    /// until this returns, then the new. For a reload without a window where the index is partial.
    ///
    /// # Panics
    /// When the builder was made for another dimension.
    pub fn replace_all(&self, builder: Builder) {
        assert_eq!(builder.dim, self.dim, "builder of another dimension");
        let fresh = builder.finish();
        let _w = self.writer.lock();
        let mut map = new_map();
        map.extend(fresh.into_iter().map(|(id, s)| (id, Arc::new(RwLock::new(s)))));
        let old = std::mem::replace(&mut *self.shards.write(), map);
        drop(old);
    }

    /// Removes everything.
    pub fn clear(&self) {
        let _w = self.writer.lock();
        let old = std::mem::replace(&mut *self.shards.write(), new_map());
        drop(old);
    }

    /// Writer mutex held: removes an image wherever it is.
    fn remove_image_locked(&self, image_id: Uuid) -> bool {
        for shard in self.shard_refs() {
            let found = shard.read().find_image(image_id);
            if let Some(slot) = found {
                shard.write().remove_slot(slot);
                self.drop_empty_shards();
                return true;
            }
        }
        false
    }

    /// Removes one image; `true` when it was there.
    pub fn remove_image(&self, image_id: Uuid) -> bool {
        let _w = self.writer.lock();
        self.remove_image_locked(image_id)
    }

    /// Removes every image of a person; returns how many.
    pub fn remove_person(&self, person_id: Uuid) -> usize {
        let _w = self.writer.lock();
        let mut n = 0;
        for shard in self.shard_refs() {
            let has = shard.read().has_person(person_id);
            if has {
                n += shard.write().remove_person(person_id);
            }
        }
        if n > 0 {
            self.drop_empty_shards();
        }
        n
    }

    /// Removes a whole collection; returns how many templates it held.
    pub fn remove_collection(&self, collection_id: Uuid) -> usize {
        let _w = self.writer.lock();
        let removed = self.shards.write().remove(&collection_id);
        removed.map_or(0, |s| s.read().len())
    }

    /// Templates held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shard_refs().iter().map(|s| s.read().len()).sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Templates held in one collection.
    #[must_use]
    pub fn collection_len(&self, collection_id: Uuid) -> usize {
        let shard = self.shards.read().get(&collection_id).cloned();
        shard.map_or(0, |s| s.read().len())
    }

    /// Collections held (in no particular order).
    #[must_use]
    pub fn collections(&self) -> Vec<Uuid> {
        self.shards.read().keys().copied().collect()
    }

    #[must_use]
    pub fn contains_image(&self, image_id: Uuid) -> bool {
        self.shard_refs().iter().any(|s| s.read().find_image(image_id).is_some())
    }

    /// Heap bytes the index holds: every buffer's capacity (codes, scales, ids, person lists,
    /// hash tables), the per-collection structs and the collection map.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        let map = self.shards.read();
        let per_shard = std::mem::size_of::<usize>() * 2 + std::mem::size_of::<RwLock<()>>();
        std::mem::size_of::<Self>()
            + map.allocation_size()
            + map.values().map(|s| per_shard + s.read().memory_bytes()).sum::<usize>()
    }

    /// Gives back spare capacity (after many deletions or one-by-one inserts).
    pub fn shrink_to_fit(&self) {
        let _w = self.writer.lock();
        for shard in self.shard_refs() {
            shard.write().shrink_to_fit();
        }
        self.shards.write().shrink_to_fit();
    }

    /// The best image of each person of `collections` for `query`: at most `limit` hits with a
    /// cosine of at least `min_cosine`, best first. Unknown collection ids are ignored. Refuses a
    /// query of the wrong dimension, non-finite or not of unit length.
    pub fn search(
        &self,
        query: &[f32],
        collections: &[Uuid],
        min_cosine: f32,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        self.search_with(query, collections, &SearchOptions { min_cosine, limit, ..SearchOptions::default() })
    }

    /// [`Index::search`] with every option (per image instead of per person, threads, kernel).
    /// Unknown collection ids are ignored; each id counts once. The collections' read locks are
    /// taken in id order and held for the scan.
    pub fn search_with(
        &self,
        query: &[f32],
        collections: &[Uuid],
        opts: &SearchOptions,
    ) -> Result<Vec<Hit>, IndexError> {
        let q = quant::Query::new(quant::checked_unit(query, self.dim)?);
        if opts.limit == 0 || collections.is_empty() {
            return Ok(Vec::new());
        }
        let refs: Vec<ShardRef> = {
            let map = self.shards.read();
            let mut ids: Vec<Uuid> = collections.to_vec();
            ids.sort_unstable();
            ids.dedup();
            ids.iter().filter_map(|id| map.get(id).cloned()).collect()
        };
        let guards: Vec<RwLockReadGuard<'_, Shard>> = refs.iter().map(|s| s.read()).collect();
        let shards: Vec<&Shard> = guards.iter().map(|g| &**g).collect();
        let lens: Vec<usize> = shards.iter().map(|s| s.len()).collect();
        let threads = opts.threads.map_or(self.threads, NonZeroUsize::get);
        let mut parts = search::split(&lens, threads, self.min_per_thread);
        let (kernel, limit, per_person, min) = (opts.kernel, opts.limit, opts.per_person, opts.min_cosine);
        let scan = |parts: &[Part]| {
            let mut top = TopK::new(&shards, limit, per_person, min);
            for p in parts {
                top.scan(&q, kernel, *p);
            }
            top.into_sorted()
        };
        let mut top = TopK::new(&shards, limit, per_person, min);
        match parts.pop() {
            None => {}
            Some(own) if parts.is_empty() => top.merge(scan(&own)),
            Some(own) => std::thread::scope(|s| {
                let handles: Vec<_> = parts.iter().map(|p| s.spawn(|| scan(p))).collect();
                top.merge(scan(&own));
                for h in handles {
                    match h.join() {
                        Ok(c) => top.merge(c),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
            }),
        }
        Ok(top
            .into_sorted()
            .into_iter()
            .map(|c| {
                let s = shards[c.shard as usize];
                Hit {
                    collection_id: s.collection_id,
                    person_id: s.person(c.slot as usize),
                    image_id: s.image(c.slot as usize),
                    cosine: c.score.clamp(-1.0, 1.0),
                }
            })
            .collect())
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("dim", &self.dim).field("threads", &self.threads).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
