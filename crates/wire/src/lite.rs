//! API Lite answers (spec §14, oz-docs/api-lite-methods.md), in Oz's key order
//! (`{"score": ..., "decision": ...}`).

use serde::Serialize;
use utoipa::ToSchema;

/// One model the service runs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LiteModel {
    pub name: String,
    pub version: String,
}

/// `GET /version`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LiteVersion {
    pub core: String,
    pub tfss: String,
    pub models: Vec<LiteModel>,
}

/// `GET .../health`: 0 working, 3 inoperative.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LiteHealth {
    pub status: i64,
    pub message: String,
}

/// The decision of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiteDecision {
    Approved,
    OperatorRequired,
    Declined,
}

/// A 1:1 comparison.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LiteScore {
    /// In [0, 1], 1 = same person.
    pub score: f64,
    pub decision: LiteDecision,
}

/// One comparison of a 1:N request.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LiteScoreOf {
    pub filename: String,
    pub score: f64,
    pub decision: LiteDecision,
}

/// A 1:N comparison.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LiteScores {
    pub results: Vec<LiteScoreOf>,
}

/// Raw-image liveness answer.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LitePassed {
    pub passed: bool,
    /// `confidence_spoofing`: chance of an attack, 0..1.
    pub score: f64,
}

impl From<oz_domain::decision::Decision> for LiteDecision {
    fn from(d: oz_domain::decision::Decision) -> Self {
        use oz_domain::decision::Decision;
        match d {
            Decision::Approved => Self::Approved,
            Decision::OperatorRequired => Self::OperatorRequired,
            Decision::Declined => Self::Declined,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Oz's order (oz-docs/api-lite-methods.md): score, then decision.
    #[test]
    fn compare_answer_in_oz_order() {
        let s = crate::json::to_string(&LiteScore {
            score: 0.983396,
            decision: oz_domain::decision::Decision::Approved.into(),
        })
        .expect("json");
        assert_eq!(s, r#"{"score": 0.983396, "decision": "approved"}"#);
    }
}
