//! The one way in to a function: [`Invoker::invoke`].
//!
//! Every caller — the Lambda Invoke API, the async event queue, event source
//! mappings — comes through here. The invoker asks the concurrency core
//! ([`ConcurrencyController`]) where an invocation runs, and carries the
//! answer out: starts or reuses an execution environment, hands the event to
//! its Runtime API, enforces the timeout, writes Lambda's START/END/REPORT
//! log lines, and turns every ending (response, function error, timeout,
//! crash, out of memory, init failure) into Lambda's result shape. A
//! throttle is returned as a typed [`LambdaError`] that each caller handles
//! its own way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cloudlet_core::metrics::Registry;
use cloudlet_core::{SharedClock, Timestamp};
use tokio::sync::{Notify, watch};

use crate::async_config::{
    Condition, EventInvokeConfig, EventInvokeConfigChange, LastResponse, NextStep, after_invocation, after_throttle,
    apply_change, invocation_record,
};
use crate::cold_start::{InitTimeline, ProcessOrigin};
use crate::concurrency::{
    Admission, ConcurrencyController, ConcurrencySettings, Disposition, EnvId, InvokeRequest, Outcome,
};
use crate::control::{ControlPlane, Resolved};
use crate::environment::{EnvironmentSpec, ExecutionEnvironment, LogStreamFile, RuntimeCommands};
use crate::error::{ErrorType, LambdaError};
use crate::model::FunctionVersion;
use crate::runtime_api::{InitOutcome, Invocation, RuntimeApiServer, RuntimeChannel, RuntimeEndpoint, RuntimeReply};
use crate::sandbox::Sandbox;
use crate::store::{EventInvokeConfigStore, EventQueueStore, QueuedEvent};

mod async_events;
use async_events::run_async_events;
mod settings;

pub use settings::ProvisionedConfigView;

/// Request and response payload limit of synchronous invocations, bytes.
pub const SYNC_PAYLOAD_LIMIT_BYTES: usize = 6 * 1024 * 1024;
/// Payload limit of asynchronous (`Event`) invocations, bytes.
pub const ASYNC_PAYLOAD_LIMIT_BYTES: usize = 1024 * 1024;
/// A response larger than this is `Function.ResponseSizeTooLarge` (AWS
/// allows 100 bytes of slack over 6 MiB).
pub const RESPONSE_LIMIT_BYTES: usize = SYNC_PAYLOAD_LIMIT_BYTES + 100;
/// Lambda's limit on the init phase of an on-demand environment.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Provisioned environments may initialise for longer (reference §3.4:
/// max(130 s, the function timeout); 130 s covers every default).
pub const PROVISIONED_INIT_TIMEOUT: Duration = Duration::from_secs(130);
/// Buckets (ms) of the duration histograms.
const MS_BUCKETS: &[f64] = &[0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10_000.0];
/// `X-Amz-Log-Result` carries the last 4 KB of the invocation's log.
const TAIL_BYTES: usize = 4096;

/// How a caller invokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// One call of [`Invoker::invoke`].
#[derive(Debug, Clone)]
pub struct InvokeInput {
    pub function_name: String,
    pub qualifier: Option<String>,
    pub invocation_type: InvocationType,
    /// `X-Amz-Log-Type: Tail`.
    pub tail_log: bool,
    pub payload: Vec<u8>,
    /// `X-Amz-Client-Context`, base64 as sent.
    pub client_context: Option<String>,
}

/// A synchronous invocation's result, as the Invoke API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutput {
    /// 200 (RequestResponse), 202 (Event), 204 (DryRun).
    pub status: u16,
    /// `X-Amz-Function-Error`: `Unhandled` when the function failed.
    pub function_error: Option<&'static str>,
    pub executed_version: Option<String>,
    /// `X-Amz-Log-Result`: base64 of the log's last 4 KB, when asked for.
    pub log_result: Option<String>,
    pub payload: Vec<u8>,
    pub request_id: String,
}

/// Where the invoker keeps things, and its limits.
#[derive(Debug, Clone)]
pub struct InvokerSettings {
    pub concurrency: ConcurrencySettings,
    pub region: String,
    /// cloudlet's own endpoint, given to functions as `AWS_ENDPOINT_URL`.
    pub endpoint_url: String,
    /// Per-environment work dirs (their `/tmp`).
    pub environments_dir: PathBuf,
    /// Log streams, one file each.
    pub logs_dir: PathBuf,
    /// Where the built-in runtime bootstraps are installed.
    pub runtime_dir: PathBuf,
    /// Names this daemon's control groups (`cloudlet-<pid>`).
    pub sandbox_owner: String,
}

/// Executes invocations.
#[derive(Debug)]
pub struct Invoker {
    control: Arc<ControlPlane>,
    core: Mutex<ConcurrencyController>,
    live: Mutex<HashMap<EnvId, Arc<LiveEnvironment>>>,
    commands: RuntimeCommands,
    sandbox: Sandbox,
    runtime_api: Arc<dyn RuntimeApiServer>,
    clock: SharedClock,
    settings: InvokerSettings,
    metrics: Arc<Registry>,
    /// Woken when an environment goes idle, so the reaper re-plans.
    pool_changed: Notify,
    /// The durable queue of asynchronous invocations ...
    events: Arc<dyn EventQueueStore>,
    /// ... and its schedule in memory, by (not before, id).
    event_schedule: Mutex<std::collections::BTreeMap<(Timestamp, String), QueuedEvent>>,
    events_changed: Notify,
    /// Asynchronous invocation settings, by (function, qualifier), written
    /// through to `event_configs_store`.
    event_configs: Mutex<HashMap<(String, String), EventInvokeConfig>>,
    event_configs_store: Arc<dyn EventInvokeConfigStore>,
    /// The queue service, for SQS destinations (wired in after start-up).
    queues: std::sync::OnceLock<Arc<cloudlet_queues::Queues>>,
    /// Counts processes started, to name their work dirs and cgroups.
    processes_started: std::sync::atomic::AtomicU64,
}

/// An execution environment the invoker runs.
#[derive(Debug)]
struct LiveEnvironment {
    id: EnvId,
    /// The function it runs (labels its metrics).
    function: String,
    channel: Arc<RuntimeChannel>,
    endpoint: Mutex<Option<RuntimeEndpoint>>,
    process: ExecutionEnvironment,
    log_file: LogStreamFile,
    started_at: Timestamp,
    /// When the runtime process was running (the end of the cold start's
    /// `process_start` phase), and whether it was a spare.
    process_running_at: Timestamp,
    process_origin: ProcessOrigin,
    /// `Some(exit)` once the process has exited.
    exited: watch::Receiver<Option<ExitInfo>>,
    init: tokio::sync::Mutex<InitState>,
}

#[derive(Debug, Clone)]
struct ExitInfo {
    /// `exit status N` or `signal: killed`, as Lambda words it.
    description: String,
    oom_killed: bool,
}

#[derive(Debug)]
enum InitState {
    /// Waiting for the runtime's first `/next`.
    Pending(tokio::sync::oneshot::Receiver<InitOutcome>),
    /// Init finished; `Some` until the first invoke reports it.
    Done {
        unreported_duration: Option<Duration>,
    },
    Failed,
}

/// Why an environment's init did not finish.
enum InitFailure {
    /// The deadline passed first.
    TimedOut,
    /// It failed (init error, exit) in a way the invoker reports as is.
    Ending(Ending),
}

/// One invocation's run: the environment that ran it, how it ended.
struct Run {
    env: Arc<LiveEnvironment>,
    ending: Ending,
    duration: Duration,
    init_duration: Option<Duration>,
    /// Lines cloudlet writes before the function's own (`INIT_REPORT`).
    platform_lines: Vec<String>,
}

/// What happened to one invocation inside its environment.
enum Ending {
    Response(Vec<u8>),
    FunctionError(Vec<u8>),
    /// Timeout, crash, out of memory, failed init: the environment is gone.
    Fatal {
        payload: serde_json::Value,
        log_line: Option<String>,
        status: &'static str,
    },
}

impl Invoker {
    pub fn new(
        control: Arc<ControlPlane>,
        events: Arc<dyn EventQueueStore>,
        event_configs_store: Arc<dyn EventInvokeConfigStore>,
        settings: InvokerSettings,
        runtime_api: Arc<dyn RuntimeApiServer>,
        clock: SharedClock,
        metrics: Arc<Registry>,
    ) -> std::io::Result<Arc<Invoker>> {
        let commands = RuntimeCommands::install(&settings.runtime_dir)?;
        std::fs::create_dir_all(&settings.environments_dir)?;
        std::fs::create_dir_all(&settings.logs_dir)?;
        let sandbox = Sandbox::detect(&settings.sandbox_owner);
        tracing::info!(sandbox = sandbox.describe(), "execution environments");
        control.set_metrics(Arc::clone(&metrics));
        let invoker = Arc::new(Invoker {
            control,
            core: Mutex::new(ConcurrencyController::new(settings.concurrency.clone())),
            live: Mutex::new(HashMap::new()),
            commands,
            sandbox,
            runtime_api,
            clock,
            settings,
            metrics,
            pool_changed: Notify::new(),
            events,
            event_schedule: Mutex::new(std::collections::BTreeMap::new()),
            events_changed: Notify::new(),
            processes_started: std::sync::atomic::AtomicU64::new(0),
            event_configs: Mutex::new(HashMap::new()),
            event_configs_store,
            queues: std::sync::OnceLock::new(),
        });
        let configs = invoker.event_configs_store.event_invoke_configs().map_err(std::io::Error::other)?;
        for config in configs {
            lock(&invoker.event_configs).insert((config.function_name.clone(), config.qualifier.clone()), config);
        }
        // Events acknowledged before a restart run now.
        let queued = invoker.events.queued().map_err(std::io::Error::other)?;
        for event in queued {
            invoker.schedule_event(event);
        }
        tokio::spawn(reap_idle(Arc::downgrade(&invoker)));
        tokio::spawn(run_async_events(Arc::clone(&invoker)));
        Ok(invoker)
    }

    /// The concurrency core, for configuration and metrics.
    pub fn with_core<T>(&self, f: impl FnOnce(&mut ConcurrencyController) -> T) -> T {
        f(&mut self.core())
    }

    /// Invokes a function.
    pub async fn invoke(self: &Arc<Self>, input: InvokeInput) -> Result<InvokeOutput, LambdaError> {
        let limit = match input.invocation_type {
            InvocationType::Event => ASYNC_PAYLOAD_LIMIT_BYTES,
            _ => SYNC_PAYLOAD_LIMIT_BYTES,
        };
        if input.payload.len() > limit {
            return Err(LambdaError::new(
                ErrorType::RequestTooLargeException,
                format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
            ));
        }
        let payload = normalise_payload(input.payload)?;
        let resolved = self.control.resolve(&input.function_name, input.qualifier.as_deref(), 0.0)?;
        let request_id = uuid::Uuid::new_v4().to_string();
        match input.invocation_type {
            InvocationType::DryRun => Ok(InvokeOutput {
                status: 204,
                function_error: None,
                executed_version: None,
                log_result: None,
                payload: Vec::new(),
                request_id,
            }),
            InvocationType::Event => {
                let now = self.clock.now();
                let event = QueuedEvent {
                    id: request_id.clone(),
                    function_name: resolved.version.function_name.clone(),
                    qualifier: resolved.qualifier.clone(),
                    payload: String::from_utf8_lossy(&payload).into_owned(),
                    enqueued_at: now,
                    attempts: 0,
                    invocations: 0,
                    not_before: now,
                };
                // Acknowledged only once durable.
                let events = Arc::clone(&self.events);
                let stored = event.clone();
                tokio::task::spawn_blocking(move || events.enqueue(&stored))
                    .await
                    .map_err(|err| LambdaError::service(format!("the event queue's worker failed: {err}")))?
                    .map_err(|err| LambdaError::service(cloudlet_core::ErrorChain(&err).to_string()))?;
                self.schedule_event(event);
                Ok(InvokeOutput {
                    status: 202,
                    function_error: None,
                    executed_version: None,
                    log_result: None,
                    payload: Vec::new(),
                    request_id,
                })
            }
            InvocationType::RequestResponse => {
                self.execute(&resolved, payload, input.tail_log, input.client_context, request_id).await
            }
        }
    }

    async fn execute(
        self: &Arc<Self>,
        resolved: &Resolved,
        payload: Vec<u8>,
        tail_log: bool,
        client_context: Option<String>,
        request_id: String,
    ) -> Result<InvokeOutput, LambdaError> {
        let version = &resolved.version;
        let function = version.function_name.as_str();
        let qualifier = resolved.qualifier.as_deref().unwrap_or(crate::model::LATEST);
        let request = InvokeRequest { function, qualifier, version: &version.version, memory_mb: version.memory_mb };
        // A warm environment whose process has just died is dropped and the
        // invocation admitted again; the bound only guards against a loop.
        let mut admitted = None;
        for _ in 0..8 {
            let admission = match self.core().admit(&request, self.clock.now()) {
                Ok(admission) => admission,
                Err(throttle) => {
                    self.count(
                        "cloudlet_lambda_throttles_total",
                        "Invocations throttled, by reason.",
                        function,
                        &[("reason", throttle.reason.label())],
                    );
                    return Err(LambdaError::throttled(throttle.reason.as_str(), throttle.message.into_owned()));
                }
            };
            if let Admission::Provisioned { env } | Admission::Warm { env, .. } = admission
                && self.live_env(env).is_none_or(|live| live.exited.borrow().is_some())
            {
                self.core().remove(env);
                self.shut_down(env);
                self.reconcile_provisioned(Vec::new());
                continue;
            }
            admitted = Some(admission);
            break;
        }
        let Some(admission) = admitted else {
            return Err(LambdaError::service("no live execution environment could be found"));
        };
        let (env, start_kind) = match admission {
            Admission::Provisioned { env } => {
                self.count(
                    "cloudlet_lambda_provisioned_invocations_total",
                    "Invocations served by provisioned concurrency.",
                    function,
                    &[],
                );
                (self.live_env(env), "provisioned")
            }
            Admission::Warm { env, spillover } => {
                if spillover {
                    self.count(
                        "cloudlet_lambda_spillover_invocations_total",
                        "Invocations beyond provisioned concurrency.",
                        function,
                        &[],
                    );
                }
                (self.live_env(env), "warm")
            }
            Admission::Cold { env, spillover, evicted } => {
                if spillover {
                    self.count(
                        "cloudlet_lambda_spillover_invocations_total",
                        "Invocations beyond provisioned concurrency.",
                        function,
                        &[],
                    );
                }
                for evicted in evicted {
                    self.shut_down(evicted);
                }
                match self.start_environment(env, Arc::clone(version), "on-demand").await {
                    Ok(live) => (Some(live), "cold"),
                    Err(err) => {
                        self.core().remove(env);
                        return Err(err);
                    }
                }
            }
        };
        let Some(env) = env else {
            return Err(LambdaError::service("the execution environment disappeared"));
        };
        self.count(
            "cloudlet_lambda_invocations_total",
            "Invocations, by how the environment started.",
            function,
            &[("start", start_kind)],
        );

        let Run { env, ending, duration, init_duration, platform_lines } =
            self.run_in(env, resolved, payload, client_context, &request_id).await;
        let outcome = match ending {
            Ending::Fatal { .. } => Outcome::Discard,
            _ => Outcome::Reusable,
        };
        // Logs: the lines the function wrote, framed by Lambda's own.
        let mut lines = platform_lines;
        lines.push(format!("START RequestId: {request_id} Version: {}", version.version));
        lines.extend(env.process.drain_log().await);
        let (payload, function_error, status) = match ending {
            Ending::Response(body) if body.len() > RESPONSE_LIMIT_BYTES => {
                let payload = serde_json::json!({
                    "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT_BYTES} bytes)."),
                    "errorType": "Function.ResponseSizeTooLarge",
                });
                (payload.to_string().into_bytes(), Some("Unhandled"), None)
            }
            Ending::Response(body) => (body, None, None),
            Ending::FunctionError(body) => (body, Some("Unhandled"), None),
            Ending::Fatal { payload, log_line, status } => {
                if let Some(line) = log_line {
                    lines.push(line);
                }
                (payload.to_string().into_bytes(), Some("Unhandled"), Some(status))
            }
        };
        lines.push(format!("END RequestId: {request_id}"));
        let memory_used = env.process.max_memory_used_mb().unwrap_or(0);
        lines.push(report_line(&request_id, duration, version.memory_mb, memory_used, init_duration, status));

        let disposition = self.core().release(env.id, self.clock.now(), outcome);
        if disposition == Disposition::ShutDown || outcome == Outcome::Discard {
            self.shut_down(env.id);
        } else {
            self.pool_changed.notify_one();
        }

        self.observe(function, duration, init_duration, function_error.is_some());
        if let Err(err) = env.log_file.append(&lines) {
            tracing::warn!(error = %err, function, "cannot write the log stream");
        }
        for line in &lines {
            tracing::debug!(target: "cloudlet::function", function, "{line}");
        }
        let log_result = tail_log.then(|| tail_base64(&lines));
        Ok(InvokeOutput {
            status: 200,
            function_error,
            executed_version: Some(version.version.clone()),
            log_result,
            payload,
            request_id,
        })
    }

    /// Runs one invocation in `env`: waits for init if needed, dispatches,
    /// and waits for the reply, the deadline, or the process's exit. Returns
    /// the environment that ran it (a new one after a suppressed init), and
    /// any platform log lines to add before the function's own.
    async fn run_in(
        self: &Arc<Self>,
        env: Arc<LiveEnvironment>,
        resolved: &Resolved,
        payload: Vec<u8>,
        client_context: Option<String>,
        request_id: &str,
    ) -> Run {
        let version = &resolved.version;
        let timeout = Duration::from_secs(u64::from(version.timeout_s));
        let mut platform_lines = Vec::new();
        let mut env = env;
        let mut started = None;
        let init_duration = match self.wait_init(&env, env.started_at + INIT_TIMEOUT, true).await {
            Ok(init_duration) => init_duration,
            Err(InitFailure::Ending(ending)) => {
                return Run { env, ending, duration: Duration::ZERO, init_duration: None, platform_lines };
            }
            Err(InitFailure::TimedOut) => {
                // Suppressed init (reference §3.4): after 10 s Lambda starts
                // init again as part of the invoke, bounded by the function's
                // timeout, and reports the first attempt in an INIT_REPORT.
                platform_lines.push(format!(
                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: timeout",
                    INIT_TIMEOUT.as_secs_f64() * 1000.0
                ));
                let retry_started = self.clock.now();
                started = Some(retry_started);
                env = match self.restart_environment(&env, Arc::clone(version)).await {
                    Ok(env) => env,
                    Err(err) => {
                        let ending = Ending::Fatal {
                            payload: serde_json::json!({ "errorType": "Runtime.Unknown", "errorMessage": err.message }),
                            log_line: None,
                            status: "error",
                        };
                        return Run { env, ending, duration: Duration::ZERO, init_duration: None, platform_lines };
                    }
                };
                match self.wait_init(&env, retry_started + timeout, false).await {
                    Ok(_) => None,
                    Err(InitFailure::Ending(ending)) => {
                        let duration = self.clock.now().saturating_duration_since(retry_started);
                        return Run { env, ending, duration, init_duration: None, platform_lines };
                    }
                    Err(InitFailure::TimedOut) => {
                        let ending = self.timed_out(request_id, version.timeout_s);
                        let duration = self.clock.now().saturating_duration_since(retry_started);
                        return Run { env, ending, duration, init_duration: None, platform_lines };
                    }
                }
            }
        };
        let started = started.unwrap_or_else(|| self.clock.now());
        let deadline = started + timeout;
        let replied = env.channel.dispatch(Invocation {
            request_id: request_id.to_owned(),
            payload,
            deadline_ms: deadline.as_unix_millis(),
            invoked_function_arn: resolved.invoked_arn.clone(),
            trace_id: trace_id(started),
            client_context: client_context.and_then(decode_client_context),
            cognito_identity: None,
        });
        let mut exited = env.exited.clone();
        let ending = tokio::select! {
            reply = replied => match reply {
                Ok(RuntimeReply::Response { body }) => Ending::Response(body),
                Ok(RuntimeReply::Error { body, .. }) => Ending::FunctionError(body),
                // The runtime asked for the next event without answering.
                Err(_) => self.exit_ending(&env, request_id, &mut exited).await,
            },
            () = self.clock.sleep_until(deadline) => self.timed_out(request_id, version.timeout_s),
            ending = self.exit_ending(&env, request_id, &mut exited) => ending,
        };
        let duration = self.clock.now().saturating_duration_since(started);
        Run { env, ending, duration, init_duration, platform_lines }
    }

    /// `Sandbox.Timedout`, with the log line Lambda writes.
    fn timed_out(&self, request_id: &str, timeout_s: u32) -> Ending {
        let seconds = format!("{:.2}", f64::from(timeout_s));
        Ending::Fatal {
            payload: serde_json::json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("RequestId: {request_id} Error: Task timed out after {seconds} seconds"),
            }),
            log_line: Some(format!(
                "{} {request_id} Task timed out after {seconds} seconds",
                self.clock.now().to_rfc3339_millis()
            )),
            status: "timeout",
        }
    }

    /// Replaces an environment's process with a new one under the same id
    /// (the core still holds the environment as initialising).
    async fn restart_environment(
        self: &Arc<Self>,
        old: &Arc<LiveEnvironment>,
        version: Arc<FunctionVersion>,
    ) -> Result<Arc<LiveEnvironment>, LambdaError> {
        self.live().remove(&old.id);
        discard(Arc::clone(old));
        self.start_environment(old.id, version, "on-demand").await
    }

    /// Waits (until `deadline`) for the environment's init if it has not
    /// finished, and returns the init duration to report if this is the
    /// environment's first invoke.
    ///
    /// Provisioned environments initialise ahead of traffic: their init is
    /// not reported (`report_init` false).
    async fn wait_init(
        &self,
        env: &Arc<LiveEnvironment>,
        deadline: Timestamp,
        report_init: bool,
    ) -> Result<Option<Duration>, InitFailure> {
        let mut init = env.init.lock().await;
        if let InitState::Pending(outcome) = &mut *init {
            let mut exited = env.exited.clone();
            let result = tokio::select! {
                outcome = outcome => outcome.ok(),
                () = self.clock.sleep_until(deadline) => None,
                _ = exited.wait_for(Option::is_some) => None,
            };
            match result {
                Some(InitOutcome::Ready { init_code }) => {
                    let ready_at = self.clock.now();
                    let duration = ready_at.saturating_duration_since(env.started_at);
                    self.observe_init_phases(env, ready_at, init_code);
                    *init = InitState::Done { unreported_duration: report_init.then_some(duration) };
                    let disposition = self.core().init_finished(env.id, self.clock.now());
                    if disposition == Disposition::ShutDown {
                        tracing::debug!(env = %env.id, "environment no longer wanted after init");
                    }
                }
                Some(InitOutcome::Failed { error_type, body }) => {
                    *init = InitState::Failed;
                    let payload = serde_json::from_slice(&body).unwrap_or_else(|_| {
                        serde_json::json!({
                            "errorType": error_type.unwrap_or_else(|| "Runtime.Unknown".to_owned()),
                            "errorMessage": String::from_utf8_lossy(&body),
                        })
                    });
                    return Err(InitFailure::Ending(Ending::Fatal { payload, log_line: None, status: "error" }));
                }
                None => {
                    *init = InitState::Failed;
                    let mut exited = env.exited.clone();
                    if exited.borrow().is_some() {
                        return Err(InitFailure::Ending(self.exit_ending(env, "", &mut exited).await));
                    }
                    return Err(InitFailure::TimedOut);
                }
            }
        }
        match &mut *init {
            InitState::Done { unreported_duration } => Ok(unreported_duration.take()),
            _ => Err(InitFailure::Ending(Ending::Fatal {
                payload: serde_json::json!({
                    "errorType": "Runtime.Unknown",
                    "errorMessage": "the environment failed to initialise",
                }),
                log_line: None,
                status: "error",
            })),
        }
    }

    /// Waits for the process to exit and words its ending as Lambda does.
    async fn exit_ending(
        &self,
        env: &LiveEnvironment,
        request_id: &str,
        exited: &mut watch::Receiver<Option<ExitInfo>>,
    ) -> Ending {
        let exit = match exited.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().unwrap_or_else(unknown_exit),
            Err(_) => unknown_exit(),
        };
        let oom = exit.oom_killed || env.process.oom_killed();
        let prefix = if request_id.is_empty() { String::new() } else { format!("RequestId: {request_id} ") };
        let (error_type, message) = if oom {
            ("Runtime.OutOfMemory", format!("{prefix}Error: Runtime exited with error: signal: killed"))
        } else {
            ("Runtime.ExitError", format!("{prefix}Error: Runtime exited with error: {}", exit.description))
        };
        Ending::Fatal {
            payload: serde_json::json!({ "errorType": error_type, "errorMessage": message }),
            log_line: Some(format!("{message}\nRuntime.{}", if oom { "OutOfMemory" } else { "ExitError" })),
            status: "error",
        }
    }

    /// Starts an environment's process and its Runtime API.
    async fn start_environment(
        self: &Arc<Self>,
        id: EnvId,
        version: Arc<FunctionVersion>,
        initialization_type: &'static str,
    ) -> Result<Arc<LiveEnvironment>, LambdaError> {
        let (channel, init_outcome) = RuntimeChannel::new();
        let endpoint = self
            .runtime_api
            .serve(Arc::clone(&channel))
            .map_err(|err| LambdaError::service(format!("cannot serve the Runtime API: {err}")))?;
        let started_at = self.clock.now();
        let log_stream = log_stream_name(started_at, &version.version);
        let log_group = log_group(&version.function_name);
        let spec = EnvironmentSpec {
            // Unique per process, not per environment: a restarted
            // environment (suppressed init) must not share the old
            // process's cgroup, which is removed once that process is gone.
            name: format!("env-{}-{}", id.0, self.processes_started.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
            version: &version,
            initialization_type,
            runtime_api: endpoint.addr,
            region: &self.settings.region,
            log_group: &log_group,
            log_stream: &log_stream,
            endpoint_url: &self.settings.endpoint_url,
            work_root: &self.settings.environments_dir,
        };
        let (process, mut child) = match ExecutionEnvironment::start(spec, &self.commands, &self.sandbox).await {
            Ok(started) => started,
            Err(err) => {
                (endpoint.stop)();
                return Err(LambdaError::service(cloudlet_core::ErrorChain(&err).to_string()));
            }
        };
        let process_running_at = self.clock.now();
        let process_origin = if process.adopted_spare() { ProcessOrigin::Spare } else { ProcessOrigin::New };
        let (exit_tx, exited) = watch::channel(None);
        let invoker = Arc::downgrade(self);
        tokio::spawn(async move {
            let description = match child.wait().await {
                Ok(status) => describe_exit(status),
                Err(err) => format!("wait failed: {err}"),
            };
            let _ = exit_tx.send(Some(ExitInfo { description, oom_killed: false }));
            if let Some(invoker) = invoker.upgrade() {
                invoker.environment_exited(id);
            }
        });
        let live = Arc::new(LiveEnvironment {
            id,
            function: version.function_name.clone(),
            channel,
            endpoint: Mutex::new(Some(endpoint)),
            process,
            log_file: LogStreamFile::new(&self.settings.logs_dir, &log_group, &log_stream),
            started_at,
            process_running_at,
            process_origin,
            exited,
            init: tokio::sync::Mutex::new(InitState::Pending(init_outcome)),
        });
        self.live().insert(id, Arc::clone(&live));
        Ok(live)
    }

    /// Environments running `$LATEST`'s previous code or configuration must
    /// not serve another invoke: call after UpdateFunctionCode or
    /// UpdateFunctionConfiguration.
    pub fn latest_changed(&self, function_name: &str) {
        let retired = self.core().retire_version(function_name, crate::model::LATEST);
        for id in retired {
            self.shut_down(id);
        }
    }

    /// A function (or one of its versions) was deleted.
    pub fn function_deleted(&self, function_name: &str, version: Option<&str>) {
        let gone = match version {
            Some(version) => self.core().retire_version(function_name, version),
            None => self.core().delete_function(function_name),
        };
        for id in gone {
            self.shut_down(id);
        }
    }

    /// `GetAccountSettings`' numbers: the account limit and the unreserved
    /// concurrency left.
    pub fn account_concurrency(&self) -> (u32, u32) {
        let core = self.core();
        (core.settings().account_concurrency_limit, core.unreserved_concurrency())
    }

    /// A snapshot of the core's counters.
    pub fn metrics_snapshot(&self) -> crate::concurrency::MetricsSnapshot {
        self.core().metrics()
    }

    /// A function's log lines from `offset` (a byte offset into its streams,
    /// oldest stream first), and the offset to continue from.
    pub fn read_logs(&self, function_name: &str, offset: u64) -> (Vec<String>, u64) {
        let dir = self.settings.logs_dir.join(log_group(function_name).replace('/', "%2F"));
        let mut streams: Vec<PathBuf> =
            std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|entry| entry.path()).collect();
        streams.sort();
        let mut all = String::new();
        for stream in streams {
            all.push_str(&std::fs::read_to_string(stream).unwrap_or_default());
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(all.len());
        let lines = all.get(start..).unwrap_or_default().lines().map(str::to_owned).collect();
        (lines, all.len() as u64)
    }

    /// A process exited. An idle environment (warm or provisioned) that dies
    /// is forgotten at once, so no invocation is ever sent to it; a lost
    /// provisioned environment is replaced. A busy one is the invocation's
    /// to report.
    fn environment_exited(self: &Arc<Self>, id: EnvId) {
        let idle = {
            let mut core = self.core();
            let idle = matches!(
                core.environment(id).map(|env| env.state),
                Some(crate::concurrency::EnvironmentState::Idle { .. })
            );
            if idle {
                core.remove(id);
            }
            idle
        };
        if idle {
            // Only this live entry: a restarted environment reuses the id
            // with a new process, which is a different entry by then.
            let env = self.live().remove(&id);
            if let Some(env) = env {
                tracing::info!(env = %id, "an idle execution environment exited; it will not be reused");
                discard(env);
            }
            self.reconcile_provisioned(Vec::new());
        }
    }

    fn live_env(&self, id: EnvId) -> Option<Arc<LiveEnvironment>> {
        self.live().get(&id).cloned()
    }

    /// Kills an environment the core no longer holds and cleans up after it.
    fn shut_down(&self, id: EnvId) {
        if let Some(env) = self.live().remove(&id) {
            discard(env);
        }
    }

    /// Shuts every environment down (daemon shutdown).
    ///
    /// Waits (at most 2 s, Lambda's shutdown allowance) for the processes to
    /// exit so that their cgroups and work dirs can be removed.
    pub async fn shut_down_all(&self) {
        let envs: Vec<Arc<LiveEnvironment>> = self.live().drain().map(|(_, env)| env).collect();
        for env in &envs {
            self.core().remove(env.id);
            env.process.kill();
            if let Some(endpoint) = lock(&env.endpoint).take() {
                (endpoint.stop)();
            }
        }
        self.commands.stop_spares();
        let exited = async {
            for env in &envs {
                let mut exited = env.exited.clone();
                let _ = exited.wait_for(Option::is_some).await;
                env.process.remove_files();
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), exited).await;
        // The environments' groups go with them; then the parent groups.
        drop(envs);
        self.sandbox.remove();
    }

    fn core(&self) -> MutexGuard<'_, ConcurrencyController> {
        lock(&self.core)
    }

    fn live(&self) -> MutexGuard<'_, HashMap<EnvId, Arc<LiveEnvironment>>> {
        lock(&self.live)
    }

    fn count(&self, name: &str, help: &str, function: &str, labels: &[(&str, &str)]) {
        let mut all = vec![("function", function)];
        all.extend_from_slice(labels);
        self.metrics.counter(name, help, &all).inc();
    }

    /// Records the cold-start phases of `env`, whose runtime called `/next`
    /// for the first time at `ready_at` (see [`crate::cold_start`]; code
    /// unpacking is recorded by the control plane at deploy time).
    fn observe_init_phases(&self, env: &LiveEnvironment, ready_at: Timestamp, init_code: Option<Duration>) {
        let timeline = InitTimeline {
            started_at: env.started_at,
            process_running_at: env.process_running_at,
            ready_at,
            init_code,
        };
        crate::cold_start::observe_environment(&self.metrics, &env.function, env.process_origin, &timeline);
    }

    /// Sets the gauges that mirror the concurrency core (called before the
    /// registry is rendered): concurrent executions per function and for the
    /// account, unreserved executions, claimed concurrency, provisioned
    /// utilisation.
    pub fn export_gauges(&self) {
        let snapshot = self.core().metrics();
        let account = &snapshot.account;
        let gauge = |name: &str, help: &str, labels: &[(&str, &str)], value: u64| {
            self.metrics.gauge(name, help, labels).set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        gauge(
            "cloudlet_lambda_account_concurrent_executions",
            "Invocations in flight across the account.",
            &[],
            u64::from(account.concurrent_executions),
        );
        gauge(
            "cloudlet_lambda_unreserved_concurrent_executions",
            "Invocations in flight of functions without reserved concurrency.",
            &[],
            u64::from(account.unreserved_concurrent_executions),
        );
        gauge(
            "cloudlet_lambda_claimed_account_concurrency",
            "Unreserved executions plus reserved and provisioned concurrency.",
            &[],
            account.claimed_account_concurrency,
        );
        gauge(
            "cloudlet_lambda_host_memory_used_mb",
            "Memory of all live execution environments (cloudlet's host budget).",
            &[],
            account.host_memory_used_mb,
        );
        let mut requested: HashMap<String, u32> = HashMap::new();
        for config in self.control.all_provisioned_concurrency() {
            *requested.entry(config.function_name).or_default() += config.requested;
        }
        for (function, m) in &snapshot.functions {
            let labels = [("function", function.as_str())];
            gauge(
                "cloudlet_lambda_concurrent_executions",
                "Invocations in flight, per function.",
                &labels,
                u64::from(m.concurrent_executions),
            );
            gauge(
                "cloudlet_lambda_provisioned_concurrent_executions",
                "Invocations in flight on provisioned environments, per function.",
                &labels,
                u64::from(m.provisioned_concurrent_executions),
            );
            if let Some(requested) = requested.get(function).filter(|n| **n > 0) {
                gauge(
                    "cloudlet_lambda_provisioned_concurrency_utilization_percent",
                    "Provisioned executions in flight as a share of provisioned concurrency.",
                    &labels,
                    u64::from(m.provisioned_concurrent_executions) * 100 / u64::from(*requested),
                );
            }
        }
    }

    fn observe(&self, function: &str, duration: Duration, init_duration: Option<Duration>, failed: bool) {
        self.metrics
            .histogram(
                "cloudlet_lambda_duration_ms",
                "Invocation duration in milliseconds.",
                &[("function", function)],
                MS_BUCKETS,
            )
            .observe(duration.as_secs_f64() * 1000.0);
        if let Some(init) = init_duration {
            self.metrics
                .histogram(
                    "cloudlet_lambda_init_duration_ms",
                    "Init duration of cold starts in milliseconds.",
                    &[("function", function)],
                    MS_BUCKETS,
                )
                .observe(init.as_secs_f64() * 1000.0);
        }
        if failed {
            self.count("cloudlet_lambda_errors_total", "Invocations that ended in a function error.", function, &[]);
        }
    }
}

/// Idle environments are reclaimed after the keep-alive, on the injected
/// clock. The task ends when the last other handle to the invoker is gone.
async fn reap_idle(invoker: std::sync::Weak<Invoker>) {
    loop {
        let Some(this) = invoker.upgrade() else { return };
        let reaped = this.core().reap(this.clock.now());
        for id in reaped {
            this.shut_down(id);
        }
        let next = this.core().next_reap_deadline();
        {
            let changed = this.pool_changed.notified();
            match next {
                Some(deadline) => {
                    tokio::select! {
                        () = this.clock.sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
        if Arc::strong_count(&this) == 1 {
            return;
        }
    }
}

/// Kills an environment's processes, stops its Runtime API, and removes its
/// files once the process has exited.
fn discard(env: Arc<LiveEnvironment>) {
    env.process.kill();
    if let Some(endpoint) = lock(&env.endpoint).take() {
        (endpoint.stop)();
    }
    tokio::spawn(async move {
        let mut exited = env.exited.clone();
        let _ = exited.wait_for(Option::is_some).await;
        env.process.remove_files();
    });
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Updates under these locks are single map or field operations.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An empty payload is delivered as `{}`; anything else must be JSON.
fn normalise_payload(payload: Vec<u8>) -> Result<Vec<u8>, LambdaError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(b"{}".to_vec());
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        Ok(_) => Ok(payload),
        Err(err) => Err(LambdaError::new(
            ErrorType::InvalidRequestContentException,
            format!("Could not parse request body into json: Could not parse payload into json: {err}"),
        )),
    }
}

/// `X-Amz-Client-Context` is base64 of a JSON document; the runtime gets the JSON.
fn decode_client_context(encoded: String) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()).ok()?;
    String::from_utf8(bytes).ok()
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(9)) => "signal: killed".to_owned(),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => "exit status unknown".to_owned(),
    }
}

fn unknown_exit() -> ExitInfo {
    ExitInfo { description: "exit status unknown".to_owned(), oom_killed: false }
}

/// `/aws/lambda/NAME`.
pub fn log_group(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// `YYYY/MM/DD/[VERSION]<32 hex>`, as Lambda names an environment's stream.
fn log_stream_name(now: Timestamp, version: &str) -> String {
    let date = &now.to_rfc3339_millis()[..10];
    format!("{}/[{version}]{}", date.replace('-', "/"), uuid::Uuid::new_v4().simple())
}

/// An X-Ray trace header: `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id(now: Timestamp) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{:08x}-{};Parent={};Sampled=0", now.as_unix_secs(), &random[..24], &parent[..16])
}

/// Lambda's REPORT line (reference §1.4): tab-separated, two decimals for
/// durations, billed duration rounded up to the millisecond, Init Duration
/// last and only on an environment's first invoke.
pub fn report_line(
    request_id: &str,
    duration: Duration,
    memory_mb: u32,
    max_memory_used_mb: u64,
    init_duration: Option<Duration>,
    status: Option<&str>,
) -> String {
    let duration_ms = duration.as_secs_f64() * 1000.0;
    let billed_ms = (duration.as_nanos().div_ceil(1_000_000)).max(1);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed_ms} ms\t\
         Memory Size: {memory_mb} MB\tMax Memory Used: {max_memory_used_mb} MB\t"
    );
    if let Some(init) = init_duration {
        line.push_str(&format!("Init Duration: {:.2} ms\t", init.as_secs_f64() * 1000.0));
    }
    if let Some(status) = status {
        line.push_str(&format!("Status: {status}\t"));
    }
    line.truncate(line.trim_end_matches('\t').len());
    line
}

/// Base64 of the last 4 KB of the log (on a line boundary where possible).
fn tail_base64(lines: &[String]) -> String {
    use base64::Engine as _;
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    let bytes = text.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
    base64::engine::general_purpose::STANDARD.encode(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_matches_lambda() {
        let line = report_line("id", Duration::from_micros(8_400), 128, 66, Some(Duration::from_micros(170_130)), None);
        assert_eq!(
            line,
            "REPORT RequestId: id\tDuration: 8.40 ms\tBilled Duration: 9 ms\tMemory Size: 128 MB\tMax Memory Used: 66 MB\tInit Duration: 170.13 ms"
        );
        let warm = report_line("id", Duration::from_micros(15_740), 256, 70, None, None);
        assert_eq!(
            warm,
            "REPORT RequestId: id\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 256 MB\tMax Memory Used: 70 MB"
        );
        let timeout = report_line("id", Duration::from_secs(1), 128, 40, None, Some("timeout"));
        assert!(timeout.ends_with("Max Memory Used: 40 MB\tStatus: timeout"), "{timeout}");
    }

    #[test]
    fn payloads() {
        assert_eq!(normalise_payload(Vec::new()).expect("empty"), b"{}");
        assert_eq!(normalise_payload(b"[1]".to_vec()).expect("json"), b"[1]");
        let err = normalise_payload(b"{nope".to_vec()).expect_err("not json");
        assert_eq!(err.error_type, ErrorType::InvalidRequestContentException);
    }

    #[test]
    fn names() {
        let now = Timestamp::from_unix_secs(1_764_000_000);
        let stream = log_stream_name(now, "$LATEST");
        assert!(stream.starts_with("2025/11/24/[$LATEST]"), "{stream}");
        assert_eq!(stream.len(), "2025/11/24/[$LATEST]".len() + 32);
        let trace = trace_id(now);
        assert!(trace.starts_with("Root=1-69248100-"), "{trace}");
        assert_eq!(trace.len(), "Root=1-69248100-".len() + 24 + ";Parent=".len() + 16 + ";Sampled=0".len());
    }
}
