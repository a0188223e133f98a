//! Asynchronous invocation: the per-function settings
//! (`PutFunctionEventInvokeConfig` and friends) and the retry policy they
//! drive, as pure functions of explicit inputs.
//!
//! Reference §3.5: function errors (timeouts included) are retried
//! `MaximumRetryAttempts` times (0–2, default 2), one minute before the first
//! retry and two before the second; throttles and system errors go back to
//! the queue with exponential back-off from 1 s to 5 minutes; nothing is
//! retried once the event is older than `MaximumEventAgeInSeconds`
//! (60–21,600, default 6 hours). The invoker executes these decisions.

use std::time::Duration;

use cloudlet_core::Timestamp;
use serde_json::{Value, json};

use crate::error::{ErrorType, LambdaError};

pub const DEFAULT_MAXIMUM_RETRY_ATTEMPTS: u32 = 2;
pub const DEFAULT_MAXIMUM_EVENT_AGE_S: u32 = 21_600;
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Delay before retry n (1-based) after a function error: n minutes.
const ERROR_RETRY_STEP: Duration = Duration::from_secs(60);

/// One function's (or qualifier's) asynchronous invocation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInvokeConfig {
    pub function_name: String,
    /// `$LATEST`, a version, or an alias.
    pub qualifier: String,
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_s: u32,
    /// Destination ARNs (an SQS queue or a function).
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub last_modified: Timestamp,
}

impl EventInvokeConfig {
    /// The settings a function has when none are configured.
    pub fn defaults(function_name: &str, qualifier: &str) -> EventInvokeConfig {
        EventInvokeConfig {
            function_name: function_name.to_owned(),
            qualifier: qualifier.to_owned(),
            maximum_retry_attempts: DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
            maximum_event_age_s: DEFAULT_MAXIMUM_EVENT_AGE_S,
            on_success: None,
            on_failure: None,
            last_modified: Timestamp::UNIX_EPOCH,
        }
    }
}

/// A request's changes: `None` keeps (Update) or defaults (Put) a setting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventInvokeConfigChange {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_s: Option<i64>,
    pub on_success: Option<Option<String>>,
    pub on_failure: Option<Option<String>>,
}

/// Validates a change with AWS's messages and applies it to `base`.
pub fn apply_change(
    mut base: EventInvokeConfig,
    change: &EventInvokeConfigChange,
    now: Timestamp,
) -> Result<EventInvokeConfig, LambdaError> {
    let mut errors = Vec::new();
    if let Some(retries) = change.maximum_retry_attempts {
        match u32::try_from(retries) {
            Ok(n) if n <= 2 => base.maximum_retry_attempts = n,
            _ if retries < 0 => errors.push(format!(
                "Value '{retries}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )),
            _ => errors.push(format!(
                "Value '{retries}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"
            )),
        }
    }
    if let Some(age) = change.maximum_event_age_s {
        match u32::try_from(age) {
            Ok(n) if (60..=21_600).contains(&n) => base.maximum_event_age_s = n,
            _ if age < 60 => errors.push(format!(
                "Value '{age}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"
            )),
            _ => errors.push(format!(
                "Value '{age}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"
            )),
        }
    }
    if !errors.is_empty() {
        let plural = if errors.len() == 1 { "" } else { "s" };
        return Err(LambdaError::new(
            ErrorType::ValidationException,
            format!("{} validation error{plural} detected: {}", errors.len(), errors.join("; ")),
        ));
    }
    for (destination, slot) in [(&change.on_success, &mut base.on_success), (&change.on_failure, &mut base.on_failure)]
    {
        if let Some(destination) = destination {
            if let Some(arn) = destination {
                check_destination(arn)?;
            }
            slot.clone_from(destination);
        }
    }
    base.last_modified = now;
    Ok(base)
}

/// Destinations cloudlet delivers to: SQS queues and functions.
fn check_destination(arn: &str) -> Result<(), LambdaError> {
    let service = arn.split(':').nth(2).unwrap_or_default();
    if !arn.starts_with("arn:") || arn.split(':').count() < 6 {
        return Err(LambdaError::invalid_parameter(format!("The destination ARN {arn} is invalid.")));
    }
    match service {
        "sqs" | "lambda" => Ok(()),
        "sns" | "events" | "s3" => Err(LambdaError::invalid_parameter(format!(
            "cloudlet delivers asynchronous invocation records to SQS queues and functions only; `{arn}` is a {service} destination"
        ))),
        _ => Err(LambdaError::invalid_parameter(format!("The destination ARN {arn} is invalid."))),
    }
}

/// Why an asynchronous invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// What to do with an event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Try again, not before this time.
    RetryAt(Timestamp),
    /// Done: deliver to the destination (and the DLQ on failure).
    Finished(Condition),
}

/// After the function ran (`invocations` times so far, this one included)
/// and returned `failed`.
pub fn after_invocation(
    config: &EventInvokeConfig,
    failed: bool,
    invocations: u32,
    enqueued_at: Timestamp,
    now: Timestamp,
) -> NextStep {
    if !failed {
        return NextStep::Finished(Condition::Success);
    }
    if invocations > config.maximum_retry_attempts {
        return NextStep::Finished(Condition::RetriesExhausted);
    }
    let retry_at = now + ERROR_RETRY_STEP * invocations;
    if too_old(config, enqueued_at, retry_at) {
        return NextStep::Finished(Condition::EventAgeExceeded);
    }
    NextStep::RetryAt(retry_at)
}

/// After a throttle or a system error (the function did not run); `attempts`
/// counts such attempts so far, this one included.
pub fn after_throttle(config: &EventInvokeConfig, attempts: u32, enqueued_at: Timestamp, now: Timestamp) -> NextStep {
    let doubling = 1u32.checked_shl(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    let retry_at = now + BACKOFF_FIRST.saturating_mul(doubling).min(BACKOFF_MAX);
    if too_old(config, enqueued_at, retry_at) {
        return NextStep::Finished(Condition::EventAgeExceeded);
    }
    NextStep::RetryAt(retry_at)
}

fn too_old(config: &EventInvokeConfig, enqueued_at: Timestamp, at: Timestamp) -> bool {
    at.saturating_duration_since(enqueued_at) > Duration::from_secs(u64::from(config.maximum_event_age_s))
}

/// The outcome of the last invocation, for the invocation record.
#[derive(Debug, Clone, PartialEq)]
pub struct LastResponse {
    pub executed_version: String,
    pub function_error: Option<String>,
    pub payload: Value,
}

/// Lambda's invocation record for destinations (reference §3.5).
pub fn invocation_record(
    request_id: &str,
    function_arn: &str,
    condition: Condition,
    approximate_invoke_count: u32,
    request_payload: &Value,
    response: Option<&LastResponse>,
    now: Timestamp,
) -> Value {
    let mut record = json!({
        "version": "1.0",
        "timestamp": now.to_rfc3339_millis(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": request_payload,
    });
    if let Some(response) = response {
        let mut context = json!({ "statusCode": 200, "executedVersion": response.executed_version });
        if let Some(error) = &response.function_error {
            context["functionError"] = Value::from(error.as_str());
        }
        record["responseContext"] = context;
        record["responsePayload"] = response.payload.clone();
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> Timestamp {
        Timestamp::from_unix_secs(1_764_000_000 + secs)
    }

    fn config() -> EventInvokeConfig {
        EventInvokeConfig::defaults("f", "$LATEST")
    }

    #[test]
    fn function_errors_retry_after_one_then_two_minutes() {
        let c = config();
        assert_eq!(after_invocation(&c, true, 1, t(0), t(0)), NextStep::RetryAt(t(60)));
        assert_eq!(after_invocation(&c, true, 2, t(0), t(60)), NextStep::RetryAt(t(180)));
        assert_eq!(after_invocation(&c, true, 3, t(0), t(180)), NextStep::Finished(Condition::RetriesExhausted));
        assert_eq!(after_invocation(&c, false, 2, t(0), t(60)), NextStep::Finished(Condition::Success));
        let none = EventInvokeConfig { maximum_retry_attempts: 0, ..config() };
        assert_eq!(after_invocation(&none, true, 1, t(0), t(0)), NextStep::Finished(Condition::RetriesExhausted));
    }

    #[test]
    fn throttles_back_off_exponentially_until_the_event_is_too_old() {
        let c = EventInvokeConfig { maximum_event_age_s: 60, ..config() };
        assert_eq!(after_throttle(&c, 1, t(0), t(0)), NextStep::RetryAt(t(1)));
        assert_eq!(after_throttle(&c, 2, t(0), t(1)), NextStep::RetryAt(t(3)));
        assert_eq!(after_throttle(&c, 6, t(0), t(31)), NextStep::Finished(Condition::EventAgeExceeded));
        let long = config();
        assert_eq!(after_throttle(&long, 20, t(0), t(1000)), NextStep::RetryAt(t(1300)), "capped at 5 minutes");
        assert_eq!(after_throttle(&long, 20, t(0), t(21_500)), NextStep::Finished(Condition::EventAgeExceeded));
    }

    #[test]
    fn changes_are_validated_with_aws_messages() {
        let err = apply_change(
            config(),
            &EventInvokeConfigChange {
                maximum_retry_attempts: Some(3),
                maximum_event_age_s: Some(59),
                ..Default::default()
            },
            t(0),
        )
        .expect_err("out of range");
        assert_eq!(err.error_type, ErrorType::ValidationException);
        assert_eq!(
            err.message,
            "2 validation errors detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2; Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"
        );
        let applied = apply_change(
            config(),
            &EventInvokeConfigChange {
                maximum_retry_attempts: Some(0),
                on_failure: Some(Some("arn:aws:sqs:us-east-1:000000000000:dlq".into())),
                ..Default::default()
            },
            t(5),
        )
        .expect("valid");
        assert_eq!(applied.maximum_retry_attempts, 0);
        assert_eq!(applied.maximum_event_age_s, DEFAULT_MAXIMUM_EVENT_AGE_S);
        assert_eq!(applied.on_failure.as_deref(), Some("arn:aws:sqs:us-east-1:000000000000:dlq"));
        assert_eq!(applied.last_modified, t(5));
        let sns = EventInvokeConfigChange {
            on_success: Some(Some("arn:aws:sns:us-east-1:000000000000:topic".into())),
            ..Default::default()
        };
        assert!(apply_change(config(), &sns, t(0)).is_err());
    }

    #[test]
    fn invocation_records_have_lambdas_shape() {
        let response = LastResponse {
            executed_version: "$LATEST".into(),
            function_error: Some("Unhandled".into()),
            payload: json!({"errorMessage": "boom"}),
        };
        let record = invocation_record(
            "id",
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
            Condition::RetriesExhausted,
            3,
            &json!({"k": 1}),
            Some(&response),
            Timestamp::from_unix_millis(1_573_755_365_568),
        );
        assert_eq!(
            record,
            json!({
                "version": "1.0",
                "timestamp": "2019-11-14T18:16:05.568Z",
                "requestContext": {
                    "requestId": "id",
                    "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 3
                },
                "requestPayload": {"k": 1},
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": {"errorMessage": "boom"}
            })
        );
    }
}
