//! `cloudlet up`: the daemon.
//!
//! Start-up order matters for the error a user sees and for start-up time:
//! lock the data dir (so two daemons never share a store), bind the address
//! (so a taken port is reported before any work), open and migrate the store,
//! load the functions (their code is unpacked in `DATA_DIR/code`), then serve. Shutdown on SIGINT or SIGTERM stops accepting, lets in-flight
//! requests finish (for at most [`DRAIN_TIMEOUT`]), closes the store and
//! releases the lock.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cloudlet_core::{AwsScope, Registry, SystemClock};
use cloudlet_functions::concurrency::ConcurrencySettings;
use cloudlet_functions::control::{ControlPlane, ControlPlaneError};
use cloudlet_functions::invoke::{Invoker, InvokerSettings};
use cloudlet_functions::mappings::EventSourceMappings;
use cloudlet_functions::package::PackageCache;
use cloudlet_functions::probe::HostRuntimeProbe;
use cloudlet_functions::store::{
    EventInvokeConfigStore, EventQueueStore, EventSourceMappingStore, FunctionStore, FunctionStoreError,
};
use cloudlet_queues::{QueueStore, Queues, QueuesError};
use cloudlet_scheduler::live::{KubeStore, KubeStoreError};
use cloudlet_server::runtime_api::LoopbackRuntimeApi;
use cloudlet_server::{AppState, DaemonInfo, KubeService, StoreSummary};
use cloudlet_store::{DATABASE_FILE, Store, StoreError};

use crate::cli::UpArgs;
use crate::data_dir::{self, DataDirError, DataDirLock};

/// How long shutdown waits for in-flight requests before closing anyway; it
/// keeps the whole shutdown well inside the 5 s that service managers allow.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);

/// The code cache's directory inside the data dir.
const CODE_DIR: &str = "code";

#[derive(Debug, thiserror::Error)]
pub(crate) enum UpError {
    #[error("cannot prepare execution environments under `{}`", dir.display())]
    Environments {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Functions(#[from] ControlPlaneError),
    #[error(transparent)]
    Queues(#[from] QueuesError),
    #[error("cannot load the Kubernetes cluster from the store")]
    Kube(#[source] KubeStoreError),
    #[error("cannot load event source mappings from the store")]
    Mappings(#[source] FunctionStoreError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the server on {addr} failed")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn run(args: UpArgs) -> Result<(), UpError> {
    let clock = SystemClock::shared();
    let started = clock.now();
    let data_dir = match args.data_dir {
        Some(dir) => absolute(dir),
        None => data_dir::default_data_dir()?,
    };
    let lock = DataDirLock::acquire(&data_dir)?;
    let listener =
        std::net::TcpListener::bind(args.listen).map_err(|source| UpError::Bind { addr: args.listen, source })?;
    let bind_error = |source| UpError::Bind { addr: args.listen, source };
    listener.set_nonblocking(true).map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;

    let store = Arc::new(Store::open(&data_dir.join(DATABASE_FILE), started)?);
    let pid = std::process::id();
    let version = env!("CARGO_PKG_VERSION");
    let start = store.record_daemon_start(started, pid, version)?;
    let scope = AwsScope { region: args.region, account_id: args.account_id };
    let store_info = store.info();
    let info = DaemonInfo {
        version: version.to_owned(),
        pid,
        listen: local_addr.to_string(),
        data_dir: data_dir.display().to_string(),
        region: scope.region.to_string(),
        account_id: scope.account_id.to_string(),
        store: StoreSummary {
            id: store_info.id.clone(),
            path: store_info.path.display().to_string(),
            created_at: store_info.created_at.to_rfc3339_millis(),
            starts: start.seq,
        },
        started_at: started.to_rfc3339_millis(),
        started,
    };
    // Function code lives unpacked in DATA_DIR/code, one directory per zip
    // digest; the store names packages by digest.
    let packages = Arc::new(PackageCache::new(data_dir.join(CODE_DIR)));
    match packages.remove_incomplete() {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed code packages left half-unpacked by an earlier crash"),
        Err(err) => tracing::warn!(error = %cloudlet_core::ErrorChain(&err), "cannot clean up the code cache"),
    }
    let functions = Arc::new(ControlPlane::open(
        Arc::clone(&store) as Arc<dyn FunctionStore>,
        packages,
        scope.clone(),
        clock.clone(),
        Arc::new(HostRuntimeProbe::new()),
    )?);
    let queues = Queues::open(Arc::clone(&store) as Arc<dyn QueueStore>, scope.clone(), clock.clone())?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(UpError::Runtime)?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_error)?;
        let metrics = Arc::new(Registry::new());
        metrics
            .gauge("cloudlet_build_info", "The running cloudlet's version.", &[("version", version)])
            .set(1);
        let concurrency = ConcurrencySettings {
            account_concurrency_limit: args.account_concurrency,
            unreserved_concurrency_minimum: args.unreserved_minimum,
            scaling_rate: args.scaling_rate,
            scaling_window: Duration::from_secs(10),
            host_memory_budget_mb: args.host_memory_mb.unwrap_or_else(default_host_memory_mb),
            keep_alive: Duration::from_secs(args.keep_alive),
        };
        let invoker = Invoker::new(
            Arc::clone(&functions),
            Arc::clone(&store) as Arc<dyn EventQueueStore>,
            Arc::clone(&store) as Arc<dyn EventInvokeConfigStore>,
            InvokerSettings {
                concurrency,
                region: scope.region.to_string(),
                endpoint_url: format!("http://{local_addr}"),
                environments_dir: data_dir.join("environments"),
                logs_dir: data_dir.join("logs"),
                runtime_dir: data_dir.join("runtime"),
                sandbox_owner: format!("cloudlet-{pid}"),
            },
            Arc::new(LoopbackRuntimeApi),
            clock.clone(),
            Arc::clone(&metrics),
        )
        .map_err(|source| UpError::Environments { dir: data_dir.clone(), source })?;
        invoker.set_queues(Arc::clone(&queues));
        invoker.restore_concurrency();
        queues.set_metrics(Arc::clone(&metrics));
        let mappings = EventSourceMappings::open(
            Arc::clone(&functions),
            Arc::clone(&invoker),
            Arc::clone(&queues),
            Arc::clone(&store) as Arc<dyn EventSourceMappingStore>,
            clock.clone(),
            Arc::clone(&metrics),
        )
        .map_err(UpError::Mappings)?;
        let kube = KubeService::open(Arc::clone(&store) as Arc<dyn KubeStore>, clock.clone()).map_err(UpError::Kube)?;
        kube.start_ticker();
        let state = AppState::new(
            info.clone(),
            metrics,
            clock,
            functions,
            Arc::clone(&invoker),
            Arc::clone(&queues),
            Arc::clone(&mappings),
        );
        state.set_kube(kube);
        let router = cloudlet_server::router(state);
        print_banner(&info, lock.path());
        tracing::info!(addr = %local_addr, data_dir = %data_dir.display(), "serving");

        let (drain_started, drain_started_rx) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            let signal = shutdown_signal().await;
            tracing::info!(signal, "shutting down: no new connections, finishing in-flight requests");
            let _ = drain_started.send(());
        };
        let server = tokio::spawn(cloudlet_server::serve(listener, router, shutdown));
        let server = async { server.await.unwrap_or_else(|join| Err(std::io::Error::other(join))) };
        tokio::pin!(server);
        let served = tokio::select! {
            result = &mut server => result,
            _ = async { let _ = drain_started_rx.await; tokio::time::sleep(DRAIN_TIMEOUT).await } => {
                tracing::warn!(timeout_s = DRAIN_TIMEOUT.as_secs(), "requests still in flight after the drain timeout; closing anyway");
                Ok(())
            }
        }
        .map_err(|source| UpError::Serve { addr: local_addr, source });
        mappings.shut_down();
        invoker.shut_down_all().await;
        served
    });
    // Nothing may outlive the store: dropping the runtime stops every task
    // (abandoning any request that outlived the drain timeout).
    runtime.shutdown_timeout(Duration::from_millis(200));
    // The control plane's handle went with the router; if a worker still
    // holds one, skip the tidy-up close (every write is already on disk).
    // The queue committer holds the store until it stops.
    queues.shut_down();
    drop(queues);
    let closed = Arc::try_unwrap(store).map_or(Ok(()), Store::close);
    drop(lock);
    served?;
    closed?;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM and names the one that came.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        },
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the daemon");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

fn print_banner(info: &DaemonInfo, lock_file: &std::path::Path) {
    let url = format!("http://{}", info.listen);
    let ordinal = match info.store.starts {
        1 => "new store".to_owned(),
        n => format!("start {n} of this store"),
    };
    let banner = format!(
        "cloudlet {version} is up (pid {pid})\n\
         \x20 listening  {url}\n\
         \x20 health     {url}/_cloudlet/health\n\
         \x20 metrics    {url}/metrics\n\
         \x20 data dir   {data_dir} ({ordinal}, store id {store_id})\n\
         \x20 lock       {lock}\n\
         \x20 account    {account} in {region}\n",
        version = info.version,
        pid = info.pid,
        data_dir = info.data_dir,
        store_id = info.store.id,
        lock = lock_file.display(),
        account = info.account_id,
        region = info.region,
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(banner.as_bytes());
    let _ = stdout.flush();
}

/// Three quarters of the host's RAM (from `/proc/meminfo`), leaving room
/// for the daemon, the desktop and everything else; 4 GiB if unknown.
fn default_host_memory_mb() -> u64 {
    let total_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|meminfo| {
        let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    });
    total_kb.map_or(4096, |kb| kb / 1024 * 3 / 4)
}

/// The data dir as an absolute path, so messages and `/_cloudlet/info` name
/// it unambiguously whatever the daemon's working directory.
fn absolute(dir: PathBuf) -> PathBuf {
    std::path::absolute(&dir).unwrap_or(dir)
}
