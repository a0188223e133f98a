//! The scheduler's integration tests: golden scenarios (manifests →
//! placements, messages, preemptions and scores) kept as data under
//! `tests/scenarios/`.

mod scenarios;
