//! Caps on what a client may send in one request: every list and free-form object has a bound, so
//! a small body cannot make the server store or loop over an unbounded amount. Handlers apply
//! these rules and answer a refusal as Oz error 4 (`400`, invalid value) or its Lite equivalent.

use std::collections::HashSet;
use std::hash::Hash;

use serde_json::Value;

/// Media one analysis takes: the ids of its `source_media` (after de-duplication) or, without
/// `source_media`, the folder's media that suit it (`assign::inputs` refuses more, it never picks
/// a subset). Bounds one BIOMETRY to 1225 pairs.
pub const MAX_SOURCE_MEDIA: usize = 50;
/// Analyses started by one request (`analyses` of a folder upload or `POST .../analyses`, and
/// Lite's `payload.analyses`).
pub const MAX_ANALYSES: usize = 20;
/// Tags of one media (after de-duplication).
pub const MAX_TAGS: usize = 50;
/// Characters of one tag.
pub const MAX_TAG_CHARS: usize = 256;
/// Keys of a `meta_data` object (top level).
pub const MAX_META_KEYS: usize = 256;
/// Bytes of a `meta_data` object, serialised.
pub const MAX_META_BYTES: usize = 64 * 1024;
/// Nesting depth of a `meta_data` object.
pub const MAX_META_DEPTH: usize = 16;
/// Values of one list filter in a query string (`folder_id`, `media_id`, `tags`, `meta_data`, ...).
pub const MAX_QUERY_VALUES: usize = 100;
/// Keyed per-media entries of a request (`media:tags`, `media:meta_data`): at most one per part,
/// and no request has more parts than this.
pub const MAX_MEDIA_ENTRIES: usize = 100;

/// Characters of a short text field: a company's name, a user's names and email.
pub const MAX_TEXT_CHARS: usize = 256;
/// Bytes of a password (any length hashes in the same time; the bound keeps bodies small).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a client's list or object is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    #[error("{what} has {count} items, the limit is {limit}")]
    TooMany { what: String, count: usize, limit: usize },
    #[error("{what} is {size} long, the limit is {limit}")]
    TooLong { what: String, size: usize, limit: usize },
    #[error("{what} is nested deeper than {limit} levels")]
    TooDeep { what: String, limit: usize },
}

/// `count` items of `what`, at most `limit`.
pub fn count(what: &str, count: usize, limit: usize) -> Result<(), CapError> {
    if count > limit {
        return Err(CapError::TooMany { what: what.to_string(), count, limit });
    }
    Ok(())
}

/// The items in their first-seen order without repeats, at most `limit` of them.
pub fn unique<T: Eq + Hash + Clone>(what: &str, items: &[T], limit: usize) -> Result<Vec<T>, CapError> {
    let mut seen = HashSet::with_capacity(items.len().min(limit + 1));
    let mut out = Vec::new();
    for it in items {
        if seen.insert(it) {
            out.push(it.clone());
            count(what, out.len(), limit)?;
        }
    }
    Ok(out)
}

/// An analysis's `source_media`: de-duplicated, at most [`MAX_SOURCE_MEDIA`].
pub fn source_media(ids: &[uuid::Uuid]) -> Result<Vec<uuid::Uuid>, CapError> {
    unique("source_media", ids, MAX_SOURCE_MEDIA)
}

/// A media's tags: de-duplicated, at most [`MAX_TAGS`], each at most [`MAX_TAG_CHARS`] characters.
pub fn tags(list: &[String]) -> Result<Vec<String>, CapError> {
    for t in list {
        let n = t.chars().count();
        if n > MAX_TAG_CHARS {
            return Err(CapError::TooLong { what: "a tag".into(), size: n, limit: MAX_TAG_CHARS });
        }
    }
    unique("tags", list, MAX_TAGS)
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A `meta_data` object named `what`: at most [`MAX_META_KEYS`] keys, [`MAX_META_BYTES`] bytes as
/// JSON and [`MAX_META_DEPTH`] levels.
pub fn meta_data(what: &str, v: &Value) -> Result<(), CapError> {
    if let Value::Object(m) = v {
        count(&format!("{what} keys"), m.len(), MAX_META_KEYS)?;
    }
    let d = depth(v);
    if d > MAX_META_DEPTH {
        return Err(CapError::TooDeep { what: what.to_string(), limit: MAX_META_DEPTH });
    }
    let size = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    if size > MAX_META_BYTES {
        return Err(CapError::TooLong { what: format!("{what} (bytes of JSON)"), size, limit: MAX_META_BYTES });
    }
    Ok(())
}

/// A text field named `what`: at most `limit` characters.
pub fn text(what: &str, s: &str, limit: usize) -> Result<(), CapError> {
    // Counting stops past the limit: a huge string costs no more than the limit to check.
    let size = s.chars().take(limit + 1).count();
    if size > limit {
        return Err(CapError::TooLong { what: format!("{what} (characters)"), size: s.chars().count(), limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn text_fields_are_capped_in_characters() {
        assert!(text("first_name", &"é".repeat(MAX_TEXT_CHARS), MAX_TEXT_CHARS).is_ok());
        let err = text("first_name", &"a".repeat(900_000), MAX_TEXT_CHARS).expect_err("too long");
        assert!(matches!(err, CapError::TooLong { limit: MAX_TEXT_CHARS, .. }), "{err}");
    }

    #[test]
    fn source_media_is_deduplicated_in_order_and_capped() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(source_media(&[a, b, a, a, b]).expect("ok"), vec![a, b]);
        // A thousand repeats of two ids are two ids.
        let many: Vec<Uuid> = (0..1000).map(|i| if i % 2 == 0 { a } else { b }).collect();
        assert_eq!(source_media(&many).expect("ok").len(), 2);
        let distinct: Vec<Uuid> = (0..=MAX_SOURCE_MEDIA).map(|_| Uuid::new_v4()).collect();
        assert_eq!(source_media(&distinct[..MAX_SOURCE_MEDIA]).expect("at the cap").len(), MAX_SOURCE_MEDIA);
        assert_eq!(
            source_media(&distinct),
            Err(CapError::TooMany {
                what: "source_media".into(),
                count: MAX_SOURCE_MEDIA + 1,
                limit: MAX_SOURCE_MEDIA
            })
        );
    }

    #[test]
    fn tags_are_deduplicated_and_bounded() {
        let t = |s: &str| s.to_string();
        assert_eq!(tags(&[t("video_selfie"), t("x"), t("video_selfie")]).expect("ok"), vec![t("video_selfie"), t("x")]);
        let long = "é".repeat(MAX_TAG_CHARS + 1);
        assert!(matches!(tags(&[long]), Err(CapError::TooLong { .. })));
        assert!(tags(&["é".repeat(MAX_TAG_CHARS)]).is_ok(), "characters, not bytes");
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(matches!(tags(&many), Err(CapError::TooMany { .. })));
        assert!(tags(&many[..MAX_TAGS]).is_ok());
    }

    #[test]
    fn meta_data_is_bounded_in_keys_bytes_and_depth() {
        assert!(meta_data("meta_data", &json!({"a": 1, "b": {"c": [1, 2, 3]}})).is_ok());
        let keys: serde_json::Map<String, Value> = (0..=MAX_META_KEYS).map(|i| (format!("k{i}"), json!(1))).collect();
        assert!(matches!(meta_data("meta_data", &Value::Object(keys)), Err(CapError::TooMany { .. })));
        let big = json!({ "blob": "x".repeat(MAX_META_BYTES) });
        assert!(matches!(meta_data("meta_data", &big), Err(CapError::TooLong { .. })));
        let mut deep = json!(1);
        for _ in 0..=MAX_META_DEPTH {
            deep = json!({ "d": deep });
        }
        assert!(matches!(meta_data("meta_data", &deep), Err(CapError::TooDeep { .. })));
    }

    #[test]
    fn plain_counts() {
        assert!(count("analyses", MAX_ANALYSES, MAX_ANALYSES).is_ok());
        let e = count("analyses", MAX_ANALYSES + 1, MAX_ANALYSES).expect_err("over");
        assert_eq!(e.to_string(), format!("analyses has {} items, the limit is {MAX_ANALYSES}", MAX_ANALYSES + 1));
    }
}
