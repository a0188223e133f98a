//! Functions with AWS Lambda's semantics.
//!
//! The crate is split into a pure, clock-driven core (which function
//! configurations are valid, which invocation gets which execution
//! environment or which throttle, when idle environments are reclaimed) and
//! the thin runtime that carries those decisions out with real processes.

pub mod async_config;
pub mod cold_start;
pub mod concurrency;
pub mod control;
pub mod environment;
pub mod error;
pub mod invoke;
pub mod mappings;
pub mod model;
pub mod package;
pub mod probe;
pub mod runtime_api;
pub mod sandbox;
pub mod store;

pub use error::{ErrorType, LambdaError};
pub use model::{CodeRef, FunctionVersion, LATEST, Runtime, RuntimeFamily};
