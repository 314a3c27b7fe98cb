//! The binary keeps secrets out of `--help` and off the command line, and refuses to expose an
//! unauthenticated API Lite on a non-loopback address unless told so explicitly.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DB_PASSWORD: &str = "db-pass-4711";
const HOOK_SECRET: &str = "hook-secret-0815";
const ADMIN_PASSWORD: &str = "admin-pass-1337";

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oz-server"));
    c.current_dir(root())
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("OZ_LITE")
        .env_remove("OZ_LITE_AUTH")
        .env_remove("OZ_ADMIN_PASSWORD")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("OZ_LISTEN", "127.0.0.1:0");
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oz-secrets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

#[test]
fn help_never_prints_secret_values() {
    for args in [&["--help"][..], &["serve", "--help"], &["worker", "--help"], &["create-admin", "--help"]] {
        let out = bin()
            .args(args)
            .env("DATABASE_URL", format!("postgres://openoz:{DB_PASSWORD}@db/openoz"))
            .env("OZ_WEBHOOK_SECRET", HOOK_SECRET)
            .env("OZ_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{args:?}");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        for secret in [DB_PASSWORD, HOOK_SECRET, ADMIN_PASSWORD] {
            assert!(!text.contains(secret), "{args:?} prints {secret}:\n{text}");
        }
    }
}

#[test]
fn create_admin_takes_the_password_from_the_environment_or_stdin_never_argv() {
    let dir = tmp("admin");
    // From the environment.
    let out = bin()
        .args(["create-admin", "--email", "env@example.com"])
        .env("OZ_DATA_DIR", dir.join("data"))
        .env("OZ_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created ADMIN env@example.com"));

    // From standard input.
    let mut child = bin()
        .args(["create-admin", "--email", "stdin@example.com"])
        .env("OZ_DATA_DIR", dir.join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(format!("{ADMIN_PASSWORD}\n").as_bytes()).expect("write");
    let out = child.wait_with_output().expect("waits");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created ADMIN stdin@example.com"));

    // Nothing at all: refused with a message that says where the password goes.
    let out = bin()
        .args(["create-admin", "--email", "none@example.com"])
        .env("OZ_DATA_DIR", dir.join("data"))
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("OZ_ADMIN_PASSWORD"));

    // On the command line: refused, and the value is not echoed back.
    let out = bin()
        .args(["create-admin", "--email", "argv@example.com", "--password", ADMIN_PASSWORD])
        .env("OZ_DATA_DIR", dir.join("data"))
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OZ_ADMIN_PASSWORD") && !err.contains(ADMIN_PASSWORD), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuses_unauthenticated_lite_on_a_public_address_by_default() {
    let dir = tmp("exposed");
    let out = bin()
        .args(["serve"])
        .env("OZ_LISTEN", "0.0.0.0:0")
        .env("OZ_DATA_DIR", dir.join("data"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OZ_LITE_AUTH") && err.contains("0.0.0.0"), "{err}");
    assert!(!dir.join("data").exists(), "refused before anything was started");
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

fn post_jpeg(addr: &str, path: &str) -> Option<String> {
    let img = std::fs::read(root().join("tests/fixtures/faces/live/obama__portrait.jpg")).ok()?;
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        img.len()
    )
    .ok()?;
    s.write_all(&img).ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Serves on all interfaces (reached through 127.0.0.1) with `env`, and returns what `probe`
/// answers once the server is up.
fn serve_public(name: &str, env: &[(&str, &str)], probe: impl Fn(&str) -> Option<String>) -> String {
    let dir = tmp(name);
    let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut cmd = bin();
    cmd.env("OZ_LISTEN", format!("0.0.0.0:{port}")).env("OZ_DATA_DIR", dir.join("data"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut answer = None;
    while Instant::now() < deadline {
        if get(&addr, "/api/version").is_some() {
            answer = probe(&addr);
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name}: the server exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    answer.unwrap_or_else(|| panic!("{name}: the server answered"))
}

#[test]
fn serves_a_public_address_when_lite_auth_is_chosen_explicitly() {
    // OZ_LITE_AUTH=none, said explicitly: open.
    let answer = serve_public("none", &[("OZ_LITE_AUTH", "none")], |a| post_jpeg(a, "/v1/face/liveness/detect"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // OZ_LITE_AUTH=token: the inference routes need a token, /version does not.
    let answer = serve_public("token", &[("OZ_LITE_AUTH", "token")], |a| post_jpeg(a, "/v1/face/liveness/detect"));
    assert!(answer.starts_with("HTTP/1.1 401") && answer.contains("LDE-002006"), "{answer}");
    // OZ_LITE=off: nothing of Lite is exposed, so no choice is needed.
    let answer = serve_public("off", &[("OZ_LITE", "off")], |a| get(a, "/version"));
    assert!(answer.starts_with("HTTP/1.1 404") && answer.contains("BPE-002002"), "{answer}");
}
