//! Reading Lite request bodies: raw images, multipart parts, base64 transfer encoding, and the
//! checks on Content-Type of the request and of each part.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use base64::Engine;
use bytes::Bytes;
use oz_domain::lite::{LiteErrorKind, Processor};

use crate::error::LiteError;

/// One multipart part, fully read.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// The request's media type, lower-case, without parameters.
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// True when the request says its inputs are base64 (`Content-Transfer-Encoding: base64`).
pub fn wants_base64(headers: &HeaderMap) -> bool {
    headers
        .get("content-transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("base64"))
}

pub fn is_image_type(t: &str) -> bool {
    matches!(t, "image/jpeg" | "image/jpg" | "image/pjpeg" | "image/png")
}

/// Decodes base64 (standard alphabet, padding optional, whitespace ignored).
pub fn decode_b64(data: &[u8]) -> Option<Vec<u8>> {
    let cleaned: Vec<u8> = data.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let cfg = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let std = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, cfg);
    let url = base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, cfg);
    std.decode(&cleaned).or_else(|_| url.decode(&cleaned)).ok()
}

pub fn encode_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The payload of a sample or template, base64-decoded when the request asks for it.
pub fn payload(data: &Bytes, base64: bool, what: &str, kind: LiteErrorKind) -> Result<Bytes, LiteError> {
    if !base64 {
        return Ok(data.clone());
    }
    decode_b64(data).map(Bytes::from).ok_or_else(|| LiteError::new(kind, format!("{what}: invalid base64")))
}

/// Receives a Lite multipart request: refused at once (503) when every inference slot and the
/// queue are taken, before a byte of the body is read; then the body is spooled
/// ([`crate::intake`]: a stalled or slow client holds no memory), memory is reserved for all of it,
/// and the parts are read. The grant must live as long as the parts (or copies of their bytes).
pub async fn receive_multipart(
    st: &crate::state::AppState,
    req: Request,
    processor: Processor,
) -> Result<(Vec<Part>, crate::intake::MemoryGrant), LiteError> {
    if media_type(req.headers()) != "multipart/form-data" {
        return read_multipart(req, processor, st.lite.max_parts).await.map(|p| (p, Default::default()));
    }
    let (req, grant) = take_upload(st, req, processor).await?;
    let parts = read_multipart(req, processor, st.lite.max_parts).await?;
    Ok((parts, grant))
}

/// The checks a Lite upload passes before its body is read (a saturated admission gate answers
/// busy at once), then the body spooled within the request limit and the memory budget.
async fn take_upload(
    st: &crate::state::AppState,
    req: Request,
    processor: Processor,
) -> Result<(Request, crate::intake::MemoryGrant), LiteError> {
    if st.admission.saturated() {
        return Err(LiteError::busy().on(processor));
    }
    crate::intake::take_upload(&st.intake, req, st.lite.max_request_bytes, st.admission.config().max_wait)
        .await
        .map_err(|e| LiteError::from_intake(&e, processor))
}

/// Receives a raw (non-multipart) Lite body the same way as [`receive_multipart`].
pub async fn receive_raw(
    st: &crate::state::AppState,
    req: Request,
    processor: Processor,
) -> Result<(Bytes, crate::intake::MemoryGrant), LiteError> {
    let (req, grant) = take_upload(st, req, processor).await?;
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|e| LiteError::internal(format!("cannot read the spooled body: {e}")).on(processor))?;
    Ok((body, grant))
}

/// Reads every part of a multipart/form-data request (the parser of [`receive_multipart`]).
pub async fn read_multipart(req: Request, processor: Processor, max_parts: usize) -> Result<Vec<Part>, LiteError> {
    if media_type(req.headers()) != "multipart/form-data" {
        return Err(LiteError::new(
            LiteErrorKind::InvalidContentType,
            "invalid Content-Type of HTTP request: expected multipart/form-data",
        )
        .on(processor));
    }
    let mut mp = Multipart::from_request(req, &()).await.map_err(|e| {
        LiteError::new(LiteErrorKind::InvalidContentType, format!("invalid multipart request: {e}")).on(processor)
    })?;
    let mut parts = Vec::new();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(&e.status(), &e.body_text(), processor)),
        };
        if parts.len() >= max_parts {
            return Err(LiteError::new(
                LiteErrorKind::InvalidPart,
                format!("too many parts in the request (limit {max_parts})"),
            )
            .on(processor));
        }
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let data = field.bytes().await.map_err(|e| multipart_error(&e.status(), &e.body_text(), processor))?;
        parts.push(Part { name, filename, content_type, data });
    }
    Ok(parts)
}

fn multipart_error(status: &StatusCode, text: &str, processor: Processor) -> LiteError {
    let mut err =
        LiteError::new(LiteErrorKind::InvalidPart, format!("cannot read multipart body: {text}")).on(processor);
    if *status == StatusCode::PAYLOAD_TOO_LARGE {
        err.kind = LiteErrorKind::UnreadableSample;
        err.status = Some(StatusCode::PAYLOAD_TOO_LARGE);
    }
    err
}

/// Checks that an image part has an image (or neutral) Content-Type.
pub fn check_image_part(p: &Part, base64: bool, processor: Processor) -> Result<(), LiteError> {
    match p.content_type.as_deref() {
        None | Some("" | "application/octet-stream") => Ok(()),
        Some(t) if is_image_type(t) => Ok(()),
        Some("text/plain") if base64 => Ok(()),
        Some(t) => Err(LiteError::new(
            LiteErrorKind::InvalidPart,
            format!("invalid Content-Type {t:?} of part {:?}: expected image/jpeg or image/png", p.name),
        )
        .on(processor)),
    }
}

/// Checks that a template part has a binary (or neutral) Content-Type.
pub fn check_template_part(p: &Part, base64: bool) -> Result<(), LiteError> {
    match p.content_type.as_deref() {
        None | Some("" | "application/octet-stream") => Ok(()),
        Some("text/plain") if base64 => Ok(()),
        Some(t) => Err(LiteError::new(
            LiteErrorKind::InvalidPart,
            format!("invalid Content-Type {t:?} of part {:?}: expected application/octet-stream", p.name),
        )),
    }
}

/// The one part called `name`, or BPE-002005.
pub fn one<'a>(parts: &'a [Part], name: &str, processor: Processor) -> Result<&'a Part, LiteError> {
    parts.iter().find(|p| p.name == name).ok_or_else(|| {
        LiteError::new(LiteErrorKind::InvalidPart, format!("missing required part {name:?}")).on(processor)
    })
}

/// Every part called `name`, at least one.
pub fn many<'a>(parts: &'a [Part], name: &str) -> Result<Vec<&'a Part>, LiteError> {
    let v: Vec<&Part> = parts.iter().filter(|p| p.name == name).collect();
    if v.is_empty() {
        return Err(LiteError::new(LiteErrorKind::InvalidPart, format!("missing required part {name:?}")));
    }
    Ok(v)
}
