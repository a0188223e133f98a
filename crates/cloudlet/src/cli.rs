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
    /// Deploy, invoke and inspect functions on a running daemon
    #[command(name = "fn")]
    Fn(FnArgs),
    /// Create, inspect and use SQS queues on a running daemon
    Sqs(SqsArgs),
    /// Simulate Kubernetes scheduling (kube-scheduler v1.34 semantics) on manifests
    Sched(crate::sched::SchedArgs),
    /// kubectl's commands over the daemon's simulated Kubernetes cluster (no containers run)
    Kube(crate::kube::KubeArgs),
    /// Terraform-compatible infrastructure as code: cloudlet infra [-chdir=DIR] console
    Infra(crate::infra::InfraArgs),
    /// GitHub-Actions-compatible workflows on this machine: cloudlet ci run [-C DIR] [-W FILE]
    Ci(crate::ci::CiArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SqsArgs {
    /// The daemon to talk to
    #[arg(long, global = true, env = "CLOUDLET_ENDPOINT", value_name = "URL", default_value = "http://127.0.0.1:4566")]
    pub(crate) endpoint: String,

    /// Print the API's JSON instead of a table
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: SqsCommand,
}

/// A queue is named by its name or its URL.
#[derive(Debug, Subcommand)]
pub(crate) enum SqsCommand {
    /// Create a queue (idempotent when the attributes match); prints its URL
    Create {
        name: String,
        /// A FIFO queue (the name must end in .fifo)
        #[arg(long)]
        fifo: bool,
        /// A queue attribute, e.g. VisibilityTimeout=60 (repeatable)
        #[arg(long, value_name = "NAME=VALUE")]
        attribute: Vec<String>,
    },
    /// List queues with their message counts
    List {
        /// Only queues whose names start with this
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Send a message; prints its MessageId
    Send {
        queue: String,
        body: String,
        /// MessageGroupId (FIFO queues)
        #[arg(long)]
        group: Option<String>,
        /// MessageDeduplicationId (FIFO queues)
        #[arg(long)]
        dedup: Option<String>,
        /// DelaySeconds, 0–900 (standard queues)
        #[arg(long)]
        delay: Option<u32>,
        /// A String message attribute (repeatable)
        #[arg(long, value_name = "NAME=VALUE")]
        attribute: Vec<String>,
    },
    /// Receive messages (they stay in the queue unless --delete)
    Receive {
        queue: String,
        /// MaxNumberOfMessages, 1–10
        #[arg(long, default_value_t = 10)]
        max: u32,
        /// WaitTimeSeconds (long polling), 0–20
        #[arg(long, default_value_t = 0)]
        wait: u32,
        /// VisibilityTimeout for these messages [default: the queue's]
        #[arg(long)]
        visibility: Option<u32>,
        /// Delete the messages after printing them
        #[arg(long)]
        delete: bool,
    },
    /// Delete a queue, or one message with --receipt-handle
    Delete {
        queue: String,
        #[arg(long)]
        receipt_handle: Option<String>,
    },
    /// Delete every message in a queue
    Purge { queue: String },
    /// Show a queue's attributes, after setting any given with --set
    Attrs {
        queue: String,
        /// Set an attribute first, e.g. VisibilityTimeout=60 (repeatable)
        #[arg(long, value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct FnArgs {
    /// The daemon to talk to
    #[arg(long, global = true, env = "CLOUDLET_ENDPOINT", value_name = "URL", default_value = "http://127.0.0.1:4566")]
    pub(crate) endpoint: String,

    /// Print the API's JSON instead of a table (mappings, async-config)
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: FnCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FnCommand {
    /// Create a function, or update its code and configuration, from a directory or a .zip
    Deploy {
        /// A directory (zipped deterministically) or a .zip file
        path: PathBuf,
        #[arg(long)]
        name: String,
        /// e.g. python3.12, nodejs20.x, provided.al2023
        #[arg(long)]
        runtime: String,
        /// e.g. app.handler (provided runtimes: any value)
        #[arg(long)]
        handler: String,
        /// Memory in MB, 128–10240 [default: 128]
        #[arg(long)]
        memory: Option<u32>,
        /// Timeout in seconds, 1–900 [default: 3]
        #[arg(long)]
        timeout: Option<u32>,
        /// An environment variable, KEY=VALUE (repeatable)
        #[arg(long, value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// The execution role's ARN
        #[arg(long, default_value = "arn:aws:iam::000000000000:role/lambda-role")]
        role: String,
        /// Publish a version after deploying
        #[arg(long)]
        publish: bool,
    },
    /// Invoke a function; prints its result, and its REPORT line on stderr
    Invoke {
        name: String,
        /// The event: JSON, or @FILE
        #[arg(long)]
        payload: Option<String>,
        /// A version or alias
        #[arg(long)]
        qualifier: Option<String>,
        /// Invoke asynchronously (InvocationType Event)
        #[arg(long)]
        r#async: bool,
    },
    /// List functions
    List,
    /// Print a function's logs (START, END and REPORT lines included)
    Logs {
        name: String,
        /// Keep printing new lines as they arrive
        #[arg(long, short)]
        follow: bool,
    },
    /// Show or set a function's reserved concurrency
    Concurrency {
        name: String,
        /// Reserve this many concurrent executions (0 throttles every invoke)
        #[arg(long, conflicts_with = "delete")]
        reserved: Option<u32>,
        /// Remove the reservation
        #[arg(long)]
        delete: bool,
    },
    /// Set provisioned concurrency on a version or alias
    Provisioned {
        name: String,
        #[arg(long)]
        qualifier: String,
        #[arg(long)]
        count: u32,
    },
    /// Concurrency, cold and warm starts, throttles per function
    Stats,
    /// SQS event source mappings: list (default), create, update, delete
    Mappings {
        #[command(subcommand)]
        command: Option<MappingsCommand>,
    },
    /// Show a function's asynchronous invocation settings, after changing any given
    AsyncConfig {
        name: String,
        /// A version or alias [default: $LATEST]
        #[arg(long)]
        qualifier: Option<String>,
        /// MaximumRetryAttempts, 0–2
        #[arg(long)]
        max_retries: Option<u32>,
        /// MaximumEventAgeInSeconds, 60–21600
        #[arg(long)]
        max_age: Option<u32>,
        /// OnSuccess destination: an SQS queue or function ARN
        #[arg(long, value_name = "ARN")]
        on_success: Option<String>,
        /// OnFailure destination: an SQS queue or function ARN
        #[arg(long, value_name = "ARN")]
        on_failure: Option<String>,
        /// Delete the settings (back to the defaults)
        #[arg(long, conflicts_with_all = ["max_retries", "max_age", "on_success", "on_failure"])]
        delete: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MappingsCommand {
    /// List mappings
    List {
        /// Only this function's
        #[arg(long)]
        function: Option<String>,
    },
    /// Map an SQS queue (a name or an ARN) to a function
    Create {
        function: String,
        queue: String,
        #[command(flatten)]
        settings: MappingSettings,
    },
    /// Change a mapping
    Update {
        uuid: String,
        /// Invoke this function instead
        #[arg(long)]
        function: Option<String>,
        #[command(flatten)]
        settings: MappingSettings,
    },
    /// Delete a mapping
    Delete { uuid: String },
}

#[derive(Debug, Args)]
pub(crate) struct MappingSettings {
    /// BatchSize, 1–10,000 (over 10 needs --window)
    #[arg(long)]
    pub(crate) batch_size: Option<u32>,
    /// MaximumBatchingWindowInSeconds, 0–300
    #[arg(long, value_name = "SECONDS")]
    pub(crate) window: Option<u32>,
    /// ScalingConfig.MaximumConcurrency, 2–1,000
    #[arg(long)]
    pub(crate) max_concurrency: Option<u32>,
    /// FunctionResponseTypes [ReportBatchItemFailures] (true) or none (false)
    #[arg(long, value_name = "BOOL")]
    pub(crate) report_failures: Option<bool>,
    /// Enabled
    #[arg(long, value_name = "BOOL")]
    pub(crate) enabled: Option<bool>,
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

    /// Account concurrency limit for functions (AWS: 1,000)
    #[arg(long, env = "CLOUDLET_ACCOUNT_CONCURRENCY", value_name = "N", default_value_t = 1000)]
    pub(crate) account_concurrency: u32,

    /// Concurrency that reservations must leave unreserved (AWS: 100)
    #[arg(long, env = "CLOUDLET_UNRESERVED_MINIMUM", value_name = "N", default_value_t = 100)]
    pub(crate) unreserved_minimum: u32,

    /// Seconds an idle execution environment is kept warm; 0 = a cold start every time
    #[arg(long, env = "CLOUDLET_KEEP_ALIVE", value_name = "SECONDS", default_value_t = 600)]
    pub(crate) keep_alive: u64,

    /// New execution environments per function per 10 s (AWS: 1,000)
    #[arg(long, env = "CLOUDLET_SCALING_RATE", value_name = "N", default_value_t = 1000)]
    pub(crate) scaling_rate: u32,

    /// Memory (MB) that all execution environments together may use [default: 3/4 of the host's RAM]
    #[arg(long, env = "CLOUDLET_HOST_MEMORY_MB", value_name = "MB")]
    pub(crate) host_memory_mb: Option<u64>,
}
