//! Hostile input over real HTTP: what an attacker on the internet can send, route by route.
//!
//! Every case checks four things: a 4xx with the right Oz (`error_code`) or Lite (`code`) body, no
//! outbound connection and no local file opened on the attacker's behalf, no file left behind in
//! the data folder, and a server that still answers afterwards.
//!
//! Media cases: manifests that FFmpeg would follow (DASH with the `<!--ftypjp2 -->` disguise, HLS,
//! ffconcat), each pointing at a loopback listener that counts connections (and never answers,
//! so a followed URL would also hang a thread) or at a real local video through `file:`.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Kind, Options};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// A loopback listener that accepts and counts connections and never answers.
struct Sink {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                held.push(conn);
            }
        });
        Self { port, accepted, task }
    }

    async fn count(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn dash(base: &str) -> Vec<u8> {
    format!(
        r#"<!--ftypjp2 -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" type="static" mediaPresentationDuration="PT4S" minBufferTime="PT1S">
 <BaseURL>{base}</BaseURL>
 <Period id="0" duration="PT4S">
  <AdaptationSet mimeType="video/mp4">
   <Representation id="v" codecs="avc1.64001f" width="720" height="1280" bandwidth="500000">
    <BaseURL>secret.mp4</BaseURL>
    <SegmentBase indexRange="0-999"><Initialization range="0-999"/></SegmentBase>
   </Representation>
  </AdaptationSet>
 </Period>
</MPD>
"#
    )
    .into_bytes()
}

/// (name, body) of every manifest variant, aimed at `port` on loopback or at a real local video.
fn manifests(port: u16) -> Vec<(&'static str, Vec<u8>)> {
    let http = format!("http://127.0.0.1:{port}/");
    let video = common::root().join("tests/fixtures/videos/portrait_720x1280.mp4");
    let dir = video.parent().unwrap_or(Path::new("/")).display().to_string();
    let v = video.display().to_string();
    vec![
        ("dash-http", dash(&http)),
        ("dash-file", dash(&format!("file:{dir}/"))),
        (
            "hls-http",
            format!("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\n{http}seg0.ts\n#EXT-X-ENDLIST\n")
                .into_bytes(),
        ),
        ("hls-file", format!("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nfile:{v}\n#EXT-X-ENDLIST\n").into_bytes()),
        ("ffconcat-http", format!("ffconcat version 1.0\nfile '{http}a.mp4'\n").into_bytes()),
        ("ffconcat-file", format!("ffconcat version 1.0\nfile '{v}'\n").into_bytes()),
        // The same manifests behind a real-looking ftyp box (sizes with zero bytes end FFmpeg's
        // text probes, but the demuxer whitelist must hold even if a probe matched).
        ("ftyp-then-dash", {
            let mut b = b"\0\0\0\x18ftypisom\0\0\0\0isommp42".to_vec();
            b.extend(dash(&http));
            b
        }),
    ]
}

/// Files under the data folder (media, best shots, temporaries), not the database.
fn stored_files(dir: &Path) -> Vec<String> {
    fn walk(d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("test.db")) {
                out.push(p.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

async fn manifests_are_refused_everywhere(kind: Kind) {
    let Some(s) = common::start(kind, Options::default()).await else { return };
    let token = common::admin_token(&s).await;
    let sink = Sink::start().await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let before = stored_files(&s.data);
    for (name, body) in manifests(sink.port) {
        // Lite liveness, raw body labelled as a JPEG, no token: the reported attack.
        let r = http
            .post(format!("{}/v1/face/liveness/detect", s.base))
            .header("Content-Type", "image/jpeg")
            .body(body.clone())
            .send()
            .await
            .expect("send");
        let (status, v) = json(r).await;
        assert_eq!(status, 400, "{name} raw: {v}");
        assert_eq!(v["code"], "LDE-002004", "{name} raw: {v}");

        // Lite liveness, multipart as a video.
        let form = Form::new()
            .part("media_key1", Part::bytes(body.clone()).file_name("video.mp4").mime_str("video/mp4").expect("mime"));
        let r = http.post(format!("{}/v1/face/liveness/detect", s.base)).multipart(form).send().await.expect("send");
        let (status, v) = json(r).await;
        assert_eq!(status, 400, "{name} multipart: {v}");
        assert_eq!(v["code"], "LDE-002004", "{name} multipart: {v}");

        // Lite biometry takes images only.
        let r = http
            .post(format!("{}/v1/face/pattern/extract", s.base))
            .header("Content-Type", "image/jpeg")
            .body(body.clone())
            .send()
            .await
            .expect("send");
        let (status, v) = json(r).await;
        assert_eq!(status, 400, "{name} extract: {v}");
        assert_eq!(v["code"], "BPE-002003", "{name} extract: {v}");

        // Full API upload (authenticated), as a video next to a good photo: nothing is kept.
        let form = Form::new()
            .part(
                "photo1",
                Part::bytes(common::fixture("faces/live/obama__portrait.jpg"))
                    .file_name("id.jpg")
                    .mime_str("image/jpeg")
                    .expect("mime"),
            )
            .part("video1", Part::bytes(body.clone()).file_name("selfie.mp4").mime_str("video/mp4").expect("mime"))
            .text("payload", r#"{"media:tags":{"video1":["video_selfie"]}}"#);
        let r = http
            .post(format!("{}/api/folders/", s.base))
            .header("X-Forensic-Access-Token", &token)
            .multipart(form)
            .send()
            .await
            .expect("send");
        let (status, v) = json(r).await;
        assert_eq!(status, 400, "{name} upload: {v}");
        assert_eq!(v["error_code"], 4, "{name} upload: {v}");

        assert_eq!(sink.count().await, 0, "{name}: the server connected to the attacker's address");
        assert_eq!(stored_files(&s.data), before, "{name}: files left behind");
    }
    // Still healthy, and real videos still work.
    let r = http.get(format!("{}/api/version", s.base)).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let form = Form::new().part(
        "media_key1",
        Part::bytes(common::fixture("videos/portrait_720x1280.mp4"))
            .file_name("v.mp4")
            .mime_str("video/mp4")
            .expect("mime"),
    );
    let r = http.post(format!("{}/v1/face/liveness/detect", s.base)).multipart(form).send().await.expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_refused_everywhere_sqlite() {
    manifests_are_refused_everywhere(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_refused_everywhere_postgres() {
    manifests_are_refused_everywhere(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_in_an_unlisted_codec_is_refused() {
    let Some(s) = common::start(Kind::Sqlite, Options::default()).await else { return };
    let form = Form::new().part(
        "media_key1",
        Part::bytes(common::fixture("videos/ffv1.mkv")).file_name("v.mkv").mime_str("video/x-matroska").expect("mime"),
    );
    let r = reqwest::Client::new()
        .post(format!("{}/v1/face/liveness/detect", s.base))
        .multipart(form)
        .send()
        .await
        .expect("send");
    let (status, v) = json(r).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["code"], "LDE-002004");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("ffv1")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_liveness_body_must_be_an_image() {
    // A real video sent raw as image/jpeg is not decoded as a video: the raw route takes images.
    let Some(s) = common::start(Kind::Sqlite, Options::default()).await else { return };
    let r = reqwest::Client::new()
        .post(format!("{}/v1/face/liveness/detect", s.base))
        .header("Content-Type", "image/jpeg")
        .body(common::fixture("videos/portrait_720x1280.mp4"))
        .send()
        .await
        .expect("send");
    let (status, v) = json(r).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["code"], "LDE-002004");
}
