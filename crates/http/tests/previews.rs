//! Media previews and shot-set videos (issue 7) over real HTTP, on SQLite and on PostgreSQL: the
//! JPEG `preview_url` (= `thumb_url`) made at upload for an image, a video and a zip shot set,
//! the mp4 `video_url` assembled from a shot set's shots, both served by `/static/` like the
//! originals (signed links, the owner's token, 404 for another tenant), kept by the sweeper, and
//! removed with their media, their folder and their company.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use common::{C, Kind, Options, TestServer, fixture, login, start};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

/// Stored files as this user sees them.
trait Files {
    /// GET `/static/{name}` with this user's token: status, Content-Type, body.
    async fn file(&self, name: &str) -> (u16, String, Vec<u8>);
}

impl Files for C<'_> {
    async fn file(&self, name: &str) -> (u16, String, Vec<u8>) {
        let r = self.req(reqwest::Method::GET, &format!("/static/{name}")).send().await.expect("send");
        let status = r.status().as_u16();
        let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        (status, ct, r.bytes().await.expect("bytes").to_vec())
    }
}

/// A company with a CLIENT_ADMIN; answers (company id, token).
async fn tenant(admin: &C<'_>, email: &str) -> (String, String) {
    let (st, c) = admin.post("/api/companies/", json!({ "name": format!("co-{email}") })).await;
    assert_eq!(st, 201, "{c}");
    let company = c["company_id"].as_str().expect("id").to_string();
    let (st, u) = admin
        .post(
            "/api/users/",
            json!({ "email": email, "password": "password-123", "user_type": "CLIENT_ADMIN", "company_id": company }),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    (company, login(admin.s, email, "password-123").await)
}

/// GET without a token (a signed link): status, Content-Type, body.
async fn open(url: &str) -> (u16, String, Vec<u8>) {
    let r = reqwest::Client::new().get(url).send().await.expect("send");
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, ct, r.bytes().await.expect("bytes").to_vec())
}

/// The stored file name in a `/static/` link.
fn file_name(url: &str) -> String {
    url.split('?').next().and_then(|p| p.rsplit('/').next()).expect("name").to_string()
}

/// Stored files in the server's media folder.
fn stored(s: &TestServer) -> BTreeSet<String> {
    std::fs::read_dir(s.data.join("media"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// The JPEG photos of the fixtures, zipped in name order (as the server sorts them too), and
/// their names.
fn shot_set() -> (Vec<u8>, Vec<String>) {
    let dir = common::root().join("tests/fixtures/faces/live");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Listed out of order on purpose: the video follows the names, not the archive order.
    for n in names.iter().rev() {
        zip.start_file(n.as_str(), zip::write::SimpleFileOptions::default()).expect("entry");
        zip.write_all(&fixture(&format!("faces/live/{n}"))).expect("write");
    }
    (zip.finish().expect("zip").into_inner(), names)
}

fn part(bytes: Vec<u8>, name: &str, mime: &str) -> Part {
    Part::bytes(bytes).file_name(name.to_string()).mime_str(mime).expect("mime")
}

fn upload_form(zip: Vec<u8>) -> Form {
    Form::new()
        .part("photo1", part(fixture("faces/live/obama__portrait.jpg"), "portrait.jpg", "image/jpeg"))
        .part("video1", part(fixture("videos/portrait_720x1280.mp4"), "selfie.mp4", "video/mp4"))
        .part("shots1", part(zip, "shots.zip", "application/zip"))
        .part(
            "payload",
            Part::text(
                json!({ "media:tags": {
                    "photo1": ["photo_selfie"],
                    "video1": ["video_selfie", "video_selfie_blank"],
                    "shots1": ["video_selfie", "video_selfie_blank"],
                } })
                .to_string(),
            ),
        )
}

/// The media of `folder` named `original_name`.
fn by_name<'v>(folder: &'v Value, original_name: &str) -> &'v Value {
    folder["media"]
        .as_array()
        .expect("media")
        .iter()
        .find(|m| m["original_name"] == original_name)
        .unwrap_or_else(|| panic!("no media {original_name} in {folder}"))
}

/// Checks a media's preview: `thumb_url` is the same link, `info.thumb` describes the file, the
/// signed link serves a JPEG whose long side is 320 (or less for a smaller original) and whose
/// shape is the original's. Answers the preview's file name.
async fn check_preview(m: &Value, w: u32, h: u32) -> String {
    let url = m["preview_url"].as_str().unwrap_or_else(|| panic!("preview_url: {m}"));
    assert_eq!(m["thumb_url"], m["preview_url"], "thumb_url links the preview too");
    assert!(url.contains("expires=") && url.contains("signature="), "signed like original_url: {url}");
    assert_ne!(file_name(url), file_name(m["original_url"].as_str().expect("original_url")));
    let (st, ct, body) = open(url).await;
    assert_eq!((st, ct.as_str()), (200, "image/jpeg"), "{url}");
    assert!(body.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
    let img = oz_vision::media::decode_image(&body, 1 << 24).expect("the preview decodes");
    let (pw, ph) = img.dimensions();
    assert_eq!(pw.max(ph), 320.min(w.max(h)), "long side 320: {pw}x{ph} from {w}x{h}");
    let want = f64::from(w) / f64::from(h);
    assert!((f64::from(pw) / f64::from(ph) - want).abs() < 0.02, "aspect kept: {pw}x{ph} from {w}x{h}");
    let thumb = &m["info"]["thumb"];
    assert_eq!((thumb["width"].as_u64(), thumb["height"].as_u64()), (Some(u64::from(pw)), Some(u64::from(ph))));
    assert_eq!(thumb["size"].as_u64(), Some(body.len() as u64));
    assert_eq!(thumb["mime-type"], "image/jpeg");
    assert_eq!(thumb["md5"].as_str().map(str::len), Some(32));
    file_name(url)
}

both!(previews_and_videos, previews_and_videos_body);
async fn previews_and_videos_body(kind: Kind) {
    // No grace: the sweeper run below would remove any file no row names.
    let Some(s) = start(kind, Options { sweep_grace: Duration::ZERO, ..Options::default() }).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, a_token) = tenant(&admin, "a@example.com").await;
    let (_, b_token) = tenant(&admin, "b@example.com").await;
    let a = C { s: &s, token: a_token };
    let b = C { s: &s, token: b_token };
    let (zip, shots) = shot_set();

    let (st, f) = a.upload("/api/folders/", upload_form(zip)).await;
    assert_eq!(st, 201, "{f}");
    let folder_id = f["folder_id"].as_str().expect("folder_id").to_string();
    let (photo, video, set) = (by_name(&f, "portrait.jpg"), by_name(&f, "selfie.mp4"), by_name(&f, "shots.zip"));

    // Previews: the image itself (910x1137), the video's middle sampled frame (upright 720x1280),
    // the first shot in name order (its size is the shot set's info.original).
    let photo_preview = check_preview(photo, 910, 1137).await;
    let video_preview = check_preview(video, 720, 1280).await;
    let (sw, sh) = (
        set["info"]["original"]["width"].as_u64().expect("w") as u32,
        set["info"]["original"]["height"].as_u64().expect("h") as u32,
    );
    let first_shot = oz_vision::media::decode_image(&fixture(&format!("faces/live/{}", shots[0])), 1 << 26)
        .expect("first shot")
        .dimensions();
    assert_eq!((sw, sh), first_shot, "info.original is the first shot in name order");
    let set_preview = check_preview(set, sw, sh).await;
    // A video keeps its own file as video_url; an image has none.
    assert_eq!(
        file_name(video["video_url"].as_str().expect("video_url")),
        file_name(video["original_url"].as_str().expect("url"))
    );
    assert!(photo.get("video_url").is_none());

    // The shot set's video: an mp4 our own decoder reads, one frame per shot, even size, long
    // side 640 (the shots are larger), the first shot's shape.
    let video_url = set["video_url"].as_str().unwrap_or_else(|| panic!("shot set video_url: {set}"));
    assert!(video_url.contains("signature="), "{video_url}");
    let set_video = file_name(video_url);
    assert!(set_video.ends_with(".mp4"));
    let (st, ct, mp4) = open(video_url).await;
    assert_eq!((st, ct.as_str()), (200, "video/mp4"));
    assert!(oz_vision::encode::is_faststart(&mp4), "moov before mdat");
    let d = oz_vision::video::decode_video_bytes(&mp4, 64, &oz_vision::video::VideoLimits::default())
        .expect("the server decodes its own video");
    assert_eq!(d.info.frame_count as usize, shots.len(), "{:?}", d.info);
    assert_eq!(d.frames.len(), shots.len());
    assert!(d.info.codec == "h264" || d.info.codec == "mpeg4", "{:?}", d.info);
    assert_eq!((d.info.width % 2, d.info.height % 2), (0, 0));
    assert_eq!(d.info.width.max(d.info.height), 640);
    let want = f64::from(sw) / f64::from(sh);
    assert!((f64::from(d.info.width) / f64::from(d.info.height) - want).abs() < 0.02, "{:?}", d.info);
    // The first frame is the first shot (not letterboxed: same shape): compare with its preview.
    let preview = oz_vision::media::decode_image(&a.file(&set_preview).await.2, 1 << 24).expect("preview");
    let small = image::imageops::resize(
        &d.frames[0].image,
        preview.width(),
        preview.height(),
        image::imageops::FilterType::Triangle,
    );
    let diff: f64 = small.as_raw().iter().zip(preview.as_raw()).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>()
        / small.as_raw().len() as f64;
    assert!(diff < 12.0, "the video starts with the first shot (mean difference {diff:.1})");

    // The media route renders the same links.
    let (st, m) =
        a.json(reqwest::Method::GET, &format!("/api/media/{}", set["media_id"].as_str().expect("id")), None).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(file_name(m["video_url"].as_str().expect("video_url")), set_video);
    assert_eq!(file_name(m["preview_url"].as_str().expect("preview_url")), set_preview);

    // Served like the originals: the owner's token works, another company's user gets 404, no
    // token and no signature 401.
    for name in [&photo_preview, &video_preview, &set_preview, &set_video] {
        let (st, ct, _) = a.file(name).await;
        assert_eq!(st, 200, "{name}");
        assert_eq!(ct, if name.ends_with(".mp4") { "video/mp4" } else { "image/jpeg" });
        let (st, _, body) = b.file(name).await;
        assert_eq!(st, 404, "another tenant: {name}");
        assert_eq!(serde_json::from_slice::<Value>(&body).expect("json")["error_code"], 10);
        assert_eq!(open(&format!("{}/static/{name}", s.base)).await.0, 401);
    }

    // The sweeper counts them as referenced (no grace here: anything unreferenced would go).
    let before = stored(&s);
    assert_eq!(before.len(), 7, "3 originals, 3 previews, the shot set's video: {before:?}");
    let r = s.engine.sweep().await.expect("sweep");
    assert_eq!(r.files, 0, "{r:?}");
    assert_eq!(stored(&s), before);

    // Media added to the folder get theirs too; deleting a media removes its preview with it.
    let form = Form::new()
        .part("photo2", part(fixture("faces/live/obama__podium.jpg"), "podium.jpg", "image/jpeg"))
        .part("payload", Part::text(json!({ "media:tags": { "photo2": ["photo_selfie"] } }).to_string()));
    let (st, added) = a.upload(&format!("/api/folders/{folder_id}/media/"), form).await;
    assert_eq!(st, 201, "{added}");
    let podium_preview = check_preview(&added[0], 626, 1200).await;
    assert_eq!(stored(&s).len(), 9);
    let (st, _) = a
        .json(reqwest::Method::DELETE, &format!("/api/media/{}", added[0]["media_id"].as_str().expect("id")), None)
        .await;
    assert_eq!(st, 204);
    assert_eq!(stored(&s), before, "the media's original and preview are gone");
    assert_eq!(a.file(&podium_preview).await.0, 404);

    // Deleting the folder removes every file: originals, previews and the assembled video.
    let (st, _) = a.json(reqwest::Method::DELETE, &format!("/api/folders/{folder_id}/"), None).await;
    assert_eq!(st, 204);
    assert!(stored(&s).is_empty(), "files left: {:?}", stored(&s));
    let (st, _, _) = open(video_url).await;
    assert_eq!(st, 404, "a signed link of a deleted media");
}

both!(company_delete_removes_previews, company_delete_body);
async fn company_delete_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (company, token) = tenant(&admin, "gone@example.com").await;
    let t = C { s: &s, token };
    let (zip, _) = shot_set();
    let form = Form::new()
        .part("shots1", part(zip, "shots.zip", "application/zip"))
        .part("payload", Part::text(json!({ "media:tags": { "shots1": ["video_selfie"] } }).to_string()));
    let (st, f) = t.upload("/api/folders/", form).await;
    assert_eq!(st, 201, "{f}");
    assert!(f["media"][0]["video_url"].is_string() && f["media"][0]["preview_url"].is_string(), "{f}");
    assert_eq!(stored(&s).len(), 3, "zip, preview, video");
    let (st, e) = admin.json(reqwest::Method::DELETE, &format!("/api/companies/{company}?force=true"), None).await;
    assert_eq!(st, 204, "{e}");
    assert!(stored(&s).is_empty(), "files left: {:?}", stored(&s));
}
