//! The web capture surface (issue 20 §2) over real HTTP, on SQLite and on PostgreSQL:
//! `POST /api/liveness/precheck` on real photos (ready, no face, several faces, too small, too
//! dark) and every refusal before work (no, forged or OPERATOR token, rate limit, oversize body,
//! a declared huge body, not an image, a GIF, too large or too small a frame, a truncated image);
//! `/sdk/openoz-capture.js` and `/capture/` with their headers; CORS only for
//! `OZ_CAPTURE_ORIGINS`.

#[macro_use]
mod common;

use common::{C, Kind, Options, fixture, login, start};
use image::{DynamicImage, ImageFormat, RgbImage};
use serde_json::{Value, json};

const PRECHECK: &str = "/api/liveness/precheck";

fn url(s: &common::TestServer, p: &str) -> String {
    format!("{}{p}", s.base)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// A selfie-like frame: the astronaut photo (512 x 512, one face about 89 px wide at (180, 64))
/// cropped to the 200 x 200 square around the face (the face fills 44 % of its width, in the
/// middle), scaled to `side`.
fn astronaut(side: u32) -> DynamicImage {
    let img = image::load_from_memory(&fixture("faces/live/collins__astronaut.png")).expect("photo");
    img.crop_imm(124, 19, 200, 200).resize_exact(side, side, image::imageops::FilterType::Triangle)
}

/// A 1 x 1 GIF (the `image` crate here encodes no GIF).
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

async fn precheck(c: &C<'_>, body: Vec<u8>, ct: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = c.req(reqwest::Method::POST, PRECHECK).header("content-type", ct).body(body).send().await.expect("send");
    let st = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("text");
    (st, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
}

/// CRC-32 (IEEE) of a PNG chunk's type and data.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn oz_error(e: &Value, code: i64) {
    assert_eq!(e["error_code"], code, "{e}");
    assert!(e["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
}

/// A client with a fresh SDK session token of `c`'s user (its own precheck allowance).
async fn fresh<'a>(c: &C<'a>) -> C<'a> {
    let (st, t) = c.get("/api/authorize/session_token").await;
    assert_eq!(st, 200, "{t}");
    C { s: c.s, token: t["session_token"].as_str().expect("token").to_string() }
}

async fn user(admin: &C<'_>, email: &str, user_type: &str) -> String {
    common::company_user(admin, email, user_type).await.2
}

both!(precheck_guides_the_person_from_real_photos, guide_body);
async fn guide_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let a = C { s: &s, token: user(&admin, "a@example.com", "CLIENT").await };

    // One face filling a good part of the frame, in the middle: ready. JPEG and PNG.
    let photo = astronaut(320);
    let (st, v, _) = precheck(&a, encode(&photo, ImageFormat::Jpeg), "image/jpeg").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["faces"], 1, "{v}");
    assert_eq!(v["hint"], "ok", "{v}");
    assert_eq!(v["ready"], true, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    let face = &v["face"];
    for k in ["x", "y", "width", "height", "score"] {
        assert!(face[k].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)), "{k}: {v}");
    }
    assert!(v["brightness"].as_f64().is_some_and(|b| b > 0.2 && b < 0.9), "{v}");
    assert_eq!(v["frame"], json!({ "width": 320, "height": 320 }));
    let mut keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["brightness", "face", "faces", "frame", "hint", "message", "ready"]);
    let (st, v, _) = precheck(&a, encode(&photo, ImageFormat::Png), "image/png").await;
    assert_eq!((st, v["hint"].as_str()), (200, Some("ok")), "{v}");

    // No face: a plain grey frame.
    let grey = DynamicImage::ImageRgb8(RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128])));
    let (st, v, _) = precheck(&a, encode(&grey, ImageFormat::Jpeg), "image/jpeg").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["hint"].as_str(), v["ready"].as_bool(), v["faces"].as_u64()),
        (Some("no_face"), Some(false), Some(0))
    );
    assert_eq!(v["face"], Value::Null);

    // Two people side by side: several faces.
    let two = {
        let half = astronaut(300);
        let mut canvas = RgbImage::from_pixel(600, 300, image::Rgb([128, 128, 128]));
        image::imageops::overlay(&mut canvas, &half.to_rgb8(), 0, 0);
        image::imageops::overlay(&mut canvas, &half.to_rgb8(), 300, 0);
        DynamicImage::ImageRgb8(canvas)
    };
    let (st, v, _) = precheck(&a, encode(&two, ImageFormat::Jpeg), "image/jpeg").await;
    assert_eq!((st, v["hint"].as_str(), v["faces"].as_u64()), (200, Some("several_faces"), Some(2)), "{v}");

    // Far away: the photo small in the middle of a large frame.
    let far = {
        let mut canvas = RgbImage::from_pixel(1000, 1000, image::Rgb([128, 128, 128]));
        image::imageops::overlay(&mut canvas, &astronaut(200).to_rgb8(), 400, 400);
        DynamicImage::ImageRgb8(canvas)
    };
    let (st, v, _) = precheck(&a, encode(&far, ImageFormat::Jpeg), "image/jpeg").await;
    assert_eq!((st, v["hint"].as_str()), (200, Some("too_small")), "{v}");

    // Dark: the photo at a fifth of its brightness (still found by the detector).
    let dark = {
        let mut d = photo.to_rgb8();
        for p in d.pixels_mut() {
            for c in &mut p.0 {
                *c /= 5;
            }
        }
        DynamicImage::ImageRgb8(d)
    };
    let (st, v, _) = precheck(&a, encode(&dark, ImageFormat::Png), "image/png").await;
    assert_eq!(st, 200, "{v}");
    assert!(matches!(v["hint"].as_str(), Some("too_dark" | "no_face")), "{v}");
    if v["faces"] == 1 {
        assert_eq!(v["hint"], "too_dark", "{v}");
    }

    // An SDK session token may send frames too.
    let (st, t) = a.get("/api/authorize/session_token").await;
    assert_eq!(st, 200, "{t}");
    let session = C { s: &s, token: t["session_token"].as_str().expect("token").to_string() };
    let (st, v, _) = precheck(&session, encode(&photo, ImageFormat::Jpeg), "image/jpeg").await;
    assert_eq!((st, v["hint"].as_str()), (200, Some("ok")), "{v}");
}

both!(precheck_refuses_before_work, refuse_body);
async fn refuse_body(kind: Kind) {
    let opts = Options { precheck: oz_http::api::precheck::PrecheckGuard::new(8, 64 * 1024), ..Options::default() };
    let Some(s) = start(kind, opts).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let a = C { s: &s, token: user(&admin, "a@example.com", "CLIENT").await };
    let b = C { s: &s, token: user(&admin, "b@example.com", "CLIENT").await };
    let op = C { s: &s, token: user(&admin, "op@example.com", "CLIENT_OPERATOR").await };
    let jpeg = encode(&astronaut(200), ImageFormat::Jpeg);

    // No token, a forged one, an OPERATOR: refused before the body is read.
    let r = reqwest::Client::new().post(url(&s, PRECHECK)).body(jpeg.clone()).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 401);
    oz_error(&r.json().await.expect("json"), 6);
    let (st, e, _) = precheck(&C { s: &s, token: "forged.token.value".into() }, jpeg.clone(), "image/jpeg").await;
    assert_eq!(st, 401, "{e}");
    let (st, e, _) = precheck(&op, jpeg.clone(), "image/jpeg").await;
    assert_eq!(st, 403, "{e}");
    oz_error(&e, 9);

    // Malformed frames: 400 error 4, each saying why; the server keeps answering.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text", b"hello, not an image".to_vec(), "JPEG or PNG"),
        ("empty", Vec::new(), "JPEG or PNG"),
        ("gif", GIF.to_vec(), "JPEG or PNG"),
        ("too wide", encode(&DynamicImage::ImageRgb8(RgbImage::new(2000, 100)), ImageFormat::Png), "2000x100"),
        ("too small", encode(&DynamicImage::ImageRgb8(RgbImage::new(32, 32)), ImageFormat::Png), "32x32"),
        (
            "truncated",
            {
                let png = encode(&astronaut(200), ImageFormat::Png);
                png[..png.len() / 2].to_vec()
            },
            "decoded",
        ),
    ];
    for (what, body, says) in cases {
        let (st, e, _) = precheck(&fresh(&a).await, body, "image/jpeg").await;
        assert_eq!(st, 400, "{what}: {e}");
        oz_error(&e, 4);
        assert!(e["error_message"].as_str().is_some_and(|m| m.contains(says)), "{what}: {e}");
    }
    // A header that claims 60000 x 60000 pixels: refused from the header, never decoded.
    let mut huge = encode(&DynamicImage::ImageRgb8(RgbImage::new(64, 64)), ImageFormat::Png);
    huge[16..20].copy_from_slice(&60000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let crc = crc32(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    let (st, e, _) = precheck(&fresh(&b).await, huge, "image/png").await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["details"]["width"], 60000, "{e}");

    // Over OZ_PRECHECK_MAX_BYTES (64 KiB here): 413, also when only declared.
    let big = vec![0xffu8; 100 * 1024];
    let (st, e, _) = precheck(&fresh(&b).await, big, "image/jpeg").await;
    assert_eq!(st, 413, "{e}");
    assert_eq!(e["details"]["limit"], 64 * 1024, "{e}");

    // 8 a minute per token, a burst of 2: the third frame at once is 429 with Retry-After; another
    // token is not held by it.
    let c = fresh(&b).await;
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..3 {
        let (st, _, h) = precheck(&c, jpeg.clone(), "image/jpeg").await;
        statuses.push(st);
        if st == 429 {
            retry = h.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");
    let other = C { s: &s, token: login(&s, "b@example.com", "password-123").await };
    let (st, v, _) = precheck(&other, jpeg.clone(), "image/jpeg").await;
    assert_eq!(st, 200, "{v}");
}

both!(capture_files_are_served_with_their_headers, files_body);
async fn files_body(kind: Kind) {
    let opts = Options {
        capture: oz_http::capture::CaptureConfig { enabled: true, origins: vec!["https://app.example".into()] },
        ..Options::default()
    };
    let Some(s) = start(kind, opts).await else { return };
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");

    let r = http.get(url(&s, "/sdk/openoz-capture.js")).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers().clone();
    assert_eq!(h.get("content-type").and_then(|v| v.to_str().ok()), Some("text/javascript; charset=utf-8"));
    assert_eq!(h.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("*"));
    assert!(h.get("etag").is_some());
    let js = r.text().await.expect("text");
    assert!(js.contains("export function start("), "the module exports start()");
    let r = http.get(url(&s, "/sdk/openoz-capture.css")).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 200);

    let r = http.get(url(&s, "/capture")).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 308);
    let r = http.get(url(&s, "/capture/")).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'self' https://app.example"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = r.text().await.expect("text");
    assert!(html.contains("capture.js") && !html.contains("<script>"), "no inline script");
    let r = http.get(url(&s, "/capture/config.json")).send().await.expect("send");
    let cfg: Value = r.json().await.expect("json");
    assert_eq!(cfg, json!({ "origins": ["https://app.example"] }));
    for bad in ["/capture/../Cargo.toml", "/capture/%2e%2e/src/lib.rs", "/sdk/nothing.js", "/capture/page/index.html"] {
        let r = http.get(url(&s, bad)).send().await.expect("send");
        assert_eq!(r.status().as_u16(), 404, "{bad}");
    }

    // CORS: the listed origin may call the API from a browser (preflight and answer); others not.
    let pre = http
        .request(reqwest::Method::OPTIONS, url(&s, PRECHECK))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-forensic-access-token,content-type")
        .send()
        .await
        .expect("send");
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        pre.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
        Some("https://app.example")
    );
    let allowed = pre.headers().get("access-control-allow-headers").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(allowed.contains("x-forensic-access-token"), "{allowed}");
    let r = http.get(url(&s, "/api/version")).header("origin", "https://evil.example").send().await.expect("send");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(r.headers().get("access-control-allow-credentials").is_none());
}

both!(capture_off_and_no_origins, off_body);
async fn off_body(kind: Kind) {
    let opts = Options {
        capture: oz_http::capture::CaptureConfig { enabled: false, origins: Vec::new() },
        ..Options::default()
    };
    let Some(s) = start(kind, opts).await else { return };
    for p in ["/sdk/openoz-capture.js", "/capture/"] {
        let r = reqwest::get(url(&s, p)).await.expect("send");
        assert_eq!(r.status().as_u16(), 404, "{p}");
    }
    // No origins configured: no CORS answer for anyone.
    let r = reqwest::Client::new()
        .get(url(&s, "/api/version"))
        .header("origin", "https://app.example")
        .send()
        .await
        .expect("send");
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
