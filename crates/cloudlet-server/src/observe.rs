//! Request logging and request metrics, for every API alike.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::routing::classify;

/// Upper bounds of the request-latency histogram, in seconds.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

pub(crate) async fn log_and_count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let api = classify(request.method(), request.uri(), request.headers()).label();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // Latency is measured on the host's monotonic clock on purpose: it is a
    // measurement of this process, not a simulated time.
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status();
    tracing::info!(
        target: "cloudlet::http",
        %method,
        path,
        api,
        status = status.as_u16(),
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    let metrics = &state.inner.metrics;
    metrics
        .counter(
            "cloudlet_http_requests_total",
            "HTTP requests served, by API family and status code.",
            &[("api", api), ("status", status.as_str())],
        )
        .inc();
    metrics
        .histogram(
            "cloudlet_http_request_duration_seconds",
            "Time from request to response headers, by API family.",
            &[("api", api)],
            LATENCY_BUCKETS,
        )
        .observe(elapsed.as_secs_f64());
    response
}
