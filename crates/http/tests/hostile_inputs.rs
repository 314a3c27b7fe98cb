//! Hostile inputs over real HTTP: zip bombs, path-traversal names, pixel bombs, EXIF bombs,
//! truncated and corrupt videos, polyglots, wrong content types and every `/api` route without a
//! (valid) token. The corpus is built here, in code, from `tests/fixtures`.
//!
//! Every case must get a 4xx with the right error body (Oz `error_code` on `/api`, Lite `code` on
//! `/v1`), or, for inputs that are hostile only in their metadata (an EXIF bomb on a readable
//! JPEG, a polyglot that is a valid image), an ordinary answer: never a 5xx, never a hang. After
//! the cases the server must still be healthy and its data dir must hold no file.
//!
//! The FFmpeg manifest cases (DASH, HLS, ffconcat, file: URLs) live in `hostile.rs`.

#[macro_use]
mod common;

use std::io::{Cursor, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Kind, Options, TestServer, admin_token, fixture, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

/// The most one hostile request may take on a loaded CI machine.
const SLOW: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

/// What a case must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A 4xx with the right error body.
    Refused,
    /// Either an ordinary answer or a 4xx with the right error body, never a 5xx.
    Handled,
}

struct Media {
    name: &'static str,
    file_name: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
    expect: Expect,
}

fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb(rgb)));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

/// A flat grey JPEG (no face in it).
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([128, 128, 128])));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).expect("jpeg");
    out.into_inner()
}

/// A zip with the given entries, stored or deflated.
fn zip_of(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        w.start_file(*name, opts).expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// One deflated entry `zeros.png` of 300 MB of zeros (about 300 KB compressed), built once.
fn ratio_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("zeros.png", opts).expect("start");
        let block = vec![0u8; 1 << 20];
        for _ in 0..300 {
            w.write_all(&block).expect("write");
        }
        w.finish().expect("finish").into_inner()
    })
}

/// The ratio bomb with the uncompressed sizes in its local and central headers changed to 1000
/// bytes: the limit must hold on what the entry really inflates to, not on what it declares.
fn lying_ratio_bomb() -> Vec<u8> {
    let mut z = ratio_bomb().to_vec();
    // (signature, offset of the 32-bit uncompressed size) of local and central headers.
    for (sig, off) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
        let at: Vec<usize> = z.windows(4).enumerate().filter(|(_, w)| *w == sig.as_slice()).map(|(i, _)| i).collect();
        for i in at {
            if i + off + 4 <= z.len() {
                z[i + off..i + off + 4].copy_from_slice(&1000u32.to_le_bytes());
            }
        }
    }
    z
}

/// A JPEG whose EXIF IFD claims 65535 entries and whose next-IFD pointer loops to itself.
fn exif_bomb() -> Vec<u8> {
    let base = jpeg(64, 64);
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&0xFFFFu16.to_be_bytes());
    // As many Orientation entries as fit, each pointing its value far out of the segment.
    while tiff.len() < 60_000 {
        tiff.extend_from_slice(&[0x01, 0x12, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xF0]);
    }
    tiff.extend_from_slice(&8u32.to_be_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).expect("segment fits");
    let mut out = base[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&base[2..]);
    out
}

/// A JPEG whose IFD0 and IFD1 point at each other.
fn exif_loop() -> Vec<u8> {
    let base = jpeg(64, 64);
    let mut tiff = b"II\x2a\0\x08\0\0\0".to_vec();
    // IFD0 at 8: one entry (orientation 1), next IFD at 26.
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    tiff.extend_from_slice(&26u32.to_le_bytes());
    // IFD1 at 26: one entry, next IFD back at 8.
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).expect("segment fits");
    let mut out = base[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&base[2..]);
    out
}

/// Overwrites every 61st byte from `from` on with `0xA5`.
fn damage(mut v: Vec<u8>, from: usize) -> Vec<u8> {
    let mut i = from;
    while i < v.len() {
        v[i] = 0xA5;
        i += 61;
    }
    v
}

fn corpus() -> Vec<Media> {
    use Expect::{Handled, Refused};
    let small = png(8, 8, [200, 10, 10]);
    let many: Vec<(String, Vec<u8>)> = (0..70).map(|i| (format!("shot{i:03}.png"), small.clone())).collect();
    let many_refs: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let inner = zip_of(&[("a.png", &small)], false);
    let mp4 = fixture("videos/rot90.mp4");
    let webm = fixture("videos/clip.webm");
    let face = fixture("faces/live/obama__portrait.jpg");
    let m = |name, file_name, content_type, bytes, expect| Media { name, file_name, content_type, bytes, expect };
    vec![
        m("zip with 70 entries", "many.zip", "application/zip", zip_of(&many_refs, false), Refused),
        m("zip ratio bomb (300 MB of zeros)", "bomb.zip", "application/zip", ratio_bomb().to_vec(), Refused),
        m("zip ratio bomb with lying sizes", "liar.zip", "application/zip", lying_ratio_bomb(), Refused),
        m("nested zip", "nested.zip", "application/zip", zip_of(&[("inner.zip", &inner)], false), Refused),
        m(
            "zip inside a .png entry",
            "nested2.zip",
            "application/zip",
            zip_of(&[("inner.png", &inner)], false),
            Refused,
        ),
        m("zip entry ../../x.jpg", "dots.zip", "application/zip", zip_of(&[("../../x.jpg", &face)], false), Refused),
        m("zip entry ..\\..\\x.jpg", "bs.zip", "application/zip", zip_of(&[("..\\..\\x.jpg", &face)], false), Refused),
        m("zip entry /etc/x.jpg", "abs.zip", "application/zip", zip_of(&[("/etc/x.jpg", &face)], false), Refused),
        m("png header of 50000x50000", "huge.png", "image/png", oz_vision::testdata::huge_png(50_000, 50_000), Refused),
        m("jpeg with a 65535-entry EXIF IFD", "exif.jpg", "image/jpeg", exif_bomb(), Handled),
        m("jpeg with looping EXIF IFDs", "exifloop.jpg", "image/jpeg", exif_loop(), Handled),
        m("mp4 cut to 1 KiB", "cut.mp4", "video/mp4", mp4[..1024].to_vec(), Refused),
        m("mp4 cut in half (no moov)", "half.mp4", "video/mp4", mp4[..mp4.len() / 2].to_vec(), Refused),
        m("mp4 with a damaged moov", "moov.mp4", "video/mp4", damage(mp4.clone(), mp4.len() - 1400), Handled),
        m("mp4 with damaged frames", "frames.mp4", "video/mp4", damage(mp4.clone(), 200), Handled),
        m("webm cut to 1 KiB", "cut.webm", "video/webm", webm[..1024].to_vec(), Refused),
        m("webm cut in half", "half.webm", "video/webm", webm[..webm.len() / 2].to_vec(), Handled),
        m("webm damaged", "bad.webm", "video/webm", damage(webm.clone(), 300), Handled),
        m("jpeg that is also a zip", "poly.jpg", "image/jpeg", [jpeg(32, 32), inner.clone()].concat(), Handled),
        m("zip followed by a jpeg", "poly.zip", "application/zip", [inner.clone(), face.clone()].concat(), Handled),
        m(
            "zip header followed by a jpeg",
            "pk.jpg",
            "image/jpeg",
            [b"PK\x03\x04".to_vec(), face.clone()].concat(),
            Refused,
        ),
        m("text", "a.txt", "text/plain", b"hello, I am not a picture".to_vec(), Refused),
        m("html", "a.html", "image/jpeg", b"<html><body>hi</body></html>".to_vec(), Refused),
        m("four magic bytes", "magic.jpg", "image/jpeg", vec![0xFF, 0xD8, 0xFF, 0xE0], Refused),
    ]
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

struct Answer {
    status: u16,
    body: Value,
    took: Duration,
}

async fn send(r: reqwest::RequestBuilder) -> Answer {
    let t = Instant::now();
    let resp = r.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), took: t.elapsed() }
}

/// A Lite error body with a code of `processor` ("LDE" or "BPE") that is not an internal one.
fn lite_refusal(case: &str, a: &Answer, processor: &str) {
    assert!((400..500).contains(&a.status), "{case}: status {} {}", a.status, a.body);
    let code = a.body["code"].as_str().unwrap_or_default();
    assert!(code.starts_with(&format!("{processor}-002")), "{case}: code {code:?} in {}", a.body);
    assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: {}", a.body);
}

/// An Oz error body with one of `codes`.
fn oz_refusal(case: &str, a: &Answer, codes: &[i64]) {
    assert!((400..500).contains(&a.status), "{case}: status {} {}", a.status, a.body);
    let code = a.body["error_code"].as_i64().unwrap_or(-1);
    assert!(codes.contains(&code), "{case}: error_code {code}, expected one of {codes:?}: {}", a.body);
    assert!(a.body["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: {}", a.body);
    assert!(a.body.get("details").is_some(), "{case}: {}", a.body);
}

fn check(case: &str, expect: Expect, a: &Answer, refusal: impl Fn(&str, &Answer)) {
    assert!(a.took < SLOW, "{case}: took {:?}", a.took);
    match expect {
        Expect::Refused => refusal(case, a),
        Expect::Handled if a.status < 300 => {}
        Expect::Handled => any_refusal(case, a),
    }
}

/// A 4xx with a Lite body (any non-internal code, e.g. "no face") or an Oz body.
fn any_refusal(case: &str, a: &Answer) {
    assert!((400..500).contains(&a.status), "{case}: status {} {}", a.status, a.body);
    let lite = a.body["code"].as_str().is_some_and(|c| c.len() == 10 && !c.contains("-001"));
    let oz = a.body["error_code"].as_i64().is_some_and(|c| c > 0);
    assert!(lite || oz, "{case}: not an error body: {}", a.body);
}

/// No stored file and no temporary file in the data dir.
fn no_files(s: &TestServer, after: &str) {
    let dir = s.data.join("media");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "after {after}: files left in {}: {left:?}", dir.display());
}

/// `/api/version` answers and a real liveness request still works.
async fn healthy(s: &TestServer) {
    let r = send(reqwest::Client::new().get(format!("{}/api/version", s.base))).await;
    assert_eq!(r.status, 200, "version after the hostile cases: {}", r.body);
    let r = send(
        reqwest::Client::new()
            .post(format!("{}/v1/face/liveness/detect", s.base))
            .header("Content-Type", "image/jpeg")
            .body(fixture("faces/live/obama__portrait.jpg")),
    )
    .await;
    assert_eq!(r.status, 200, "liveness after the hostile cases: {}", r.body);
    assert!(r.body["score"].is_number(), "{}", r.body);
}

fn part(m: &Media) -> Part {
    Part::bytes(m.bytes.clone()).file_name(m.file_name).mime_str(m.content_type).expect("mime")
}

// ---------------------------------------------------------------------------------------------
// Hostile media to Lite and to the full API upload
// ---------------------------------------------------------------------------------------------

/// A server that takes uploads of up to 64 MiB (the corpus's largest files), and an admin token.
async fn media_server(kind: Kind) -> Option<(TestServer, String)> {
    let s = start(kind, Options { attachment_max_size: 64 * 1024 * 1024, ..Options::default() }).await?;
    let token = admin_token(&s).await;
    Some((s, token))
}

/// Posts a single-request folder. A refusal must be a 4xx Oz answer with error 3 or 4 (`None`);
/// anything else must be 201 with the folder (returned).
async fn single_request(s: &TestServer, token: &str, case: &str, form: Form) -> Option<Value> {
    let url = format!("{}/api/folders/", s.base);
    let a = send(reqwest::Client::new().post(url).header("X-Forensic-Access-Token", token).multipart(form)).await;
    if a.status >= 400 {
        assert!(a.status < 500, "{case}: {} {}", a.status, a.body);
        oz_refusal(case, &a, &[3, 4]);
        return None;
    }
    assert_eq!(a.status, 201, "{case}: {}", a.body);
    Some(a.body)
}

async fn hostile_media(kind: Kind) {
    let Some((s, token)) = media_server(kind).await else { return };
    let c = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", s.base);
    for m in corpus() {
        let case = m.name;
        // Lite liveness, raw body.
        let a =
            send(c.post(url("/v1/face/liveness/detect")).header("Content-Type", "image/jpeg").body(m.bytes.clone()))
                .await;
        check(&format!("{case} (liveness raw)"), m.expect, &a, |c, a| lite_refusal(c, a, "LDE"));
        // Lite liveness, multipart with a payload.
        let form = Form::new()
            .part("media", part(&m))
            .part("payload", Part::text(json!({"media:tags": {"media": ["photo_selfie"]}}).to_string()));
        let a = send(c.post(url("/v1/face/liveness/detect")).multipart(form)).await;
        check(&format!("{case} (liveness multipart)"), m.expect, &a, |c, a| lite_refusal(c, a, "LDE"));
        // Lite biometry.
        let a =
            send(c.post(url("/v1/face/pattern/extract")).header("Content-Type", "image/jpeg").body(m.bytes.clone()))
                .await;
        check(&format!("{case} (extract)"), m.expect, &a, |c, a| lite_refusal(c, a, "BPE"));
        // Full API upload, alone and after a good photo (nothing of either may be stored).
        for with_good in [false, true] {
            let mut form = Form::new();
            if with_good {
                form = form.part(
                    "good",
                    Part::bytes(fixture("faces/live/obama__portrait.jpg"))
                        .file_name("id.jpg")
                        .mime_str("image/jpeg")
                        .expect("mime"),
                );
            }
            let form = form.part("media", part(&m)).part(
                "payload",
                Part::text(json!({"media:tags": {"media": ["photo_selfie"], "good": ["photo_id_front"]}}).to_string()),
            );
            let a = send(c.post(url("/api/folders/")).header("X-Forensic-Access-Token", &token).multipart(form)).await;
            let label = format!("{case} (api upload{})", if with_good { " after a good photo" } else { "" });
            check(&label, m.expect, &a, |c, a| oz_refusal(c, a, &[3, 4]));
            if a.status >= 400 {
                no_files(&s, &label);
            }
        }
        // Delete what a handled case stored, then the data dir must be empty again.
        let (_, list) = {
            let a = send(c.get(url("/api/folders/?limit=100")).header("X-Forensic-Access-Token", &token)).await;
            (a.status, a.body)
        };
        for f in list["items"].as_array().cloned().unwrap_or_default() {
            if let Some(id) = f["folder_id"].as_str() {
                let a =
                    send(c.delete(url(&format!("/api/folders/{id}/"))).header("X-Forensic-Access-Token", &token)).await;
                assert!(a.status < 300, "delete folder: {}", a.body);
            }
        }
        no_files(&s, case);
    }
    healthy(&s).await;
    no_files(&s, "the whole corpus");
}

/// Damaged videos that upload (the corpus's "handled" ones) tagged for a gesture: the QUALITY
/// analysis decodes them a second time, densely and scaled down, for the gesture check. Every
/// answer is an Oz answer (a finished, declined or failed analysis, or a 4xx refusal), and the
/// server stays healthy.
async fn hostile_videos_tagged_for_a_gesture(kind: Kind) {
    let Some((s, token)) = media_server(kind).await else { return };
    let videos: Vec<Media> = corpus().into_iter().filter(|m| m.content_type.starts_with("video/")).collect();
    assert!(videos.len() >= 5);
    for m in videos {
        for tag in ["video_selfie_eyes", "video_selfie_left", "video_selfie_scan"] {
            let case = format!("{} tagged {tag}", m.name);
            let payload = json!({
                "media:tags": { "media": ["video_selfie", tag] },
                "analyses": [{ "type": "quality" }],
            });
            let form = Form::new().part("media", part(&m)).part("payload", Part::text(payload.to_string()));
            let Some(f) = single_request(&s, &token, &case, form).await else { continue };
            let an = &f["analyses"][0];
            let state = an["state"].as_str().unwrap_or_default();
            assert!(["FINISHED", "FAILED"].contains(&state), "{case}: {an}");
            if state == "FINISHED" {
                let g = &an["results_media"][0]["results_data"]["gesture"];
                assert!(g["detected"].is_boolean(), "{case}: {an}");
            }
        }
    }
    healthy(&s).await;
}
both!(hostile_videos_tagged_for_a_gesture_on, hostile_videos_tagged_for_a_gesture);

/// Every image of the corpus sent as the ID photo of a BIOMETRY beside a real selfie: a still
/// with no shared analysis takes the detector-and-embedder path (`Pipeline::still_embedding`).
/// Every answer is an Oz answer (a finished or failed analysis, or a 4xx refusal), a finished one
/// compares two faces, and the server stays healthy.
async fn hostile_id_photos_for_biometry(kind: Kind) {
    let Some((s, token)) = media_server(kind).await else { return };
    let images: Vec<Media> = corpus().into_iter().filter(|m| m.content_type.starts_with("image/")).collect();
    assert!(images.len() >= 5);
    let before = s.engine.analyses.stats().still_embeddings;
    for m in images {
        let case = format!("{} as an ID photo", m.name);
        let payload = json!({
            "media:tags": { "selfie": ["photo_selfie"], "media": ["photo_id", "photo_id_front"] },
            "analyses": [{ "type": "biometry" }],
        });
        let selfie = Part::bytes(fixture("faces/live/obama__portrait.jpg"))
            .file_name("s.jpg")
            .mime_str("image/jpeg")
            .expect("mime");
        let form =
            Form::new().part("selfie", selfie).part("media", part(&m)).part("payload", Part::text(payload.to_string()));
        let Some(f) = single_request(&s, &token, &case, form).await else { continue };
        let an = &f["analyses"][0];
        match an["state"].as_str().unwrap_or_default() {
            "FINISHED" => assert!(an["results_data"]["max_confidence"].is_number(), "{case}: {an}"),
            "FAILED" => assert!(an["error_message"].as_str().is_some_and(|t| !t.is_empty()), "{case}: {an}"),
            other => panic!("{case}: state {other}: {an}"),
        }
    }
    assert!(s.engine.analyses.stats().still_embeddings > before, "the stills took the detector-and-embedder path");
    healthy(&s).await;
}
both!(hostile_id_photos_for_biometry_on, hostile_id_photos_for_biometry);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_media_sqlite() {
    hostile_media(Kind::Sqlite).await;
}

/// A shot set entry named `shots\..\..\x.jpg` (Windows separators) holding a real face is
/// refused as an unsafe path, like `../` names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_entry_with_backslash_traversal_is_refused() {
    let Some(s) = start(Kind::Sqlite, Options::default()).await else { return };
    let face = fixture("faces/live/obama__portrait.jpg");
    let bytes = zip_of(&[("shots\\..\\..\\x.jpg", &face)], false);
    let a = send(reqwest::Client::new().post(format!("{}/v1/face/liveness/detect", s.base)).multipart(
        reqwest::multipart::Form::new().part(
            "media_key1",
            reqwest::multipart::Part::bytes(bytes).file_name("shots.zip").mime_str("application/zip").expect("mime"),
        ),
    ))
    .await;
    check("zip entry shots\\..\\..\\x.jpg", Expect::Refused, &a, |c, a| lite_refusal(c, a, "LDE"));
    assert!(a.body["message"].as_str().is_some_and(|m| m.contains("unsafe path")), "{}", a.body);
}

/// One Lite liveness request of ten gesture-tagged videos, or of ten zip shot sets of real faces
/// tagged for a gesture: each part is decoded twice (its samples, then densely for the gesture
/// check), so such a request could hold an inference slot for minutes. The request's work budget
/// (`OZ_REQUEST_MAX_FRAMES`, 256 frames for the models by default: 52 a part here) cuts it after
/// its fifth part: a 400 with the Lite code that names the limit, and the server stays healthy.
/// (Not a wall-clock assertion: the refusal itself shows the work was bounded.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_request_of_many_tagged_parts_is_cut_by_the_work_budget() {
    let Some(s) = start(Kind::Sqlite, Options::default()).await else { return };
    let small_face = {
        let img = image::load_from_memory(&fixture("faces/live/obama__portrait.jpg")).expect("fixture");
        let mut out = Cursor::new(Vec::new());
        img.thumbnail(320, 320).write_to(&mut out, image::ImageFormat::Jpeg).expect("jpeg");
        out.into_inner()
    };
    let names: Vec<String> = (0..41).map(|i| format!("shot_{i:02}.jpg")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), small_face.as_slice())).collect();
    let shots = zip_of(&entries, true);
    let video = fixture("videos/portrait_720x1280.mp4");
    for (what, bytes, file_name, content_type) in
        [("videos", &video, "clip.mp4", "video/mp4"), ("shot sets", &shots, "shots.zip", "application/zip")]
    {
        let mut form = Form::new();
        let mut tags = serde_json::Map::new();
        for i in 0..10 {
            let key = format!("media_{i}");
            let p = Part::bytes(bytes.clone()).file_name(file_name).mime_str(content_type).expect("mime");
            form = form.part(key.clone(), p);
            tags.insert(key, json!(["video_selfie", "video_selfie_eyes"]));
        }
        let payload = json!({ "media:tags": tags, "analyses": [{ "type": "quality" }] });
        form = form.part("payload", Part::text(payload.to_string()));
        let a = send(reqwest::Client::new().post(format!("{}/v1/face/liveness/detect", s.base)).multipart(form)).await;
        let case = format!("ten gesture-tagged {what}");
        lite_refusal(&case, &a, "LDE");
        let message = a.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("OZ_REQUEST_MAX_FRAMES"), "{case}: {}", a.body);
        // Cut at the fifth or sixth part (52 frames a part, a clip's candidates may be fewer).
        let part: usize = message
            .strip_prefix("media_")
            .and_then(|m| m.split(':').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        assert!((4..=5).contains(&part), "{case}: cut at part {part}: {}", a.body);
    }
    healthy(&s).await;
}

// ---------------------------------------------------------------------------------------------
// Wrong content types
// ---------------------------------------------------------------------------------------------

async fn wrong_content_types(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let token = admin_token(&s).await;
    let c = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", s.base);
    let photo = fixture("faces/live/obama__portrait.jpg");
    let lite = [
        ("/v1/face/liveness/detect", "LDE"),
        ("/v1/face/pattern/extract", "BPE"),
        ("/v1/face/pattern/compare", "BPE"),
        ("/v1/face/pattern/verify", "BPE"),
        ("/v1/face/pattern/extract_and_compare", "BPE"),
        ("/v1/face/pattern/compare_n", "BPE"),
        ("/v1/face/pattern/verify_n", "BPE"),
        ("/v1/face/pattern/extract_and_compare_n", "BPE"),
    ];
    for (route, p) in lite {
        for (ct, body) in [
            ("application/json", br#"{"photo": "aGVsbG8="}"#.to_vec()),
            ("text/plain", b"hello".to_vec()),
            ("application/x-www-form-urlencoded", b"photo=1".to_vec()),
            ("multipart/form-data", b"--x\r\n\r\n".to_vec()),
            ("", photo.clone()),
        ] {
            let a = send(c.post(url(route)).header("Content-Type", ct).body(body)).await;
            let case = format!("{route} with Content-Type {ct:?}");
            assert!(a.took < SLOW, "{case}");
            lite_refusal(&case, &a, p);
            if route.ends_with("/detect") || route.ends_with("/extract") {
                assert_eq!(a.body["code"], format!("{p}-002001"), "{case}: {}", a.body);
            }
        }
    }
    // A media part that says it is JSON.
    let form = Form::new().part("media", Part::bytes(photo.clone()).mime_str("application/json").expect("mime"));
    let a = send(c.post(url("/v1/face/liveness/detect")).multipart(form)).await;
    lite_refusal("liveness: media part of type application/json", &a, "LDE");
    assert_eq!(a.body["code"], "LDE-002005", "{}", a.body);
    // A payload part that is not JSON.
    let form = Form::new()
        .part("media", Part::bytes(photo.clone()).mime_str("image/jpeg").expect("mime"))
        .part("payload", Part::text("{not json"));
    let a = send(c.post(url("/v1/face/liveness/detect")).multipart(form)).await;
    lite_refusal("liveness: payload not JSON", &a, "LDE");

    let auth = |r: reqwest::RequestBuilder| r.header("X-Forensic-Access-Token", &token);
    // JSON, text and form bodies to the multipart upload routes.
    for (ct, body) in [
        ("application/json", br#"{"media:tags": {}}"#.to_vec()),
        ("text/plain", b"hello".to_vec()),
        ("image/jpeg", photo.clone()),
        ("multipart/form-data", b"--x\r\n\r\n".to_vec()),
        (
            "multipart/form-data; boundary=zzz",
            b"--zzz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc".to_vec(),
        ),
    ] {
        let a = send(auth(c.post(url("/api/folders/"))).header("Content-Type", ct).body(body)).await;
        oz_refusal(&format!("POST /api/folders/ with {ct:?}"), &a, &[3]);
    }
    // Multipart and text bodies to JSON routes.
    let form = || Form::new().part("credentials", Part::text("x"));
    let a = send(c.post(url("/api/authorize/auth")).multipart(form())).await;
    oz_refusal("login with a multipart body", &a, &[3, 4]);
    let a = send(c.post(url("/api/authorize/auth")).header("Content-Type", "text/plain").body("email=a")).await;
    oz_refusal("login with a text body", &a, &[3, 4]);
    let a = send(auth(c.post(url("/api/companies/"))).multipart(form())).await;
    oz_refusal("create company with a multipart body", &a, &[3, 4]);
    let a = send(auth(c.post(url("/api/users/"))).multipart(form())).await;
    oz_refusal("create user with a multipart body", &a, &[3, 4]);
    no_files(&s, "the wrong content types");
    let a = send(c.get(url("/api/version"))).await;
    assert_eq!(a.status, 200);
}

both!(wrong_content_types_on, wrong_content_types);

// ---------------------------------------------------------------------------------------------
// Every /api route without a token and with a garbage token
// ---------------------------------------------------------------------------------------------

/// Every authenticated `/api` route (method, path), as registered in `crates/http/src/api/mod.rs`.
fn authenticated_routes() -> Vec<(reqwest::Method, String)> {
    use reqwest::Method as M;
    let id = "0b9d6a4e-8d4c-4a43-9b43-1f4f6b0b9a11";
    let mut v: Vec<(M, String)> = vec![
        (M::GET, "/api/companies".into()),
        (M::POST, "/api/companies".into()),
        (M::GET, format!("/api/companies/{id}")),
        (M::PATCH, format!("/api/companies/{id}")),
        (M::DELETE, format!("/api/companies/{id}")),
        (M::GET, "/api/users".into()),
        (M::POST, "/api/users".into()),
        (M::GET, format!("/api/users/{id}")),
        (M::PATCH, format!("/api/users/{id}")),
        (M::DELETE, format!("/api/users/{id}")),
        (M::GET, "/api/folders".into()),
        (M::POST, "/api/folders".into()),
        (M::GET, format!("/api/folders/{id}")),
        (M::DELETE, format!("/api/folders/{id}")),
        (M::POST, format!("/api/folders/{id}/media")),
        (M::GET, format!("/api/folders/{id}/webhooks")),
        (M::GET, format!("/api/folders/{id}/analyses")),
        (M::POST, format!("/api/folders/{id}/analyses")),
        (M::GET, format!("/api/analyses/{id}")),
        (M::GET, format!("/api/media/{id}")),
        (M::PATCH, format!("/api/media/{id}")),
        (M::DELETE, format!("/api/media/{id}")),
        (M::POST, "/api/authorize/logout".into()),
        (M::GET, "/api/authorize/session_token".into()),
        (M::POST, "/api/instant/folders".into()),
        (M::POST, "/api/liveness/challenges".into()),
        (M::POST, "/api/liveness/precheck".into()),
        (M::GET, "/api/event_sessions".into()),
        (M::POST, "/api/event_sessions".into()),
        (M::GET, format!("/api/event_sessions/{id}")),
        (M::POST, format!("/api/event_sessions/{id}/events")),
        (M::DELETE, format!("/api/users/{id}/sessions")),
        (M::GET, format!("/api/companies/{id}/webhook_secret")),
        (M::POST, format!("/api/companies/{id}/webhook_secret")),
        (M::DELETE, format!("/api/companies/{id}/webhook_secret")),
        (M::GET, "/api/config".into()),
        (M::GET, "/api/statistics".into()),
        (M::GET, "/api/analyses".into()),
        (M::GET, "/api/media".into()),
        (M::GET, format!("/api/analyses/{id}/resolution")),
        (M::POST, format!("/api/analyses/{id}/resolution")),
        (M::GET, "/api/resolutions".into()),
        (M::GET, "/api/collections".into()),
        (M::POST, "/api/collections".into()),
        (M::GET, format!("/api/collections/{id}")),
        (M::DELETE, format!("/api/collections/{id}")),
        (M::GET, format!("/api/collections/{id}/persons")),
        (M::POST, format!("/api/collections/{id}/persons")),
        (M::GET, format!("/api/collections/{id}/persons/{{person_id}}")),
        (M::DELETE, format!("/api/collections/{id}/persons/{{person_id}}")),
        (M::GET, format!("/api/collections/{id}/persons/{{person_id}}/images")),
        (M::POST, format!("/api/collections/{id}/persons/{{person_id}}/images")),
        (M::GET, format!("/api/collections/{id}/persons/{{person_id}}/images/{{image_id}}")),
        (M::DELETE, format!("/api/collections/{id}/persons/{{person_id}}/images/{{image_id}}")),
    ];
    for kind in ["users", "folders", "media", "analyses", "collections"] {
        for m in [M::GET, M::POST, M::PATCH, M::DELETE] {
            v.push((m, format!("/api/{kind}/{id}/meta_data")));
        }
    }
    let slashed: Vec<(M, String)> = v.iter().map(|(m, p)| (m.clone(), format!("{p}/"))).collect();
    v.extend(slashed);
    v
}

/// The list above names every `/api` route and method of the OpenAPI document, which the router is
/// built from (utoipa-axum), so a new route cannot skip this test.
#[test]
fn route_list_is_complete() {
    let doc: serde_json::Value = serde_json::from_str(&oz_http::openapi::json()).expect("document");
    let listed: Vec<(String, String)> = authenticated_routes()
        .into_iter()
        .map(|(m, p)| (m.as_str().to_ascii_lowercase(), p.replace("0b9d6a4e-8d4c-4a43-9b43-1f4f6b0b9a11", "{id}")))
        .collect();
    let public = ["/api/version", "/api/authorize/auth", "/api/authorize/refresh"];
    let paths = doc["paths"].as_object().expect("paths");
    let mut seen = 0;
    for (path, ops) in paths.iter().filter(|(p, _)| p.starts_with("/api/")) {
        let bare = path.trim_end_matches('/');
        if public.contains(&bare) {
            continue;
        }
        for method in ops.as_object().expect("operations").keys() {
            seen += 1;
            assert!(
                listed.contains(&(method.clone(), bare.to_string())),
                "{} {path} of the OpenAPI document is not in authenticated_routes()",
                method.to_uppercase()
            );
        }
    }
    assert!(seen > 50, "the document lists the /api routes ({seen})");
}

async fn unauthenticated(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let c = reqwest::Client::new();
    for (m, p) in authenticated_routes() {
        let url = format!("{}{p}", s.base);
        let a = send(c.request(m.clone(), &url).json(&json!({}))).await;
        assert_eq!(a.status, 401, "{m} {p} without a token: {}", a.body);
        oz_refusal(&format!("{m} {p} without a token"), &a, &[6]);
        for garbage in ["garbage", &"f".repeat(128), "Bearer x.y.z"] {
            let a = send(c.request(m.clone(), &url).header("X-Forensic-Access-Token", garbage).json(&json!({}))).await;
            assert_eq!(a.status, 401, "{m} {p} with token {garbage:?}: {}", a.body);
            oz_refusal(&format!("{m} {p} with a garbage token"), &a, &[7]);
        }
    }
    // Stored files are not served to strangers.
    let a = send(c.get(format!("{}/static/0123456789abcdef0123456789abcdef.jpg", s.base))).await;
    assert!(matches!(a.status, 401 | 404), "static without a token: {} {}", a.status, a.body);
    no_files(&s, "the unauthenticated requests");
}

both!(unauthenticated_on, unauthenticated);
