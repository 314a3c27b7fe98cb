//! `GET /` for people: a browser (an `Accept` that names `text/html`) gets a small page that links
//! the console, the API documentation and the capture page (those this server serves); any other
//! client gets the API Lite answer of an unknown route, as before (`{"code": "BPE-002002", ...}`),
//! so API clients see no change.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::LiteError;

/// The landing page's Content-Security-Policy: no script, no style, nothing from elsewhere.
const CSP: &str = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether the client asks for HTML (a browser navigating to the address).
#[must_use]
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| media.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html")))
}

/// The links of the page: the parts of the server that are switched on.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub console: bool,
    pub capture: bool,
}

/// The page's HTML.
#[must_use]
pub fn page(parts: Parts) -> String {
    let mut links = Vec::new();
    if parts.console {
        links.push(("/console/", "Console", "folders, the operator queue, blacklists, users and statistics"));
    }
    links.push(("/docs", "API documentation", "every route of the Oz API and API Lite, with Try it out"));
    if parts.capture {
        links.push(("/capture/", "Capture page", "a liveness check in the browser (needs a token in the link)"));
    }
    let items: String =
        links.iter().map(|(href, name, what)| format!("<li><a href=\"{href}\">{name}</a>: {what}</li>\n")).collect();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>openoz</title>\n</head>\n<body>\n<main>\n<h1>openoz {}</h1>\n\
         <p>A face liveness and biometry server that speaks the Oz Forensics API.</p>\n\
         <ul>\n{items}</ul>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// `/`: the page for `GET` (and `HEAD`) from a browser, else what an unknown route answers.
pub fn answer(method: &Method, headers: &HeaderMap, parts: Parts) -> Response {
    if !(method == Method::GET || method == Method::HEAD) || !wants_html(headers) {
        return LiteError::for_status(StatusCode::NOT_FOUND, "/", "no such route").into_response();
    }
    let mut res = (StatusCode::OK, page(parts)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn browsers_get_the_page_and_api_clients_the_oz_answer() {
        assert!(wants_html(&accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&accept("application/json")));
        assert!(!wants_html(&HeaderMap::new()));
        let all = page(Parts { console: true, capture: true });
        assert!(
            all.contains("href=\"/console/\"") && all.contains("href=\"/docs\"") && all.contains("href=\"/capture/\"")
        );
        let bare = page(Parts { console: false, capture: false });
        assert!(!bare.contains("/console/") && !bare.contains("/capture/") && bare.contains("/docs"));
    }
}
