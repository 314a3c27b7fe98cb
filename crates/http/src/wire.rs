//! Oz's JSON bytes. Oz is a Python service and its JSON carries Python's separators: `", "`
//! between items and `": "` after keys (`{"access_token": "…", "expire_token": "…"}`). Real
//! clients depend on it: an on-premise init script finds the token with a regex on
//! `"access_token": "` and detects errors by the text `{"error_code":`. Every JSON answer of the
//! full API and of API Lite goes through [`Json`], which writes those separators with a
//! `serde_json` formatter (no string edits); non-ASCII text stays UTF-8, as Oz sends it.

use std::io;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::ser::Formatter;

/// `serde_json` formatter with Python's default `json.dumps` separators.
#[derive(Debug, Clone, Copy, Default)]
pub struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Serializes `value` the way Oz does.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// [`to_vec`] as a `String`.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    // The formatter only writes ASCII separators around serde_json's own UTF-8 output.
    to_vec(value).map(|v| String::from_utf8(v).unwrap_or_default())
}

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_separators_everywhere() {
        let v = json!({ "access_token": "ab12", "list": [1, 2, { "x": null }], "empty": {}, "none": [] });
        let s = to_string(&v).expect("json");
        assert_eq!(s, r#"{"access_token": "ab12", "empty": {}, "list": [1, 2, {"x": null}], "none": []}"#);
        // Separators inside strings are data, untouched; non-ASCII stays UTF-8.
        let s = to_string(&json!({ "m": "a,b:c", "n": "Zoë" })).expect("json");
        assert_eq!(s, "{\"m\": \"a,b:c\", \"n\": \"Zoë\"}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).expect("parses back")["n"], "Zoë");
        assert!(to_string(&json!({ "error_code": 4 })).expect("json").starts_with("{\"error_code\":"));
    }
}
