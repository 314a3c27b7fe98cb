//! Stalled and slow clients, on the real binary over raw sockets (issue 19, part 1): uploads that
//! stop half-way cost no memory (they are spooled to disk), every stalled body or header is cut
//! off by the server, checks that need no body (the login address limit, a saturated admission
//! gate) answer before the body is read, and connections past `OZ_MAX_CONNECTIONS` are closed.
//!
//! The server's resident memory (`VmRSS` before, `VmHWM` after, from /proc/PID/status) may grow
//! by a fixed allowance while 8 clients hold 24 MiB of 100 MiB uploads each and 200 clients hold
//! half-sent 1 MiB login bodies: before the intake limits, the first alone held 192 MiB.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// The issue's target for the whole attack.
const ALLOWANCE: u64 = 150 * MIB;
/// The idle limits the test server runs with (seconds).
const IDLE_S: u64 = 3;
/// How long the test waits for the server to close a stalled connection: far more than the
/// limits above, so only a server that never closes it fails.
const CLOSE_WITHIN: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

struct Server {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(name: &str, env: &[(&str, &str)]) -> Server {
    let dir = std::env::temp_dir().join(format!("oz-stalled-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oz-server"));
    cmd.current_dir(root())
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("OZ_LISTEN", &addr)
        .env("OZ_DATA_DIR", dir.join("data"))
        .env("OZ_POOL_SIZE", "2")
        .env("OZ_WORKERS", "1")
        .env("OZ_HEADER_TIMEOUT_S", IDLE_S.to_string())
        .env("OZ_BODY_IDLE_TIMEOUT_S", IDLE_S.to_string())
        .env("OZ_ADMIN_EMAIL", "admin@example.com")
        .env("OZ_ADMIN_PASSWORD", "stalled-test-password")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn server");
    let server = Server { child, addr, dir };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if version(&server.addr) == Some(200) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("server did not start");
}

/// The status of `GET /api/version` on a fresh connection.
fn version(addr: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(b"GET /api/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    String::from_utf8_lossy(&raw).split(' ').nth(1)?.parse().ok()
}

/// A connection that sent a request head and `sent` bytes of a `declared`-byte body, then stopped.
fn stalled(addr: &str, path: &str, content_type: &str, declared: u64, first: &[u8], sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("head");
    s.write_all(first).expect("body start");
    let filler = vec![b'x'; 64 * 1024];
    let mut left = sent.saturating_sub(first.len());
    while left > 0 {
        let n = left.min(filler.len());
        // The server may have answered and closed already (a refusal before the body): stop.
        if s.write_all(&filler[..n]).is_err() {
            break;
        }
        left -= n;
    }
    s
}

/// Waits until the server ends the connection (an answer then EOF, or a reset); the status line
/// if there was an answer. Panics if the server keeps it open for `CLOSE_WITHIN`.
fn closed_by_server(mut s: TcpStream, what: &str) -> Option<u16> {
    s.set_read_timeout(Some(CLOSE_WITHIN)).expect("timeout");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{what}: the server kept a stalled connection open for {CLOSE_WITHIN:?}")
            }
            Err(_) => break, // reset
        }
    }
    String::from_utf8_lossy(&raw).split(' ').nth(1).and_then(|c| c.parse().ok())
}

/// `VmHWM` (peak resident set) or `VmRSS` (resident now) of `pid`, bytes.
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    kb * 1024
}

fn multipart_head() -> (String, Vec<u8>) {
    let boundary = "oz-stalled-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"v.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), head.into_bytes())
}

#[test]
fn stalled_uploads_and_logins_cost_no_memory_and_are_cut_off() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipped");
        return;
    }
    // No login rate limit here: the bodies themselves are what is measured.
    let server = start("bodies", &[("OZ_LOGIN_RATE_PER_MINUTE", "0"), ("OZ_MAX_CONNECTIONS", "400")]);
    let pid = server.child.id();
    // Warm up inference, then take the baseline.
    let face = std::fs::read(root().join("tests/fixtures/faces/live/obama__full.jpg")).expect("fixture");
    let mut s = TcpStream::connect(&server.addr).expect("connect");
    let head = format!(
        "POST /v1/face/liveness/detect HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        face.len()
    );
    s.write_all(head.as_bytes()).expect("head");
    s.write_all(&face).expect("body");
    assert_eq!(closed_by_server(s, "warm-up"), Some(200));
    let before = proc_status(pid, "VmRSS:");

    // 8 uploads of a declared 100 MiB, each 24 MiB sent, then nothing.
    let (ct, first) = multipart_head();
    let uploads: Vec<TcpStream> = (0..8)
        .map(|_| stalled(&server.addr, "/v1/face/liveness/detect", &ct, 100 * MIB, &first, 24 * MIB as usize))
        .collect();
    // 200 logins of a declared 1 MiB, half sent.
    let login_start = br#"{"credentials": {"email": "admin@example.com", "password": ""#;
    let logins: Vec<TcpStream> = (0..200)
        .map(|_| stalled(&server.addr, "/api/authorize/auth/", "application/json", MIB, login_start, 512 * 1024))
        .collect();
    // Slow headers: a request line and nothing more.
    let mut heads = Vec::new();
    for _ in 0..8 {
        let mut h = TcpStream::connect(&server.addr).expect("connect");
        h.write_all(b"POST /v1/face/liveness/detect HTTP/1.1\r\nHost: x\r\n").expect("partial head");
        heads.push(h);
    }
    // The server still answers the cheap routes while they stall.
    assert_eq!(version(&server.addr), Some(200), "/api/version answers during the attack");

    for (i, s) in uploads.into_iter().enumerate() {
        let status = closed_by_server(s, &format!("stalled upload {i}"));
        assert!(matches!(status, None | Some(408)), "upload {i}: {status:?}");
    }
    for (i, s) in logins.into_iter().enumerate() {
        // Over the login body cap: 413 at once (after the rest was drained for a while), or 408.
        let status = closed_by_server(s, &format!("stalled login {i}"));
        assert!(matches!(status, None | Some(408 | 413)), "login {i}: {status:?}");
    }
    for (i, s) in heads.into_iter().enumerate() {
        closed_by_server(s, &format!("stalled header {i}"));
    }
    let peak = proc_status(pid, "VmHWM:");
    let grown = peak.saturating_sub(before);
    eprintln!("resident before {} MiB, peak {} MiB, grown {} MiB", before / MIB, peak / MIB, grown / MIB);
    assert!(grown < ALLOWANCE, "peak RSS grew by {} MiB (allowance {} MiB)", grown / MIB, ALLOWANCE / MIB);
    // Nothing is left in the spool once the uploads are gone.
    let spool = server.dir.join("data/spool");
    let left: u64 = std::fs::read_dir(&spool)
        .map(|d| d.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0);
    assert_eq!(left, 0, "spool files left behind");
    assert_eq!(version(&server.addr), Some(200));
}

#[test]
fn checks_that_need_no_body_answer_before_it() {
    // One login a minute per address, burst 1: the second login is over the address limit.
    let server = start("gates", &[("OZ_LOGIN_RATE_PER_MINUTE", "1"), ("OZ_LOGIN_BURST", "1")]);
    let login = br#"{"credentials": {"email": "admin@example.com", "password": "wrong"}}"#;
    let s = stalled(&server.addr, "/api/authorize/auth/", "application/json", login.len() as u64, login, login.len());
    assert_eq!(closed_by_server(s, "first login"), Some(401));
    // A login from the same address, its body never finished: 429 without waiting for the body.
    let s = stalled(&server.addr, "/api/authorize/auth/", "application/json", 4096, b"{\"credentials\"", 15);
    let started = Instant::now();
    let status = closed_by_server(s, "throttled login");
    assert_eq!(status, Some(429), "the address limit answers before the body");
    eprintln!("429 after {:?}", started.elapsed());

    // A full API upload without a token: 401 before the body (the rest is drained, then closed).
    let (ct, first) = multipart_head();
    let s = stalled(&server.addr, "/api/folders/", &ct, 50 * MIB, &first, first.len());
    assert_eq!(closed_by_server(s, "upload without a token"), Some(401));
}

#[test]
fn connections_past_the_cap_are_closed() {
    let server = start("conns", &[("OZ_MAX_CONNECTIONS", "16")]);
    // The readiness probe's connection gives its slot back only once the server's task for it
    // ends, a moment after the probe read its answer: on a loaded machine the 16th idle
    // connection below could find the probe still counted (and be the one closed, letting the
    // 17th in). Give it time first.
    std::thread::sleep(Duration::from_millis(1500));
    // 16 idle connections take every slot.
    let idle: Vec<TcpStream> = (0..16).map(|_| TcpStream::connect(&server.addr).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(300));
    // One more is closed at once, without an answer.
    let extra = TcpStream::connect(&server.addr).expect("connect");
    let mut extra2 = extra.try_clone().expect("clone");
    let _ = extra2.write_all(b"GET /api/version HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(closed_by_server(extra, "connection over the cap"), None);
    // The idle ones are closed by the header limit; then the server answers again.
    for (i, s) in idle.into_iter().enumerate() {
        assert_eq!(closed_by_server(s, &format!("idle connection {i}")), None);
    }
    assert_eq!(version(&server.addr), Some(200));
}
