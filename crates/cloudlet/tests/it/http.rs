//! Test helpers over the CLI's own HTTP client (`cloudlet_core::http`), with
//! bodies as text and a 10 s read timeout.

use std::net::SocketAddr;
use std::time::Duration;

use cloudlet_core::http as client;

/// A response: status code, headers (lower-cased names) and body as text.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl HttpResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Sends one request with `Connection: close` and reads the whole response.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    request_with_body(addr, method, path, headers, b"")
}

/// [`request`] with a body (sent with its `Content-Length`).
pub(crate) fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let response = client::send(addr, method, path, headers, body, Duration::from_secs(10))?;
    Ok(HttpResponse {
        status: response.status,
        body: String::from_utf8_lossy(&response.body).into_owned(),
        headers: response.headers,
    })
}

pub(crate) fn get(addr: SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    request(addr, "GET", path, &[])
}
