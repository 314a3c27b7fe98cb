//! Query-string conventions of the Oz API (spec §1.4): paging, sorting, `.min/.max` ranges,
//! comma lists, `meta_data=key==value`, boolean flags.

use oz_domain::caps;
use oz_storage::folders::MetaCondition;

use super::error::ApiError;

pub type Pairs = Vec<(String, String)>;

pub fn get<'a>(q: &'a Pairs, key: &str) -> Option<&'a str> {
    q.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub fn all<'a>(q: &'a Pairs, key: &str) -> Vec<&'a str> {
    q.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}

/// `true`, `True`, `1` → true.
pub fn flag(q: &Pairs, key: &str) -> bool {
    get(q, key).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// Comma-separated values of every occurrence of `key`, upper-cased, de-duplicated, at most
/// [`caps::MAX_QUERY_VALUES`].
pub fn list(q: &Pairs, key: &str) -> Result<Vec<String>, ApiError> {
    let v: Vec<String> = all(q, key)
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .collect();
    Ok(caps::unique(key, &v, caps::MAX_QUERY_VALUES)?)
}

/// Like [`list`], but keeps the case of the values (tags).
pub fn strings(q: &Pairs, key: &str) -> Result<Vec<String>, ApiError> {
    let v: Vec<String> =
        all(q, key).iter().flat_map(|v| v.split(',')).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    Ok(caps::unique(key, &v, caps::MAX_QUERY_VALUES)?)
}

/// UUIDs of `key` and of its alias (`analyse_id` / `analysis_id`), de-duplicated.
pub fn uuids_of(q: &Pairs, keys: &[&str]) -> Result<Vec<uuid::Uuid>, ApiError> {
    let mut out: Vec<uuid::Uuid> = Vec::new();
    for k in keys {
        for id in uuids(q, k)? {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// `offset` (default 0), `limit` (default 100, at most 1000), `sorting`, and whether the total is
/// wanted (`total_omit` not set).
pub fn page(q: &Pairs) -> Result<(oz_storage::lists::Page, bool), ApiError> {
    let (sort_by_updated, descending) = sorting(q)?;
    let page = oz_storage::lists::Page {
        sort_by_updated,
        descending,
        offset: int(q, "offset", 0, i64::MAX)?,
        limit: int(q, "limit", 100, 1000)?,
    };
    Ok((page, !flag(q, "total_omit")))
}

/// Largest time-zone offset accepted, minutes (UTC+14:00 is the easternmost zone in use).
pub const MAX_TZ_OFFSET_MINUTES: i64 = 14 * 60;

/// `tz_offset`: the caller's time zone as whole minutes east of UTC (`180` for UTC+3, `-300` for
/// UTC-5), or `±HH:MM`; `Z` and `UTC` are 0. Answers minutes.
pub fn tz_offset(q: &Pairs, key: &str) -> Result<i64, ApiError> {
    let Some(v) = get(q, key).map(str::trim).filter(|v| !v.is_empty()) else { return Ok(0) };
    let bad = || {
        ApiError::value(format!(
            "{key} must be whole minutes east of UTC (-{m}..={m}) or +HH:MM, got {v:?}",
            m = MAX_TZ_OFFSET_MINUTES
        ))
    };
    let minutes = if v.eq_ignore_ascii_case("z") || v.eq_ignore_ascii_case("utc") {
        0
    } else if let Some((h, m)) = v.split_once(':') {
        let (sign, h) = match h.as_bytes().first() {
            Some(b'+') => (1, &h[1..]),
            Some(b'-') => (-1, &h[1..]),
            _ => return Err(bad()),
        };
        let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || m.len() != 2 || !digits(m) {
            return Err(bad());
        }
        let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 {
            return Err(bad());
        }
        sign * (h * 60 + m)
    } else {
        v.parse::<i64>().map_err(|_| bad())?
    };
    if minutes.abs() > MAX_TZ_OFFSET_MINUTES {
        return Err(bad());
    }
    Ok(minutes)
}

pub fn float(q: &Pairs, key: &str) -> Result<Option<f64>, ApiError> {
    match get(q, key) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| ApiError::value(format!("{key} must be a UNIX timestamp, got {v:?}"))),
    }
}

/// Values of a time filter above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
const MILLIS_ABOVE: f64 = 1e11;

/// A time filter (`time_created.min` ...): UNIX seconds, or milliseconds as JavaScript clients
/// send them (`Date.now() - 3600000`); a value above 1e11 is taken as milliseconds.
pub fn time(q: &Pairs, key: &str) -> Result<Option<f64>, ApiError> {
    Ok(float(q, key)?.map(seconds))
}

/// `time_created.min/.max` and `time_updated.min/.max` (see [`time`]).
pub fn window(q: &Pairs) -> Result<oz_storage::lists::TimeWindow, ApiError> {
    let [created_min, created_max, updated_min, updated_max] =
        ["time_created.min", "time_created.max", "time_updated.min", "time_updated.max"].map(|k| time(q, k));
    Ok(oz_storage::lists::TimeWindow {
        created_min: created_min?,
        created_max: created_max?,
        updated_min: updated_min?,
        updated_max: updated_max?,
    })
}

/// `folder_id`, `user_id`, `company_id` and their `.exclude` (see [`uuids`]).
pub fn owners(q: &Pairs) -> Result<oz_storage::lists::Owners, ApiError> {
    let ids_of = |key: &str| -> Result<(Vec<uuid::Uuid>, Vec<uuid::Uuid>), ApiError> {
        Ok((uuids(q, key)?, uuids(q, &format!("{key}.exclude"))?))
    };
    let ((folder_ids, folder_ids_exclude), (user_ids, user_ids_exclude), (company_ids, company_ids_exclude)) =
        (ids_of("folder_id")?, ids_of("user_id")?, ids_of("company_id")?);
    Ok(oz_storage::lists::Owners {
        folder_ids,
        folder_ids_exclude,
        user_ids,
        user_ids_exclude,
        company_ids,
        company_ids_exclude,
    })
}

/// Seconds from a timestamp in seconds or milliseconds (see [`time`]).
#[must_use]
pub fn seconds(t: f64) -> f64 {
    if t.abs() > MILLIS_ABOVE { t / 1000.0 } else { t }
}

pub fn int(q: &Pairs, key: &str, default: i64, max: i64) -> Result<i64, ApiError> {
    match get(q, key) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| ApiError::value(format!("{key} must be an integer in 0..={max}, got {v:?}"))),
    }
}

/// Comma-separated UUIDs of every occurrence of `key`, de-duplicated, at most
/// [`caps::MAX_QUERY_VALUES`].
pub fn uuids(q: &Pairs, key: &str) -> Result<Vec<uuid::Uuid>, ApiError> {
    let v = all(q, key)
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| uuid::Uuid::parse_str(s.trim()).map_err(|_| ApiError::value(format!("{key}: {s:?} is not a UUID"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(caps::unique(key, &v, caps::MAX_QUERY_VALUES)?)
}

/// `sorting=time_created{desc}` (also `-time_created`, `time_created`) → (by_updated, descending).
pub fn sorting(q: &Pairs) -> Result<(bool, bool), ApiError> {
    let Some(v) = get(q, "sorting") else { return Ok((false, true)) };
    let v = v.trim();
    let (field, desc) = if let Some(f) = v.strip_prefix('-') {
        (f, true)
    } else if let Some((f, dir)) = v.split_once('{') {
        match dir.trim_end_matches('}').to_ascii_lowercase().as_str() {
            "asc" => (f, false),
            "desc" => (f, true),
            _ => return Err(ApiError::value(format!("sorting direction must be asc or desc: {v:?}"))),
        }
    } else {
        (v, false)
    };
    match field {
        "time_created" => Ok((false, desc)),
        "time_updated" => Ok((true, desc)),
        _ => Err(ApiError::value(format!("cannot sort by {field:?}: use time_created or time_updated"))),
    }
}

/// `meta_data=key==value` / `meta_data=key!=value`, at most [`caps::MAX_QUERY_VALUES`].
pub fn meta(q: &Pairs) -> Result<Vec<MetaCondition>, ApiError> {
    let all = all(q, "meta_data");
    caps::count("meta_data filters", all.len(), caps::MAX_QUERY_VALUES)?;
    all.iter()
        .map(|v| {
            if let Some((k, val)) = v.split_once("!=") {
                Ok(MetaCondition { key: k.trim().to_string(), equal: false, value: val.to_string() })
            } else if let Some((k, val)) = v.split_once("==") {
                Ok(MetaCondition { key: k.trim().to_string(), equal: true, value: val.to_string() })
            } else {
                Err(ApiError::value(format!("meta_data filter must be key==value or key!=value, got {v:?}")))
            }
        })
        .filter(|c| c.as_ref().map_or(true, |c| !c.key.is_empty()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Pairs {
        pairs.iter().map(|(a, b)| ((*a).to_string(), (*b).to_string())).collect()
    }

    #[test]
    fn parses_oz_conventions() {
        let p = q(&[("sorting", "time_updated{asc}"), ("meta_data", "transaction_id==abc"), ("meta_data", "x!=1")]);
        assert_eq!(sorting(&p).expect("ok"), (true, false));
        assert_eq!(sorting(&q(&[("sorting", "-time_created")])).expect("ok"), (false, true));
        assert!(sorting(&q(&[("sorting", "name")])).is_err());
        let m = meta(&p).expect("ok");
        assert_eq!(m[0], MetaCondition { key: "transaction_id".into(), equal: true, value: "abc".into() });
        assert!(!m[1].equal);
        assert!(meta(&q(&[("meta_data", "nonsense")])).is_err());
        assert!(flag(&q(&[("with_analyses", "True")]), "with_analyses"));
        assert_eq!(list(&q(&[("type", "biometry,quality")]), "type").expect("ok"), vec!["BIOMETRY", "QUALITY"]);
        assert!(int(&q(&[("limit", "-1")]), "limit", 100, 1000).is_err());
        assert!(float(&q(&[("time_created.min", "abc")]), "time_created.min").is_err());
    }

    #[test]
    fn time_filters_take_seconds_or_milliseconds() {
        let t = |v: &str| time(&q(&[("time_created.min", v)]), "time_created.min").expect("ok");
        assert_eq!(t("1796200000"), Some(1_796_200_000.0));
        assert_eq!(t("1796200000.25"), Some(1_796_200_000.25));
        // Date.now() - 3600000, as a public proxy sends it.
        assert_eq!(t("1796200000123"), Some(1_796_200_000.123));
        assert_eq!(t(""), None);
        assert!(time(&q(&[("time_created.min", "soon")]), "time_created.min").is_err());
    }

    #[test]
    fn time_zone_offsets() {
        let tz = |v: &str| tz_offset(&q(&[("tz_offset", v)]), "tz_offset");
        assert_eq!(tz("180").expect("ok"), 180);
        assert_eq!(tz("-300").expect("ok"), -300);
        assert_eq!(tz("+03:00").expect("ok"), 180);
        assert_eq!(tz("-05:30").expect("ok"), -330);
        assert_eq!(tz("+05:45").expect("ok"), 345);
        assert_eq!(tz("+14:00").expect("ok"), 840);
        assert_eq!(tz("UTC").expect("ok"), 0);
        assert_eq!(tz("").expect("ok"), 0);
        assert_eq!(tz_offset(&q(&[]), "tz_offset").expect("ok"), 0);
        for bad in ["841", "-900", "+15:00", "+03:60", "soon", "+", "3h", "+3:xx", "03:00", "+:30", "1.5"] {
            let e = tz(bad).expect_err(bad);
            assert_eq!((e.status.as_u16(), e.code), (400, 4), "{bad}");
        }
    }

    #[test]
    fn case_kept_lists_and_paging() {
        let p =
            q(&[("tags", "video_selfie,Photo_ID"), ("tags", "video_selfie"), ("limit", "5"), ("total_omit", "true")]);
        assert_eq!(strings(&p, "tags").expect("ok"), vec!["video_selfie", "Photo_ID"]);
        let (page, total) = page(&p).expect("ok");
        assert_eq!((page.limit, page.offset, page.descending, total), (5, 0, true, false));
        let a = uuid::Uuid::new_v4();
        let b = uuid::Uuid::new_v4();
        let p = q(&[("analyse_id", &a.to_string()), ("analysis_id", &format!("{b},{a}"))]);
        assert_eq!(uuids_of(&p, &["analyse_id", "analysis_id"]).expect("ok"), vec![a, b]);
    }

    #[test]
    fn query_lists_are_deduplicated_and_capped() {
        let id = uuid::Uuid::new_v4().to_string();
        let same = vec![id.as_str(); 500].join(",");
        assert_eq!(uuids(&q(&[("folder_id", &same)]), "folder_id").expect("repeats are one").len(), 1);
        let many: Vec<String> = (0..=caps::MAX_QUERY_VALUES).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        let e = uuids(&q(&[("folder_id", &many.join(","))]), "folder_id").expect_err("over the cap");
        assert_eq!((e.status.as_u16(), e.code), (400, 4));
        let states: Vec<String> = (0..=caps::MAX_QUERY_VALUES).map(|i| format!("s{i}")).collect();
        assert!(list(&q(&[("state", &states.join(","))]), "state").is_err());
        let conds: Vec<(&str, &str)> = (0..=caps::MAX_QUERY_VALUES).map(|_| ("meta_data", "a==b")).collect();
        assert!(meta(&q(&conds)).is_err());
    }
}
