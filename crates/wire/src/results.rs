//! What analyses find (`results_data` of an analysis and of each result media) and the
//! parameters they ran with (`confs`), typed per analysis type. The runners build these types;
//! the JSON columns store them as written, so the answers keep this order.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use uuid::Uuid;

/// QUALITY `confs` (Oz's order), with the challenge a capture was issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QualityConfs {
    pub threshold_replay: f64,
    /// Oz 6 makes the best shot unless told not to.
    pub extract_best_shot: bool,
    pub threshold_liveness: f64,
    /// DECLINED above it.
    pub threshold_spoofing: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<IssuedChallenge>,
}

/// The challenge a QUALITY analysis verifies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IssuedChallenge {
    pub challenge_id: Uuid,
    /// `blink`, `smile`, `turn_left`, `turn_right`, `look_up`, `look_down`, in order.
    pub actions: Vec<String>,
}

/// BIOMETRY `confs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BiometryConfs {
    /// SUCCESS at or above it.
    pub threshold_approve: f64,
    /// DECLINED below it (OPERATOR_REQUIRED between the two).
    pub threshold_decline: f64,
}

/// COLLECTION `confs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CollectionConfs {
    pub collection_ids: Vec<Uuid>,
    pub collections: Vec<crate::folder::AnalysisCollection>,
    /// A person at or above it is a match.
    pub decision_threshold: f64,
    /// Persons reported per media at most.
    pub decision_count: usize,
}

/// QUALITY score of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FrameScore {
    pub frame_index: u64,
    pub confidence_spoofing: f64,
}

/// The signals fused into `confidence_spoofing`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Signals {
    /// The anti-spoofing models' score.
    pub model: f64,
    /// How flat the face moved (a photo is flat), or null when the clip cannot tell.
    #[schema(required = true)]
    pub planarity: Option<f64>,
}

/// The gesture a media's tags asked for (`video_selfie_left`, ...), as checked.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GestureResult {
    /// `left`, `right`, `down`, `up`, `smile`, `eyes_closed`, `scan`.
    pub requested: String,
    /// The tag that asked for it.
    pub tag: String,
    pub detected: bool,
    /// 0..1; 0.5 and more exactly when detected.
    pub confidence: f64,
    /// Frame indices where it shows.
    pub frames: Vec<u64>,
    pub frames_analysed: usize,
}

/// QUALITY `results_data` of one media.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QualityResult {
    /// Chance that the media is an attack, 0..1 (Oz's score; DECLINED above `threshold_spoofing`).
    pub confidence_spoofing: f64,
    /// Per analysed frame.
    pub frames: Vec<FrameScore>,
    pub signals: Signals,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gesture: Option<GestureResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<ChallengeResult>,
}

/// One action of a challenge, as found in the clip.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ActionResult {
    pub action: String,
    pub detected: bool,
    /// Shown after the previous action.
    pub in_order: bool,
    pub frames: Vec<u64>,
    pub confidence: f64,
}

/// A head movement shown that was not asked for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UnexpectedAction {
    pub action: String,
    pub frames: Vec<u64>,
}

/// The same person along the clip.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IdentityResult {
    pub samples: usize,
    /// Lowest similarity (0..1, as BIOMETRY) between the first sample and any other.
    #[schema(required = true)]
    pub min_similarity: Option<f64>,
    pub threshold: f64,
}

/// One unbroken take.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContinuityResult {
    /// Largest jump of the face between frames, face widths.
    pub largest_shift: f64,
    pub largest_scale: f64,
    pub longest_gap_s: f64,
    #[schema(required = true)]
    pub break_at_frame: Option<u64>,
}

/// How flat one head movement was (a photo turned is flat).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MovementDepth {
    #[schema(required = true)]
    pub ratio: Option<f64>,
    /// 0..1, 1 = flat.
    #[schema(required = true)]
    pub flat_score: Option<f64>,
}

/// 3D motion during the head movements asked for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DepthResult {
    /// Per head movement asked for; null when it could not be measured.
    pub movements: Vec<Option<MovementDepth>>,
}

/// The verdict on a challenge (our extension, docs/API.md).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChallengeResult {
    pub challenge_id: String,
    pub passed: bool,
    pub actions: Vec<ActionResult>,
    pub order_ok: bool,
    pub unexpected_actions: Vec<UnexpectedAction>,
    pub identity_ok: bool,
    pub identity: IdentityResult,
    pub continuity_ok: bool,
    pub continuity: ContinuityResult,
    pub depth_ok: bool,
    pub depth: DepthResult,
    /// Why it failed, in plain words; null when it passed.
    #[schema(required = true)]
    pub reason: Option<String>,
    pub frames_analysed: usize,
    pub frames_with_face: usize,
}

/// BIOMETRY `results_data` (of the analysis: over every pair; of a media: over its pairs).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BiometryResult {
    /// Similarity 0..1 of the least similar pair.
    pub min_confidence: f64,
    pub max_confidence: f64,
}

/// COLLECTION `results_data` of the analysis.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CollectionResult {
    /// Similarity of the best match over every media.
    pub max_confidence: f64,
}

/// COLLECTION `results_data` of one media.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CollectionMediaResult {
    pub max_confidence: f64,
    pub persons_found: usize,
}

/// A person a COLLECTION analysis found.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CollectionPerson {
    pub person_id: Uuid,
    pub collection_id: Uuid,
    /// The person's photo that matched.
    pub image_id: Uuid,
    /// Similarity 0..1.
    pub confidence: f64,
}

fn any_of(names: &[&str], nullable: bool) -> RefOr<Schema> {
    let mut b = AnyOfBuilder::new();
    for n in names {
        b = b.item(Ref::from_schema_name(*n));
    }
    if nullable {
        b = b.item(utoipa::openapi::schema::Object::builder().schema_type(utoipa::openapi::schema::Type::Null));
    }
    RefOr::T(Schema::AnyOf(b.build()))
}

/// `results_data` of a result media: by analysis type.
#[must_use]
pub fn media_results_schema() -> RefOr<Schema> {
    any_of(&["QualityResult", "BiometryResult", "CollectionMediaResult"], false)
}

/// `results_data` of an analysis: BIOMETRY or COLLECTION; null for QUALITY and while processing.
#[must_use]
pub fn analysis_results_schema() -> RefOr<Schema> {
    any_of(&["BiometryResult", "CollectionResult"], true)
}

/// `confs` by analysis type.
#[must_use]
pub fn confs_schema() -> RefOr<Schema> {
    any_of(&["QualityConfs", "BiometryConfs", "CollectionConfs"], false)
}
