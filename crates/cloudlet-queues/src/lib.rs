//! Queues with Amazon SQS's semantics: standard and FIFO queues, visibility
//! timeouts, delays, retention, redrive to dead-letter queues, FIFO message
//! groups, deduplication and sequence numbers, and SQS's MD5 digests.
//!
//! - [`core`]: the pure queue engine. Every method takes the current
//!   [`Timestamp`](cloudlet_core::Timestamp) and returns the writes that make
//!   its effect durable; it does no I/O and reads no clock.
//! - [`store`]: what this subsystem persists ([`QueueStore`]), implemented
//!   over SQL by `cloudlet-store`, plus an in-memory store for tests.
//! - [`service`]: [`Queues`], the typed, protocol-free API the server and
//!   other subsystems call. It commits every acknowledged write (group
//!   commit on a writer thread) and implements long polling on the injected
//!   clock.
//! - [`error`]: [`SqsError`], carrying SQS's own error names and messages.
//! - [`md5`]: `MD5OfMessageBody` and `MD5OfMessageAttributes`.
//!
//! This crate knows neither HTTP nor SQL, and does not depend on the
//! functions subsystem (which depends on it for DLQs and event sources).

pub mod attributes;
pub mod core;
pub mod error;
pub mod md5;
pub mod service;
pub mod store;

pub use attributes::{MessageAttributeValue, QueueAttributes, RedrivePolicy};
pub use core::{QueueCore, ReceivedMessage, SendOutcome, SendRequest};
pub use error::{SqsError, SqsErrorCode};
pub use service::{BatchFailure, BatchResult, Queues, QueuesError, ReceiveRequest};
pub use store::{MemoryQueueStore, QueueStore, QueueStoreError, QueueWrite, StoredQueues};
