//! What a function is: runtimes, and the immutable configuration snapshot
//! that one version of a function runs with.
//!
//! `$LATEST` is mutable (UpdateFunctionCode/Configuration replace its
//! snapshot); a published version's snapshot never changes. An execution
//! environment is started from exactly one snapshot and serves only
//! invocations of that snapshot's version.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// `$LATEST`, the unpublished version.
pub const LATEST: &str = "$LATEST";

/// The runtimes cloudlet runs, by their Lambda identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    Python39,
    Python310,
    Python311,
    Python312,
    Python313,
    Nodejs18,
    Nodejs20,
    Nodejs22,
    ProvidedAl2,
    ProvidedAl2023,
}

/// The language family of a runtime: how its environments are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeFamily {
    Python,
    Nodejs,
    /// Runs the package's own `bootstrap` executable.
    Provided,
}

impl Runtime {
    pub const ALL: [Runtime; 10] = [
        Runtime::Python39,
        Runtime::Python310,
        Runtime::Python311,
        Runtime::Python312,
        Runtime::Python313,
        Runtime::Nodejs18,
        Runtime::Nodejs20,
        Runtime::Nodejs22,
        Runtime::ProvidedAl2,
        Runtime::ProvidedAl2023,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Python39 => "python3.9",
            Runtime::Python310 => "python3.10",
            Runtime::Python311 => "python3.11",
            Runtime::Python312 => "python3.12",
            Runtime::Python313 => "python3.13",
            Runtime::Nodejs18 => "nodejs18.x",
            Runtime::Nodejs20 => "nodejs20.x",
            Runtime::Nodejs22 => "nodejs22.x",
            Runtime::ProvidedAl2 => "provided.al2",
            Runtime::ProvidedAl2023 => "provided.al2023",
        }
    }

    pub fn family(self) -> RuntimeFamily {
        match self {
            Runtime::Python39 | Runtime::Python310 | Runtime::Python311 | Runtime::Python312 | Runtime::Python313 => {
                RuntimeFamily::Python
            }
            Runtime::Nodejs18 | Runtime::Nodejs20 | Runtime::Nodejs22 => RuntimeFamily::Nodejs,
            Runtime::ProvidedAl2 | Runtime::ProvidedAl2023 => RuntimeFamily::Provided,
        }
    }

    /// `AWS_EXECUTION_ENV` as Lambda sets it; `provided` runtimes have none.
    pub fn execution_env(self) -> Option<String> {
        match self.family() {
            RuntimeFamily::Provided => None,
            _ => Some(format!("AWS_Lambda_{}", self.as_str())),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A runtime name Lambda does not know (or cloudlet does not run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown runtime `{value}`")]
pub struct UnknownRuntime {
    pub value: String,
}

impl FromStr for Runtime {
    type Err = UnknownRuntime;

    fn from_str(s: &str) -> Result<Runtime, UnknownRuntime> {
        Runtime::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRuntime { value: s.to_owned() })
    }
}

/// Where a version's unpacked code lives, and its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRef {
    /// `CodeSha256`: base64 of the SHA-256 of the zip.
    pub sha256_base64: String,
    pub sha256_hex: String,
    /// `CodeSize`: the zip's size in bytes.
    pub code_size_bytes: u64,
    /// The unpacked package (read-only for environments).
    pub dir: PathBuf,
}

/// Everything an execution environment needs to know about the version it
/// runs. Immutable: a configuration change makes a new snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionVersion {
    pub function_name: String,
    /// `$LATEST`, or a published version number as a string.
    pub version: String,
    pub runtime: Runtime,
    pub handler: String,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub environment: BTreeMap<String, String>,
    pub code: CodeRef,
    /// Changes whenever `$LATEST`'s code or configuration changes, so warm
    /// environments started from an older snapshot are never reused.
    pub revision_id: String,
    /// `DeadLetterConfig.TargetArn`: the SQS queue failed asynchronous
    /// events go to.
    pub dead_letter_target_arn: Option<String>,
}

/// The default memory (MB) and timeout (s) of a new function.
pub const DEFAULT_MEMORY_MB: u32 = 128;
pub const DEFAULT_TIMEOUT_S: u32 = 3;
/// Memory bounds (MB) and timeout bounds (s) that Lambda accepts.
pub const MEMORY_MB_RANGE: std::ops::RangeInclusive<u32> = 128..=10_240;
pub const TIMEOUT_S_RANGE: std::ops::RangeInclusive<u32> = 1..=900;

/// Whether `name` is a valid bare function name: 1–64 characters of
/// `[a-zA-Z0-9-_]`.
pub fn is_valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_round_trip() {
        for runtime in Runtime::ALL {
            assert_eq!(runtime.as_str().parse::<Runtime>(), Ok(runtime));
        }
        assert_eq!(Runtime::Python312.execution_env().as_deref(), Some("AWS_Lambda_python3.12"));
        assert_eq!(Runtime::ProvidedAl2023.execution_env(), None);
        assert!("python2.7".parse::<Runtime>().is_err());
    }

    #[test]
    fn function_names() {
        assert!(is_valid_function_name("my-fn_2"));
        assert!(is_valid_function_name(&"a".repeat(64)));
        assert!(!is_valid_function_name(&"a".repeat(65)));
        assert!(!is_valid_function_name(""));
        assert!(!is_valid_function_name("my.fn"));
        assert!(!is_valid_function_name("my fn"));
    }
}
