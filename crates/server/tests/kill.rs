//! A worker process killed in the middle of an analysis: after a restart the analysis finishes,
//! exactly once. Runs on SQLite and, when OZ_TEST_POSTGRES_URL is set, on PostgreSQL with two
//! worker processes sharing the queue.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oz_domain::access::{AnalysisKind, Scope};
use oz_domain::status::AnalysisState;
use oz_engine::files::MediaFiles;
use oz_engine::ingest::{Upload, ingest};
use oz_storage::Db;
use oz_storage::analyses::NewAnalysis;
use oz_vision::{Pipeline, PipelineConfig};
use serde_json::json;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn worker(url: &str, data: &PathBuf) -> Child {
    Command::new(env!("CARGO_BIN_EXE_oz-server"))
        .arg("worker")
        .current_dir(root())
        .env("DATABASE_URL", url)
        .env("OZ_DATA_DIR", data)
        .env("OZ_WORKERS", "1")
        .env("OZ_JOB_LEASE", "3")
        .env("OZ_SAMPLE_FRAMES", "40")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts")
}

async fn scenario(url: String, data: PathBuf, workers_after: usize) {
    let db = Db::connect(&url).await.expect("db");
    let files = MediaFiles::open(&data).expect("files");
    let p = Arc::new(
        Pipeline::load(PipelineConfig { models_dir: root().join("models"), ..PipelineConfig::default() })
            .expect("models"),
    );
    // Six videos in one QUALITY analysis with many frames each: long enough to be killed mid-way.
    let uploads: Vec<Upload> =
        ["portrait_720x1280.mp4", "rot90.mp4", "rot270.mp4", "rot180.mp4", "clip.webm", "clip.mov"]
            .iter()
            .map(|f| Upload {
                key: (*f).to_string(),
                original_name: (*f).to_string(),
                bytes: std::fs::read(root().join("tests/fixtures/videos").join(f)).expect("fixture"),
                tags: vec!["video_selfie".into()],
                meta_data: json!({}),
            })
            .collect();
    let media = ingest(&p, &files, None, &uploads).expect("ingest");
    let (folder, media) = db.create_folder(None, None, &json!({}), None, &media).await.expect("folder");
    let analysis = NewAnalysis {
        kind: AnalysisKind::Quality,
        confs: json!({ "threshold_spoofing": 0.42, "extract_best_shot": true }),
        source_media: media.iter().map(|m| m.id).collect(),
        meta_data: json!({}),
    };
    let a = db.create_analyses(&folder, None, &[analysis], None).await.expect("analysis").remove(0);

    let mut first = worker(&url, &data);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (state, _) = db.job_of(a.id).await.expect("job");
        if state == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "the worker never claimed the job");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.kill().expect("kill -9");
    let _ = first.wait();
    let mid = db.analysis(a.id, &Scope::All).await.expect("analysis");
    assert_eq!(mid.state, AnalysisState::Processing, "killed before it could finish");
    assert_eq!(db.job_of(a.id).await.expect("job").1, 1);

    let mut restarted: Vec<Child> = (0..workers_after).map(|_| worker(&url, &data)).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let x = db.analysis(a.id, &Scope::All).await.expect("analysis");
        if x.state != AnalysisState::Processing {
            break x;
        }
        assert!(Instant::now() < deadline, "the analysis did not finish after restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    for c in &mut restarted {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!(done.state, AnalysisState::Finished, "{:?}", done.error_message);
    assert_eq!(done.results_media.as_array().map(Vec::len), Some(6));
    let (state, attempts) = db.job_of(a.id).await.expect("job");
    assert_eq!((state.as_str(), attempts), ("done", 2), "claimed once by the killed worker, once after");
    let outputs =
        db.folder_media(folder.id).await.expect("media").into_iter().filter(|m| m.analysis_id == Some(a.id)).count();
    assert_eq!(outputs, 6, "one best shot per video, none from the killed attempt");
    let f = db.folder(folder.id, &Scope::All).await.expect("folder");
    assert_eq!(f.resolution_status.as_str(), "FINISHED");
    let _ = std::fs::remove_dir_all(&data);
}

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("oz-kill-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_sqlite() {
    let data = tmp();
    let url = format!("sqlite://{}?mode=rwc", data.join("openoz.db").display());
    scenario(url, data, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_postgres_two_workers() {
    let Some(db) = common::postgres_database("oz_kill").await else { return };
    scenario(db, tmp(), 2).await;
}
