//! Blacklist collections (spec §10): company-owned collections, their persons and the persons'
//! face photos with templates, plus the change log (`collection_changes`) that keeps the
//! in-memory 1:N index of every process current.
//!
//! Every write that adds or removes templates appends its change in the same transaction. On
//! PostgreSQL those transactions take one advisory lock, so sequence numbers are committed in
//! order and a reader that has applied change `n` has seen every change before it (a `bigserial`
//! alone hands out numbers at insert time, not at commit time). SQLite has one writer anyway.

use oz_domain::access::Scope;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::accounts::scope_sql;
use crate::model::{StoredFile, f, i, id, json, oid, s};
use crate::{Backend, Db, Result, StoreError, dynq, now};

/// Key of the PostgreSQL advisory lock that orders collection changes.
pub(crate) const CHANGE_LOCK: i64 = 0x6f7a_636f_6c6c;

#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub id: Uuid,
    pub company_id: Uuid,
    pub alias: String,
    pub meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: Uuid,
    pub collection_id: Uuid,
    pub company_id: Uuid,
    pub meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

/// A stored photo of a person (its template is read separately, by the index).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonImage {
    pub id: Uuid,
    pub person_id: Uuid,
    pub collection_id: Uuid,
    pub company_id: Uuid,
    pub file: StoredFile,
    pub tags: Vec<String>,
    pub meta_data: Value,
    pub model_id: String,
    pub time_created: f64,
}

/// A photo to insert: the file is already written under the media folder.
#[derive(Debug, Clone)]
pub struct NewPersonImage {
    pub id: Uuid,
    /// The photo, already written.
    pub file: StoredFile,
    pub tags: Vec<String>,
    pub meta_data: Value,
    /// Hex of the embedder's model id (the template says it too).
    pub model_id: String,
    /// The template in oz-vision's binary format.
    pub template: Vec<u8>,
}

/// A template with the ids the index needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRow {
    pub image_id: Uuid,
    pub person_id: Uuid,
    pub collection_id: Uuid,
    pub template: Vec<u8>,
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    /// A photo (`image_id`) was added.
    Add,
    RemoveImage,
    RemovePerson,
    RemoveCollection,
}

impl ChangeOp {
    fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Add => "add",
            ChangeOp::RemoveImage => "remove_image",
            ChangeOp::RemovePerson => "remove_person",
            ChangeOp::RemoveCollection => "remove_collection",
        }
    }

    fn parse(v: &str) -> Result<Self> {
        Ok(match v {
            "add" => ChangeOp::Add,
            "remove_image" => ChangeOp::RemoveImage,
            "remove_person" => ChangeOp::RemovePerson,
            "remove_collection" => ChangeOp::RemoveCollection,
            other => return Err(StoreError::Corrupt(format!("collection change op {other:?}"))),
        })
    }
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub op: ChangeOp,
    pub collection_id: Uuid,
    pub person_id: Option<Uuid>,
    pub image_id: Option<Uuid>,
}

impl Collection {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: id(r, "id")?,
            company_id: id(r, "company_id")?,
            alias: s(r, "alias")?,
            meta_data: json(r, "meta_data")?,
            time_created: f(r, "time_created")?,
            time_updated: f(r, "time_updated")?,
        })
    }
}

impl Person {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: id(r, "id")?,
            collection_id: id(r, "collection_id")?,
            company_id: id(r, "company_id")?,
            meta_data: json(r, "meta_data")?,
            time_created: f(r, "time_created")?,
            time_updated: f(r, "time_updated")?,
        })
    }
}

impl PersonImage {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: id(r, "id")?,
            person_id: id(r, "person_id")?,
            collection_id: id(r, "collection_id")?,
            company_id: id(r, "company_id")?,
            file: StoredFile::from_row(r)?,
            tags: crate::model::tags(r)?,
            meta_data: json(r, "meta_data")?,
            model_id: s(r, "model_id")?,
            time_created: f(r, "time_created")?,
        })
    }
}

impl TemplateRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            image_id: id(r, "id")?,
            person_id: id(r, "person_id")?,
            collection_id: id(r, "collection_id")?,
            template: r.try_get::<Vec<u8>, _>("template")?,
        })
    }
}

const IMAGE_COLUMNS: &str = "id, person_id, collection_id, company_id, original_name, file_name, mime_type, size, md5, \
                             info, tags, meta_data, model_id, time_created";

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

impl Db {
    /// Starts a transaction that writes collection changes (ordered by the advisory lock on
    /// PostgreSQL, see the module docs).
    async fn change_tx(&self) -> Result<Tx<'_>> {
        let mut tx = self.pool.begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("select pg_advisory_xact_lock($1)").bind(CHANGE_LOCK).execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    // ---- collections -------------------------------------------------------------------------

    /// Creates a collection; `Conflict` when the company already has one with this alias.
    pub async fn create_collection(&self, company_id: Uuid, alias: &str, meta_data: &Value) -> Result<Collection> {
        let t = now();
        let c = Collection {
            id: Uuid::new_v4(),
            company_id,
            alias: alias.to_string(),
            meta_data: meta_data.clone(),
            time_created: t,
            time_updated: t,
        };
        sqlx::query(
            "insert into collections (id, company_id, alias, meta_data, time_created, time_updated) \
             values ($1, $2, $3, $4, $5, $5)",
        )
        .bind(c.id.to_string())
        .bind(company_id.to_string())
        .bind(&c.alias)
        .bind(meta_data.to_string())
        .bind(t)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "a collection with this alias"))?;
        Ok(c)
    }

    /// The collections in `scope`, optionally of one company and with one alias, oldest first.
    pub async fn collections(
        &self,
        scope: &Scope,
        company_id: Option<Uuid>,
        alias: Option<&str>,
    ) -> Result<Vec<Collection>> {
        let (cond, arg) = scope_sql(scope, "company_id", "company_id", 1);
        let mut sql = format!("select * from collections where {cond}");
        let mut args: Vec<String> = arg.into_iter().collect();
        if let Some(c) = company_id {
            args.push(c.to_string());
            sql.push_str(&format!(" and company_id = ${}", args.len()));
        }
        if let Some(a) = alias {
            args.push(a.to_string());
            sql.push_str(&format!(" and alias = ${}", args.len()));
        }
        sql.push_str(" order by time_created, id");
        let mut q = dynq(sql);
        for a in args {
            q = q.bind(a);
        }
        q.fetch_all(&self.pool).await?.iter().map(Collection::from_row).collect()
    }

    /// One collection inside `scope`, else `NotFound`.
    pub async fn collection(&self, id: Uuid, scope: &Scope) -> Result<Collection> {
        let (cond, arg) = scope_sql(scope, "company_id", "company_id", 2);
        let mut q = dynq(format!("select * from collections where id = $1 and {cond}")).bind(id.to_string());
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let row = q.fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        Collection::from_row(&row)
    }

    /// Deletes a collection with its persons and photos; answers the photos' file names, to
    /// remove once this has returned.
    pub async fn remove_collection(&self, id: Uuid) -> Result<Vec<String>> {
        let cid = id.to_string();
        let mut tx = self.change_tx().await?;
        let rows = sqlx::query("delete from person_images where collection_id = $1 returning file_name")
            .bind(cid.clone())
            .fetch_all(&mut *tx)
            .await?;
        let files = rows.iter().map(|r| s(r, "file_name")).collect::<Result<Vec<_>>>()?;
        sqlx::query("delete from persons where collection_id = $1").bind(cid.clone()).execute(&mut *tx).await?;
        let r = sqlx::query("delete from collections where id = $1").bind(cid).execute(&mut *tx).await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        log_change(&mut tx, ChangeOp::RemoveCollection, id, None, None).await?;
        tx.commit().await?;
        Ok(files)
    }

    // ---- persons -----------------------------------------------------------------------------

    /// Creates a person with its photos in one transaction.
    pub async fn create_person(
        &self,
        collection: &Collection,
        meta_data: &Value,
        images: &[NewPersonImage],
    ) -> Result<(Person, Vec<PersonImage>)> {
        let t = now();
        let p = Person {
            id: Uuid::new_v4(),
            collection_id: collection.id,
            company_id: collection.company_id,
            meta_data: meta_data.clone(),
            time_created: t,
            time_updated: t,
        };
        let mut tx = self.change_tx().await?;
        // The collection may have been deleted since the caller read it.
        let found = sqlx::query("select id from collections where id = $1")
            .bind(collection.id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "insert into persons (id, collection_id, company_id, meta_data, time_created, time_updated) \
             values ($1, $2, $3, $4, $5, $5)",
        )
        .bind(p.id.to_string())
        .bind(p.collection_id.to_string())
        .bind(p.company_id.to_string())
        .bind(meta_data.to_string())
        .bind(t)
        .execute(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(images.len());
        for m in images {
            out.push(insert_image(&mut tx, &p, m, t).await?);
        }
        tx.commit().await?;
        Ok((p, out))
    }

    /// Adds photos to a person; `NotFound` if the person is gone.
    pub async fn add_person_images(&self, person: &Person, images: &[NewPersonImage]) -> Result<Vec<PersonImage>> {
        let t = now();
        let mut tx = self.change_tx().await?;
        let r = sqlx::query("update persons set time_updated = $2 where id = $1")
            .bind(person.id.to_string())
            .bind(t)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        let mut out = Vec::with_capacity(images.len());
        for m in images {
            out.push(insert_image(&mut tx, person, m, t).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// A page of a collection's persons (oldest first) and the total count.
    pub async fn persons(&self, collection_id: Uuid, offset: i64, limit: i64) -> Result<(Vec<Person>, i64)> {
        let cid = collection_id.to_string();
        let rows =
            sqlx::query("select * from persons where collection_id = $1 order by time_created, id limit $2 offset $3")
                .bind(cid.clone())
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
        let persons = rows.iter().map(Person::from_row).collect::<Result<Vec<_>>>()?;
        let row = sqlx::query("select count(*) as n from persons where collection_id = $1")
            .bind(cid)
            .fetch_one(&self.pool)
            .await?;
        Ok((persons, i(&row, "n")?))
    }

    /// A person of a collection, else `NotFound`.
    pub async fn person(&self, collection_id: Uuid, person_id: Uuid) -> Result<Person> {
        let row = sqlx::query("select * from persons where id = $1 and collection_id = $2")
            .bind(person_id.to_string())
            .bind(collection_id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Person::from_row(&row)
    }

    /// Deletes a person and its photos; answers the photos' file names.
    pub async fn remove_person(&self, collection_id: Uuid, person_id: Uuid) -> Result<Vec<String>> {
        let pid = person_id.to_string();
        let mut tx = self.change_tx().await?;
        // Photos first: the person's delete would cascade to them without their file names.
        let rows =
            sqlx::query("delete from person_images where person_id = $1 and collection_id = $2 returning file_name")
                .bind(pid.clone())
                .bind(collection_id.to_string())
                .fetch_all(&mut *tx)
                .await?;
        let files = rows.iter().map(|r| s(r, "file_name")).collect::<Result<Vec<_>>>()?;
        let r = sqlx::query("delete from persons where id = $1 and collection_id = $2")
            .bind(pid)
            .bind(collection_id.to_string())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        log_change(&mut tx, ChangeOp::RemovePerson, collection_id, Some(person_id), None).await?;
        tx.commit().await?;
        Ok(files)
    }

    /// The photos of these persons, oldest first.
    pub async fn person_images(&self, person_ids: &[Uuid]) -> Result<Vec<PersonImage>> {
        let mut out = Vec::new();
        for chunk in person_ids.chunks(500) {
            let list: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let mut q = dynq(format!(
                "select {IMAGE_COLUMNS} from person_images where person_id in ({}) order by time_created, id",
                list.join(", ")
            ));
            for p in chunk {
                q = q.bind(p.to_string());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(PersonImage::from_row(&r)?);
            }
        }
        out.sort_by(|a, b| a.time_created.total_cmp(&b.time_created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// One photo of a person, else `NotFound`.
    pub async fn person_image(&self, person_id: Uuid, image_id: Uuid) -> Result<PersonImage> {
        let row = dynq(format!("select {IMAGE_COLUMNS} from person_images where id = $1 and person_id = $2"))
            .bind(image_id.to_string())
            .bind(person_id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        PersonImage::from_row(&row)
    }

    /// A photo by its id alone (for signed links and the console), inside `scope`.
    pub async fn person_image_by_id(&self, image_id: Uuid, scope: &Scope) -> Result<PersonImage> {
        let (cond, arg) = scope_sql(scope, "company_id", "company_id", 2);
        let mut q = dynq(format!("select {IMAGE_COLUMNS} from person_images where id = $1 and {cond}"))
            .bind(image_id.to_string());
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let row = q.fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        PersonImage::from_row(&row)
    }

    /// A photo by its stored file name, inside `scope` (`/static/{file}`).
    pub async fn person_image_by_file(&self, file_name: &str, scope: &Scope) -> Result<PersonImage> {
        let (cond, arg) = scope_sql(scope, "company_id", "company_id", 2);
        let mut q = dynq(format!("select {IMAGE_COLUMNS} from person_images where file_name = $1 and {cond}"))
            .bind(file_name.to_string());
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let row = q.fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        PersonImage::from_row(&row)
    }

    /// Deletes one photo; answers its file name.
    pub async fn remove_person_image(&self, person_id: Uuid, image_id: Uuid) -> Result<String> {
        let mut tx = self.change_tx().await?;
        let row = sqlx::query(
            "delete from person_images where id = $1 and person_id = $2 returning file_name, collection_id",
        )
        .bind(image_id.to_string())
        .bind(person_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        };
        let file = s(&row, "file_name")?;
        let collection_id = id(&row, "collection_id")?;
        log_change(&mut tx, ChangeOp::RemoveImage, collection_id, Some(person_id), Some(image_id)).await?;
        tx.commit().await?;
        Ok(file)
    }

    // ---- the index's view --------------------------------------------------------------------

    /// The newest change's sequence number (0 when there is none).
    pub async fn last_collection_change(&self) -> Result<i64> {
        let row =
            sqlx::query("select coalesce(max(seq), 0) as n from collection_changes").fetch_one(&self.pool).await?;
        i(&row, "n")
    }

    /// Changes after `seq`, in order, at most `limit`.
    pub async fn collection_changes_since(&self, seq: i64, limit: i64) -> Result<Vec<Change>> {
        let rows = sqlx::query(
            "select seq, op, collection_id, person_id, image_id from collection_changes where seq > $1 \
             order by seq limit $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Change {
                    seq: i(r, "seq")?,
                    op: ChangeOp::parse(&s(r, "op")?)?,
                    collection_id: id(r, "collection_id")?,
                    person_id: oid(r, "person_id")?,
                    image_id: oid(r, "image_id")?,
                })
            })
            .collect()
    }

    /// The templates of these photos (those that still exist).
    pub async fn templates_of(&self, image_ids: &[Uuid]) -> Result<Vec<TemplateRow>> {
        let mut out = Vec::with_capacity(image_ids.len());
        for chunk in image_ids.chunks(500) {
            let list: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let mut q = dynq(format!(
                "select id, person_id, collection_id, template from person_images where id in ({})",
                list.join(", ")
            ));
            for p in chunk {
                q = q.bind(p.to_string());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(TemplateRow::from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// A page of every template, in id order after `after` (keyset paging for the start-up load),
    /// optionally only ids below `until` (so that several readers can split the id space: ids
    /// are random UUIDs in lower-case text).
    pub async fn templates_page(
        &self,
        after: Option<&str>,
        until: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TemplateRow>> {
        let rows = sqlx::query(
            "select id, person_id, collection_id, template from person_images where id > $1 and id < $2 \
             order by id limit $3",
        )
        .bind(after.unwrap_or_default().to_string())
        // Above every id: UUID text is 0-9 and a-f.
        .bind(until.unwrap_or("g").to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(TemplateRow::from_row).collect()
    }

    /// Removes change-log entries older than `before` (epoch seconds) but never the newest one,
    /// so the sequence keeps counting up. A process that was behind by more than the retention
    /// reloads the whole index (it sees a gap).
    pub async fn purge_collection_changes(&self, before: f64) -> Result<u64> {
        let r = sqlx::query(
            "delete from collection_changes where time_created < $1 \
             and seq < (select coalesce(max(seq), 0) from collection_changes)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// The lowest sequence number still in the log (0 when empty).
    pub async fn first_collection_change(&self) -> Result<i64> {
        let row =
            sqlx::query("select coalesce(min(seq), 0) as n from collection_changes").fetch_one(&self.pool).await?;
        i(&row, "n")
    }
}

async fn insert_image(tx: &mut Tx<'_>, p: &Person, m: &NewPersonImage, t: f64) -> Result<PersonImage> {
    let tags = serde_json::to_string(&m.tags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let q = sqlx::query(
        "insert into person_images (id, person_id, collection_id, company_id, original_name, file_name, mime_type, \
         size, md5, info, tags, meta_data, model_id, template, time_created) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(m.id.to_string())
    .bind(p.id.to_string())
    .bind(p.collection_id.to_string())
    .bind(p.company_id.to_string());
    m.file
        .bind(q)
        .bind(tags)
        .bind(m.meta_data.to_string())
        .bind(&m.model_id)
        .bind(m.template.clone())
        .bind(t)
        .execute(&mut **tx)
        .await?;
    log_change(tx, ChangeOp::Add, p.collection_id, Some(p.id), Some(m.id)).await?;
    Ok(PersonImage {
        id: m.id,
        person_id: p.id,
        collection_id: p.collection_id,
        company_id: p.company_id,
        file: m.file.clone(),
        tags: m.tags.clone(),
        meta_data: m.meta_data.clone(),
        model_id: m.model_id.clone(),
        time_created: t,
    })
}

pub(crate) async fn log_change(
    tx: &mut Tx<'_>,
    op: ChangeOp,
    collection_id: Uuid,
    person_id: Option<Uuid>,
    image_id: Option<Uuid>,
) -> Result<()> {
    sqlx::query(
        "insert into collection_changes (op, collection_id, person_id, image_id, time_created) \
         values ($1, $2, $3, $4, $5)",
    )
    .bind(op.as_str())
    .bind(collection_id.to_string())
    .bind(person_id.map(|u| u.to_string()))
    .bind(image_id.map(|u| u.to_string()))
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
