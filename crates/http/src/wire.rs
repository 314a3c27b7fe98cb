//! Oz's JSON bytes as HTTP answers: [`Json`] writes any answer with [`oz_wire::json`]'s Python
//! separators (`", "`, `": "`), the bytes real Oz clients expect.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use oz_wire::json::{to_string, to_vec};
use serde::Serialize;

/// A JSON answer in Oz's bytes (`application/json`); use it wherever `axum::Json` would answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match to_vec(&self.0) {
            Ok(body) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize an answer");
                (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "application/json")], {
                    br#"{"error_code": 0, "error_message": "Unknown server side error occurred", "details": {}}"#
                        .to_vec()
                })
                    .into_response()
            }
        }
    }
}
