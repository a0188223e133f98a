//! `cloudlet sqs ...`: queues from the command line.
//!
//! Every command talks to the daemon through SQS's JSON protocol, the one
//! boto3 uses, so the CLI is also a client of the API it ships with. A queue
//! is named by its name or its URL; tables for people, `--json` for scripts
//! (the API's own response shapes).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::cli::{SqsArgs, SqsCommand};
use crate::client;

/// Long enough for a 20-second long poll.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The most body characters a table shows.
const BODY_COLUMN_CHARS: usize = 60;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SqsError {
    #[error("cannot reach the cloudlet daemon at {endpoint}; hint: start it with `cloudlet up`")]
    Unreachable {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{operation} failed: {status} {code}: {message}")]
    Api { operation: &'static str, status: u16, code: String, message: String },
    #[error("invalid {what} `{value}`: expected KEY=VALUE")]
    Invalid { what: &'static str, value: String },
}

pub(crate) fn run(args: SqsArgs) -> Result<(), SqsError> {
    let api = Api::new(&args.endpoint)?;
    let json_output = args.json;
    match args.command {
        SqsCommand::Create { name, fifo, attribute } => {
            let mut attributes = parse_pairs("--attribute", &attribute)?;
            if fifo {
                attributes.insert("FifoQueue".into(), "true".into());
            }
            let out = api.call("CreateQueue", &json!({ "QueueName": name, "Attributes": attributes }))?;
            print_json_or(json_output, &out, || out["QueueUrl"].as_str().unwrap_or_default().to_owned());
        }
        SqsCommand::List { prefix } => {
            let mut urls = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut input = json!({ "MaxResults": 1000 });
                if let Some(prefix) = &prefix {
                    input["QueueNamePrefix"] = Value::from(prefix.as_str());
                }
                if let Some(token) = &token {
                    input["NextToken"] = Value::from(token.as_str());
                }
                let page = api.call("ListQueues", &input)?;
                urls.extend(
                    page["QueueUrls"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned),
                );
                match page["NextToken"].as_str() {
                    Some(next) => token = Some(next.to_owned()),
                    None => break,
                }
            }
            let mut queues = Vec::new();
            for url in &urls {
                let attributes =
                    api.call("GetQueueAttributes", &json!({ "QueueUrl": url, "AttributeNames": ["All"] }))?;
                queues.push((url.clone(), attributes["Attributes"].clone()));
            }
            if json_output {
                let list: Vec<Value> = queues
                    .iter()
                    .map(|(url, attributes)| json!({ "QueueUrl": url, "Attributes": attributes }))
                    .collect();
                print_line(&Value::from(list).to_string());
            } else {
                let mut rows =
                    vec![["NAME", "TYPE", "VISIBLE", "IN FLIGHT", "DELAYED", "VISIBILITY"].map(String::from).to_vec()];
                for (url, attributes) in &queues {
                    let get = |name: &str| attributes[name].as_str().unwrap_or("0").to_owned();
                    rows.push(vec![
                        url.rsplit('/').next().unwrap_or_default().to_owned(),
                        if attributes["FifoQueue"] == "true" { "fifo" } else { "standard" }.to_owned(),
                        get("ApproximateNumberOfMessages"),
                        get("ApproximateNumberOfMessagesNotVisible"),
                        get("ApproximateNumberOfMessagesDelayed"),
                        format!("{} s", get("VisibilityTimeout")),
                    ]);
                }
                print_table(&rows);
            }
        }
        SqsCommand::Send { queue, body, group, dedup, delay, attribute } => {
            let url = api.queue_url(&queue)?;
            let mut input = json!({ "QueueUrl": url, "MessageBody": body });
            if let Some(group) = group {
                input["MessageGroupId"] = Value::from(group);
            }
            if let Some(dedup) = dedup {
                input["MessageDeduplicationId"] = Value::from(dedup);
            }
            if let Some(delay) = delay {
                input["DelaySeconds"] = Value::from(delay);
            }
            let attributes: Map<String, Value> = parse_pairs("--attribute", &attribute)?
                .into_iter()
                .map(|(k, v)| (k, json!({ "DataType": "String", "StringValue": v })))
                .collect();
            if !attributes.is_empty() {
                input["MessageAttributes"] = Value::Object(attributes);
            }
            let out = api.call("SendMessage", &input)?;
            print_json_or(json_output, &out, || out["MessageId"].as_str().unwrap_or_default().to_owned());
        }
        SqsCommand::Receive { queue, max, wait, visibility, delete } => {
            let url = api.queue_url(&queue)?;
            let mut input = json!({
                "QueueUrl": url,
                "MaxNumberOfMessages": max,
                "WaitTimeSeconds": wait,
                "MessageSystemAttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            });
            if let Some(visibility) = visibility {
                input["VisibilityTimeout"] = Value::from(visibility);
            }
            let out = api.call("ReceiveMessage", &input)?;
            let messages = out["Messages"].as_array().cloned().unwrap_or_default();
            if json_output {
                print_line(&out.to_string());
            } else {
                let mut rows = vec![["MESSAGE ID", "RECEIVES", "BODY"].map(String::from).to_vec()];
                for message in &messages {
                    let body = message["Body"].as_str().unwrap_or_default();
                    let mut shown: String = body.chars().take(BODY_COLUMN_CHARS).collect();
                    if body.chars().count() > BODY_COLUMN_CHARS {
                        shown.push('…');
                    }
                    rows.push(vec![
                        message["MessageId"].as_str().unwrap_or_default().to_owned(),
                        message["Attributes"]["ApproximateReceiveCount"].as_str().unwrap_or_default().to_owned(),
                        shown.replace('\n', "⏎"),
                    ]);
                }
                print_table(&rows);
            }
            if delete {
                for message in &messages {
                    let handle = message["ReceiptHandle"].as_str().unwrap_or_default();
                    api.call("DeleteMessage", &json!({ "QueueUrl": url, "ReceiptHandle": handle }))?;
                }
            }
        }
        SqsCommand::Delete { queue, receipt_handle } => {
            let url = api.queue_url(&queue)?;
            match receipt_handle {
                Some(handle) => api.call("DeleteMessage", &json!({ "QueueUrl": url, "ReceiptHandle": handle }))?,
                None => api.call("DeleteQueue", &json!({ "QueueUrl": url }))?,
            };
        }
        SqsCommand::Purge { queue } => {
            let url = api.queue_url(&queue)?;
            api.call("PurgeQueue", &json!({ "QueueUrl": url }))?;
        }
        SqsCommand::Attrs { queue, set } => {
            let url = api.queue_url(&queue)?;
            let changes = parse_pairs("--set", &set)?;
            if !changes.is_empty() {
                api.call("SetQueueAttributes", &json!({ "QueueUrl": url, "Attributes": changes }))?;
            }
            let out = api.call("GetQueueAttributes", &json!({ "QueueUrl": url, "AttributeNames": ["All"] }))?;
            if json_output {
                print_line(&out.to_string());
            } else {
                let mut rows = vec![["ATTRIBUTE", "VALUE"].map(String::from).to_vec()];
                for (name, value) in out["Attributes"].as_object().into_iter().flatten() {
                    rows.push(vec![name.clone(), value.as_str().unwrap_or_default().to_owned()]);
                }
                print_table(&rows);
            }
        }
    }
    Ok(())
}

struct Api {
    endpoint: String,
    addr: SocketAddr,
}

impl Api {
    fn new(endpoint: &str) -> Result<Api, SqsError> {
        let addr = client::endpoint_addr(endpoint)
            .map_err(|source| SqsError::Unreachable { endpoint: endpoint.to_owned(), source })?;
        Ok(Api { endpoint: endpoint.to_owned(), addr })
    }

    fn call(&self, operation: &'static str, input: &Value) -> Result<Value, SqsError> {
        let target = format!("AmazonSQS.{operation}");
        let headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", target.as_str())];
        let body = input.to_string();
        let response = client::send(self.addr, "POST", "/", &headers, body.as_bytes(), READ_TIMEOUT)
            .map_err(|source| SqsError::Unreachable { endpoint: self.endpoint.clone(), source })?;
        let parsed: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if response.status >= 400 {
            let code = response
                .header("x-amzn-query-error")
                .and_then(|v| v.split(';').next())
                .or(parsed["__type"].as_str())
                .unwrap_or("Error")
                .to_owned();
            let message = parsed["message"].as_str().or(parsed["Message"].as_str()).unwrap_or_default().to_owned();
            return Err(SqsError::Api { operation, status: response.status, code, message });
        }
        Ok(parsed)
    }

    /// A queue URL from a name or a URL.
    fn queue_url(&self, queue: &str) -> Result<String, SqsError> {
        if queue.starts_with("http://") || queue.starts_with("https://") {
            return Ok(queue.to_owned());
        }
        let out = self.call("GetQueueUrl", &json!({ "QueueName": queue }))?;
        Ok(out["QueueUrl"].as_str().unwrap_or_default().to_owned())
    }
}

fn parse_pairs(what: &'static str, pairs: &[String]) -> Result<BTreeMap<String, String>, SqsError> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(SqsError::Invalid { what, value: pair.clone() }),
        })
        .collect()
}

fn print_line(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn print_json_or(json_output: bool, value: &Value, text: impl FnOnce() -> String) {
    print_line(&if json_output { value.to_string() } else { text() });
}

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
