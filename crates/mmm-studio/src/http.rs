//! A small HTTP/1.1 server on std sockets: one request per connection (`Connection: close`),
//! bounded header and body sizes, read and write timeouts. Enough for a local tool; see
//! docs/studio.md for why the studio has no web framework.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::error::ApiError;
use crate::state::State;

/// Largest request head (request line and headers).
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body (a plan is a few kB).
const MAX_BODY: usize = 1024 * 1024;
/// How long a client may take to send its request or read the response.
const TIMEOUT: Duration = Duration::from_secs(15);

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path's segments, percent-decoded (empty segments dropped only at the end).
    pub segments: Vec<String>,
    /// The raw path (before `?`).
    pub raw_path: String,
    /// The body.
    pub body: Vec<u8>,
}

/// A response: status, content type, extra headers and body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// 200 with a JSON body.
    pub fn json(value: &serde_json::Value) -> Self {
        Self::json_with(200, value)
    }

    /// `status` with a JSON body.
    pub fn json_with(status: u16, value: &serde_json::Value) -> Self {
        let mut value = value.clone();
        crate::paths::redact_value(&mut value);
        Self {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: serde_json::to_vec(&value).unwrap_or_default(),
        }
    }

    /// 200 with `body` of `content_type`.
    pub fn bytes(content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            status: 200,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    /// Add a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Self {
        Response::json_with(e.status, &serde_json::json!({ "error": e.message }))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        _ => "Internal Server Error",
    }
}

/// Percent-decode a path segment; `None` when it is not valid UTF-8 or a `%` is malformed.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Read one request from `reader`.
fn read_request(reader: &mut BufReader<&TcpStream>) -> Result<Request, ApiError> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = reader
            .by_ref()
            .take((MAX_HEAD - before.min(MAX_HEAD)) as u64 + 1)
            .read_until(b'\n', &mut head)
            .map_err(|e| ApiError::bad_request(format!("reading the request: {e}")))?;
        if n == 0 || head.len() > MAX_HEAD {
            return Err(ApiError::bad_request("request head too large or cut off"));
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            break;
        }
    }
    let head = String::from_utf8(head).map_err(|_| ApiError::bad_request("request not UTF-8"))?;
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let mut length = 0usize;
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v
                .trim()
                .parse()
                .map_err(|_| ApiError::bad_request("bad Content-Length"))?;
        }
    }
    if length > MAX_BODY {
        return Err(ApiError::new(413, "request body too large"));
    }
    let mut body = vec![0; length];
    reader
        .read_exact(&mut body)
        .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
    let raw_path = target.split(['?', '#']).next().unwrap_or("").to_string();
    if !raw_path.starts_with('/') {
        return Err(ApiError::bad_request("the request target must be a path"));
    }
    let mut segments = raw_path[1..]
        .split('/')
        .map(|s| percent_decode(s).ok_or_else(|| ApiError::bad_request("bad percent-encoding")))
        .collect::<Result<Vec<_>, _>>()?;
    while segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    Ok(Request {
        method: method.to_string(),
        segments,
        raw_path,
        body,
    })
}

/// Write `r` with the security headers every response carries.
fn write_response(stream: &mut TcpStream, r: &Response) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nCross-Origin-Resource-Policy: same-origin\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&r.body)?;
    stream.flush()
}

/// Serve one connection: read a request, route it, answer, close.
pub fn serve_connection(
    mut stream: TcpStream,
    state: &State,
    route: fn(&Request, &State) -> Response,
) {
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let response = {
        let mut reader = BufReader::new(&stream);
        match read_request(&mut reader) {
            Ok(req) => {
                // A panic in a handler answers 500 instead of dropping the connection.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| route(&req, state)))
                    .unwrap_or_else(|_| ApiError::internal("internal error").into())
            }
            Err(e) => e.into(),
        }
    };
    let _ = write_response(&mut stream, &response);
}
