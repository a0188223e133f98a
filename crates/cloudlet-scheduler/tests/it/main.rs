//! The scheduler's integration tests: golden scenarios (manifests →
//! placements, messages, preemptions and scores) kept as data under
//! `tests/scenarios/`, and golden timelines (timed steps → events) under
//! `tests/timelines/`.

mod scenarios;
mod timelines;
