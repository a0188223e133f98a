//! `aws_sqs_queue` over the daemon's SQS JSON API: CreateQueue,
//! SetQueueAttributes, DeleteQueue, GetQueueAttributes and the tag calls,
//! as the AWS provider makes them. The id is the queue URL.

use std::collections::BTreeMap;

use serde_json::json;

use crate::value::{Type, Value};

use super::super::{
    Attr, PlannedChange, ProviderError, Schema, SharedRng, get, get_bool, get_str, plan_from_schema, set,
};
use super::{ApiError, call, skeleton_of};

/// Attribute ↔ SQS queue attribute, for the numeric settings.
const NUMERIC: &[(&str, &str, i64)] = &[
    ("visibility_timeout_seconds", "VisibilityTimeout", 30),
    ("message_retention_seconds", "MessageRetentionPeriod", 345_600),
    ("delay_seconds", "DelaySeconds", 0),
    ("max_message_size", "MaximumMessageSize", 262_144),
    ("receive_wait_time_seconds", "ReceiveMessageWaitTimeSeconds", 0),
];

fn tags_type() -> Type {
    Type::Map(Box::new(Type::String))
}

pub(super) fn schema() -> Schema {
    let mut attrs = vec![
        Attr::computed("id", Type::String),
        Attr::computed("arn", Type::String),
        Attr::computed("url", Type::String),
        Attr::optional("name", Type::String).optional_computed().force_new(),
        Attr::optional("name_prefix", Type::String).force_new(),
        Attr::optional("fifo_queue", Type::Bool).default(Value::Bool(false)).force_new(),
        Attr::optional("content_based_deduplication", Type::Bool).default(Value::Bool(false)),
        Attr::optional("redrive_policy", Type::String).optional_computed(),
        Attr::optional("tags", tags_type()),
    ];
    for (name, _, default) in NUMERIC {
        attrs.push(Attr::optional(name, Type::Number).default(Value::int(*default)));
    }
    Schema::new(attrs)
}

pub(super) fn skeleton(schema: &Schema, url: &str) -> Value {
    skeleton_of(schema, url)
}

pub(super) fn validate(config: &Value) -> Result<(), ProviderError> {
    if get_str(config, "name").is_some() && get_str(config, "name_prefix").is_some() {
        return Err(ProviderError::new("Conflicting configuration arguments", "\"name\": conflicts with name_prefix"));
    }
    let fifo = get_bool(config, "fifo_queue") == Some(true);
    if let Some(name) = get_str(config, "name") {
        let stem = name.strip_suffix(".fifo").unwrap_or(name);
        let ok_chars = !stem.is_empty()
            && stem.len() <= 75
            && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok_chars || fifo != name.ends_with(".fifo") {
            return Err(ProviderError::new(
                "invalid queue name",
                format!(
                    "invalid queue name: {name} (1-80 alphanumeric characters, hyphens or underscores; a FIFO queue's name ends in \".fifo\")"
                ),
            ));
        }
    }
    if get_bool(config, "content_based_deduplication") == Some(true) && !fifo {
        return Err(ProviderError::new(
            "Invalid configuration",
            "content_based_deduplication can be specified only for FIFO queues",
        ));
    }
    Ok(())
}

pub(super) fn plan(schema: &Schema, prior: Option<&Value>, config: &Value) -> PlannedChange {
    let mut p = plan_from_schema(schema, prior, config);
    // An unset redrive policy keeps what the queue has, even none.
    let unset = get(config, "redrive_policy").is_none_or(Value::is_null);
    if let (Some(prior), true) = (prior, unset && p.requires_replace.is_empty()) {
        let was = get(prior, "redrive_policy").cloned().unwrap_or(Value::Null(Type::String));
        set(&mut p.planned, "redrive_policy", was);
    }
    // The URL and ARN follow the name, which is known when configured.
    if prior.is_none() || !p.requires_replace.is_empty() {
        for n in ["id", "arn", "url"] {
            set(&mut p.planned, n, Value::Unknown(Type::String));
        }
    }
    p
}

fn api(endpoint: &str, op: &str, input: &serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let target = format!("AmazonSQS.{op}");
    let headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", target.as_str())];
    call(endpoint, "POST", "/", &headers, input.to_string().as_bytes())
}

fn gone(e: &ApiError) -> bool {
    e.code.contains("NonExistentQueue") || e.code.contains("QueueDoesNotExist")
}

fn tags_of(v: &Value) -> BTreeMap<String, String> {
    match get(v, "tags") {
        Some(Value::Map(_, m)) => {
            m.iter().filter_map(|(k, v)| v.unmarked().as_str().map(|s| (k.clone(), s.to_owned()))).collect()
        }
        _ => BTreeMap::new(),
    }
}

/// The queue attributes a planned object sets (AWS names, as strings).
fn attributes(planned: &Value, creating: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, key, _) in NUMERIC {
        if let Some(n) = super::super::get_i64(planned, name) {
            out.insert((*key).to_owned(), n.to_string());
        }
    }
    let fifo = get_bool(planned, "fifo_queue") == Some(true);
    if fifo {
        if creating {
            out.insert("FifoQueue".to_owned(), "true".to_owned());
        }
        let cbd = get_bool(planned, "content_based_deduplication") == Some(true);
        out.insert("ContentBasedDeduplication".to_owned(), cbd.to_string());
    }
    match get_str(planned, "redrive_policy") {
        Some(p) if !p.is_empty() => {
            out.insert("RedrivePolicy".to_owned(), p.to_owned());
        }
        Some(_) | None if !creating => {
            out.insert("RedrivePolicy".to_owned(), String::new());
        }
        _ => {}
    }
    out
}

fn generated_name(rng: &SharedRng, prefix: &str) -> String {
    let n = rng.lock().map(|mut r| r.next_u64()).unwrap_or(0);
    format!("{prefix}{:026x}", u128::from(n) << 40 | u128::from(n >> 24))
}

pub(super) fn apply(
    endpoint: &str,
    rng: &SharedRng,
    prior: Option<&Value>,
    planned: Option<&Value>,
) -> Result<Option<Value>, ProviderError> {
    let Some(planned) = planned else {
        let url = prior.and_then(|p| get_str(p, "id")).unwrap_or_default();
        return match api(endpoint, "DeleteQueue", &json!({ "QueueUrl": url })) {
            Ok(_) => Ok(None),
            Err(e) if gone(&e) => Ok(None),
            Err(e) => Err(e.into_provider("deleting SQS Queue")),
        };
    };
    let mut new = planned.clone();
    let url = match prior {
        None => {
            let fifo = get_bool(planned, "fifo_queue") == Some(true);
            let name = match get_str(planned, "name") {
                Some(n) => n.to_owned(),
                None => {
                    let prefix = get_str(planned, "name_prefix").unwrap_or("terraform-");
                    let n = generated_name(rng, prefix);
                    if fifo { format!("{n}.fifo") } else { n }
                }
            };
            let mut input = json!({ "QueueName": name, "Attributes": attributes(planned, true) });
            let tags = tags_of(planned);
            if !tags.is_empty() {
                input["tags"] = json!(tags);
            }
            let out = api(endpoint, "CreateQueue", &input).map_err(|e| e.into_provider("creating SQS Queue"))?;
            set(&mut new, "name", Value::string(name));
            out["QueueUrl"].as_str().unwrap_or_default().to_owned()
        }
        Some(prior) => {
            let url = get_str(prior, "id").unwrap_or_default().to_owned();
            let before = attributes(prior, false);
            let after = attributes(planned, false);
            let changed: BTreeMap<&String, &String> = after.iter().filter(|(k, v)| before.get(*k) != Some(v)).collect();
            if !changed.is_empty() {
                api(endpoint, "SetQueueAttributes", &json!({ "QueueUrl": url, "Attributes": changed }))
                    .map_err(|e| e.into_provider("updating SQS Queue attributes"))?;
            }
            let (old_tags, new_tags) = (tags_of(prior), tags_of(planned));
            let removed: Vec<&String> = old_tags.keys().filter(|k| !new_tags.contains_key(*k)).collect();
            if !removed.is_empty() {
                api(endpoint, "UntagQueue", &json!({ "QueueUrl": url, "TagKeys": removed }))
                    .map_err(|e| e.into_provider("untagging SQS Queue"))?;
            }
            let added: BTreeMap<&String, &String> =
                new_tags.iter().filter(|(k, v)| old_tags.get(*k) != Some(v)).collect();
            if !added.is_empty() {
                api(endpoint, "TagQueue", &json!({ "QueueUrl": url, "Tags": added }))
                    .map_err(|e| e.into_provider("tagging SQS Queue"))?;
            }
            url
        }
    };
    set(&mut new, "id", Value::string(url));
    read(endpoint, &new)?
        .map(Some)
        .ok_or_else(|| ProviderError::new("reading SQS Queue", "The queue was not found right after it was written."))
}

/// JSON with numeric strings read as numbers (SQS accepts
/// `"maxReceiveCount": "5"` and answers with `5`).
fn normalized(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => s.parse::<i64>().map_or(serde_json::Value::String(s), serde_json::Value::from),
        serde_json::Value::Object(m) => m.into_iter().map(|(k, v)| (k, normalized(v))).collect(),
        serde_json::Value::Array(a) => a.into_iter().map(normalized).collect(),
        other => other,
    }
}

/// Whether two policy documents mean the same.
fn same_json(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(x), Ok(y)) => normalized(x) == normalized(y),
        _ => a == b,
    }
}

pub(super) fn read(endpoint: &str, state: &Value) -> Result<Option<Value>, ProviderError> {
    let url = get_str(state, "id").unwrap_or_default().to_owned();
    let attrs = match api(endpoint, "GetQueueAttributes", &json!({ "QueueUrl": url, "AttributeNames": ["All"] })) {
        Ok(out) => out["Attributes"].clone(),
        Err(e) if gone(&e) => return Ok(None),
        Err(e) => return Err(e.into_provider("reading SQS Queue")),
    };
    let attr = |k: &str| attrs[k].as_str().map(str::to_owned);
    let mut new = state.clone();
    let name = url.rsplit('/').next().unwrap_or_default().to_owned();
    set(&mut new, "id", Value::string(url.clone()));
    set(&mut new, "url", Value::string(url.clone()));
    set(&mut new, "name", Value::string(name.clone()));
    set(&mut new, "arn", attr("QueueArn").map_or(Value::Null(Type::String), Value::string));
    for (n, key, default) in NUMERIC {
        let v = attr(key).and_then(|s| s.parse::<i64>().ok()).unwrap_or(*default);
        set(&mut new, n, Value::int(v));
    }
    let fifo = attr("FifoQueue").is_some_and(|v| v == "true");
    set(&mut new, "fifo_queue", Value::Bool(fifo));
    set(
        &mut new,
        "content_based_deduplication",
        Value::Bool(attr("ContentBasedDeduplication").is_some_and(|v| v == "true")),
    );
    let redrive = match (attr("RedrivePolicy"), get_str(state, "redrive_policy")) {
        (Some(now), Some(was)) if same_json(&now, was) => Value::string(was),
        (Some(now), _) if !now.is_empty() => Value::string(now),
        _ => Value::Null(Type::String),
    };
    set(&mut new, "redrive_policy", redrive);
    if get(&new, "name_prefix").is_none_or(Value::is_unknown) {
        set(&mut new, "name_prefix", Value::Null(Type::String));
    }
    let tags = match api(endpoint, "ListQueueTags", &json!({ "QueueUrl": url })) {
        Ok(out) => out["Tags"].as_object().map(|m| {
            m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), Value::string(s)))).collect::<BTreeMap<_, _>>()
        }),
        Err(e) => return Err(e.into_provider("listing SQS Queue tags")),
    }
    .unwrap_or_default();
    let was_null = get(state, "tags").is_none_or(Value::is_null);
    let tags = if tags.is_empty() && was_null { Value::Null(tags_type()) } else { Value::Map(Type::String, tags) };
    set(&mut new, "tags", tags);
    Ok(Some(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policies_compare_by_meaning() {
        assert!(same_json(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"5"}"#,
            r#"{"maxReceiveCount":5,"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}"#
        ));
        assert!(!same_json(r#"{"maxReceiveCount":5}"#, r#"{"maxReceiveCount":6}"#));
    }

    #[test]
    fn names_are_checked_before_any_call() {
        let obj = |name: &str, fifo: bool| {
            Value::Object(
                [("name".to_owned(), Value::string(name)), ("fifo_queue".to_owned(), Value::Bool(fifo))].into(),
            )
        };
        assert!(validate(&obj("orders", false)).is_ok());
        assert!(validate(&obj("orders.fifo", true)).is_ok());
        assert!(validate(&obj("orders", true)).is_err());
        assert!(validate(&obj("bad name", false)).is_err());
    }
}
