//! Queue attributes and message attributes: their types, SQS's validation
//! (ranges, names, errors) and their string forms.
//!
//! Queue attributes travel as a map of strings; [`QueueAttributes`] is the
//! typed, validated form. Computed attributes (`Approximate*`, timestamps,
//! `QueueArn`) are not stored here: the core renders them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{SqsError, SqsErrorCode};

/// The largest message: 1 MiB, and the default `MaximumMessageSize`.
pub const MAX_MESSAGE_BYTES: u32 = 1_048_576;
/// The longest visibility timeout, and the cap on a message's total.
pub const MAX_VISIBILITY_TIMEOUT_S: u32 = 43_200;
pub const MAX_DELAY_S: u32 = 900;
pub const MAX_WAIT_TIME_S: u32 = 20;
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Every attribute name GetQueueAttributes knows (queues.md §1.4).
pub const QUEUE_ATTRIBUTE_NAMES: &[&str] = &[
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// A message attribute value (`MessageAttributeValue`). Binary values are
/// raw bytes here; the protocols base64 them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttributeValue {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttributeValue {
    pub fn string(data_type: &str, value: &str) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: data_type.to_owned(),
            string_value: Some(value.to_owned()),
            binary_value: None,
        }
    }

    /// The bytes this attribute counts toward the message size: name, type
    /// and value.
    fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, Vec::len)
    }
}

/// `RedrivePolicy`: where a message goes after `max_receive_count` receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    /// Parses the JSON string SQS takes; `maxReceiveCount` may be a number
    /// or a string (queues.md §1.8).
    pub fn parse(text: &str) -> Result<RedrivePolicy, SqsError> {
        let invalid = |reason: &str| {
            SqsError::new(
                SqsErrorCode::InvalidParameterValue,
                format!("Value {text} for parameter RedrivePolicy is invalid. Reason: {reason}"),
            )
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
        let arn = value
            .get("deadLetterTargetArn")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn."))?;
        let count = match value.get("maxReceiveCount") {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
            None => return Err(invalid("Redrive policy does not contain mandatory attribute: maxReceiveCount.")),
            _ => None,
        };
        let count = count
            .filter(|c| (1..=1000).contains(c))
            .ok_or_else(|| invalid("Invalid value for maxReceiveCount: must be an integer from 1 to 1000."))?;
        Ok(RedrivePolicy { dead_letter_target_arn: arn.to_owned(), max_receive_count: count as u32 })
    }

    /// The JSON SQS returns: the count as a number.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }
}

/// The settable attributes of a queue, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueAttributes {
    pub visibility_timeout_s: u32,
    pub maximum_message_size: u32,
    pub message_retention_period_s: u32,
    pub delay_seconds: u32,
    pub receive_message_wait_time_s: u32,
    pub fifo_queue: bool,
    pub content_based_deduplication: bool,
    /// Kept as given (JSON text); validated as JSON.
    pub redrive_policy: Option<String>,
    pub redrive_allow_policy: Option<String>,
    pub policy: Option<String>,
    pub kms_master_key_id: Option<String>,
    pub kms_data_key_reuse_period_s: u32,
    pub sqs_managed_sse_enabled: bool,
    /// `queue` or `messageGroup`.
    pub deduplication_scope: String,
    /// `perQueue` or `perMessageGroupId`.
    pub fifo_throughput_limit: String,
}

impl Default for QueueAttributes {
    fn default() -> QueueAttributes {
        QueueAttributes {
            visibility_timeout_s: 30,
            maximum_message_size: MAX_MESSAGE_BYTES,
            message_retention_period_s: 345_600,
            delay_seconds: 0,
            receive_message_wait_time_s: 0,
            fifo_queue: false,
            content_based_deduplication: false,
            redrive_policy: None,
            redrive_allow_policy: None,
            policy: None,
            kms_master_key_id: None,
            kms_data_key_reuse_period_s: 300,
            sqs_managed_sse_enabled: true,
            deduplication_scope: "queue".to_owned(),
            fifo_throughput_limit: "perQueue".to_owned(),
        }
    }
}

fn ranged(name: &str, value: &str, min: u32, max: u32) -> Result<u32, SqsError> {
    value.trim().parse::<u32>().ok().filter(|v| (min..=max).contains(v)).ok_or_else(|| {
        SqsError::new(SqsErrorCode::InvalidAttributeValue, format!("Invalid value for the parameter {name}."))
    })
}

fn boolean(name: &str, value: &str) -> Result<bool, SqsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SqsError::invalid_attribute_value(name)),
    }
}

fn optional(value: &str) -> Option<String> {
    if value.is_empty() { None } else { Some(value.to_owned()) }
}

impl QueueAttributes {
    /// Applies `changes` (SetQueueAttributes / CreateQueue `Attributes`).
    /// `creating` allows `FifoQueue`, which cannot change later.
    pub fn apply(&mut self, changes: &BTreeMap<String, String>, creating: bool) -> Result<(), SqsError> {
        for (name, value) in changes {
            match name.as_str() {
                "VisibilityTimeout" => self.visibility_timeout_s = ranged(name, value, 0, MAX_VISIBILITY_TIMEOUT_S)?,
                "MaximumMessageSize" => self.maximum_message_size = ranged(name, value, 1024, MAX_MESSAGE_BYTES)?,
                "MessageRetentionPeriod" => self.message_retention_period_s = ranged(name, value, 60, 1_209_600)?,
                "DelaySeconds" => self.delay_seconds = ranged(name, value, 0, MAX_DELAY_S)?,
                "ReceiveMessageWaitTimeSeconds" => {
                    self.receive_message_wait_time_s = ranged(name, value, 0, MAX_WAIT_TIME_S)?;
                }
                "KmsDataKeyReusePeriodSeconds" => self.kms_data_key_reuse_period_s = ranged(name, value, 60, 86_400)?,
                "FifoQueue" => {
                    let fifo = boolean(name, value)?;
                    if !creating && fifo != self.fifo_queue {
                        return Err(SqsError::new(
                            SqsErrorCode::InvalidAttributeName,
                            format!("Unknown Attribute {name}."),
                        ));
                    }
                    self.fifo_queue = fifo;
                }
                "ContentBasedDeduplication" => self.content_based_deduplication = boolean(name, value)?,
                "SqsManagedSseEnabled" => self.sqs_managed_sse_enabled = boolean(name, value)?,
                "RedrivePolicy" => {
                    if value.is_empty() {
                        self.redrive_policy = None;
                    } else {
                        RedrivePolicy::parse(value)?;
                        self.redrive_policy = Some(value.clone());
                    }
                }
                "RedriveAllowPolicy" | "Policy" => {
                    if !value.is_empty() && serde_json::from_str::<serde_json::Value>(value).is_err() {
                        return Err(SqsError::invalid_attribute_value(name));
                    }
                    if name == "Policy" {
                        self.policy = optional(value);
                    } else {
                        self.redrive_allow_policy = optional(value);
                    }
                }
                "KmsMasterKeyId" => self.kms_master_key_id = optional(value),
                "DeduplicationScope" => match value.as_str() {
                    "queue" | "messageGroup" => self.deduplication_scope = value.clone(),
                    _ => return Err(SqsError::invalid_attribute_value(name)),
                },
                "FifoThroughputLimit" => match value.as_str() {
                    "perQueue" | "perMessageGroupId" => self.fifo_throughput_limit = value.clone(),
                    _ => return Err(SqsError::invalid_attribute_value(name)),
                },
                _ => {
                    return Err(SqsError::new(
                        SqsErrorCode::InvalidAttributeName,
                        format!("Unknown Attribute {name}."),
                    ));
                }
            }
        }
        let fifo_only = ["ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"];
        if !self.fifo_queue
            && let Some(name) = changes.keys().find(|name| fifo_only.contains(&name.as_str()))
        {
            return Err(SqsError::new(SqsErrorCode::InvalidAttributeName, format!("Unknown Attribute {name}.")));
        }
        Ok(())
    }

    pub fn redrive(&self) -> Option<RedrivePolicy> {
        self.redrive_policy.as_deref().and_then(|text| RedrivePolicy::parse(text).ok())
    }

    /// The stored (not computed) attributes as SQS reports them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        let mut put = |name: &str, value: String| {
            map.insert(name.to_owned(), value);
        };
        put("VisibilityTimeout", self.visibility_timeout_s.to_string());
        put("MaximumMessageSize", self.maximum_message_size.to_string());
        put("MessageRetentionPeriod", self.message_retention_period_s.to_string());
        put("DelaySeconds", self.delay_seconds.to_string());
        put("ReceiveMessageWaitTimeSeconds", self.receive_message_wait_time_s.to_string());
        put("SqsManagedSseEnabled", self.sqs_managed_sse_enabled.to_string());
        if let Some(policy) = self.redrive() {
            put("RedrivePolicy", policy.to_json());
        }
        if let Some(value) = &self.redrive_allow_policy {
            put("RedriveAllowPolicy", value.clone());
        }
        if let Some(value) = &self.policy {
            put("Policy", value.clone());
        }
        if let Some(value) = &self.kms_master_key_id {
            put("KmsMasterKeyId", value.clone());
            put("KmsDataKeyReusePeriodSeconds", self.kms_data_key_reuse_period_s.to_string());
        }
        if self.fifo_queue {
            put("FifoQueue", "true".to_owned());
            put("ContentBasedDeduplication", self.content_based_deduplication.to_string());
            put("DeduplicationScope", self.deduplication_scope.clone());
            put("FifoThroughputLimit", self.fifo_throughput_limit.clone());
        }
        map
    }
}

/// Validates a message's user attributes (names, types, values, count) and
/// returns the bytes they add to the message size.
pub fn validate_message_attributes(attributes: &BTreeMap<String, MessageAttributeValue>) -> Result<usize, SqsError> {
    let invalid = |message: String| SqsError::new(SqsErrorCode::InvalidParameterValue, message);
    if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    let mut size = 0;
    for (name, value) in attributes {
        let lower = name.to_ascii_lowercase();
        let well_formed = !name.is_empty()
            && name.len() <= 256
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..");
        if !well_formed {
            return Err(invalid(format!(
                "Message (user) attribute name '{name}' is invalid. Reason: names may contain only \
                 alphanumeric characters, hyphens, underscores and periods, must not start or end with a \
                 period, must not contain two periods in a row, and must be at most 256 characters."
            )));
        }
        if lower.starts_with("aws.") || lower.starts_with("amazon.") {
            return Err(invalid(format!(
                "Message (user) attribute name '{name}' is invalid. Reason: the prefixes AWS. and Amazon. are \
                 reserved for use by Amazon."
            )));
        }
        let base = value.data_type.split('.').next().unwrap_or_default();
        match base {
            "String" | "Number" => {
                let text = value.string_value.as_deref().unwrap_or_default();
                if text.is_empty() {
                    return Err(invalid(format!(
                        "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
                    )));
                }
                if base == "Number" && text.parse::<f64>().is_err() {
                    return Err(invalid(format!("Could not cast message attribute '{name}' value to number.")));
                }
                if !valid_chars(text) {
                    return Err(SqsError::new(SqsErrorCode::InvalidMessageContents, "Invalid characters found."));
                }
            }
            "Binary" => {
                if value.binary_value.as_ref().is_none_or(Vec::is_empty) {
                    return Err(invalid(format!(
                        "Message (user) attribute '{name}' must contain a non-empty value of type 'Binary'."
                    )));
                }
            }
            _ => {
                return Err(invalid(format!(
                    "The type of message (user) attribute '{name}' is invalid. You must use only the following \
                     supported type prefixes: Binary, Number, String."
                )));
            }
        }
        size += value.size(name);
    }
    Ok(size)
}

/// Whether every character is one SQS accepts in a message:
/// `#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF`.
pub fn valid_chars(text: &str) -> bool {
    text.chars().all(
        |c| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..),
    )
}
