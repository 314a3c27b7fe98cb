//! `oz-server analyze FILE...`: a readable table of what the pipeline sees in local files.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use oz_vision::pipeline::AnalyzeOptions;

use crate::config::{ThresholdArgs, VisionArgs};

#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// Images (JPEG/PNG), videos or zip shot sets.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write each best frame next to the input as <name>.best.jpg.
    #[arg(long)]
    pub save_best: bool,
    /// Print one JSON object per file instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Verify each video against this challenge instead (comma list of blink, smile, turn_left,
    /// turn_right, look_up, look_down, in order) and print `results_data.challenge` as JSON.
    #[arg(long, value_delimiter = ',')]
    pub challenge: Vec<String>,
    #[command(flatten)]
    pub vision: VisionArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

pub fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let t = Instant::now();
    let p = oz_vision::Pipeline::load(args.vision.pipeline_config())?;
    if !args.json {
        println!("models loaded in {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
    }
    if !args.challenge.is_empty() {
        return challenges(&p, args);
    }
    let threshold = args.thresholds.threshold_spoofing;
    for path in &args.files {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                println!("{name}: cannot read: {e}");
                continue;
            }
        };
        let t0 = Instant::now();
        let media = match p.decode(&bytes) {
            Ok(m) => m,
            Err(e) => {
                println!("{name}: {e}");
                continue;
            }
        };
        let decode_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let result = p.analyze_media(&media, AnalyzeOptions { best_shot: true, embedding: false });
        let total_ms = t0.elapsed().as_secs_f64() * 1000.0;
        match result {
            Err(e) => println!("{name}: {:?} {}x{}: {e}", media.info.kind, media.info.width, media.info.height),
            Ok(a) => {
                if args.json {
                    let mut v = serde_json::to_value(&a)?;
                    v["file"] = serde_json::json!(name);
                    v["info"] = serde_json::to_value(&media.info)?;
                    v["timings"]["decode_ms"] = serde_json::json!(decode_ms);
                    println!("{v}");
                } else {
                    let verdict = if a.confidence_spoofing > threshold { "ATTACK" } else { "live" };
                    println!(
                        "\n{name}: {:?} {}x{}{} — confidence_spoofing {:.4} ({verdict} at {threshold}), {} of {} frames with a face",
                        media.info.kind,
                        media.info.width,
                        media.info.height,
                        media.info.video.as_ref().map_or(String::new(), |v| format!(
                            ", {:.2} s at {:.1} fps, rotated {}°",
                            v.duration_s, v.fps, v.rotation_deg
                        )),
                        a.confidence_spoofing,
                        a.frames_with_face,
                        a.frames.len()
                    );
                    println!(
                        "  {:>6} {:>7} {:>5} {:>22} {:>6} {:>7} {:>19} {:>6} {:>6} {:>7}",
                        "frame",
                        "t(s)",
                        "faces",
                        "main face box",
                        "det",
                        "spoof",
                        "yaw/pitch/roll",
                        "sharp",
                        "bright",
                        "quality"
                    );
                    for f in &a.frames {
                        let ts = f.timestamp_s.map_or("-".to_string(), |t| format!("{t:.2}"));
                        match &f.main {
                            None => println!("  {:>6} {:>7} {:>5} {:>22}", f.index, ts, f.faces_found, "no face"),
                            Some(m) => println!(
                                "  {:>6} {:>7} {:>5} {:>22} {:>6.3} {:>7} {:>19} {:>6.0} {:>6.0} {:>7.3}",
                                f.index,
                                ts,
                                f.faces_found,
                                format!("{:.0},{:.0} {:.0}x{:.0}", m.face.x, m.face.y, m.face.w, m.face.h),
                                m.face.score,
                                m.spoof.map_or("cand".to_string(), |v| format!("{v:.4}")),
                                m.pose
                                    .map_or("-".to_string(), |p| format!("{:.0}/{:.0}/{:.0}", p.yaw, p.pitch, p.roll)),
                                m.quality.sharpness,
                                m.quality.brightness,
                                m.quality.score
                            ),
                        }
                    }
                    if let Some(best) = &a.best_shot {
                        println!("  best frame: {} (quality {:.3})", best.frame_index, best.quality);
                        if args.save_best {
                            let out = path.with_extension("best.jpg");
                            std::fs::write(&out, &best.jpeg)?;
                            println!("  best frame written to {}", out.display());
                        }
                    }
                    let tm = &a.timings;
                    println!(
                        "  timings (ms): decode {decode_ms:.1} | detect {:.1} align {:.1} liveness {:.1} pose {:.1} quality {:.1} (summed over frames) | best shot {:.1} | wall {total_ms:.1}",
                        tm.detect_ms, tm.align_ms, tm.liveness_ms, tm.pose_ms, tm.quality_ms, tm.best_shot_ms
                    );
                }
            }
        }
    }
    Ok(())
}

/// `--challenge`: each file verified against the given sequence, one JSON line each.
fn challenges(p: &oz_vision::Pipeline, args: &AnalyzeArgs) -> anyhow::Result<()> {
    let actions = args
        .challenge
        .iter()
        .map(|a| {
            oz_domain::challenge::Action::parse(a.trim()).ok_or_else(|| {
                anyhow::anyhow!("unknown action '{a}' (blink, smile, turn_left, turn_right, look_up, look_down)")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let approve = args.thresholds.biometry_approve;
    for path in &args.files {
        let name = path.display().to_string();
        let t0 = Instant::now();
        let checked = std::fs::read(path)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(p.decode_for_challenge(&bytes, &p.request_budget())?))
            .and_then(|media| Ok(p.check_challenge(&media, &actions, approve)?));
        match checked {
            Ok(c) => {
                let mut v = serde_json::to_value(&c)?;
                v["file"] = serde_json::json!(name);
                v["ms"] = serde_json::json!((t0.elapsed().as_secs_f64() * 1000.0).round());
                println!("{v}");
            }
            Err(e) => println!("{}", serde_json::json!({ "file": name, "error": e.to_string() })),
        }
    }
    Ok(())
}
