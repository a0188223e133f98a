//! The Lambda Runtime API (2018-06-01) of one execution environment, as a
//! state machine with no HTTP in it.
//!
//! The server exposes a [`RuntimeChannel`] over HTTP on the environment's own
//! `host:port`; the invoker dispatches invocations into it. The runtime's
//! calls move it through these phases:
//!
//! ```text
//! Initializing --/next--> Ready --dispatch--> Invoking(id) --/response|/error--> (next /next) Ready ...
//!      \--/init/error--> Failed
//! ```
//!
//! A call that does not fit the phase gets `403 InvalidStateTransition`; a
//! response for another request id gets `400 InvalidRequestID`. `/next`
//! never times out: it waits until work arrives, as the Runtime API requires.
//!
//! The first `/next` may carry how long the runtime spent in the function's
//! init code (cloudlet's built-in runtime clients send it, see
//! [`crate::cold_start`]); it travels with [`InitOutcome::Ready`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

/// One invocation as the runtime sees it on `/next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Vec<u8>,
    /// `Lambda-Runtime-Deadline-Ms`: Unix epoch milliseconds.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// `Lambda-Runtime-Client-Context` (JSON), when the caller sent one.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity` (JSON), when the caller sent one.
    pub cognito_identity: Option<String>,
}

/// What the runtime said about an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeReply {
    /// `POST /runtime/invocation/{id}/response`.
    Response { body: Vec<u8> },
    /// `POST /runtime/invocation/{id}/error`.
    Error { error_type: Option<String>, body: Vec<u8> },
}

/// How initialisation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// The runtime called `/next` for the first time, saying how long its
    /// init code took if it knows.
    Ready { init_code: Option<Duration> },
    /// The runtime reported `POST /runtime/init/error`.
    Failed { error_type: Option<String>, body: Vec<u8> },
}

/// A Runtime API call that is not allowed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeApiError {
    #[error("State transition from {from} to {to} failed for runtime. Error: State transition is not allowed")]
    InvalidStateTransition { from: &'static str, to: &'static str },
    #[error("Invalid request ID")]
    InvalidRequestId { request_id: String },
}

impl RuntimeApiError {
    /// The `errorType` of the Runtime API's error body.
    pub fn error_type(&self) -> &'static str {
        match self {
            RuntimeApiError::InvalidStateTransition { .. } => "InvalidStateTransition",
            RuntimeApiError::InvalidRequestId { .. } => "InvalidRequestID",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            RuntimeApiError::InvalidStateTransition { .. } => 403,
            RuntimeApiError::InvalidRequestId { .. } => 400,
        }
    }
}

/// The Runtime API of one environment.
#[derive(Debug)]
pub struct RuntimeChannel {
    state: Mutex<State>,
    work_arrived: Notify,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// The invocation waiting to be taken by `/next`.
    pending: Option<(Invocation, oneshot::Sender<RuntimeReply>)>,
    /// The invocation the runtime is working on.
    in_flight: Option<(String, oneshot::Sender<RuntimeReply>)>,
    init_done: Option<oneshot::Sender<InitOutcome>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initializing,
    Ready,
    Invoking,
    Failed,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Initializing => "Initializing",
            Phase::Ready => "Ready",
            Phase::Invoking => "Invoking",
            Phase::Failed => "Failed",
        }
    }
}

impl RuntimeChannel {
    /// A channel for a new environment, and the receiver that learns how its
    /// initialisation ends.
    pub fn new() -> (Arc<RuntimeChannel>, oneshot::Receiver<InitOutcome>) {
        let (init_done, init_outcome) = oneshot::channel();
        let channel = RuntimeChannel {
            state: Mutex::new(State {
                phase: Phase::Initializing,
                pending: None,
                in_flight: None,
                init_done: Some(init_done),
            }),
            work_arrived: Notify::new(),
        };
        (Arc::new(channel), init_outcome)
    }

    /// `GET /runtime/invocation/next`: waits for the next invocation.
    ///
    /// The first call ends initialisation; `init_code` is the runtime's own
    /// report of its init code's duration, if it sent one (ignored on later
    /// calls). Calling `/next` while an invocation is in flight abandons it
    /// without a reply, as a runtime that lost its state would; the invoker
    /// then sees the reply channel close.
    pub async fn next(&self, init_code: Option<Duration>) -> Invocation {
        {
            let mut state = self.lock();
            if state.phase == Phase::Initializing {
                state.phase = Phase::Ready;
                if let Some(init_done) = state.init_done.take() {
                    let _ = init_done.send(InitOutcome::Ready { init_code });
                }
            }
            if state.phase == Phase::Invoking {
                state.in_flight = None;
                state.phase = Phase::Ready;
            }
        }
        loop {
            let notified = self.work_arrived.notified();
            {
                let mut state = self.lock();
                if state.phase == Phase::Ready
                    && let Some((invocation, reply)) = state.pending.take()
                {
                    state.phase = Phase::Invoking;
                    state.in_flight = Some((invocation.request_id.clone(), reply));
                    return invocation;
                }
            }
            notified.await;
        }
    }

    /// `POST /runtime/invocation/{id}/response`.
    pub fn respond(&self, request_id: &str, body: Vec<u8>) -> Result<(), RuntimeApiError> {
        self.reply(request_id, "InvocationResponse", RuntimeReply::Response { body })
    }

    /// `POST /runtime/invocation/{id}/error`.
    pub fn error(&self, request_id: &str, error_type: Option<String>, body: Vec<u8>) -> Result<(), RuntimeApiError> {
        self.reply(request_id, "InvocationErrorResponse", RuntimeReply::Error { error_type, body })
    }

    /// `POST /runtime/init/error`: only while initialising.
    pub fn init_error(&self, error_type: Option<String>, body: Vec<u8>) -> Result<(), RuntimeApiError> {
        let mut state = self.lock();
        if state.phase != Phase::Initializing {
            return Err(RuntimeApiError::InvalidStateTransition { from: state.phase.name(), to: "InitError" });
        }
        state.phase = Phase::Failed;
        if let Some(init_done) = state.init_done.take() {
            let _ = init_done.send(InitOutcome::Failed { error_type, body });
        }
        Ok(())
    }

    /// Hands an invocation to the runtime; the receiver gets its reply, or
    /// closes if the environment dies first.
    pub fn dispatch(&self, invocation: Invocation) -> oneshot::Receiver<RuntimeReply> {
        let (reply, replied) = oneshot::channel();
        self.lock().pending = Some((invocation, reply));
        self.work_arrived.notify_one();
        replied
    }

    fn reply(&self, request_id: &str, to: &'static str, reply: RuntimeReply) -> Result<(), RuntimeApiError> {
        let mut state = self.lock();
        if state.phase != Phase::Invoking {
            return Err(RuntimeApiError::InvalidStateTransition { from: state.phase.name(), to });
        }
        match state.in_flight.take() {
            Some((id, sender)) if id == request_id => {
                state.phase = Phase::Ready;
                let _ = sender.send(reply);
                Ok(())
            }
            other => {
                state.in_flight = other;
                Err(RuntimeApiError::InvalidRequestId { request_id: request_id.to_owned() })
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Each update is a handful of field writes with no panics between.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Serves a [`RuntimeChannel`] over HTTP on its own `host:port`. The server
/// crate implements this: only it knows HTTP.
pub trait RuntimeApiServer: Send + Sync + std::fmt::Debug {
    fn serve(&self, channel: Arc<RuntimeChannel>) -> std::io::Result<RuntimeEndpoint>;
}

/// A served Runtime API: its address, and how to stop serving it.
pub struct RuntimeEndpoint {
    pub addr: std::net::SocketAddr,
    pub stop: Box<dyn FnOnce() + Send>,
}

impl std::fmt::Debug for RuntimeEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeEndpoint").field("addr", &self.addr).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(id: &str) -> Invocation {
        Invocation {
            request_id: id.to_owned(),
            payload: b"{}".to_vec(),
            deadline_ms: 1,
            invoked_function_arn: "arn".to_owned(),
            trace_id: "Root=1-0-0".to_owned(),
            client_context: None,
            cognito_identity: None,
        }
    }

    #[tokio::test]
    async fn init_then_invoke_then_respond() {
        let (channel, init) = RuntimeChannel::new();
        let replied = channel.dispatch(invocation("a"));
        let got = channel.next(None).await;
        assert_eq!(init.await.expect("init outcome"), InitOutcome::Ready { init_code: None });
        assert_eq!(got.request_id, "a");
        channel.respond("a", b"42".to_vec()).expect("respond");
        assert_eq!(replied.await.expect("reply"), RuntimeReply::Response { body: b"42".to_vec() });
    }

    #[tokio::test]
    async fn wrong_phase_and_wrong_id_are_refused() {
        let (channel, _init) = RuntimeChannel::new();
        let err = channel.respond("x", Vec::new()).expect_err("no invocation yet");
        assert_eq!((err.http_status(), err.error_type()), (403, "InvalidStateTransition"));
        assert_eq!(
            err.to_string(),
            "State transition from Initializing to InvocationResponse failed for runtime. Error: State transition is not allowed"
        );

        let _replied = channel.dispatch(invocation("a"));
        channel.next(None).await;
        let err = channel.respond("b", Vec::new()).expect_err("wrong id");
        assert_eq!((err.http_status(), err.error_type()), (400, "InvalidRequestID"));
        channel.error("a", Some("Unhandled".into()), b"{}".to_vec()).expect("right id still works");
        let err = channel.respond("a", Vec::new()).expect_err("already answered");
        assert_eq!(err.error_type(), "InvalidStateTransition");
        let err = channel.init_error(None, Vec::new()).expect_err("init is over");
        assert_eq!(err.error_type(), "InvalidStateTransition");
    }

    #[tokio::test]
    async fn only_the_first_next_reports_init_code() {
        let (channel, init) = RuntimeChannel::new();
        let replied = channel.dispatch(invocation("a"));
        channel.next(Some(Duration::from_micros(1500))).await;
        assert_eq!(init.await.expect("outcome"), InitOutcome::Ready { init_code: Some(Duration::from_micros(1500)) });
        channel.respond("a", Vec::new()).expect("respond");
        replied.await.expect("reply");
        // A later report changes nothing: init is over, and the phase
        // stays Ready until work arrives.
        let _second = channel.dispatch(invocation("b"));
        assert_eq!(channel.next(Some(Duration::from_secs(9))).await.request_id, "b");
        let err = channel.init_error(None, Vec::new()).expect_err("init is over");
        assert_eq!(err.error_type(), "InvalidStateTransition");
    }

    #[tokio::test]
    async fn init_error_reaches_the_waiting_invoker() {
        let (channel, init) = RuntimeChannel::new();
        channel.init_error(Some("Runtime.ImportModuleError".into()), b"{}".to_vec()).expect("init error");
        assert_eq!(
            init.await.expect("outcome"),
            InitOutcome::Failed { error_type: Some("Runtime.ImportModuleError".into()), body: b"{}".to_vec() }
        );
    }

    #[tokio::test]
    async fn next_waits_until_work_arrives() {
        let (channel, _init) = RuntimeChannel::new();
        let waiting = tokio::spawn({
            let channel = Arc::clone(&channel);
            async move { channel.next(None).await.request_id }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        let _replied = channel.dispatch(invocation("late"));
        assert_eq!(waiting.await.expect("join"), "late");
    }
}
