//! `cloudlet fn ...`: functions from the command line.
//!
//! Every command talks to the daemon through the Lambda REST API, the same
//! one boto3 and the aws CLI use (or `/_cloudlet/functions/...` where AWS has
//! no API, e.g. reading logs without CloudWatch), so the CLI is also a client
//! of the API it ships with.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::cli::{FnArgs, FnCommand, MappingsCommand};
use crate::client::{self, HttpResponse};

/// Long enough for any function's timeout (900 s) plus a cold start.
const INVOKE_READ_TIMEOUT: Duration = Duration::from_secs(960);

mod mappings;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FnError {
    #[error("cannot reach the cloudlet daemon at {endpoint}; hint: start it with `cloudlet up`")]
    Unreachable {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{operation} failed: {status} {error_type}: {message}")]
    Api { operation: &'static str, status: u16, error_type: String, message: String },
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot package `{}`", path.display())]
    Package {
        path: PathBuf,
        #[source]
        source: cloudlet_functions::package::PackageError,
    },
    #[error("invalid {what} `{value}`: {expected}")]
    Invalid { what: &'static str, value: String, expected: &'static str },
    #[error("the function failed ({kind})")]
    FunctionFailed { kind: String },
}

pub(crate) fn run(args: FnArgs) -> Result<(), FnError> {
    let api = Api::new(&args.endpoint)?;
    match args.command {
        FnCommand::Deploy { path, name, runtime, handler, memory, timeout, env, role, publish } => {
            let zip = package(&path)?;
            let variables = parse_env(&env)?;
            api.deploy(&name, &runtime, &handler, memory, timeout, &variables, &role, publish, &zip)
        }
        FnCommand::Invoke { name, payload, qualifier, r#async } => {
            let payload = match payload.as_deref() {
                None => Vec::new(),
                Some(file) if file.starts_with('@') => {
                    let path = PathBuf::from(&file[1..]);
                    std::fs::read(&path).map_err(|source| FnError::Read { path, source })?
                }
                Some(json) => json.as_bytes().to_vec(),
            };
            api.invoke(&name, qualifier.as_deref(), r#async, &payload)
        }
        FnCommand::List => api.list(),
        FnCommand::Logs { name, follow } => api.logs(&name, follow),
        FnCommand::Concurrency { name, reserved, delete } => api.concurrency(&name, reserved, delete),
        FnCommand::Provisioned { name, qualifier, count } => api.provisioned(&name, &qualifier, count),
        FnCommand::Stats => api.stats(),
        FnCommand::Mappings { command } => {
            let command = command.unwrap_or(MappingsCommand::List { function: None });
            mappings::run(&api, command, args.json)
        }
        FnCommand::AsyncConfig { name, qualifier, max_retries, max_age, on_success, on_failure, delete } => {
            let change = mappings::AsyncChange { max_retries, max_age, on_success, on_failure, delete };
            mappings::async_config(&api, &name, qualifier.as_deref(), &change, args.json)
        }
    }
}

struct Api {
    endpoint: String,
    addr: SocketAddr,
}

impl Api {
    fn new(endpoint: &str) -> Result<Api, FnError> {
        let addr = client::endpoint_addr(endpoint)
            .map_err(|source| FnError::Unreachable { endpoint: endpoint.to_owned(), source })?;
        Ok(Api { endpoint: endpoint.to_owned(), addr })
    }

    fn call(
        &self,
        operation: &'static str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<HttpResponse, FnError> {
        let response = client::send(self.addr, method, path, headers, body, timeout)
            .map_err(|source| FnError::Unreachable { endpoint: self.endpoint.clone(), source })?;
        if response.status >= 400 {
            let parsed: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            let message = parsed["Message"].as_str().or(parsed["message"].as_str()).unwrap_or_default();
            return Err(FnError::Api {
                operation,
                status: response.status,
                error_type: response.header("x-amzn-errortype").unwrap_or("Error").to_owned(),
                message: message.to_owned(),
            });
        }
        Ok(response)
    }

    fn json(&self, operation: &'static str, method: &str, path: &str, body: Option<&Value>) -> Result<Value, FnError> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let response = self.call(
            operation,
            method,
            path,
            &[("Content-Type", "application/json")],
            &bytes,
            Duration::from_secs(60),
        )?;
        Ok(serde_json::from_slice(&response.body).unwrap_or(Value::Null))
    }

    #[allow(clippy::too_many_arguments, reason = "one argument per deploy flag")]
    fn deploy(
        &self,
        name: &str,
        runtime: &str,
        handler: &str,
        memory: Option<u32>,
        timeout: Option<u32>,
        variables: &serde_json::Map<String, Value>,
        role: &str,
        publish: bool,
        zip: &[u8],
    ) -> Result<(), FnError> {
        let zip_base64 = base64::engine::general_purpose::STANDARD.encode(zip);
        let exists = client::get(self.addr, &format!("/2015-03-31/functions/{name}"))
            .map_err(|source| FnError::Unreachable { endpoint: self.endpoint.clone(), source })?
            .status
            == 200;
        let mut config = json!({ "Runtime": runtime, "Handler": handler, "Environment": { "Variables": variables } });
        if let Some(memory) = memory {
            config["MemorySize"] = json!(memory);
        }
        if let Some(timeout) = timeout {
            config["Timeout"] = json!(timeout);
        }
        let result = if exists {
            let path = format!("/2015-03-31/functions/{name}/code");
            self.json("UpdateFunctionCode", "PUT", &path, Some(&json!({ "ZipFile": zip_base64 })))?;
            let path = format!("/2015-03-31/functions/{name}/configuration");
            let updated = self.json("UpdateFunctionConfiguration", "PUT", &path, Some(&config))?;
            if publish {
                self.json(
                    "PublishVersion",
                    "POST",
                    &format!("/2015-03-31/functions/{name}/versions"),
                    Some(&json!({})),
                )?
            } else {
                updated
            }
        } else {
            config["FunctionName"] = json!(name);
            config["Role"] = json!(role);
            config["Code"] = json!({ "ZipFile": zip_base64 });
            config["Publish"] = json!(publish);
            self.json("CreateFunction", "POST", "/2015-03-31/functions", Some(&config))?
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{} {name}: {} {} MB {} s, version {}, CodeSha256 {} ({} bytes)",
            if exists { "updated" } else { "created" },
            result["Runtime"].as_str().unwrap_or(runtime),
            result["MemorySize"],
            result["Timeout"],
            result["Version"].as_str().unwrap_or("$LATEST"),
            result["CodeSha256"].as_str().unwrap_or_default(),
            result["CodeSize"],
        );
        let _ = writeln!(out, "  arn  {}", result["FunctionArn"].as_str().unwrap_or_default());
        Ok(())
    }

    fn invoke(&self, name: &str, qualifier: Option<&str>, event: bool, payload: &[u8]) -> Result<(), FnError> {
        let mut path = format!("/2015-03-31/functions/{name}/invocations");
        if let Some(qualifier) = qualifier {
            path.push_str(&format!("?Qualifier={qualifier}"));
        }
        let invocation_type = if event { "Event" } else { "RequestResponse" };
        let headers = [("X-Amz-Invocation-Type", invocation_type), ("X-Amz-Log-Type", "Tail")];
        let response = self.call("Invoke", "POST", &path, &headers, payload, INVOKE_READ_TIMEOUT)?;
        let mut out = std::io::stdout().lock();
        if event {
            let request_id = response.header("x-amzn-requestid").unwrap_or_default();
            let _ = writeln!(out, "accepted ({}) RequestId: {request_id}", response.status);
            return Ok(());
        }
        let _ = out.write_all(&response.body);
        let _ = writeln!(out);
        if let Some(log) = response.header("x-amz-log-result") {
            let decoded = base64::engine::general_purpose::STANDARD.decode(log).unwrap_or_default();
            let text = String::from_utf8_lossy(&decoded);
            let mut err = std::io::stderr().lock();
            for line in text.lines().filter(|l| l.starts_with("REPORT ")) {
                let _ = writeln!(err, "{}", line.replace('\t', "  "));
            }
        }
        match response.header("x-amz-function-error") {
            Some(kind) => Err(FnError::FunctionFailed { kind: kind.to_owned() }),
            None => Ok(()),
        }
    }

    fn list(&self) -> Result<(), FnError> {
        let mut rows =
            vec![["NAME", "RUNTIME", "MEMORY", "TIMEOUT", "STATE", "LAST MODIFIED"].map(String::from).to_vec()];
        let mut marker: Option<String> = None;
        loop {
            let path = match &marker {
                Some(marker) => format!("/2015-03-31/functions/?Marker={marker}"),
                None => "/2015-03-31/functions/".to_owned(),
            };
            let page = self.json("ListFunctions", "GET", &path, None)?;
            for function in page["Functions"].as_array().into_iter().flatten() {
                rows.push(vec![
                    function["FunctionName"].as_str().unwrap_or_default().to_owned(),
                    function["Runtime"].as_str().unwrap_or_default().to_owned(),
                    format!("{} MB", function["MemorySize"]),
                    format!("{} s", function["Timeout"]),
                    function["State"].as_str().unwrap_or("Active").to_owned(),
                    function["LastModified"].as_str().unwrap_or_default().to_owned(),
                ]);
            }
            match page["NextMarker"].as_str() {
                Some(next) => marker = Some(next.to_owned()),
                None => break,
            }
        }
        print_table(&rows);
        Ok(())
    }

    fn logs(&self, name: &str, follow: bool) -> Result<(), FnError> {
        let mut offset = 0u64;
        loop {
            let path = format!("/_cloudlet/functions/{name}/logs?offset={offset}");
            let page = self.json("ReadLogs", "GET", &path, None)?;
            let mut out = std::io::stdout().lock();
            for line in page["lines"].as_array().into_iter().flatten() {
                let _ = writeln!(out, "{}", line.as_str().unwrap_or_default());
            }
            offset = page["next_offset"].as_u64().unwrap_or(offset);
            drop(out);
            if !follow {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn concurrency(&self, name: &str, reserved: Option<u32>, delete: bool) -> Result<(), FnError> {
        let mut out = std::io::stdout().lock();
        if delete {
            self.call(
                "DeleteFunctionConcurrency",
                "DELETE",
                &format!("/2017-10-31/functions/{name}/concurrency"),
                &[],
                &[],
                Duration::from_secs(60),
            )?;
            let _ = writeln!(out, "{name}: reserved concurrency removed");
            return Ok(());
        }
        let result = match reserved {
            Some(n) => self.json(
                "PutFunctionConcurrency",
                "PUT",
                &format!("/2017-10-31/functions/{name}/concurrency"),
                Some(&json!({ "ReservedConcurrentExecutions": n })),
            )?,
            None => {
                self.json("GetFunctionConcurrency", "GET", &format!("/2019-09-30/functions/{name}/concurrency"), None)?
            }
        };
        match result["ReservedConcurrentExecutions"].as_u64() {
            Some(n) => writeln!(out, "{name}: reserved concurrency {n}"),
            None => writeln!(out, "{name}: no reserved concurrency (uses the unreserved pool)"),
        }
        .map_err(|source| FnError::Read { path: PathBuf::from("<stdout>"), source })
    }

    fn provisioned(&self, name: &str, qualifier: &str, count: u32) -> Result<(), FnError> {
        let path = format!("/2019-09-30/functions/{name}/provisioned-concurrency?Qualifier={qualifier}");
        let result = self.json(
            "PutProvisionedConcurrencyConfig",
            "PUT",
            &path,
            Some(&json!({ "ProvisionedConcurrentExecutions": count })),
        )?;
        let _ = writeln!(
            std::io::stdout().lock(),
            "{name}:{qualifier}: provisioned concurrency {} requested, {} allocated, status {}",
            result["RequestedProvisionedConcurrentExecutions"],
            result["AllocatedProvisionedConcurrentExecutions"],
            result["Status"].as_str().unwrap_or_default()
        );
        Ok(())
    }

    fn stats(&self) -> Result<(), FnError> {
        let stats = self.json("Stats", "GET", "/_cloudlet/functions/stats", None)?;
        let mut rows = vec![
            ["FUNCTION", "CONCURRENT", "PROVISIONED", "COLD", "WARM", "PC INVOKES", "SPILLOVER", "THROTTLES"]
                .map(String::from)
                .to_vec(),
        ];
        for function in stats["functions"].as_array().into_iter().flatten() {
            let field = |key: &str| function[key].to_string();
            rows.push(vec![
                function["function"].as_str().unwrap_or_default().to_owned(),
                field("concurrent_executions"),
                field("provisioned_concurrent_executions"),
                field("cold_starts"),
                field("warm_starts"),
                field("provisioned_invocations"),
                field("spillover_invocations"),
                field("throttles"),
            ]);
        }
        print_table(&rows);
        let account = &stats["account"];
        let _ = writeln!(
            std::io::stdout().lock(),
            "\naccount: {} concurrent ({} unreserved), {} claimed of {}",
            account["concurrent_executions"],
            account["unreserved_concurrent_executions"],
            account["claimed_account_concurrency"],
            account["account_concurrency_limit"],
        );
        Ok(())
    }
}

/// A directory is zipped deterministically; a `.zip` file is sent as is.
fn package(path: &Path) -> Result<Vec<u8>, FnError> {
    if path.is_dir() {
        cloudlet_functions::package::zip_directory(path)
            .map_err(|source| FnError::Package { path: path.to_owned(), source })
    } else {
        std::fs::read(path).map_err(|source| FnError::Read { path: path.to_owned(), source })
    }
}

fn parse_env(pairs: &[String]) -> Result<serde_json::Map<String, Value>, FnError> {
    let mut variables = serde_json::Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(FnError::Invalid { what: "--env", value: pair.clone(), expected: "expected KEY=VALUE" });
        };
        variables.insert(key.to_owned(), Value::from(value));
    }
    Ok(variables)
}

/// Columns padded to their widest cell.
fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = std::io::stdout().lock();
    for row in rows {
        let line: Vec<String> =
            row.iter().enumerate().map(|(c, cell)| format!("{cell:<width$}", width = widths[c])).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
}
