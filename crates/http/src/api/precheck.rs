//! `POST /api/liveness/precheck` (our extension, issue 20 §2): the capture page sends one small
//! camera frame (JPEG or PNG) before it records, and gets back whether a person is ready: one
//! face, big enough, in the middle, lit well (the rules are `oz_domain::precheck`'s). Detector
//! only, nothing stored.
//!
//! Bounded before the body is read: a token is required (access or SDK session token), each token
//! may send `OZ_PRECHECK_PER_MINUTE` frames a minute (429 with `Retry-After` past it), and the body
//! is at most `OZ_PRECHECK_MAX_BYTES`. The frame's size is read from its header before it is
//! decoded (at most [`MAX_SIDE`] pixels a side), and the detector runs under the same admission
//! gate as every other analysis.

use std::io::Cursor;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use oz_domain::precheck::{self, FaceBox, PrecheckRules};
use serde_json::json;

use super::auth;
use super::error::{ApiError, ApiResult};
use crate::apidoc::schemas::{Precheck, PrecheckFace, PrecheckFrame};
use crate::state::AppState;
use crate::wire::Json;

/// Largest width or height of a precheck frame, pixels (the page sends about 320 x 240).
pub const MAX_SIDE: u32 = 1280;
/// Smallest width or height.
pub const MIN_SIDE: u32 = 64;

/// `OZ_PRECHECK_PER_MINUTE`, `OZ_PRECHECK_MAX_BYTES`, and the limiter they drive. Clones share
/// the limiter.
#[derive(Clone)]
pub struct PrecheckGuard {
    pub per_minute: u32,
    pub max_bytes: usize,
    limiter: Option<Arc<DefaultKeyedRateLimiter<[u8; 16]>>>,
}

impl std::fmt::Debug for PrecheckGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrecheckGuard")
            .field("per_minute", &self.per_minute)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

/// Default of `OZ_PRECHECK_PER_MINUTE` (the page sends at most about one frame a second).
pub const DEFAULT_PER_MINUTE: u32 = 120;
/// Default of `OZ_PRECHECK_MAX_BYTES`.
pub const DEFAULT_MAX_BYTES: usize = 512 * 1024;

impl Default for PrecheckGuard {
    fn default() -> Self {
        Self::new(DEFAULT_PER_MINUTE, DEFAULT_MAX_BYTES)
    }
}

impl PrecheckGuard {
    /// `per_minute` 0 = no rate limit (the admission gate still bounds the work).
    #[must_use]
    pub fn new(per_minute: u32, max_bytes: usize) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            // A burst of a quarter minute's frames: a page that polls steadily never waits.
            let burst = NonZeroU32::new((per_minute / 4).max(1)).unwrap_or(rate);
            Arc::new(RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)))
        });
        Self { per_minute, max_bytes: max_bytes.max(1024), limiter }
    }

    /// Takes one frame from `token`'s allowance, or says how long to wait.
    fn check(&self, token: &str) -> Result<(), std::time::Duration> {
        let Some(l) = &self.limiter else { return Ok(()) };
        use sha2::Digest;
        let digest = sha2::Sha256::digest(token.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        if l.len() > 100_000 {
            l.retain_recent();
        }
        l.check_key(&key).map_err(|not_until| not_until.wait_time_from(governor::clock::DefaultClock::default().now()))
    }
}

/// The size of a JPEG or PNG frame from its header, or why it is refused.
fn frame_size(bytes: &[u8]) -> ApiResult<(u32, u32)> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| ApiError::value("the frame could not be read"))?;
    if !matches!(reader.format(), Some(image::ImageFormat::Jpeg | image::ImageFormat::Png)) {
        return Err(ApiError::value("the frame must be a JPEG or PNG image"));
    }
    let (w, h) =
        reader.into_dimensions().map_err(|_| ApiError::value("the frame is not a readable JPEG or PNG image"))?;
    if w > MAX_SIDE || h > MAX_SIDE || w < MIN_SIDE || h < MIN_SIDE {
        return Err(ApiError::value(format!(
            "the frame is {w}x{h} pixels: send {MIN_SIDE} to {MAX_SIDE} pixels a side (about 320 wide is enough)"
        ))
        .with_details(json!({ "width": w, "height": h, "max_side": MAX_SIDE, "min_side": MIN_SIDE })));
    }
    Ok((w, h))
}

/// Mean luma (BT.601, 0-255) of a box of the image, clamped to the image.
fn mean_luma(img: &image::RgbImage, b: &FaceBox) -> Option<f32> {
    let (w, h) = img.dimensions();
    let x0 = (b.x.max(0.0) as u32).min(w);
    let y0 = (b.y.max(0.0) as u32).min(h);
    let x1 = ((b.x + b.w).max(0.0) as u32).min(w);
    let y1 = ((b.y + b.h).max(0.0) as u32).min(h);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut sum = 0.0f64;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x, y).0;
            sum += 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]);
        }
    }
    Some((sum / f64::from((x1 - x0) * (y1 - y0))) as f32)
}

/// `POST /api/liveness/precheck`: is the person in this frame ready to record?
#[utoipa::path(
    post,
    path = "/api/liveness/precheck/",
    operation_id = "liveness_precheck",
    tag = "liveness",
    summary = "Check one camera frame before recording (our extension)",
    description = "A JPEG or PNG frame (64 to 1280 pixels a side, at most `OZ_PRECHECK_MAX_BYTES`) as the raw body. Answers whether the person is ready to record: `hint` is one of ok, no_face, several_faces, too_dark, too_bright, too_small, too_close, off_centre, with `message` in plain words. Detector only; nothing is stored. Each token may send `OZ_PRECHECK_PER_MINUTE` frames a minute. Accepts an access token or an SDK session token.",
    request_body(content((crate::apidoc::schemas::Binary = "image/jpeg"), (crate::apidoc::schemas::Binary = "image/png")), description = "One camera frame."),
    security(("token" = [])),
    responses((status = 200, description = "The verdict on the frame", body = crate::apidoc::schemas::Precheck), crate::apidoc::ApiErrors)
)]
pub async fn precheck(State(st): State<AppState>, req: Request) -> ApiResult<Response> {
    let api = st.api()?.clone();
    let (mut parts, body) = req.into_parts();
    super::challenges::caller(&st, &mut parts).await?;
    let token = auth::token_of(&parts).ok_or_else(ApiError::auth_missing)?;
    let guard = &api.cfg.precheck;
    guard.check(&token).map_err(|wait| {
        ApiError::too_many(
            format!("more than {} precheck frames a minute for this token (OZ_PRECHECK_PER_MINUTE)", guard.per_minute),
            wait,
        )
    })?;
    let req = Request::from_parts(parts, body);
    let (bytes, _memory) = super::body::read_upload(&st, req, guard.max_bytes, "OZ_PRECHECK_MAX_BYTES").await?;
    let (width, height) = frame_size(&bytes)?;
    let verdict = st
        .run(move |p| -> ApiResult<_> {
            let img =
                p.decode_image(&bytes).map_err(|e| ApiError::value(format!("the frame could not be decoded: {e}")))?;
            let faces = p.detect(&img).map_err(|e| ApiError::unknown(format!("face detection failed: {e}")))?;
            let boxes: Vec<FaceBox> = faces.iter().map(|f| FaceBox { x: f.x, y: f.y, w: f.w, h: f.h }).collect();
            let largest = boxes.iter().copied().max_by(|a, b| a.w.total_cmp(&b.w));
            let luma = largest.and_then(|b| mean_luma(&img, &b));
            let score = faces.iter().map(|f| f.score).fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s))));
            Ok((precheck::assess(width, height, &boxes, luma, &PrecheckRules::default()), luma, score))
        })
        .await
        .map_err(|e| {
            if e.kind == oz_domain::lite::LiteErrorKind::Busy { ApiError::busy() } else { ApiError::unknown(e.message) }
        })??;
    let (a, luma, score) = verdict;
    let round = |v: f32| (f64::from(v) * 1000.0).round() / 1000.0;
    let face = a.face.map(|f| PrecheckFace {
        x: round(f.x / width as f32),
        y: round(f.y / height as f32),
        width: round(f.w / width as f32),
        height: round(f.h / height as f32),
        // A face comes with the detector's score.
        score: score.map_or(0.0, round),
    });
    Ok((
        StatusCode::OK,
        Json(Precheck {
            ready: a.hint == precheck::Hint::Ok,
            hint: a.hint.as_str().to_string(),
            message: a.hint.message().to_string(),
            faces: a.faces,
            face,
            brightness: luma.map(|l| round(l / 255.0)),
            frame: PrecheckFrame { width, height },
        }),
    )
        .into_response())
}
