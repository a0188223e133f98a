//! `cloudlet infra` with the `aws` provider subset against a real daemon:
//! a queue with a dead-letter queue and a function, created, updated,
//! refreshed after out-of-band drift, imported and destroyed, with the
//! daemon's own API as the judge.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use super::*;

fn infra(dir: &Path, args: &[&str]) -> (i32, String) {
    let chdir = format!("-chdir={}", dir.display());
    let out: Output =
        cloudlet().args(["infra", &chdir]).args(args).env_remove("TF_WORKSPACE").output().expect("run cloudlet infra");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, text) = infra(dir, args);
    assert_eq!(code, 0, "cloudlet infra {args:?}:\n{text}");
    text
}

/// Writes a `provided.al2023` package to `path`.
fn write_zip(path: &Path, marker: &str) {
    let src = tempfile::tempdir().expect("tempdir");
    let bootstrap = src.path().join("bootstrap");
    std::fs::write(&bootstrap, format!("#!/bin/sh\n# {marker}\n")).expect("write bootstrap");
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let zip = cloudlet_functions::package::zip_directory(src.path()).expect("zip");
    std::fs::write(path, &zip).expect("write zip");
}

fn sqs(addr: SocketAddr, op: &str, input: &Value) -> (u16, Value) {
    let target = format!("AmazonSQS.{op}");
    let headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", target.as_str())];
    let r = http::request_with_body(addr, "POST", "/", &headers, input.to_string().as_bytes()).expect("sqs call");
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

fn lambda(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let r = http::request_with_body(addr, method, path, &[("Content-Type", "application/json")], &bytes)
        .expect("lambda call");
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

fn queue_attrs(addr: SocketAddr, url: &str) -> Value {
    let (status, out) = sqs(addr, "GetQueueAttributes", &json!({ "QueueUrl": url, "AttributeNames": ["All"] }));
    assert_eq!(status, 200, "{out}");
    out["Attributes"].clone()
}

fn configuration(addr: SocketAddr) -> String {
    format!(
        r#"provider "aws" {{
  region = "us-east-1"
  endpoints {{
    sqs    = "http://{addr}"
    lambda = "http://{addr}"
  }}
}}

variable "visibility" {{
  default = 30
}}

variable "team" {{
  default = "a"
}}

resource "aws_sqs_queue" "dlq" {{
  name = "orders-dlq"
}}

resource "aws_sqs_queue" "orders" {{
  name                       = "orders"
  visibility_timeout_seconds = var.visibility
  redrive_policy = jsonencode({{
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = 5
  }})
  tags = {{ team = var.team }}
}}

resource "aws_lambda_function" "worker" {{
  function_name                  = "worker"
  filename                       = "fn.zip"
  source_code_hash               = filebase64sha256("fn.zip")
  role                           = "arn:aws:iam::000000000000:role/worker"
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  timeout                        = 10
  reserved_concurrent_executions = 2
  environment {{
    variables = {{ QUEUE_URL = aws_sqs_queue.orders.url }}
  }}
}}

output "queue_url" {{
  value = aws_sqs_queue.orders.url
}}

output "function_arn" {{
  value = aws_lambda_function.worker.arn
}}
"#
    )
}

#[test]
fn queue_and_function_lifecycle_with_drift_and_import() {
    let data = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(data.path());
    let addr = daemon.addr;
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    std::fs::write(dir.join("main.tf"), configuration(addr)).expect("write main.tf");
    write_zip(&dir.join("fn.zip"), "v1");

    ok(dir, &["init"]);
    let out = ok(dir, &["apply", "-auto-approve", "-no-color"]);
    assert!(out.contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed."), "{out}");

    // The daemon holds what the configuration says.
    let (_, found) = sqs(addr, "GetQueueUrl", &json!({ "QueueName": "orders" }));
    let url = found["QueueUrl"].as_str().expect("orders exists").to_owned();
    assert!(out.contains(&format!("queue_url = \"{url}\"")), "{out}");
    let attrs = queue_attrs(addr, &url);
    assert_eq!(attrs["VisibilityTimeout"], "30");
    let redrive: Value = serde_json::from_str(attrs["RedrivePolicy"].as_str().expect("redrive")).expect("json");
    assert_eq!(redrive["deadLetterTargetArn"], "arn:aws:sqs:us-east-1:000000000000:orders-dlq");
    let (_, tags) = sqs(addr, "ListQueueTags", &json!({ "QueueUrl": url }));
    assert_eq!(tags["Tags"], json!({ "team": "a" }));
    let (status, function) = lambda(addr, "GET", "/2015-03-31/functions/worker", None);
    assert_eq!(status, 200, "{function}");
    assert_eq!(function["Configuration"]["Timeout"], 10);
    let hash_v1 = function["Configuration"]["CodeSha256"].as_str().expect("code hash").to_owned();
    assert_eq!(function["Configuration"]["Environment"]["Variables"]["QUEUE_URL"], url.as_str());
    assert_eq!(function["Concurrency"]["ReservedConcurrentExecutions"], 2);

    // What was applied reads back unchanged (source_code_hash included:
    // filebase64sha256 of the archive is the daemon's CodeSha256).
    let (code, out) = infra(dir, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{out}");

    // An in-place update: SetQueueAttributes and the tag calls.
    let out = ok(dir, &["apply", "-auto-approve", "-no-color", "-var", "visibility=45", "-var", "team=b"]);
    assert!(out.contains("Resources: 0 added, 1 changed, 0 destroyed."), "{out}");
    assert_eq!(queue_attrs(addr, &url)["VisibilityTimeout"], "45");
    let (_, tags) = sqs(addr, "ListQueueTags", &json!({ "QueueUrl": url }));
    assert_eq!(tags["Tags"], json!({ "team": "b" }));
    let vars = ["-var", "visibility=45", "-var", "team=b"];

    // Reserved concurrency changed behind the engine's back is drift.
    let (status, body) = lambda(
        addr,
        "PUT",
        "/2017-10-31/functions/worker/concurrency",
        Some(&json!({ "ReservedConcurrentExecutions": 7 })),
    );
    assert_eq!(status, 200, "{body}");
    let mut args = vec!["plan", "-refresh-only", "-detailed-exitcode", "-no-color"];
    args.extend(vars);
    let (code, out) = infra(dir, &args);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("reserved_concurrent_executions"), "{out}");
    let mut args = vec!["apply", "-auto-approve", "-no-color"];
    args.extend(vars);
    let out = ok(dir, &args);
    assert!(out.contains("Resources: 0 added, 1 changed, 0 destroyed."), "{out}");
    let (_, function) = lambda(addr, "GET", "/2015-03-31/functions/worker", None);
    assert_eq!(function["Concurrency"]["ReservedConcurrentExecutions"], 2);

    // So is a queue setting changed through the SQS API.
    let (status, body) =
        sqs(addr, "SetQueueAttributes", &json!({ "QueueUrl": url, "Attributes": { "VisibilityTimeout": "5" } }));
    assert_eq!(status, 200, "{body}");
    let mut refresh = vec!["plan", "-refresh-only", "-detailed-exitcode", "-no-color"];
    refresh.extend(vars);
    let (code, out) = infra(dir, &refresh);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("visibility_timeout_seconds"), "{out}");
    let out = ok(dir, &args);
    assert!(out.contains("Resources: 0 added, 1 changed, 0 destroyed."), "{out}");
    assert_eq!(queue_attrs(addr, &url)["VisibilityTimeout"], "45");

    // New code: UpdateFunctionCode.
    write_zip(&dir.join("fn.zip"), "v2");
    let out = ok(dir, &args);
    assert!(out.contains("Resources: 0 added, 1 changed, 0 destroyed."), "{out}");
    let (_, function) = lambda(addr, "GET", "/2015-03-31/functions/worker", None);
    assert_ne!(function["Configuration"]["CodeSha256"], hash_v1.as_str());
    let (code, out) =
        infra(dir, &["plan", "-detailed-exitcode", "-no-color", "-var", "visibility=45", "-var", "team=b"]);
    assert_eq!(code, 0, "{out}");

    // Forget the dead-letter queue, import it back by URL: nothing to do.
    let (_, found) = sqs(addr, "GetQueueUrl", &json!({ "QueueName": "orders-dlq" }));
    let dlq_url = found["QueueUrl"].as_str().expect("dlq exists").to_owned();
    ok(dir, &["state", "rm", "aws_sqs_queue.dlq"]);
    let mut import = vec!["import", "-no-color"];
    import.extend(vars);
    import.extend(["aws_sqs_queue.dlq", dlq_url.as_str()]);
    ok(dir, &import);
    let mut args = vec!["plan", "-detailed-exitcode", "-no-color"];
    args.extend(vars);
    let (code, out) = infra(dir, &args);
    assert_eq!(code, 0, "{out}");

    let mut args = vec!["destroy", "-auto-approve", "-no-color"];
    args.extend(vars);
    let out = ok(dir, &args);
    assert!(out.contains("Destroy complete! Resources: 3 destroyed."), "{out}");
    let (status, _) = sqs(addr, "GetQueueAttributes", &json!({ "QueueUrl": url, "AttributeNames": ["All"] }));
    assert_eq!(status, 400);
    let (status, _) = lambda(addr, "GET", "/2015-03-31/functions/worker", None);
    assert_eq!(status, 404);
}

#[test]
fn an_unreachable_daemon_is_a_clear_error() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    // A port nothing listens on: bind one, then let it go.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    std::fs::write(dir.join("main.tf"), configuration(addr)).expect("write main.tf");
    write_zip(&dir.join("fn.zip"), "v1");
    ok(dir, &["init"]);
    let (code, out) = infra(dir, &["apply", "-auto-approve", "-no-color"]);
    assert_eq!(code, 1, "{out}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Error: creating SQS Queue: the daemon is unreachable"), "{out}");
    assert!(flat.contains(&format!("cannot reach the cloudlet daemon at http://{addr}:")), "{out}");
}
