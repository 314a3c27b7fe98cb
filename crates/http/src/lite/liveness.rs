//! `POST /v1/face/liveness/detect`: a raw image gives `{"passed", "score"}`; a multipart request
//! with images, videos or zip shot sets plus a `payload` gives the Oz folder JSON with one
//! QUALITY analysis per requested analysis.

use std::collections::HashMap;

use crate::wire::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use oz_domain::caps;
use oz_domain::lite::{LiteErrorKind, Processor};
use oz_domain::liveness;
use oz_vision::pipeline::AnalyzeOptions;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::folder::{self, AnalysisSpec, Check, Flavor, FolderError, FolderRequest, MediaInput};
use super::parts;
use crate::error::LiteError;
use crate::state::AppState;

const P: Processor = Processor::Liveness;

/// The `payload` part.
#[derive(Debug, Default, Deserialize)]
pub struct Payload {
    #[serde(rename = "folder:meta_data", default)]
    pub folder_meta: Option<Value>,
    #[serde(rename = "media:meta_data", default)]
    pub media_meta: Option<HashMap<String, Value>>,
    #[serde(rename = "media:tags", default)]
    pub media_tags: Option<HashMap<String, Vec<String>>>,
    #[serde(default)]
    pub analyses: Option<Vec<AnalysisRequest>>,
    #[serde(default)]
    pub resolution_endpoint: Option<String>,
}

/// One definition of an analysis request for every route that takes one.
pub use crate::apidoc::schemas::{AnalysisParams, AnalysisRequest};

fn bad_part(msg: impl Into<String>) -> LiteError {
    LiteError::new(LiteErrorKind::InvalidPart, msg).on(P)
}

#[utoipa::path(
    post,
    path = "/v1/face/liveness/detect",
    operation_id = "lite_liveness_detect",
    tag = "lite",
    summary = "Liveness of a raw image (`{passed, score}`) or of multipart media (the folder JSON of Oz). Send `Content-Transfer-Encoding: base64` for base64 inputs and outputs.",
    request_body(content((crate::apidoc::schemas::Binary = "image/jpeg"), (crate::apidoc::schemas::Binary = "image/png"), (crate::apidoc::schemas::LivenessForm = "multipart/form-data")), description = "A raw image, or media parts and a payload."),
    security((), ("token" = [])),
    responses((status = 200, description = "Raw image: `LitePassed`; multipart: the folder", content_type = "application/json", body = crate::apidoc::schemas::LivenessAnswer), crate::apidoc::LiteErrors)
)]
pub async fn detect(State(st): State<AppState>, req: Request) -> Result<Response, LiteError> {
    let ct = parts::media_type(req.headers());
    let b64 = parts::wants_base64(req.headers());
    if parts::is_image_type(&ct) {
        let (body, _memory) = parts::receive_raw(&st, req, P).await?;
        let bytes = parts::payload(&body, b64, "sample", LiteErrorKind::UnreadableSample).map_err(|e| e.on(P))?;
        let threshold = st.lite.threshold_spoofing;
        let score = st
            .run(move |p| -> Result<f32, LiteError> {
                // A raw body is an image (the Content-Type says so): only the image decoders see it.
                let media = p.decode_still(&bytes).map_err(|e| LiteError::from_vision(&e, "sample").on(P))?;
                let a = p
                    .analyze_media(&media, AnalyzeOptions::default())
                    .map_err(|e| LiteError::from_vision(&e, "sample").on(P))?;
                Ok(a.confidence_spoofing)
            })
            .await
            .map_err(|e| e.on(P))??;
        return Ok(Json(oz_wire::lite::LitePassed {
            passed: liveness::passed(score, threshold),
            score: oz_domain::decision::wire_score(score),
        })
        .into_response());
    }
    if ct != "multipart/form-data" {
        return Err(LiteError::new(
            LiteErrorKind::InvalidContentType,
            format!("invalid Content-Type {ct:?}: expected image/jpeg, image/png or multipart/form-data"),
        )
        .on(P));
    }
    let (all, _memory) = parts::receive_multipart(&st, req, P).await?;
    let payload: Payload = match all.iter().find(|p| p.name == "payload") {
        None => Payload::default(),
        Some(p) if p.data.len() > st.lite.max_json_bytes => {
            let mut err = bad_part(format!(
                "the payload part is larger than {} bytes (OZ_MAX_JSON_BYTES)",
                st.lite.max_json_bytes
            ));
            err.status = Some(axum::http::StatusCode::PAYLOAD_TOO_LARGE);
            return Err(err);
        }
        Some(p) => serde_json::from_slice(&p.data).map_err(|e| bad_part(format!("invalid payload JSON: {e}")))?,
    };
    check_payload_caps(&payload)?;
    let specs = analysis_specs(&payload, st.lite.threshold_spoofing)?;
    let mut inputs = Vec::new();
    for part in all.iter().filter(|p| p.name != "payload") {
        match part.content_type.as_deref() {
            Some(t) if t.starts_with("application/json") || t.starts_with("text/") && !b64 => {
                return Err(bad_part(format!("invalid Content-Type {t:?} of media part {:?}", part.name)));
            }
            _ => {}
        }
        let bytes =
            parts::payload(&part.data, b64, &part.name, LiteErrorKind::UnreadableSample).map_err(|e| e.on(P))?;
        inputs.push((part.name.clone(), part.filename.clone(), bytes));
    }
    drop(all);
    if inputs.is_empty() {
        return Err(LiteError::new(LiteErrorKind::BadTemplateOrSample, "no media part in the request").on(P));
    }
    let media: Vec<MediaInput> = inputs
        .into_iter()
        .map(|(key, filename, bytes)| MediaInput {
            id: Uuid::new_v4(),
            tags: payload.media_tags.as_ref().and_then(|t| t.get(&key)).cloned().unwrap_or_default(),
            meta_data: payload.media_meta.as_ref().and_then(|m| m.get(&key)).cloned().unwrap_or_else(|| json!({})),
            original_name: filename.unwrap_or_else(|| key.clone()),
            key,
            bytes,
        })
        .collect();
    let req = FolderRequest {
        flavor: Flavor::Lite,
        folder_meta: payload.folder_meta.clone().unwrap_or_else(|| json!({})),
        resolution_endpoint: payload.resolution_endpoint.clone(),
        specs,
    };
    let answer = folder::answer(&st, &req, media).await.map_err(|e| match e {
        FolderError::Busy => LiteError::busy().on(P),
        FolderError::Media { key, error } => LiteError::from_vision(&error, &key).on(P),
        FolderError::Internal(m) => LiteError::internal(m).on(P),
    })?;
    Ok(Json(answer).into_response())
}

/// Every list and object of the payload within the caps of [`caps`].
fn check_payload_caps(payload: &Payload) -> Result<(), LiteError> {
    let cap = |e: caps::CapError| bad_part(format!("payload: {e}"));
    if let Some(a) = &payload.analyses {
        caps::count("analyses", a.len(), caps::MAX_ANALYSES).map_err(cap)?;
        for m in a.iter().filter_map(|r| r.meta_data.as_ref()) {
            caps::meta_data("analyses meta_data", &Value::Object(m.clone())).map_err(cap)?;
        }
    }
    if let Some(m) = &payload.folder_meta {
        caps::meta_data("folder:meta_data", m).map_err(cap)?;
    }
    if let Some(t) = &payload.media_tags {
        caps::count("media:tags", t.len(), caps::MAX_MEDIA_ENTRIES).map_err(cap)?;
        for list in t.values() {
            caps::tags(list).map_err(cap)?;
        }
    }
    if let Some(m) = &payload.media_meta {
        caps::count("media:meta_data", m.len(), caps::MAX_MEDIA_ENTRIES).map_err(cap)?;
        for v in m.values() {
            caps::meta_data("media:meta_data", v).map_err(cap)?;
        }
    }
    Ok(())
}

/// The analyses a Lite liveness payload asks for, checked (public for the fuzz targets).
pub fn analysis_specs(payload: &Payload, default_threshold: f32) -> Result<Vec<AnalysisSpec>, LiteError> {
    let Some(reqs) = &payload.analyses else {
        return Ok(vec![AnalysisSpec::quality(default_threshold)]);
    };
    if reqs.is_empty() {
        return Ok(vec![AnalysisSpec::quality(default_threshold)]);
    }
    reqs.iter()
        .map(|r| {
            if !r.kind.eq_ignore_ascii_case("quality") {
                return Err(bad_part(format!(
                    "analysis type {:?} is not available in API Lite liveness (only QUALITY)",
                    r.kind
                )));
            }
            let params = r.params.as_ref();
            let mut spec = AnalysisSpec::quality(default_threshold);
            if let Check::Quality(q) = &mut spec.check {
                for (name, v, slot) in [
                    ("threshold_spoofing", params.and_then(|p| p.threshold_spoofing), &mut q.threshold_spoofing),
                    ("threshold_liveness", params.and_then(|p| p.threshold_liveness), &mut q.threshold_liveness),
                    ("threshold_replay", params.and_then(|p| p.threshold_replay), &mut q.threshold_replay),
                ] {
                    if let Some(v) = v {
                        if !liveness::valid_threshold(v) {
                            return Err(bad_part(format!("{name} must be a number in [0, 1], got {v}")));
                        }
                        *slot = v;
                    }
                }
                q.extract_best_shot = params.and_then(|p| p.extract_best_shot).unwrap_or(false);
            }
            spec.meta_data = serde_json::Value::Object(r.meta_data.clone().unwrap_or_default());
            Ok(spec)
        })
        .collect()
}
