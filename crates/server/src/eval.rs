//! `oz-server eval DIR`: measures what the shipped thresholds do on labelled media.
//!
//! Layout: media under `DIR/live/` are bona fide, under `DIR/attack/` presentation attacks (files
//! directly in DIR count as live). Identity for verification comes from the file name:
//! `person__anything.jpg` belongs to `person`; a name without `__` is a person of its own.
//! `--simulate-attacks` adds, for every live image, the attacks of `attacks.rs`.
//!
//! Prints liveness BPCER / APCER / ACER (ISO/IEC 30107-3) at the threshold and over a sweep, and
//! verification outcomes of every genuine and impostor pair at the decision thresholds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use image::RgbImage;
use oz_domain::decision::score_from_cosine;
use oz_vision::media::{DecodedMedia, Frame, MediaInfo, MediaKind};
use oz_vision::pipeline::AnalyzeOptions;

use crate::attacks;
use crate::config::{ThresholdArgs, VisionArgs};

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Folders with live/ and attack/ sub-folders (or media directly inside = live).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
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

struct Sample {
    name: String,
    identity: Option<String>,
    attack: Option<String>,
    spoof: Option<f32>,
    aux: Option<f32>,
    embedding: Option<Vec<f32>>,
}

/// Mean aux score over the frames with a face, and the time of each call.
fn aux_score(
    p: &oz_vision::Pipeline,
    aux: Option<&oz_vision::runtime::ModelPool>,
    frames: &[Frame],
    times: &mut Vec<f64>,
) -> Option<f32> {
    let aux = aux?;
    let scores: Vec<f32> = frames
        .iter()
        .filter_map(|f| {
            let t = std::time::Instant::now();
            let s = p.aux_spoof_score(aux, &f.image).ok();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            s
        })
        .collect();
    (!scores.is_empty()).then(|| scores.iter().sum::<f32>() / scores.len() as f32)
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, bool)>, attack: bool) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if p.is_dir() {
            collect(&p, out, attack || name == "attack")?;
        } else if !name.starts_with('.')
            && [".jpg", ".jpeg", ".png", ".mp4", ".mov", ".webm", ".avi", ".zip"]
                .iter()
                .any(|e| name.to_ascii_lowercase().ends_with(e))
        {
            out.push((p, attack));
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

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let p = oz_vision::Pipeline::load(args.vision.pipeline_config())?;
    let thresholds = args.thresholds.thresholds()?;
    let threshold = args.thresholds.threshold_spoofing;
    let mut files = Vec::new();
    for dir in &args.dirs {
        let mut found = Vec::new();
        collect(dir, &mut found, false)?;
        files.extend(found.into_iter().map(|(p, a)| (dir.clone(), p, a)));
    }
    let mut samples: Vec<Sample> = Vec::new();
    let aux = args.aux_liveness.as_deref().map(|path| p.load_aux_liveness(path)).transpose()?;
    let mut aux_times = Vec::new();
    let opts = AnalyzeOptions { best_shot: false, embedding: true };
    for (dir, path, is_attack) in &files {
        let name = path.strip_prefix(dir).unwrap_or(path).display().to_string();
        let bytes = std::fs::read(path)?;
        let media = match p.decode(&bytes) {
            Ok(m) => m,
            Err(e) => {
                println!("skip {name}: {e}");
                continue;
            }
        };
        let analysed = p.analyze_media(&media, opts);
        let (spoof, embedding) = match &analysed {
            Ok(a) => (Some(a.confidence_spoofing), a.embedding.clone()),
            Err(e) => {
                println!("{name}: {e}");
                (None, None)
            }
        };
        let is_image = media.info.kind == MediaKind::Image;
        let aux_s = aux_score(&p, aux.as_ref(), &media.frames, &mut aux_times);
        samples.push(Sample {
            name: name.clone(),
            identity: (!is_attack && is_image).then(|| identity(path)),
            attack: is_attack.then(|| "given".to_string()),
            spoof,
            aux: aux_s,
            embedding,
        });
        if args.simulate_attacks && !is_attack && is_image {
            // The bona fide reference at the same capture scale, so attacks differ only by the attack.
            let live_scaled = as_media(attacks::capture_scale(&media.frames[0].image));
            let spoof = p.analyze_media(&live_scaled, AnalyzeOptions::default()).ok().map(|a| a.confidence_spoofing);
            let aux_s = aux_score(&p, aux.as_ref(), &live_scaled.frames, &mut aux_times);
            samples.push(Sample {
                name: format!("{name} [capture scale]"),
                identity: None,
                attack: None,
                spoof,
                aux: aux_s,
                embedding: None,
            });
            for kind in attacks::KINDS {
                if let Some(img) = attacks::simulate(kind, &media.frames[0].image) {
                    let m = as_media(img);
                    let spoof = p.analyze_media(&m, AnalyzeOptions::default()).ok().map(|a| a.confidence_spoofing);
                    let aux_s = aux_score(&p, aux.as_ref(), &m.frames, &mut aux_times);
                    samples.push(Sample {
                        name: format!("{name} [{kind}]"),
                        identity: None,
                        attack: Some(kind.to_string()),
                        spoof,
                        aux: aux_s,
                        embedding: None,
                    });
                }
            }
        }
    }

    println!("\n== Liveness (confidence_spoofing; attack when > threshold) ==");
    println!("{:<60} {:>8} {:>8} {:>14}", "media", "spoof", "aux", "label");
    for s in &samples {
        let spoof = s.spoof.map_or("no face".to_string(), |v| format!("{v:.4}"));
        let aux = s.aux.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!("{:<60} {:>8} {:>8} {:>14}", s.name, spoof, aux, s.attack.as_deref().unwrap_or("live"));
    }
    // A live media with no usable face is a bona fide rejection; an attack with no face is caught.
    let live: Vec<f32> = samples.iter().filter(|s| s.attack.is_none()).map(|s| s.spoof.unwrap_or(1.0)).collect();
    let attack: Vec<(&str, f32)> =
        samples.iter().filter_map(|s| s.attack.as_deref().map(|k| (k, s.spoof.unwrap_or(1.0)))).collect();
    let rates = |t: f32| {
        let bpcer = live.iter().filter(|&&v| v > t).count() as f64 / live.len().max(1) as f64;
        let apcer = attack.iter().filter(|(_, v)| *v <= t).count() as f64 / attack.len().max(1) as f64;
        (bpcer, apcer)
    };
    println!("\n{} live, {} attacks", live.len(), attack.len());
    println!("{:>9} {:>7} {:>7} {:>7}", "threshold", "BPCER", "APCER", "ACER");
    let mut sweep: Vec<f32> = (1..20).map(|i| i as f32 * 0.05).collect();
    sweep.push(threshold);
    sweep.sort_by(f32::total_cmp);
    sweep.dedup();
    for t in sweep {
        let (b, a) = rates(t);
        let mark = if (t - threshold).abs() < 1e-6 { "  <- configured" } else { "" };
        println!("{t:>9.3} {:>7.3} {:>7.3} {:>7.3}{mark}", b, a, (a + b) / 2.0);
    }
    if let Some(max_live) = live.iter().copied().reduce(f32::max) {
        let (_, a) = rates(max_live);
        println!("highest live score {max_live:.4}: a threshold there accepts every live media and has APCER {a:.3}");
    }
    let mut per_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (k, v) in &attack {
        let e = per_kind.entry(k).or_default();
        e.0 += 1;
        if *v > threshold {
            e.1 += 1;
        }
    }
    for (k, (n, caught)) in per_kind {
        println!("  {k:<14} caught {caught}/{n} at threshold {threshold}");
    }

    if aux.is_some() {
        report_aux(&samples, threshold, &mut aux_times);
    }

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
    Ok(())
}

/// Error rates of the aux model alone and of "either model flags it", as measured.
fn report_aux(samples: &[Sample], threshold: f32, times: &mut [f64]) {
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    println!("\n== Aux anti-spoofing model (expo FaceAntiSpoofing), median {median:.1} ms per face ==");
    let live: Vec<(f32, f32)> = samples
        .iter()
        .filter(|s| s.attack.is_none())
        .map(|s| (s.spoof.unwrap_or(1.0), s.aux.unwrap_or(f32::MAX)))
        .collect();
    let attack: Vec<(f32, f32)> = samples
        .iter()
        .filter(|s| s.attack.is_some())
        .map(|s| (s.spoof.unwrap_or(1.0), s.aux.unwrap_or(f32::MAX)))
        .collect();
    let rate = |v: &[(f32, f32)], flag: &dyn Fn(&(f32, f32)) -> bool| {
        v.iter().filter(|x| flag(x)).count() as f64 / v.len().max(1) as f64
    };
    let max_live_aux = live.iter().map(|x| x.1).fold(0.0f32, f32::max);
    for (label, t_aux) in
        [("aux alone at its own 0.2", 0.2f32), ("aux alone at the highest live aux score", max_live_aux)]
    {
        let bpcer = rate(&live, &|x| x.1 > t_aux);
        let apcer = 1.0 - rate(&attack, &|x| x.1 > t_aux);
        println!("{label} ({t_aux:.3}): BPCER {bpcer:.3} APCER {apcer:.3}");
    }
    let bpcer = rate(&live, &|x| x.0 > threshold || x.1 > max_live_aux);
    let apcer = 1.0 - rate(&attack, &|x| x.0 > threshold || x.1 > max_live_aux);
    println!("either model flags it (main > {threshold}, aux > {max_live_aux:.3}): BPCER {bpcer:.3} APCER {apcer:.3}");
}
