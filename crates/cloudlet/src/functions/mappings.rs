//! `cloudlet fn mappings` and `cloudlet fn async-config`: event source
//! mappings and asynchronous invocation settings, through the same Lambda
//! REST API boto3 uses. Tables for people, `--json` for scripts (the API's
//! own JSON).

use std::io::Write as _;

use serde_json::{Map, Value, json};

use super::{Api, FnError, print_table};
use crate::cli::{MappingSettings, MappingsCommand};

const MAPPINGS: &str = "/2015-03-31/event-source-mappings";

/// The flags of `fn async-config`.
#[derive(Debug)]
pub(super) struct AsyncChange {
    pub(super) max_retries: Option<u32>,
    pub(super) max_age: Option<u32>,
    pub(super) on_success: Option<String>,
    pub(super) on_failure: Option<String>,
    pub(super) delete: bool,
}

pub(super) fn run(api: &Api, command: MappingsCommand, json_output: bool) -> Result<(), FnError> {
    match command {
        MappingsCommand::List { function } => {
            let mut all = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let mut query = Vec::new();
                if let Some(function) = &function {
                    query.push(format!("FunctionName={}", encode(function)));
                }
                if let Some(marker) = &marker {
                    query.push(format!("Marker={}", encode(marker)));
                }
                let path =
                    if query.is_empty() { MAPPINGS.to_owned() } else { format!("{MAPPINGS}?{}", query.join("&")) };
                let page = api.json("ListEventSourceMappings", "GET", &path, None)?;
                all.extend(page["EventSourceMappings"].as_array().into_iter().flatten().cloned());
                match page["NextMarker"].as_str() {
                    Some(next) => marker = Some(next.to_owned()),
                    None => break,
                }
            }
            if json_output {
                print_json(&json!({ "EventSourceMappings": all }));
            } else {
                print_mappings(&all);
            }
            Ok(())
        }
        MappingsCommand::Create { function, queue, settings } => {
            let queue_arn = queue_arn(api, &queue)?;
            let mut body = settings_body(&settings);
            body.insert("FunctionName".to_owned(), Value::from(function));
            body.insert("EventSourceArn".to_owned(), Value::from(queue_arn));
            let created = api.json("CreateEventSourceMapping", "POST", MAPPINGS, Some(&Value::Object(body)))?;
            print_one(&created, json_output);
            Ok(())
        }
        MappingsCommand::Update { uuid, function, settings } => {
            let mut body = settings_body(&settings);
            if let Some(function) = function {
                body.insert("FunctionName".to_owned(), Value::from(function));
            }
            let path = format!("{MAPPINGS}/{}", encode(&uuid));
            let updated = api.json("UpdateEventSourceMapping", "PUT", &path, Some(&Value::Object(body)))?;
            print_one(&updated, json_output);
            Ok(())
        }
        MappingsCommand::Delete { uuid } => {
            let path = format!("{MAPPINGS}/{}", encode(&uuid));
            let deleted = api.json("DeleteEventSourceMapping", "DELETE", &path, None)?;
            print_one(&deleted, json_output);
            Ok(())
        }
    }
}

pub(super) fn async_config(
    api: &Api,
    name: &str,
    qualifier: Option<&str>,
    change: &AsyncChange,
    json_output: bool,
) -> Result<(), FnError> {
    let mut path = format!("/2019-09-25/functions/{}/event-invoke-config", encode(name));
    if let Some(qualifier) = qualifier {
        path.push_str(&format!("?Qualifier={}", encode(qualifier)));
    }
    if change.delete {
        api.json("DeleteFunctionEventInvokeConfig", "DELETE", &path, None)?;
        let _ = writeln!(
            std::io::stdout().lock(),
            "deleted the asynchronous invocation settings of {name}; the defaults apply"
        );
        return Ok(());
    }
    let mut body = Map::new();
    if let Some(retries) = change.max_retries {
        body.insert("MaximumRetryAttempts".to_owned(), Value::from(retries));
    }
    if let Some(age) = change.max_age {
        body.insert("MaximumEventAgeInSeconds".to_owned(), Value::from(age));
    }
    let mut destinations = Map::new();
    for (key, arn) in [("OnSuccess", &change.on_success), ("OnFailure", &change.on_failure)] {
        if let Some(arn) = arn {
            destinations.insert(key.to_owned(), json!({ "Destination": arn }));
        }
    }
    if !destinations.is_empty() {
        body.insert("DestinationConfig".to_owned(), Value::Object(destinations));
    }
    let config = if body.is_empty() {
        match api.json("GetFunctionEventInvokeConfig", "GET", &path, None) {
            Ok(config) => config,
            // No settings stored: show what applies.
            Err(FnError::Api { status: 404, .. }) => json!({
                "FunctionArn": Value::Null,
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 21_600,
                "DestinationConfig": { "OnSuccess": {}, "OnFailure": {} },
            }),
            Err(err) => return Err(err),
        }
    } else {
        // POST is UpdateFunctionEventInvokeConfig: settings not given keep
        // their values. With none stored yet, PUT creates them.
        let body = Value::Object(body);
        match api.json("UpdateFunctionEventInvokeConfig", "POST", &path, Some(&body)) {
            Err(FnError::Api { status: 404, .. }) => {
                api.json("PutFunctionEventInvokeConfig", "PUT", &path, Some(&body))?
            }
            updated => updated?,
        }
    };
    if json_output {
        print_json(&config);
        return Ok(());
    }
    let destination = |key: &str| config["DestinationConfig"][key]["Destination"].as_str().unwrap_or("-").to_owned();
    let rows = vec![
        vec!["FUNCTION".to_owned(), config["FunctionArn"].as_str().unwrap_or(name).to_owned()],
        vec!["MAX RETRIES".to_owned(), config["MaximumRetryAttempts"].to_string()],
        vec!["MAX EVENT AGE".to_owned(), format!("{} s", config["MaximumEventAgeInSeconds"])],
        vec!["ON SUCCESS".to_owned(), destination("OnSuccess")],
        vec!["ON FAILURE".to_owned(), destination("OnFailure")],
    ];
    print_table(&rows);
    Ok(())
}

fn settings_body(settings: &MappingSettings) -> Map<String, Value> {
    let mut body = Map::new();
    if let Some(size) = settings.batch_size {
        body.insert("BatchSize".to_owned(), Value::from(size));
    }
    if let Some(window) = settings.window {
        body.insert("MaximumBatchingWindowInSeconds".to_owned(), Value::from(window));
    }
    if let Some(maximum) = settings.max_concurrency {
        body.insert("ScalingConfig".to_owned(), json!({ "MaximumConcurrency": maximum }));
    }
    if let Some(report) = settings.report_failures {
        let types: Vec<&str> = if report { vec!["ReportBatchItemFailures"] } else { Vec::new() };
        body.insert("FunctionResponseTypes".to_owned(), json!(types));
    }
    if let Some(enabled) = settings.enabled {
        body.insert("Enabled".to_owned(), Value::from(enabled));
    }
    body
}

/// A queue given by name becomes its ARN in the daemon's region and account.
fn queue_arn(api: &Api, queue: &str) -> Result<String, FnError> {
    if queue.starts_with("arn:") {
        return Ok(queue.to_owned());
    }
    let name = queue.rsplit('/').next().unwrap_or(queue);
    let info = api.json("GetInfo", "GET", "/_cloudlet/info", None)?;
    let region = info["region"].as_str().unwrap_or("us-east-1");
    let account = info["account_id"].as_str().unwrap_or("000000000000");
    Ok(format!("arn:aws:sqs:{region}:{account}:{name}"))
}

fn print_one(mapping: &Value, json_output: bool) {
    if json_output {
        print_json(mapping);
    } else {
        print_mappings(std::slice::from_ref(mapping));
    }
}

fn print_mappings(mappings: &[Value]) {
    let mut rows = vec![
        ["UUID", "FUNCTION", "QUEUE", "STATE", "BATCH", "WINDOW", "MAX CONCURRENCY", "REPORTS FAILURES"]
            .map(String::from)
            .to_vec(),
    ];
    for mapping in mappings {
        let last =
            |key: &str| mapping[key].as_str().unwrap_or_default().rsplit(':').next().unwrap_or_default().to_owned();
        let function = mapping["FunctionArn"].as_str().unwrap_or_default();
        let function = function.split_once(":function:").map_or(function, |(_, name)| name).to_owned();
        let reports = mapping["FunctionResponseTypes"].as_array().is_some_and(|types| !types.is_empty());
        rows.push(vec![
            mapping["UUID"].as_str().unwrap_or_default().to_owned(),
            function,
            last("EventSourceArn"),
            mapping["State"].as_str().unwrap_or_default().to_owned(),
            mapping["BatchSize"].to_string(),
            format!("{} s", mapping["MaximumBatchingWindowInSeconds"]),
            mapping["ScalingConfig"]["MaximumConcurrency"].as_u64().map_or("-".to_owned(), |m| m.to_string()),
            if reports { "yes" } else { "no" }.to_owned(),
        ]);
    }
    print_table(&rows);
}

fn print_json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Percent-encodes a path segment or query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
