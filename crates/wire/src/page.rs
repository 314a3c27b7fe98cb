//! The envelope of every list (spec §1.4): `{"total", "offset", "limit", "items"}`, `total` left
//! out with `total_omit=true`.

use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// Every match, paging aside; left out with `total_omit=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    pub offset: i64,
    pub limit: i64,
    pub items: Vec<T>,
}

impl<T: ToSchema> Page<T> {
    #[must_use]
    pub fn new(items: Vec<T>, offset: i64, limit: i64, total: Option<i64>) -> Self {
        Self { total, offset, limit, items }
    }
}
