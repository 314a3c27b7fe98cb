//! Folders and their media.

use oz_domain::access::Scope;
use oz_domain::assign::MediaClass;
use oz_domain::status::ResolutionStatus;
use serde_json::Value;
use uuid::Uuid;

use crate::dynq;

use crate::accounts::scope_sql;
use crate::lists::{Owners, Page, TimeWindow, Where};
use crate::model::{Folder, Media, StoredFile, ostr};
use crate::{Backend, Db, Result, StoreError, now};

/// A media to insert: the file is already written under the media folder.
#[derive(Debug, Clone)]
pub struct NewMedia {
    pub id: Uuid,
    pub class: MediaClass,
    /// The file, already written.
    pub file: StoredFile,
    pub tags: Vec<String>,
    pub meta_data: Value,
    pub technical_meta_data: Value,
    pub source_media_id: Option<Uuid>,
    pub analysis_id: Option<Uuid>,
    /// The JPEG preview already written beside the file (`None`: none).
    pub preview_file: Option<String>,
    /// The mp4 assembled from a shot set's shots, already written (`None`: none).
    pub video_file: Option<String>,
}

impl NewMedia {
    /// Every file written for this media: the original, its preview and its assembled video.
    #[must_use]
    pub fn files(&self) -> Vec<String> {
        std::iter::once(self.file.file_name.clone())
            .chain(self.preview_file.clone())
            .chain(self.video_file.clone())
            .collect()
    }
}

/// The stored file names of deleted media rows (`returning` [`MEDIA_FILE_COLUMNS`]): originals,
/// previews and assembled videos.
pub(crate) fn media_files_of(rows: &[sqlx::any::AnyRow]) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(crate::model::s(r, "file_name")?);
        out.extend(crate::model::os(r, "preview_file")?);
        out.extend(crate::model::os(r, "video_file")?);
    }
    Ok(out)
}

/// The columns of a media row that name stored files.
pub(crate) const MEDIA_FILE_COLUMNS: &str = "file_name, preview_file, video_file";

/// A metadata condition of `GET /api/folders/?meta_data=key==value` (or `key!=value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaCondition {
    pub key: String,
    pub equal: bool,
    pub value: String,
}

/// Filters, paging and sorting of the folder list.
#[derive(Debug, Clone, Default)]
pub struct FolderFilter {
    pub scope: Scope,
    pub meta: Vec<MetaCondition>,
    /// `folder_id`, `user_id`, `company_id` and their `.exclude`.
    pub owners: Owners,
    pub window: TimeWindow,
    /// Matches folder `resolution_status` or `system_resolution`.
    pub statuses: Vec<String>,
    /// Leaves out folders whose `resolution_status` or `system_resolution` is one of these.
    pub statuses_exclude: Vec<String>,
    /// Case-insensitive part of the folder id, of its `meta_data` (as JSON text) or of the email
    /// of the user who created it.
    pub search_text: Option<String>,
    pub page: Page,
}

impl FolderFilter {
    /// No filter: everything in `scope`, newest first, 100 a page.
    #[must_use]
    pub fn new(scope: Scope) -> Self {
        Self { scope, ..Self::default() }
    }
}

/// A bound value of a query assembled at run time.
pub(crate) enum Arg {
    S(String),
    F(f64),
}

/// The value of the top-level `key` (a bound placeholder) of the JSON text column `col`, as text,
/// the same on both engines: strings unquoted, numbers as written, booleans `true`/`false`, JSON
/// null and a missing key as SQL NULL (so `!=` matches them).
pub(crate) fn meta_text(backend: Backend, col: &str, key: &str) -> String {
    match backend {
        Backend::Postgres => format!("({col}::jsonb ->> {key})"),
        // json_each rather than a JSON path: any key works, quotes and dots included.
        Backend::Sqlite => format!(
            "(select case j.type when 'true' then 'true' when 'false' then 'false' when 'null' then null \
             else cast(j.value as text) end from json_each({col}) as j where j.key = {key} limit 1)"
        ),
    }
}

impl Db {
    /// Creates a folder and its media in one transaction.
    pub async fn create_folder(
        &self,
        company_id: Option<Uuid>,
        user_id: Option<Uuid>,
        meta_data: &Value,
        resolution_endpoint: Option<&str>,
        media: &[NewMedia],
    ) -> Result<(Folder, Vec<Media>)> {
        let id = Uuid::new_v4();
        let t = now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into folders (id, company_id, user_id, resolution_endpoint, resolution_status, system_resolution, \
             meta_data, time_created, time_updated) values ($1, $2, $3, $4, 'INITIAL', 'INITIAL', $5, $6, $6)",
        )
        .bind(id.to_string())
        .bind(ostr(company_id))
        .bind(ostr(user_id))
        .bind(resolution_endpoint.map(str::to_string))
        .bind(meta_data.to_string())
        .bind(t)
        .execute(&mut *tx)
        .await?;
        for (i, m) in media.iter().enumerate() {
            insert_media(&mut tx, id, company_id, user_id, m, in_order(t, i)).await?;
        }
        tx.commit().await?;
        let folder = self.folder(id, &Scope::All).await?;
        let media = self.folder_media(id).await?;
        Ok((folder, media))
    }

    /// Adds media to a folder in one transaction.
    pub async fn add_media(&self, folder: &Folder, media: &[NewMedia]) -> Result<Vec<Media>> {
        let t = now();
        let mut tx = self.pool.begin().await?;
        for (i, m) in media.iter().enumerate() {
            insert_media(&mut tx, folder.id, folder.company_id, folder.user_id, m, in_order(t, i)).await?;
        }
        sqlx::query("update folders set time_updated = $2 where id = $1")
            .bind(folder.id.to_string())
            .bind(t)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let ids: Vec<Uuid> = media.iter().map(|m| m.id).collect();
        Ok(self.folder_media(folder.id).await?.into_iter().filter(|m| ids.contains(&m.id)).collect())
    }

    pub async fn folder(&self, id: Uuid, scope: &Scope) -> Result<Folder> {
        let (w, arg) = scope_sql(scope, "user_id", "company_id", 2);
        let mut q = dynq(format!("select * from folders where id = $1 and {w}")).bind(id.to_string());
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let row = q.fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        Folder::from_row(&row)
    }

    /// Lists folders; the total is counted unless `with_total` is false.
    pub async fn folders(&self, f: &FolderFilter, with_total: bool) -> Result<(Vec<Folder>, Option<i64>)> {
        let mut w = Where::default();
        w.scope(&f.scope, "user_id", "company_id");
        w.owners(&f.owners, "id");
        w.window(&f.window);
        if !f.statuses.is_empty() {
            let l = w.strs(&f.statuses);
            w.conds.push(format!("(resolution_status in ({l}) or system_resolution in ({l}))"));
        }
        if !f.statuses_exclude.is_empty() {
            let l = w.strs(&f.statuses_exclude);
            w.conds.push(format!("resolution_status not in ({l}) and system_resolution not in ({l})"));
        }
        if let Some(text) = f.search_text.as_deref().filter(|t| !t.is_empty()) {
            let p = w.arg(Arg::S(crate::accounts::like_pattern(text)));
            w.conds.push(format!(
                "(lower(id) like {p} escape '\\' or lower(meta_data) like {p} escape '\\' \
                 or user_id in (select u.id from users u where lower(u.email) like {p} escape '\\'))"
            ));
        }
        w.meta(self.backend(), "folders.meta_data", &f.meta);
        let rows = self.page_of("folders", &w, &f.page).await?;
        let folders = rows.iter().map(Folder::from_row).collect::<Result<Vec<_>>>()?;
        let total = if with_total { Some(self.count_of("folders", &w).await?) } else { None };
        Ok((folders, total))
    }

    /// Deletes a folder with its media, analyses, jobs and webhook deliveries in one transaction;
    /// answers the stored file names of its media (originals, previews, assembled videos), for
    /// the caller to remove now that the rows are committed (a best shot recorded while this
    /// runs is deleted with the rest).
    pub async fn delete_folder(&self, id: Uuid) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let rows = dynq(format!("delete from media where folder_id = $1 returning {MEDIA_FILE_COLUMNS}"))
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await?;
        let files = media_files_of(&rows)?;
        sqlx::query("delete from webhook_deliveries where folder_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("delete from folders where id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(files)
    }

    /// Sets the folder's status pair.
    pub async fn set_folder_status(&self, id: Uuid, status: ResolutionStatus, system: ResolutionStatus) -> Result<()> {
        sqlx::query(
            "update folders set resolution_status = $2, system_resolution = $3, time_updated = $4 where id = $1",
        )
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(system.as_str())
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_folder_endpoint(&self, id: Uuid, url: &str) -> Result<()> {
        sqlx::query("update folders set resolution_endpoint = $2 where id = $1")
            .bind(id.to_string())
            .bind(url)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// All media of a folder, oldest first (result images included).
    pub async fn folder_media(&self, folder_id: Uuid) -> Result<Vec<Media>> {
        let rows = sqlx::query("select * from media where folder_id = $1 order by time_created, id")
            .bind(folder_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Media::from_row).collect()
    }

    /// Media of many folders at once, grouped by the caller.
    pub async fn media_of_folders(&self, folder_ids: &[Uuid]) -> Result<Vec<Media>> {
        if folder_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (1..=folder_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!("select * from media where folder_id in ({}) order by time_created, id", list.join(", "));
        let mut q = dynq(sql.clone());
        for id in folder_ids {
            q = q.bind(id.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(Media::from_row).collect()
    }

    /// One media inside `scope`.
    pub async fn media(&self, id: Uuid, scope: &Scope) -> Result<Media> {
        let (w, arg) = scope_sql(scope, "user_id", "company_id", 2);
        let mut q = dynq(format!("select * from media where id = $1 and {w}")).bind(id.to_string());
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let row = q.fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        Media::from_row(&row)
    }

    /// A media by one of its stored file names (for serving files), inside `scope`: the
    /// original, the preview or the assembled video ([`Media::file_type`] tells which).
    pub async fn media_by_file(&self, file_name: &str, scope: &Scope) -> Result<Media> {
        let (w, arg) = scope_sql(scope, "user_id", "company_id", 2);
        let mut q =
            dynq(format!("select * from media where (file_name = $1 or preview_file = $1 or video_file = $1) and {w}"))
                .bind(file_name);
        if let Some(a) = arg {
            q = q.bind(a);
        }
        let row = q.fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        Media::from_row(&row)
    }

    pub async fn set_media_tags(&self, id: Uuid, tags: &[String]) -> Result<()> {
        let r = sqlx::query("update media set tags = $2, time_updated = $3 where id = $1")
            .bind(id.to_string())
            .bind(serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()))
            .bind(now())
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Deletes a media; returns its stored file names (original, preview, assembled video) so
    /// the caller can remove the files.
    pub async fn delete_media(&self, id: Uuid) -> Result<Vec<String>> {
        let row = dynq(format!("delete from media where id = $1 returning {MEDIA_FILE_COLUMNS}"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        media_files_of(std::slice::from_ref(&row))
    }
}

pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match a {
            Arg::S(s) => q.bind(s.as_str()),
            Arg::F(v) => q.bind(*v),
        };
    }
    q
}

/// The `time_created` of the `i`-th media written at `t` in one request: a microsecond apart, so
/// `order by time_created, id` gives the media back in the client's order (the ids are random).
pub(crate) fn in_order(t: f64, i: usize) -> f64 {
    t + i as f64 * 1e-6
}

pub(crate) async fn insert_media(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    folder_id: Uuid,
    company_id: Option<Uuid>,
    user_id: Option<Uuid>,
    m: &NewMedia,
    t: f64,
) -> Result<()> {
    let q = sqlx::query(
        "insert into media (id, folder_id, company_id, user_id, media_type, original_name, file_name, mime_type, size, md5, \
         info, tags, meta_data, technical_meta_data, source_media_id, analysis_id, preview_file, video_file, \
         time_created, time_updated) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19)",
    )
    .bind(m.id.to_string())
    .bind(folder_id.to_string())
    .bind(ostr(company_id))
    .bind(ostr(user_id))
    .bind(m.class.media_type());
    m.file
        .bind(q)
        .bind(serde_json::to_string(&m.tags).unwrap_or_else(|_| "[]".into()))
        .bind(m.meta_data.to_string())
        .bind(m.technical_meta_data.to_string())
        .bind(ostr(m.source_media_id))
        .bind(ostr(m.analysis_id))
        .bind(m.preview_file.clone())
        .bind(m.video_file.clone())
        .bind(t)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
