//! Running one analysis on the vision pipeline: QUALITY (liveness + best shot), BIOMETRY
//! (every pair of media, the least similar pair decides) and COLLECTION (each media's face
//! searched in the 1:N index; a hit declines). Synchronous; the worker calls it on a blocking
//! thread.

use md5::{Digest, Md5};
use oz_domain::access::AnalysisKind;
use oz_domain::assign::{self, MediaClass, PairScores};
use oz_domain::challenge::Action;
use oz_domain::decision::{DecisionThresholds, cosine_from_score, score_from_cosine, wire_score};
use oz_domain::gesture::{GesturePolicy, requested_gesture};
use oz_domain::liveness;
use oz_domain::status::{self, AnalysisState};
use oz_storage::analyses::Outcome;
use oz_storage::folders::NewMedia;
use oz_storage::{Analysis, Media};
use oz_vision::challenge::ChallengeCheck;
use oz_vision::pipeline::{AnalyzeOptions, GestureCheck, MediaAnalysis};
use oz_vision::planarity::Planarity;
use oz_vision::{Pipeline, VisionError};
use oz_wire::AnalysisCollection;
use oz_wire::results::{
    ActionResult, BiometryConfs, BiometryResult, ChallengeResult, CollectionConfs, CollectionMediaResult,
    CollectionPerson, CollectionResult, ContinuityResult, DepthResult, FrameScore, GestureResult, IdentityResult,
    MovementDepth, QualityConfs, QualityResult, Signals, UnexpectedAction,
};
use serde_json::{Value, json};
use uuid::Uuid;

use std::sync::Arc;

use oz_vision::media::DecodedMedia;

use crate::cache::{AnalysisCache, AnalysisFailure, DecodeCache, SharedAnalysis};
use crate::collections::{self, CollectionIndex};
use crate::files::MediaFiles;

/// Oz error codes used inside failed analyses.
pub const ERR_UNKNOWN: i64 = 0;
pub const ERR_NOT_REALIZED: i64 = 2;
pub const ERR_INVALID_VALUE: i64 = 4;

/// Defaults for analysis parameters.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub thresholds: DecisionThresholds,
    pub threshold_spoofing: f32,
    /// What QUALITY does with a video whose tags ask for a gesture (`OZ_GESTURE_CHECK`).
    pub gesture_policy: GesturePolicy,
}

/// The parameters a QUALITY request may set (each `None`: the default).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QualityParams {
    pub threshold_spoofing: Option<f64>,
    pub threshold_liveness: Option<f64>,
    pub threshold_replay: Option<f64>,
    pub extract_best_shot: Option<bool>,
}

/// The effective QUALITY parameters (`confs`, without a challenge).
#[must_use]
pub fn quality_confs(p: QualityParams, cfg: &RunnerConfig) -> QualityConfs {
    QualityConfs {
        threshold_replay: p.threshold_replay.unwrap_or(0.5),
        // Oz 6 returns the best shot unless told not to.
        extract_best_shot: p.extract_best_shot.unwrap_or(true),
        threshold_liveness: p.threshold_liveness.unwrap_or(0.5),
        threshold_spoofing: p
            .threshold_spoofing
            .unwrap_or_else(|| (f64::from(cfg.threshold_spoofing) * 1e6).round() / 1e6),
        challenge: None,
    }
}

/// The effective BIOMETRY parameters.
#[must_use]
pub fn biometry_confs(cfg: &RunnerConfig) -> Value {
    // As the client wrote them (0.85, not the f32's 0.8500000238418579).
    oz_wire::json::value(&BiometryConfs {
        threshold_approve: wire_score(cfg.thresholds.approve),
        threshold_decline: wire_score(cfg.thresholds.decline),
    })
}

/// A collection a COLLECTION analysis searches: its id, company and alias when the analysis was
/// made (the analysis shows the first as Oz's `collection` object, spec §4.4).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchedCollection {
    pub id: Uuid,
    pub company_id: Uuid,
    pub alias: String,
}

/// The effective COLLECTION parameters, from `params` and the collections resolved by the caller
/// (`collection_id` named, or every collection of the folder's company).
#[must_use]
pub fn collection_confs(collections: &[SearchedCollection], threshold: f32, count: usize) -> Value {
    oz_wire::json::value(&CollectionConfs {
        collection_ids: collections.iter().map(|c| c.id).collect(),
        collections: collections
            .iter()
            .map(|c| AnalysisCollection { collection_id: c.id, company_id: c.company_id, alias: c.alias.clone() })
            .collect(),
        decision_threshold: wire_score(threshold),
        decision_count: count,
    })
}

/// How long a worker waits for the process decode budget before failing the analysis.
const WORKER_BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Where the runner gets media from: the stored files, through the decode cache, and their
/// analyses, through the analysis cache (QUALITY, BIOMETRY and COLLECTION on the same media share
/// one run of the models).
pub struct Source<'a> {
    pub files: &'a MediaFiles,
    pub cache: Option<&'a DecodeCache>,
    pub analyses: Option<&'a AnalysisCache>,
    /// The 1:N index, caught up by the caller (COLLECTION analyses only).
    pub collections: Option<&'a CollectionIndex>,
}

impl Source<'_> {
    /// `m` decoded: from the decode cache (the upload's check), else from its file. What a worker
    /// decodes itself is cached only when there is no analysis cache (then QUALITY and BIOMETRY
    /// each read the frames); with one, the shared analysis is all the next analyses need.
    fn decoded(&self, p: &Pipeline, m: &Media) -> Result<Arc<DecodedMedia>, String> {
        if let Some(d) = self.cache.and_then(|c| c.get(&m.file.file_name)) {
            return Ok(d);
        }
        let bytes = self.files.read(&m.file.file_name).map_err(|e| format!("media {}: {e}", m.id))?;
        // Workers are few and their jobs durable: wait longer for the decode budget than requests do.
        let budget = p.request_budget().with_wait(WORKER_BUDGET_WAIT);
        let d = Arc::new(p.decode_in(&bytes, &budget).map_err(|e| format!("media {}: {e}", m.id))?);
        if let Some(c) = self.cache.filter(|_| self.analyses.is_none()) {
            c.put(&m.file.file_name, Arc::clone(&d));
        }
        Ok(d)
    }

    /// `m` has been analysed (a shared analysis or a still's embedding holds what the next
    /// analyses need): its decoded frames leave the decode cache.
    fn done_with_frames(&self, m: &Media) {
        if let Some(c) = self.cache {
            c.forget(&m.file.file_name);
        }
    }

    /// The gesture check of `m`: a second, dense decode of the stored file (scaled down, not
    /// cached), then the gesture and planarity over those frames.
    fn gesture(&self, p: &Pipeline, m: &Media, g: oz_domain::gesture::Gesture) -> Result<GestureCheck, String> {
        let bytes = self.files.read(&m.file.file_name).map_err(|e| format!("media {}: {e}", m.id))?;
        let budget = p.request_budget().with_wait(WORKER_BUDGET_WAIT);
        p.check_gesture_of(&bytes, &budget, g).map_err(|e| format!("media {}: gesture check: {e}", m.id))
    }

    /// The challenge check of `m`: a dense decode of the stored file (scaled down, not cached),
    /// then the sequence, identity, continuity and depth checks over those frames.
    fn challenge(&self, p: &Pipeline, m: &Media, actions: &[Action], identity: f32) -> Result<ChallengeCheck, String> {
        let bytes = self.files.read(&m.file.file_name).map_err(|e| format!("media {}: {e}", m.id))?;
        let budget = p.request_budget().with_wait(WORKER_BUDGET_WAIT);
        let media = p.decode_for_challenge(&bytes, &budget).map_err(|e| format!("media {}: challenge: {e}", m.id))?;
        p.check_challenge(&media, actions, identity).map_err(|e| format!("media {}: challenge: {e}", m.id))
    }

    /// The embedding of `m`'s best face (BIOMETRY, COLLECTION). A still image that has no shared
    /// analysis (held or being computed) runs only the detector and the embedder
    /// ([`Pipeline::still_embedding`], cached on its own): its liveness and pose would only serve
    /// a QUALITY analysis, which computes them itself if one comes. Anything else goes through
    /// [`Self::analysed`].
    pub fn embedding(&self, p: &Pipeline, m: &Media) -> Result<Option<Vec<f32>>, AnalysisFailure> {
        // A video or shot set is never decoded here: `analysed` decodes it (once) if it must.
        let still = if m.class != MediaClass::Image || self.analyses.is_some_and(|c| c.has_shared(&m.file.file_name)) {
            None
        } else {
            Some(self.decoded(p, m).map_err(AnalysisFailure::Other)?).filter(|d| d.is_still())
        };
        let Some(d) = still else {
            return self.analysed(p, m, AnalyzeOptions { best_shot: false, embedding: true }).map(|r| r.embedding);
        };
        let compute = || {
            let e = p.still_embedding(&d).map_err(|e| match e {
                VisionError::NoFace => AnalysisFailure::NoFace,
                other => AnalysisFailure::Other(format!("media {}: {other}", m.id)),
            });
            if e.is_ok() && self.analyses.is_some() {
                self.done_with_frames(m);
            }
            e
        };
        match self.analyses {
            Some(c) => c.still_embedding(&m.file.file_name, compute),
            None => compute(),
        }
    }

    /// What [`Pipeline::analyze_media`] gives for `m` with `opts`, through the analysis cache: the
    /// models run once per stored media, the embedding and the best shot once each when first
    /// asked for. Failure messages name the media, except `NoFace` (each analysis words it).
    pub fn analysed(&self, p: &Pipeline, m: &Media, opts: AnalyzeOptions) -> Result<MediaAnalysis, AnalysisFailure> {
        let vision = |e: VisionError| match e {
            VisionError::NoFace => AnalysisFailure::NoFace,
            other => AnalysisFailure::Other(format!("media {}: {other}", m.id)),
        };
        let Some(cache) = self.analyses else {
            let d = self.decoded(p, m).map_err(AnalysisFailure::Other)?;
            return p.analyze_media(&d, opts).map_err(vision);
        };
        let shared = cache.get_or_compute(&m.file.file_name, || {
            let d = self.decoded(p, m).map_err(AnalysisFailure::Other)?;
            let core = p.analyze_media_core(&d).map_err(vision)?;
            // The best shot needs the best frame alone (reserved in the decode budget, without
            // waiting: if it does not fit, a best shot decodes the media again).
            let best = core.best_frame.and_then(|pos| core.frames.get(pos)).and_then(|fa| {
                d.only_frame(fa.index, &p.request_budget().with_wait(std::time::Duration::ZERO)).map(Arc::new)
            });
            self.done_with_frames(m);
            Ok(SharedAnalysis::new(core, best))
        })?;
        let mut r = shared.core.clone();
        if opts.best_shot {
            let s = std::time::Instant::now();
            r.best_shot = shared
                .best_shot(|core, frame| {
                    let d = match frame {
                        Some(f) => f,
                        None => self.decoded(p, m).map_err(AnalysisFailure::Other)?,
                    };
                    p.best_shot(&d, core).map_err(vision)
                })
                // A failed part stays in its entry: drop the entry so that a retry computes again.
                .inspect_err(|_| cache.forget(&m.file.file_name))?;
            r.timings.best_shot_ms = s.elapsed().as_secs_f64() * 1000.0;
        }
        if opts.embedding {
            let s = std::time::Instant::now();
            r.embedding = shared
                .embedding(|core| p.best_embedding(core).map_err(vision))
                .inspect_err(|_| cache.forget(&m.file.file_name))?;
            r.timings.embed_ms += s.elapsed().as_secs_f64() * 1000.0;
        }
        Ok(r)
    }
}

fn failed(code: i64, msg: String) -> Outcome {
    Outcome::failed(code, msg)
}

/// Runs `a` over the folder's `media`. Output images are written to `files`; their names are in
/// the outcome so the caller can remove them if the outcome cannot be recorded.
#[must_use]
pub fn run(p: &Pipeline, src: &Source<'_>, a: &Analysis, media: &[Media], cfg: &RunnerConfig) -> Outcome {
    let sources: Vec<&Media> = a.source_media.iter().filter_map(|id| media.iter().find(|m| m.id == *id)).collect();
    if sources.len() != a.source_media.len() {
        return failed(ERR_INVALID_VALUE, "a source media of this analysis no longer exists".into());
    }
    match a.kind {
        AnalysisKind::Quality => quality(p, src, a, &sources, cfg),
        AnalysisKind::Biometry => biometry(p, src, &sources, cfg),
        AnalysisKind::Collection => collection(p, src, a, &sources),
        other => failed(ERR_NOT_REALIZED, format!("{} analyses are not available on this server", other.as_str())),
    }
}

fn quality(p: &Pipeline, src: &Source<'_>, a: &Analysis, sources: &[&Media], cfg: &RunnerConfig) -> Outcome {
    let files = src.files;
    let threshold = a.confs.get("threshold_spoofing").and_then(Value::as_f64).unwrap_or(0.5) as f32;
    let best_shot = a.confs.get("extract_best_shot").and_then(Value::as_bool).unwrap_or(true);
    let mut results = Vec::new();
    let mut verdicts = Vec::new();
    let mut outputs: Vec<NewMedia> = Vec::new();
    let mut frames_total = 0usize;
    let challenge = match challenge_of(&a.confs) {
        Ok(c) => c,
        Err(msg) => return failed(ERR_INVALID_VALUE, msg),
    };
    for m in sources {
        let analysed = src.analysed(p, m, AnalyzeOptions { best_shot, embedding: false }).map_err(|e| match e {
            AnalysisFailure::NoFace => format!("media {}: no face found in any sampled frame", m.id),
            AnalysisFailure::Other(msg) => msg,
        });
        let r = match analysed {
            Ok(r) => r,
            Err(msg) => {
                files.remove_all(&outputs.iter().map(|o| o.file.file_name.clone()).collect::<Vec<_>>());
                return failed(ERR_INVALID_VALUE, msg);
            }
        };
        frames_total += r.frames.len();
        // A challenge replaces the tags' gesture check: it is always enforced.
        let issued = challenge.as_ref().map(|(id, actions)| {
            let check = if matches!(m.class, MediaClass::Video | MediaClass::ShotSet) {
                src.challenge(p, m, actions, cfg.thresholds.approve)
            } else {
                Err(format!("media {}: a challenge is verified on a video, not on a photo", m.id))
            };
            (id.clone(), check)
        });
        let issued = match issued {
            Some((id, Ok(c))) => Some((id, c)),
            Some((_, Err(msg))) => {
                files.remove_all(&outputs.iter().map(|o| o.file.file_name.clone()).collect::<Vec<_>>());
                return failed(ERR_INVALID_VALUE, msg);
            }
            None => None,
        };
        let requested = if cfg.gesture_policy.checks() && issued.is_none() { requested_gesture(&m.tags) } else { None };
        let check = match requested.map(|g| src.gesture(p, m, g)).transpose() {
            Ok(c) => c,
            Err(msg) => {
                files.remove_all(&outputs.iter().map(|o| o.file.file_name.clone()).collect::<Vec<_>>());
                return failed(ERR_INVALID_VALUE, msg);
            }
        };
        let q = QualityOfMedia::new(p.config().planarity_weight, &r, check.as_ref());
        let mut output_ids = Vec::new();
        if let Some(shot) = &r.best_shot {
            match files.write(&shot.jpeg, "jpg") {
                Ok(file_name) => {
                    let id = Uuid::new_v4();
                    output_ids.push(id.to_string());
                    outputs.push(NewMedia {
                        id,
                        class: MediaClass::ResultImage,
                        file: oz_storage::StoredFile {
                            original_name: "ResultImage.jpg".into(),
                            file_name,
                            mime_type: "image/jpeg".into(),
                            size: i64::try_from(shot.jpeg.len()).unwrap_or(i64::MAX),
                            md5: hex::encode(Md5::digest(&shot.jpeg)),
                            info: oz_wire::json::value(&crate::render::best_shot_info(shot)),
                        },
                        tags: Vec::new(),
                        meta_data: json!({}),
                        technical_meta_data: json!({ "frame_index": shot.frame_index, "quality": wire_score(shot.quality) }),
                        source_media_id: Some(m.id),
                        analysis_id: Some(a.id),
                        preview_file: None,
                        video_file: None,
                    });
                }
                Err(e) => {
                    files.remove_all(&outputs.iter().map(|o| o.file.file_name.clone()).collect::<Vec<_>>());
                    return failed(ERR_UNKNOWN, format!("cannot store the best shot: {e}"));
                }
            }
        }
        let passive = liveness::verdict(q.confidence_spoofing, threshold);
        verdicts.push(match &issued {
            // A failed challenge declines whatever the texture score says.
            Some((_, c)) if !c.passed => status::ResolutionStatus::Declined,
            Some(_) => passive,
            None => cfg.gesture_policy.verdict(passive, check.as_ref().map(|c| c.result.detected)),
        });
        let mut data = q.results_data();
        data.challenge = issued.as_ref().map(|(id, c)| challenge_result(id, c));
        results.push(json!({
            "source_media_id": m.id.to_string(),
            "results_data": oz_wire::json::value(&data),
            "output_images": output_ids,
        }));
    }
    Outcome {
        state: AnalysisState::Finished,
        resolution_status: status::worst(verdicts),
        results_data: None,
        results_media: Value::Array(results),
        error_code: None,
        error_message: None,
        technical_meta_data: json!({ "frames_analysed": frames_total }),
        outputs,
    }
}

/// The challenge a QUALITY analysis verifies (`confs.challenge`: `{"challenge_id", "actions"}`,
/// written at creation), or `None`.
fn challenge_of(confs: &Value) -> Result<Option<(String, Vec<Action>)>, String> {
    let Some(c) = confs.get("challenge") else {
        return Ok(None);
    };
    let id = c.get("challenge_id").and_then(Value::as_str).unwrap_or_default().to_string();
    let actions: Option<Vec<Action>> = c
        .get("actions")
        .and_then(Value::as_array)
        .map(|v| v.iter().map(|a| a.as_str().and_then(Action::parse)).collect::<Option<Vec<_>>>())
        .unwrap_or(None);
    match actions {
        Some(a) if !a.is_empty() => Ok(Some((id, a))),
        _ => Err(format!("challenge {id}: its actions cannot be read")),
    }
}

/// A measure for the wire, 4 decimals (not clamped to 0..1 as scores are).
fn round4(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}

/// `results_data.challenge` of one media (docs/API.md): the issued actions with where each shows,
/// and each check with its numbers.
#[must_use]
pub fn challenge_result(id: &str, c: &ChallengeCheck) -> ChallengeResult {
    ChallengeResult {
        challenge_id: id.to_string(),
        passed: c.passed,
        actions: c
            .actions
            .iter()
            .map(|x| ActionResult {
                action: x.action.as_str().to_string(),
                detected: x.detected,
                in_order: x.in_order,
                frames: x.frames.clone(),
                confidence: wire_score(x.confidence),
            })
            .collect(),
        order_ok: c.order_ok,
        unexpected_actions: c
            .unexpected
            .iter()
            .map(|e| UnexpectedAction { action: e.action.as_str().to_string(), frames: e.frames.clone() })
            .collect(),
        identity_ok: c.identity_ok,
        identity: IdentityResult {
            samples: c.identity.samples,
            min_similarity: c.identity.min_similarity.map(wire_score),
            threshold: wire_score(c.identity.threshold),
        },
        continuity_ok: c.continuity_ok,
        continuity: ContinuityResult {
            largest_shift: round4(c.continuity.largest_shift),
            largest_scale: round4(c.continuity.largest_scale),
            longest_gap_s: (c.continuity.longest_gap_s * 1000.0).round() / 1000.0,
            break_at_frame: c.continuity.break_at,
        },
        depth_ok: c.depth_ok,
        depth: DepthResult {
            movements: c
                .depth
                .movements
                .iter()
                .map(|m| {
                    m.as_ref().map(|p| MovementDepth {
                        ratio: p.ratio.map(round4),
                        flat_score: p.spoof_score.map(wire_score),
                    })
                })
                .collect(),
        },
        reason: c.reason.clone(),
        frames_analysed: c.frames_analysed,
        frames_with_face: c.frames_with_face,
    }
}

/// The QUALITY result of one media: its analysis, and its gesture check where the tags asked for
/// one. With a gesture check, the planarity comes from the check's denser frames.
pub struct QualityOfMedia<'a> {
    pub analysis: &'a MediaAnalysis,
    pub gesture: Option<&'a GestureCheck>,
    pub planarity: Option<&'a Planarity>,
    /// The model's score fused with the planarity.
    pub confidence_spoofing: f32,
}

impl<'a> QualityOfMedia<'a> {
    /// `planarity_weight`: the pipeline's (`PipelineConfig::planarity_weight`).
    #[must_use]
    pub fn new(planarity_weight: f32, analysis: &'a MediaAnalysis, gesture: Option<&'a GestureCheck>) -> Self {
        match gesture.and_then(|g| g.planarity.as_ref()) {
            Some(dense) => Self {
                analysis,
                gesture,
                planarity: Some(dense),
                confidence_spoofing: liveness::fuse(analysis.model_spoofing, dense.spoof_score, planarity_weight),
            },
            None => Self {
                analysis,
                gesture,
                planarity: analysis.planarity.as_ref(),
                confidence_spoofing: analysis.confidence_spoofing,
            },
        }
    }

    /// A QUALITY analysis's `results_data` for one media (docs/API.md):
    /// - `confidence_spoofing` (Oz's field): the model's score fused with the planarity;
    /// - `frames`: the per-frame model scores behind it (`frame_index`, `confidence_spoofing`) of
    ///   the evenly spread frames with a face (best-shot candidates are not scored);
    /// - `signals`: `model` (the aggregate of those) and `planarity` (`null` for stills, or when the
    ///   face moved too little to tell);
    /// - `gesture`, only when the media's tags ask for one: `requested` (name), `tag`, `detected`,
    ///   `confidence` and the `frames` where it shows.
    #[must_use]
    pub fn results_data(&self) -> QualityResult {
        let r = self.analysis;
        let frames = r
            .frames
            .iter()
            .filter_map(|f| {
                let spoof = f.main.as_ref()?.spoof?;
                Some(FrameScore { frame_index: f.index, confidence_spoofing: wire_score(spoof) })
            })
            .collect();
        QualityResult {
            confidence_spoofing: wire_score(self.confidence_spoofing),
            frames,
            signals: Signals {
                model: wire_score(r.model_spoofing),
                planarity: self.planarity.and_then(|p| p.spoof_score).map(wire_score),
            },
            gesture: self.gesture.map(|g| GestureResult {
                requested: serde_json::to_value(g.result.requested)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                tag: g.result.requested.tag().to_string(),
                detected: g.result.detected,
                confidence: wire_score(g.result.confidence),
                frames: g.result.frames.clone(),
                frames_analysed: g.frames_analysed,
            }),
            challenge: None,
        }
    }
}

/// Embedding of the face of one media (the best frame of a video or shot set).
fn embedding_of(p: &Pipeline, src: &Source<'_>, m: &Media) -> Result<Vec<f32>, String> {
    let e = src.embedding(p, m).map_err(|e| match e {
        AnalysisFailure::NoFace => format!("media {}: no face found", m.id),
        AnalysisFailure::Other(msg) => msg,
    })?;
    e.ok_or_else(|| format!("media {}: no face found", m.id))
}

fn collection(p: &Pipeline, src: &Source<'_>, a: &Analysis, sources: &[&Media]) -> Outcome {
    let Some(index) = src.collections else {
        return failed(ERR_UNKNOWN, "the 1:N index is not loaded in this process".into());
    };
    let ids: Vec<Uuid> = a
        .confs
        .get("collection_ids")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(|x| x.as_str().and_then(|s| Uuid::parse_str(s).ok())).collect())
        .unwrap_or_default();
    let threshold = a.confs.get("decision_threshold").and_then(Value::as_f64).unwrap_or(0.85) as f32;
    let count = a
        .confs
        .get("decision_count")
        .and_then(Value::as_u64)
        .map_or(assign::COLLECTION_DEFAULT_COUNT, |n| usize::try_from(n).unwrap_or(usize::MAX))
        .clamp(1, assign::COLLECTION_MAX_COUNT);
    let min_cosine = cosine_from_score(threshold);
    let mut results = Vec::with_capacity(sources.len());
    let mut best_scores = Vec::with_capacity(sources.len());
    let mut searched = 0usize;
    for m in sources {
        let vector = match embedding_of(p, src, m) {
            Ok(v) => v,
            Err(msg) => return failed(ERR_INVALID_VALUE, msg),
        };
        let hits =
            match index.search(&collections::Query { vector: &vector, collections: &ids, min_cosine, limit: count }) {
                Ok(h) => h,
                Err(e) => return failed(ERR_UNKNOWN, format!("media {}: 1:N search failed: {e}", m.id)),
            };
        searched += 1;
        let persons: Vec<Value> = hits
            .iter()
            .map(|h| {
                oz_wire::json::value(&CollectionPerson {
                    person_id: h.person_id,
                    collection_id: h.collection_id,
                    image_id: h.image_id,
                    confidence: wire_score(score_from_cosine(h.cosine)),
                })
            })
            .collect();
        let best = hits.first().map(|h| score_from_cosine(h.cosine));
        best_scores.push(best);
        results.push(json!({
            "source_media_id": m.id.to_string(),
            "results_data": oz_wire::json::value(&CollectionMediaResult {
                max_confidence: wire_score(best.unwrap_or(0.0)),
                persons_found: persons.len(),
            }),
            "collection_persons": persons,
            "output_images": [],
        }));
    }
    let max = best_scores.iter().flatten().copied().fold(0.0f32, f32::max);
    Outcome {
        state: AnalysisState::Finished,
        resolution_status: assign::collection_verdict(&best_scores, threshold),
        results_data: Some(oz_wire::json::value(&CollectionResult { max_confidence: wire_score(max) })),
        results_media: Value::Array(results),
        error_code: None,
        error_message: None,
        technical_meta_data: json!({ "media_searched": searched, "templates_in_index": index.len() }),
        outputs: Vec::new(),
    }
}

fn biometry(p: &Pipeline, src: &Source<'_>, sources: &[&Media], cfg: &RunnerConfig) -> Outcome {
    let mut embeddings = Vec::with_capacity(sources.len());
    for m in sources {
        match embedding_of(p, src, m) {
            Ok(v) => embeddings.push(v),
            Err(msg) => return failed(ERR_INVALID_VALUE, msg),
        }
    }
    // At most caps::MAX_SOURCE_MEDIA media (assign::inputs): 1225 pairs, folded as they come.
    let n = embeddings.len();
    let mut scores = PairScores::new(n);
    for i in 0..n {
        for j in i + 1..n {
            scores.add(i, j, score_from_cosine(oz_vision::embed::cosine(&embeddings[i], &embeddings[j])));
        }
    }
    let Some((min, max, verdict)) = scores.verdict(&cfg.thresholds) else {
        return failed(ERR_INVALID_VALUE, format!("BIOMETRY needs at least two media with a face, got {n}"));
    };
    let results: Vec<Value> = sources
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let (lo, hi) = scores.of_media(k).unwrap_or((min, max));
            json!({
                "source_media_id": m.id.to_string(),
                "results_data": oz_wire::json::value(&BiometryResult { min_confidence: wire_score(lo), max_confidence: wire_score(hi) }),
                "output_images": [],
            })
        })
        .collect();
    Outcome {
        state: AnalysisState::Finished,
        resolution_status: verdict,
        results_data: Some(oz_wire::json::value(&BiometryResult {
            min_confidence: wire_score(min),
            max_confidence: wire_score(max),
        })),
        results_media: Value::Array(results),
        error_code: None,
        error_message: None,
        technical_meta_data: json!({ "pairs": scores.pairs() }),
        outputs: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confs_carry_the_thresholds_as_written() {
        let cfg = RunnerConfig {
            thresholds: DecisionThresholds::DEFAULT,
            threshold_spoofing: 0.7,
            gesture_policy: GesturePolicy::default(),
        };
        let text = serde_json::to_string(&biometry_confs(&cfg)).expect("json");
        assert!(text.contains(":0.85") && !text.contains("0.8500000"), "{text}");
        let text = serde_json::to_string(&quality_confs(QualityParams::default(), &cfg)).expect("json");
        assert!(text.contains("\"threshold_spoofing\":0.7") && !text.contains("0.69999"), "{text}");
    }
}
