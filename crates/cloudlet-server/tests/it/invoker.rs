//! The invoker driven by a manual clock, with real function processes:
//! idle environments are reclaimed exactly when the injected clock passes the
//! keep-alive, and never before.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudlet_core::{AwsScope, ManualClock, Registry, Timestamp};
use cloudlet_functions::concurrency::ConcurrencySettings;
use cloudlet_functions::control::{CodeSource, ControlPlane, CreateFunctionRequest};
use cloudlet_functions::invoke::{InvocationType, InvokeInput, Invoker, InvokerSettings};
use cloudlet_functions::package::PackageCache;
use cloudlet_functions::probe::HostRuntimeProbe;
use cloudlet_functions::store::MemoryFunctionStore;
use cloudlet_server::runtime_api::LoopbackRuntimeApi;

const HANDLER: &str = "import os\ndef handler(event, context):\n    return {\"pid\": os.getpid()}\n";

fn zip_with(name: &str, contents: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(contents.as_bytes()).expect("write");
    cloudlet_functions::package::zip_directory(dir.path()).expect("zip")
}

fn pid_alive(pid: u64) -> bool {
    // A zombie has exited; only a running process counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.split(") ").nth(1).is_some_and(|rest| rest.starts_with('Z')))
        .unwrap_or(false)
}

async fn invoke(invoker: &Arc<Invoker>, name: &str) -> (u64, bool) {
    let output = invoker
        .invoke(InvokeInput {
            function_name: name.to_owned(),
            qualifier: None,
            invocation_type: InvocationType::RequestResponse,
            tail_log: true,
            payload: b"{}".to_vec(),
            client_context: None,
        })
        .await
        .expect("invoke");
    assert_eq!(output.function_error, None, "{}", String::from_utf8_lossy(&output.payload));
    let body: serde_json::Value = serde_json::from_slice(&output.payload).expect("json");
    use base64::Engine as _;
    let log = base64::engine::general_purpose::STANDARD.decode(output.log_result.expect("tail")).expect("base64");
    let cold = String::from_utf8_lossy(&log).contains("Init Duration:");
    (body["pid"].as_u64().expect("pid"), cold)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_environments_are_reclaimed_on_the_injected_clock() {
    let work = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_764_000_000));
    let control = Arc::new(
        ControlPlane::open(
            Arc::new(MemoryFunctionStore::new()),
            Arc::new(PackageCache::new(work.path().join("code"))),
            AwsScope::default(),
            clock.shared(),
            Arc::new(HostRuntimeProbe::new()),
        )
        .expect("control plane"),
    );
    control
        .create_function(CreateFunctionRequest {
            function_name: "idle".into(),
            runtime: Some("python3.11".into()),
            role: Some("arn:aws:iam::000000000000:role/lambda-role".into()),
            handler: Some("app.handler".into()),
            code: CodeSource::Zip(zip_with("app.py", HANDLER)),
            environment: Some(BTreeMap::new()),
            ..CreateFunctionRequest::default()
        })
        .expect("create");
    let keep_alive = Duration::from_secs(600);
    let invoker = Invoker::new(
        Arc::clone(&control),
        Arc::new(MemoryFunctionStore::new()),
        Arc::new(MemoryFunctionStore::new()),
        InvokerSettings {
            concurrency: ConcurrencySettings { keep_alive, ..ConcurrencySettings::default() },
            region: "us-east-1".into(),
            endpoint_url: "http://127.0.0.1:0".into(),
            environments_dir: work.path().join("environments"),
            logs_dir: work.path().join("logs"),
            runtime_dir: work.path().join("runtime"),
            sandbox_owner: format!("cloudlet-{}", std::process::id()),
        },
        Arc::new(LoopbackRuntimeApi),
        clock.shared(),
        Arc::new(Registry::new()),
    )
    .expect("invoker");

    let (pid, cold) = invoke(&invoker, "idle").await;
    assert!(cold, "the first invoke is a cold start");
    // The reaper now sleeps until the environment's keep-alive ends.
    clock.wait_for_sleepers(1).await;
    clock.advance(keep_alive - Duration::from_millis(1));
    let (again, cold) = invoke(&invoker, "idle").await;
    assert_eq!((again, cold), (pid, false), "reused warm one millisecond before the keep-alive ends");

    clock.wait_for_sleepers(1).await;
    clock.advance(keep_alive);
    // Reaping kills the real process; wait (on real time, bounded) for the
    // kernel to make that visible.
    let began = Instant::now();
    while pid_alive(pid) {
        assert!(began.elapsed() < Duration::from_secs(10), "environment {pid} outlived its keep-alive");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (fresh, cold) = invoke(&invoker, "idle").await;
    assert!(cold && fresh != pid, "after the keep-alive a new environment starts cold");
    invoker.shut_down_all().await;
}
