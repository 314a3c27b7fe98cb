//! `GET /api/statistics/` (our extension; Oz's statistics service has no public API): counts of
//! folders and analyses per day, per status and type, and (ADMIN, OPERATOR) per company, the
//! liveness verdicts against the operators' decisions (APCER/BPCER-style estimates) and the queue
//! now, for a web console to chart. Counted in SQL over the caller's scope only.

use std::collections::BTreeMap;

use crate::wire::Json;
use axum::extract::{Query, State};
use oz_domain::access::Role;
use oz_storage::lists::StatsFilter;
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::query::{self, Pairs};
use crate::apidoc::schemas::{
    AnalysisDayStats, AnalysisStats, AnalysisTypeStats, CompanyStats, DayStats, FolderStats, FolderStatusStats,
    LivenessStats, QueueStats, Statistics,
};
use crate::state::AppState;

const DAY: i64 = 86_400;

/// The civil date (year, month, day) of a day number (days since 1970-01-01), proleptic
/// Gregorian (H. Hinnant's `civil_from_days`).
#[must_use]
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `GET /api/statistics/?time_created.min=&time_created.max=&company_id=&tz_offset=`.
#[utoipa::path(
    get,
    path = "/api/statistics/",
    operation_id = "statistics",
    tag = "system",
    summary = "Counts of folders and analyses per day, status, type and company",
    params(crate::apidoc::params::StatisticsFilters),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = crate::apidoc::schemas::Statistics), crate::apidoc::ApiErrors)
)]
pub async fn statistics(State(st): State<AppState>, auth: Auth, Query(q): Query<Pairs>) -> ApiResult<Json<Statistics>> {
    let api = st.api()?;
    let tz_minutes = query::tz_offset(&q, "tz_offset")?;
    let min = query::time(&q, "time_created.min")?;
    let max = query::time(&q, "time_created.max")?;
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        return Err(ApiError::value("time_created.min is after time_created.max"));
    }
    let per_company = matches!(auth.principal.role, Role::Admin | Role::Operator);
    let f = StatsFilter {
        scope: auth.principal.data_scope(),
        company_ids: query::uuids(&q, "company_id")?,
        time_created_min: min,
        time_created_max: max,
        tz_offset_s: tz_minutes * 60,
        per_company,
    };
    let s = api.db.statistics(&f).await?;
    // A day's start as a UNIX time: midnight in the caller's zone.
    let day_start = |d: i64| d * DAY - f.tz_offset_s;

    let folders = FolderStats {
        total: s.folders_per_day.iter().map(|d| d.count).sum(),
        per_day: s
            .folders_per_day
            .iter()
            .map(|d| DayStats { date: date(d.day), time: day_start(d.day), count: d.count })
            .collect(),
        per_status: s
            .folders_per_status
            .iter()
            .map(|x| FolderStatusStats {
                resolution_status: x.resolution_status.clone(),
                system_resolution: x.system_resolution.clone(),
                count: x.count,
            })
            .collect(),
    };

    let mut per_type: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for d in &s.analyses_per_day {
        *per_type.entry((d.kind.as_str(), d.resolution_status.as_str())).or_default() += d.count;
    }
    let analyses = AnalysisStats {
        total: s.analyses_per_day.iter().map(|d| d.count).sum(),
        per_day: s
            .analyses_per_day
            .iter()
            .map(|d| AnalysisDayStats {
                date: date(d.day),
                time: day_start(d.day),
                kind: d.kind.clone(),
                resolution_status: d.resolution_status.clone(),
                count: d.count,
            })
            .collect(),
        per_type: per_type
            .iter()
            .map(|(&(t, rs), &n)| AnalysisTypeStats { kind: t.into(), resolution_status: rs.into(), count: n })
            .collect(),
    };

    let l = &s.liveness;
    // Operator-labelled estimates: of the cases operators labelled attacks (bona fide), the
    // share the system had passed (rejected). None until there is such a case.
    let rate = |n: i64, of: i64| (of > 0).then(|| (n as f64 / of as f64 * 1e6).round() / 1e6);
    let liveness = LivenessStats {
        finished: l.finished,
        failed: l.failed,
        processing: l.processing,
        system_success: l.system_success,
        system_declined: l.system_declined,
        system_operator_required: l.system_operator_required,
        decided: l.decided,
        operator_success: l.operator_success,
        operator_declined: l.operator_declined,
        missed_attacks: l.missed_attacks,
        false_rejects: l.false_rejects,
        apcer_estimate: rate(l.missed_attacks, l.operator_declined),
        bpcer_estimate: rate(l.false_rejects, l.operator_success),
    };
    let q = &s.queue;
    let now = oz_storage::now();
    let queue = QueueStats {
        processing: q.waiting + q.running,
        waiting: q.waiting,
        running: q.running,
        oldest_age_s: q.oldest_time_created.map(|t| (now - t).max(0.0).floor() as i64),
        webhooks_pending: q.webhooks_pending,
    };

    let per_company = if per_company {
        let ids: Vec<Uuid> = s.per_company.iter().filter_map(|c| c.company_id).collect();
        let names: BTreeMap<Uuid, String> =
            api.db.companies_by_ids(&ids).await?.into_iter().map(|c| (c.id, c.name)).collect();
        Some(
            s.per_company
                .iter()
                .map(|c| CompanyStats {
                    company_id: c.company_id.map(|u| u.to_string()),
                    name: c.company_id.and_then(|u| names.get(&u).cloned()),
                    folders: c.folders,
                    analyses: c.analyses,
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(Json(Statistics {
        time_created_min: min,
        time_created_max: max,
        tz_offset: tz_minutes,
        folders,
        analyses,
        liveness,
        queue,
        per_company,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        assert_eq!(date(20_089), "2025-01-01");
        // 2025-06-30T23:30:00Z is 2025-07-01 in UTC+3.
        let t: i64 = 1_751_326_200;
        assert_eq!(date(t.div_euclid(DAY)), "2025-06-30");
        assert_eq!(date((t + 180 * 60).div_euclid(DAY)), "2025-07-01");
    }
}
