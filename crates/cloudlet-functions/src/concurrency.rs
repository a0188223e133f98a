//! Concurrency, scaling and the execution-environment pool: for every Lambda
//! invocation, which execution environment serves it, or which throttle the
//! caller gets.
//!
//! [`ConcurrencyController`] owns the account's concurrency limits, each
//! function's reserved concurrency, the provisioned concurrency configs, the
//! per-function scaling buckets and the set of live execution environments
//! with their states. It is a plain state machine: it does no I/O, reads no
//! clock (every time-dependent call takes `now`), uses no randomness and
//! spawns nothing. The executor asks it for a decision ([`Admission`],
//! [`Throttle`], environments to start or shut down) and carries the decision
//! out; the caller wraps the controller in a mutex.
//!
//! # Accounting
//!
//! The numbers below are Lambda's, from `reference/serverless.md` §3.1:
//!
//! - *Concurrent executions* of a function are its in-flight invocations:
//!   busy environments plus on-demand environments initialising for a waiting
//!   invoke. A provisioned environment that is still initialising, or idle,
//!   serves no invocation and is not an execution.
//! - Provisioned concurrency (PC) of a function **with** reserved concurrency
//!   `R` is carved out of `R` (PC "counts against reserved concurrency"), so
//!   its on-demand room is `R − Σ requested PC of the function`. That is what
//!   makes the recorded AWS case come out right: with `R = 1` and `PC = 1` on
//!   version 1, an invoke of version 1 takes the idle provisioned environment
//!   while an invoke of `$LATEST` has `1 − 1 = 0` on-demand room and is
//!   throttled with `ReservedFunctionConcurrentInvocationLimitExceeded`.
//! - PC of a function **without** a reservation is carved out of the account:
//!   `unreserved pool = account limit − Σ reserved − Σ PC of functions
//!   without a reservation`. Every on-demand execution of a function without
//!   a reservation is an *unreserved execution* and must fit in that pool.
//! - `ClaimedAccountConcurrency = unreserved executions + Σ reserved + Σ PC of
//!   functions without a reservation`, which never exceeds the account limit.
//!
//! # Admission, in order
//!
//! 1. **Provisioned.** If the invoked qualifier has a PC config for the
//!    resolved version and one of its environments is idle, it serves the
//!    invoke. PC is matched on the qualifier *as invoked*, the way Lambda
//!    attributes provisioned invocations: invoking `1` directly does not use
//!    the PC of an alias `live → 1`.
//! 2. **Concurrency.** Otherwise the invoke runs on demand (a *spill-over*
//!    when the qualifier has PC, all of it busy or not ready yet). With a
//!    reservation: on-demand executions `< R − Σ PC`, else
//!    `ReservedFunctionConcurrentInvocationLimitExceeded`; without one:
//!    unreserved executions `<` unreserved pool, else
//!    `ConcurrentInvocationLimitExceeded`.
//! 3. **Warm.** The most recently used idle on-demand environment of the same
//!    function *and version* (an environment runs one version's code) serves
//!    it: last in, first out, so a few environments stay hot and the rest age
//!    out.
//! 4. **Cold.** A new environment needs a scaling token of the function and
//!    room in the host memory budget, evicting least-recently-used idle
//!    on-demand environments of any function to make room.
//!
//! # Decisions where AWS is silent
//!
//! Each is documented where it is made: the `Reason` of scaling-rate and
//! host-capacity throttles ([`ThrottleReason::as_str`]); the on-demand room
//! of a reserved function subtracts *requested* PC, ready or not; PC is
//! matched on the invoked qualifier; starting PC takes no scaling token but
//! does take host memory ([`ConcurrencyController::start_provisioned`]);
//! `Available` PC equals `Allocated` ([`ProvisionedStatus`]); a reservation
//! below the function's PC is refused
//! ([`ConcurrencyConfigError::ReservedBelowProvisioned`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cloudlet_core::Timestamp;

/// The unpublished version of every function; it can never have provisioned
/// concurrency.
pub const LATEST_VERSION: &str = "$LATEST";

/// AWS's message for every throttle it models (LS-SNAP, recorded against AWS).
const RATE_EXCEEDED: &str = "Rate Exceeded.";

/// The limits and timings the controller enforces; `cloudlet up` sets them
/// from its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrencySettings {
    /// Account concurrency (`AccountLimit.ConcurrentExecutions`), 1,000 on AWS.
    pub account_concurrency_limit: u32,
    /// Concurrency that reservations and PC must leave unreserved, 100 on AWS.
    pub unreserved_concurrency_minimum: u32,
    /// New execution environments per `scaling_window` per function: 1,000
    /// per 10 s on AWS. Zero throttles every cold start.
    pub scaling_rate: u32,
    /// The window of `scaling_rate`. Zero disables the scaling limit.
    pub scaling_window: Duration,
    /// The sum of `memory_mb` of all live environments may not exceed this.
    /// cloudlet's own limit: AWS has no host to run out of, a laptop does.
    pub host_memory_budget_mb: u64,
    /// How long an idle on-demand environment is kept for reuse. Zero means
    /// never reused: an environment is shut down as soon as its invoke ends.
    pub keep_alive: Duration,
}

impl Default for ConcurrencySettings {
    /// AWS's limits; a 10-minute keep-alive (AWS's observed value, and
    /// LocalStack's default); an 8 GiB memory budget, which fits 64 default
    /// 128 MB functions and any laptop. `cloudlet up` sizes the budget to the
    /// host it runs on.
    fn default() -> ConcurrencySettings {
        ConcurrencySettings {
            account_concurrency_limit: 1000,
            unreserved_concurrency_minimum: 100,
            scaling_rate: 1000,
            scaling_window: Duration::from_secs(10),
            host_memory_budget_mb: 8192,
            keep_alive: Duration::from_secs(600),
        }
    }
}

/// An execution environment's id, allocated sequentially and never reused,
/// so a late call about an environment that is gone cannot hit a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvId(pub u64);

impl fmt::Display for EnvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "env-{}", self.0)
    }
}

/// One execution environment as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionEnvironment {
    pub id: EnvId,
    pub function: Arc<str>,
    /// The version whose code it runs: `$LATEST`, `1`, `2`, ...
    pub version: Arc<str>,
    pub memory_mb: u32,
    pub kind: EnvironmentKind,
    pub state: EnvironmentState,
    /// Shut down when its invoke ends instead of going back to the pool: its
    /// version's code changed, or its PC config no longer needs it.
    retired: bool,
    /// Release order, for last-in-first-out reuse; meaningful while idle.
    idle_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvironmentKind {
    /// Started for an invoke; reclaimed after the keep-alive.
    OnDemand,
    /// Pre-initialised for the PC config of `qualifier`; never reclaimed for
    /// idleness.
    Provisioned { qualifier: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentState {
    /// Starting up: for a waiting invoke (on demand) or ahead of traffic (PC).
    Initializing,
    /// Frozen between invokes since the given time.
    Idle { since: Timestamp },
    /// Running an invoke.
    Busy,
}

/// An invocation asking for an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvokeRequest<'a> {
    pub function: &'a str,
    /// The qualifier as invoked: a version, an alias name, or `$LATEST` for
    /// an unqualified invoke.
    pub qualifier: &'a str,
    /// The version the qualifier resolves to.
    pub version: &'a str,
    pub memory_mb: u32,
}

/// Where an admitted invocation runs. The environment id doubles as the
/// invocation's lease: an environment serves one invoke at a time, so
/// [`ConcurrencyController::release`] of the environment ends the invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// An idle provisioned environment: no init, counted as a
    /// `ProvisionedConcurrencyInvocation`.
    Provisioned { env: EnvId },
    /// An idle on-demand environment of the same function and version.
    Warm { env: EnvId, spillover: bool },
    /// A new on-demand environment in [`EnvironmentState::Initializing`]: the
    /// executor starts it, shuts down `evicted` first, and calls
    /// [`ConcurrencyController::init_finished`] when its runtime is ready.
    Cold { env: EnvId, spillover: bool, evicted: Vec<EnvId> },
}

impl Admission {
    pub fn env(&self) -> EnvId {
        match self {
            Admission::Provisioned { env } | Admission::Warm { env, .. } | Admission::Cold { env, .. } => *env,
        }
    }
}

/// An invocation refused for lack of concurrency or capacity: HTTP 429
/// `TooManyRequestsException` with `Reason` = [`ThrottleReason::as_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Throttle {
    pub reason: ThrottleReason,
    pub message: Cow<'static, str>,
}

/// Why an invocation was throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleReason {
    /// The unreserved pool is exhausted (function without a reservation).
    ConcurrentInvocationLimitExceeded,
    /// The function's reserved concurrency, less its PC, is exhausted.
    ReservedFunctionConcurrentInvocationLimitExceeded,
    /// The function's scaling bucket has no token for a new environment.
    ScalingRate,
    /// cloudlet's host memory budget has no room for a new environment.
    HostCapacity,
}

impl ThrottleReason {
    pub const ALL: [ThrottleReason; 4] = [
        ThrottleReason::ConcurrentInvocationLimitExceeded,
        ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded,
        ThrottleReason::ScalingRate,
        ThrottleReason::HostCapacity,
    ];

    /// The `Reason` on the wire: always a value of AWS's `ThrottleReason`
    /// enum, so SDK code that switches on it keeps working.
    ///
    /// - `ScalingRate` → `ConcurrentInvocationLimitExceeded`. AWS does not
    ///   document which reason a scaling-rate throttle carries. The scaling
    ///   rate limits how fast *concurrency* may grow; the
    ///   `*InvocationRateLimitExceeded` reasons belong to the
    ///   requests-per-second quota (10 × concurrency), which is a different
    ///   limit.
    /// - `HostCapacity` → `ConcurrentInvocationLimitExceeded`: the local
    ///   account has no capacity left; the message names host capacity.
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::ConcurrentInvocationLimitExceeded
            | ThrottleReason::ScalingRate
            | ThrottleReason::HostCapacity => "ConcurrentInvocationLimitExceeded",
            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded => {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
        }
    }

    /// A name distinct per variant, for metric labels and logs.
    pub fn label(self) -> &'static str {
        match self {
            ThrottleReason::ConcurrentInvocationLimitExceeded => "ConcurrentInvocationLimitExceeded",
            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded => {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
            ThrottleReason::ScalingRate => "ScalingRate",
            ThrottleReason::HostCapacity => "HostCapacity",
        }
    }
}

/// How an invoke ended, as far as its environment is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The runtime is healthy and may serve the next invoke (function errors
    /// included: the runtime reported them).
    Reusable,
    /// Timeout, crash, out of memory, failed init: Lambda resets such an
    /// environment, so it is never reused.
    Discard,
}

/// What the executor does with an environment after a lifecycle call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Keep the process: it runs the invoke, or stays frozen in the pool.
    Keep,
    /// Shut the process down: the controller has forgotten the environment.
    ShutDown,
}

/// A provisioned environment to start, from
/// [`ConcurrencyController::start_provisioned`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedStart {
    pub env: EnvId,
    /// Idle on-demand environments evicted to make memory room: shut them
    /// down first.
    pub evicted: Vec<EnvId>,
}

/// A PC config that has fewer environments than it requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedDeficit {
    pub function: String,
    pub qualifier: String,
    pub version: String,
    /// How many environments to start.
    pub missing: u32,
}

/// `GetProvisionedConcurrencyConfig`'s numbers for one config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvisionedStatus {
    pub requested: u32,
    /// Environments initialised (idle or busy).
    pub allocated: u32,
    /// Equal to `allocated`: AWS makes the two differ only while a weighted
    /// alias shifts traffic between versions, which cloudlet does not model.
    pub available: u32,
    pub status: ProvisionedConcurrencyStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionedConcurrencyStatus {
    InProgress,
    Ready,
}

impl ProvisionedConcurrencyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionedConcurrencyStatus::InProgress => "IN_PROGRESS",
            ProvisionedConcurrencyStatus::Ready => "READY",
        }
    }
}

/// A rejected concurrency setting, with AWS's exact message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConcurrencyConfigError {
    /// AWS's message (LS-SNAP).
    #[error(
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{unreserved_minimum}]."
    )]
    ReservedBelowUnreservedMinimum { unreserved_minimum: u32 },
    /// cloudlet's wording: AWS's message for lowering a reservation below the
    /// function's PC is not recorded anywhere we could read.
    #[error(
        "Specified ReservedConcurrentExecutions for function is less than the function's total provisioned concurrency [{provisioned}]."
    )]
    ReservedBelowProvisioned { provisioned: u32 },
    /// AWS's model constraint (`ProvisionedConcurrentExecutions` ≥ 1).
    #[error(
        "1 validation error detected: Value '{value}' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"
    )]
    ProvisionedBelowOne { value: u32 },
    /// AWS's message, also for an alias that points at `$LATEST`.
    #[error("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")]
    ProvisionedOnUnpublishedVersion,
    /// AWS's message (LocalStack, AWS-validated).
    #[error(
        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
    )]
    ProvisionedAboveReserved,
    /// AWS's message; `[N]` is the unreserved pool without this config.
    #[error(
        "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [{unreserved}]."
    )]
    ProvisionedAboveUnreserved { unreserved: u32 },
    /// AWS's message (LocalStack, AWS-validated).
    #[error(
        "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{unreserved_minimum}]."
    )]
    ProvisionedBelowUnreservedMinimum { unreserved_minimum: u32 },
    /// AWS's message (LocalStack, AWS-validated).
    #[error("Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")]
    AliasOnProvisionedVersion,
    /// AWS's message (LocalStack, AWS-validated).
    #[error("Version is pointed by a Provisioned Concurrency alias")]
    VersionPointedByProvisionedAlias,
}

impl ConcurrencyConfigError {
    /// The AWS error code (`x-amzn-ErrorType`); every one of them is HTTP
    /// 400 except `ResourceConflictException` (409).
    pub fn code(&self) -> &'static str {
        match self {
            ConcurrencyConfigError::ProvisionedBelowOne { .. } => "ValidationException",
            ConcurrencyConfigError::AliasOnProvisionedVersion
            | ConcurrencyConfigError::VersionPointedByProvisionedAlias => "ResourceConflictException",
            _ => "InvalidParameterValueException",
        }
    }
}

/// Why a provisioned environment could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionedStartError {
    #[error("provisioned concurrency of `{function}:{qualifier}` needs no more environments")]
    NothingToStart { function: String, qualifier: String },
    #[error(
        "a {memory_mb} MB provisioned environment does not fit in the host memory budget of {budget_mb} MB ({held_mb} MB held by busy, initialising or provisioned environments)"
    )]
    HostCapacity { memory_mb: u32, budget_mb: u64, held_mb: u64 },
}

/// Everything `/metrics` and `cloudlet fn stats` need, as plain numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub account: AccountMetrics,
    pub functions: BTreeMap<String, FunctionMetrics>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountMetrics {
    pub concurrent_executions: u32,
    pub unreserved_concurrent_executions: u32,
    pub claimed_account_concurrency: u64,
    pub host_memory_used_mb: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionMetrics {
    /// Gauge: in-flight invocations, provisioned and on demand.
    pub concurrent_executions: u32,
    /// Gauge: invocations running on provisioned environments.
    pub provisioned_concurrent_executions: u32,
    pub cold_starts: u64,
    pub warm_starts: u64,
    pub provisioned_concurrency_invocations: u64,
    pub provisioned_concurrency_spillover_invocations: u64,
    pub throttles: ThrottleCounts,
}

/// Throttled invocations by [`ThrottleReason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleCounts {
    pub concurrent_invocation_limit_exceeded: u64,
    pub reserved_function_concurrent_invocation_limit_exceeded: u64,
    pub scaling_rate: u64,
    pub host_capacity: u64,
}

impl ThrottleCounts {
    pub fn get(&self, reason: ThrottleReason) -> u64 {
        *self.slot(reason)
    }

    fn record(&mut self, reason: ThrottleReason) {
        *self.slot_mut(reason) += 1;
    }

    fn slot(&self, reason: ThrottleReason) -> &u64 {
        match reason {
            ThrottleReason::ConcurrentInvocationLimitExceeded => &self.concurrent_invocation_limit_exceeded,
            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded => {
                &self.reserved_function_concurrent_invocation_limit_exceeded
            }
            ThrottleReason::ScalingRate => &self.scaling_rate,
            ThrottleReason::HostCapacity => &self.host_capacity,
        }
    }

    fn slot_mut(&mut self, reason: ThrottleReason) -> &mut u64 {
        match reason {
            ThrottleReason::ConcurrentInvocationLimitExceeded => &mut self.concurrent_invocation_limit_exceeded,
            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded => {
                &mut self.reserved_function_concurrent_invocation_limit_exceeded
            }
            ThrottleReason::ScalingRate => &mut self.scaling_rate,
            ThrottleReason::HostCapacity => &mut self.host_capacity,
        }
    }
}

/// The decision core; see the module docs.
#[derive(Debug)]
pub struct ConcurrencyController {
    settings: ConcurrencySettings,
    functions: BTreeMap<Arc<str>, FunctionState>,
    environments: HashMap<EnvId, ExecutionEnvironment>,
    /// Every idle on-demand environment, least recently used first: the
    /// order of keep-alive expiry and of eviction.
    idle_on_demand: BTreeMap<(Timestamp, u64), EnvId>,
    usage: Usage,
    /// `Σ reserved` over functions with a reservation.
    reserved_total: u64,
    /// `Σ requested PC` over functions without a reservation.
    provisioned_unreserved_total: u64,
    next_env_id: u64,
    next_idle_seq: u64,
}

/// Running totals kept in step with every state change, so admission never
/// sums over all environments.
#[derive(Debug, Default)]
struct Usage {
    /// Account `ConcurrentExecutions`.
    in_flight: u32,
    /// Account `UnreservedConcurrentExecutions`.
    unreserved_in_flight: u32,
    memory_used_mb: u64,
    /// The part of `memory_used_mb` that eviction could free.
    idle_on_demand_memory_mb: u64,
}

impl Usage {
    fn on_demand_started(&mut self, function: &mut FunctionState) {
        function.on_demand_in_flight += 1;
        if function.reserved.is_none() {
            self.unreserved_in_flight += 1;
        }
        self.in_flight += 1;
    }

    fn on_demand_ended(&mut self, function: &mut FunctionState) {
        function.on_demand_in_flight = function.on_demand_in_flight.saturating_sub(1);
        if function.reserved.is_none() {
            self.unreserved_in_flight = self.unreserved_in_flight.saturating_sub(1);
        }
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    fn provisioned_started(&mut self, function: &mut FunctionState) {
        function.provisioned_in_flight += 1;
        self.in_flight += 1;
    }

    fn provisioned_ended(&mut self, function: &mut FunctionState) {
        function.provisioned_in_flight = function.provisioned_in_flight.saturating_sub(1);
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

#[derive(Debug)]
struct FunctionState {
    reserved: Option<u32>,
    /// PC configs by qualifier (version or alias).
    provisioned: BTreeMap<String, ProvisionedConfig>,
    scaling: ScalingBucket,
    environments: BTreeSet<EnvId>,
    /// Idle on-demand environments by version, in release order (the last is
    /// the most recently used).
    idle_on_demand: HashMap<Arc<str>, BTreeMap<u64, EnvId>>,
    /// Busy on-demand environments plus those initialising for an invoke.
    on_demand_in_flight: u32,
    provisioned_in_flight: u32,
    counters: FunctionMetrics,
}

impl FunctionState {
    fn new() -> FunctionState {
        FunctionState {
            reserved: None,
            provisioned: BTreeMap::new(),
            scaling: ScalingBucket::default(),
            environments: BTreeSet::new(),
            idle_on_demand: HashMap::new(),
            on_demand_in_flight: 0,
            provisioned_in_flight: 0,
            counters: FunctionMetrics::default(),
        }
    }

    fn provisioned_requested(&self) -> u32 {
        self.provisioned.values().map(|config| config.requested).sum()
    }

    fn metrics(&self) -> FunctionMetrics {
        FunctionMetrics {
            concurrent_executions: self.on_demand_in_flight + self.provisioned_in_flight,
            provisioned_concurrent_executions: self.provisioned_in_flight,
            ..self.counters
        }
    }

    fn throttle(&mut self, reason: ThrottleReason) -> Throttle {
        self.counters.throttles.record(reason);
        Throttle { reason, message: Cow::Borrowed(RATE_EXCEEDED) }
    }
}

#[derive(Debug)]
struct ProvisionedConfig {
    version: Arc<str>,
    requested: u32,
    /// The environments serving this config, in any state; retired ones are
    /// no longer listed.
    environments: Vec<EnvId>,
    /// The idle ones, most recently used last.
    idle: Vec<EnvId>,
}

/// The per-function scaling-rate token bucket.
///
/// Capacity is `scaling_rate` tokens, refilled continuously at
/// `scaling_rate / scaling_window`. To stay exact, amounts are kept in
/// *units* of one token = `scaling_window` in nanoseconds: each elapsed
/// nanosecond adds `scaling_rate` units, so with 1,000 per 10 s, 10 ms refill
/// exactly one token and no rounding ever loses or invents one. Unused rate
/// does not accumulate beyond capacity.
#[derive(Debug, Default)]
struct ScalingBucket {
    units: u128,
    /// `None` until the first cold start: a new function starts full.
    refilled_at: Option<Timestamp>,
}

impl ScalingBucket {
    fn refill(&mut self, now: Timestamp, settings: &ConcurrencySettings) {
        let rate = u128::from(settings.scaling_rate);
        let capacity = rate * settings.scaling_window.as_nanos();
        self.units = match self.refilled_at {
            None => capacity,
            Some(at) => {
                let elapsed = now.saturating_duration_since(at).as_nanos();
                self.units.saturating_add(elapsed.saturating_mul(rate)).min(capacity)
            }
        };
        // A clock set backwards refills nothing until it passes `at` again.
        self.refilled_at = Some(self.refilled_at.map_or(now, |at| at.max(now)));
    }

    fn has_token(&self, settings: &ConcurrencySettings) -> bool {
        self.units >= settings.scaling_window.as_nanos()
    }

    fn take_token(&mut self, settings: &ConcurrencySettings) {
        self.units -= settings.scaling_window.as_nanos();
    }
}

impl ConcurrencyController {
    pub fn new(settings: ConcurrencySettings) -> ConcurrencyController {
        ConcurrencyController {
            settings,
            functions: BTreeMap::new(),
            environments: HashMap::new(),
            idle_on_demand: BTreeMap::new(),
            usage: Usage::default(),
            reserved_total: 0,
            provisioned_unreserved_total: 0,
            next_env_id: 1,
            next_idle_seq: 0,
        }
    }

    pub fn settings(&self) -> &ConcurrencySettings {
        &self.settings
    }

    /// The unreserved pool (`AccountLimit.UnreservedConcurrentExecutions`):
    /// `account limit − Σ reserved − Σ PC of functions without a reservation`.
    pub fn unreserved_concurrency(&self) -> u32 {
        let claimed = self.reserved_total + self.provisioned_unreserved_total;
        let unreserved = u64::from(self.settings.account_concurrency_limit).saturating_sub(claimed);
        u32::try_from(unreserved).unwrap_or(u32::MAX)
    }

    pub fn reserved_concurrency(&self, function: &str) -> Option<u32> {
        self.functions.get(function).and_then(|state| state.reserved)
    }

    pub fn environment(&self, env: EnvId) -> Option<&ExecutionEnvironment> {
        self.environments.get(&env)
    }

    /// Decides where an invocation runs (see the module docs for the order),
    /// or throttles it.
    pub fn admit(&mut self, invoke: &InvokeRequest<'_>, now: Timestamp) -> Result<Admission, Throttle> {
        let unreserved_pool = self.unreserved_concurrency();
        // Looked up before inserting so that only a function's first invoke
        // allocates its name.
        let function = match self.functions.get_mut(invoke.function) {
            Some(function) => function,
            None => self.functions.entry(Arc::from(invoke.function)).or_insert_with(FunctionState::new),
        };

        let mut spillover = false;
        let mut provisioned = None;
        if let Some(config) = function.provisioned.get_mut(invoke.qualifier)
            && *config.version == *invoke.version
        {
            spillover = true;
            provisioned = config.idle.pop();
        }
        if let Some(id) = provisioned
            && let Some(env) = self.environments.get_mut(&id)
        {
            env.state = EnvironmentState::Busy;
            self.usage.provisioned_started(function);
            function.counters.provisioned_concurrency_invocations += 1;
            return Ok(Admission::Provisioned { env: id });
        }

        let has_room = match function.reserved {
            Some(reserved) => function.on_demand_in_flight < reserved.saturating_sub(function.provisioned_requested()),
            None => self.usage.unreserved_in_flight < unreserved_pool,
        };
        if !has_room {
            let reason = match function.reserved {
                Some(_) => ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded,
                None => ThrottleReason::ConcurrentInvocationLimitExceeded,
            };
            return Err(function.throttle(reason));
        }

        let warm = function.idle_on_demand.get_mut(invoke.version).and_then(BTreeMap::pop_last);
        if let Some((_, id)) = warm
            && let Some(env) = self.environments.get_mut(&id)
        {
            if let EnvironmentState::Idle { since } = env.state {
                self.idle_on_demand.remove(&(since, env.idle_seq));
            }
            self.usage.idle_on_demand_memory_mb -= u64::from(env.memory_mb);
            env.state = EnvironmentState::Busy;
            self.usage.on_demand_started(function);
            function.counters.warm_starts += 1;
            function.counters.provisioned_concurrency_spillover_invocations += u64::from(spillover);
            return Ok(Admission::Warm { env: id, spillover });
        }

        function.scaling.refill(now, &self.settings);
        if !function.scaling.has_token(&self.settings) {
            return Err(function.throttle(ThrottleReason::ScalingRate));
        }
        let held_mb = self.usage.memory_used_mb - self.usage.idle_on_demand_memory_mb;
        let budget_mb = self.settings.host_memory_budget_mb;
        if held_mb + u64::from(invoke.memory_mb) > budget_mb {
            function.counters.throttles.record(ThrottleReason::HostCapacity);
            return Err(Throttle {
                reason: ThrottleReason::HostCapacity,
                message: Cow::Owned(format!(
                    "{RATE_EXCEEDED} Host capacity: a new {} MB execution environment does not fit in cloudlet's host \
                     memory budget of {budget_mb} MB ({held_mb} MB held by busy, initialising or provisioned \
                     environments).",
                    invoke.memory_mb
                )),
            });
        }
        function.scaling.take_token(&self.settings);
        function.counters.cold_starts += 1;
        function.counters.provisioned_concurrency_spillover_invocations += u64::from(spillover);

        let evicted = self.evict_for(invoke.memory_mb);
        let env = self.create_environment(
            invoke.function,
            Arc::from(invoke.version),
            invoke.memory_mb,
            EnvironmentKind::OnDemand,
        );
        if let Some(function) = self.functions.get_mut(invoke.function) {
            self.usage.on_demand_started(function);
        }
        Ok(Admission::Cold { env, spillover, evicted })
    }

    /// An environment's runtime and init code are ready: an on-demand
    /// environment starts the invoke it was created for (→ busy), a
    /// provisioned one joins its config's pool (→ idle).
    ///
    /// [`Disposition::ShutDown`] when the controller no longer knows the
    /// environment (its function was deleted, its PC lowered meanwhile).
    pub fn init_finished(&mut self, env: EnvId, now: Timestamp) -> Disposition {
        let Some(environment) = self.environments.get_mut(&env) else {
            return Disposition::ShutDown;
        };
        if environment.state != EnvironmentState::Initializing {
            return Disposition::Keep;
        }
        match &environment.kind {
            EnvironmentKind::OnDemand => environment.state = EnvironmentState::Busy,
            EnvironmentKind::Provisioned { qualifier } => {
                environment.state = EnvironmentState::Idle { since: now };
                let config = self
                    .functions
                    .get_mut(&*environment.function)
                    .and_then(|function| function.provisioned.get_mut(qualifier.as_str()));
                if let Some(config) = config {
                    config.idle.push(env);
                }
            }
        }
        Disposition::Keep
    }

    /// An invoke ended. A healthy environment goes back to the pool (idle
    /// since `now`); a discarded, retired, or — with a zero keep-alive —
    /// on-demand one is forgotten and must be shut down.
    pub fn release(&mut self, env: EnvId, now: Timestamp, outcome: Outcome) -> Disposition {
        let Some(environment) = self.environments.get(&env) else {
            return Disposition::ShutDown;
        };
        let reusable = outcome == Outcome::Reusable
            && !environment.retired
            && environment.state == EnvironmentState::Busy
            && (matches!(environment.kind, EnvironmentKind::Provisioned { .. }) || !self.settings.keep_alive.is_zero());
        if !reusable {
            self.remove_environment(env);
            return Disposition::ShutDown;
        }

        let function_name = environment.function.clone();
        let (Some(environment), Some(function)) =
            (self.environments.get_mut(&env), self.functions.get_mut(&*function_name))
        else {
            return Disposition::ShutDown;
        };
        let seq = self.next_idle_seq;
        self.next_idle_seq += 1;
        environment.state = EnvironmentState::Idle { since: now };
        environment.idle_seq = seq;
        match &environment.kind {
            EnvironmentKind::OnDemand => {
                self.usage.on_demand_ended(function);
                self.usage.idle_on_demand_memory_mb += u64::from(environment.memory_mb);
                function.idle_on_demand.entry(environment.version.clone()).or_default().insert(seq, env);
                self.idle_on_demand.insert((now, seq), env);
            }
            EnvironmentKind::Provisioned { qualifier } => {
                self.usage.provisioned_ended(function);
                if let Some(config) = function.provisioned.get_mut(qualifier.as_str()) {
                    config.idle.push(env);
                }
            }
        }
        Disposition::Keep
    }

    /// Forgets idle on-demand environments whose idle time has reached the
    /// keep-alive, and returns them for shutdown. Provisioned environments
    /// are never reaped.
    pub fn reap(&mut self, now: Timestamp) -> Vec<EnvId> {
        let mut reaped = Vec::new();
        while let Some((&(since, _), _)) = self.idle_on_demand.first_key_value() {
            if now.saturating_duration_since(since) < self.settings.keep_alive {
                break;
            }
            if let Some((_, env)) = self.idle_on_demand.pop_first() {
                self.remove_environment(env);
                reaped.push(env);
            }
        }
        reaped
    }

    /// When [`ConcurrencyController::reap`] next has something to do, if
    /// anything is idle: the executor sleeps on the injected clock until then.
    pub fn next_reap_deadline(&self) -> Option<Timestamp> {
        self.idle_on_demand.first_key_value().map(|(&(since, _), _)| since + self.settings.keep_alive)
    }

    /// Forgets an environment whose process died, in whatever state; an
    /// invocation it was running no longer counts.
    pub fn remove(&mut self, env: EnvId) {
        self.remove_environment(env);
    }

    /// The code of `version` changed (`UpdateFunctionCode` on `$LATEST`):
    /// its idle on-demand environments are forgotten and returned for
    /// shutdown; busy or initialising ones are shut down when their invoke
    /// ends. Provisioned environments follow their PC config instead.
    pub fn retire_version(&mut self, function: &str, version: &str) -> Vec<EnvId> {
        let Some(state) = self.functions.get(function) else {
            return Vec::new();
        };
        let mut idle = Vec::new();
        for id in &state.environments {
            let Some(env) = self.environments.get_mut(id) else { continue };
            if *env.version != *version || env.kind != EnvironmentKind::OnDemand {
                continue;
            }
            match env.state {
                EnvironmentState::Idle { .. } => idle.push(*id),
                EnvironmentState::Initializing | EnvironmentState::Busy => env.retired = true,
            }
        }
        for id in &idle {
            self.remove_environment(*id);
        }
        idle
    }

    /// The function was deleted: forgets its settings, counters and every
    /// environment, all of which are returned for shutdown.
    pub fn delete_function(&mut self, function: &str) -> Vec<EnvId> {
        let Some(state) = self.functions.get(function) else {
            return Vec::new();
        };
        let environments: Vec<EnvId> = state.environments.iter().copied().collect();
        for id in &environments {
            self.remove_environment(*id);
        }
        self.functions.remove(function);
        self.recompute_claims();
        environments
    }

    /// `PutFunctionConcurrency`.
    ///
    /// Rejected when it would leave the unreserved pool below its minimum:
    /// `account limit − Σ other reservations − Σ PC of other functions
    /// without a reservation − reserved < minimum`. (This function's own PC
    /// moves into its reservation, so it is not subtracted twice.) Also
    /// rejected below the function's total PC, which must fit inside it.
    pub fn put_reserved_concurrency(&mut self, function: &str, reserved: u32) -> Result<(), ConcurrencyConfigError> {
        let (own_reserved, own_unreserved_pc, own_pc) = match self.functions.get(function) {
            Some(state) => {
                let pc = state.provisioned_requested();
                match state.reserved {
                    Some(r) => (u64::from(r), 0, pc),
                    None => (0, u64::from(pc), pc),
                }
            }
            None => (0, 0, 0),
        };
        let others_claimed =
            (self.reserved_total - own_reserved) + (self.provisioned_unreserved_total - own_unreserved_pc);
        let minimum = self.settings.unreserved_concurrency_minimum;
        if others_claimed + u64::from(reserved) + u64::from(minimum)
            > u64::from(self.settings.account_concurrency_limit)
        {
            return Err(ConcurrencyConfigError::ReservedBelowUnreservedMinimum { unreserved_minimum: minimum });
        }
        if reserved < own_pc {
            return Err(ConcurrencyConfigError::ReservedBelowProvisioned { provisioned: own_pc });
        }

        let state = function_entry(&mut self.functions, function);
        if state.reserved.is_none() {
            self.usage.unreserved_in_flight = self.usage.unreserved_in_flight.saturating_sub(state.on_demand_in_flight);
        }
        state.reserved = Some(reserved);
        self.recompute_claims();
        Ok(())
    }

    /// `DeleteFunctionConcurrency`: the function and its PC draw on the
    /// unreserved pool again.
    pub fn delete_reserved_concurrency(&mut self, function: &str) {
        let Some(state) = self.functions.get_mut(function) else { return };
        if state.reserved.take().is_some() {
            self.usage.unreserved_in_flight += state.on_demand_in_flight;
            self.recompute_claims();
        }
    }

    /// `PutProvisionedConcurrencyConfig` on `qualifier` (a version, or an
    /// alias resolving to `version`). Returns environments no longer needed
    /// (when lowered, or when an alias moved to another version) for
    /// shutdown; [`ConcurrencyController::provisioned_deficit`] then says
    /// what to start.
    ///
    /// Checked in this order: `n ≥ 1`; not `$LATEST` (nor an alias to it);
    /// one config per version (an alias or the version, not both); then,
    /// with a reservation `R`, `Σ other PC of the function + n ≤ R` (PC is
    /// carved out of `R`); without one, `n ≤ unreserved pool` and
    /// `unreserved pool − n ≥ minimum`, where the pool is taken without this
    /// config's current value so that re-putting the same value succeeds.
    pub fn put_provisioned_concurrency(
        &mut self,
        function: &str,
        qualifier: &str,
        version: &str,
        requested: u32,
    ) -> Result<Vec<EnvId>, ConcurrencyConfigError> {
        if requested == 0 {
            return Err(ConcurrencyConfigError::ProvisionedBelowOne { value: requested });
        }
        if qualifier == LATEST_VERSION || version == LATEST_VERSION {
            return Err(ConcurrencyConfigError::ProvisionedOnUnpublishedVersion);
        }
        let unreserved_pool = self.unreserved_concurrency();
        let (reserved, existing, others) = match self.functions.get(function) {
            Some(state) => {
                let is_alias = qualifier != version;
                if is_alias && state.provisioned.contains_key(version) {
                    return Err(ConcurrencyConfigError::AliasOnProvisionedVersion);
                }
                if !is_alias && state.provisioned.iter().any(|(q, c)| q.as_str() != version && *c.version == *version) {
                    return Err(ConcurrencyConfigError::VersionPointedByProvisionedAlias);
                }
                let existing = state.provisioned.get(qualifier).map_or(0, |config| config.requested);
                (state.reserved, existing, state.provisioned_requested() - existing)
            }
            None => (None, 0, 0),
        };
        match reserved {
            Some(reserved) if others + requested > reserved => {
                return Err(ConcurrencyConfigError::ProvisionedAboveReserved);
            }
            Some(_) => {}
            None => {
                let pool = unreserved_pool.saturating_add(existing);
                if requested > pool {
                    return Err(ConcurrencyConfigError::ProvisionedAboveUnreserved { unreserved: pool });
                }
                let minimum = self.settings.unreserved_concurrency_minimum;
                if pool - requested < minimum {
                    return Err(ConcurrencyConfigError::ProvisionedBelowUnreservedMinimum {
                        unreserved_minimum: minimum,
                    });
                }
            }
        }

        let state = function_entry(&mut self.functions, function);
        let config = state.provisioned.entry(qualifier.to_owned()).or_insert_with(|| ProvisionedConfig {
            version: Arc::from(version),
            requested,
            environments: Vec::new(),
            idle: Vec::new(),
        });
        config.requested = requested;
        let shut_down = if *config.version == *version {
            self.shed_provisioned(function, qualifier, requested as usize)
        } else {
            // The alias moved: every environment runs the old version's code.
            let shut_down = self.shed_provisioned(function, qualifier, 0);
            if let Some(config) = self.functions.get_mut(function).and_then(|f| f.provisioned.get_mut(qualifier)) {
                config.version = Arc::from(version);
            }
            shut_down
        };
        self.recompute_claims();
        Ok(shut_down)
    }

    /// `DeleteProvisionedConcurrencyConfig`: returns its idle and
    /// initialising environments for shutdown; busy ones finish their invoke
    /// first.
    pub fn delete_provisioned_concurrency(&mut self, function: &str, qualifier: &str) -> Vec<EnvId> {
        let shut_down = self.shed_provisioned(function, qualifier, 0);
        if let Some(state) = self.functions.get_mut(function) {
            state.provisioned.remove(qualifier);
        }
        self.recompute_claims();
        shut_down
    }

    /// `GetProvisionedConcurrencyConfig`'s counts; READY once every
    /// requested environment is initialised.
    pub fn provisioned_status(&self, function: &str, qualifier: &str) -> Option<ProvisionedStatus> {
        let config = self.functions.get(function)?.provisioned.get(qualifier)?;
        let allocated = config
            .environments
            .iter()
            .filter_map(|id| self.environments.get(id))
            .filter(|env| env.state != EnvironmentState::Initializing)
            .count();
        let allocated = u32::try_from(allocated).unwrap_or(u32::MAX);
        let status = if allocated >= config.requested {
            ProvisionedConcurrencyStatus::Ready
        } else {
            ProvisionedConcurrencyStatus::InProgress
        };
        Some(ProvisionedStatus { requested: config.requested, allocated, available: allocated, status })
    }

    /// PC configs with fewer environments than requested, by function then
    /// qualifier: the executor starts `missing` of each with
    /// [`ConcurrencyController::start_provisioned`].
    pub fn provisioned_deficit(&self) -> Vec<ProvisionedDeficit> {
        let mut deficit = Vec::new();
        for (function, state) in &self.functions {
            for (qualifier, config) in &state.provisioned {
                let have = u32::try_from(config.environments.len()).unwrap_or(u32::MAX);
                if have < config.requested {
                    deficit.push(ProvisionedDeficit {
                        function: function.to_string(),
                        qualifier: qualifier.clone(),
                        version: config.version.to_string(),
                        missing: config.requested - have,
                    });
                }
            }
        }
        deficit
    }

    /// Registers one new provisioned environment for the config of
    /// `function:qualifier`, initialising. Starting PC takes no scaling
    /// token (AWS allocates PC outside the on-demand scaling rate) but does
    /// need room in the host memory budget, evicting idle on-demand
    /// environments if that makes it fit.
    pub fn start_provisioned(
        &mut self,
        function: &str,
        qualifier: &str,
        memory_mb: u32,
    ) -> Result<ProvisionedStart, ProvisionedStartError> {
        let config = self.functions.get(function).and_then(|state| state.provisioned.get(qualifier));
        let Some(config) = config.filter(|config| config.environments.len() < config.requested as usize) else {
            return Err(ProvisionedStartError::NothingToStart {
                function: function.to_owned(),
                qualifier: qualifier.to_owned(),
            });
        };
        let version = config.version.clone();
        let held_mb = self.usage.memory_used_mb - self.usage.idle_on_demand_memory_mb;
        let budget_mb = self.settings.host_memory_budget_mb;
        if held_mb + u64::from(memory_mb) > budget_mb {
            return Err(ProvisionedStartError::HostCapacity { memory_mb, budget_mb, held_mb });
        }
        let evicted = self.evict_for(memory_mb);
        let kind = EnvironmentKind::Provisioned { qualifier: qualifier.to_owned() };
        let env = self.create_environment(function, version, memory_mb, kind);
        if let Some(config) = self.functions.get_mut(function).and_then(|state| state.provisioned.get_mut(qualifier)) {
            config.environments.push(env);
        }
        Ok(ProvisionedStart { env, evicted })
    }

    /// Every counter and gauge, per function and for the account.
    pub fn metrics(&self) -> MetricsSnapshot {
        let functions = self.functions.iter().map(|(name, state)| (name.to_string(), state.metrics())).collect();
        MetricsSnapshot {
            account: AccountMetrics {
                concurrent_executions: self.usage.in_flight,
                unreserved_concurrent_executions: self.usage.unreserved_in_flight,
                claimed_account_concurrency: u64::from(self.usage.unreserved_in_flight)
                    + self.reserved_total
                    + self.provisioned_unreserved_total,
                host_memory_used_mb: self.usage.memory_used_mb,
            },
            functions,
        }
    }

    pub fn function_metrics(&self, function: &str) -> Option<FunctionMetrics> {
        self.functions.get(function).map(FunctionState::metrics)
    }

    fn recompute_claims(&mut self) {
        self.reserved_total = 0;
        self.provisioned_unreserved_total = 0;
        for state in self.functions.values() {
            match state.reserved {
                Some(reserved) => self.reserved_total += u64::from(reserved),
                None => self.provisioned_unreserved_total += u64::from(state.provisioned_requested()),
            }
        }
    }

    /// Evicts least-recently-used idle on-demand environments until
    /// `memory_mb` more fits. The caller has checked that it can.
    fn evict_for(&mut self, memory_mb: u32) -> Vec<EnvId> {
        let mut evicted = Vec::new();
        while self.usage.memory_used_mb + u64::from(memory_mb) > self.settings.host_memory_budget_mb {
            let Some((_, env)) = self.idle_on_demand.pop_first() else { break };
            self.remove_environment(env);
            evicted.push(env);
        }
        evicted
    }

    fn create_environment(
        &mut self,
        function: &str,
        version: Arc<str>,
        memory_mb: u32,
        kind: EnvironmentKind,
    ) -> EnvId {
        let id = EnvId(self.next_env_id);
        self.next_env_id += 1;
        let name = self.functions.get_key_value(function).map_or_else(|| Arc::from(function), |(name, _)| name.clone());
        if let Some(state) = self.functions.get_mut(function) {
            state.environments.insert(id);
        }
        self.usage.memory_used_mb += u64::from(memory_mb);
        let environment = ExecutionEnvironment {
            id,
            function: name,
            version,
            memory_mb,
            kind,
            state: EnvironmentState::Initializing,
            retired: false,
            idle_seq: 0,
        };
        self.environments.insert(id, environment);
        id
    }

    /// Detaches environments from the PC config of `function:qualifier`
    /// until at most `keep` remain: idle ones first (least recently used
    /// first), then initialising ones, which are forgotten and returned;
    /// then busy ones, which are retired and shut down when their invoke
    /// ends.
    fn shed_provisioned(&mut self, function: &str, qualifier: &str, keep: usize) -> Vec<EnvId> {
        let environments = &self.environments;
        let Some(config) = self.functions.get_mut(function).and_then(|state| state.provisioned.get_mut(qualifier))
        else {
            return Vec::new();
        };
        let surplus = config.environments.len().saturating_sub(keep);
        if surplus == 0 {
            return Vec::new();
        }
        let in_state = |wanted: EnvironmentState| {
            config
                .environments
                .iter()
                .copied()
                .filter(move |id| environments.get(id).is_some_and(|env| env.state == wanted))
        };
        let victims: Vec<EnvId> = config
            .idle
            .iter()
            .copied()
            .chain(in_state(EnvironmentState::Initializing))
            .chain(in_state(EnvironmentState::Busy))
            .take(surplus)
            .collect();
        config.environments.retain(|id| !victims.contains(id));
        config.idle.retain(|id| !victims.contains(id));

        let mut shut_down = Vec::new();
        for id in victims {
            match self.environments.get_mut(&id) {
                Some(env) if env.state == EnvironmentState::Busy => env.retired = true,
                _ => {
                    self.remove_environment(id);
                    shut_down.push(id);
                }
            }
        }
        shut_down
    }

    /// Forgets an environment and undoes everything it counted for.
    fn remove_environment(&mut self, id: EnvId) -> Option<ExecutionEnvironment> {
        let env = self.environments.remove(&id)?;
        self.usage.memory_used_mb -= u64::from(env.memory_mb);
        let Some(function) = self.functions.get_mut(&*env.function) else {
            return Some(env);
        };
        function.environments.remove(&id);
        match (&env.kind, env.state) {
            (EnvironmentKind::OnDemand, EnvironmentState::Idle { since }) => {
                self.idle_on_demand.remove(&(since, env.idle_seq));
                self.usage.idle_on_demand_memory_mb -= u64::from(env.memory_mb);
                if let Some(idle) = function.idle_on_demand.get_mut(&*env.version) {
                    idle.remove(&env.idle_seq);
                }
            }
            (EnvironmentKind::OnDemand, EnvironmentState::Initializing | EnvironmentState::Busy) => {
                self.usage.on_demand_ended(function);
            }
            (EnvironmentKind::Provisioned { .. }, EnvironmentState::Busy) => self.usage.provisioned_ended(function),
            (EnvironmentKind::Provisioned { .. }, EnvironmentState::Initializing | EnvironmentState::Idle { .. }) => {}
        }
        if let EnvironmentKind::Provisioned { qualifier } = &env.kind
            && let Some(config) = function.provisioned.get_mut(qualifier.as_str())
        {
            config.environments.retain(|other| *other != id);
            config.idle.retain(|other| *other != id);
        }
        Some(env)
    }
}

/// The state of `function`, created on first use. Config calls only: it
/// allocates the name even when the function exists.
fn function_entry<'a>(functions: &'a mut BTreeMap<Arc<str>, FunctionState>, function: &str) -> &'a mut FunctionState {
    functions.entry(Arc::from(function)).or_insert_with(FunctionState::new)
}

#[cfg(test)]
mod tests;
