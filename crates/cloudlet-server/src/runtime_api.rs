//! The Lambda Runtime API over HTTP: one small server per execution
//! environment, on `127.0.0.1:<port>`, in front of that environment's
//! [`RuntimeChannel`] (the state machine lives in `cloudlet-functions`).
//!
//! Beyond the 2018-06-01 contract it reads one optional request header,
//! cloudlet's built-in runtime clients' report of their init code's
//! duration on the first `/next` ([`INIT_CODE_HEADER`]); every other runtime
//! sees the plain Runtime API.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cloudlet_functions::cold_start::{INIT_CODE_HEADER, parse_init_code_header};
use cloudlet_functions::runtime_api::{RuntimeApiError, RuntimeApiServer, RuntimeChannel, RuntimeEndpoint};

/// Runtime responses larger than Lambda allows are accepted here and turned
/// into `Function.ResponseSizeTooLarge` by the invoker; this only bounds
/// what one request may make the daemon buffer.
const MAX_RUNTIME_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Starts Runtime API servers on loopback ports.
#[derive(Debug, Default)]
pub struct LoopbackRuntimeApi;

impl RuntimeApiServer for LoopbackRuntimeApi {
    fn serve(&self, channel: Arc<RuntimeChannel>) -> std::io::Result<RuntimeEndpoint> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{request_id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{request_id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2018-06-01/ping", get(|| async { "pong" }))
            .layer(DefaultBodyLimit::max(MAX_RUNTIME_BODY_BYTES))
            .with_state(channel);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(RuntimeEndpoint { addr, stop: Box::new(move || task.abort()) })
    }
}

async fn next(State(channel): State<Arc<RuntimeChannel>>, request: HeaderMap) -> Response {
    let init_code = request.get(INIT_CODE_HEADER).and_then(|v| v.to_str().ok()).and_then(parse_init_code_header);
    let invocation = channel.next(init_code).await;
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("lambda-runtime-aws-request-id", &invocation.request_id);
    put("lambda-runtime-deadline-ms", &invocation.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &invocation.invoked_function_arn);
    put("lambda-runtime-trace-id", &invocation.trace_id);
    if let Some(client_context) = &invocation.client_context {
        put("lambda-runtime-client-context", client_context);
    }
    if let Some(cognito_identity) = &invocation.cognito_identity {
        put("lambda-runtime-cognito-identity", cognito_identity);
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn response(State(channel): State<Arc<RuntimeChannel>>, Path(request_id): Path<String>, body: Bytes) -> Response {
    accepted(channel.respond(&request_id, body.to_vec()))
}

async fn error(
    State(channel): State<Arc<RuntimeChannel>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    accepted(channel.error(&request_id, error_type(&headers), body.to_vec()))
}

async fn init_error(State(channel): State<Arc<RuntimeChannel>>, headers: HeaderMap, body: Bytes) -> Response {
    accepted(channel.init_error(error_type(&headers), body.to_vec()))
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn accepted(result: Result<(), RuntimeApiError>) -> Response {
    let (status, body) = match result {
        Ok(()) => (StatusCode::ACCEPTED, serde_json::json!({ "status": "OK" })),
        Err(err) => (
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::FORBIDDEN),
            serde_json::json!({ "errorMessage": err.to_string(), "errorType": err.error_type() }),
        ),
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}
