//! The 1:N index of this process: every template of every collection, in memory ([`oz_index`]),
//! loaded from the database at start and kept current from the change log
//! (`collection_changes`, see `oz_storage::collections`).
//!
//! Consistency: before every search the index applies the changes committed since the last it
//! applied (one indexed query that usually returns nothing), so a photo or person whose delete has
//! answered is never matched by any process, and a photo added through any process is found.
//! A background loop also catches up every few seconds so idle processes stay close.

use std::sync::RwLock;

use oz_index::{Entry, Hit, Index};
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
    foreign: RwLock<u64>,
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
            foreign: RwLock::new(0),
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
        self.index.clear();
        let mut after = None;
        loop {
            let page = db.templates_page(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.image_id);
            let n = page.len();
            for row in page {
                self.insert_row(&row);
            }
            if (n as i64) < PAGE {
                break;
            }
        }
        *applied = seq;
        Ok(())
    }

    fn insert_row(&self, row: &TemplateRow) {
        match Template::from_bytes(&row.template, &self.model_id, self.dim) {
            Ok(t) => {
                let entry =
                    Entry { collection_id: row.collection_id, person_id: row.person_id, image_id: row.image_id };
                if let Err(e) = self.index.insert(entry, &t.vector) {
                    tracing::warn!(image = %row.image_id, error = %e, "template not indexed");
                }
            }
            Err(e) => {
                *self.foreign.write().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
                tracing::warn!(image = %row.image_id, error = %e, "template not indexed (made by another model?)");
            }
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

    /// Heap bytes the index holds.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_bytes()
    }
}
