//! The enumerations of the wire (spec §4, §8), as the document lists them. Each converts from the
//! domain type it writes, so a value the domain cannot hold cannot be written.

use oz_domain::access::{AnalysisKind, Role};
use oz_domain::assign::MediaClass;
use oz_domain::status::{AnalysisState, ResolutionStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Media `media_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum MediaType {
    VIDEO_FOLDER,
    IMAGE_FOLDER,
    /// A zip shot set (Oz names the family SHOTS_SET; spec §4.3).
    SHOTS_SET_FOLDER,
    /// An analysis output image (best shot).
    IMAGE_RESULT_ANALYSIS_SINGLE,
}

impl From<MediaClass> for MediaType {
    fn from(c: MediaClass) -> Self {
        match c {
            MediaClass::Video => Self::VIDEO_FOLDER,
            MediaClass::Image => Self::IMAGE_FOLDER,
            MediaClass::ShotSet => Self::SHOTS_SET_FOLDER,
            MediaClass::ResultImage => Self::IMAGE_RESULT_ANALYSIS_SINGLE,
        }
    }
}

/// Analysis `type`, as answers write it (requests take any case, and aliases: docs/API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum AnalysisType {
    QUALITY,
    BIOMETRY,
    COLLECTION,
    DOCUMENTS,
}

impl From<AnalysisKind> for AnalysisType {
    fn from(k: AnalysisKind) -> Self {
        match k {
            AnalysisKind::Quality => Self::QUALITY,
            AnalysisKind::Biometry => Self::BIOMETRY,
            AnalysisKind::Collection => Self::COLLECTION,
            AnalysisKind::Documents => Self::DOCUMENTS,
        }
    }
}

/// Analysis `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum State {
    PROCESSING,
    FINISHED,
    FAILED,
}

impl From<AnalysisState> for State {
    fn from(s: AnalysisState) -> Self {
        match s {
            AnalysisState::Processing => Self::PROCESSING,
            AnalysisState::Finished => Self::FINISHED,
            AnalysisState::Failed => Self::FAILED,
        }
    }
}

/// The status vocabulary of `resolution_status`, `resolution` and `system_resolution` (spec §8):
/// a folder's `resolution_status` is INITIAL, PROCESSING, FINISHED or FAILED; an analysis'
/// `resolution_status` and a folder's `system_resolution` are PROCESSING, FAILED, SUCCESS,
/// DECLINED or OPERATOR_REQUIRED (a folder without analyses: INITIAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum Status {
    INITIAL,
    PROCESSING,
    FAILED,
    FINISHED,
    DECLINED,
    OPERATOR_REQUIRED,
    SUCCESS,
}

impl From<ResolutionStatus> for Status {
    fn from(s: ResolutionStatus) -> Self {
        match s {
            ResolutionStatus::Initial => Self::INITIAL,
            ResolutionStatus::Processing => Self::PROCESSING,
            ResolutionStatus::Failed => Self::FAILED,
            ResolutionStatus::Finished => Self::FINISHED,
            ResolutionStatus::Declined => Self::DECLINED,
            ResolutionStatus::OperatorRequired => Self::OPERATOR_REQUIRED,
            ResolutionStatus::Success => Self::SUCCESS,
        }
    }
}

/// User `user_type` as answers write it. Requests also take `CLIENT ADMIN` / `CLIENT SERVICE`
/// (stored as CLIENT with `is_admin` / `is_service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum UserType {
    ADMIN,
    OPERATOR,
    CLIENT,
    CLIENT_OPERATOR,
}

impl From<Role> for UserType {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => Self::ADMIN,
            Role::Operator => Self::OPERATOR,
            Role::Client => Self::CLIENT,
            Role::ClientOperator => Self::CLIENT_OPERATOR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire names are the domain's own strings.
    #[test]
    fn names_match_the_domain() {
        for c in [MediaClass::Image, MediaClass::Video, MediaClass::ShotSet, MediaClass::ResultImage] {
            assert_eq!(text(&MediaType::from(c)), c.media_type());
        }
        for k in [AnalysisKind::Quality, AnalysisKind::Biometry, AnalysisKind::Collection, AnalysisKind::Documents] {
            assert_eq!(text(&AnalysisType::from(k)), k.as_str());
        }
        for s in [
            ResolutionStatus::Initial,
            ResolutionStatus::Processing,
            ResolutionStatus::Failed,
            ResolutionStatus::Finished,
            ResolutionStatus::Declined,
            ResolutionStatus::OperatorRequired,
            ResolutionStatus::Success,
        ] {
            assert_eq!(text(&Status::from(s)), s.as_str());
        }
        for r in [Role::Admin, Role::Operator, Role::Client, Role::ClientOperator] {
            assert_eq!(text(&UserType::from(r)), r.as_str());
        }
        assert_eq!(text(&State::from(AnalysisState::Finished)), "FINISHED");
    }

    fn text<T: Serialize>(v: &T) -> String {
        serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
}
