//! Integration tests of cloudlet-infra: the engine's commands end to end
//! (golden plan texts and diagnostics), and the console against Terraform
//! 1.0.3 itself (the oracle).

mod engine;
mod oracle;
mod state_cmds;
