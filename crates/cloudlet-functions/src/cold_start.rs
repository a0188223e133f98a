//! The phases of a cold start, as recorded in the histogram
//! `cloudlet_lambda_cold_start_phase_ms{function, phase}`.
//!
//! - `code_unpack` — checking the zip and unpacking it into the package
//!   cache. It happens once per package, at CreateFunction or
//!   UpdateFunctionCode, not on the invoke path; a package already in the
//!   cache costs only its checksum (a real phase of about 0 ms).
//! - `process_start` — from the moment the invoker starts the environment
//!   until its process exists: the work dir and control groups, then either
//!   the spawn, or moving a pre-started *spare* into the control groups and
//!   handing it its environment.
//! - `runtime_init` — the runtime client getting ready, up to just before it
//!   imports the handler's module. For a spawned process this starts with
//!   the sandbox wrapper joining the control groups and `exec`ing the
//!   runtime, then interpreter start-up and the client's own imports.
//! - `init_code` — the function's static initialisation: importing the
//!   handler's module, up to the first `GET /next`.
//!
//! The three environment phases add up to the REPORT line's Init Duration.
//! Only cloudlet's built-in runtime clients can tell where runtime init ends
//! and init code begins: they send the time they spent importing the handler
//! in the header [`INIT_CODE_HEADER`] on their first `/next`. Runtimes that
//! do not (awslambdaric, aws-lambda-ric, `provided` bootstraps) get one
//! phase for both, `runtime_and_init_code`, rather than a guessed split.
//!
//! Environment phases also carry `process="new"` or `process="spare"`. A
//! spare's interpreter started, and its runtime client was imported, before
//! any invoke asked for an environment; that time is on no cold start's
//! path, so its `runtime_init` is only what remains after adoption
//! (becoming the environment, connecting to the Runtime API), while its
//! `process_start` includes the move into the control groups (which the
//! wrapper of a new process does in `runtime_init`).

use std::time::Duration;

use cloudlet_core::Timestamp;
use cloudlet_core::metrics::Registry;

/// The histogram's name.
pub const PHASE_METRIC: &str = "cloudlet_lambda_cold_start_phase_ms";
const PHASE_HELP: &str = "Cold-start phases of execution environments in milliseconds.";
/// Buckets (ms) of the histogram.
const PHASE_BUCKETS_MS: &[f64] =
    &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10_000.0];

/// The request header on a built-in runtime client's first
/// `GET /runtime/invocation/next`: microseconds it spent importing the
/// handler's module. Not part of the Runtime API; other runtimes never send
/// it and lose nothing.
pub const INIT_CODE_HEADER: &str = "cloudlet-init-code-us";

/// Longest init-code report accepted (longer than any init may last).
const MAX_REPORTED_INIT_CODE: Duration = Duration::from_secs(15 * 60);

/// One cold-start phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    CodeUnpack,
    ProcessStart,
    RuntimeInit,
    InitCode,
    /// Runtime init and init code together, for runtimes that cannot say
    /// where one ends.
    RuntimeAndInitCode,
}

impl Phase {
    /// The `phase` label.
    pub fn label(self) -> &'static str {
        match self {
            Phase::CodeUnpack => "code_unpack",
            Phase::ProcessStart => "process_start",
            Phase::RuntimeInit => "runtime_init",
            Phase::InitCode => "init_code",
            Phase::RuntimeAndInitCode => "runtime_and_init_code",
        }
    }
}

/// How an environment's process came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessOrigin {
    /// Spawned for this environment.
    New,
    /// A pre-started spare, adopted.
    Spare,
}

impl ProcessOrigin {
    /// The `process` label.
    pub fn label(self) -> &'static str {
        match self {
            ProcessOrigin::New => "new",
            ProcessOrigin::Spare => "spare",
        }
    }
}

/// What the invoker knows about one environment's init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitTimeline {
    /// The invoker began starting the environment (Init Duration's start).
    pub started_at: Timestamp,
    /// The runtime process was running (spawned, or a spare adopted).
    pub process_running_at: Timestamp,
    /// The runtime's first `/next` (Init Duration's end).
    pub ready_at: Timestamp,
    /// Time the runtime reported importing the handler, if it reports it.
    pub init_code: Option<Duration>,
}

impl InitTimeline {
    /// The environment's phases, in order. They add up to
    /// `ready_at - started_at` exactly: a report longer than the time left
    /// after process start is cut to fit, never trusted over the clock.
    pub fn phases(&self) -> Vec<(Phase, Duration)> {
        let total = self.ready_at.saturating_duration_since(self.started_at);
        let process_start = self.process_running_at.saturating_duration_since(self.started_at).min(total);
        let after_start = total - process_start;
        match self.init_code {
            Some(init_code) => {
                let init_code = init_code.min(after_start);
                vec![
                    (Phase::ProcessStart, process_start),
                    (Phase::RuntimeInit, after_start - init_code),
                    (Phase::InitCode, init_code),
                ]
            }
            None => vec![(Phase::ProcessStart, process_start), (Phase::RuntimeAndInitCode, after_start)],
        }
    }
}

/// Parses [`INIT_CODE_HEADER`]'s value (whole microseconds).
pub fn parse_init_code_header(value: &str) -> Option<Duration> {
    let micros: u64 = value.trim().parse().ok()?;
    Some(Duration::from_micros(micros)).filter(|d| *d <= MAX_REPORTED_INIT_CODE)
}

/// Records an environment's phases under `function`.
pub fn observe_environment(metrics: &Registry, function: &str, origin: ProcessOrigin, timeline: &InitTimeline) {
    for (phase, duration) in timeline.phases() {
        observe(metrics, &[("function", function), ("phase", phase.label()), ("process", origin.label())], duration);
    }
}

/// Records a package's `code_unpack` phase under `function`.
pub fn observe_code_unpack(metrics: &Registry, function: &str, duration: Duration) {
    observe(metrics, &[("function", function), ("phase", Phase::CodeUnpack.label())], duration);
}

fn observe(metrics: &Registry, labels: &[(&str, &str)], duration: Duration) {
    metrics.histogram(PHASE_METRIC, PHASE_HELP, labels, PHASE_BUCKETS_MS).observe(duration.as_secs_f64() * 1000.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn timeline(process_ms: u64, ready_ms: u64, init_code: Option<Duration>) -> InitTimeline {
        InitTimeline { started_at: T0, process_running_at: T0 + ms(process_ms), ready_at: T0 + ms(ready_ms), init_code }
    }

    fn total(phases: &[(Phase, Duration)]) -> Duration {
        phases.iter().map(|(_, d)| *d).sum()
    }

    #[test]
    fn a_reported_init_code_splits_runtime_init_from_init_code() {
        let phases = timeline(3, 25, Some(ms(12))).phases();
        assert_eq!(phases, vec![(Phase::ProcessStart, ms(3)), (Phase::RuntimeInit, ms(10)), (Phase::InitCode, ms(12))]);
        assert_eq!(total(&phases), ms(25), "the phases add up to Init Duration");
    }

    #[test]
    fn without_a_report_runtime_and_init_code_are_one_phase() {
        let phases = timeline(4, 30, None).phases();
        assert_eq!(phases, vec![(Phase::ProcessStart, ms(4)), (Phase::RuntimeAndInitCode, ms(26))]);
    }

    #[test]
    fn a_report_longer_than_the_time_left_is_cut_to_fit() {
        let phases = timeline(5, 20, Some(ms(40))).phases();
        assert_eq!(phases, vec![(Phase::ProcessStart, ms(5)), (Phase::RuntimeInit, ms(0)), (Phase::InitCode, ms(15))]);
        assert_eq!(total(&phases), ms(20));
    }

    #[test]
    fn a_spare_has_almost_no_runtime_init_left() {
        // Adopted in 1 ms; the client had been imported ahead of time, so
        // only becoming the environment (2 ms) precedes the handler import.
        let phases = timeline(1, 11, Some(ms(8))).phases();
        assert_eq!(phases, vec![(Phase::ProcessStart, ms(1)), (Phase::RuntimeInit, ms(2)), (Phase::InitCode, ms(8))]);
    }

    #[test]
    fn timestamps_out_of_order_never_underflow() {
        let odd =
            InitTimeline { started_at: T0, process_running_at: T0 + ms(9), ready_at: T0 + ms(4), init_code: None };
        assert_eq!(odd.phases(), vec![(Phase::ProcessStart, ms(4)), (Phase::RuntimeAndInitCode, ms(0))]);
        let before =
            InitTimeline { started_at: T0, process_running_at: T0, ready_at: T0 - ms(1), init_code: Some(ms(1)) };
        assert_eq!(total(&before.phases()), Duration::ZERO);
    }

    #[test]
    fn the_header_is_whole_microseconds_within_reason() {
        assert_eq!(parse_init_code_header("12345"), Some(Duration::from_micros(12_345)));
        assert_eq!(parse_init_code_header(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_init_code_header("-1"), None);
        assert_eq!(parse_init_code_header("1.5"), None);
        assert_eq!(parse_init_code_header("soon"), None);
        assert_eq!(parse_init_code_header("900000001"), None, "longer than any init");
    }

    #[test]
    fn phases_are_recorded_per_function_phase_and_process() {
        let metrics = Registry::new();
        observe_environment(&metrics, "f", ProcessOrigin::Spare, &timeline(2, 10, Some(ms(5))));
        observe_code_unpack(&metrics, "f", Duration::from_micros(250));
        let text = metrics.render();
        for (labels, sum) in [
            (r#"function="f",phase="process_start",process="spare""#, "2"),
            (r#"function="f",phase="runtime_init",process="spare""#, "3"),
            (r#"function="f",phase="init_code",process="spare""#, "5"),
            (r#"function="f",phase="code_unpack""#, "0.25"),
        ] {
            let line = format!("{PHASE_METRIC}_sum{{{labels}}} {sum}");
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
        assert!(!text.contains("runtime_and_init_code"), "a reported split records no combined phase");
    }
}
