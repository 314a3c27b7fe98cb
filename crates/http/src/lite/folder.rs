//! The folder answer of a request that stores nothing: API Lite's multipart liveness `detect`
//! (Oz's example in oz-docs/api-lite-methods.md) and the Instant API's
//! `POST /api/instant/folders/` (spec §12.2) both decode their media here, run the requested
//! QUALITY / BIOMETRY checks on the request's own thread budget, and shape Oz's folder JSON: ids
//! are temporary UUIDs, URLs are null, the best shot is inline as `image_b64`. No row and no file
//! is written.

use std::time::{SystemTime, UNIX_EPOCH};

use oz_domain::assign::biometry_verdict;
use oz_domain::challenge::Action;
use oz_domain::decision::{DecisionThresholds, score_from_cosine, wire_score};
use oz_domain::gesture::{GesturePolicy, requested_gesture};
use oz_domain::liveness;
use oz_domain::status::{self, ResolutionStatus};
use oz_engine::render;
use oz_engine::runner::QualityOfMedia;
use oz_vision::VisionError;
use oz_vision::challenge::ChallengeCheck;
use oz_vision::media::{MediaInfo, MediaKind};
use oz_vision::pipeline::{AnalyzeOptions, GestureCheck, MediaAnalysis};
use oz_wire::results::{BiometryConfs, BiometryResult, IssuedChallenge, QualityConfs};
use oz_wire::{AnalysisType, MediaType, ResultMedia, State};
use serde_json::{Value, json};
use uuid::Uuid;

use super::parts::encode_b64;
use crate::state::AppState;

/// The parameters of a QUALITY (liveness) check.
#[derive(Debug, Clone)]
pub struct QualitySpec {
    pub threshold_spoofing: f64,
    pub threshold_liveness: f64,
    pub threshold_replay: f64,
    pub extract_best_shot: bool,
    /// The liveness challenge the clip must show (Instant mode, `params.challenge_id`): its id
    /// and actions, claimed before the media are analysed.
    pub challenge: Option<(Uuid, Vec<Action>)>,
}

/// What one requested analysis checks.
#[derive(Debug, Clone)]
pub enum Check {
    Quality(QualitySpec),
    /// Every pair of its media compared; the least similar pair decides.
    Biometry(DecisionThresholds),
}

/// One requested analysis with its effective parameters.
#[derive(Debug, Clone)]
pub struct AnalysisSpec {
    pub check: Check,
    pub meta_data: Value,
    /// Indices of the request's media it takes; `None`: every media.
    pub sources: Option<Vec<usize>>,
}

impl AnalysisSpec {
    /// QUALITY over every media with the default parameters (no best shot, as API Lite).
    #[must_use]
    pub fn quality(threshold_spoofing: f32) -> Self {
        Self {
            check: Check::Quality(QualitySpec {
                threshold_spoofing: round6(f64::from(threshold_spoofing)),
                threshold_liveness: 0.5,
                threshold_replay: 0.5,
                extract_best_shot: false,
                challenge: None,
            }),
            meta_data: json!({}),
            sources: None,
        }
    }

    fn takes(&self, i: usize) -> bool {
        self.sources.as_ref().is_none_or(|s| s.contains(&i))
    }
}

/// Where the answer goes: API Lite (null ids besides the folder's and the media's, as in Oz's
/// example; a media without a face refuses the request) or the Instant API (temporary ids
/// everywhere, the caller's company and user; a media without a face fails the analyses that
/// take it, as the full API reports it).
#[derive(Debug, Clone, Copy)]
pub enum Flavor {
    Lite,
    Instant { company_id: Option<Uuid>, user_id: Option<Uuid> },
}

/// The folder-level fields of the request.
#[derive(Debug, Clone)]
pub struct FolderRequest {
    pub flavor: Flavor,
    pub folder_meta: Value,
    pub resolution_endpoint: Option<String>,
    pub specs: Vec<AnalysisSpec>,
}

/// A media part of the request, not decoded yet.
pub struct MediaInput {
    /// The temporary `media_id` of the answer.
    pub id: Uuid,
    /// The part name (errors name it).
    pub key: String,
    pub original_name: String,
    pub tags: Vec<String>,
    pub meta_data: Value,
    pub bytes: bytes::Bytes,
}

/// Why the whole request fails; each route gives it its own error body.
#[derive(Debug)]
pub enum FolderError {
    /// No inference slot (admission): 503.
    Busy,
    /// A media that cannot be decoded or analysed (Lite: also one without a face).
    Media { key: String, error: VisionError },
    /// The analysis thread failed.
    Internal(String),
}

/// A media of the request, decoded and analysed (`None`: no analysis takes it; `Err`: why its
/// analyses fail).
struct Analysed {
    id: Uuid,
    original_name: String,
    tags: Vec<String>,
    meta_data: Value,
    info: MediaInfo,
    analysis: Option<Result<MediaAnalysis, String>>,
    /// The gesture check of a media that a QUALITY analysis takes and whose tags ask for one.
    gesture: Option<GestureCheck>,
    /// The challenge check of a media a QUALITY analysis with a challenge takes.
    challenge: Option<ChallengeCheck>,
}

/// Decodes and analyses the request's media on a blocking thread behind the admission gate, within
/// one request decode budget (each media's frames are released before the next decode), and
/// answers Oz's folder JSON with the finished analyses. Stores nothing.
pub async fn answer(
    st: &AppState,
    req: &FolderRequest,
    media: Vec<MediaInput>,
) -> Result<oz_wire::Folder, FolderError> {
    let plans: Vec<Option<AnalyzeOptions>> = (0..media.len())
        .map(|i| {
            let using: Vec<&AnalysisSpec> = req.specs.iter().filter(|s| s.takes(i)).collect();
            (!using.is_empty()).then(|| AnalyzeOptions {
                best_shot: using.iter().any(|s| matches!(&s.check, Check::Quality(q) if q.extract_best_shot)),
                embedding: using.iter().any(|s| matches!(s.check, Check::Biometry(_))),
            })
        })
        .collect();
    let gesture_checks: Vec<bool> = (0..media.len())
        .map(|i| req.specs.iter().any(|s| s.takes(i) && matches!(s.check, Check::Quality(_))))
        .collect();
    // The challenge each media must show (planning allows one challenge per media).
    let challenges: Vec<Option<Vec<Action>>> = (0..media.len())
        .map(|i| {
            req.specs.iter().filter(|s| s.takes(i)).find_map(|s| match &s.check {
                Check::Quality(q) => q.challenge.as_ref().map(|(_, a)| a.clone()),
                Check::Biometry(_) => None,
            })
        })
        .collect();
    let identity = st.lite.thresholds.approve;
    let policy = st.lite.gesture_policy;
    let planarity_weight = st.pipeline.config().planarity_weight;
    let refuse_no_face = matches!(req.flavor, Flavor::Lite);
    let analysed = st
        .run(move |p| -> Result<Vec<Analysed>, FolderError> {
            let budget = p.request_budget();
            media
                .into_iter()
                .zip(plans)
                .zip(gesture_checks)
                .zip(challenges)
                .map(|(((m, plan), quality), issued)| {
                    let MediaInput { id, key, original_name, tags, meta_data, bytes } = m;
                    let decoded =
                        p.decode_in(&bytes, &budget).map_err(|error| FolderError::Media { key: key.clone(), error })?;
                    // A challenge: its own dense decode; it replaces the tags' gesture check.
                    let challenge = issued
                        .map(|actions| {
                            let dense = p.decode_for_challenge(&bytes, &budget)?;
                            p.check_challenge(&dense, &actions, identity)
                        })
                        .transpose()
                        .map_err(|error| FolderError::Media { key: key.clone(), error })?;
                    // A gesture asked for by the tags: a second, dense decode (see oz-engine's runner).
                    let requested =
                        if quality && policy.checks() && challenge.is_none() { requested_gesture(&tags) } else { None };
                    let gesture = requested
                        .map(|g| p.check_gesture_of(&bytes, &budget, g))
                        .transpose()
                        .map_err(|error| FolderError::Media { key: key.clone(), error })?;
                    drop(bytes);
                    let analysis = match plan.map(|opts| p.analyze_media(&decoded, opts)) {
                        None => None,
                        Some(Ok(a)) => Some(Ok(a)),
                        Some(Err(VisionError::NoFace)) if !refuse_no_face => {
                            Some(Err(format!("media {id} ({key:?}): no face found in any sampled frame")))
                        }
                        Some(Err(error)) => return Err(FolderError::Media { key, error }),
                    };
                    Ok(Analysed {
                        id,
                        original_name,
                        tags,
                        meta_data,
                        info: decoded.info,
                        analysis,
                        gesture,
                        challenge,
                    })
                })
                .collect()
        })
        .await
        .map_err(|e| {
            if e.kind == oz_domain::lite::LiteErrorKind::Busy {
                FolderError::Busy
            } else {
                FolderError::Internal(e.message)
            }
        })??;
    Ok(folder_json(req, &analysed, policy, planarity_weight))
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Ids and times that differ between the flavors.
struct Shape {
    folder_id: Uuid,
    company_id: Option<Uuid>,
    /// Instant: the folder's time; Lite: null.
    folder_time: Option<f64>,
    t: f64,
}

fn media_json(f: &Shape, m: &Analysed) -> oz_wire::Media {
    let kind = match m.info.kind {
        MediaKind::Video => MediaType::VIDEO_FOLDER,
        MediaKind::Image => MediaType::IMAGE_FOLDER,
        MediaKind::ShotSet => MediaType::SHOTS_SET_FOLDER,
    };
    let mut w = oz_wire::Media::new(f.folder_id, m.id, kind, render::media_info(&m.info), m.original_name.clone());
    w.tags.clone_from(&m.tags);
    w.company_id = f.company_id;
    w.time_created = f.t;
    w.time_updated = f.t;
    w.meta_data.clone_from(&m.meta_data);
    w.folder_time_created = f.folder_time;
    w
}

fn best_shot_json(f: &Shape, m: &Analysed, a: &MediaAnalysis) -> Option<oz_wire::Media> {
    let shot = a.best_shot.as_ref()?;
    let mut w = oz_wire::Media::new(
        f.folder_id,
        Uuid::new_v4(),
        MediaType::IMAGE_RESULT_ANALYSIS_SINGLE,
        render::best_shot_info(shot),
        "ResultImage.jpg".into(),
    );
    // Oz's Lite example writes no image_id on outputs.
    w.image_id = None;
    w.company_id = f.company_id;
    w.technical_meta_data = json!({ "frame_index": shot.frame_index, "quality": wire_score(shot.quality) });
    w.time_created = f.t;
    w.time_updated = f.t;
    w.meta_data = Value::Null;
    w.folder_time_created = f.folder_time;
    w.image_b64 = Some(encode_b64(&shot.jpeg));
    w.media_association_id = Some(m.id);
    Some(w)
}

/// What one analysis found: its verdict or failure, its `results_data` and per-media results.
struct Outcome {
    /// `Err`: the analysis failed with Oz error 4 and this message.
    verdict: Result<ResolutionStatus, String>,
    results_data: Option<Value>,
    /// (media index, `results_data`, output images) per source media.
    per_media: Vec<(usize, Value, Vec<oz_wire::Media>)>,
}

fn failed(msg: String) -> Outcome {
    Outcome { verdict: Err(msg), results_data: None, per_media: Vec::new() }
}

/// The analyses of the sources, or the message of the first source that cannot be analysed.
fn analyses_of<'a>(media: &'a [Analysed], sources: &[usize]) -> Result<Vec<&'a MediaAnalysis>, String> {
    sources
        .iter()
        .map(|&i| match media.get(i).and_then(|m| m.analysis.as_ref()) {
            Some(Ok(a)) => Ok(a),
            Some(Err(msg)) => Err(msg.clone()),
            None => Err(format!("media {i} was not analysed")),
        })
        .collect()
}

fn quality(
    f: &Shape,
    q: &QualitySpec,
    media: &[Analysed],
    sources: &[usize],
    policy: GesturePolicy,
    planarity_weight: f32,
) -> Outcome {
    let analyses = match analyses_of(media, sources) {
        Ok(a) => a,
        Err(msg) => return failed(msg),
    };
    let mut verdicts = Vec::with_capacity(sources.len());
    let per_media = sources
        .iter()
        .zip(analyses)
        .map(|(&i, a)| {
            let m = &media[i];
            let gesture = m.gesture.as_ref();
            let quality = QualityOfMedia::new(planarity_weight, a, gesture);
            let live = liveness::verdict(quality.confidence_spoofing, q.threshold_spoofing as f32);
            let mut data = quality.results_data();
            match (&q.challenge, &m.challenge) {
                (Some((id, _)), Some(c)) => {
                    // A failed challenge declines whatever the texture score says.
                    verdicts.push(if c.passed { live } else { ResolutionStatus::Declined });
                    data.challenge = Some(oz_engine::runner::challenge_result(&id.to_string(), c));
                }
                _ => verdicts.push(policy.verdict(live, gesture.map(|g| g.result.detected))),
            }
            let outputs = if q.extract_best_shot { best_shot_json(f, m, a).into_iter().collect() } else { vec![] };
            (i, oz_wire::json::value(&data), outputs)
        })
        .collect();
    Outcome { verdict: Ok(status::worst(verdicts)), results_data: None, per_media }
}

fn biometry(t: &DecisionThresholds, media: &[Analysed], sources: &[usize]) -> Outcome {
    let analyses = match analyses_of(media, sources) {
        Ok(a) => a,
        Err(msg) => return failed(msg),
    };
    let mut embeddings = Vec::with_capacity(analyses.len());
    for (&i, a) in sources.iter().zip(&analyses) {
        match &a.embedding {
            Some(e) => embeddings.push(e),
            None => return failed(format!("media {}: no face found", media[i].id)),
        }
    }
    let n = embeddings.len();
    let mut scores = Vec::new();
    let mut each: Vec<Vec<f32>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            let s = score_from_cosine(oz_vision::embed::cosine(embeddings[i], embeddings[j]));
            scores.push(s);
            each[i].push(s);
            each[j].push(s);
        }
    }
    let Some((min, max, verdict)) = biometry_verdict(&scores, t) else {
        return failed(format!("BIOMETRY needs at least two media with a face, got {n}"));
    };
    let per_media = sources
        .iter()
        .zip(&each)
        .map(|(&i, s)| {
            let lo = s.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let r = BiometryResult { min_confidence: wire_score(lo), max_confidence: wire_score(hi) };
            (i, oz_wire::json::value(&r), Vec::new())
        })
        .collect();
    Outcome {
        verdict: Ok(verdict),
        results_data: Some(oz_wire::json::value(&BiometryResult {
            min_confidence: wire_score(min),
            max_confidence: wire_score(max),
        })),
        per_media,
    }
}

/// Builds the whole folder JSON.
fn folder_json(
    req: &FolderRequest,
    media: &[Analysed],
    policy: GesturePolicy,
    planarity_weight: f32,
) -> oz_wire::Folder {
    let t = now();
    let folder_id = Uuid::new_v4();
    let (instant, company_id, user_id) = match req.flavor {
        Flavor::Lite => (false, None, None),
        Flavor::Instant { company_id, user_id } => (true, company_id, user_id),
    };
    let frame = Shape { folder_id, company_id, folder_time: instant.then_some(t), t };
    let temporary = || instant.then(Uuid::new_v4);
    let group_id = temporary();
    let media_values: Vec<oz_wire::Media> = media.iter().map(|m| media_json(&frame, m)).collect();

    let mut verdicts = Vec::new();
    let analyses: Vec<oz_wire::Analysis> = req
        .specs
        .iter()
        .map(|spec| {
            let sources: Vec<usize> = spec.sources.clone().unwrap_or_else(|| (0..media.len()).collect());
            let (kind, confs, outcome) = match &spec.check {
                Check::Quality(q) => (
                    AnalysisType::QUALITY,
                    oz_wire::json::value(&QualityConfs {
                        threshold_replay: q.threshold_replay,
                        extract_best_shot: q.extract_best_shot,
                        threshold_liveness: q.threshold_liveness,
                        threshold_spoofing: q.threshold_spoofing,
                        challenge: q.challenge.as_ref().map(|(id, actions)| IssuedChallenge {
                            challenge_id: *id,
                            actions: actions.iter().map(|a| a.as_str().to_string()).collect(),
                        }),
                    }),
                    quality(&frame, q, media, &sources, policy, planarity_weight),
                ),
                Check::Biometry(th) => (
                    AnalysisType::BIOMETRY,
                    oz_wire::json::value(&BiometryConfs {
                        threshold_approve: wire_score(th.approve),
                        threshold_decline: wire_score(th.decline),
                    }),
                    biometry(th, media, &sources),
                ),
            };
            let analysis_id = temporary();
            let results_media = outcome
                .per_media
                .into_iter()
                .map(|(i, data, outputs)| {
                    let id = media[i].id;
                    ResultMedia {
                        company_id: frame.company_id,
                        media_association_id: id,
                        analysis_id,
                        results_data: data,
                        source_media_id: id,
                        source_video_id: None,
                        source_shots_set_id: None,
                        source_image_id: None,
                        output_images: outputs,
                        collection_persons: Value::Array(Vec::new()),
                        folder_time_created: frame.folder_time,
                    }
                })
                .collect();
            let (state, resolution, error_code, error_message) = match outcome.verdict {
                Ok(v) => (State::FINISHED, v, None, None),
                Err(msg) => {
                    (State::FAILED, ResolutionStatus::Failed, Some(oz_engine::runner::ERR_INVALID_VALUE), Some(msg))
                }
            };
            verdicts.push(resolution);
            oz_wire::Analysis {
                analyse_id: analysis_id,
                analysis_id,
                folder_id,
                folder_time_created: frame.folder_time,
                kind,
                state,
                company_id: frame.company_id,
                group_id,
                results_data: outcome.results_data,
                confs,
                error_message,
                error_code,
                resolution_operator: None,
                operator_comment: None,
                resolution_time: None,
                technical_meta_data: json!({}),
                time_created: t,
                time_updated: now(),
                meta_data: spec.meta_data.clone(),
                source_media: sources.iter().filter_map(|&i| media_values.get(i).cloned()).collect(),
                results_media,
                resolution_status: resolution.into(),
                resolution: resolution.into(),
                collection: None,
            }
        })
        .collect();
    let (folder_status, system) = status::folder_status(&verdicts);
    oz_wire::Folder {
        company_id: frame.company_id,
        time_created: t,
        folder_id,
        user_id,
        resolution_endpoint: req.resolution_endpoint.clone(),
        resolution_status: folder_status.into(),
        resolution_comment: "[]".into(),
        system_resolution: system.into(),
        resolution_time: None,
        resolution_author_id: None,
        resolution_state_hash: None,
        operator_comment: None,
        operator_status: None,
        is_cleared: None,
        meta_data: req.folder_meta.clone(),
        technical_meta_data: json!({}),
        time_updated: now(),
        media: media_values,
        analyses: Some(analyses),
        user: None,
        company: None,
    }
}
