//! Oz statuses (spec §8) and how a folder's status follows from its analyses.
//!
//! - analysis `state`: PROCESSING → FINISHED | FAILED
//! - analysis `resolution_status` / `resolution`: mirrors `state` until finished, then
//!   SUCCESS | DECLINED | OPERATOR_REQUIRED (or FAILED)
//! - folder `resolution_status`: INITIAL (no analyses) → PROCESSING → FINISHED | FAILED
//! - folder `system_resolution`: the consolidated verdict of the last group of analyses:
//!   FAILED if any failed, else DECLINED if any declined, else OPERATOR_REQUIRED if any needs an
//!   operator, else SUCCESS; PROCESSING while any is still running.

use serde::{Deserialize, Serialize};

/// Analysis `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnalysisState {
    Processing,
    Finished,
    Failed,
}

/// The status vocabulary shared by `resolution_status`, `resolution` and `system_resolution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResolutionStatus {
    Initial,
    Processing,
    Failed,
    Finished,
    Declined,
    OperatorRequired,
    Success,
}

impl ResolutionStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "INITIAL",
            Self::Processing => "PROCESSING",
            Self::Failed => "FAILED",
            Self::Finished => "FINISHED",
            Self::Declined => "DECLINED",
            Self::OperatorRequired => "OPERATOR_REQUIRED",
            Self::Success => "SUCCESS",
        }
    }
}

/// An analysis' `resolution_status` given its state and, once finished, its verdict.
#[must_use]
pub fn analysis_resolution(state: AnalysisState, verdict: Option<ResolutionStatus>) -> ResolutionStatus {
    match (state, verdict) {
        (AnalysisState::Processing, _) => ResolutionStatus::Processing,
        (AnalysisState::Failed, _) | (AnalysisState::Finished, None) => ResolutionStatus::Failed,
        (AnalysisState::Finished, Some(v)) => v,
    }
}

/// Why an operator decision is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefused {
    #[error("an operator decides SUCCESS or DECLINED, not {0}")]
    NotAVerdict(&'static str),
    #[error("the analysis is {0}: only a finished analysis can be decided")]
    NotFinished(&'static str),
    #[error("this replaces an earlier operator decision: say why in a comment")]
    NeedsComment,
}

/// Checks an operator's decision on an analysis (spec §8.2: OPERATOR_REQUIRED → SUCCESS |
/// DECLINED by an operator). The new verdict is SUCCESS or DECLINED; the analysis must have
/// finished (a FAILED or running analysis has no verdict to decide). A finished SUCCESS or
/// DECLINED may be overridden too (an operator correcting the system), and a decision may be
/// changed again, with a comment saying why (`earlier`: an operator has decided it before): each
/// one is kept in the audit trail.
pub fn operator_decision(
    state: AnalysisState,
    current: ResolutionStatus,
    new: ResolutionStatus,
    earlier: bool,
    comment: Option<&str>,
) -> Result<(), DecisionRefused> {
    if !matches!(new, ResolutionStatus::Success | ResolutionStatus::Declined) {
        return Err(DecisionRefused::NotAVerdict(new.as_str()));
    }
    let decidable =
        matches!(current, ResolutionStatus::OperatorRequired | ResolutionStatus::Success | ResolutionStatus::Declined);
    if state != AnalysisState::Finished || !decidable {
        return Err(DecisionRefused::NotFinished(if state == AnalysisState::Finished {
            current.as_str()
        } else {
            match state {
                AnalysisState::Processing => "PROCESSING",
                _ => "FAILED",
            }
        }));
    }
    if earlier && comment.is_none_or(|c| c.trim().is_empty()) {
        return Err(DecisionRefused::NeedsComment);
    }
    Ok(())
}

/// Combines the verdicts of several media (or analyses): the worst one wins.
/// FAILED > DECLINED > OPERATOR_REQUIRED > SUCCESS. An empty list is SUCCESS.
#[must_use]
pub fn worst<I: IntoIterator<Item = ResolutionStatus>>(verdicts: I) -> ResolutionStatus {
    fn rank(s: ResolutionStatus) -> u8 {
        match s {
            ResolutionStatus::Failed => 5,
            ResolutionStatus::Processing | ResolutionStatus::Initial => 4,
            ResolutionStatus::Declined => 3,
            ResolutionStatus::OperatorRequired => 2,
            ResolutionStatus::Success | ResolutionStatus::Finished => 1,
        }
    }
    verdicts.into_iter().max_by_key(|s| rank(*s)).unwrap_or(ResolutionStatus::Success)
}

/// Folder `(resolution_status, system_resolution)` from the resolution statuses of the last group
/// of analyses.
#[must_use]
pub fn folder_status(last_group: &[ResolutionStatus]) -> (ResolutionStatus, ResolutionStatus) {
    if last_group.is_empty() {
        return (ResolutionStatus::Initial, ResolutionStatus::Initial);
    }
    if last_group.contains(&ResolutionStatus::Processing) {
        return (ResolutionStatus::Processing, ResolutionStatus::Processing);
    }
    let system = worst(last_group.iter().copied());
    let folder = if system == ResolutionStatus::Failed { ResolutionStatus::Failed } else { ResolutionStatus::Finished };
    (folder, system)
}

#[cfg(test)]
mod tests {
    use super::ResolutionStatus as R;
    use super::*;

    #[test]
    fn operators_decide_finished_analyses() {
        use AnalysisState as S;
        use ResolutionStatus as R;
        assert_eq!(operator_decision(S::Finished, R::OperatorRequired, R::Success, false, None), Ok(()));
        assert_eq!(operator_decision(S::Finished, R::OperatorRequired, R::Declined, false, None), Ok(()));
        assert_eq!(operator_decision(S::Finished, R::Success, R::Declined, false, None), Ok(()), "override");
        assert_eq!(operator_decision(S::Finished, R::Declined, R::Success, false, None), Ok(()), "override");
        assert_eq!(
            operator_decision(S::Finished, R::OperatorRequired, R::OperatorRequired, false, None),
            Err(DecisionRefused::NotAVerdict("OPERATOR_REQUIRED"))
        );
        assert!(operator_decision(S::Finished, R::OperatorRequired, R::Failed, false, None).is_err());
        assert_eq!(
            operator_decision(S::Processing, R::Processing, R::Success, false, None),
            Err(DecisionRefused::NotFinished("PROCESSING"))
        );
        assert_eq!(
            operator_decision(S::Failed, R::Failed, R::Success, false, None),
            Err(DecisionRefused::NotFinished("FAILED"))
        );
        // Replacing an operator's decision needs a comment.
        assert_eq!(
            operator_decision(S::Finished, R::Success, R::Declined, true, None),
            Err(DecisionRefused::NeedsComment)
        );
        assert_eq!(
            operator_decision(S::Finished, R::Success, R::Declined, true, Some("  ")),
            Err(DecisionRefused::NeedsComment)
        );
        assert_eq!(operator_decision(S::Finished, R::Success, R::Declined, true, Some("forged ID")), Ok(()));
    }

    #[test]
    fn analysis_resolution_mirrors_state_until_finished() {
        assert_eq!(analysis_resolution(AnalysisState::Processing, Some(R::Success)), R::Processing);
        assert_eq!(analysis_resolution(AnalysisState::Failed, None), R::Failed);
        assert_eq!(analysis_resolution(AnalysisState::Finished, Some(R::Declined)), R::Declined);
        assert_eq!(analysis_resolution(AnalysisState::Finished, None), R::Failed);
    }

    #[test]
    fn folder_aggregation() {
        assert_eq!(folder_status(&[]), (R::Initial, R::Initial));
        assert_eq!(folder_status(&[R::Success, R::Processing]), (R::Processing, R::Processing));
        assert_eq!(folder_status(&[R::Success, R::Success]), (R::Finished, R::Success));
        assert_eq!(folder_status(&[R::Success, R::OperatorRequired]), (R::Finished, R::OperatorRequired));
        assert_eq!(folder_status(&[R::OperatorRequired, R::Declined]), (R::Finished, R::Declined));
        assert_eq!(folder_status(&[R::Declined, R::Failed]), (R::Failed, R::Failed));
    }

    #[test]
    fn serialises_as_oz_strings() {
        assert_eq!(serde_json::to_string(&R::OperatorRequired).ok().as_deref(), Some("\"OPERATOR_REQUIRED\""));
        assert_eq!(R::Success.as_str(), "SUCCESS");
    }
}
