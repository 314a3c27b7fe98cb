//! `oz-server eval DIR...`: measures what the shipped thresholds do on labelled media.
//!
//! Labels (relative to each DIR given):
//! - a media below a folder named `attack/` is a presentation attack; its attack kind is the
//!   folder just below `attack/` (`attack/print/x.jpg` is kind `print`), or `attack` for files
//!   directly in `attack/`;
//! - a file whose name starts with `planar_photo_` is an attack of kind `planar_photo`: this is
//!   how the synthetic clips of `tests/fixtures/gestures/` are labelled without moving them
//!   (there the `planar_photo_*` clips are flat photos moved in 3D; `gesture_*` and
//!   `planar_head_*` are live-like heads);
//! - everything else (below `live/`, or anywhere else) is bona fide.
//!
//! Identity for verification comes from the file name: `person__anything.jpg` belongs to
//! `person`; a name without `__` is a person of its own. `--simulate-attacks` adds, for every
//! live still, the attacks of `attacks.rs` (kind = the attack's name) and the still brought to
//! the same capture scale (bona fide).
//!
//! Signals, per media:
//! - `model`: `confidence_spoofing` of the shipped liveness model (a media without a face scores
//!   1: a live one is rejected, an attack caught);
//! - `planarity` (videos): [`oz_vision::planarity::planarity`] over the face meshes of the evenly
//!   spread frames' main faces (not the best-shot candidates), in frame order; inconclusive (too
//!   little out-of-plane motion, fewer than two meshes) is "no signal": such a media is never
//!   flagged by it, and how many there are is printed;
//! - `expo` (with `--aux-liveness FILE`): the expo FaceAntiSpoofing score
//!   ([`oz_vision::liveness::spoof_score_expo`]), mean over the same frames (no face: infinite);
//! - fused: for videos `max(model, w * planarity)` (no planarity signal: `model`), for stills
//!   `a * model + (1 - a) * expo` and `max(model, b * expo)`, each over a small sweep.
//!
//! Prints, per signal: BPCER, APCER (pooled over every attack) and ACER = (APCER + BPCER) / 2 at
//! the configured threshold, APCER at BPCER 0 (threshold at the highest bona fide score: flagged
//! means strictly above it), and the APCER of every attack kind at both; then the liveness sweep
//! of the model over every media, the aux-model summary and the verification outcomes of every
//! genuine and impostor pair at the decision thresholds.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use clap::Args;
use image::RgbImage;
use oz_domain::decision::{DecisionThresholds, score_from_cosine};
use oz_vision::media::{DecodedMedia, Frame, MediaInfo, MediaKind};
use oz_vision::mesh::FaceMesh;
use oz_vision::pipeline::{AnalyzeOptions, MediaAnalysis};
use oz_vision::planarity::Planarity;

use crate::attacks;
use crate::config::{ThresholdArgs, VisionArgs};

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Folders of labelled media (see `eval.rs`: `attack/<kind>/`, `planar_photo_*`, else live).
    #[arg(required_unless_present = "challenges")]
    pub dirs: Vec<PathBuf>,
    /// Also evaluate liveness challenges on the clips of this manifest (JSON; see
    /// `eval_challenges.rs`), with APCER per attack kind, e.g. tests/fixtures/challenges.json.
    #[arg(long)]
    pub challenges: Option<PathBuf>,
    /// Random challenges each clip is checked against (replays, photos); cheap, as each clip is
    /// analysed once.
    #[arg(long, default_value_t = 1000)]
    pub challenge_draws: usize,
    /// Also evaluate attacks simulated from every live image.
    #[arg(long)]
    pub simulate_attacks: bool,
    /// Also score every media with a second anti-spoofing model of the expo FaceAntiSpoofing
    /// format (ONNX file), to measure whether it would help.
    #[arg(long)]
    pub aux_liveness: Option<PathBuf>,
    #[command(flatten)]
    pub vision: VisionArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// Planarity weights tried in `max(model, w * planarity)`.
const PLANARITY_WEIGHTS: [f32; 3] = [0.5, 0.75, 1.0];
/// Model weights tried in `a * model + (1 - a) * expo`.
const EXPO_MEAN_WEIGHTS: [f32; 3] = [0.25, 0.5, 0.75];
/// Expo scales tried in `max(model, b * expo)`.
const EXPO_MAX_SCALES: [f32; 3] = [0.25, 0.5, 1.0];
/// Small changes of the face box (scale, centre shift in box widths / heights), of the size that
/// separates two detectors' boxes of one face (MTCNN against YuNet: side 0.93-1.13, centre up to
/// 0.05-0.09 apart) or one detector's boxes on consecutive frames: a score that moves more than
/// the margin of an operating point under these is not an operating point.
const JITTERS: [(f32, f32, f32); 7] = [
    (1.0, 0.0, 0.0),
    (0.95, 0.0, 0.0),
    (1.05, 0.0, 0.0),
    (1.0, 0.03, 0.0),
    (1.0, -0.03, 0.0),
    (1.0, 0.0, 0.03),
    (1.0, 0.0, -0.03),
];

struct Sample {
    name: String,
    identity: Option<String>,
    attack: Option<String>,
    video: bool,
    /// `confidence_spoofing`; `None` when no face was found.
    model: Option<f32>,
    /// Videos: the planarity of the spread frames' meshes (`None`: fewer than two meshes).
    planarity: Option<Planarity>,
    aux: Option<f32>,
    /// Stills with `--aux-liveness`: (model, expo) scores of the face box moved by each of [`JITTERS`].
    jitter: Vec<(f32, f32)>,
    embedding: Option<Vec<f32>>,
}

impl Sample {
    /// The model's score; no face counts as 1 (rejected / caught).
    fn model_score(&self) -> f32 {
        self.model.unwrap_or(1.0)
    }

    fn planarity_score(&self) -> Option<f32> {
        self.planarity.as_ref().and_then(|p| p.spoof_score)
    }

    /// The aux model's score; no face counts as infinitely suspicious.
    fn aux_score(&self) -> f32 {
        self.aux.unwrap_or(f32::INFINITY)
    }
}

/// The attack kind of a media at `rel` (its path below the DIR given), `None` for bona fide.
fn attack_kind(rel: &Path) -> Option<String> {
    let parts: Vec<&str> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let (file, folders) = parts.split_last()?;
    if let Some(i) = folders.iter().position(|p| *p == "attack") {
        return Some(folders.get(i + 1).copied().unwrap_or("attack").to_string());
    }
    file.starts_with("planar_photo_").then(|| "planar_photo".to_string())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if p.is_dir() {
            collect(&p, out)?;
        } else if !name.starts_with('.')
            && [".jpg", ".jpeg", ".png", ".mp4", ".mov", ".webm", ".avi", ".zip"]
                .iter()
                .any(|e| name.to_ascii_lowercase().ends_with(e))
        {
            out.push(p);
        }
    }
    Ok(())
}

fn identity(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    stem.split("__").next().unwrap_or(stem).to_string()
}

fn as_media(image: RgbImage) -> DecodedMedia {
    let info = MediaInfo {
        kind: MediaKind::Image,
        mime_type: "image/png".into(),
        size: 0,
        md5: String::new(),
        width: image.width(),
        height: image.height(),
        video: None,
        shots: None,
    };
    DecodedMedia::untracked(info, vec![Frame { index: 0, timestamp_s: None, name: None, image, candidate: false }])
}

/// The extra signals of one analysed media: the planarity of the spread frames' meshes (videos)
/// and the mean aux score over the same frames, with the time of each aux call.
struct Extra {
    planarity: Option<Planarity>,
    aux: Option<f32>,
    jitter: Vec<(f32, f32)>,
}

/// `face` scaled by `s` about its centre moved by (`dx` widths, `dy` heights).
fn jittered(face: &oz_vision::detect::Face, (s, dx, dy): (f32, f32, f32)) -> oz_vision::detect::Face {
    let (cx, cy) = (face.x + face.w * (0.5 + dx), face.y + face.h * (0.5 + dy));
    let (w, h) = (face.w * s, face.h * s);
    oz_vision::detect::Face { x: cx - w / 2.0, y: cy - h / 2.0, w, h, ..*face }
}

fn extra_signals(
    p: &oz_vision::Pipeline,
    aux: Option<&oz_vision::runtime::ModelPool>,
    media: &DecodedMedia,
    analysed: Option<&MediaAnalysis>,
    aux_times: &mut Vec<f64>,
) -> Extra {
    let Some(a) = analysed else { return Extra { planarity: None, aux: None, jitter: Vec::new() } };
    // The spread frames with a face, in frame order (analysis frames follow the media's).
    let spread: Vec<(&Frame, oz_vision::detect::Face)> = a
        .frames
        .iter()
        .zip(&media.frames)
        .filter(|(fa, _)| !fa.candidate)
        .filter_map(|(fa, f)| Some((f, fa.main.as_ref()?.face)))
        .collect();
    // The analysis measured it on the same frames (`MediaAnalysis::planarity`, unless
    // OZ_PLANARITY_WEIGHT is 0); otherwise measure it here the same way.
    let planarity = match (&a.planarity, media.info.kind != MediaKind::Image) {
        (Some(pl), _) => Some(Some(*pl)),
        (None, true) => Some({
            let meshes: Vec<FaceMesh> = spread.iter().filter_map(|(f, face)| p.mesh(&f.image, face).ok()).collect();
            let refs: Vec<&FaceMesh> = meshes.iter().collect();
            oz_vision::planarity::planarity(&refs)
        }),
        (None, false) => None,
    };
    let aux_mean = aux.and_then(|pool| {
        let scores: Vec<f32> = spread
            .iter()
            .filter_map(|(f, face)| {
                let t = std::time::Instant::now();
                let s = oz_vision::liveness::spoof_score_expo(pool, &f.image, face).ok();
                aux_times.push(t.elapsed().as_secs_f64() * 1000.0);
                s
            })
            .collect();
        (!scores.is_empty()).then(|| scores.iter().sum::<f32>() / scores.len() as f32)
    });
    let mut jitter = Vec::new();
    if let (Some(pool), true, [(f, face)]) = (aux, media.info.kind == MediaKind::Image, spread.as_slice()) {
        for j in JITTERS {
            let jf = jittered(face, j);
            let m = p.spoof_score(&f.image, &jf).unwrap_or(1.0);
            let e = oz_vision::liveness::spoof_score_expo(pool, &f.image, &jf).unwrap_or(f32::INFINITY);
            jitter.push((m, e));
        }
    }
    Extra { planarity: planarity.flatten(), aux: aux_mean, jitter }
}

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let p = oz_vision::Pipeline::load(args.vision.pipeline_config())?;
    let thresholds = args.thresholds.thresholds()?;
    let threshold = args.thresholds.threshold_spoofing;
    let mut files = Vec::new();
    for dir in &args.dirs {
        let mut found = Vec::new();
        collect(dir, &mut found)?;
        files.extend(found.into_iter().map(|p| (dir.clone(), p)));
    }
    if files.is_empty()
        && let Some(manifest) = &args.challenges
    {
        return crate::eval_challenges::run(&p, manifest, args.challenge_draws, thresholds.approve);
    }
    let mut samples: Vec<Sample> = Vec::new();
    let aux = args.aux_liveness.as_deref().map(|path| p.load_aux_liveness(path)).transpose()?;
    let mut aux_times = Vec::new();
    let opts = AnalyzeOptions { best_shot: false, embedding: true };
    for (dir, path) in &files {
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let name = rel.display().to_string();
        let attack = attack_kind(rel);
        let bytes = std::fs::read(path)?;
        let media = match p.decode(&bytes) {
            Ok(m) => m,
            Err(e) => {
                println!("skip {name}: {e}");
                continue;
            }
        };
        let analysed = p.analyze_media(&media, opts);
        if let Err(e) = &analysed {
            println!("{name}: {e}");
        }
        let analysed = analysed.ok();
        let is_image = media.info.kind == MediaKind::Image;
        let extra = extra_signals(&p, aux.as_ref(), &media, analysed.as_ref(), &mut aux_times);
        samples.push(Sample {
            name: name.clone(),
            identity: (attack.is_none() && is_image).then(|| identity(path)),
            attack: attack.clone(),
            video: !is_image,
            model: analysed.as_ref().map(|a| a.model_spoofing),
            planarity: extra.planarity,
            aux: extra.aux,
            jitter: extra.jitter,
            embedding: analysed.and_then(|a| a.embedding),
        });
        if args.simulate_attacks && attack.is_none() && is_image {
            let Some(source) = media.frames.first() else { continue };
            // The bona fide reference at the same capture scale, so attacks differ only by the attack.
            let mut derived = vec![(format!("{name} [capture scale]"), None, attacks::capture_scale(&source.image))];
            for kind in attacks::KINDS {
                if let Some(img) = attacks::simulate(kind, &source.image) {
                    derived.push((format!("{name} [{kind}]"), Some(kind.to_string()), img));
                }
            }
            for (name, attack, img) in derived {
                let m = as_media(img);
                let analysed = p.analyze_media(&m, AnalyzeOptions::default()).ok();
                let extra = extra_signals(&p, aux.as_ref(), &m, analysed.as_ref(), &mut aux_times);
                samples.push(Sample {
                    name,
                    identity: None,
                    attack,
                    video: false,
                    model: analysed.map(|a| a.model_spoofing),
                    planarity: None,
                    aux: extra.aux,
                    jitter: extra.jitter,
                    embedding: None,
                });
            }
        }
    }

    print_media_table(&samples);
    report_signals(&samples, threshold, aux.is_some());
    report_model_sweep(&samples, threshold);
    if aux.is_some() {
        report_aux(&samples, threshold, &mut aux_times);
        report_jitter(&samples, threshold);
    }
    report_verification(&samples, &thresholds);
    if let Some(manifest) = &args.challenges {
        crate::eval_challenges::run(&p, manifest, args.challenge_draws, thresholds.approve)?;
    }
    Ok(())
}

fn print_media_table(samples: &[Sample]) {
    println!("\n== Liveness (confidence_spoofing; attack when > threshold) ==");
    println!("{:<60} {:>8} {:>10} {:>8} {:>14}", "media", "spoof", "planarity", "aux", "label");
    for s in samples {
        let spoof = s.model.map_or("no face".to_string(), |v| format!("{v:.4}"));
        let plan = match (&s.planarity, s.video) {
            (_, false) => "-".to_string(),
            (None, true) => "<2 meshes".to_string(),
            (Some(pl), true) => match pl.spoof_score {
                Some(v) => format!("{v:.3}"),
                None => format!("incl({}/{})", pl.moving_frames, pl.frames),
            },
        };
        let aux = s.aux.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!("{:<60} {spoof:>8} {plan:>10} {aux:>8} {:>14}", s.name, s.attack.as_deref().unwrap_or("live"));
    }
}

/// One media for the metrics: its attack kind (`None` = bona fide) and one signal's score
/// (`None` = the signal is inconclusive on it).
#[derive(Debug, Clone, Copy)]
struct Labelled<'a> {
    kind: Option<&'a str>,
    score: Option<f32>,
}

/// Counts of one group of media at one threshold.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Count {
    n: usize,
    /// Attacks: not flagged (score <= threshold or no signal). Bona fide: flagged.
    errors: usize,
    no_signal: usize,
}

impl Count {
    fn rate(&self) -> Option<f64> {
        (self.n > 0).then(|| self.errors as f64 / self.n as f64)
    }
}

/// Error rates of one signal at one threshold (ISO/IEC 30107-3 terms): a media is flagged as an
/// attack when its score is strictly above the threshold; a media with no signal is not flagged.
#[derive(Debug, Default, Clone, PartialEq)]
struct Rates {
    threshold: f32,
    live: Count,
    attacks: Count,
    per_kind: BTreeMap<String, Count>,
}

impl Rates {
    fn bpcer(&self) -> Option<f64> {
        self.live.rate()
    }

    /// APCER pooled over every attack.
    fn apcer(&self) -> Option<f64> {
        self.attacks.rate()
    }

    fn acer(&self) -> Option<f64> {
        Some((self.apcer()? + self.bpcer()?) / 2.0)
    }
}

fn rates(v: &[Labelled], threshold: f32) -> Rates {
    let mut r = Rates { threshold, ..Rates::default() };
    for s in v {
        let flagged = s.score.is_some_and(|x| x > threshold);
        let (count, error) = match s.kind {
            None => (&mut r.live, flagged),
            Some(_) => (&mut r.attacks, !flagged),
        };
        for c in std::iter::once(count).chain(s.kind.map(|k| r.per_kind.entry(k.to_string()).or_default())) {
            c.n += 1;
            c.errors += usize::from(error);
            c.no_signal += usize::from(s.score.is_none());
        }
    }
    r
}

/// The threshold at which no bona fide media is flagged and as many attacks as possible are:
/// the highest bona fide score with a signal (`-inf` when none has one).
fn bpcer0_threshold(v: &[Labelled]) -> f32 {
    v.iter().filter(|s| s.kind.is_none()).filter_map(|s| s.score).fold(f32::NEG_INFINITY, f32::max)
}

fn fmt_rate(r: Option<f64>) -> String {
    r.map_or("-".to_string(), |v| format!("{v:.3}"))
}

fn fmt_threshold(t: f32) -> String {
    if t.is_finite() { format!("{t:.4}") } else { "none".to_string() }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Domain {
    All,
    Stills,
    Videos,
}

struct SignalDef {
    name: String,
    domain: Domain,
    score: ScoreFn,
}

/// A signal's score of one media (`None` = no signal).
type ScoreFn = Box<dyn Fn(&Sample) -> Option<f32>>;
/// A still fusion of (model, expo) scores.
type FuseFn = Box<dyn Fn(f32, f32) -> f32>;

fn signal_defs(with_aux: bool) -> Vec<SignalDef> {
    let mut v = vec![
        SignalDef { name: "model".into(), domain: Domain::All, score: Box::new(|s| Some(s.model_score())) },
        SignalDef { name: "model".into(), domain: Domain::Stills, score: Box::new(|s| Some(s.model_score())) },
        SignalDef { name: "model".into(), domain: Domain::Videos, score: Box::new(|s| Some(s.model_score())) },
        SignalDef { name: "planarity".into(), domain: Domain::Videos, score: Box::new(Sample::planarity_score) },
    ];
    for w in PLANARITY_WEIGHTS {
        v.push(SignalDef {
            name: format!("max(model, {w}*planarity)"),
            domain: Domain::Videos,
            score: Box::new(move |s| {
                Some(s.planarity_score().map_or(s.model_score(), |pl| s.model_score().max(w * pl)))
            }),
        });
    }
    if with_aux {
        v.push(SignalDef { name: "expo".into(), domain: Domain::Stills, score: Box::new(|s| Some(s.aux_score())) });
        for a in EXPO_MEAN_WEIGHTS {
            v.push(SignalDef {
                name: format!("{a}*model+{}*expo", 1.0 - a),
                domain: Domain::Stills,
                score: Box::new(move |s| Some(a * s.model_score() + (1.0 - a) * s.aux_score())),
            });
        }
        for b in EXPO_MAX_SCALES {
            v.push(SignalDef {
                name: format!("max(model, {b}*expo)"),
                domain: Domain::Stills,
                score: Box::new(move |s| Some(s.model_score().max(b * s.aux_score()))),
            });
        }
    }
    v
}

/// The per-signal table: rates at the configured threshold and at BPCER 0, APCER per kind.
fn report_signals(samples: &[Sample], threshold: f32, with_aux: bool) {
    println!("\n== Signals (flagged when score > threshold; \"ns\" = no signal, never flagged) ==");
    println!(
        "{:<30} {:<6} {:>9} {:>11} | at {threshold}: {:>6} {:>6} {:>6} | at BPCER 0: {:>9} {:>6} {:>6}",
        "signal", "media", "live(ns)", "attack(ns)", "BPCER", "APCER", "ACER", "threshold", "APCER", "ACER"
    );
    for def in signal_defs(with_aux) {
        let in_domain: Vec<&Sample> = samples
            .iter()
            .filter(|s| match def.domain {
                Domain::All => true,
                Domain::Stills => !s.video,
                Domain::Videos => s.video,
            })
            .collect();
        if in_domain.is_empty() {
            continue;
        }
        let scores: Vec<Option<f32>> = in_domain.iter().map(|s| (def.score)(s)).collect();
        let v: Vec<Labelled> =
            in_domain.iter().zip(&scores).map(|(s, &score)| Labelled { kind: s.attack.as_deref(), score }).collect();
        let at = rates(&v, threshold);
        let t0 = bpcer0_threshold(&v);
        let at0 = rates(&v, t0);
        let domain = match def.domain {
            Domain::All => "all",
            Domain::Stills => "stills",
            Domain::Videos => "videos",
        };
        println!(
            "{:<30} {domain:<6} {:>9} {:>11} | at {threshold}: {:>6} {:>6} {:>6} | at BPCER 0: {:>9} {:>6} {:>6}",
            def.name,
            format!("{}({})", at.live.n, at.live.no_signal),
            format!("{}({})", at.attacks.n, at.attacks.no_signal),
            fmt_rate(at.bpcer()),
            fmt_rate(at.apcer()),
            fmt_rate(at.acer()),
            fmt_threshold(t0),
            fmt_rate(at0.apcer()),
            fmt_rate(at0.acer()),
        );
        let kinds: Vec<String> = at
            .per_kind
            .iter()
            .map(|(k, c)| {
                let c0 = at0.per_kind.get(k).copied().unwrap_or_default();
                let ns = if c.no_signal > 0 { format!(" ({} ns)", c.no_signal) } else { String::new() };
                format!("{k} {}/{}{ns}", fmt_rate(c.rate()), fmt_rate(c0.rate()))
            })
            .collect();
        if !kinds.is_empty() {
            println!("    APCER per kind (at {threshold} / at BPCER 0): {}", kinds.join(", "));
        }
    }
}

/// The model's sweep over every media (the lines `docs/CALIBRATION.md` quotes).
fn report_model_sweep(samples: &[Sample], threshold: f32) {
    let live: Vec<f32> = samples.iter().filter(|s| s.attack.is_none()).map(Sample::model_score).collect();
    let attack: Vec<(&str, f32)> =
        samples.iter().filter_map(|s| s.attack.as_deref().map(|k| (k, s.model_score()))).collect();
    let v: Vec<Labelled> =
        samples.iter().map(|s| Labelled { kind: s.attack.as_deref(), score: Some(s.model_score()) }).collect();
    println!("\n== Model sweep over every media ==");
    println!("{} live, {} attacks", live.len(), attack.len());
    println!("{:>9} {:>7} {:>7} {:>7}", "threshold", "BPCER", "APCER", "ACER");
    let mut sweep: Vec<f32> = (1..20).map(|i| i as f32 * 0.05).collect();
    sweep.push(threshold);
    sweep.sort_by(f32::total_cmp);
    sweep.dedup();
    for t in sweep {
        let r = rates(&v, t);
        let mark = if (t - threshold).abs() < 1e-6 { "  <- configured" } else { "" };
        println!("{t:>9.3} {:>7} {:>7} {:>7}{mark}", fmt_rate(r.bpcer()), fmt_rate(r.apcer()), fmt_rate(r.acer()));
    }
    if let Some(max_live) = live.iter().copied().reduce(f32::max) {
        let r = rates(&v, max_live);
        println!(
            "highest live score {max_live:.4}: a threshold there accepts every live media and has APCER {}",
            fmt_rate(r.apcer())
        );
    }
    for (k, c) in &rates(&v, threshold).per_kind {
        println!("  {k:<14} caught {}/{} at threshold {threshold}", c.n - c.errors, c.n);
    }
}

/// Error rates of the aux model alone and of "either model flags it", as measured.
fn report_aux(samples: &[Sample], threshold: f32, times: &mut [f64]) {
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    println!("\n== Aux anti-spoofing model (expo FaceAntiSpoofing) on stills, median {median:.1} ms per face ==");
    let stills: Vec<&Sample> = samples.iter().filter(|s| !s.video).collect();
    let live: Vec<(f32, f32)> =
        stills.iter().filter(|s| s.attack.is_none()).map(|s| (s.model_score(), s.aux_score())).collect();
    let attack: Vec<(f32, f32)> =
        stills.iter().filter(|s| s.attack.is_some()).map(|s| (s.model_score(), s.aux_score())).collect();
    let rate = |v: &[(f32, f32)], flag: &dyn Fn(&(f32, f32)) -> bool| {
        v.iter().filter(|x| flag(x)).count() as f64 / v.len().max(1) as f64
    };
    let max_live_aux = live.iter().map(|x| x.1).fold(0.0f32, f32::max);
    for (label, t_aux) in
        [("aux alone at its own 0.2", 0.2f32), ("aux alone at the highest live aux score", max_live_aux)]
    {
        let bpcer = rate(&live, &|x| x.1 > t_aux);
        let apcer = 1.0 - rate(&attack, &|x| x.1 > t_aux);
        println!("{label} ({t_aux:.4}): BPCER {bpcer:.3} APCER {apcer:.3}");
    }
    let bpcer = rate(&live, &|x| x.0 > threshold || x.1 > max_live_aux);
    let apcer = 1.0 - rate(&attack, &|x| x.0 > threshold || x.1 > max_live_aux);
    println!("either model flags it (main > {threshold}, aux > {max_live_aux:.4}): BPCER {bpcer:.3} APCER {apcer:.3}");
}

/// Still fusions as functions of (model, expo), for the jitter check.
fn still_fusions() -> Vec<(String, FuseFn)> {
    let mut v: Vec<(String, FuseFn)> = vec![("model".into(), Box::new(|m, _| m)), ("expo".into(), Box::new(|_, e| e))];
    for a in EXPO_MEAN_WEIGHTS {
        v.push((format!("{a}*model+{}*expo", 1.0 - a), Box::new(move |m, e| a * m + (1.0 - a) * e)));
    }
    for b in EXPO_MAX_SCALES {
        v.push((format!("max(model, {b}*expo)"), Box::new(move |m, e| m.max(b * e))));
    }
    v
}

/// APCER at BPCER 0 on stills when the face box moves by [`JITTERS`]: the threshold is the
/// highest bona fide score over every box, and an attack counts as caught only when it is above it
/// with every box. Compare with the same signal's APCER at BPCER 0 in the signals table. Also the
/// rates at the configured threshold when every box must pass (BPCER: a live still flagged with
/// any box; APCER: an attack missed with any box).
fn report_jitter(samples: &[Sample], threshold: f32) {
    let stills: Vec<&Sample> = samples.iter().filter(|s| !s.video && !s.jitter.is_empty()).collect();
    if stills.is_empty() {
        return;
    }
    println!("\n== Stills under face-box jitter ({} boxes: scale 0.95/1.05, centre +-0.03) ==", JITTERS.len());
    println!(
        "{:<30} {:>12} {:>12} {:>14} {:>13} | at {threshold}: {:>6} {:>6}",
        "signal", "live max", "live spread", "attack spread", "APCER(BPCER0)", "BPCER", "APCER"
    );
    for (name, f) in still_fusions() {
        let range = |s: &Sample| {
            let v: Vec<f32> = s.jitter.iter().map(|&(m, e)| f(m, e)).collect();
            let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            (lo, hi)
        };
        let live: Vec<(f32, f32)> = stills.iter().filter(|s| s.attack.is_none()).map(|s| range(s)).collect();
        let attacks: Vec<(f32, f32)> = stills.iter().filter(|s| s.attack.is_some()).map(|s| range(s)).collect();
        let t = live.iter().map(|r| r.1).fold(f32::NEG_INFINITY, f32::max);
        let frac = |n: usize, of: usize| (of > 0).then(|| n as f64 / of as f64);
        let missed = attacks.iter().filter(|r| r.0 <= t).count();
        let spread = |v: &[(f32, f32)]| v.iter().map(|r| r.1 - r.0).fold(0.0f32, f32::max);
        let live_flagged = live.iter().filter(|r| r.1 > threshold).count();
        let missed_at = attacks.iter().filter(|r| r.0 <= threshold).count();
        println!(
            "{name:<30} {:>12} {:>12.4} {:>14.4} {:>13} | at {threshold}: {:>6} {:>6}",
            fmt_threshold(t),
            spread(&live),
            spread(&attacks),
            fmt_rate(frac(missed, attacks.len())),
            fmt_rate(frac(live_flagged, live.len())),
            fmt_rate(frac(missed_at, attacks.len())),
        );
    }
}

fn report_verification(samples: &[Sample], thresholds: &DecisionThresholds) {
    println!(
        "\n== Verification (score from cosine; approve >= {}, decline < {}) ==",
        thresholds.approve, thresholds.decline
    );
    let people: Vec<(&str, &str, &Vec<f32>)> =
        samples.iter().filter_map(|s| Some((s.name.as_str(), s.identity.as_deref()?, s.embedding.as_ref()?))).collect();
    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    for i in 0..people.len() {
        for j in i + 1..people.len() {
            let cos = oz_vision::embed::cosine(people[i].2, people[j].2);
            let score = score_from_cosine(cos);
            let line = format!(
                "{} vs {}: cosine {cos:.3} score {score:.3} {}",
                people[i].0,
                people[j].0,
                thresholds.decide(score).as_str()
            );
            if people[i].1 == people[j].1 { genuine.push((score, line)) } else { impostor.push((score, line)) }
        }
    }
    for (label, pairs) in [("genuine", &genuine), ("impostor", &impostor)] {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (s, _) in pairs.iter() {
            *counts.entry(thresholds.decide(*s).as_str()).or_default() += 1;
        }
        println!("{label} pairs: {} {:?}", pairs.len(), counts);
    }
    for (_, l) in &genuine {
        println!("  genuine  {l}");
    }
    let mut worst: Vec<_> = impostor.iter().collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, l) in worst.iter().take(5) {
        println!("  impostor {l}");
    }
    let correct = genuine.iter().filter(|(s, _)| *s >= thresholds.approve).count()
        + impostor.iter().filter(|(s, _)| *s < thresholds.decline).count();
    let total = genuine.len() + impostor.len();
    if total > 0 {
        println!(
            "verification accuracy (approved genuine + declined impostor): {correct}/{total} = {:.3}",
            correct as f64 / total as f64
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(score: Option<f32>) -> Labelled<'static> {
        Labelled { kind: None, score }
    }

    fn attack(kind: &'static str, score: Option<f32>) -> Labelled<'static> {
        Labelled { kind: Some(kind), score }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn rates_at_a_threshold_per_kind() {
        let v = [
            live(Some(0.1)),
            live(Some(0.3)),
            live(Some(0.5)),
            attack("print", Some(0.2)),
            attack("print", Some(0.6)),
            attack("screen", Some(0.9)),
            attack("screen", Some(0.42)),
        ];
        let r = rates(&v, 0.42);
        // One live of three flagged (0.5); 0.42 itself is not above the threshold.
        assert_eq!(r.live, Count { n: 3, errors: 1, no_signal: 0 });
        assert!(close(r.bpcer(), 1.0 / 3.0));
        assert_eq!(r.attacks, Count { n: 4, errors: 2, no_signal: 0 });
        assert!(close(r.apcer(), 0.5));
        assert!(close(r.acer(), (0.5 + 1.0 / 3.0) / 2.0));
        assert_eq!(r.per_kind.len(), 2);
        assert!(close(r.per_kind["print"].rate(), 0.5));
        assert!(close(r.per_kind["screen"].rate(), 0.5));
        // At BPCER 0 the threshold is the highest live score: every live passes, and an attack
        // scored exactly there passes too.
        let t0 = bpcer0_threshold(&v);
        assert!((t0 - 0.5).abs() < 1e-6);
        let r0 = rates(&v, t0);
        assert!(close(r0.bpcer(), 0.0));
        assert!(close(r0.apcer(), 0.5), "0.2 and 0.42 missed, 0.6 and 0.9 caught");
        assert!(close(r0.per_kind["print"].rate(), 0.5));
        assert!(close(r0.per_kind["screen"].rate(), 0.5));
    }

    #[test]
    fn no_signal_is_never_flagged_and_is_counted() {
        let v = [
            live(None),
            live(Some(0.2)),
            live(None),
            attack("planar_photo", None),
            attack("planar_photo", Some(1.0)),
            attack("planar_photo", Some(0.1)),
        ];
        let r = rates(&v, 0.42);
        assert_eq!(r.live, Count { n: 3, errors: 0, no_signal: 2 });
        assert_eq!(r.attacks, Count { n: 3, errors: 2, no_signal: 1 }, "the inconclusive attack is missed");
        assert_eq!(r.per_kind["planar_photo"], r.attacks);
        // Lives without a signal do not raise the BPCER-0 threshold.
        assert!((bpcer0_threshold(&v) - 0.2).abs() < 1e-6);
        // No live with a signal: any score flags.
        let v = [live(None), attack("x", Some(0.0)), attack("x", None)];
        let t0 = bpcer0_threshold(&v);
        assert!(t0 == f32::NEG_INFINITY);
        let r = rates(&v, t0);
        assert_eq!(r.attacks, Count { n: 2, errors: 1, no_signal: 1 });
        assert!(close(r.bpcer(), 0.0));
    }

    #[test]
    fn empty_groups_have_no_rate() {
        let r = rates(&[live(Some(0.9))], 0.42);
        assert!(close(r.bpcer(), 1.0));
        assert_eq!(r.apcer(), None);
        assert_eq!(r.acer(), None);
        assert!(r.per_kind.is_empty());
    }

    #[test]
    fn labels_from_the_layout() {
        let k = |p: &str| attack_kind(Path::new(p));
        assert_eq!(k("live/obama__full.jpg"), None);
        assert_eq!(k("obama.jpg"), None);
        assert_eq!(k("attack/x.jpg").as_deref(), Some("attack"));
        assert_eq!(k("attack/print/x.jpg").as_deref(), Some("print"));
        assert_eq!(k("set1/attack/replay/deep/x.mp4").as_deref(), Some("replay"));
        assert_eq!(k("planar_photo_obama.mp4").as_deref(), Some("planar_photo"));
        assert_eq!(k("gestures/planar_photo_biden.mp4").as_deref(), Some("planar_photo"));
        assert_eq!(k("planar_head_obama.mp4"), None);
        assert_eq!(k("gesture_left.mp4"), None);
        assert_eq!(k("live/attack.jpg"), None, "only a folder named attack labels");
    }
}
