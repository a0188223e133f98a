//! GitHub-Actions-compatible workflows, run on the host.
//!
//! The pure parts decide; the runner carries decisions out:
//! expressions (`expr`), the workflow model parsed with positions
//! (`yaml`, `workflow`) and its validation, matrix expansion, the job graph
//! scheduler driven by an injected clock, and the step runner that starts
//! processes. Nothing here knows HTTP or SQL.

pub mod action;
pub mod cron;
pub mod envfile;
pub mod expr;
pub mod filters;
pub mod hash_files;
pub mod matrix;
pub mod reusable;
pub mod runner;
pub mod scheduler;
pub mod shell;
pub mod simulate;
pub mod workflow;
pub mod yaml;
