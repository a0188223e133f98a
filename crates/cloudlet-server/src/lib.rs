//! cloudlet's one HTTP listener: the only crate that knows HTTP.
//!
//! Every API shares one address. A request is classified by its shape
//! ([`routing::classify`]) the way AWS endpoints tell protocols apart:
//!
//! - cloudlet's own API under `/_cloudlet/`, and Prometheus text at `/metrics`;
//! - AWS JSON protocols by the `X-Amz-Target` header (`AmazonSQS.SendMessage`);
//! - the AWS query protocol by a form-encoded `Action`;
//! - AWS REST APIs (Lambda's `/2015-03-31/functions/...`) by path.
//!
//! Subsystems attach their handlers here as they arrive; this crate turns
//! their typed results and errors into each protocol's exact wire shape.
//! Requests that reach no API get a JSON 404 that names what was asked for.

mod kube;
mod lambda;
mod lambda_invoke;
mod lambda_mappings;
mod observe;
pub mod routing;
pub mod runtime_api;
mod sqs;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cloudlet_core::{Registry, SharedClock, Timestamp};
use cloudlet_functions::control::ControlPlane;
use cloudlet_functions::invoke::Invoker;
use cloudlet_functions::mappings::EventSourceMappings;
use cloudlet_queues::Queues;
use serde::Serialize;

pub use crate::kube::KubeService;
use crate::routing::Api;

/// What the daemon tells about itself at `/_cloudlet/info`.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonInfo {
    pub version: String,
    pub pid: u32,
    pub listen: String,
    pub data_dir: String,
    pub region: String,
    pub account_id: String,
    pub store: StoreSummary,
    /// RFC 3339.
    pub started_at: String,
    #[serde(skip)]
    pub started: Timestamp,
}

/// The part of [`DaemonInfo`] about the durable store.
#[derive(Debug, Clone, Serialize)]
pub struct StoreSummary {
    pub id: String,
    pub path: String,
    /// RFC 3339.
    pub created_at: String,
    /// How many times a daemon has started on this store, this start included.
    pub starts: u64,
}

/// Everything the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    info: DaemonInfo,
    metrics: Arc<Registry>,
    clock: SharedClock,
    functions: Arc<ControlPlane>,
    invoker: Arc<Invoker>,
    queues: Arc<Queues>,
    mappings: Arc<EventSourceMappings>,
    kube: OnceLock<Arc<KubeService>>,
}

impl AppState {
    pub fn new(
        info: DaemonInfo,
        metrics: Arc<Registry>,
        clock: SharedClock,
        functions: Arc<ControlPlane>,
        invoker: Arc<Invoker>,
        queues: Arc<Queues>,
        mappings: Arc<EventSourceMappings>,
    ) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                info,
                metrics,
                clock,
                functions,
                invoker,
                queues,
                mappings,
                kube: OnceLock::new(),
            }),
        }
    }

    /// The SQS service.
    pub(crate) fn queues(&self) -> &Queues {
        &self.inner.queues
    }

    /// Attaches the simulated Kubernetes cluster (`/api/...`, `/apis/...`);
    /// until then those paths answer 500.
    pub fn set_kube(&self, kube: Arc<KubeService>) {
        let _ = self.inner.kube.set(kube);
    }

    pub(crate) fn kube(&self) -> Option<Arc<KubeService>> {
        self.inner.kube.get().cloned()
    }

    /// The Lambda control plane.
    pub(crate) fn functions(&self) -> &Arc<ControlPlane> {
        &self.inner.functions
    }
}

/// The router for every API, with request logging and metrics.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/_cloudlet/health", get(health))
        .route("/_cloudlet/info", get(info))
        .route("/metrics", get(metrics))
        .merge(kube::routes())
        .merge(lambda::routes())
        .merge(lambda_invoke::routes())
        .merge(lambda_mappings::routes())
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::log_and_count))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and waits for in-flight requests to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

async fn health(State(state): State<AppState>) -> Response {
    let body = serde_json::json!({ "status": "ok", "version": state.inner.info.version });
    json(StatusCode::OK, &body)
}

async fn info(State(state): State<AppState>) -> Response {
    json(StatusCode::OK, &state.inner.info)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let shared = &state.inner;
    let uptime = shared.clock.now().saturating_duration_since(shared.info.started);
    shared
        .metrics
        .gauge("cloudlet_uptime_seconds", "Seconds since the daemon started.", &[])
        .set(i64::try_from(uptime.as_secs()).unwrap_or(i64::MAX));
    shared.invoker.export_gauges();
    let body = shared.metrics.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// Requests no route matched: the AWS JSON and query protocols are told
/// apart by headers and form fields, not paths (SQS), or reach no API.
async fn fallback(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    match routing::classify(&parts.method, &parts.uri, &parts.headers) {
        Api::AwsJson { target } if target.starts_with("AmazonSQS.") => {
            let operation = target.trim_start_matches("AmazonSQS.").to_owned();
            sqs::handle_json(state, operation, parts.headers, body).await
        }
        Api::AwsQuery => sqs::handle_query(state, parts.uri, parts.headers, body).await,
        _ => no_such_api(parts.method, parts.uri, parts.headers).await,
    }
}

/// The JSON 404 for requests no API answers.
async fn no_such_api(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let api = routing::classify(&method, &uri, &headers);
    let message = match &api {
        Api::AwsJson { target } => {
            format!("cloudlet has no API for X-Amz-Target `{target}` ({method} {path})")
        }
        Api::AwsQuery => format!("cloudlet has no AWS query API at {method} {path}"),
        _ => format!("cloudlet has no API at {method} {path}"),
    };
    let mut body = serde_json::json!({
        "error": "NotFound",
        "message": message,
        "method": method.as_str(),
        "path": path,
    });
    if let Api::AwsJson { target } = &api {
        body["target"] = serde_json::Value::from(target.as_str());
    }
    json(StatusCode::NOT_FOUND, &body)
}

fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "response body did not serialise");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
