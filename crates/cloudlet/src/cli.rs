//! The command-line grammar. Every `cloudlet up` setting also has a
//! `CLOUDLET_*` environment variable; flags win over variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use cloudlet_core::{AccountId, Region};

#[derive(Debug, Parser)]
#[command(
    name = "cloudlet",
    version,
    about = "A whole cloud platform in one binary",
    long_about = "A whole cloud platform in one binary: serverless functions with AWS Lambda's \
                  semantics, SQS-compatible queues, a Kubernetes-compatible scheduler, a \
                  Terraform-compatible IaC engine and a GitHub-Actions-compatible CI runner.",
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    /// Log filter, e.g. `debug` or `info,cloudlet::http=warn` [default: $RUST_LOG, else info]
    #[arg(long, global = true, env = "CLOUDLET_LOG_LEVEL", value_name = "FILTER")]
    pub(crate) log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the daemon: every API on one address, data in one directory
    Up(UpArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Address to serve every API on
    #[arg(long, env = "CLOUDLET_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:4566")]
    pub(crate) listen: SocketAddr,

    /// Directory for the store and the daemon's lock [default: $XDG_DATA_HOME/cloudlet, else ~/.local/share/cloudlet]
    #[arg(long, env = "CLOUDLET_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// AWS region that ARNs and queue URLs name
    #[arg(long, env = "CLOUDLET_REGION", value_name = "REGION", default_value = "us-east-1")]
    pub(crate) region: Region,

    /// AWS account id that ARNs and queue URLs name
    #[arg(long, env = "CLOUDLET_ACCOUNT_ID", value_name = "ID", default_value = "000000000000")]
    pub(crate) account_id: AccountId,
}
