//! Lists across folders (`GET /api/analyses/`, `GET /api/media/`), batch look-ups for rendering
//! them, and the statistics a web console charts. Every query is filtered by the caller's
//! [`Scope`]; values are always bound, never interpolated.

use oz_domain::access::Scope;
use uuid::Uuid;

use crate::dynq;
use crate::folders::{Arg, MetaCondition, bind_all, meta_text};
use crate::model::{Analysis, Company, Folder, Media, User, i, of, os};
use crate::{Backend, Db, Result};

/// A WHERE clause assembled from fixed fragments, with its bound values (`$1`, `$2`, ...).
#[derive(Default)]
pub(crate) struct Where {
    args: Vec<Arg>,
    pub(crate) conds: Vec<String>,
}

impl Where {
    /// Binds a value; answers its placeholder.
    pub(crate) fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    pub(crate) fn strs(&mut self, v: &[String]) -> String {
        v.iter().map(|s| self.arg(Arg::S(s.clone()))).collect::<Vec<_>>().join(", ")
    }

    /// `col in (...)` when `v` is not empty.
    fn any_of(&mut self, col: &str, v: &[String]) {
        if !v.is_empty() {
            let l = self.strs(v);
            self.conds.push(format!("{col} in ({l})"));
        }
    }

    /// Leaves out rows whose `col` is one of `v` (a NULL `col` is kept).
    fn none_of(&mut self, col: &str, v: &[String]) {
        if !v.is_empty() {
            let l = self.strs(v);
            self.conds.push(format!("({col} is null or {col} not in ({l}))"));
        }
    }

    fn range(&mut self, col: &str, min: Option<f64>, max: Option<f64>) {
        if let Some(v) = min {
            let p = self.arg(Arg::F(v));
            self.conds.push(format!("{col} >= {p}"));
        }
        if let Some(v) = max {
            let p = self.arg(Arg::F(v));
            self.conds.push(format!("{col} <= {p}"));
        }
    }

    /// The time window of a list.
    pub(crate) fn window(&mut self, t: &TimeWindow) {
        self.range("time_created", t.created_min, t.created_max);
        self.range("time_updated", t.updated_min, t.updated_max);
    }

    /// The owner filters of a list; `folder_col` holds the folder id (`id` for folders).
    pub(crate) fn owners(&mut self, o: &Owners, folder_col: &str) {
        for (col, any, none) in [
            (folder_col, &o.folder_ids, &o.folder_ids_exclude),
            ("user_id", &o.user_ids, &o.user_ids_exclude),
            ("company_id", &o.company_ids, &o.company_ids_exclude),
        ] {
            self.any_of(col, &strings(any));
            self.none_of(col, &strings(none));
        }
    }

    /// Objects owned (`user_col`, `company_col`) inside `scope`.
    pub(crate) fn scope(&mut self, scope: &Scope, user_col: &str, company_col: &str) {
        match scope {
            Scope::All => {}
            Scope::Nothing => self.conds.push("1 = 0".into()),
            Scope::Company(c) => {
                let p = self.arg(Arg::S(c.to_string()));
                self.conds.push(format!("{company_col} = {p}"));
            }
            Scope::Own(u) => {
                let p = self.arg(Arg::S(u.to_string()));
                self.conds.push(format!("{user_col} = {p}"));
            }
        }
    }

    /// Analyses whose folder is inside `scope` (an analysis is visible to whoever sees its
    /// folder, as [`Db::analysis`] answers).
    fn folder_scope(&mut self, scope: &Scope) {
        match scope {
            Scope::All => {}
            Scope::Nothing => self.conds.push("1 = 0".into()),
            Scope::Company(c) => {
                let p = self.arg(Arg::S(c.to_string()));
                self.conds.push(format!("folder_id in (select f.id from folders f where f.company_id = {p})"));
            }
            Scope::Own(u) => {
                let p = self.arg(Arg::S(u.to_string()));
                self.conds.push(format!("folder_id in (select f.id from folders f where f.user_id = {p})"));
            }
        }
    }

    pub(crate) fn meta(&mut self, backend: Backend, col: &str, conds: &[MetaCondition]) {
        for m in conds {
            let key = self.arg(Arg::S(m.key.clone()));
            let expr = meta_text(backend, col, &key);
            let v = self.arg(Arg::S(m.value.clone()));
            if m.equal {
                self.conds.push(format!("{expr} = {v}"));
            } else {
                self.conds.push(format!("({expr} is null or {expr} <> {v})"));
            }
        }
    }

    fn sql(&self) -> String {
        if self.conds.is_empty() { "1 = 1".into() } else { self.conds.join(" and ") }
    }
}

fn strings(v: &[Uuid]) -> Vec<String> {
    v.iter().map(Uuid::to_string).collect()
}

/// Paging and sorting shared by the lists.
#[derive(Debug, Clone)]
pub struct Page {
    pub sort_by_updated: bool,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

impl Default for Page {
    fn default() -> Self {
        Self { sort_by_updated: false, descending: true, offset: 0, limit: 100 }
    }
}

impl Page {
    /// The `order by` of a list: the time column, then the id, both in the page's direction.
    pub(crate) fn order(&self) -> String {
        let dir = if self.descending { "desc" } else { "asc" };
        format!("{} {dir}, id {dir}", if self.sort_by_updated { "time_updated" } else { "time_created" })
    }
}

/// `time_created.min/.max` and `time_updated.min/.max` of a list, UNIX seconds (bounds included).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeWindow {
    pub created_min: Option<f64>,
    pub created_max: Option<f64>,
    pub updated_min: Option<f64>,
    pub updated_max: Option<f64>,
}

/// The owner filters of a list: `folder_id`, `user_id`, `company_id`, each with its `.exclude`
/// (an object without an owner or company is not left out by an `.exclude`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    pub folder_ids: Vec<Uuid>,
    pub folder_ids_exclude: Vec<Uuid>,
    pub user_ids: Vec<Uuid>,
    pub user_ids_exclude: Vec<Uuid>,
    pub company_ids: Vec<Uuid>,
    pub company_ids_exclude: Vec<Uuid>,
}

/// Filters of `GET /api/event_sessions/`: `session_id` (and `.exclude`), time ranges, paging.
#[derive(Debug, Clone, Default)]
pub struct EventSessionFilter {
    pub scope: Scope,
    pub ids: Vec<Uuid>,
    pub ids_exclude: Vec<Uuid>,
    pub window: TimeWindow,
    pub page: Page,
}

impl EventSessionFilter {
    /// No filter: everything in `scope`, newest first, 100 a page.
    #[must_use]
    pub fn new(scope: Scope) -> Self {
        Self { scope, ..Self::default() }
    }
}

/// Filters of `GET /api/analyses/` (every list is ANDed; an empty list filters nothing).
#[derive(Debug, Clone, Default)]
pub struct AnalysisListFilter {
    pub scope: Scope,
    pub ids: Vec<Uuid>,
    pub ids_exclude: Vec<Uuid>,
    pub owners: Owners,
    pub group_ids: Vec<Uuid>,
    /// Upper-case analysis types (`QUALITY`, ...).
    pub types: Vec<String>,
    pub types_exclude: Vec<String>,
    /// Upper-case; matches `state` or `resolution_status`.
    pub states: Vec<String>,
    pub states_exclude: Vec<String>,
    pub window: TimeWindow,
    pub meta: Vec<MetaCondition>,
    pub page: Page,
}

impl AnalysisListFilter {
    /// No filter: everything in `scope`, newest first, 100 a page.
    #[must_use]
    pub fn new(scope: Scope) -> Self {
        Self { scope, ..Self::default() }
    }
}

/// Filters of `GET /api/media/`.
#[derive(Debug, Clone, Default)]
pub struct MediaListFilter {
    pub scope: Scope,
    pub ids: Vec<Uuid>,
    pub ids_exclude: Vec<Uuid>,
    pub owners: Owners,
    /// Oz `media_type`s (`VIDEO_FOLDER`, ...).
    pub media_types: Vec<String>,
    pub media_types_exclude: Vec<String>,
    /// Media carrying any of these tags (exact, case-sensitive).
    pub tags: Vec<String>,
    /// Leaves out media carrying any of these tags.
    pub tags_exclude: Vec<String>,
    /// Best shots made by these analyses.
    pub analysis_ids: Vec<Uuid>,
    pub window: TimeWindow,
    pub meta: Vec<MetaCondition>,
    pub page: Page,
}

impl MediaListFilter {
    /// No filter: everything in `scope`, newest first, 100 a page.
    #[must_use]
    pub fn new(scope: Scope) -> Self {
        Self { scope, ..Self::default() }
    }
}

/// Filters of the statistics.
#[derive(Debug, Clone)]
pub struct StatsFilter {
    pub scope: Scope,
    pub company_ids: Vec<Uuid>,
    pub time_created_min: Option<f64>,
    pub time_created_max: Option<f64>,
    /// Seconds added to UTC before cutting days (the caller's time zone).
    pub tz_offset_s: i64,
    /// Also count per company (ADMIN and OPERATOR).
    pub per_company: bool,
}

/// A count of folders on one day (days since 1970-01-01 in the caller's time zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: i64,
    pub count: i64,
}

/// Folders by their status pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub resolution_status: String,
    pub system_resolution: String,
    pub count: i64,
}

/// Analyses on one day of one type with one `resolution_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisDayCount {
    pub day: i64,
    pub kind: String,
    pub resolution_status: String,
    pub count: i64,
}

/// Folders and analyses of one company (`None`: objects of users without a company).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyCount {
    pub company_id: Option<Uuid>,
    pub folders: i64,
    pub analyses: i64,
}

/// QUALITY (liveness) analyses by the system's verdict and the operators' decisions on them.
///
/// The system's verdict of an analysis is the `before_status` of its first decision in the audit
/// trail, or its `resolution_status` when no operator decided it; the operators' verdict is its
/// `resolution_status` after the latest decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LivenessCounts {
    /// State FINISHED: the system gave a verdict (`system_*` add up to this).
    pub finished: i64,
    /// State FAILED: no verdict (an error).
    pub failed: i64,
    /// State PROCESSING.
    pub processing: i64,
    pub system_success: i64,
    pub system_declined: i64,
    pub system_operator_required: i64,
    /// Finished analyses with at least one operator decision.
    pub decided: i64,
    /// Decided analyses whose latest decision is SUCCESS (labelled bona fide).
    pub operator_success: i64,
    /// Decided analyses whose latest decision is DECLINED (labelled attacks).
    pub operator_declined: i64,
    /// System SUCCESS, operators DECLINED: attacks the system let through.
    pub missed_attacks: i64,
    /// System DECLINED, operators SUCCESS: genuine users the system rejected.
    pub false_rejects: i64,
}

/// The work not done yet: analyses PROCESSING and webhook deliveries pending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueCounts {
    /// Analyses PROCESSING whose job no worker holds (queued, or its lease ran out).
    pub waiting: i64,
    /// Analyses PROCESSING whose job a worker holds (lease not run out).
    pub running: i64,
    /// The creation time of the oldest analysis PROCESSING.
    pub oldest_time_created: Option<f64>,
    /// Webhook deliveries in state `pending` for folders in scope.
    pub webhooks_pending: i64,
}

/// What the statistics counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub folders_per_day: Vec<DayCount>,
    pub folders_per_status: Vec<StatusCount>,
    pub analyses_per_day: Vec<AnalysisDayCount>,
    /// Empty unless [`StatsFilter::per_company`].
    pub per_company: Vec<CompanyCount>,
    /// QUALITY analyses created in the window.
    pub liveness: LivenessCounts,
    /// The queue now (scope and companies apply, the time window does not).
    pub queue: QueueCounts,
}

/// Days since 1970-01-01 of `col` (epoch seconds) shifted by the placeholder `off`: the floor of
/// the division on both engines (SQLite's cast truncates, which is the floor for the positive
/// times stored; PostgreSQL's cast would round).
fn day_expr(backend: Backend, col: &str, off: &str) -> String {
    match backend {
        Backend::Postgres => format!("cast(floor(({col} + {off}) / 86400.0) as bigint)"),
        Backend::Sqlite => format!("cast(({col} + {off}) / 86400.0 as integer)"),
    }
}

fn uuid_of(s: Option<String>) -> Option<Uuid> {
    s.and_then(|v| Uuid::parse_str(&v).ok())
}

impl Db {
    /// Analyses across folders, filtered, sorted and paged; the total is counted unless
    /// `with_total` is false.
    pub async fn analyses_list(
        &self,
        f: &AnalysisListFilter,
        with_total: bool,
    ) -> Result<(Vec<Analysis>, Option<i64>)> {
        let mut w = Where::default();
        w.folder_scope(&f.scope);
        w.any_of("id", &strings(&f.ids));
        w.none_of("id", &strings(&f.ids_exclude));
        w.owners(&f.owners, "folder_id");
        w.any_of("group_id", &strings(&f.group_ids));
        w.any_of("type", &f.types);
        w.none_of("type", &f.types_exclude);
        if !f.states.is_empty() {
            let l = w.strs(&f.states);
            w.conds.push(format!("(state in ({l}) or resolution_status in ({l}))"));
        }
        if !f.states_exclude.is_empty() {
            let l = w.strs(&f.states_exclude);
            w.conds.push(format!("state not in ({l}) and resolution_status not in ({l})"));
        }
        w.window(&f.window);
        w.meta(self.backend(), "analyses.meta_data", &f.meta);
        let rows = self.page_of("analyses", &w, &f.page).await?;
        let list = rows.iter().map(Analysis::from_row).collect::<Result<Vec<_>>>()?;
        let total = if with_total { Some(self.count_of("analyses", &w).await?) } else { None };
        Ok((list, total))
    }

    /// Media across folders, filtered, sorted and paged; the total is counted unless `with_total`
    /// is false.
    pub async fn media_list(&self, f: &MediaListFilter, with_total: bool) -> Result<(Vec<Media>, Option<i64>)> {
        let mut w = Where::default();
        w.scope(&f.scope, "user_id", "company_id");
        w.any_of("id", &strings(&f.ids));
        w.none_of("id", &strings(&f.ids_exclude));
        w.owners(&f.owners, "folder_id");
        w.any_of("media_type", &f.media_types);
        w.none_of("media_type", &f.media_types_exclude);
        w.any_of("analysis_id", &strings(&f.analysis_ids));
        for (list, negate) in [(&f.tags, false), (&f.tags_exclude, true)] {
            if list.is_empty() {
                continue;
            }
            let l = w.strs(list);
            let elements = match self.backend() {
                Backend::Postgres => "jsonb_array_elements_text(media.tags::jsonb) as t(value)",
                Backend::Sqlite => "json_each(media.tags) as t",
            };
            let has = format!("exists (select 1 from {elements} where t.value in ({l}))");
            w.conds.push(if negate { format!("not {has}") } else { has });
        }
        w.window(&f.window);
        w.meta(self.backend(), "media.meta_data", &f.meta);
        let rows = self.page_of("media", &w, &f.page).await?;
        let list = rows.iter().map(Media::from_row).collect::<Result<Vec<_>>>()?;
        let total = if with_total { Some(self.count_of("media", &w).await?) } else { None };
        Ok((list, total))
    }

    /// `GET /api/event_sessions/` (spec §15): sessions inside the filter's scope, newest first
    /// unless sorted otherwise; `total` is `None` when `with_total` is false.
    pub async fn event_sessions_list(
        &self,
        f: &EventSessionFilter,
        with_total: bool,
    ) -> Result<(Vec<crate::events::EventSession>, Option<i64>)> {
        let mut w = Where::default();
        w.scope(&f.scope, "user_id", "company_id");
        w.any_of("id", &strings(&f.ids));
        w.none_of("id", &strings(&f.ids_exclude));
        w.window(&f.window);
        let rows = self.page_of("event_sessions", &w, &f.page).await?;
        let list = rows.iter().map(crate::events::EventSession::from_row).collect::<Result<Vec<_>>>()?;
        let total = if with_total { Some(self.count_of("event_sessions", &w).await?) } else { None };
        Ok((list, total))
    }

    /// A page of `table`'s rows matching `w`.
    pub(crate) async fn page_of(&self, table: &str, w: &Where, page: &Page) -> Result<Vec<sqlx::any::AnyRow>> {
        let n = w.args.len();
        let sql = format!(
            "select * from {table} where {} order by {} limit ${} offset ${}",
            w.sql(),
            page.order(),
            n + 1,
            n + 2
        );
        Ok(bind_all(dynq(sql), &w.args).bind(page.limit).bind(page.offset).fetch_all(&self.pool).await?)
    }

    /// How many rows of `table` match `w`.
    pub(crate) async fn count_of(&self, table: &str, w: &Where) -> Result<i64> {
        let sql = format!("select count(*) as n from {table} where {}", w.sql());
        i(&bind_all(dynq(sql), &w.args).fetch_one(&self.pool).await?, "n")
    }

    /// Folders by id, with no scope check (the caller has already scoped what it lists).
    pub async fn folders_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Folder>> {
        self.by_ids("folders", ids).await?.iter().map(Folder::from_row).collect()
    }

    /// Users by id, with no scope check.
    pub async fn users_by_ids(&self, ids: &[Uuid]) -> Result<Vec<User>> {
        self.by_ids("users", ids).await?.iter().map(User::from_row).collect()
    }

    /// Companies by id, with no scope check.
    pub async fn companies_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Company>> {
        self.by_ids("companies", ids).await?.iter().map(Company::from_row).collect()
    }

    async fn by_ids(&self, table: &str, ids: &[Uuid]) -> Result<Vec<sqlx::any::AnyRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut w = Where::default();
        w.any_of("id", &strings(ids));
        let sql = format!("select * from {table} where {}", w.sql());
        Ok(bind_all(dynq(sql), &w.args).fetch_all(&self.pool).await?)
    }

    /// Folders and analyses counted per day, status, type and (optionally) company, in SQL.
    /// Folders count by their creation time, analyses by theirs.
    pub async fn statistics(&self, f: &StatsFilter) -> Result<Stats> {
        let company_ids = strings(&f.company_ids);
        let tz = f.tz_offset_s as f64;
        let folder_where = |w: &mut Where| {
            w.scope(&f.scope, "user_id", "company_id");
            w.any_of("company_id", &company_ids);
            w.range("time_created", f.time_created_min, f.time_created_max);
        };
        let analysis_where = |w: &mut Where| {
            w.folder_scope(&f.scope);
            w.any_of("company_id", &company_ids);
            w.range("time_created", f.time_created_min, f.time_created_max);
        };
        let mut out = Stats::default();

        let mut w = Where::default();
        let off = w.arg(Arg::F(tz));
        folder_where(&mut w);
        let sql = format!(
            "select d, count(*) as n from (select {} as d from folders where {}) t group by d order by d",
            day_expr(self.backend(), "time_created", &off),
            w.sql()
        );
        for r in bind_all(dynq(sql), &w.args).fetch_all(&self.pool).await? {
            out.folders_per_day.push(DayCount { day: i(&r, "d")?, count: i(&r, "n")? });
        }

        let mut w = Where::default();
        folder_where(&mut w);
        let sql = format!(
            "select resolution_status, system_resolution, count(*) as n from folders where {} \
             group by resolution_status, system_resolution order by resolution_status, system_resolution",
            w.sql()
        );
        for r in bind_all(dynq(sql), &w.args).fetch_all(&self.pool).await? {
            out.folders_per_status.push(StatusCount {
                resolution_status: os(&r, "resolution_status")?.unwrap_or_default(),
                system_resolution: os(&r, "system_resolution")?.unwrap_or_default(),
                count: i(&r, "n")?,
            });
        }

        let mut w = Where::default();
        let off = w.arg(Arg::F(tz));
        analysis_where(&mut w);
        let sql = format!(
            "select d, k, rs, count(*) as n from (select {} as d, type as k, resolution_status as rs from analyses \
             where {}) t group by d, k, rs order by d, k, rs",
            day_expr(self.backend(), "time_created", &off),
            w.sql()
        );
        for r in bind_all(dynq(sql), &w.args).fetch_all(&self.pool).await? {
            out.analyses_per_day.push(AnalysisDayCount {
                day: i(&r, "d")?,
                kind: os(&r, "k")?.unwrap_or_default(),
                resolution_status: os(&r, "rs")?.unwrap_or_default(),
                count: i(&r, "n")?,
            });
        }

        if f.per_company {
            let mut per: Vec<CompanyCount> = Vec::new();
            let mut w = Where::default();
            folder_where(&mut w);
            let sql = format!("select company_id, count(*) as n from folders where {} group by company_id", w.sql());
            let folder_rows = bind_all(dynq(sql), &w.args).fetch_all(&self.pool).await?;
            let mut w = Where::default();
            analysis_where(&mut w);
            let sql = format!("select company_id, count(*) as n from analyses where {} group by company_id", w.sql());
            let analysis_rows = bind_all(dynq(sql), &w.args).fetch_all(&self.pool).await?;
            for (rows, is_folder) in [(&folder_rows, true), (&analysis_rows, false)] {
                for r in rows {
                    let c = uuid_of(os(r, "company_id")?);
                    let n = i(r, "n")?;
                    let k = match per.iter().position(|x| x.company_id == c) {
                        Some(k) => k,
                        None => {
                            per.push(CompanyCount { company_id: c, folders: 0, analyses: 0 });
                            per.len() - 1
                        }
                    };
                    if is_folder {
                        per[k].folders += n;
                    } else {
                        per[k].analyses += n;
                    }
                }
            }
            per.sort_by(|a, b| {
                b.folders.cmp(&a.folders).then(b.analyses.cmp(&a.analyses)).then(a.company_id.cmp(&b.company_id))
            });
            out.per_company = per;
        }
        out.liveness = self.liveness_counts(f).await?;
        out.queue = self.queue_counts(f).await?;
        Ok(out)
    }

    /// QUALITY analyses created in the window by state, the system's verdict (the `before_status`
    /// of the first decision, or the verdict when nobody decided) and the latest verdict.
    async fn liveness_counts(&self, f: &StatsFilter) -> Result<LivenessCounts> {
        let mut w = Where::default();
        w.conds.push("type = 'QUALITY'".into());
        w.folder_scope(&f.scope);
        w.any_of("company_id", &strings(&f.company_ids));
        w.range("time_created", f.time_created_min, f.time_created_max);
        let sql = format!(
            "select st, rs, sys, count(*) as n from (select state as st, resolution_status as rs, \
             (select r.before_status from resolution_audit r where r.analysis_id = analyses.id \
             order by r.time_created, r.id limit 1) as sys from analyses where {}) t group by st, rs, sys",
            w.sql()
        );
        let mut l = LivenessCounts::default();
        for r in bind_all(dynq(sql), &w.args).fetch_all(&self.pool).await? {
            let (state, latest, first) =
                (os(&r, "st")?.unwrap_or_default(), os(&r, "rs")?.unwrap_or_default(), os(&r, "sys")?);
            let n = i(&r, "n")?;
            match state.as_str() {
                "FAILED" => l.failed += n,
                "PROCESSING" => l.processing += n,
                "FINISHED" => {
                    l.finished += n;
                    let system = first.as_deref().unwrap_or(latest.as_str());
                    match system {
                        "SUCCESS" => l.system_success += n,
                        "DECLINED" => l.system_declined += n,
                        "OPERATOR_REQUIRED" => l.system_operator_required += n,
                        _ => {}
                    }
                    if first.is_some() {
                        l.decided += n;
                        match latest.as_str() {
                            "SUCCESS" => l.operator_success += n,
                            "DECLINED" => l.operator_declined += n,
                            _ => {}
                        }
                        match (system, latest.as_str()) {
                            ("SUCCESS", "DECLINED") => l.missed_attacks += n,
                            ("DECLINED", "SUCCESS") => l.false_rejects += n,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(l)
    }

    /// Analyses PROCESSING now (waiting for a worker or held by one) and pending webhook
    /// deliveries, in scope and of the companies asked for; the time window does not apply.
    async fn queue_counts(&self, f: &StatsFilter) -> Result<QueueCounts> {
        let company_ids = strings(&f.company_ids);
        let processing = |w: &mut Where| {
            w.conds.push("state = 'PROCESSING'".into());
            w.folder_scope(&f.scope);
            w.any_of("company_id", &company_ids);
        };
        let mut q = QueueCounts::default();
        let mut w = Where::default();
        processing(&mut w);
        let sql = format!("select count(*) as n, min(time_created) as oldest from analyses where {}", w.sql());
        let r = bind_all(dynq(sql), &w.args).fetch_one(&self.pool).await?;
        let total = i(&r, "n")?;
        q.oldest_time_created = of(&r, "oldest")?;
        // Running: a worker holds the job's lease (few rows, found through `jobs_ready`).
        let mut w = Where::default();
        let now = w.arg(Arg::F(crate::now()));
        processing(&mut w);
        let sql = format!(
            "select count(*) as n from jobs where state = 'running' and lease_until >= {now} and \
             analysis_id in (select id from analyses where {})",
            w.sql()
        );
        q.running = i(&bind_all(dynq(sql), &w.args).fetch_one(&self.pool).await?, "n")?;
        q.waiting = (total - q.running).max(0);

        let mut w = Where::default();
        w.conds.push("state = 'pending'".into());
        w.folder_scope(&f.scope);
        if !company_ids.is_empty() {
            let l = w.strs(&company_ids);
            w.conds.push(format!("folder_id in (select f.id from folders f where f.company_id in ({l}))"));
        }
        let sql = format!("select count(*) as n from webhook_deliveries where {}", w.sql());
        q.webhooks_pending = i(&bind_all(dynq(sql), &w.args).fetch_one(&self.pool).await?, "n")?;
        Ok(q)
    }
}
