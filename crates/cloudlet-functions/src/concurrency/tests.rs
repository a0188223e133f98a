//! Tests of the concurrency core, written as scripts: each line is a command
//! and, after `=>`, what the controller answers (see [`Harness::run`]).

use super::*;

fn start() -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000)
}

/// Settings that keep a test about one mechanism from tripping over another.
fn roomy() -> ConcurrencySettings {
    ConcurrencySettings {
        account_concurrency_limit: 10_000,
        host_memory_budget_mb: 1 << 30,
        ..ConcurrencySettings::default()
    }
}

/// A controller, a manual "now", and a tiny command language:
///
/// ```text
/// invoke FN QUALIFIER[=VERSION] [MEMORY_MB]   admit (version defaults to the qualifier, memory to 128)
/// ready ENV | release ENV | discard ENV       init_finished / release(Reusable) / release(Discard)
/// remove ENV | retire FN VERSION | delete FN
/// advance DURATION | reap | deadline          durations like 10ms, 599.999s, 1h
/// reserve FN N | unreserve FN | unreserved
/// provision FN QUALIFIER[=VERSION] N | unprovision FN QUALIFIER
/// start FN QUALIFIER [MEMORY_MB] | deficit | status FN QUALIFIER
/// ```
struct Harness {
    controller: ConcurrencyController,
    now: Timestamp,
}

impl Harness {
    fn new(settings: ConcurrencySettings) -> Harness {
        Harness { controller: ConcurrencyController::new(settings), now: start() }
    }

    /// Runs every `command => expected` line and fails with the whole
    /// transcript, actual answers in place, if any answer differs.
    fn check(&mut self, script: &str) {
        let mut transcript = String::new();
        let mut failed = false;
        for line in script.lines().map(str::trim).filter(|line| !line.is_empty()) {
            if line.starts_with('#') {
                transcript.push_str(&format!("    {line}\n"));
                continue;
            }
            let (command, expected) = line.split_once("=>").expect("each line is `command => expected`");
            let (command, expected) = (command.trim(), expected.trim());
            let actual = self.run(command);
            if actual != expected {
                failed = true;
                transcript.push_str(&format!("    {command} => {actual}    <<< expected: {expected}\n"));
            } else {
                transcript.push_str(&format!("    {command} => {actual}\n"));
            }
        }
        assert!(!failed, "script answers differ:\n{transcript}");
    }

    fn run(&mut self, command: &str) -> String {
        let words: Vec<&str> = command.split_whitespace().collect();
        let c = &mut self.controller;
        match words.as_slice() {
            ["invoke", function, qualified, rest @ ..] => {
                let (qualifier, version) = qualified.split_once('=').unwrap_or((qualified, qualified));
                let memory_mb = rest.first().map_or(128, |m| m.parse().expect("memory"));
                let invoke = InvokeRequest { function, qualifier, version, memory_mb };
                match c.admit(&invoke, self.now) {
                    Ok(Admission::Provisioned { env }) => format!("provisioned {env}"),
                    Ok(Admission::Warm { env, spillover }) => format!("warm {env}{}", spill(spillover)),
                    Ok(Admission::Cold { env, spillover, evicted }) => {
                        let evicted =
                            if evicted.is_empty() { String::new() } else { format!(" evicted {}", ids(&evicted)) };
                        format!("cold {env}{}{evicted}", spill(spillover))
                    }
                    Err(throttle) => format!("throttled {}", throttle.reason.label()),
                }
            }
            ["ready", env] => disposition(c.init_finished(env_id(env), self.now)),
            ["release", env] => disposition(c.release(env_id(env), self.now, Outcome::Reusable)),
            ["discard", env] => disposition(c.release(env_id(env), self.now, Outcome::Discard)),
            ["remove", env] => {
                c.remove(env_id(env));
                "ok".to_owned()
            }
            ["retire", function, version] => ids(&c.retire_version(function, version)),
            ["delete", function] => ids(&c.delete_function(function)),
            ["advance", duration] => {
                self.now = self.now + parse_duration(duration);
                "ok".to_owned()
            }
            ["reap"] => ids(&c.reap(self.now)),
            ["deadline"] => match c.next_reap_deadline() {
                Some(deadline) => format!("{:?}", deadline.saturating_duration_since(start())),
                None => "none".to_owned(),
            },
            ["reserve", function, n] => match c.put_reserved_concurrency(function, n.parse().expect("n")) {
                Ok(()) => "ok".to_owned(),
                Err(error) => format!("{}: {error}", error.code()),
            },
            ["unreserve", function] => {
                c.delete_reserved_concurrency(function);
                "ok".to_owned()
            }
            ["unreserved"] => c.unreserved_concurrency().to_string(),
            ["provision", function, qualified, n] => {
                let (qualifier, version) = qualified.split_once('=').unwrap_or((qualified, qualified));
                match c.put_provisioned_concurrency(function, qualifier, version, n.parse().expect("n")) {
                    Ok(shut_down) if shut_down.is_empty() => "ok".to_owned(),
                    Ok(shut_down) => format!("ok, shut down {}", ids(&shut_down)),
                    Err(error) => format!("{}: {error}", error.code()),
                }
            }
            ["unprovision", function, qualifier] => ids(&c.delete_provisioned_concurrency(function, qualifier)),
            ["start", function, qualifier, rest @ ..] => {
                let memory_mb = rest.first().map_or(128, |m| m.parse().expect("memory"));
                match c.start_provisioned(function, qualifier, memory_mb) {
                    Ok(ProvisionedStart { env, evicted }) if evicted.is_empty() => env.to_string(),
                    Ok(ProvisionedStart { env, evicted }) => format!("{env} evicted {}", ids(&evicted)),
                    Err(error) => error.to_string(),
                }
            }
            ["deficit"] => {
                let deficit: Vec<String> = c
                    .provisioned_deficit()
                    .into_iter()
                    .map(|d| format!("{}:{}={} missing {}", d.function, d.qualifier, d.version, d.missing))
                    .collect();
                if deficit.is_empty() { "none".to_owned() } else { deficit.join("; ") }
            }
            ["status", function, qualifier] => match c.provisioned_status(function, qualifier) {
                Some(s) => format!(
                    "requested {} allocated {} available {} {}",
                    s.requested,
                    s.allocated,
                    s.available,
                    s.status.as_str()
                ),
                None => "none".to_owned(),
            },
            _ => panic!("unknown command `{command}`"),
        }
    }
}

fn spill(spillover: bool) -> &'static str {
    if spillover { " spillover" } else { "" }
}

fn disposition(disposition: Disposition) -> String {
    match disposition {
        Disposition::Keep => "keep",
        Disposition::ShutDown => "shut down",
    }
    .to_owned()
}

fn ids(envs: &[EnvId]) -> String {
    if envs.is_empty() {
        return "none".to_owned();
    }
    envs.iter().map(EnvId::to_string).collect::<Vec<_>>().join(" ")
}

fn env_id(text: &str) -> EnvId {
    EnvId(text.strip_prefix("env-").and_then(|n| n.parse().ok()).expect("an id like env-3"))
}

/// `10ms`, `599.999s`, `1h`: exact, through integer nanoseconds.
fn parse_duration(text: &str) -> Duration {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).expect("a unit");
    let (number, unit) = text.split_at(split);
    let unit_nanos: u64 = match unit {
        "ns" => 1,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => panic!("unknown unit in `{text}`"),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let mut nanos = whole.parse::<u64>().expect("a number") * unit_nanos;
    let mut scale = unit_nanos;
    for digit in fraction.chars() {
        scale /= 10;
        nanos += u64::from(digit.to_digit(10).expect("a digit")) * scale;
    }
    Duration::from_nanos(nanos)
}

fn invoke<'a>(function: &'a str, qualifier: &'a str) -> InvokeRequest<'a> {
    InvokeRequest { function, qualifier, version: qualifier, memory_mb: 128 }
}

// --- Warm reuse and keep-alive -------------------------------------------

#[test]
fn cold_start_then_warm_reuse() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        invoke f $LATEST => cold env-1
        ready env-1      => keep
        release env-1    => keep
        invoke f $LATEST => warm env-1
        # a second concurrent invoke needs a second environment
        invoke f $LATEST => cold env-2
        ",
    );
}

#[test]
fn the_most_recently_used_environment_is_reused_first() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        invoke f $LATEST => cold env-1
        invoke f $LATEST => cold env-2
        invoke f $LATEST => cold env-3
        ready env-1      => keep
        ready env-2      => keep
        ready env-3      => keep
        release env-2    => keep
        advance 1s       => ok
        release env-1    => keep
        advance 1s       => ok
        release env-3    => keep
        invoke f $LATEST => warm env-3
        invoke f $LATEST => warm env-1
        release env-3    => keep
        invoke f $LATEST => warm env-3
        invoke f $LATEST => warm env-2
        ",
    );
}

#[test]
fn an_environment_only_serves_the_version_it_runs() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        invoke f 1       => cold env-1
        ready env-1      => keep
        release env-1    => keep
        invoke f $LATEST => cold env-2
        invoke f 2       => cold env-3
        # an alias reaches the environment of the version it resolves to
        invoke f live=1  => warm env-1
        # and another function never shares environments
        invoke g 1       => cold env-4
        ",
    );
}

#[test]
fn idle_environments_are_reaped_exactly_at_the_keep_alive() {
    Harness::new(ConcurrencySettings { keep_alive: Duration::from_secs(600), ..ConcurrencySettings::default() }).check(
        "
        deadline         => none
        invoke f $LATEST => cold env-1
        ready env-1      => keep
        deadline         => none
        release env-1    => keep
        deadline         => 600s
        advance 599.999s => ok
        reap             => none
        advance 1ms      => ok
        reap             => env-1
        deadline         => none
        invoke f $LATEST => cold env-2
        ",
    );
}

#[test]
fn reuse_renews_the_keep_alive() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        invoke f $LATEST => cold env-1
        ready env-1      => keep
        release env-1    => keep
        advance 599s     => ok
        invoke f $LATEST => warm env-1
        release env-1    => keep
        deadline         => 1199s
        advance 599s     => ok
        reap             => none
        advance 1s       => ok
        reap             => env-1
        ",
    );
}

#[test]
fn reaping_takes_the_expired_and_leaves_the_rest() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        invoke f $LATEST => cold env-1
        invoke g $LATEST => cold env-2
        ready env-1      => keep
        ready env-2      => keep
        release env-1    => keep
        advance 100s     => ok
        release env-2    => keep
        deadline         => 600s
        advance 500s     => ok
        reap             => env-1
        deadline         => 700s
        advance 100s     => ok
        reap             => env-2
        ",
    );
}

#[test]
fn a_zero_keep_alive_never_reuses_an_environment() {
    Harness::new(ConcurrencySettings { keep_alive: Duration::ZERO, ..ConcurrencySettings::default() }).check(
        "
        invoke f $LATEST => cold env-1
        ready env-1      => keep
        release env-1    => shut down
        deadline         => none
        invoke f $LATEST => cold env-2
        ",
    );
}

#[test]
fn a_discarded_environment_is_never_reused() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        invoke f $LATEST => cold env-1
        ready env-1      => keep
        # timeout, crash or out of memory
        discard env-1    => shut down
        invoke f $LATEST => cold env-2
        # init failed before the invoke ran
        discard env-2    => shut down
        invoke f $LATEST => cold env-3
        # the process died on its own
        remove env-3     => ok
        release env-3    => shut down
        ready env-3      => shut down
        invoke f $LATEST => cold env-4
        ",
    );
}

#[test]
fn new_code_retires_the_environments_of_its_version() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        invoke f $LATEST => cold env-1
        invoke f $LATEST => cold env-2
        invoke f 1       => cold env-3
        ready env-1      => keep
        ready env-2      => keep
        ready env-3      => keep
        release env-1    => keep
        release env-3    => keep
        retire f $LATEST => env-1
        # the busy one finishes its invoke on the old code, then goes
        release env-2    => shut down
        invoke f $LATEST => cold env-4
        invoke f 1       => warm env-3
        ",
    );
}

#[test]
fn deleting_a_function_forgets_all_its_environments() {
    let mut h = Harness::new(ConcurrencySettings::default());
    h.check(
        "
        reserve f 10       => ok
        provision f 1 1    => ok
        start f 1          => env-1
        invoke f $LATEST   => cold env-2
        invoke f $LATEST   => cold env-3
        ready env-2        => keep
        release env-2      => keep
        invoke g $LATEST   => cold env-4
        unreserved         => 990
        delete f           => env-1 env-2 env-3
        ready env-1        => shut down
        release env-3      => shut down
        unreserved         => 1000
        deficit            => none
        ",
    );
    let metrics = h.controller.metrics();
    assert_eq!(metrics.functions.keys().collect::<Vec<_>>(), ["g"]);
    assert_eq!(metrics.account.concurrent_executions, 1);
    assert_eq!(metrics.account.host_memory_used_mb, 128);
}

// --- Reserved and account concurrency ------------------------------------

#[test]
fn reserved_concurrency_caps_the_function() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        reserve f 1      => ok
        invoke f $LATEST => cold env-1
        invoke f $LATEST => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        # every version counts against the one reservation
        invoke f 1       => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        ready env-1      => keep
        release env-1    => keep
        invoke f $LATEST => warm env-1
        unreserve f      => ok
        invoke f $LATEST => cold env-2
        ",
    );
}

#[test]
fn reserved_concurrency_zero_throttles_everything() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        reserve f 0      => ok
        invoke f $LATEST => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        invoke f 1       => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        invoke g $LATEST => cold env-1
        ",
    );
}

#[test]
fn the_unreserved_pool_is_what_reservations_leave() {
    let settings = ConcurrencySettings {
        account_concurrency_limit: 5,
        unreserved_concurrency_minimum: 2,
        ..ConcurrencySettings::default()
    };
    Harness::new(settings).check(
        "
        reserve g 2      => ok
        unreserved       => 3
        invoke f $LATEST => cold env-1
        invoke h $LATEST => cold env-2
        invoke f $LATEST => cold env-3
        invoke h $LATEST => throttled ConcurrentInvocationLimitExceeded
        # the reservation is guaranteed however busy the others are
        invoke g $LATEST => cold env-4
        invoke g $LATEST => cold env-5
        invoke g $LATEST => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        discard env-1    => shut down
        invoke h $LATEST => cold env-6
        ",
    );
}

#[test]
fn a_reservation_must_leave_the_unreserved_minimum() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        reserve f 901 => InvalidParameterValueException: Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].
        reserve f 900 => ok
        reserve g 1   => InvalidParameterValueException: Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].
        # re-putting a function's own reservation does not count it twice
        reserve f 900 => ok
        reserve f 899 => ok
        reserve g 1   => ok
        unreserved    => 100
        ",
    );
}

#[test]
fn the_minimum_in_the_message_is_the_configured_one() {
    let settings = ConcurrencySettings {
        account_concurrency_limit: 10,
        unreserved_concurrency_minimum: 10,
        ..ConcurrencySettings::default()
    };
    Harness::new(settings).check(
        "
        reserve f 1 => InvalidParameterValueException: Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [10].
        reserve f 0 => ok
        ",
    );
}

#[test]
fn provisioned_concurrency_of_unreserved_functions_counts_against_the_minimum() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        provision g 1 400 => ok
        unreserved        => 600
        reserve f 501     => InvalidParameterValueException: Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].
        reserve f 500     => ok
        # g's PC moves into g's own reservation
        reserve g 400     => ok
        unreserved        => 100
        reserve g 399     => InvalidParameterValueException: Specified ReservedConcurrentExecutions for function is less than the function's total provisioned concurrency [400].
        ",
    );
}

#[test]
fn in_flight_invokes_follow_their_function_into_and_out_of_a_reservation() {
    let mut h = Harness::new(ConcurrencySettings::default());
    h.check(
        "
        invoke f $LATEST => cold env-1
        invoke f $LATEST => cold env-2
        invoke g $LATEST => cold env-3
        ",
    );
    assert_eq!(h.controller.metrics().account.unreserved_concurrent_executions, 3);
    h.check("reserve f 5 => ok");
    let account = h.controller.metrics().account;
    assert_eq!(account.unreserved_concurrent_executions, 1);
    assert_eq!(account.claimed_account_concurrency, 1 + 5);
    h.check(
        "
        discard env-1 => shut down
        unreserve f   => ok
        ",
    );
    let account = h.controller.metrics().account;
    assert_eq!(account.unreserved_concurrent_executions, 2);
    assert_eq!(account.concurrent_executions, 2);
    assert_eq!(account.claimed_account_concurrency, 2);
}

// --- Provisioned concurrency ---------------------------------------------

#[test]
fn provisioned_environments_serve_first_then_spill_over() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        provision f live=1 2 => ok
        status f live        => requested 2 allocated 0 available 0 IN_PROGRESS
        deficit              => f:live=1 missing 2
        start f live         => env-1
        start f live         => env-2
        deficit              => none
        start f live         => provisioned concurrency of `f:live` needs no more environments
        # not initialised yet: the invoke spills over to on-demand
        invoke f live=1      => cold env-3 spillover
        ready env-1          => keep
        status f live        => requested 2 allocated 1 available 1 IN_PROGRESS
        ready env-2          => keep
        status f live        => requested 2 allocated 2 available 2 READY
        invoke f live=1      => provisioned env-2
        invoke f live=1      => provisioned env-1
        invoke f live=1      => cold env-4 spillover
        ready env-3          => keep
        release env-3        => keep
        invoke f live=1      => warm env-3 spillover
        release env-1        => keep
        invoke f live=1      => provisioned env-1
        # PC belongs to the qualifier as invoked: version 1 itself has none
        invoke f 1           => cold env-5
        ",
    );
}

#[test]
fn reserved_one_with_provisioned_one_on_version_1() {
    // Recorded against AWS (LS-SNAP): reserved = PC = 1 on version 1.
    Harness::new(ConcurrencySettings::default()).check(
        "
        reserve f 1      => ok
        provision f 1 1  => ok
        start f 1        => env-1
        ready env-1      => keep
        invoke f $LATEST => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        invoke f 1       => provisioned env-1
        # the provisioned environment is busy and the reservation has no on-demand room
        invoke f 1       => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        ",
    );
}

#[test]
fn provisioned_concurrency_validation() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        provision f $LATEST 1      => InvalidParameterValueException: Provisioned Concurrency Configs cannot be applied to unpublished function versions.
        provision f live=$LATEST 1 => InvalidParameterValueException: Provisioned Concurrency Configs cannot be applied to unpublished function versions.
        provision f 1 0            => ValidationException: 1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1
        reserve f 5                => ok
        provision f 1 3            => ok
        provision f 2 3            => InvalidParameterValueException: Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function
        provision f 2 2            => ok
        provision f 1 4            => InvalidParameterValueException: Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function
        provision f 1 3            => ok
        provision f live=1 1       => ResourceConflictException: Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version
        provision g live=1 1       => ok
        provision g 1 1            => ResourceConflictException: Version is pointed by a Provisioned Concurrency alias
        unreserved                 => 994
        provision h 1 996          => InvalidParameterValueException: Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [994].
        provision h 1 895          => InvalidParameterValueException: Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].
        provision h 1 894          => ok
        provision h 1 894          => ok
        unreserved                 => 100
        ",
    );
}

#[test]
fn provisioned_environments_are_never_reaped() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        provision f 1 1 => ok
        start f 1       => env-1
        ready env-1     => keep
        invoke f 1      => provisioned env-1
        release env-1   => keep
        deadline        => none
        advance 24h     => ok
        reap            => none
        invoke f 1      => provisioned env-1
        ",
    );
}

#[test]
fn provisioned_environments_stay_with_a_zero_keep_alive() {
    Harness::new(ConcurrencySettings { keep_alive: Duration::ZERO, ..ConcurrencySettings::default() }).check(
        "
        provision f 1 1 => ok
        start f 1       => env-1
        ready env-1     => keep
        invoke f 1      => provisioned env-1
        release env-1   => keep
        invoke f 1      => provisioned env-1
        ",
    );
}

#[test]
fn lowering_provisioned_concurrency_sheds_idle_then_initialising_then_busy() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        provision f 1 4   => ok
        start f 1         => env-1
        start f 1         => env-2
        start f 1         => env-3
        start f 1         => env-4
        ready env-1       => keep
        ready env-2       => keep
        ready env-3       => keep
        invoke f 1        => provisioned env-3
        provision f 1 3   => ok, shut down env-1
        provision f 1 1   => ok, shut down env-2 env-4
        status f 1        => requested 1 allocated 1 available 1 READY
        ready env-4       => shut down
        unprovision f 1   => none
        status f 1        => none
        # the busy one finishes its invoke, then goes
        release env-3     => shut down
        deficit           => none
        ",
    );
}

#[test]
fn moving_an_alias_replaces_its_provisioned_environments() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        provision f live=1 1 => ok
        start f live         => env-1
        ready env-1          => keep
        provision f live=2 1 => ok, shut down env-1
        deficit              => f:live=2 missing 1
        start f live         => env-2
        ready env-2          => keep
        invoke f live=2      => provisioned env-2
        ",
    );
}

#[test]
fn a_dead_provisioned_environment_is_replaced() {
    Harness::new(ConcurrencySettings::default()).check(
        "
        provision f 1 2 => ok
        start f 1       => env-1
        start f 1       => env-2
        ready env-1     => keep
        ready env-2     => keep
        invoke f 1      => provisioned env-2
        discard env-2   => shut down
        deficit         => f:1=1 missing 1
        remove env-1    => ok
        deficit         => f:1=1 missing 2
        ",
    );
}

// --- Scaling rate ----------------------------------------------------------

fn cold_starts(h: &mut Harness, function: &str, n: usize) -> Vec<EnvId> {
    (0..n)
        .map(|i| match h.controller.admit(&invoke(function, LATEST_VERSION), h.now) {
            Ok(Admission::Cold { env, .. }) => env,
            other => panic!("cold start {} of {n}: {other:?}", i + 1),
        })
        .collect()
}

#[test]
fn the_scaling_bucket_holds_1000_and_refills_one_per_10_ms() {
    let mut h = Harness::new(roomy());
    cold_starts(&mut h, "f", 1000);
    h.check(
        "
        invoke f $LATEST => throttled ScalingRate
        # each function scales on its own
        invoke g $LATEST => cold env-1001
        advance 9999999ns => ok
        invoke f $LATEST => throttled ScalingRate
        advance 1ns      => ok
        invoke f $LATEST => cold env-1002
        invoke f $LATEST => throttled ScalingRate
        advance 25ms     => ok
        invoke f $LATEST => cold env-1003
        invoke f $LATEST => cold env-1004
        invoke f $LATEST => throttled ScalingRate
        ",
    );
    let throttles = h.controller.function_metrics("f").expect("f").throttles;
    assert_eq!(throttles.get(ThrottleReason::ScalingRate), 4);
}

#[test]
fn the_scaling_bucket_never_holds_more_than_its_capacity() {
    let mut h = Harness::new(roomy());
    for env in cold_starts(&mut h, "f", 1000) {
        h.controller.release(env, h.now, Outcome::Discard);
    }
    h.check("advance 1h => ok");
    cold_starts(&mut h, "f", 1000);
    h.check("invoke f $LATEST => throttled ScalingRate");
}

#[test]
fn warm_starts_need_no_scaling_token() {
    let mut h = Harness::new(ConcurrencySettings { scaling_rate: 1, ..roomy() });
    h.check(
        "
        invoke f $LATEST => cold env-1
        invoke f $LATEST => throttled ScalingRate
        ready env-1      => keep
        release env-1    => keep
        invoke f $LATEST => warm env-1
        ",
    );
}

#[test]
fn the_scaling_throttle_carries_aws_reason_and_message() {
    let mut controller = ConcurrencyController::new(ConcurrencySettings { scaling_rate: 0, ..roomy() });
    let throttle = controller.admit(&invoke("f", LATEST_VERSION), start()).expect_err("no tokens at all");
    assert_eq!(throttle.reason, ThrottleReason::ScalingRate);
    assert_eq!(throttle.reason.as_str(), "ConcurrentInvocationLimitExceeded");
    assert_eq!(throttle.to_string(), "Rate Exceeded.");
}

// --- Host memory budget ------------------------------------------------------

#[test]
fn the_host_budget_evicts_the_least_recently_used_idle_environment() {
    let settings = ConcurrencySettings { host_memory_budget_mb: 1536, ..ConcurrencySettings::default() };
    Harness::new(settings).check(
        "
        invoke a $LATEST 512 => cold env-1
        invoke b $LATEST 512 => cold env-2
        ready env-1          => keep
        ready env-2          => keep
        release env-2        => keep
        advance 1s           => ok
        release env-1        => keep
        invoke c $LATEST 512 => cold env-3
        # full: b's environment has been idle longest
        invoke d $LATEST 512 => cold env-4 evicted env-2
        invoke d $LATEST 1024 => throttled HostCapacity
        invoke e $LATEST 512 => cold env-5 evicted env-1
        invoke a $LATEST 512 => throttled HostCapacity
        ",
    );
}

#[test]
fn eviction_frees_as_many_environments_as_it_takes_and_no_more() {
    let settings = ConcurrencySettings { host_memory_budget_mb: 1024, ..ConcurrencySettings::default() };
    Harness::new(settings).check(
        "
        invoke a $LATEST 256 => cold env-1
        invoke b $LATEST 256 => cold env-2
        invoke c $LATEST 256 => cold env-3
        invoke d $LATEST 256 => cold env-4
        ready env-1          => keep
        ready env-2          => keep
        ready env-3          => keep
        ready env-4          => keep
        release env-1        => keep
        release env-2        => keep
        release env-3        => keep
        invoke e $LATEST 512 => cold env-5 evicted env-1 env-2
        invoke c $LATEST 256 => warm env-3
        invoke a $LATEST 128 => throttled HostCapacity
        ",
    );
}

#[test]
fn the_host_capacity_throttle_names_the_budget() {
    let mut controller = ConcurrencyController::new(ConcurrencySettings {
        host_memory_budget_mb: 1024,
        ..ConcurrencySettings::default()
    });
    let big = InvokeRequest { memory_mb: 768, ..invoke("f", LATEST_VERSION) };
    controller.admit(&big, start()).expect("fits");
    let throttle = controller.admit(&InvokeRequest { function: "g", ..big }, start()).expect_err("does not fit");
    assert_eq!(throttle.reason, ThrottleReason::HostCapacity);
    assert_eq!(throttle.reason.as_str(), "ConcurrentInvocationLimitExceeded");
    assert_eq!(
        throttle.to_string(),
        "Rate Exceeded. Host capacity: a new 768 MB execution environment does not fit in cloudlet's host memory \
         budget of 1024 MB (768 MB held by busy, initialising or provisioned environments)."
    );
}

#[test]
fn provisioned_environments_need_host_memory_too() {
    let settings = ConcurrencySettings { host_memory_budget_mb: 1024, ..ConcurrencySettings::default() };
    Harness::new(settings).check(
        "
        invoke a $LATEST 512 => cold env-1
        ready env-1          => keep
        release env-1        => keep
        provision f 1 2      => ok
        start f 1 512        => env-2
        start f 1 512        => env-3 evicted env-1
        ready env-2          => keep
        ready env-3          => keep
        # idle provisioned environments are never evicted
        invoke g $LATEST 128 => throttled HostCapacity
        provision g 1 1      => ok
        start g 1 128        => a 128 MB provisioned environment does not fit in the host memory budget of 1024 MB (1024 MB held by busy, initialising or provisioned environments)
        ",
    );
}

// --- Counters --------------------------------------------------------------

#[test]
fn counters_count_each_kind_of_start_and_throttle() {
    let mut h = Harness::new(ConcurrencySettings::default());
    h.check(
        "
        reserve f 3      => ok
        provision f 1 1  => ok
        start f 1        => env-1
        ready env-1      => keep
        invoke f 1       => provisioned env-1
        invoke f 1       => cold env-2 spillover
        invoke f 1       => cold env-3 spillover
        invoke f 1       => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        invoke f $LATEST => throttled ReservedFunctionConcurrentInvocationLimitExceeded
        ready env-2      => keep
        release env-2    => keep
        invoke f 1       => warm env-2 spillover
        invoke g $LATEST => cold env-4
        ",
    );
    let metrics = h.controller.metrics();
    assert_eq!(
        metrics.functions["f"],
        FunctionMetrics {
            concurrent_executions: 3,
            provisioned_concurrent_executions: 1,
            cold_starts: 2,
            warm_starts: 1,
            provisioned_concurrency_invocations: 1,
            provisioned_concurrency_spillover_invocations: 3,
            throttles: ThrottleCounts {
                reserved_function_concurrent_invocation_limit_exceeded: 2,
                ..ThrottleCounts::default()
            },
        }
    );
    assert_eq!(metrics.functions["g"].cold_starts, 1);
    assert_eq!(
        metrics.account,
        AccountMetrics {
            concurrent_executions: 4,
            unreserved_concurrent_executions: 1,
            // g's execution + f's reservation (its PC is inside it)
            claimed_account_concurrency: 1 + 3,
            host_memory_used_mb: 4 * 128,
        }
    );
    assert_eq!(h.controller.unreserved_concurrency(), 997);
    assert_eq!(h.controller.reserved_concurrency("f"), Some(3));

    h.check(
        "
        ready env-3   => keep
        ready env-4   => keep
        release env-1 => keep
        discard env-2 => shut down
        release env-3 => keep
        release env-4 => keep
        ",
    );
    let metrics = h.controller.metrics();
    assert_eq!(metrics.functions["f"].concurrent_executions, 0);
    assert_eq!(metrics.functions["f"].provisioned_concurrent_executions, 0);
    assert_eq!(metrics.account.concurrent_executions, 0);
    assert_eq!(metrics.account.claimed_account_concurrency, 3);
    assert_eq!(metrics.account.host_memory_used_mb, 3 * 128);
}

#[test]
fn claimed_account_concurrency_includes_provisioned_concurrency_of_unreserved_functions() {
    let mut h = Harness::new(ConcurrencySettings::default());
    h.check(
        "
        provision f 1 10 => ok
        reserve g 20     => ok
        invoke h $LATEST => cold env-1
        unreserved       => 970
        ",
    );
    assert_eq!(h.controller.metrics().account.claimed_account_concurrency, 1 + 20 + 10);
}

#[test]
fn throttle_reasons_have_distinct_labels_and_aws_wire_values() {
    let labels: Vec<&str> = ThrottleReason::ALL.iter().map(|reason| reason.label()).collect();
    assert_eq!(
        labels,
        [
            "ConcurrentInvocationLimitExceeded",
            "ReservedFunctionConcurrentInvocationLimitExceeded",
            "ScalingRate",
            "HostCapacity"
        ]
    );
    let wire: Vec<&str> = ThrottleReason::ALL.iter().map(|reason| reason.as_str()).collect();
    assert_eq!(
        wire,
        [
            "ConcurrentInvocationLimitExceeded",
            "ReservedFunctionConcurrentInvocationLimitExceeded",
            "ConcurrentInvocationLimitExceeded",
            "ConcurrentInvocationLimitExceeded"
        ]
    );
}
