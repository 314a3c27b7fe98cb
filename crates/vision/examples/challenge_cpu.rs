//! CPU time of verifying the benchmark's challenge clip: `cargo run --release -p oz-vision
//! --example challenge_cpu -- 20` under `/usr/bin/time` (model loading is counted once).
use std::path::PathBuf;
use std::time::Instant;

use oz_domain::challenge::Action;
use oz_vision::{Pipeline, PipelineConfig};

fn main() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let p = Pipeline::load(PipelineConfig { models_dir: root.join("models"), ..PipelineConfig::default() })
        .expect("pipeline");
    let clip = std::fs::read(root.join("tests/fixtures/gestures/challenge_left_smile_up_720p.mp4")).expect("clip");
    let actions = [Action::TurnLeft, Action::Smile, Action::LookUp];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let m = p.decode_for_challenge(&clip, &p.request_budget()).expect("decode");
        let c = p.check_challenge(&m, &actions, 0.85).expect("check");
        assert!(c.passed, "{c:?}");
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!("{n} verifications: median {:.0} ms, min {:.0}, max {:.0}", times[n / 2], times[0], times[n - 1]);
}
