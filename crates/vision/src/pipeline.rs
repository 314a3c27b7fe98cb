//! The face pipeline: decode → detect → align → embed / liveness / pose → quality → best shot,
//! over pools of single-threaded ONNX Runtime sessions.
//!
//! All methods are synchronous and CPU-bound: async callers run them on a blocking thread.
//! Frames of one video are spread over as many threads as the pools have sessions.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use image::RgbImage;
use oz_domain::gesture::Gesture;
use serde::Serialize;

use crate::align;
use crate::budget::{BudgetConfig, DecodeBudget, RequestBudget, Reservation, WorkLimits};
use crate::challenge::{self, ChallengeCheck};
use crate::detect::{self, DetectorConfig, Face};
use crate::embed;
use crate::error::VisionError;
use crate::gesture::{self, GestureFrame, GestureResult};
use crate::imgops;
use crate::limits::MediaLimits;
use crate::liveness;
use crate::media::{self, DecodedMedia, Frame};
use crate::mesh::{self, FaceMesh};
use crate::models::{self, VerifiedModels};
use crate::planarity::{self, Planarity};
use crate::pose::{self, Pose};
use crate::quality::{self, Quality};
use crate::runtime::{self, ModelPool};
use crate::template::{self, Template, TemplateError};
use oz_domain::challenge::Action;

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub models_dir: PathBuf,
    /// ONNX Runtime shared library; found automatically when `None`.
    pub ort_library: Option<PathBuf>,
    /// Sessions per model (default: the number of cores).
    pub pool_size: usize,
    pub detector: DetectorConfig,
    pub limits: MediaLimits,
    /// Memory budget of decoded frames, per process and per request.
    pub budget: BudgetConfig,
    /// Decoding work one request may do, all its media together ([`Pipeline::request_budget`]).
    pub work: WorkLimits,
    /// A face counts as a person for "exactly one face" rules when it is at least this fraction
    /// as wide as the largest face.
    pub min_face_rel: f32,
    pub best_shot_jpeg_quality: u8,
    /// Weight of the planarity signal in a video's `confidence_spoofing`
    /// ([`oz_domain::liveness::fuse`]); 0 turns it off (and skips the face mesh).
    pub planarity_weight: f32,
    /// Frames of the dense decode of a video whose tags ask for a gesture, spread over the clip.
    pub gesture_frames: usize,
    /// Frames of the dense decode of a challenge clip, spread over it: at least 10 per second
    /// for clips up to this many tenths of a second (a blink lasts 0.1-0.3 s).
    pub challenge_frames: usize,
    /// Long side of those frames (they only feed the detector and the face mesh).
    pub gesture_max_side: u32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models"),
            ort_library: None,
            pool_size: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            detector: DetectorConfig::default(),
            limits: MediaLimits::default(),
            budget: BudgetConfig::default(),
            work: WorkLimits::default(),
            min_face_rel: 0.4,
            best_shot_jpeg_quality: 90,
            planarity_weight: oz_domain::liveness::DEFAULT_PLANARITY_WEIGHT,
            gesture_frames: 40,
            challenge_frames: 100,
            gesture_max_side: 640,
        }
    }
}

/// Milliseconds spent per stage (summed over frames for a media).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageTimings {
    pub decode_ms: f64,
    pub detect_ms: f64,
    pub align_ms: f64,
    pub embed_ms: f64,
    pub liveness_ms: f64,
    pub pose_ms: f64,
    /// Face meshes of the spread frames of a video (the planarity signal; their pose comes from
    /// them too).
    pub mesh_ms: f64,
    pub quality_ms: f64,
    pub best_shot_ms: f64,
    /// Wall-clock time of the whole call.
    pub total_ms: f64,
}

impl StageTimings {
    fn add(&mut self, o: &StageTimings) {
        self.detect_ms += o.detect_ms;
        self.align_ms += o.align_ms;
        self.embed_ms += o.embed_ms;
        self.liveness_ms += o.liveness_ms;
        self.pose_ms += o.pose_ms;
        self.mesh_ms += o.mesh_ms;
        self.quality_ms += o.quality_ms;
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The main face of a frame, analysed.
#[derive(Debug, Clone, Serialize)]
pub struct FaceAnalysis {
    pub face: Face,
    /// `confidence_spoofing` of this face, 0..1, higher = attack; `None` on a frame analysed only
    /// as a best-shot candidate.
    pub spoof: Option<f32>,
    /// Head pose, from the pose model or read off this frame's face mesh (`pose_from_mesh`);
    /// `None` where it was not needed because the frame could not be the best one even frontal
    /// (see [`Pipeline::analyze_media_core`]): its `quality` then leaves the pose term out, an
    /// upper bound below the best frame's score.
    pub pose: Option<Pose>,
    /// `pose` came from the face mesh ([`Pose::from_mesh`]), not from the pose model.
    pub pose_from_mesh: bool,
    pub quality: Quality,
    #[serde(skip)]
    pub aligned: RgbImage,
    /// The face mesh, on the spread frames of a video while the media is analysed (planarity and
    /// pose); dropped before the analysis is returned.
    #[serde(skip)]
    pub mesh: Option<FaceMesh>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FrameAnalysis {
    pub index: u64,
    /// Analysed only as a best-shot candidate (no liveness score).
    pub candidate: bool,
    pub timestamp_s: Option<f64>,
    pub name: Option<String>,
    pub faces_found: usize,
    pub main: Option<FaceAnalysis>,
    pub timings: StageTimings,
}

/// The best frame of a media, as the full upright frame encoded as JPEG (Oz's ResultImage.jpg).
#[derive(Debug, Clone, Serialize)]
pub struct BestShot {
    pub frame_index: u64,
    pub width: u32,
    pub height: u32,
    pub quality: f32,
    #[serde(skip)]
    pub jpeg: Vec<u8>,
}

/// Liveness, quality and best shot of one media.
#[derive(Debug, Clone, Serialize)]
pub struct MediaAnalysis {
    pub frames: Vec<FrameAnalysis>,
    /// `confidence_spoofing` of the media: [`Self::model_spoofing`] fused with the planarity
    /// signal of a video ([`oz_domain::liveness::fuse`]).
    pub confidence_spoofing: f32,
    /// The anti-spoofing model's score: [`liveness::aggregate`] of the scores of the evenly spread
    /// frames with a face (best-shot candidates are not scored).
    pub model_spoofing: f32,
    /// How flat the face moved across the spread frames of a video (see [`crate::planarity`]);
    /// `None` for a still, a shot set, or when it was not measured.
    pub planarity: Option<Planarity>,
    pub frames_with_face: usize,
    /// Position in `frames` of the best frame (highest quality score among frames with a face).
    pub best_frame: Option<usize>,
    pub best_shot: Option<BestShot>,
    /// Embedding of the best frame's face, when asked for.
    #[serde(skip)]
    pub embedding: Option<Vec<f32>>,
    pub timings: StageTimings,
}

/// The outcome of a gesture check (see [`Pipeline::check_gesture`]).
#[derive(Debug, Clone, Serialize)]
pub struct GestureCheck {
    pub result: GestureResult,
    /// Planarity over the dense frames' meshes (more frames, more motion than the spread).
    pub planarity: Option<Planarity>,
    pub frames_analysed: usize,
    pub frames_with_face: usize,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AnalyzeOptions {
    pub best_shot: bool,
    pub embedding: bool,
}

/// Name and version of a loaded model, for `/version`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
}

pub struct Pipeline {
    cfg: PipelineConfig,
    budget: DecodeBudget,
    detector: ModelPool,
    embedder: ModelPool,
    liveness: ModelPool,
    /// How the liveness model is fed and read (models/manifest.json `preprocess`).
    liveness_spec: liveness::LivenessSpec,
    pose: ModelPool,
    /// MediaPipe face mesh (gestures, planarity).
    mesh: ModelPool,
    embedder_id: [u8; 8],
    versions: Vec<ModelVersion>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("versions", &self.versions).finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Verifies the models against the manifest, loads ONNX Runtime and the session pools.
    pub fn load(cfg: PipelineConfig) -> Result<Self, VisionError> {
        let verified: VerifiedModels = models::verify(&cfg.models_dir)?;
        let env = runtime::environment(cfg.ort_library.as_deref())?;
        crate::video::init();
        let load = |role: &str| -> Result<ModelPool, VisionError> {
            let e = verified.role(role)?;
            ModelPool::load(env, &e.name, &verified.path(e), cfg.pool_size).map(|p| p.labelled(role))
        };
        let embedder_entry = verified.role("embedder")?;
        let liveness_spec = verified.role("liveness")?.preprocess.clone().unwrap_or_default();
        liveness_spec.check()?;
        let versions = ["detector", "embedder", "liveness", "pose", "mesh"]
            .iter()
            .filter_map(|r| verified.role(r).ok())
            .map(|e| ModelVersion { name: e.name.clone(), version: e.version.clone() })
            .collect();
        Ok(Self {
            embedder_id: template::model_id_from_sha256(&embedder_entry.sha256),
            detector: load("detector")?,
            embedder: load("embedder")?,
            liveness: load("liveness")?,
            liveness_spec,
            pose: load("pose")?,
            mesh: load("mesh")?,
            versions,
            budget: DecodeBudget::new(cfg.budget),
            cfg,
        })
    }

    #[must_use]
    pub fn config(&self) -> &PipelineConfig {
        &self.cfg
    }

    #[must_use]
    pub fn limits(&self) -> &MediaLimits {
        &self.cfg.limits
    }

    #[must_use]
    pub fn model_versions(&self) -> &[ModelVersion] {
        &self.versions
    }

    /// The process-wide decode budget.
    #[must_use]
    pub fn budget(&self) -> &DecodeBudget {
        &self.budget
    }

    /// Decodes a still image (JPEG or PNG) as a one-frame media: what a route that takes an image
    /// uses, so that a video or an archive sent there never reaches a video or zip decoder.
    pub fn decode_still(&self, bytes: &[u8]) -> Result<DecodedMedia, VisionError> {
        match media::sniff(bytes) {
            Some(media::MediaKind::Image) => self.decode(bytes),
            _ if bytes.is_empty() => Err(VisionError::Empty),
            _ => Err(VisionError::UnsupportedFormat),
        }
    }

    /// A new request scope of the decode budget: decodes made through it share its memory limit
    /// and its work limits ([`PipelineConfig::work`]: pixels decoded, frames for the models,
    /// seconds of decoding). Make one per request and decode all its media through it.
    #[must_use]
    pub fn request_budget(&self) -> RequestBudget {
        self.budget.request().with_work(self.cfg.work)
    }

    /// Decodes any supported media under the configured limits, as a request of its own.
    pub fn decode(&self, bytes: &[u8]) -> Result<DecodedMedia, VisionError> {
        self.decode_in(bytes, &self.request_budget())
    }

    /// Decodes any supported media under the configured limits within `budget`; the media holds
    /// its frames' reservation until dropped.
    pub fn decode_in(&self, bytes: &[u8], budget: &RequestBudget) -> Result<DecodedMedia, VisionError> {
        media::decode_in(bytes, &self.cfg.limits, budget)
    }

    /// Decodes one JPEG/PNG image under the configured limits, as a request of its own (the
    /// budget is held while decoding only).
    pub fn decode_image(&self, bytes: &[u8]) -> Result<RgbImage, VisionError> {
        self.decode_image_in(bytes, &self.request_budget()).map(|(img, _)| img)
    }

    /// Decodes one JPEG/PNG image within `budget`; keep the reservation as long as the image.
    pub fn decode_image_in(
        &self,
        bytes: &[u8],
        budget: &RequestBudget,
    ) -> Result<(RgbImage, Reservation), VisionError> {
        if bytes.len() as u64 > self.cfg.limits.max_file_bytes {
            return Err(VisionError::FileTooLarge { size: bytes.len() as u64, limit: self.cfg.limits.max_file_bytes });
        }
        budget.decode_time_left(self.cfg.limits.video.decode_timeout)?;
        budget.charge_frames(1)?;
        let mut r = budget.empty();
        let started = Instant::now();
        let img = media::decode_image_in(bytes, self.cfg.limits.max_image_pixels, &mut r);
        budget.charge_time(started.elapsed());
        Ok((img?, r))
    }

    /// All faces, highest detector score first.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Face>, VisionError> {
        detect::detect(&self.detector, img, &self.cfg.detector)
    }

    /// Faces that count as people (see [`PipelineConfig::min_face_rel`]), largest first.
    pub fn people(&self, img: &RgbImage) -> Result<Vec<Face>, VisionError> {
        Ok(detect::significant(&self.detect(img)?, self.cfg.min_face_rel))
    }

    /// Exactly one person, or `NoFace` / `ManyFaces`.
    pub fn single_face(&self, img: &RgbImage) -> Result<Face, VisionError> {
        let people = self.people(img)?;
        match people.len() {
            0 => Err(VisionError::NoFace),
            1 => Ok(people[0]),
            n => Err(VisionError::ManyFaces(n)),
        }
    }

    /// Embedding of one face of `img`.
    pub fn embed_face(&self, img: &RgbImage, face: &Face) -> Result<Vec<f32>, VisionError> {
        embed::embed(&self.embedder, &align::align_112(img, face))
    }

    /// `confidence_spoofing` of one face (the liveness stage alone).
    pub fn spoof_score(&self, img: &RgbImage, face: &Face) -> Result<f32, VisionError> {
        liveness::spoof_score_with(&self.liveness, &self.liveness_spec, img, face)
    }

    /// Loads an extra anti-spoofing model of the expo FaceAntiSpoofing format, for measurement.
    pub fn load_aux_liveness(&self, path: &std::path::Path) -> Result<ModelPool, VisionError> {
        let env = runtime::environment(self.cfg.ort_library.as_deref())?;
        ModelPool::load(env, "expo-antispoofing", path, 1)
    }

    /// Score of the expo model on the largest face of `img` (see [`liveness::spoof_score_expo`]).
    pub fn aux_spoof_score(&self, aux: &ModelPool, img: &RgbImage) -> Result<f32, VisionError> {
        let face = self.people(img)?.first().copied().ok_or(VisionError::NoFace)?;
        liveness::spoof_score_expo(aux, img, &face)
    }

    /// Head pose of one face (the pose stage alone).
    pub fn pose(&self, img: &RgbImage, face: &Face) -> Result<Pose, VisionError> {
        pose::estimate(&self.pose, img, face)
    }

    /// The 468-point face mesh of one face (see [`mesh`]).
    pub fn mesh(&self, img: &RgbImage, face: &Face) -> Result<FaceMesh, VisionError> {
        mesh::estimate(&self.mesh, img, face)
    }

    /// The gesture measures of one frame: its largest person, that face's mesh, pose and
    /// [`gesture::FrameMeasures`] (no face, or a mesh that is not a face, gives `None`s).
    pub fn gesture_frame(&self, frame: &Frame) -> Result<GestureFrame, VisionError> {
        let face = self.people(&frame.image)?.first().copied();
        let Some(face) = face else {
            return Ok(GestureFrame {
                index: frame.index,
                face: None,
                mesh: None,
                measures: None,
                interpolated: false,
            });
        };
        let m = self.mesh(&frame.image, &face)?;
        let measures = if m.is_face() {
            // The head angles read off the mesh (calibrated against the pose model, see
            // `Pose::from_mesh`); the pose model only where the mesh gives none.
            let pose = match Pose::from_mesh(&m) {
                Some(p) => p,
                None => self.pose(&frame.image, &face)?,
            };
            gesture::measure(&frame.image, &m, &pose)
        } else {
            None
        };
        Ok(GestureFrame { index: frame.index, face: Some(face), mesh: Some(m), measures, interpolated: false })
    }

    /// The gesture measures of every frame, in order. Gestures need the frames close together
    /// (a blink lasts 0.1-0.3 s): give it every frame of a clip, or at least 10 per second.
    /// [`Self::gesture_frame`] runs on the key frames ([`gesture::key_frames`], at least every
    /// [`gesture::KEY_FRAME_INTERVAL_S`]); a frame between two key frames with a face gets their
    /// interpolated face, mesh and head angles and its own eye patches ([`gesture::interpolate`]),
    /// and any other frame the full analysis.
    pub fn gesture_frames(&self, frames: &[Frame]) -> Result<Vec<GestureFrame>, VisionError> {
        let times: Vec<Option<f64>> = frames.iter().map(|f| f.timestamp_s).collect();
        let keys = gesture::key_frames(&times);
        let key_pos: Vec<usize> = (0..frames.len()).filter(|&i| keys[i]).collect();
        let measured = self.par_map(&key_pos, |&i| self.gesture_frame(&frames[i]))?;
        let mut out: Vec<Option<GestureFrame>> = (0..frames.len()).map(|_| None).collect();
        for (&i, g) in key_pos.iter().zip(measured) {
            out[i] = Some(g);
        }
        let mut rest = Vec::new();
        for pair in key_pos.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            for j in a + 1..b {
                let w = match (times[a], times[j], times[b]) {
                    (Some(ta), Some(tj), Some(tb)) if tb > ta => ((tj - ta) / (tb - ta)) as f32,
                    _ => (j - a) as f32 / (b - a) as f32,
                };
                let between = match (&out[a], &out[b]) {
                    (Some(ga), Some(gb)) => gesture::interpolate(ga, gb, w.clamp(0.0, 1.0)),
                    _ => None,
                };
                let Some((face, mesh, yaw, pitch)) = between else {
                    rest.push(j);
                    continue;
                };
                let measures = gesture::measure(&frames[j].image, &mesh, &Pose::default()).map(|mut m| {
                    m.yaw_deg = yaw;
                    m.pitch_deg = pitch;
                    m
                });
                out[j] = Some(GestureFrame {
                    index: frames[j].index,
                    face: Some(face),
                    mesh: None,
                    measures,
                    interpolated: true,
                });
            }
        }
        for (&j, g) in rest.iter().zip(self.par_map(&rest, |&j| self.gesture_frame(&frames[j]))?) {
            out[j] = Some(g);
        }
        out.into_iter().map(|g| g.ok_or_else(|| VisionError::Model("frame not analysed".into()))).collect()
    }

    /// The template of the single person in `img`.
    pub fn extract(&self, img: &RgbImage) -> Result<Template, VisionError> {
        let face = self.single_face(img)?;
        Ok(self.template_of(self.embed_face(img, &face)?))
    }

    /// The model id that this pipeline's templates carry.
    #[must_use]
    pub fn embedder_id(&self) -> [u8; 8] {
        self.embedder_id
    }

    /// Wraps an embedding of this pipeline's embedder as a template.
    #[must_use]
    pub fn template_of(&self, vector: Vec<f32>) -> Template {
        Template { model_id: self.embedder_id, vector }
    }

    /// Parses template bytes made by this pipeline's embedder.
    pub fn parse_template(&self, bytes: &[u8]) -> Result<Template, TemplateError> {
        Template::from_bytes(bytes, &self.embedder_id, embed::DIM)
    }

    /// Cosine similarity of two templates.
    #[must_use]
    pub fn cosine(&self, a: &Template, b: &Template) -> f32 {
        embed::cosine(&a.vector, &b.vector)
    }

    /// Detects the faces of one frame and analyses the largest one (liveness too, unless the frame
    /// is only a best-shot candidate; its face mesh too when `with_mesh` and the frame is not a
    /// candidate). The pose model is not run here: `pose` is `None` and the quality leaves the
    /// pose term out ([`Self::analyze_media_core`] adds it where it matters).
    pub fn analyze_frame(&self, frame: &Frame, with_mesh: bool) -> Result<FrameAnalysis, VisionError> {
        let mut t = StageTimings::default();
        let start = Instant::now();
        let people = self.people(&frame.image)?;
        t.detect_ms = ms(start);
        let main = match people.first() {
            None => None,
            Some(face) => {
                let spread = !frame.candidate;
                Some(self.analyze_face(&frame.image, face, spread, spread && with_mesh, &mut t)?)
            }
        };
        t.total_ms = ms(start);
        Ok(FrameAnalysis {
            index: frame.index,
            candidate: frame.candidate,
            timestamp_s: frame.timestamp_s,
            name: frame.name.clone(),
            faces_found: people.len(),
            main,
            timings: t,
        })
    }

    fn analyze_face(
        &self,
        img: &RgbImage,
        face: &Face,
        with_liveness: bool,
        with_mesh: bool,
        t: &mut StageTimings,
    ) -> Result<FaceAnalysis, VisionError> {
        let s = Instant::now();
        let aligned = align::align_112(img, face);
        t.align_ms = ms(s);
        let spoof = if with_liveness {
            let s = Instant::now();
            let v = liveness::spoof_score_with(&self.liveness, &self.liveness_spec, img, face)?;
            t.liveness_ms = ms(s);
            Some(v)
        } else {
            None
        };
        let mesh = if with_mesh {
            let s = Instant::now();
            let m = self.mesh(img, face)?;
            t.mesh_ms = ms(s);
            Some(m)
        } else {
            None
        };
        let s = Instant::now();
        // Without the pose term: an upper bound of the quality; the pose comes later for the
        // frames that this bound leaves in the running for the best shot.
        let quality = quality::assess(&aligned, face, None);
        t.quality_ms = ms(s);
        Ok(FaceAnalysis { face: *face, spoof, pose: None, pose_from_mesh: false, quality, aligned, mesh })
    }

    /// Gives a pose to the frames that can still be the best one and completes their quality with
    /// it: read off the frame's face mesh where it has one that is a face ([`Pose::from_mesh`],
    /// the spread frames of a video), else from the pose model. A frame's quality without the
    /// pose term bounds it from above (the pose factor is at most 1), so frames are taken by that
    /// bound, highest first, until the next bound is below the best full quality found: the
    /// frames left cannot win, and the best frame is the one that a pose on every frame would
    /// choose.
    fn pose_contenders(&self, media: &DecodedMedia, frames: &mut [FrameAnalysis]) -> Result<(), VisionError> {
        let mut order: Vec<(usize, f32)> =
            frames.iter().enumerate().filter_map(|(i, f)| Some((i, f.main.as_ref()?.quality.score))).collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut best = f32::NEG_INFINITY;
        for (i, bound) in order {
            if bound < best {
                break;
            }
            let Some(frame) = media.frames.get(i).filter(|f| f.index == frames[i].index) else {
                return Err(VisionError::Model(format!("frame {} is not in this media", frames[i].index)));
            };
            let fa = &mut frames[i];
            let Some(main) = fa.main.as_mut() else { continue };
            let s = Instant::now();
            let from_mesh = main.mesh.as_ref().and_then(Pose::from_mesh);
            main.pose_from_mesh = from_mesh.is_some();
            let pose = match from_mesh {
                Some(p) => p,
                None => pose::estimate(&self.pose, &frame.image, &main.face)?,
            };
            fa.timings.pose_ms += ms(s);
            let s = Instant::now();
            main.quality = quality::assess(&main.aligned, &main.face, Some(&pose));
            fa.timings.quality_ms += ms(s);
            main.pose = Some(pose);
            best = best.max(main.quality.score);
        }
        Ok(())
    }

    /// Liveness, quality and (optionally) best shot and embedding of a decoded media.
    /// Fails with `NoFace` when no frame shows a face.
    pub fn analyze_media(&self, media: &DecodedMedia, opts: AnalyzeOptions) -> Result<MediaAnalysis, VisionError> {
        let start = Instant::now();
        let mut r = self.analyze_media_core(media)?;
        if opts.best_shot {
            let s = Instant::now();
            r.best_shot = self.best_shot(media, &r)?;
            r.timings.best_shot_ms = ms(s);
        }
        if opts.embedding {
            let s = Instant::now();
            r.embedding = self.best_embedding(&r)?;
            r.timings.embed_ms += ms(s);
        }
        r.timings.total_ms = ms(start);
        Ok(r)
    }

    /// [`Self::analyze_media`] without the best shot and the embedding: the per-frame models,
    /// `confidence_spoofing` and the choice of the best frame ([`MediaAnalysis::best_frame`]).
    /// [`Self::best_shot`] and [`Self::best_embedding`] add the rest later, so that callers that
    /// share one analysis (QUALITY, BIOMETRY, COLLECTION) pay for each part once.
    pub fn analyze_media_core(&self, media: &DecodedMedia) -> Result<MediaAnalysis, VisionError> {
        let start = Instant::now();
        let planarity_on = media.info.kind == media::MediaKind::Video && self.cfg.planarity_weight > 0.0;
        let mut frames = self.analyze_frames(&media.frames, planarity_on)?;
        self.pose_contenders(media, &mut frames)?;
        let mut timings = StageTimings::default();
        frames.iter().for_each(|f| timings.add(&f.timings));

        let with_face: Vec<&FrameAnalysis> = frames.iter().filter(|f| f.main.is_some()).collect();
        if with_face.is_empty() {
            return Err(VisionError::NoFace);
        }
        let best_pos = frames
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.main.as_ref().map(|m| (i, m.quality.score)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        let scores: Vec<f32> = with_face.iter().filter_map(|f| f.main.as_ref()?.spoof).collect();
        let model_spoofing = match (liveness::aggregate(&scores), best_pos) {
            (Some(v), _) => v,
            // Only best-shot candidates showed a face (none of the spread did): score the best one.
            (None, Some(pos)) => {
                let face = frames[pos].main.as_ref().map(|m| m.face).ok_or(VisionError::NoFace)?;
                liveness::spoof_score_with(&self.liveness, &self.liveness_spec, &media.frames[pos].image, &face)?
            }
            (None, None) => return Err(VisionError::NoFace),
        };
        let planarity = if planarity_on { Self::spread_planarity(&mut frames) } else { None };
        let confidence_spoofing = self.fuse_planarity(model_spoofing, planarity.as_ref());
        timings.total_ms = ms(start);
        let frames_with_face = frames.iter().filter(|f| f.main.is_some() && !f.candidate).count();
        Ok(MediaAnalysis {
            frames,
            confidence_spoofing,
            model_spoofing,
            planarity,
            frames_with_face,
            best_frame: best_pos,
            best_shot: None,
            embedding: None,
            timings,
        })
    }

    /// The model's score fused with a planarity measure under the configured weight.
    #[must_use]
    pub fn fuse_planarity(&self, model_spoofing: f32, planarity: Option<&Planarity>) -> f32 {
        oz_domain::liveness::fuse(model_spoofing, planarity.and_then(|p| p.spoof_score), self.cfg.planarity_weight)
    }

    /// Planarity over the face meshes of the evenly spread frames (not the best-shot candidates)
    /// whose main face was found (made by [`Self::analyze_frame`]), which are then dropped: an
    /// analysis is kept in a cache, the meshes (5.6 KB each) have served.
    fn spread_planarity(frames: &mut [FrameAnalysis]) -> Option<Planarity> {
        let refs: Vec<&FaceMesh> =
            frames.iter().filter(|f| !f.candidate).filter_map(|f| f.main.as_ref()?.mesh.as_ref()).collect();
        let planarity = planarity::planarity(&refs);
        frames.iter_mut().filter_map(|f| f.main.as_mut()).for_each(|m| m.mesh = None);
        planarity
    }

    /// Decodes a media for its gesture check: `gesture_frames` frames spread over a video (or a
    /// shot set), scaled to `gesture_max_side`, no best-shot candidates. A still gives its one frame.
    pub fn decode_for_gesture(&self, bytes: &[u8], budget: &RequestBudget) -> Result<DecodedMedia, VisionError> {
        let limits = MediaLimits {
            sample_frames: self.cfg.gesture_frames.max(1),
            best_shot_candidates: 0,
            video_max_side: self.cfg.gesture_max_side,
            shot_max_side: self.cfg.gesture_max_side,
            ..self.cfg.limits.clone()
        };
        media::decode_in(bytes, &limits, budget)
    }

    /// [`Self::decode_for_gesture`] then [`Self::check_gesture`]: the gesture check of a media's
    /// bytes (the dense frames are released when it returns).
    pub fn check_gesture_of(
        &self,
        bytes: &[u8],
        budget: &RequestBudget,
        requested: Gesture,
    ) -> Result<GestureCheck, VisionError> {
        self.check_gesture(&self.decode_for_gesture(bytes, budget)?, requested)
    }

    /// Whether the `requested` gesture happens in `media` (decoded densely, see
    /// [`Self::decode_for_gesture`]), and the planarity of the face over those frames.
    pub fn check_gesture(&self, media: &DecodedMedia, requested: Gesture) -> Result<GestureCheck, VisionError> {
        let start = Instant::now();
        let frames = self.gesture_frames(&media.frames)?;
        let result = gesture::detect_gesture(&gesture::series(&frames), requested);
        let meshes: Vec<&FaceMesh> = frames.iter().filter_map(|f| f.mesh.as_ref()).collect();
        let planarity = if media.info.kind == media::MediaKind::Image { None } else { planarity::planarity(&meshes) };
        Ok(GestureCheck {
            result,
            planarity,
            frames_analysed: frames.len(),
            frames_with_face: frames.iter().filter(|f| f.measures.is_some()).count(),
            total_ms: ms(start),
        })
    }

    /// Decodes a challenge clip: `challenge_frames` frames spread over it, scaled to
    /// `gesture_max_side`, no best-shot candidates.
    pub fn decode_for_challenge(&self, bytes: &[u8], budget: &RequestBudget) -> Result<DecodedMedia, VisionError> {
        let limits = MediaLimits {
            sample_frames: self.cfg.challenge_frames.max(1),
            best_shot_candidates: 0,
            video_max_side: self.cfg.gesture_max_side,
            shot_max_side: self.cfg.gesture_max_side,
            ..self.cfg.limits.clone()
        };
        media::decode_in(bytes, &limits, budget)
    }

    /// Whether `media` (decoded by [`Self::decode_for_challenge`]) shows exactly `actions`, by one
    /// person (identity samples compared with the first at `identity_threshold`, a BIOMETRY
    /// score), in one take, with a head that is not flat (see [`challenge`]).
    pub fn check_challenge(
        &self,
        media: &DecodedMedia,
        actions: &[Action],
        identity_threshold: f32,
    ) -> Result<ChallengeCheck, VisionError> {
        Ok(self.challenge_evidence(media)?.verdict(actions, identity_threshold))
    }

    /// What a challenge verdict is made from, for any sequence of actions: the models' work on the
    /// clip (per-frame measures, identity embeddings, the face track). `oz-server eval` checks one
    /// clip against many challenges with it.
    pub fn challenge_evidence(&self, media: &DecodedMedia) -> Result<ChallengeEvidence, VisionError> {
        let frames = self.gesture_frames(&media.frames)?;
        let samples = challenge::identity_samples(&frames);
        let sampled: Vec<(&Face, &Frame)> =
            samples.iter().filter_map(|&p| Some((frames[p].face.as_ref()?, media.frames.get(p)?))).collect();
        let embeddings = self.par_map(&sampled, |(face, frame)| self.embed_face(&frame.image, face))?;
        let similarities: Vec<f32> = embeddings
            .split_first()
            .map(|(first, rest)| {
                rest.iter().map(|e| oz_domain::decision::score_from_cosine(crate::embed::cosine(first, e))).collect()
            })
            .unwrap_or_default();
        let fps = media.info.video.as_ref().map_or(0.0, |v| v.fps).max(1.0);
        // The face track of the frames the detector saw (not the interpolated ones).
        let points: Vec<challenge::TrackPoint> = frames
            .iter()
            .zip(&media.frames)
            .filter(|(g, _)| !g.interpolated)
            .map(|(g, f)| challenge::TrackPoint {
                index: g.index,
                time_s: f.timestamp_s.unwrap_or(g.index as f64 / fps),
                face: g.face,
            })
            .collect();
        Ok(ChallengeEvidence { frames, points, similarities, samples: embeddings.len() })
    }

    /// `f` over `frames` (or any items) in parallel, one worker per pooled session, results in order.
    fn par_map<I: Sync, T: Send>(
        &self,
        frames: &[I],
        f: impl Fn(&I) -> Result<T, VisionError> + Sync,
    ) -> Result<Vec<T>, VisionError> {
        // One worker (this thread) when other jobs run: they already keep the cores busy.
        let job = crate::load::Job::start();
        let workers = job.threads(self.cfg.pool_size).clamp(1, frames.len().max(1));
        if workers <= 1 {
            return frames.iter().map(&f).collect();
        }
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<T, VisionError>>>> = Mutex::new((0..frames.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= frames.len() {
                            break;
                        }
                        let r = f(&frames[i]);
                        if let Ok(mut v) = results.lock() {
                            v[i] = Some(r);
                        }
                    }
                });
            }
        });
        let v = results.into_inner().map_err(|_| VisionError::Model("frame worker panicked".into()))?;
        v.into_iter().map(|r| r.unwrap_or_else(|| Err(VisionError::Model("frame not analysed".into())))).collect()
    }

    /// The best frame of `r` (an analysis of `media`) as a JPEG; `None` when no frame has a face.
    pub fn best_shot(&self, media: &DecodedMedia, r: &MediaAnalysis) -> Result<Option<BestShot>, VisionError> {
        let Some(pos) = r.best_frame else {
            return Ok(None);
        };
        let Some((fa, main)) = r.frames.get(pos).and_then(|f| Some((f, f.main.as_ref()?))) else {
            return Ok(None);
        };
        // The analysis was made of these frames: the same position holds the same frame.
        let frame = media.frames.get(pos).filter(|f| f.index == fa.index);
        let img = match frame.or_else(|| media.frames.iter().find(|f| f.index == fa.index)) {
            Some(f) => &f.image,
            None => return Err(VisionError::Model(format!("frame {} is not in this media", fa.index))),
        };
        Ok(Some(BestShot {
            frame_index: fa.index,
            width: img.width(),
            height: img.height(),
            quality: main.quality.score,
            jpeg: imgops::encode_jpeg(img, self.cfg.best_shot_jpeg_quality)?,
        }))
    }

    /// Embedding of the best frame's face of `r`; `None` when no frame has a face. Needs no
    /// frame: the aligned face is in the analysis.
    pub fn best_embedding(&self, r: &MediaAnalysis) -> Result<Option<Vec<f32>>, VisionError> {
        let Some(main) = r.best_frame.and_then(|pos| r.frames.get(pos)).and_then(|f| f.main.as_ref()) else {
            return Ok(None);
        };
        embed::embed(&self.embedder, &main.aligned).map(Some)
    }

    /// The embedding of a still image's main face, and nothing else: the detector and the
    /// embedder, no liveness, pose or quality (they only serve QUALITY; BIOMETRY and COLLECTION on
    /// an ID photo need the face alone). The same face, aligned the same way, as
    /// [`Self::analyze_media_core`] + [`Self::best_embedding`] give for the still (its one frame is
    /// its best frame whatever the quality). `Ok(None)` for media that are not one still
    /// ([`DecodedMedia::is_still`]): videos and shot sets choose their best frame by quality.
    /// Fails with `NoFace` when the still shows no face.
    pub fn still_embedding(&self, media: &DecodedMedia) -> Result<Option<Vec<f32>>, VisionError> {
        let Some(frame) = media.frames.first().filter(|_| media.is_still()) else {
            return Ok(None);
        };
        // `people` is the main-face rule a frame's analysis uses too.
        let face = *self.people(&frame.image)?.first().ok_or(VisionError::NoFace)?;
        self.embed_face(&frame.image, &face).map(Some)
    }

    /// Analyses frames in parallel, one worker per pooled session, results in frame order.
    fn analyze_frames(&self, frames: &[Frame], with_mesh: bool) -> Result<Vec<FrameAnalysis>, VisionError> {
        self.par_map(frames, |f| self.analyze_frame(f, with_mesh))
    }
}

/// The models' findings on one challenge clip ([`Pipeline::challenge_evidence`]).
#[derive(Debug, Clone)]
pub struct ChallengeEvidence {
    pub frames: Vec<GestureFrame>,
    pub points: Vec<challenge::TrackPoint>,
    /// Similarity (BIOMETRY score) of each identity sample after the first with the first.
    pub similarities: Vec<f32>,
    pub samples: usize,
}

impl ChallengeEvidence {
    /// The verdict for `actions` ([`challenge::verdict`]).
    #[must_use]
    pub fn verdict(&self, actions: &[Action], identity_threshold: f32) -> ChallengeCheck {
        challenge::verdict(&self.frames, &self.points, actions, &self.similarities, self.samples, identity_threshold)
    }
}
