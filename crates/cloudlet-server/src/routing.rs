//! Which API a request is for, decided from its method, path and headers.
//!
//! This mirrors how AWS's own endpoints tell protocols apart, so that boto3,
//! the aws CLI and older SDKs all reach the right handler on one address.

use axum::http::{HeaderMap, Method, Uri, header};

/// The API family a request belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Api {
    /// cloudlet's own API: paths under `/_cloudlet/`.
    Cloudlet,
    /// Prometheus text: `GET /metrics`.
    Metrics,
    /// An AWS JSON protocol (1.0 or 1.1), dispatched on `X-Amz-Target`,
    /// e.g. `AmazonSQS.SendMessage`.
    AwsJson { target: String },
    /// The AWS query protocol: a form-encoded `POST` (or a `GET` with a query
    /// string) carrying `Action=...`.
    AwsQuery,
    /// An AWS REST API, dispatched on method and path.
    AwsRest,
}

pub fn classify(method: &Method, uri: &Uri, headers: &HeaderMap) -> Api {
    let path = uri.path();
    if path == "/_cloudlet" || path.starts_with("/_cloudlet/") {
        return Api::Cloudlet;
    }
    if path == "/metrics" && method == Method::GET {
        return Api::Metrics;
    }
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return Api::AwsJson { target: target.to_owned() };
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let action_in_query = uri.query().is_some_and(|q| q.split('&').any(|pair| pair.starts_with("Action=")));
    if (method == Method::POST && form) || action_in_query {
        return Api::AwsQuery;
    }
    Api::AwsRest
}

impl Api {
    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Api::Cloudlet => "cloudlet",
            Api::Metrics => "metrics",
            Api::AwsJson { .. } => "aws-json",
            Api::AwsQuery => "aws-query",
            Api::AwsRest => "aws-rest",
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text (query strings and
/// query-protocol bodies): `+` is a space, `%XX` a byte; a malformed escape
/// is kept as it is.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn check(method: Method, uri: &str, headers: &[(&'static str, &'static str)]) -> Api {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        classify(&method, &uri.parse().expect("uri"), &map)
    }

    #[test]
    fn protocols_are_told_apart() {
        assert_eq!(check(Method::GET, "/_cloudlet/health", &[]), Api::Cloudlet);
        assert_eq!(check(Method::GET, "/metrics", &[]), Api::Metrics);
        assert_eq!(check(Method::POST, "/metrics", &[]), Api::AwsRest);
        assert_eq!(
            check(
                Method::POST,
                "/",
                &[("x-amz-target", "AmazonSQS.SendMessage"), ("content-type", "application/x-amz-json-1.0")]
            ),
            Api::AwsJson { target: "AmazonSQS.SendMessage".into() }
        );
        assert_eq!(
            check(Method::POST, "/", &[("content-type", "application/x-www-form-urlencoded; charset=utf-8")]),
            Api::AwsQuery
        );
        assert_eq!(check(Method::GET, "/000000000000/q?Action=ReceiveMessage", &[]), Api::AwsQuery);
        assert_eq!(check(Method::GET, "/2015-03-31/functions/", &[]), Api::AwsRest);
        assert_eq!(check(Method::POST, "/2015-03-31/functions/f/invocations", &[]), Api::AwsRest);
    }
}
