//! Lambda's errors as data: the exception name, the HTTP status and the
//! message AWS sends, plus the extra fields some exceptions carry.
//!
//! Every operation of this crate fails with a [`LambdaError`]; the server
//! renders it in the Lambda REST protocol's exact shape
//! (`x-amzn-ErrorType` header, `{"Type":"User","Message":...}` body). This
//! module knows nothing about HTTP beyond the status number.

use std::fmt;

/// The exception types cloudlet returns, spelled as AWS spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestTooLargeException,
    RequestEntityTooLargeException,
    UnsupportedMediaTypeException,
    ResourceNotFoundException,
    ResourceConflictException,
    ResourceNotReadyException,
    ProvisionedConcurrencyConfigNotFoundException,
    TooManyRequestsException,
    ServiceException,
    PreconditionFailedException,
    /// A request member failed the API model's constraints (length, pattern,
    /// range): `1 validation error detected: Value '...' at '...' failed to
    /// satisfy constraint: ...`.
    ValidationException,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidParameterValueException => "InvalidParameterValueException",
            ErrorType::InvalidRequestContentException => "InvalidRequestContentException",
            ErrorType::RequestTooLargeException => "RequestTooLargeException",
            ErrorType::RequestEntityTooLargeException => "RequestEntityTooLargeException",
            ErrorType::UnsupportedMediaTypeException => "UnsupportedMediaTypeException",
            ErrorType::ResourceNotFoundException => "ResourceNotFoundException",
            ErrorType::ResourceConflictException => "ResourceConflictException",
            ErrorType::ResourceNotReadyException => "ResourceNotReadyException",
            ErrorType::ProvisionedConcurrencyConfigNotFoundException => "ProvisionedConcurrencyConfigNotFoundException",
            ErrorType::TooManyRequestsException => "TooManyRequestsException",
            ErrorType::ServiceException => "ServiceException",
            ErrorType::PreconditionFailedException => "PreconditionFailedException",
            ErrorType::ValidationException => "ValidationException",
        }
    }

    /// The HTTP status AWS uses for this exception.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorType::InvalidParameterValueException
            | ErrorType::InvalidRequestContentException
            | ErrorType::ValidationException => 400,
            ErrorType::RequestTooLargeException | ErrorType::RequestEntityTooLargeException => 413,
            ErrorType::UnsupportedMediaTypeException => 415,
            ErrorType::ResourceNotFoundException | ErrorType::ProvisionedConcurrencyConfigNotFoundException => 404,
            ErrorType::ResourceConflictException => 409,
            ErrorType::PreconditionFailedException => 412,
            ErrorType::TooManyRequestsException => 429,
            ErrorType::ServiceException => 500,
            ErrorType::ResourceNotReadyException => 502,
        }
    }
}

/// An error as the Lambda API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaError {
    pub error_type: ErrorType,
    pub message: String,
    /// `Reason` of a `TooManyRequestsException`, e.g.
    /// `ReservedFunctionConcurrentInvocationLimitExceeded`.
    pub reason: Option<String>,
    /// `Retry-After` seconds of a `TooManyRequestsException`.
    pub retry_after_seconds: Option<u64>,
}

impl LambdaError {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> LambdaError {
        LambdaError { error_type, message: message.into(), reason: None, retry_after_seconds: None }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> LambdaError {
        LambdaError::new(ErrorType::InvalidParameterValueException, message)
    }

    /// `Function not found: ARN` — the ARN is qualified when the caller
    /// named a version or alias.
    pub fn function_not_found(arn: impl fmt::Display) -> LambdaError {
        LambdaError::new(ErrorType::ResourceNotFoundException, format!("Function not found: {arn}"))
    }

    /// A throttle: 429 with AWS's `Reason` and its lower-case `message`
    /// "Rate Exceeded." unless a more specific message is given.
    pub fn throttled(reason: &str, message: impl Into<String>) -> LambdaError {
        LambdaError {
            error_type: ErrorType::TooManyRequestsException,
            message: message.into(),
            reason: Some(reason.to_owned()),
            retry_after_seconds: None,
        }
    }

    pub fn service(message: impl Into<String>) -> LambdaError {
        LambdaError::new(ErrorType::ServiceException, message)
    }

    pub fn http_status(&self) -> u16 {
        self.error_type.http_status()
    }
}

impl fmt::Display for LambdaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type.as_str(), self.message)
    }
}

impl std::error::Error for LambdaError {}
