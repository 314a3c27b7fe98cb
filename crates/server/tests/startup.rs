//! The binary: serves by default with settings from the environment, and refuses to start with a
//! clear message when a model is altered or ONNX Runtime cannot be loaded; `analyze --challenge`
//! and `eval --challenges` report challenge verdicts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oz-server"));
    c.current_dir(root()).env_remove("ORT_DYLIB_PATH").env("RUST_LOG", "warn").env("OZ_LISTEN", "127.0.0.1:0");
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oz-startup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

#[test]
fn refuses_an_altered_model() {
    let dir = tmp("altered");
    let models = root().join("models");
    for e in std::fs::read_dir(&models).expect("models dir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, dir.join(p.file_name().expect("name"))).expect("copy");
    }
    let victim = dir.join("faceplugin_fr_liveness.onnx");
    let mut bytes = std::fs::read(&victim).expect("read");
    bytes[1000] ^= 0x01;
    std::fs::write(&victim, bytes).expect("write");
    let out =
        bin().args(["serve"]).env("OZ_MODELS_DIR", &dir).env("OZ_DATA_DIR", dir.join("data")).output().expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("altered") && err.contains("faceplugin_fr_liveness.onnx"), "{err}");
    std::fs::remove_file(&victim).expect("remove");
    let out =
        bin().args(["serve"]).env("OZ_MODELS_DIR", &dir).env("OZ_DATA_DIR", dir.join("data")).output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuses_without_onnx_runtime() {
    let dir = tmp("noort");
    let out = bin()
        .args(["serve"])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .env("OZ_DATA_DIR", dir.join("data"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ONNX Runtime"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
fn serves_by_default_from_the_environment() {
    let dir = tmp("serve");
    let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = bin()
        .env("OZ_LISTEN", &addr)
        .env("OZ_DATA_DIR", dir.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut answer = None;
    while Instant::now() < deadline {
        if let Some(r) = get(&addr, "/v1/face/pattern/health") {
            answer = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let answer = answer.expect("server answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\": 0"), "{answer}");
    assert!(dir.join("data").is_dir(), "OZ_DATA_DIR created");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `oz-server analyze --challenge`: one JSON verdict per clip; an unknown action is refused.
#[test]
fn analyze_checks_a_clip_against_a_challenge() {
    let clip = root().join("tests/fixtures/gestures/challenge_left_smile_up.mp4");
    let out = bin().args(["analyze", "--challenge", "turn_left,smile,look_up"]).arg(&clip).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with('{')).expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(line).expect("json");
    assert_eq!(v["passed"], true, "{v}");
    let out = bin().args(["analyze", "--challenge", "look_up,smile,turn_left"]).arg(&clip).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with('{')).expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(line).expect("json");
    assert_eq!((v["passed"].as_bool(), v["order_ok"].as_bool()), (Some(false), Some(false)), "{v}");
    let out = bin().args(["analyze", "--challenge", "wink"]).arg(&clip).output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown action 'wink'"));
}

/// `oz-server eval --challenges`: the table per attack kind, from a manifest of two clips.
#[test]
fn eval_reports_challenges_per_attack_kind() {
    let dir = tmp("eval-challenges");
    let g = root().join("tests/fixtures/gestures");
    let manifest = serde_json::json!({ "clips": [
        { "file": g.join("challenge_left_smile_up.mp4"), "kind": "live", "performs": ["turn_left", "smile", "look_up"] },
        { "file": g.join("challenge_still_photo.mp4"), "kind": "static_photo" },
    ]});
    let path = dir.join("challenges.json");
    std::fs::write(&path, manifest.to_string()).expect("write");
    let out = bin().args(["eval", "--challenge-draws", "5", "--challenges"]).arg(&path).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let row = |kind: &str| {
        text.lines().find(|l| l.starts_with(kind)).unwrap_or_else(|| panic!("{kind} in {text}")).to_string()
    };
    assert!(row("live (bona fide)").contains("BPCER   0.0 %"), "{text}");
    assert!(row("static_photo").contains("APCER   0.0 %"), "{text}");
    assert!(row("wrong_order").contains("APCER"), "{text}");
    assert!(row("replay_of_another_session").contains("APCER"), "{text}");
}
