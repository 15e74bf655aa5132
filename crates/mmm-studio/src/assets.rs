//! The app's page, script and style sheet, embedded in the binary (no CDN, works offline).

use crate::error::ApiError;
use crate::http::Response;

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// What the app's pages may load: only the studio itself.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'none'";

/// `GET /`: the single-page app.
pub fn index() -> Response {
    Response::bytes("text/html; charset=utf-8", INDEX.as_bytes().to_vec())
        .with_header("Content-Security-Policy", CSP)
}

/// `GET /assets/NAME`.
pub fn asset(name: &str) -> Result<Response, ApiError> {
    let (content_type, body) = match name {
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        _ => return Err(ApiError::not_found("no such asset")),
    };
    Ok(Response::bytes(content_type, body.as_bytes().to_vec()))
}
