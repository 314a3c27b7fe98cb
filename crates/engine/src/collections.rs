//! The 1:N index of this process: every template of every collection, in memory ([`oz_index`]),
//! loaded from the database at start and kept current from the change log
//! (`collection_changes`, see `oz_storage::collections`).
//!
//! Consistency: before every search the index applies the changes committed since the last it
//! applied (one indexed query that usually returns nothing), so a photo or person whose delete has
//! answered is never matched by any process, and a photo added through any process is found.
//! A background loop also catches up every few seconds so idle processes stay close.

use std::sync::atomic::{AtomicU64, Ordering};

use oz_index::{Builder, Entry, Hit, Index};
use oz_storage::collections::{ChangeOp, TemplateRow};
use oz_storage::{Db, StoreError};
use oz_vision::template::Template;
use uuid::Uuid;

/// Rows read per query while loading or catching up.
const PAGE: i64 = 5_000;

/// What a search asks for.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub vector: &'a [f32],
    pub collections: &'a [Uuid],
    /// Cosine below which nothing is returned.
    pub min_cosine: f32,
    pub limit: usize,
}

pub struct CollectionIndex {
    index: Index,
    /// The last change applied; the mutex also makes catch-ups one at a time.
    applied: tokio::sync::Mutex<i64>,
    model_id: [u8; 8],
    dim: usize,
    /// Templates skipped because another model made them (after a model change).
    foreign: AtomicU64,
}

impl std::fmt::Debug for CollectionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectionIndex").field("templates", &self.index.len()).finish_non_exhaustive()
    }
}

impl CollectionIndex {
    /// An empty index for templates of `dim` dimensions made by the model `model_id`.
    #[must_use]
    pub fn new(model_id: [u8; 8], dim: usize, threads: usize) -> Self {
        Self {
            index: Index::new(dim, threads),
            applied: tokio::sync::Mutex::new(0),
            model_id,
            dim,
            foreign: AtomicU64::new(0),
        }
    }

    /// Loads every template from the database (call once at start).
    pub async fn load(&self, db: &Db) -> Result<(), StoreError> {
        let mut applied = self.applied.lock().await;
        self.reload(db, &mut applied).await
    }

    async fn reload(&self, db: &Db, applied: &mut i64) -> Result<(), StoreError> {
        // The change number first: changes after it are applied again later (idempotent).
        let seq = db.last_collection_change().await?;
        // Pages are read here while a thread checks and quantises the previous ones into a
        // builder, swapped in at once at the end: searches never see a half-loaded index.
        let (pages, mut rx) = tokio::sync::mpsc::channel::<Vec<TemplateRow>>(2);
        let (model_id, dim) = (self.model_id, self.dim);
        let builder = tokio::task::spawn_blocking(move || {
            let mut builder = Builder::new(dim);
            let mut foreign = 0u64;
            while let Some(page) = rx.blocking_recv() {
                for row in page {
                    match parse(&row, &model_id, dim) {
                        Some((entry, vector)) => {
                            if let Err(e) = builder.insert(entry, &vector) {
                                tracing::warn!(image = %row.image_id, error = %e, "template not indexed");
                            }
                        }
                        None => foreign += 1,
                    }
                }
            }
            (builder, foreign)
        });
        // Two readers split the id space (random UUIDs): on SQLite (WAL) and PostgreSQL alike they
        // read on two connections at once.
        let read_range = |from: &'static str, until: Option<&'static str>| {
            let pages = pages.clone();
            async move {
                let mut after = from.to_string();
                loop {
                    let page = db.templates_page(Some(&after), until, PAGE).await?;
                    let Some(last) = page.last() else { break };
                    after = last.image_id.to_string();
                    let short = (page.len() as i64) < PAGE;
                    if pages.send(page).await.is_err() || short {
                        break;
                    }
                }
                Ok::<(), StoreError>(())
            }
        };
        let (low, high) = tokio::join!(read_range("", Some("8")), read_range("8", None));
        drop(pages);
        let read = low.and(high);
        let (builder, foreign) = builder.await.map_err(|e| StoreError::Corrupt(format!("index load: {e}")))?;
        read?;
        self.foreign.store(foreign, Ordering::Relaxed);
        self.index.replace_all(builder);
        *applied = seq;
        Ok(())
    }

    fn insert_row(&self, row: &TemplateRow) {
        let parsed = parse(row, &self.model_id, self.dim);
        if parsed.is_none() {
            self.foreign.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((entry, vector)) = parsed
            && let Err(e) = self.index.insert(entry, &vector)
        {
            tracing::warn!(image = %row.image_id, error = %e, "template not indexed");
        }
    }

    /// Applies the changes committed since the last applied one.
    pub async fn catch_up(&self, db: &Db) -> Result<(), StoreError> {
        let mut applied = self.applied.lock().await;
        loop {
            let changes = db.collection_changes_since(*applied, PAGE).await?;
            let Some(first) = changes.first() else { return Ok(()) };
            // Changes older than the log's retention were purged: this process was behind too
            // long to follow, so it loads everything again.
            if first.seq > *applied + 1 && db.first_collection_change().await? > *applied + 1 {
                tracing::info!(applied = *applied, "collection change log has moved on: reloading the 1:N index");
                return self.reload(db, &mut applied).await;
            }
            let adds: Vec<Uuid> = changes.iter().filter(|c| c.op == ChangeOp::Add).filter_map(|c| c.image_id).collect();
            let rows = db.templates_of(&adds).await?;
            let by_id: std::collections::HashMap<Uuid, &TemplateRow> = rows.iter().map(|r| (r.image_id, r)).collect();
            for c in &changes {
                match c.op {
                    // A photo deleted since it was added is absent here; its delete follows.
                    ChangeOp::Add => {
                        if let Some(row) = c.image_id.and_then(|i| by_id.get(&i)) {
                            self.insert_row(row);
                        }
                    }
                    ChangeOp::RemoveImage => {
                        if let Some(i) = c.image_id {
                            self.index.remove_image(i);
                        }
                    }
                    ChangeOp::RemovePerson => {
                        if let Some(p) = c.person_id {
                            self.index.remove_person(p);
                        }
                    }
                    ChangeOp::RemoveCollection => {
                        self.index.remove_collection(c.collection_id);
                    }
                }
                *applied = c.seq;
            }
            if (changes.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    /// Searches (without catching up: call [`Self::catch_up`] first). The best image of each
    /// person, best first.
    pub fn search(&self, q: &Query<'_>) -> Result<Vec<Hit>, oz_index::IndexError> {
        self.index.search(q.vector, q.collections, q.min_cosine, q.limit)
    }

    /// Templates held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stored templates skipped because another embedder model made them (after a model change
    /// they must be re-enrolled).
    #[must_use]
    pub fn foreign_templates(&self) -> u64 {
        self.foreign.load(Ordering::Relaxed)
    }

    /// Heap bytes the index holds.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_bytes()
    }
}

/// The index entry and vector of a stored template; `None` (logged) when another model made it.
fn parse(row: &TemplateRow, model_id: &[u8; 8], dim: usize) -> Option<(Entry, Vec<f32>)> {
    match Template::from_bytes(&row.template, model_id, dim) {
        Ok(t) => Some((
            Entry { collection_id: row.collection_id, person_id: row.person_id, image_id: row.image_id },
            t.vector,
        )),
        Err(e) => {
            tracing::warn!(image = %row.image_id, error = %e, "template not indexed (made by another model?)");
            None
        }
    }
}
