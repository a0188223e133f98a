//! [`SqsError`]: every error the queue subsystem reports, named as SQS names
//! it, with SQS's message text.
//!
//! The server maps each [`SqsErrorCode`] to its wire shape once: the JSON
//! protocol's `__type` (`com.amazonaws.sqs#<shape>`), the query protocol's
//! `Code`, the `x-amzn-query-error` header and the HTTP status. Codes that
//! the SQS model does not declare as shapes (`InvalidParameterValue`,
//! `MissingParameter`, ...) use their query code as the shape name too: the
//! reference leaves their JSON `__type` unverified (queues.md §1.5, §8), and
//! botocore reads the code from `x-amzn-query-error` first anyway.

use std::fmt;

/// An SQS error: what kind, and the message SQS would give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SqsError {
    pub code: SqsErrorCode,
    pub message: String,
}

impl SqsError {
    pub fn new(code: SqsErrorCode, message: impl Into<String>) -> SqsError {
        SqsError { code, message: message.into() }
    }

    pub fn queue_does_not_exist() -> SqsError {
        SqsError::new(SqsErrorCode::QueueDoesNotExist, "The specified queue does not exist.")
    }

    /// `InvalidParameterValue` in SQS's `Value V for parameter P is invalid.
    /// Reason: R` form.
    pub fn invalid_parameter(parameter: &str, value: impl fmt::Display, reason: &str) -> SqsError {
        SqsError::new(
            SqsErrorCode::InvalidParameterValue,
            format!("Value {value} for parameter {parameter} is invalid. Reason: {reason}"),
        )
    }

    pub fn invalid_attribute_value(name: &str) -> SqsError {
        SqsError::new(SqsErrorCode::InvalidAttributeValue, format!("Invalid value for the parameter {name}."))
    }

    pub fn missing_parameter(name: &str) -> SqsError {
        SqsError::new(SqsErrorCode::MissingParameter, format!("The request must contain the parameter {name}."))
    }

    pub fn receipt_handle_is_invalid(handle: &str) -> SqsError {
        SqsError::new(
            SqsErrorCode::ReceiptHandleIsInvalid,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }

    pub fn internal(message: impl Into<String>) -> SqsError {
        SqsError::new(SqsErrorCode::InternalError, message)
    }
}

/// The kinds of SQS error, by the SQS model's shape names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqsErrorCode {
    QueueDoesNotExist,
    QueueNameExists,
    QueueDeletedRecently,
    PurgeQueueInProgress,
    OverLimit,
    MessageNotInflight,
    TooManyEntriesInBatchRequest,
    EmptyBatchRequest,
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    InvalidBatchEntryId,
    UnsupportedOperation,
    ReceiptHandleIsInvalid,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidMessageContents,
    InvalidIdFormat,
    InvalidParameterValue,
    MissingParameter,
    InvalidAction,
    MalformedQueryString,
    SerializationException,
    InternalError,
}

impl SqsErrorCode {
    /// The shape name: JSON `__type` is `com.amazonaws.sqs#` + this.
    pub fn shape(self) -> &'static str {
        match self {
            SqsErrorCode::QueueDoesNotExist => "QueueDoesNotExist",
            SqsErrorCode::QueueNameExists => "QueueNameExists",
            SqsErrorCode::QueueDeletedRecently => "QueueDeletedRecently",
            SqsErrorCode::PurgeQueueInProgress => "PurgeQueueInProgress",
            SqsErrorCode::OverLimit => "OverLimit",
            SqsErrorCode::MessageNotInflight => "MessageNotInflight",
            SqsErrorCode::TooManyEntriesInBatchRequest => "TooManyEntriesInBatchRequest",
            SqsErrorCode::EmptyBatchRequest => "EmptyBatchRequest",
            SqsErrorCode::BatchEntryIdsNotDistinct => "BatchEntryIdsNotDistinct",
            SqsErrorCode::BatchRequestTooLong => "BatchRequestTooLong",
            SqsErrorCode::InvalidBatchEntryId => "InvalidBatchEntryId",
            SqsErrorCode::UnsupportedOperation => "UnsupportedOperation",
            SqsErrorCode::ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            SqsErrorCode::InvalidAttributeName => "InvalidAttributeName",
            SqsErrorCode::InvalidAttributeValue => "InvalidAttributeValue",
            SqsErrorCode::InvalidMessageContents => "InvalidMessageContents",
            SqsErrorCode::InvalidIdFormat => "InvalidIdFormat",
            SqsErrorCode::InvalidParameterValue => "InvalidParameterValue",
            SqsErrorCode::MissingParameter => "MissingParameter",
            SqsErrorCode::InvalidAction => "InvalidAction",
            SqsErrorCode::MalformedQueryString => "MalformedQueryString",
            SqsErrorCode::SerializationException => "SerializationException",
            SqsErrorCode::InternalError => "InternalError",
        }
    }

    /// The query protocol's `Code` (and the first half of
    /// `x-amzn-query-error`), from the pre-JSON model (queues.md §1.5).
    pub fn query_code(self) -> &'static str {
        match self {
            SqsErrorCode::QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            SqsErrorCode::QueueNameExists => "QueueAlreadyExists",
            SqsErrorCode::QueueDeletedRecently => "AWS.SimpleQueueService.QueueDeletedRecently",
            SqsErrorCode::PurgeQueueInProgress => "AWS.SimpleQueueService.PurgeQueueInProgress",
            SqsErrorCode::MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            SqsErrorCode::TooManyEntriesInBatchRequest => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            SqsErrorCode::EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            SqsErrorCode::BatchEntryIdsNotDistinct => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            SqsErrorCode::BatchRequestTooLong => "AWS.SimpleQueueService.BatchRequestTooLong",
            SqsErrorCode::InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            SqsErrorCode::UnsupportedOperation => "AWS.SimpleQueueService.UnsupportedOperation",
            other => other.shape(),
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            SqsErrorCode::PurgeQueueInProgress | SqsErrorCode::OverLimit => 403,
            SqsErrorCode::InternalError => 500,
            _ => 400,
        }
    }

    /// `Sender` (the caller's fault) or `Receiver` (ours).
    pub fn fault(self) -> &'static str {
        if self == SqsErrorCode::InternalError { "Receiver" } else { "Sender" }
    }
}

impl fmt::Display for SqsErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shape())
    }
}
