//! Bounded memory, measured on the real binary: requests of 32 zips of flat 7000x7000 PNGs (a few
//! kilobytes each on the wire, 147 MB each once decoded) sent to API Lite liveness and to the full
//! API upload are refused or processed within `OZ_DECODE_BUDGET_BYTES`. The server's peak RSS
//! (`VmRSS` before, `VmHWM` after, from /proc/PID/status) may grow by the budget plus the
//! request bodies and a fixed allowance, never by the decoded size of what was sent.
//!
//! Also: zip entries that inflate to 250 MB from a 250 KB upload are inflated as streams inside
//! the decode budget and refused at `OZ_ZIP_MAX_ENTRY_BYTES` (peak RSS), and the frames that
//! analyses keep cached (a QUALITY without best shot keeps its best frame) never make a later
//! request wait for the decode budget and answer 503.

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

impl Server {
    /// `VmHWM` (peak resident set) or `VmRSS` (resident now) of the server, bytes.
    fn status(&self, field: &str) -> u64 {
        proc_status(self.child.id(), field)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start() -> Server {
    start_with(&[
        ("OZ_DECODE_BUDGET_BYTES", BUDGET.to_string()),
        ("OZ_DECODE_REQUEST_BUDGET_BYTES", BUDGET.to_string()),
        ("OZ_DECODE_BUDGET_WAIT_MS", "60000".into()),
        ("OZ_DECODE_CACHE_BYTES", (64 * MIB).to_string()),
        ("OZ_ATTACHMENT_MAX_COUNT", ZIPS.to_string()),
        ("OZ_ATTACHMENT_MAX_SIZE", (64 * MIB).to_string()),
    ])
}

/// The real binary with an admin account, `env` on top of the common settings; each server has a
/// data folder of its own (tests of this file run at the same time).
fn start_with(env: &[(&str, String)]) -> Server {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("oz-memory-{}-{n}", std::process::id()));
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
        .env("OZ_ADMIN_EMAIL", "admin@example.com")
        .env("OZ_ADMIN_PASSWORD", "memory-test-password")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn server");
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

/// Logs the admin in; the access token.
fn admin_token(addr: &str) -> String {
    let login = br#"{"credentials": {"email": "admin@example.com", "password": "memory-test-password"}}"#;
    let (status, body) = request(addr, "POST", "/api/authorize/auth", &[], "application/json", login).expect("login");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("login json");
    v["access_token"].as_str().expect("access token").to_string()
}

/// Warms inference up (ONNX Runtime arenas) with a real face; the server's resident set after.
fn warm_up(server: &Server) -> u64 {
    let face = std::fs::read(root().join("tests/fixtures/faces/live/obama__full.jpg")).expect("fixture");
    let (status, body) =
        request(&server.addr, "POST", "/v1/face/liveness/detect", &[], "image/jpeg", &face).expect("warm-up answers");
    assert_eq!(status, 200, "{body}");
    server.status("VmRSS:")
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

    // Warm up inference, then take the baseline: resident now (not the start-up peak), so the
    // growth measured below is all the requests'.
    let before = warm_up(&server);

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
    let token = admin_token(&server.addr);
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

/// A zip whose one deflated entry `a.jpg` is a real photo followed by 250 MB of zeros (about
/// 250 KB on the wire); `lying`: its headers declare 1000 bytes.
fn photo_bomb(lying: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file("a.jpg", opts).expect("start");
    w.write_all(&std::fs::read(root().join("tests/fixtures/faces/live/obama__portrait.jpg")).expect("fixture"))
        .expect("write");
    let block = vec![0u8; 1 << 20];
    for _ in 0..250 {
        w.write_all(&block).expect("write");
    }
    let mut z = w.finish().expect("finish").into_inner();
    if lying {
        // (signature, offset of the 32-bit uncompressed size) of the local and central headers.
        for (sig, off) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at: Vec<usize> =
                z.windows(4).enumerate().filter(|(_, w)| *w == sig.as_slice()).map(|(i, _)| i).collect();
            for i in at {
                z[i + off..i + off + 4].copy_from_slice(&1000u32.to_le_bytes());
            }
        }
    }
    z
}

/// Two Lite liveness requests at once, each a 250 KB zip whose entry inflates to 250 MB (first
/// with honest sizes, then lying ones): each is refused (400) and the server's peak RSS grows by
/// less than 150 MB (before the fix: ~475 MB, and more with a smaller decode budget), the entry
/// being inflated as a stream within the decode budget and refused as soon as it passes
/// `OZ_ZIP_MAX_ENTRY_BYTES`.
#[test]
fn zip_entries_inflate_within_the_decode_budget() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipped");
        return;
    }
    const GROWTH: u64 = 150 * MIB;
    let server = start_with(&[("OZ_DECODE_BUDGET_BYTES", (200 * MIB).to_string())]);
    let before = warm_up(&server);
    let mut answers = Vec::new();
    for lying in [false, true] {
        let zip = photo_bomb(lying);
        assert!(zip.len() < 1 << 20, "{} bytes on the wire", zip.len());
        let (ct, body) = multipart(&[("media_key1", "shots.zip", "application/zip", zip.as_slice())]);
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| request(&server.addr, "POST", "/v1/face/liveness/detect", &[], &ct, &body)))
                .collect();
            answers.extend(hs.into_iter().map(|h| (lying, h.join().expect("join"))));
        });
    }
    assert_eq!(request(&server.addr, "GET", "/api/version", &[], "", &[]).map(|a| a.0), Some(200));
    let after = server.status("VmHWM:");
    eprintln!(
        "2 x 2 zips of a 250 MB entry: VmRSS {} -> VmHWM {} MiB (+{} MiB, bound +{} MiB)",
        before / MIB,
        after / MIB,
        after.saturating_sub(before) / MIB,
        GROWTH / MIB
    );
    for (lying, a) in &answers {
        let (status, text) = a.as_ref().expect("lite answers");
        assert_eq!(*status, 400, "lying {lying}: {text}");
        assert!(text.contains("LDE-") && text.contains("OZ_ZIP_MAX_ENTRY_BYTES"), "lying {lying}: {text}");
    }
    assert!(after.saturating_sub(before) < GROWTH, "peak RSS grew by {} MiB", after.saturating_sub(before) / MIB);
}

/// A zip of one empty stored `a.png` and `records` central-directory records (4-byte names, all
/// pointing at it), ended by ZIP64 end records: about 50 bytes a record on the wire.
fn central_directory_flood(records: usize) -> Vec<u8> {
    let mut z = Vec::with_capacity(records * 50 + 200);
    // Local header of a.png: version 20, stored, no data.
    z.extend_from_slice(b"PK\x03\x04");
    z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(&[0; 12]);
    z.extend_from_slice(&5u16.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(b"a.png");
    let cd_start = z.len() as u64;
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for i in 0..records {
        z.extend_from_slice(b"PK\x01\x02");
        z.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&[0; 12]);
        z.extend_from_slice(&4u16.to_le_bytes());
        z.extend_from_slice(&[0; 12]);
        z.extend_from_slice(&0u32.to_le_bytes());
        let mut n = i;
        for _ in 0..4 {
            z.push(alphabet[n % alphabet.len()]);
            n /= alphabet.len();
        }
    }
    let cd_size = z.len() as u64 - cd_start;
    let eocd64 = z.len() as u64;
    z.extend_from_slice(b"PK\x06\x06");
    z.extend_from_slice(&44u64.to_le_bytes());
    z.extend_from_slice(&[45, 3, 45, 0]);
    z.extend_from_slice(&[0; 8]);
    z.extend_from_slice(&(records as u64).to_le_bytes());
    z.extend_from_slice(&(records as u64).to_le_bytes());
    z.extend_from_slice(&cd_size.to_le_bytes());
    z.extend_from_slice(&cd_start.to_le_bytes());
    z.extend_from_slice(b"PK\x06\x07");
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(&eocd64.to_le_bytes());
    z.extend_from_slice(&1u32.to_le_bytes());
    z.extend_from_slice(b"PK\x05\x06");
    z.extend_from_slice(&[0; 4]);
    z.extend_from_slice(&[0xff; 12]);
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

/// A Lite liveness request whose zip (48 MiB on the wire) holds a million central-directory
/// records: refused for its entry count (400) before the zip reader parses them into a million
/// structs of a few hundred bytes each, so the peak RSS grows by the body and little more.
#[test]
fn zip_central_directory_flood_is_refused_before_parsing() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipped");
        return;
    }
    const RECORDS: usize = 1_000_000;
    let zip = central_directory_flood(RECORDS);
    let (ct, body) = multipart(&[("media_key1", "shots.zip", "application/zip", zip.as_slice())]);
    // The body is held while it is decoded (up to twice: the part and the request); more than
    // that would be the parsed directory.
    let growth = 2 * body.len() as u64 + 60 * MIB;
    let server = start_with(&[]);
    let before = warm_up(&server);
    let answer = request(&server.addr, "POST", "/v1/face/liveness/detect", &[], &ct, &body);
    let after = server.status("VmHWM:");
    eprintln!(
        "zip of {RECORDS} central records ({} MiB): VmRSS {} -> VmHWM {} MiB (+{} MiB, bound +{} MiB)",
        zip.len() as u64 / MIB,
        before / MIB,
        after / MIB,
        after.saturating_sub(before) / MIB,
        growth / MIB
    );
    let (status, text) = answer.expect("lite answers");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("LDE-") && text.contains("entries"), "{text}");
    assert!(after.saturating_sub(before) < growth, "peak RSS grew by {} MiB", after.saturating_sub(before) / MIB);
}

/// A large JPEG made from a real photo (the face scaled up), `w` x `h`.
fn large_photo(w: u32, h: u32) -> Vec<u8> {
    let face = image::open(root().join("tests/fixtures/faces/live/obama__portrait.jpg")).expect("fixture");
    let big = face.resize_exact(w, h, image::imageops::FilterType::Triangle).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&big).expect("jpeg");
    out
}

/// Seven large photos (2000x3000, 17 MiB as RGB) analysed by a QUALITY without best shot: each
/// analysis keeps its best frame cached against the process decode budget (100 MiB) for a best
/// shot nobody asked for, as many as fit (four). Later Lite requests for a larger photo
/// (3000x4000, 34 MiB), which fits the budget but not the room the cached frames leave, must
/// still be served (200), one at a time and two at once: cached frames give way to a decode
/// instead of making it wait and answer 503. (Before the fix every such request waited
/// `OZ_DECODE_BUDGET_WAIT_MS` and answered 503 until the folder was deleted.)
#[test]
fn cached_best_frames_never_make_a_later_request_answer_503() {
    let server = start_with(&[
        ("OZ_DECODE_BUDGET_BYTES", (100 * MIB).to_string()),
        ("OZ_DECODE_REQUEST_BUDGET_BYTES", (100 * MIB).to_string()),
        ("OZ_DECODE_BUDGET_WAIT_MS", "1000".into()),
        ("OZ_ATTACHMENT_MAX_SIZE", (64 * MIB).to_string()),
    ]);
    let cached = large_photo(2000, 3000);
    let token = admin_token(&server.addr);
    let names: Vec<String> = (0..7).map(|i| format!("photo{i}")).collect();
    let mut parts: Vec<(&str, &str, &str, &[u8])> =
        names.iter().map(|n| (n.as_str(), "big.jpg", "image/jpeg", cached.as_slice())).collect();
    let tags: serde_json::Map<String, serde_json::Value> =
        names.iter().map(|n| (n.clone(), serde_json::json!(["photo_selfie"]))).collect();
    let payload = serde_json::json!({
        "media:tags": tags,
        "analyses": [{ "type": "quality", "params": { "extract_best_shot": false } }],
    })
    .to_string();
    parts.push(("payload", "payload.json", "application/json", payload.as_bytes()));
    let (ct, body) = multipart(&parts);
    let auth = [("X-Forensic-Access-Token", token.as_str())];
    let (status, text) = request(&server.addr, "POST", "/api/folders/", &auth, &ct, &body).expect("upload answers");
    assert_eq!(status, 201, "{text}");
    let folder: serde_json::Value = serde_json::from_str(&text).expect("folder json");
    let id = folder["folder_id"].as_str().expect("folder id").to_string();
    // The analysis finishes (it must not wait for the budget its own cached frames fill).
    let deadline = Instant::now() + Duration::from_secs(600);
    let analysis = loop {
        let (status, text) =
            request(&server.addr, "GET", &format!("/api/folders/{id}/?with_analyses=true"), &auth, "", &[])
                .expect("folder answers");
        assert_eq!(status, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let a = v["analyses"][0].clone();
        if !matches!(a["state"].as_str(), Some("PROCESSING" | "PENDING" | "NEW")) {
            break a;
        }
        assert!(Instant::now() < deadline, "the analysis did not finish: {a}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(analysis["state"], "FINISHED", "{analysis}");
    assert_eq!(analysis["results_media"].as_array().map(Vec::len), Some(7), "{analysis}");
    // Lite requests for a larger photo, one after the other and two at once.
    let photo = large_photo(3000, 4000);
    for round in 0..3 {
        let answers: Vec<Option<(u16, String)>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..if round == 2 { 2 } else { 1 })
                .map(|_| {
                    s.spawn(|| request(&server.addr, "POST", "/v1/face/liveness/detect", &[], "image/jpeg", &photo))
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("join")).collect()
        });
        for a in answers {
            let (status, text) = a.expect("lite answers");
            assert_eq!(status, 200, "round {round}: {text}");
        }
    }
}
