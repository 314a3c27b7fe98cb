//! Bounded memory, measured on the real binary: requests of 32 zips of flat 7000x7000 PNGs (a few
//! kilobytes each on the wire, 147 MB each once decoded) sent to API Lite liveness and to the full
//! API upload are refused or processed within `OZ_DECODE_BUDGET_BYTES`. The server's peak RSS
//! (`VmRSS` before, `VmHWM` after, from /proc/PID/status) may grow by the budget plus the
//! request bodies and a fixed allowance, never by the decoded size of what was sent.

use std::io::{Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// Process and request budget given to the server.
const BUDGET: u64 = 400 * MIB;
/// Allocator slack, inference buffers, response bodies, thread stacks.
const ALLOWANCE: u64 = 160 * MIB;
const SIDE: u32 = 7000;
const ZIPS: usize = 32;
const SHOTS_PER_ZIP: usize = 2;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn flat_png() -> Vec<u8> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let img = image::RgbImage::from_pixel(SIDE, SIDE, image::Rgb([128, 128, 128]));
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Sub)
        .write_image(img.as_raw(), SIDE, SIDE, image::ExtendedColorType::Rgb8)
        .expect("encode png");
    out
}

fn zip_of(png: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for i in 0..SHOTS_PER_ZIP {
        w.start_file(format!("shot_{i}.png"), opts).expect("start");
        w.write_all(png).expect("write");
    }
    w.finish().expect("finish").into_inner()
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

fn start() -> Server {
    let dir = std::env::temp_dir().join(format!("oz-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_oz-server"))
        .current_dir(root())
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("OZ_LISTEN", &addr)
        .env("OZ_DATA_DIR", dir.join("data"))
        .env("OZ_POOL_SIZE", "2")
        .env("OZ_WORKERS", "1")
        .env("OZ_DECODE_BUDGET_BYTES", BUDGET.to_string())
        .env("OZ_DECODE_REQUEST_BUDGET_BYTES", BUDGET.to_string())
        .env("OZ_DECODE_BUDGET_WAIT_MS", "60000")
        .env("OZ_DECODE_CACHE_BYTES", (64 * MIB).to_string())
        .env("OZ_ATTACHMENT_MAX_COUNT", ZIPS.to_string())
        .env("OZ_ATTACHMENT_MAX_SIZE", (64 * MIB).to_string())
        .env("OZ_ADMIN_EMAIL", "admin@example.com")
        .env("OZ_ADMIN_PASSWORD", "memory-test-password")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn server");
    let server = Server { child, addr, dir };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Some((200, _)) = request(&server.addr, "GET", "/api/version", &[], "", &[]) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("server did not start");
}

/// One HTTP/1.1 request; the status and body of the answer.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(600))).ok()?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    // The server may answer (and close) before reading everything it refuses.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

fn multipart(parts: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "oz-memory-test-boundary";
    let mut body = Vec::new();
    for (name, filename, ct, data) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
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

#[test]
fn zips_of_huge_flat_pngs_stay_within_the_decode_budget() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipped");
        return;
    }
    let png = flat_png();
    let zip = zip_of(&png);
    let server = start();
    let pid = server.child.id();

    // Warm up inference (ONNX Runtime arenas) with a real face, then take the baseline.
    let face = std::fs::read(root().join("tests/fixtures/faces/live/obama__full.jpg")).expect("fixture");
    let (status, body) =
        request(&server.addr, "POST", "/v1/face/liveness/detect", &[], "image/jpeg", &face).expect("warm-up answers");
    assert_eq!(status, 200, "{body}");
    // Resident now (not the start-up peak), so the growth measured below is all the requests'.
    let before = proc_status(pid, "VmRSS:");

    // API Lite: 32 zips in one request, three such requests at once.
    let names: Vec<String> = (0..ZIPS).map(|i| format!("video_{i}")).collect();
    let parts: Vec<(&str, &str, &str, &[u8])> =
        names.iter().map(|n| (n.as_str(), "shots.zip", "application/zip", zip.as_slice())).collect();
    let (ct, lite_body) = multipart(&parts);
    let answers: Vec<Option<(u16, String)>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| request(&server.addr, "POST", "/v1/face/liveness/detect", &[], &ct, &lite_body)))
            .collect();
        hs.into_iter().map(|h| h.join().expect("join")).collect()
    });
    for a in &answers {
        let (status, body) = a.as_ref().expect("lite answers");
        // Flat images hold no face (LDE-002004), or the server is momentarily full (503).
        assert!(matches!(status, 200 | 400 | 503), "{status} {body}");
        if *status == 400 {
            assert!(body.contains("LDE-"), "{body}");
        }
    }

    // Full API: one upload of the same 32 zips.
    let login = br#"{"credentials": {"email": "admin@example.com", "password": "memory-test-password"}}"#;
    let (status, body) =
        request(&server.addr, "POST", "/api/authorize/auth", &[], "application/json", login).expect("login answers");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("login json");
    let token = v["access_token"].as_str().expect("access token").to_string();
    let mut parts = parts.clone();
    parts.push(("payload", "payload.json", "application/json", b"{}"));
    let (ct, api_body) = multipart(&parts);
    let (status, body) =
        request(&server.addr, "POST", "/api/folders/", &[("X-Forensic-Access-Token", &token)], &ct, &api_body)
            .expect("upload answers");
    assert!(status == 201 || (400..500).contains(&status) || status == 503, "{status} {body}");
    if status == 201 {
        let v: serde_json::Value = serde_json::from_str(&body).expect("folder json");
        assert_eq!(v["media"].as_array().map(Vec::len), Some(ZIPS), "every zip stored: {body}");
    }

    // Still healthy, and the peak grew by no more than the budget plus what was sent.
    assert_eq!(request(&server.addr, "GET", "/api/version", &[], "", &[]).map(|a| a.0), Some(200));
    let after = proc_status(pid, "VmHWM:");
    let sent = 3 * lite_body.len() as u64 + api_body.len() as u64;
    let bound = BUDGET + sent + ALLOWANCE;
    let decoded_size = (ZIPS * SHOTS_PER_ZIP) as u64 * u64::from(SIDE) * u64::from(SIDE) * 3;
    eprintln!(
        "png {} B, zip {} B, sent {} MiB (would decode to {} MiB); VmRSS {} -> VmHWM {} MiB (+{} MiB, bound +{} MiB)",
        png.len(),
        zip.len(),
        sent / MIB,
        decoded_size / MIB,
        before / MIB,
        after / MIB,
        after.saturating_sub(before) / MIB,
        bound / MIB
    );
    assert!(
        after.saturating_sub(before) <= bound,
        "peak RSS grew by {} MiB, more than the budget allows ({} MiB)",
        after.saturating_sub(before) / MIB,
        bound / MIB
    );
}
