//! Gesture recall and false detections on a folder of `<face>_<action>.mp4` clips (action one of
//! blink, smile, left, right, up, down, neutral), such as `make_gesture_videos.py --unseen DIR`
//! makes from faces no threshold was chosen on:
//! `cargo run --release -p oz-vision --example gesture_recall -- DIR`.
//! Every clip is checked for all six actions the way a tagged gesture video is (dense decode,
//! `Pipeline::check_gesture`), and as a one-action challenge (`Pipeline::check_challenge`).
use std::collections::BTreeMap;
use std::path::PathBuf;

use oz_domain::challenge::Action;
use oz_domain::gesture::Gesture;
use oz_vision::{Pipeline, PipelineConfig};

const ACTIONS: [(&str, Gesture, Action); 6] = [
    ("blink", Gesture::Blink, Action::Blink),
    ("smile", Gesture::Smile, Action::Smile),
    ("left", Gesture::Left, Action::TurnLeft),
    ("right", Gesture::Right, Action::TurnRight),
    ("up", Gesture::Up, Action::LookUp),
    ("down", Gesture::Down, Action::LookDown),
];

fn main() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: gesture_recall DIR"));
    let p = Pipeline::load(PipelineConfig { models_dir: root.join("models"), ..PipelineConfig::default() })
        .expect("pipeline");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
        .collect();
    files.sort();
    // Per action: (clips, found by the gesture check, passed as a one-action challenge).
    let mut recall: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let (mut checks, mut false_hits) = (0usize, Vec::new());
    for f in &files {
        let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let performed = name.rsplit('_').next().unwrap_or_default().to_string();
        let bytes = std::fs::read(f).expect("clip");
        let media = p.decode_for_gesture(&bytes, &p.request_budget()).expect("decodes");
        let mut row = Vec::new();
        for (label, gesture, action) in ACTIONS {
            let found = p.check_gesture(&media, gesture).expect("check").result.detected;
            row.push(format!("{label}:{}", if found { "Y" } else { "-" }));
            if label == performed {
                let challenge = p.check_challenge(&media, &[action], 0.85).expect("challenge");
                let e = recall.entry(label).or_default();
                e.0 += 1;
                e.1 += usize::from(found);
                e.2 += usize::from(challenge.passed);
                if !challenge.passed {
                    row.push(format!("(challenge: {})", challenge.reason.clone().unwrap_or_default()));
                    if std::env::var_os("RECALL_DEBUG").is_some() {
                        let g = p.gesture_frames(&media.frames).expect("frames");
                        let m: Vec<_> = g.iter().filter_map(|f| f.measures).collect();
                        let (y0, p0) = (m[0].yaw_deg, m[0].pitch_deg);
                        let ext = |f: &dyn Fn(&oz_vision::gesture::FrameMeasures) -> f32| {
                            m.iter().map(f).fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)))
                        };
                        row.push(format!(
                            "[yaw0 {y0:.1} {:?} pitch0 {p0:.1} {:?} depth {:?}]",
                            ext(&|x| x.yaw_deg - y0),
                            ext(&|x| x.pitch_deg - p0),
                            challenge
                                .depth
                                .movements
                                .iter()
                                .map(|d| d.map(|d| (d.ratio, d.moving_frames)))
                                .collect::<Vec<_>>()
                        ));
                    }
                }
            } else {
                checks += 1;
                if found {
                    false_hits.push(format!("{name}: {label}"));
                }
            }
        }
        println!("{name:<32} {}", row.join(" "));
    }
    let (mut clips, mut found, mut passed) = (0, 0, 0);
    for (label, (n, g, c)) in &recall {
        println!("{label:<6} gesture check {g}/{n}, one-action challenge {c}/{n}");
        clips += n;
        found += g;
        passed += c;
    }
    println!("all    gesture check {found}/{clips}, one-action challenge {passed}/{clips}");
    println!("false detections: {} in {checks} checks {:?}", false_hits.len(), false_hits);
}
