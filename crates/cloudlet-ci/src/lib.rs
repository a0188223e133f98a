//! GitHub-Actions-compatible workflows, run on the host.
//!
//! Pure modules decide: expressions (`expr`), YAML with positions
//! (`yaml`), the workflow model and its validation (`workflow`), local
//! actions' metadata (`action`), reusable-workflow interfaces
//! (`reusable`), trigger filters (`filters`, `cron`), matrix expansion
//! (`matrix`), the job graph scheduler on explicit time (`scheduler`,
//! `simulate`), file commands (`envfile`), shells (`shell`) and `hashFiles`
//! (`hash_files`). The runner (`runner`) carries their decisions out with
//! processes and threads. Nothing here knows HTTP or SQL.

pub mod action;
pub mod cache;
pub mod checkout;
pub mod cron;
pub mod envfile;
pub mod environments;
pub mod expr;
pub mod filters;
pub mod hash_files;
pub mod history;
pub mod matrix;
pub mod reusable;
pub mod runner;
pub mod scheduler;
pub mod shell;
pub mod simulate;
pub mod workflow;
pub mod yaml;
