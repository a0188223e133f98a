//! The server over real TCP on port 0: health, 404s, metrics, and graceful
//! shutdown that lets in-flight requests finish.

mod invoker;

#[path = "../../../cloudlet/tests/it/http.rs"]
#[allow(dead_code)]
mod http;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cloudlet_core::{AwsScope, ManualClock, Registry, Timestamp};
use cloudlet_functions::concurrency::ConcurrencySettings;
use cloudlet_functions::control::ControlPlane;
use cloudlet_functions::invoke::{Invoker, InvokerSettings};
use cloudlet_functions::package::PackageCache;
use cloudlet_functions::probe::HostRuntimeProbe;
use cloudlet_functions::store::MemoryFunctionStore;
use cloudlet_server::runtime_api::LoopbackRuntimeApi;
use cloudlet_server::{AppState, DaemonInfo, StoreSummary};

fn state() -> AppState {
    let started = Timestamp::from_unix_secs(1_764_000_000);
    let info = DaemonInfo {
        version: "9.9.9".into(),
        pid: 1,
        listen: "127.0.0.1:0".into(),
        data_dir: "/data".into(),
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        store: StoreSummary {
            id: "id".into(),
            path: "/data/cloudlet.db".into(),
            created_at: started.to_string(),
            starts: 1,
        },
        started_at: started.to_string(),
        started,
    };
    let clock = ManualClock::new(started + Duration::from_secs(90));
    // No test here creates a function, so the code cache is never written.
    let functions = ControlPlane::open(
        Arc::new(MemoryFunctionStore::new()),
        Arc::new(PackageCache::new(std::env::temp_dir().join("cloudlet-server-it-unused"))),
        AwsScope::default(),
        clock.shared(),
        Arc::new(HostRuntimeProbe::new()),
    )
    .expect("control plane");
    let functions = Arc::new(functions);
    let work = std::env::temp_dir().join(format!("cloudlet-server-it-{}", std::process::id()));
    let metrics = Arc::new(Registry::new());
    let invoker = Invoker::new(
        Arc::clone(&functions),
        Arc::new(MemoryFunctionStore::new()),
        Arc::new(MemoryFunctionStore::new()),
        InvokerSettings {
            concurrency: ConcurrencySettings::default(),
            region: "us-east-1".into(),
            endpoint_url: "http://127.0.0.1:0".into(),
            environments_dir: work.join("environments"),
            logs_dir: work.join("logs"),
            runtime_dir: work.join("runtime"),
            sandbox_owner: format!("cloudlet-{}", std::process::id()),
        },
        Arc::new(LoopbackRuntimeApi),
        clock.shared(),
        Arc::clone(&metrics),
    )
    .expect("invoker");
    let queues = cloudlet_queues::Queues::open(
        Arc::new(cloudlet_queues::MemoryQueueStore::new()),
        AwsScope::default(),
        clock.shared(),
    )
    .expect("queues");
    let mappings = cloudlet_functions::mappings::EventSourceMappings::open(
        Arc::clone(&functions),
        Arc::clone(&invoker),
        Arc::clone(&queues),
        Arc::new(MemoryFunctionStore::new()),
        clock.shared(),
        Arc::clone(&metrics),
    )
    .expect("event source mappings");
    AppState::new(info, metrics, clock.shared(), functions, invoker, queues, mappings)
}

async fn start(
    router: axum::Router,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cloudlet_server::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

async fn get(addr: SocketAddr, path: &'static str) -> http::HttpResponse {
    tokio::task::spawn_blocking(move || http::get(addr, path)).await.expect("join").expect("request")
}

#[tokio::test]
async fn health_info_metrics_and_404_over_tcp() {
    let (addr, stop, server) = start(cloudlet_server::router(state())).await;

    let health = get(addr, "/_cloudlet/health").await;
    assert_eq!((health.status, health.body.as_str()), (200, r#"{"status":"ok","version":"9.9.9"}"#));

    let info = get(addr, "/_cloudlet/info").await;
    assert_eq!(info.status, 200);
    assert!(info.body.contains(r#""store":{"id":"id""#), "{}", info.body);

    let missing = get(addr, "/_cloudlet/nope").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains(r#""path":"/_cloudlet/nope""#), "{}", missing.body);

    let metrics = get(addr, "/metrics").await;
    assert!(
        metrics.body.contains("cloudlet_uptime_seconds 90"),
        "uptime must read the injected clock:\n{}",
        metrics.body
    );
    assert!(
        metrics.body.contains(r#"cloudlet_http_requests_total{api="cloudlet",status="404"} 1"#),
        "{}",
        metrics.body
    );

    stop.send(()).expect("stop");
    server.await.expect("join").expect("serve");
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_refuses_new_ones() {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let (entered, mut entered_rx) = tokio::sync::mpsc::channel::<()>(1);
    let slow = axum::Router::new().route(
        "/slow",
        axum::routing::get(move || {
            let released = Arc::clone(&released);
            let entered = entered.clone();
            async move {
                let _ = entered.send(()).await;
                if let Some(released) = released.lock().await.take() {
                    let _ = released.await;
                }
                "done"
            }
        }),
    );
    let (addr, stop, server) = start(slow).await;

    let in_flight = tokio::task::spawn_blocking(move || http::get(addr, "/slow"));
    entered_rx.recv().await.expect("handler entered");
    stop.send(()).expect("stop");
    // Shutdown has begun, but the request is still in its handler.
    tokio::task::yield_now().await;
    assert!(!server.is_finished(), "server stopped with a request in flight");
    release.send(()).expect("release");

    let response = in_flight.await.expect("join").expect("in-flight request");
    assert_eq!((response.status, response.body.as_str()), (200, "done"));
    server.await.expect("join").expect("serve");
    let refused = tokio::task::spawn_blocking(move || http::get(addr, "/slow")).await.expect("join");
    assert!(refused.is_err(), "a new connection was accepted after shutdown");
}
