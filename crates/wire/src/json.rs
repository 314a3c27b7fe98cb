//! Oz's JSON bytes. Oz is a Python service and its JSON carries Python's separators: `", "`
//! between items and `": "` after keys (`{"access_token": "…", "expire_token": "…"}`). Real
//! clients depend on it: an on-premise init script finds the token with a regex on
//! `"access_token": "` and detects errors by the text `{"error_code":`. Every JSON answer of the
//! full API and of API Lite, and every webhook body, is written by [`to_vec`], a `serde_json`
//! formatter (no string edits); non-ASCII text stays UTF-8, as Oz sends it.

use std::io;

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
///
/// # Errors
/// When `value`'s `Serialize` fails (a map with non-string keys; never for this crate's types).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// [`to_vec`] as a `String`.
///
/// # Errors
/// As [`to_vec`].
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    // The formatter only writes ASCII separators around serde_json's own UTF-8 output.
    to_vec(value).map(|v| String::from_utf8(v).unwrap_or_default())
}

/// A typed value as a `serde_json::Value` (for the JSON columns that store results), keeping the
/// type's field order.
#[must_use]
pub fn value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_separators_everywhere() {
        let v = json!({ "access_token": "ab12", "list": [1, 2, { "x": null }], "empty": {}, "none": [] });
        let s = to_string(&v).expect("json");
        assert_eq!(s, r#"{"access_token": "ab12", "list": [1, 2, {"x": null}], "empty": {}, "none": []}"#);
        // Separators inside strings are data, untouched; non-ASCII stays UTF-8.
        let s = to_string(&json!({ "m": "a,b:c", "n": "Zoë" })).expect("json");
        assert_eq!(s, "{\"m\": \"a,b:c\", \"n\": \"Zoë\"}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).expect("parses back")["n"], "Zoë");
        assert!(to_string(&json!({ "error_code": 4 })).expect("json").starts_with("{\"error_code\":"));
    }

    #[test]
    fn client_objects_keep_their_key_order() {
        // serde_json's `preserve_order`: a client's meta_data comes back in the order it was sent,
        // as Oz (a Python dict) returns it.
        let v: serde_json::Value = serde_json::from_str(r#"{"zeta": 1, "alpha": {"b": 2, "a": 1}}"#).expect("json");
        assert_eq!(to_string(&v).expect("json"), r#"{"zeta": 1, "alpha": {"b": 2, "a": 1}}"#);
    }
}
