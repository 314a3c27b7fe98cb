//! `/v1/face/pattern/*`: template extraction and 1:1 / 1:N comparison.

use crate::wire::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use oz_domain::decision::{score_from_cosine, wire_score};
use oz_domain::lite::{LiteErrorKind, Processor};
use oz_vision::Pipeline;
use oz_vision::template::Template;
use oz_wire::lite::{LiteScore, LiteScoreOf, LiteScores};

use super::parts::{self, Part};
use crate::error::LiteError;
use crate::state::AppState;

const P: Processor = Processor::Biometry;

/// Reads and extracts the template of the single face in an image sample; the image's decode
/// budget is held until the template is made.
fn extract_sample(p: &Pipeline, bytes: &[u8], what: &str) -> Result<Template, LiteError> {
    let (img, _held) = p.decode_image_in(bytes, &p.request_budget()).map_err(|e| LiteError::from_vision(&e, what))?;
    p.extract(&img).map_err(|e| LiteError::from_vision(&e, what))
}

fn parse_template(p: &Pipeline, bytes: &[u8], what: &str) -> Result<Template, LiteError> {
    p.parse_template(bytes).map_err(|e| {
        LiteError::new(LiteErrorKind::BadTemplateOrSample, format!("failed to read the biometric template {what}: {e}"))
    })
}

fn template_response(t: &Template, base64: bool) -> Response {
    let bytes = t.to_bytes();
    if base64 {
        let mut r = parts::encode_b64(&bytes).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        r.headers_mut().insert("content-transfer-encoding", HeaderValue::from_static("base64"));
        r
    } else {
        ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
    }
}

fn score_and_decision(st: &AppState, a: &Template, b: &Template) -> LiteScore {
    let score = score_from_cosine(st.pipeline.cosine(a, b));
    LiteScore { score: wire_score(score), decision: st.lite.thresholds.decide(score).into() }
}

fn image_part(part: &Part, base64: bool) -> Result<Bytes, LiteError> {
    parts::check_image_part(part, base64, P)?;
    parts::payload(&part.data, base64, &part.name, LiteErrorKind::UnreadableSample)
}

fn template_part(part: &Part, base64: bool) -> Result<Bytes, LiteError> {
    parts::check_template_part(part, base64)?;
    parts::payload(&part.data, base64, &part.name, LiteErrorKind::BadTemplateOrSample)
}

/// `POST /v1/face/pattern/extract`: raw image in, template out.
#[utoipa::path(
    post,
    path = "/v1/face/pattern/extract",
    operation_id = "lite_extract",
    tag = "lite",
    summary = "Biometric template of the face in an image. Send `Content-Transfer-Encoding: base64` for base64 inputs and outputs.",
    request_body(content((crate::apidoc::schemas::Binary = "image/jpeg"), (crate::apidoc::schemas::Binary = "image/png")), description = "The image."),
    security((), ("token" = [])),
    responses((status = 200, description = "The template: bytes, or base64 text when the request had Content-Transfer-Encoding: base64", content((crate::apidoc::schemas::Binary = "application/octet-stream"), (String = "text/plain"))), crate::apidoc::LiteErrors)
)]
pub async fn extract(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, LiteError> {
    let ct = parts::media_type(&headers);
    if !parts::is_image_type(&ct) {
        return Err(LiteError::new(
            LiteErrorKind::InvalidContentType,
            format!("invalid Content-Type {ct:?}: expected image/jpeg or image/png"),
        ));
    }
    let b64 = parts::wants_base64(&headers);
    let bytes = parts::payload(&body, b64, "sample", LiteErrorKind::UnreadableSample)?;
    let t = st.run(move |p| extract_sample(p, &bytes, "sample")).await??;
    Ok(template_response(&t, b64))
}

/// `POST /v1/face/pattern/compare`: `bio_feature` + `bio_template`.
#[utoipa::path(
    post,
    path = "/v1/face/pattern/compare",
    operation_id = "lite_compare",
    tag = "lite",
    summary = "Compare two templates. Send `Content-Transfer-Encoding: base64` for base64 inputs and outputs.",
    request_body(content = crate::apidoc::schemas::CompareForm, content_type = "multipart/form-data"),
    security((), ("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::lite::LiteScore), crate::apidoc::LiteErrors)
)]
pub async fn compare(State(st): State<AppState>, req: Request) -> Result<Response, LiteError> {
    let b64 = parts::wants_base64(req.headers());
    let (all, _memory) = parts::receive_multipart(&st, req, P).await?;
    let a = template_part(parts::one(&all, "bio_feature", P)?, b64)?;
    let b = template_part(parts::one(&all, "bio_template", P)?, b64)?;
    let ta = parse_template(&st.pipeline, &a, "bio_feature")?;
    let tb = parse_template(&st.pipeline, &b, "bio_template")?;
    Ok(Json(score_and_decision(&st, &ta, &tb)).into_response())
}

/// `POST /v1/face/pattern/verify`: `sample` + `bio_template`; multipart answer with `score` and `bio_feature`.
#[utoipa::path(
    post,
    path = "/v1/face/pattern/verify",
    operation_id = "lite_verify",
    tag = "lite",
    summary = "Compare an image with a template. Send `Content-Transfer-Encoding: base64` for base64 inputs and outputs.",
    request_body(content = crate::apidoc::schemas::VerifyForm, content_type = "multipart/form-data"),
    security((), ("token" = [])),
    responses((status = 200, description = "Multipart: the template of the sample and the score", content_type = "multipart/form-data", body = crate::apidoc::schemas::VerifyAnswer), crate::apidoc::LiteErrors)
)]
pub async fn verify(State(st): State<AppState>, req: Request) -> Result<Response, LiteError> {
    let b64 = parts::wants_base64(req.headers());
    let (all, _memory) = parts::receive_multipart(&st, req, P).await?;
    let sample = image_part(parts::one(&all, "sample", P)?, b64)?;
    let tb = parse_template(&st.pipeline, &template_part(parts::one(&all, "bio_template", P)?, b64)?, "bio_template")?;
    let ta = st.run(move |p| extract_sample(p, &sample, "sample")).await??;
    let score_json = crate::wire::to_string(&score_and_decision(&st, &ta, &tb)).unwrap_or_default();
    let feature = ta.to_bytes();
    let boundary = format!("oz-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(feature.len() * 2 + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"score\"\r\nContent-Type: application/json\r\n\r\n{score_json}\r\n"
        )
        .as_bytes(),
    );
    let (feature_ct, feature_bytes, cte) = if b64 {
        ("text/plain", parts::encode_b64(&feature).into_bytes(), "Content-Transfer-Encoding: base64\r\n")
    } else {
        ("application/octet-stream", feature, "")
    };
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"bio_feature\"; filename=\"bio_feature\"\r\nContent-Type: {feature_ct}\r\n{cte}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&feature_bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok(([(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))], Body::from(body))
        .into_response())
}

/// `POST /v1/face/pattern/extract_and_compare`: `sample_1` + `sample_2`.
#[utoipa::path(
    post,
    path = "/v1/face/pattern/extract_and_compare",
    operation_id = "lite_extract_and_compare",
    tag = "lite",
    summary = "Compare the faces of two images. Send `Content-Transfer-Encoding: base64` for base64 inputs and outputs.",
    request_body(content = crate::apidoc::schemas::TwoImagesForm, content_type = "multipart/form-data"),
    security((), ("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::lite::LiteScore), crate::apidoc::LiteErrors)
)]
pub async fn extract_and_compare(State(st): State<AppState>, req: Request) -> Result<Response, LiteError> {
    let b64 = parts::wants_base64(req.headers());
    let (all, _memory) = parts::receive_multipart(&st, req, P).await?;
    let s1 = image_part(parts::one(&all, "sample_1", P)?, b64)?;
    let s2 = image_part(parts::one(&all, "sample_2", P)?, b64)?;
    let (ta, tb) = st
        .run(move |p| -> Result<_, LiteError> {
            Ok((extract_sample(p, &s1, "sample_1")?, extract_sample(p, &s2, "sample_2")?))
        })
        .await??;
    Ok(Json(score_and_decision(&st, &ta, &tb)).into_response())
}

fn results(st: &AppState, main: &Template, others: &[(String, Template)]) -> Response {
    let results: Vec<_> = others
        .iter()
        .map(|(filename, t)| {
            let s = score_and_decision(st, main, t);
            LiteScoreOf { filename: filename.clone(), score: s.score, decision: s.decision }
        })
        .collect();
    Json(LiteScores { results }).into_response()
}

fn filename(p: &Part, i: usize) -> String {
    p.filename.clone().unwrap_or_else(|| format!("{}_{}", p.name, i + 1))
}

fn templates_n(st: &AppState, all: &[Part], b64: bool) -> Result<Vec<(String, Template)>, LiteError> {
    parts::many(all, "templates_n")?
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let name = filename(part, i);
            let bytes = template_part(part, b64)?;
            Ok((name.clone(), parse_template(&st.pipeline, &bytes, &name)?))
        })
        .collect()
}

/// `POST /v1/face/pattern/compare_n`: `template_1` + repeated `templates_n`.
#[utoipa::path(
    post,
    path = "/v1/face/pattern/compare_n",
    operation_id = "lite_compare_n",
    tag = "lite",
    summary = "Compare template_1 with every other template part. Send `Content-Transfer-Encoding: base64` for base64 inputs and outputs.",
    request_body(content = crate::apidoc::schemas::TemplatesNForm, content_type = "multipart/form-data"),
    security((), ("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::lite::LiteScores), crate::apidoc::LiteErrors)
)]
pub async fn compare_n(State(st): State<AppState>, req: Request) -> Result<Response, LiteError> {
    let b64 = parts::wants_base64(req.headers());
    let (all, _memory) = parts::receive_multipart(&st, req, P).await?;
    let main = parse_template(&st.pipeline, &template_part(parts::one(&all, "template_1", P)?, b64)?, "template_1")?;
    let others = templates_n(&st, &all, b64)?;
    Ok(results(&st, &main, &others))
}

/// `POST /v1/face/pattern/verify_n`: `sample_1` + repeated `templates_n`.
#[utoipa::path(
    post,
    path = "/v1/face/pattern/verify_n",
    operation_id = "lite_verify_n",
    tag = "lite",
    summary = "Compare the face of sample_1 with every template part. Send `Content-Transfer-Encoding: base64` for base64 inputs and outputs.",
    request_body(content = crate::apidoc::schemas::SampleTemplatesForm, content_type = "multipart/form-data"),
    security((), ("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::lite::LiteScores), crate::apidoc::LiteErrors)
)]
pub async fn verify_n(State(st): State<AppState>, req: Request) -> Result<Response, LiteError> {
    let b64 = parts::wants_base64(req.headers());
    let (all, _memory) = parts::receive_multipart(&st, req, P).await?;
    let s1 = image_part(parts::one(&all, "sample_1", P)?, b64)?;
    let others = templates_n(&st, &all, b64)?;
    let main = st.run(move |p| extract_sample(p, &s1, "sample_1")).await??;
    Ok(results(&st, &main, &others))
}

/// `POST /v1/face/pattern/extract_and_compare_n`: `sample_1` + repeated `samples_n`.
#[utoipa::path(
    post,
    path = "/v1/face/pattern/extract_and_compare_n",
    operation_id = "lite_extract_and_compare_n",
    tag = "lite",
    summary = "Compare the face of sample_1 with the faces of every other image part. Send `Content-Transfer-Encoding: base64` for base64 inputs and outputs.",
    request_body(content = crate::apidoc::schemas::ImagesNForm, content_type = "multipart/form-data"),
    security((), ("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::lite::LiteScores), crate::apidoc::LiteErrors)
)]
pub async fn extract_and_compare_n(State(st): State<AppState>, req: Request) -> Result<Response, LiteError> {
    let b64 = parts::wants_base64(req.headers());
    let (all, _memory) = parts::receive_multipart(&st, req, P).await?;
    let s1 = image_part(parts::one(&all, "sample_1", P)?, b64)?;
    let samples: Vec<(String, Bytes)> = parts::many(&all, "samples_n")?
        .into_iter()
        .enumerate()
        .map(|(i, part)| Ok((filename(part, i), image_part(part, b64)?)))
        .collect::<Result<_, LiteError>>()?;
    let (main, others) = st
        .run(move |p| -> Result<_, LiteError> {
            let main = extract_sample(p, &s1, "sample_1")?;
            let others = samples
                .iter()
                .map(|(name, bytes)| Ok((name.clone(), extract_sample(p, bytes, name)?)))
                .collect::<Result<Vec<_>, LiteError>>()?;
            Ok((main, others))
        })
        .await??;
    Ok(results(&st, &main, &others))
}
