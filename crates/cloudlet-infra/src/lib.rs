//! Terraform-compatible infrastructure as code.
//!
//! Today: the language. `.tf`/`.tf.json` parsing with source spans
//! (`config`), Terraform's value model (`value`, `number`, `convert`), the
//! expression evaluator (`eval`), the built-in functions (`funcs`), and the
//! console (`console`) with Terraform's value printing (`format`).
//! `module` is the first piece of the engine: the root module's variables
//! (with tfvars precedence) and locals as a `Scope`. The rest of the engine
//! (graph, plan, apply), state and backends build on these.

pub mod apply;
pub mod backend;
pub mod commands;
pub mod config;
pub mod console;
pub mod convert;
pub mod decode;
pub mod diag;
pub mod eval;
pub mod fmt;
pub mod format;
pub mod funcs;
pub mod graph;
pub mod module;
pub mod number;
pub mod plan;
pub mod providers;
pub mod refs;
pub mod render;
pub mod state;
pub mod value;
