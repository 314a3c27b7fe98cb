//! Per-stage and end-to-end latency of the face pipeline on real fixtures.
//! Run with `make bench` (or `cargo bench -p oz-vision --bench pipeline`); medians are in
//! target/criterion/<name>/new/estimates.json and recorded in BENCHMARKS.md.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use oz_vision::pipeline::AnalyzeOptions;
use oz_vision::{Pipeline, PipelineConfig};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures").join(rel)).expect("fixture")
}

fn benches(c: &mut Criterion) {
    let p = Pipeline::load(PipelineConfig { models_dir: root().join("models"), ..PipelineConfig::default() })
        .expect("pipeline");
    let jpeg = read("faces/live/obama__portrait.jpg");
    let video = read("videos/portrait_720x1280.mp4");
    let img = p.decode_image(&jpeg).expect("decode");
    let face = p.single_face(&img).expect("face");
    let aligned = oz_vision::align::align_112(&img, &face);

    let mut g = c.benchmark_group("stage");
    g.sample_size(30);
    g.bench_function("decode_jpeg_910x1137", |b| b.iter(|| p.decode_image(&jpeg).expect("decode")));
    g.bench_function("detect_320", |b| b.iter(|| p.detect(&img).expect("detect")));
    g.bench_function("align_112", |b| b.iter(|| oz_vision::align::align_112(&img, &face)));
    g.bench_function("embed_sface", |b| b.iter(|| p.embed_face(&img, &face).expect("embed")));
    g.bench_function("liveness_minifasnet", |b| b.iter(|| p.spoof_score(&img, &face).expect("spoof")));
    g.bench_function("pose_hopenet", |b| b.iter(|| p.pose(&img, &face).expect("pose")));
    g.bench_function("mesh_mediapipe", |b| b.iter(|| p.mesh(&img, &face).expect("mesh")));
    g.bench_function("quality", |b| b.iter(|| oz_vision::quality::assess(&aligned, &face, None)));
    // The pre-score runs on every decoded frame: the luma plane of a 720x1280 picture.
    let luma = image::imageops::grayscale(&image::imageops::resize(&img, 720, 1280, image::imageops::Triangle));
    g.bench_function("prescore_luma_720x1280", |b| {
        b.iter(|| oz_vision::prescore::score_luma(luma.as_raw(), 720, 720, 1280).expect("scored"))
    });
    g.bench_function("decode_video_720x1280_4s_8frames", |b| b.iter(|| p.decode(&video).expect("video")));
    // What POST /api/liveness/precheck does with the capture page's frame: a 320x240 JPEG
    // decoded and searched for faces (the luma of the face box is negligible beside it).
    let frame = {
        let small = image::imageops::resize(&img, 320, 400, image::imageops::Triangle);
        let crop = image::imageops::crop_imm(&small, 0, 40, 320, 240).to_image();
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(crop).write_to(&mut out, image::ImageFormat::Jpeg).expect("jpeg");
        out.into_inner()
    };
    g.bench_function("precheck_frame_320x240", |b| {
        b.iter(|| {
            let i = p.decode_image(&frame).expect("decode");
            p.detect(&i).expect("detect")
        })
    });
    g.finish();

    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(20);
    g.bench_function("extract_jpeg", |b| {
        b.iter(|| {
            let img = p.decode_image(&jpeg).expect("decode");
            p.extract(&img).expect("template")
        });
    });
    g.bench_function("image_liveness_jpeg", |b| {
        b.iter(|| {
            let m = p.decode(&jpeg).expect("decode");
            p.analyze_media(&m, AnalyzeOptions::default()).expect("liveness")
        });
    });
    g.bench_function("video_quality_best_shot_720x1280_4s", |b| {
        b.iter(|| {
            let m = p.decode(&video).expect("decode");
            p.analyze_media(&m, AnalyzeOptions { best_shot: true, embedding: false }).expect("quality")
        });
    });
    // What a gesture-tagged video adds to QUALITY: the dense, scaled-down decode and the check.
    g.bench_function("video_gesture_check_720x1280_4s", |b| {
        b.iter(|| {
            let m = p.decode_for_gesture(&video, &p.request_budget()).expect("decode");
            p.check_gesture(&m, oz_domain::gesture::Gesture::Blink).expect("gesture")
        });
    });
    // Verifying a challenge on a 6 s 720x1280 clip: the dense decode (100 frames, scaled to
    // 640), mesh, pose and measures of every frame, identity embeddings, continuity and depth.
    let challenge = read("gestures/challenge_left_smile_up_720p.mp4");
    let actions = [
        oz_domain::challenge::Action::TurnLeft,
        oz_domain::challenge::Action::Smile,
        oz_domain::challenge::Action::LookUp,
    ];
    g.sample_size(10);
    g.bench_function("challenge_check_720x1280_6s", |b| {
        b.iter(|| {
            let m = p.decode_for_challenge(&challenge, &p.request_budget()).expect("decode");
            let c = p.check_challenge(&m, &actions, 0.85).expect("challenge");
            assert!(c.passed, "{c:?}");
            c
        });
    });
    g.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
