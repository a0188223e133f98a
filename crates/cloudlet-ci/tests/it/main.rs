//! Integration tests for cloudlet-ci, one binary: test data at the crate's
//! boundaries (expression known-answer tests, workflow fixtures).

mod expressions;
mod runs;
mod workflow_fixtures;
