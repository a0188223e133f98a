//! Functions with AWS Lambda's semantics.
//!
//! The crate is split into a pure, clock-driven core (which function
//! configurations are valid, which invocation gets which execution
//! environment or which throttle, when idle environments are reclaimed) and
//! the thin runtime that carries those decisions out with real processes.
