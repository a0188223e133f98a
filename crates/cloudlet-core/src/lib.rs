//! Shared vocabulary of every cloudlet crate: time, identity, metrics, errors.
//!
//! This crate owns the pieces that every subsystem needs and that must mean the
//! same thing everywhere:
//!
//! - [`clock`]: the injected [`Clock`] (system and manual). Every time-based
//!   decision in cloudlet reads a `Clock`, never `SystemTime::now()` directly.
//! - [`arn`]: AWS-style identifiers (region, account id, ARNs) and the naming
//!   rules of the resources cloudlet emulates.
//! - [`metrics`]: the one metrics registry that subsystems record into and the
//!   server renders as Prometheus text.
//! - [`error`]: how errors are printed: the whole chain of causes.
//! - [`http`]: the one tiny HTTP/1.1 client the CLI and the infra engine
//!   use to talk to a local daemon.
//!
//! Apart from [`http`]'s loopback requests it does no I/O of its own (no
//! files, no processes).

pub mod arn;
pub mod clock;
pub mod error;
pub mod http;
pub mod metrics;

pub use arn::{AccountId, Arn, AwsScope, Region};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock, Timestamp};
pub use error::ErrorChain;
pub use metrics::Registry;
