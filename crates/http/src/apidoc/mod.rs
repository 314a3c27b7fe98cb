//! What the route annotations name: the request-body and query-parameter schemas, the error
//! answers every route can give, the security scheme's name, and [`relocate`] for handlers that
//! serve several paths. A leaf module: the handlers import it, it imports no handler, and
//! [`crate::openapi`] (which gathers the handlers' routers into the document) sits above both.

pub mod params;
pub mod schemas;

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa_axum::router::UtoipaMethodRouter;

/// Name of the security scheme (`X-Forensic-Access-Token`).
pub const TOKEN: &str = "token";

fn error_response(description: &str, schema: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .build()
        .into()
}

/// The error answers every full-API route can give (body `ApiErrorBody`).
pub struct ApiErrors;

impl IntoResponses for ApiErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "Invalid request (error codes 3, 4, 5)"),
            ("401", "Token missing (6), invalid (7) or expired (8)"),
            ("403", "Not permitted (9)"),
            ("404", "No such object, or not the caller's (10)"),
            ("default", "Other errors: 405 (1), 409, 413 (4), 429 / 503 (11, with Retry-After), 500 (0), 501 (2)"),
        ]
        .into_iter()
        .map(|(status, d)| (status.to_string(), error_response(d, "ApiErrorBody")))
        .collect()
    }
}

/// The error answers of API Lite routes (body `LiteErrorBody`).
pub struct LiteErrors;

impl IntoResponses for LiteErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "Invalid request, unreadable sample or template, no face (BPE-*/LDE-* codes)"),
            ("401", "OZ_LITE_AUTH is on and the token is missing or not accepted (BPE-002006 / LDE-002006)"),
            ("default", "Other errors: 404, 413, 500 (*-001001), 503 (busy, Retry-After)"),
        ]
        .into_iter()
        .map(|(status, d)| (status.to_string(), error_response(d, "LiteErrorBody")))
        .collect()
    }
}

/// Moves the documented path of `m` (registered by `#[utoipa::path]` at `from`) to `to`, with
/// `suffix` appended to its operation ids: one handler serving several paths. Where one handler
/// serves several methods (`method(post, patch)`), the later methods' ids also get `_{method}`, so
/// operation ids stay unique.
pub(crate) fn relocate<S: Clone + Send + Sync + 'static>(
    m: &UtoipaMethodRouter<S>,
    from: &str,
    to: &str,
    suffix: &str,
) -> UtoipaMethodRouter<S> {
    let (schemas, paths, method) = m;
    let mut paths = paths.clone();
    if let Some(mut item) = paths.paths.shift_remove(from) {
        let mut seen = Vec::new();
        for (name, op) in operations(&mut item) {
            if let Some(id) = op.operation_id.as_mut() {
                if seen.contains(id) {
                    id.push('_');
                    id.push_str(name);
                } else {
                    seen.push(id.clone());
                }
                id.push_str(suffix);
            }
        }
        paths.paths.insert(to.to_string(), item);
    }
    (schemas.clone(), paths, method.clone())
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(name, op)| op.as_mut().map(|op| (name, op)))
}
