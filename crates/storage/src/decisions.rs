//! Operator decisions (spec §3.1, §8.2): the final verdict an OPERATOR or CLIENT OPERATOR sets on
//! a finished analysis, the folder fields that follow from it, and the audit trail of every
//! decision. The rule (who, which analyses, which verdicts) is `oz_domain`'s; this module records
//! a decision atomically with the folder's recomputed status and a webhook delivery.

use oz_domain::access::Scope;
use oz_domain::status::{self, ResolutionStatus};
use uuid::Uuid;

use crate::accounts::scope_sql;
use crate::analyses::{FolderUpdate, close_folder};
use crate::folders::{Arg, bind_all};
use crate::model::{Analysis, Folder, User, f, id, oid, os, s};
use crate::{Db, Result, StoreError, dynq, now};

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub analysis_id: Uuid,
    pub folder_id: Uuid,
    pub company_id: Option<Uuid>,
    pub user_id: Uuid,
    pub user_email: String,
    pub before: String,
    pub after: String,
    pub comment: Option<String>,
    pub time_created: f64,
}

/// Filters of the audit trail list.
#[derive(Debug, Clone)]
pub struct AuditFilter {
    pub scope: Scope,
    pub analysis_id: Option<Uuid>,
    pub folder_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub time_min: Option<f64>,
    pub time_max: Option<f64>,
    pub offset: i64,
    pub limit: i64,
}

/// What a decision changed.
#[derive(Debug, Clone)]
pub struct Decided {
    pub analysis: Analysis,
    pub folder: FolderUpdate,
}

impl AuditEntry {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self> {
        Ok(Self {
            id: id(r, "id")?,
            analysis_id: id(r, "analysis_id")?,
            folder_id: id(r, "folder_id")?,
            company_id: oid(r, "company_id")?,
            user_id: id(r, "user_id")?,
            user_email: s(r, "user_email")?,
            before: s(r, "before_status")?,
            after: s(r, "after_status")?,
            comment: os(r, "comment")?,
            time_created: f(r, "time_created")?,
        })
    }
}

impl Db {
    /// Records `operator`'s decision `verdict` on analysis `analysis_id` with `comment`: the
    /// analysis takes the verdict and the operator's name, the folder its `operator_status`,
    /// `operator_comment`, `resolution_author_id`, `resolution_time` and a recomputed
    /// `system_resolution`; an audit row keeps before and after; and the folder's webhook is
    /// queued again when it has a `resolution_endpoint`. The analysis is re-checked inside the
    /// transaction (`Conflict` when it can no longer be decided).
    pub async fn decide_analysis(
        &self,
        analysis_id: Uuid,
        operator: &User,
        verdict: ResolutionStatus,
        comment: Option<&str>,
    ) -> Result<Decided> {
        let t = now();
        let before = self.analysis(analysis_id, &Scope::All).await?;
        let folder = self.folder(before.folder_id, &Scope::All).await?;
        // The same per-folder lock as a worker finishing a job: one status recomputation at a time.
        let mut tx = self.begin_on_folder(folder.id).await?;
        let row = sqlx::query("select state, resolution_status, resolution_operator from analyses where id = $1")
            .bind(analysis_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let state = serde_json::from_value(serde_json::Value::String(s(&row, "state")?))
            .map_err(|e| StoreError::Corrupt(format!("state: {e}")))?;
        let current = crate::model::status(&row, "resolution_status")?;
        let earlier = crate::model::oid(&row, "resolution_operator")?.is_some();
        status::operator_decision(state, current, verdict, earlier, comment)
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        let comment = comment.map(str::to_string);
        sqlx::query(
            "update analyses set resolution_status = $2, resolution_operator = $3, operator_comment = $4, \
             resolution_time = $5, time_updated = $5 where id = $1",
        )
        .bind(analysis_id.to_string())
        .bind(verdict.as_str())
        .bind(operator.id.to_string())
        .bind(comment.clone())
        .bind(t)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into resolution_audit (id, analysis_id, folder_id, company_id, user_id, user_email, \
             before_status, after_status, comment, time_created) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(analysis_id.to_string())
        .bind(folder.id.to_string())
        .bind(folder.company_id.map(|c| c.to_string()))
        .bind(operator.id.to_string())
        .bind(operator.email.clone())
        .bind(current.as_str())
        .bind(verdict.as_str())
        .bind(comment.clone())
        .bind(t)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "update folders set operator_status = $2, operator_comment = $3, resolution_author_id = $4, \
             resolution_time = $5 where id = $1",
        )
        .bind(folder.id.to_string())
        .bind(verdict.as_str())
        .bind(comment)
        .bind(operator.id.to_string())
        .bind(t)
        .execute(&mut *tx)
        .await?;
        let mut update = close_folder(&mut tx, &folder, t).await?;
        // The folder was already closed, so closing it queued nothing: its webhook goes again
        // with the decision (receivers de-duplicate on X-Oz-Event-Id, new for each delivery).
        if update.webhook.is_none()
            && matches!(update.resolution_status, ResolutionStatus::Finished | ResolutionStatus::Failed)
            && let Some(url) = endpoint(&folder)
        {
            update.webhook = Some(crate::webhooks::queue_delivery(&mut tx, folder.id, &url, t).await?);
        }
        tx.commit().await?;
        let analysis = self.analysis(analysis_id, &Scope::All).await?;
        Ok(Decided { analysis, folder: update })
    }

    /// The audit trail inside `f.scope` (by the analysis' company), newest first, and the total.
    pub async fn audit_entries(&self, f: &AuditFilter) -> Result<(Vec<AuditEntry>, i64)> {
        // Own-user scopes do not apply to the trail: it is read by operators and company admins.
        let (cond, arg) = scope_sql(&f.scope, "company_id", "company_id", 1);
        let mut args: Vec<Arg> = arg.into_iter().map(Arg::S).collect();
        let mut sql = format!(" from resolution_audit where {cond}");
        for (col, v) in [("analysis_id", f.analysis_id), ("folder_id", f.folder_id), ("user_id", f.user_id)] {
            if let Some(v) = v {
                args.push(Arg::S(v.to_string()));
                sql.push_str(&format!(" and {col} = ${}", args.len()));
            }
        }
        for (op, v) in [(">=", f.time_min), ("<=", f.time_max)] {
            if let Some(v) = v {
                args.push(Arg::F(v));
                sql.push_str(&format!(" and time_created {op} ${}", args.len()));
            }
        }
        let n = args.len();
        let list_sql = format!("select *{sql} order by time_created desc, id limit ${} offset ${}", n + 1, n + 2);
        let q = bind_all(dynq(list_sql), &args);
        let c = bind_all(dynq(format!("select count(*) as n{sql}")), &args);
        let rows = q.bind(f.limit).bind(f.offset).fetch_all(&self.pool).await?;
        let entries = rows.iter().map(AuditEntry::from_row).collect::<Result<Vec<_>>>()?;
        let total = crate::model::i(&c.fetch_one(&self.pool).await?, "n")?;
        Ok((entries, total))
    }
}

fn endpoint(folder: &Folder) -> Option<String> {
    folder.resolution_endpoint.clone().filter(|u| !u.trim().is_empty())
}
