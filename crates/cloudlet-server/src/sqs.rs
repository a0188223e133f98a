//! Amazon SQS on the shared listener: the AWS JSON 1.0 protocol
//! (`X-Amz-Target: AmazonSQS.<Op>`) and the query protocol (form
//! `Action=<Op>`, XML answers), both translated to `cloudlet_queues::Queues`
//! calls.
//!
//! Both protocols are parsed into one JSON-shaped input (the query
//! protocol's flattened `Attribute.N.Name` lists become the JSON
//! protocol's maps and lists), dispatched once, and the JSON-shaped output
//! is rendered in the caller's protocol. Errors take each protocol's exact
//! form (queues.md §1.2, §1.3): JSON `{"__type":"com.amazonaws.sqs#Shape",
//! "message":...}` or XML `ErrorResponse`, both with
//! `x-amzn-query-error: Code;Sender`.
//!
//! Queue URLs are `http://HOST/ACCOUNT/NAME`, with the host the client used.
//! This module decides nothing about queues.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use cloudlet_queues::core::{ReceivedMessage, SendOutcome, SendRequest, check_batch_ids};
use cloudlet_queues::service::{BatchFailure, BatchResult};
use cloudlet_queues::{MessageAttributeValue, Queues, ReceiveRequest, SqsError, SqsErrorCode};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::routing::percent_decode;

/// The largest request body read: a 1 MiB batch, JSON-escaped, fits.
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
const XML_NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Which protocol a request came in, to answer in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json,
    Query,
}

/// Serves `AmazonSQS.<operation>` in the JSON protocol.
pub(crate) async fn handle_json(state: AppState, operation: String, headers: HeaderMap, body: Body) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = async {
        let bytes = read_body(body).await?;
        let input: Value = if bytes.is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&bytes).map_err(|err| {
                SqsError::new(SqsErrorCode::SerializationException, format!("Malformed JSON request body: {err}"))
            })?
        };
        let Value::Object(input) = input else {
            return Err(SqsError::new(SqsErrorCode::SerializationException, "The request body must be a JSON object."));
        };
        dispatch(&state, &operation, &Input(&input), &host(&headers, &state)).await
    }
    .await;
    match result {
        Ok(output) => {
            let mut response =
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-amz-json-1.0")], output.to_string())
                    .into_response();
            insert_request_id(&mut response, &request_id);
            response
        }
        Err(err) => error_response(Protocol::Json, &err, &request_id),
    }
}

/// Serves a query-protocol request (`Action=...` in a form body or the
/// query string; the queue may be named by the request path).
pub(crate) async fn handle_query(state: AppState, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut operation = String::new();
    let result = async {
        let bytes = read_body(body).await?;
        let mut pairs = parse_form(uri.query().unwrap_or_default().as_bytes());
        pairs.extend(parse_form(&bytes));
        let params: BTreeMap<String, String> = pairs.into_iter().collect();
        operation = params.get("Action").cloned().ok_or_else(|| {
            SqsError::new(SqsErrorCode::MissingParameter, "The request must contain the parameter Action.")
        })?;
        let mut input = query_to_json(&params);
        let path = uri.path().trim_matches('/');
        if !path.is_empty() && !input.contains_key("QueueUrl") {
            input.insert("QueueUrl".to_owned(), Value::from(format!("/{path}")));
        }
        dispatch(&state, &operation, &Input(&input), &host(&headers, &state)).await
    }
    .await;
    match result {
        Ok(output) => {
            let body = render_xml(&operation, &output, &request_id);
            let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], body).into_response();
            insert_request_id(&mut response, &request_id);
            response
        }
        Err(err) => error_response(Protocol::Query, &err, &request_id),
    }
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, SqsError> {
    axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.map_err(|_| {
        SqsError::new(
            SqsErrorCode::InvalidParameterValue,
            format!("The request is larger than {MAX_REQUEST_BYTES} bytes or could not be read."),
        )
    })
}

fn host(headers: &HeaderMap, state: &AppState) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.inner.info.listen.clone(), str::to_owned)
}

fn insert_request_id(response: &mut Response, request_id: &str) {
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
}

fn error_response(protocol: Protocol, err: &SqsError, request_id: &str) -> Response {
    let code = err.code;
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = match protocol {
        Protocol::Json => {
            let body = json!({ "__type": format!("com.amazonaws.sqs#{}", code.shape()), "message": err.message });
            (status, [(header::CONTENT_TYPE, "application/x-amz-json-1.0")], body.to_string()).into_response()
        }
        Protocol::Query => {
            let body = format!(
                "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{XML_NAMESPACE}\"><Error><Type>{}</Type><Code>{}</Code>\
                 <Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                code.fault(),
                code.query_code(),
                escape(&err.message)
            );
            (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&format!("{};{}", code.query_code(), code.fault())) {
        response.headers_mut().insert("x-amzn-query-error", value);
    }
    insert_request_id(&mut response, request_id);
    response
}

// -- input ---------------------------------------------------------------

/// A request's parameters, JSON-shaped whichever protocol they came in.
struct Input<'a>(&'a Map<String, Value>);

fn wrong_type(key: &str, expected: &str) -> SqsError {
    SqsError::new(SqsErrorCode::SerializationException, format!("Parameter {key} must be {expected}."))
}

impl Input<'_> {
    fn string(&self, key: &str) -> Result<Option<String>, SqsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type(key, "a string")),
        }
    }

    fn required(&self, key: &str) -> Result<String, SqsError> {
        self.string(key)?.ok_or_else(|| SqsError::missing_parameter(key))
    }

    fn number(&self, key: &str, reason: &str) -> Result<Option<u32>, SqsError> {
        let text = match self.0.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(wrong_type(key, "an integer")),
        };
        text.trim().parse::<u32>().map(Some).map_err(|_| SqsError::invalid_parameter(key, &text, reason))
    }

    fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, SqsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    v.as_str().map(|v| (k.clone(), v.to_owned())).ok_or_else(|| wrong_type(key, "a map of strings"))
                })
                .collect(),
            Some(_) => Err(wrong_type(key, "a map of strings")),
        }
    }

    fn string_list(&self, key: &str) -> Result<Vec<String>, SqsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| wrong_type(key, "a list of strings")))
                .collect(),
            Some(_) => Err(wrong_type(key, "a list of strings")),
        }
    }

    fn entries(&self) -> Result<Vec<Input<'_>>, SqsError> {
        match self.0.get("Entries") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_object().map(Input).ok_or_else(|| wrong_type("Entries", "a list of objects")))
                .collect(),
            Some(_) => Err(wrong_type("Entries", "a list of objects")),
        }
    }

    fn message_attributes(&self) -> Result<BTreeMap<String, MessageAttributeValue>, SqsError> {
        let Some(Value::Object(map)) = self.0.get("MessageAttributes") else {
            return match self.0.get("MessageAttributes") {
                None | Some(Value::Null) => Ok(BTreeMap::new()),
                Some(_) => Err(wrong_type("MessageAttributes", "a map")),
            };
        };
        let mut out = BTreeMap::new();
        for (name, value) in map {
            let Some(value) = value.as_object() else {
                return Err(wrong_type("MessageAttributes", "a map of objects"));
            };
            let value = Input(value);
            let data_type = value.string("DataType")?.ok_or_else(|| {
                SqsError::new(
                    SqsErrorCode::InvalidParameterValue,
                    format!("The message attribute '{name}' must contain non-empty message attribute type."),
                )
            })?;
            let binary_value = match value.string("BinaryValue")? {
                Some(encoded) => {
                    Some(base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()).map_err(|_| {
                        SqsError::new(
                            SqsErrorCode::InvalidParameterValue,
                            format!("The message attribute '{name}' has an invalid base64 BinaryValue."),
                        )
                    })?)
                }
                None => None,
            };
            let lists = ["StringListValues", "BinaryListValues"];
            if lists.iter().any(|key| value.0.get(*key).and_then(Value::as_array).is_some_and(|a| !a.is_empty())) {
                return Err(SqsError::new(
                    SqsErrorCode::InvalidParameterValue,
                    "Message attribute list values in SendMessage operation are not supported.",
                ));
            }
            out.insert(
                name.clone(),
                MessageAttributeValue { data_type, string_value: value.string("StringValue")?, binary_value },
            );
        }
        Ok(out)
    }

    fn send_request(&self) -> Result<SendRequest, SqsError> {
        let trace_header = match self.0.get("MessageSystemAttributes").and_then(Value::as_object) {
            Some(system) => {
                let mut names = system.keys().filter(|k| *k != "AWSTraceHeader");
                if let Some(name) = names.next() {
                    return Err(SqsError::new(
                        SqsErrorCode::InvalidParameterValue,
                        format!("Message system attribute name '{name}' is invalid."),
                    ));
                }
                system
                    .get("AWSTraceHeader")
                    .and_then(Value::as_object)
                    .and_then(|v| v.get("StringValue").and_then(Value::as_str).map(str::to_owned))
            }
            None => None,
        };
        Ok(SendRequest {
            body: self.required("MessageBody")?,
            delay_seconds: self.number("DelaySeconds", "DelaySeconds must be >= 0 and <= 900.")?,
            message_attributes: self.message_attributes()?,
            trace_header,
            message_group_id: self.string("MessageGroupId")?,
            message_deduplication_id: self.string("MessageDeduplicationId")?,
        })
    }
}

/// The queue name a `QueueUrl` names: `http://host/ACCOUNT/NAME` (or just
/// the path); another account's URL names no queue here.
fn queue_name(state: &AppState, url: &str) -> Result<String, SqsError> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, path)| path),
        None => url.trim_start_matches('/'),
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [account, name] if *account == state.inner.info.account_id => Ok((*name).to_owned()),
        [name] if !url.contains("://") => Ok((*name).to_owned()),
        _ => Err(SqsError::queue_does_not_exist()),
    }
}

fn queue_url(state: &AppState, host: &str, name: &str) -> String {
    format!("http://{host}/{}/{name}", state.inner.info.account_id)
}

// -- dispatch --------------------------------------------------------------

async fn dispatch(state: &AppState, operation: &str, input: &Input<'_>, host: &str) -> Result<Value, SqsError> {
    let queues: &Queues = state.queues();
    let url = |name: &str| queue_url(state, host, name);
    let queue = || -> Result<String, SqsError> { queue_name(state, &input.required("QueueUrl")?) };
    match operation {
        "CreateQueue" => {
            let name = input.required("QueueName")?;
            let mut tags = input.string_map("tags")?;
            tags.extend(input.string_map("Tags")?);
            queues.create_queue(&name, &input.string_map("Attributes")?, &tags).await?;
            Ok(json!({ "QueueUrl": url(&name) }))
        }
        "GetQueueUrl" => {
            let name = input.required("QueueName")?;
            if let Some(owner) = input.string("QueueOwnerAWSAccountId")?
                && owner != state.inner.info.account_id
            {
                return Err(SqsError::queue_does_not_exist());
            }
            queues.get_queue(&name)?;
            Ok(json!({ "QueueUrl": url(&name) }))
        }
        "ListQueues" => {
            let (names, token) = queues.list_queues(
                input.string("QueueNamePrefix")?.as_deref(),
                input.number("MaxResults", "MaxResults must be an integer between 1 and 1000.")?,
                input.string("NextToken")?.as_deref(),
            )?;
            let mut out = Map::new();
            if !names.is_empty() {
                out.insert("QueueUrls".into(), names.iter().map(|n| Value::from(url(n))).collect());
            }
            if let Some(token) = token {
                out.insert("NextToken".into(), Value::from(token));
            }
            Ok(Value::Object(out))
        }
        "ListDeadLetterSourceQueues" => {
            let (names, token) = queues.list_dead_letter_source_queues(
                &queue()?,
                input.number("MaxResults", "MaxResults must be an integer between 1 and 1000.")?,
                input.string("NextToken")?.as_deref(),
            )?;
            let mut out = Map::new();
            out.insert("queueUrls".into(), names.iter().map(|n| Value::from(url(n))).collect());
            if let Some(token) = token {
                out.insert("NextToken".into(), Value::from(token));
            }
            Ok(Value::Object(out))
        }
        "DeleteQueue" => queues.delete_queue(&queue()?).await.map(|()| json!({})),
        "PurgeQueue" => queues.purge_queue(&queue()?).await.map(|()| json!({})),
        "GetQueueAttributes" => {
            // No names asked for: SQS returns no attributes.
            let names = input.string_list("AttributeNames")?;
            let attributes = queues.get_queue_attributes(&queue()?, &names)?;
            if attributes.is_empty() { Ok(json!({})) } else { Ok(json!({ "Attributes": attributes })) }
        }
        "SetQueueAttributes" => {
            let name = queue()?;
            queues.set_queue_attributes(&name, &input.string_map("Attributes")?).await.map(|()| json!({}))
        }
        "TagQueue" => queues.tag_queue(&queue()?, &input.string_map("Tags")?).await.map(|()| json!({})),
        "UntagQueue" => queues.untag_queue(&queue()?, &input.string_list("TagKeys")?).await.map(|()| json!({})),
        "ListQueueTags" => {
            let tags = queues.list_queue_tags(&queue()?)?;
            if tags.is_empty() { Ok(json!({})) } else { Ok(json!({ "Tags": tags })) }
        }
        "SendMessage" => {
            let name = queue()?;
            let outcome = queues.send_message(&name, input.send_request()?).await?;
            Ok(send_outcome_json(&outcome, None))
        }
        "SendMessageBatch" => {
            let name = queue()?;
            let all = input.entries()?;
            let ids =
                all.iter().map(|e| e.string("Id").map(Option::unwrap_or_default)).collect::<Result<Vec<_>, _>>()?;
            check_batch_ids("SendMessageBatchRequestEntry", ids.iter().map(String::as_str))?;
            // An entry that does not parse fails alone, like one that
            // fails SQS's checks.
            let mut entries = Vec::new();
            let mut failed = Vec::new();
            for (id, entry) in ids.into_iter().zip(&all) {
                match entry.send_request() {
                    Ok(request) => entries.push((id, request)),
                    Err(error) => failed.push(BatchFailure { id, error }),
                }
            }
            let mut result = if entries.is_empty() {
                queues.get_queue(&name)?;
                BatchResult::default()
            } else {
                queues.send_message_batch(&name, entries).await?
            };
            result.failed.extend(failed);
            Ok(batch_json(result, |id, outcome| send_outcome_json(outcome, Some(id))))
        }
        "ReceiveMessage" => {
            let name = queue()?;
            let mut system = input.string_list("AttributeNames")?;
            system.extend(input.string_list("MessageSystemAttributeNames")?);
            let request = ReceiveRequest {
                max_number_of_messages: input
                    .number("MaxNumberOfMessages", "Must be between 1 and 10, if provided.")?,
                visibility_timeout_s: input.number("VisibilityTimeout", "Must be between 0 and 43200, if provided.")?,
                wait_time_s: input.number("WaitTimeSeconds", "Must be >= 0 and <= 20, if provided.")?,
                system_attribute_names: system,
                message_attribute_names: input.string_list("MessageAttributeNames")?,
                receive_request_attempt_id: input.string("ReceiveRequestAttemptId")?,
            };
            let messages = queues.receive_message(&name, request).await?;
            if messages.is_empty() {
                return Ok(json!({}));
            }
            Ok(json!({ "Messages": messages.iter().map(received_json).collect::<Vec<_>>() }))
        }
        "DeleteMessage" => {
            queues.delete_message(&queue()?, &input.required("ReceiptHandle")?).await.map(|()| json!({}))
        }
        "DeleteMessageBatch" => {
            let name = queue()?;
            let mut entries = Vec::new();
            for entry in input.entries()? {
                entries.push((entry.string("Id")?.unwrap_or_default(), entry.required("ReceiptHandle")?));
            }
            let result = queues.delete_message_batch(&name, entries).await?;
            Ok(batch_json(result, |id, ()| json!({ "Id": id })))
        }
        "ChangeMessageVisibility" => {
            let name = queue()?;
            let timeout = input
                .number("VisibilityTimeout", "Must be between 0 and 43200, if provided.")?
                .ok_or_else(|| SqsError::missing_parameter("VisibilityTimeout"))?;
            queues
                .change_message_visibility(&name, &input.required("ReceiptHandle")?, timeout)
                .await
                .map(|()| json!({}))
        }
        "ChangeMessageVisibilityBatch" => {
            let name = queue()?;
            let mut entries = Vec::new();
            for entry in input.entries()? {
                let timeout =
                    entry.number("VisibilityTimeout", "Must be between 0 and 43200, if provided.")?.unwrap_or(0);
                entries.push((entry.string("Id")?.unwrap_or_default(), entry.required("ReceiptHandle")?, timeout));
            }
            let result = queues.change_message_visibility_batch(&name, entries).await?;
            Ok(batch_json(result, |id, ()| json!({ "Id": id })))
        }
        "AddPermission"
        | "RemovePermission"
        | "StartMessageMoveTask"
        | "CancelMessageMoveTask"
        | "ListMessageMoveTasks" => Err(SqsError::new(
            SqsErrorCode::UnsupportedOperation,
            format!("cloudlet does not implement {operation} yet."),
        )),
        _ => Err(SqsError::new(
            SqsErrorCode::InvalidAction,
            format!("The action {operation} is not valid for this endpoint."),
        )),
    }
}

fn send_outcome_json(outcome: &SendOutcome, id: Option<&str>) -> Value {
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("Id".into(), Value::from(id));
    }
    out.insert("MessageId".into(), Value::from(outcome.message_id.as_str()));
    out.insert("MD5OfMessageBody".into(), Value::from(outcome.md5_of_message_body.as_str()));
    if let Some(md5) = &outcome.md5_of_message_attributes {
        out.insert("MD5OfMessageAttributes".into(), Value::from(md5.as_str()));
    }
    if let Some(md5) = &outcome.md5_of_message_system_attributes {
        out.insert("MD5OfMessageSystemAttributes".into(), Value::from(md5.as_str()));
    }
    if let Some(seq) = &outcome.sequence_number {
        out.insert("SequenceNumber".into(), Value::from(seq.as_str()));
    }
    Value::Object(out)
}

fn batch_json<T>(result: BatchResult<T>, success: impl Fn(&str, &T) -> Value) -> Value {
    let successful: Vec<Value> = result.successful.iter().map(|(id, value)| success(id, value)).collect();
    let failed: Vec<Value> = result
        .failed
        .iter()
        .map(|f| {
            json!({
                "Id": f.id,
                "SenderFault": f.error.code.fault() == "Sender",
                "Code": f.error.code.shape(),
                "Message": f.error.message,
            })
        })
        .collect();
    json!({ "Successful": successful, "Failed": failed })
}

fn attribute_value_json(value: &MessageAttributeValue) -> Value {
    let mut out = Map::new();
    out.insert("DataType".into(), Value::from(value.data_type.as_str()));
    if let Some(s) = &value.string_value {
        out.insert("StringValue".into(), Value::from(s.as_str()));
    }
    if let Some(b) = &value.binary_value {
        out.insert("BinaryValue".into(), Value::from(base64::engine::general_purpose::STANDARD.encode(b)));
    }
    Value::Object(out)
}

fn received_json(message: &ReceivedMessage) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), Value::from(message.message_id.as_str()));
    out.insert("ReceiptHandle".into(), Value::from(message.receipt_handle.as_str()));
    out.insert("MD5OfBody".into(), Value::from(message.md5_of_body.as_str()));
    out.insert("Body".into(), Value::from(message.body.as_str()));
    if !message.attributes.is_empty() {
        out.insert("Attributes".into(), json!(message.attributes));
    }
    if let Some(md5) = &message.md5_of_message_attributes {
        out.insert("MD5OfMessageAttributes".into(), Value::from(md5.as_str()));
    }
    if !message.message_attributes.is_empty() {
        let attributes: Map<String, Value> =
            message.message_attributes.iter().map(|(k, v)| (k.clone(), attribute_value_json(v))).collect();
        out.insert("MessageAttributes".into(), Value::Object(attributes));
    }
    Value::Object(out)
}

// -- the query protocol ------------------------------------------------------

fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    bytes
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = percent_decode(&String::from_utf8_lossy(parts.next().unwrap_or_default()));
            let value = percent_decode(&String::from_utf8_lossy(parts.next().unwrap_or_default()));
            (key, value)
        })
        .collect()
}

/// Groups `Prefix.N.Rest` parameters: N → (Rest → value), in N order.
fn numbered<'a>(params: &'a BTreeMap<String, String>, prefix: &str) -> BTreeMap<u32, BTreeMap<&'a str, &'a str>> {
    let mut out: BTreeMap<u32, BTreeMap<&str, &str>> = BTreeMap::new();
    for (key, value) in params {
        let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else { continue };
        let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
        if let Ok(index) = index.parse::<u32>() {
            out.entry(index).or_default().insert(field, value.as_str());
        }
    }
    out
}

fn name_value_map(params: &BTreeMap<String, String>, prefix: &str, key: &str, value: &str) -> Option<Value> {
    let groups = numbered(params, prefix);
    if groups.is_empty() {
        return None;
    }
    let map: Map<String, Value> = groups
        .values()
        .filter_map(|g| Some(((*g.get(key)?).to_owned(), Value::from(*g.get(value).unwrap_or(&"")))))
        .collect();
    Some(Value::Object(map))
}

fn list(params: &BTreeMap<String, String>, prefix: &str) -> Option<Value> {
    let groups = numbered(params, prefix);
    if groups.is_empty() {
        return None;
    }
    Some(groups.values().filter_map(|g| g.get("").map(|v| Value::from(*v))).collect())
}

/// `MessageAttribute.N.Name` / `.Value.DataType|StringValue|BinaryValue`.
fn message_attributes(params: &BTreeMap<String, String>, prefix: &str) -> Option<Value> {
    let groups = numbered(params, prefix);
    if groups.is_empty() {
        return None;
    }
    let mut map = Map::new();
    for group in groups.values() {
        let Some(name) = group.get("Name") else { continue };
        let mut value = Map::new();
        for field in ["DataType", "StringValue", "BinaryValue"] {
            if let Some(v) = group.get(format!("Value.{field}").as_str()) {
                value.insert(field.to_owned(), Value::from(*v));
            }
        }
        map.insert((*name).to_owned(), Value::Object(value));
    }
    Some(Value::Object(map))
}

/// The query protocol's flattened parameters in the JSON protocol's shape.
fn query_to_json(params: &BTreeMap<String, String>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in params {
        if !key.contains('.') && key != "Action" && key != "Version" {
            out.insert(key.clone(), Value::from(value.as_str()));
        }
    }
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(key.to_owned(), value);
        }
    };
    put("Attributes", name_value_map(params, "Attribute", "Name", "Value"));
    put("Tags", name_value_map(params, "Tag", "Key", "Value"));
    put("AttributeNames", list(params, "AttributeName"));
    put("MessageSystemAttributeNames", list(params, "MessageSystemAttributeName"));
    put("MessageAttributeNames", list(params, "MessageAttributeName"));
    put("TagKeys", list(params, "TagKey"));
    put("MessageAttributes", message_attributes(params, "MessageAttribute"));
    for prefix in
        ["SendMessageBatchRequestEntry", "DeleteMessageBatchRequestEntry", "ChangeMessageVisibilityBatchRequestEntry"]
    {
        let groups = numbered(params, prefix);
        if groups.is_empty() {
            continue;
        }
        let entries: Vec<Value> = groups
            .keys()
            .map(|index| {
                let entry_prefix = format!("{prefix}.{index}");
                let entry_params: BTreeMap<String, String> = params
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix(&entry_prefix)
                            .and_then(|r| r.strip_prefix('.'))
                            .map(|r| (r.to_owned(), v.clone()))
                    })
                    .collect();
                Value::Object(query_to_json(&entry_params))
            })
            .collect();
        put("Entries", Some(Value::Array(entries)));
    }
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders a JSON-shaped result as the query protocol's XML, with its
/// flattened lists and `Name`/`Value` maps.
fn render_fields(out: &mut String, operation: &str, fields: &Map<String, Value>) {
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("Attributes", Value::Object(map)) => {
                for (name, value) in map {
                    out.push_str("<Attribute>");
                    element(out, "Name", name);
                    element(out, "Value", &scalar(value));
                    out.push_str("</Attribute>");
                }
            }
            ("Tags", Value::Object(map)) => {
                for (name, value) in map {
                    out.push_str("<Tag>");
                    element(out, "Key", name);
                    element(out, "Value", &scalar(value));
                    out.push_str("</Tag>");
                }
            }
            ("MessageAttributes", Value::Object(map)) => {
                for (name, value) in map {
                    out.push_str("<MessageAttribute>");
                    element(out, "Name", name);
                    out.push_str("<Value>");
                    if let Value::Object(fields) = value {
                        for (field, v) in fields {
                            element(out, field, &scalar(v));
                        }
                    }
                    out.push_str("</Value></MessageAttribute>");
                }
            }
            ("QueueUrls" | "queueUrls", Value::Array(items)) => {
                for item in items {
                    element(out, "QueueUrl", &scalar(item));
                }
            }
            ("Messages", Value::Array(items)) => {
                for item in items {
                    out.push_str("<Message>");
                    if let Value::Object(fields) = item {
                        render_fields(out, operation, fields);
                    }
                    out.push_str("</Message>");
                }
            }
            ("Successful", Value::Array(items)) => {
                for item in items {
                    out.push_str(&format!("<{operation}ResultEntry>"));
                    if let Value::Object(fields) = item {
                        render_fields(out, operation, fields);
                    }
                    out.push_str(&format!("</{operation}ResultEntry>"));
                }
            }
            ("Failed", Value::Array(items)) => {
                for item in items {
                    out.push_str("<BatchResultErrorEntry>");
                    if let Value::Object(fields) = item {
                        render_fields(out, operation, fields);
                    }
                    out.push_str("</BatchResultErrorEntry>");
                }
            }
            (_, value) => element(out, key, &scalar(value)),
        }
    }
}

fn render_xml(operation: &str, output: &Value, request_id: &str) -> String {
    let mut out = format!("<?xml version=\"1.0\"?><{operation}Response xmlns=\"{XML_NAMESPACE}\">");
    let fields = output.as_object().cloned().unwrap_or_default();
    let has_result = !fields.is_empty() || operation.starts_with("List") || operation == "ReceiveMessage";
    if has_result {
        out.push_str(&format!("<{operation}Result>"));
        render_fields(&mut out, operation, &fields);
        out.push_str(&format!("</{operation}Result>"));
    }
    out.push_str(&format!(
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_become_json_shapes() {
        let params: BTreeMap<String, String> = parse_form(
            b"Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=hi%20there\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v\
              &Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=40&AttributeName.1=All",
        )
        .into_iter()
        .collect();
        let json = Value::Object(query_to_json(&params));
        assert_eq!(
            json,
            json!({
                "Attributes": {"VisibilityTimeout": "40"},
                "AttributeNames": ["All"],
                "Entries": [{"Id": "a", "MessageBody": "hi there",
                             "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}],
            })
        );
    }

    #[test]
    fn xml_results_flatten_lists_and_maps() {
        let xml = render_xml("GetQueueAttributes", &json!({"Attributes": {"VisibilityTimeout": "30"}}), "rid");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\"?><GetQueueAttributesResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\
             <GetQueueAttributesResult><Attribute><Name>VisibilityTimeout</Name><Value>30</Value></Attribute>\
             </GetQueueAttributesResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>\
             </GetQueueAttributesResponse>"
        );
    }
}
