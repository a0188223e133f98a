//! Lambda's event source mapping API over REST
//! (`/2015-03-31/event-source-mappings`): request JSON in,
//! `cloudlet_functions::mappings` results out as
//! `EventSourceMappingConfiguration`.
//!
//! Members that only apply to other sources (streams, Kafka, MQ) are
//! recognised so they can be refused by name; validation and semantics live
//! in the functions crate.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use cloudlet_functions::mappings::{EventSourceMappings, MappingRequest, MappingView, REPORT_BATCH_ITEM_FAILURES};
use cloudlet_functions::{ErrorType, LambdaError};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::lambda::{error_response, query_param};
use crate::lambda_invoke::{blocking, json_ok as json_response};

/// Request members of other event sources, refused for SQS by name.
const OTHER_SOURCES_MEMBERS: &[&str] = &[
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
];

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/2015-03-31/event-source-mappings", get(list).post(create))
        .route("/2015-03-31/event-source-mappings/", get(list).post(create))
        .route("/2015-03-31/event-source-mappings/{uuid}", get(get_one).put(update).delete(delete))
}

async fn create(State(state): State<AppState>, body: Bytes) -> Response {
    let request = match parse(&body) {
        Ok(request) => request,
        Err(err) => return error_response(&err),
    };
    let mappings = Arc::clone(state.mappings());
    blocking(move || mappings.create(&request), accepted).await
}

async fn get_one(State(state): State<AppState>, Path(uuid): Path<String>) -> Response {
    match state.mappings().get(&uuid) {
        Ok(view) => json_response(StatusCode::OK, &mapping_json(&view)),
        Err(err) => error_response(&err),
    }
}

async fn update(State(state): State<AppState>, Path(uuid): Path<String>, body: Bytes) -> Response {
    let request = match parse(&body) {
        Ok(request) => request,
        Err(err) => return error_response(&err),
    };
    let mappings = Arc::clone(state.mappings());
    blocking(move || mappings.update(&uuid, &request), accepted).await
}

async fn delete(State(state): State<AppState>, Path(uuid): Path<String>) -> Response {
    let mappings = Arc::clone(state.mappings());
    blocking(move || mappings.delete(&uuid), accepted).await
}

async fn list(State(state): State<AppState>, uri: Uri) -> Response {
    let max_items = match query_param(&uri, "MaxItems").map(|v| v.parse::<i64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return error_response(&LambdaError::new(
                ErrorType::InvalidParameterValueException,
                "MaxItems must be a number.",
            ));
        }
    };
    let listed = state.mappings().list(
        query_param(&uri, "EventSourceArn").as_deref(),
        query_param(&uri, "FunctionName").as_deref(),
        query_param(&uri, "Marker").as_deref(),
        max_items,
    );
    match listed {
        Ok((views, next)) => {
            let mut body = json!({ "EventSourceMappings": views.iter().map(mapping_json).collect::<Vec<_>>() });
            if let Some(next) = next {
                body["NextMarker"] = Value::from(next);
            }
            json_response(StatusCode::OK, &body)
        }
        Err(err) => error_response(&err),
    }
}

/// Parses a Create/Update body. Wrong types are the
/// `InvalidRequestContentException` Lambda sends for unparseable bodies.
fn parse(body: &[u8]) -> Result<MappingRequest, LambdaError> {
    let bad = |detail: String| {
        LambdaError::new(
            ErrorType::InvalidRequestContentException,
            format!("Could not parse request body into json: {detail}"),
        )
    };
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|err| bad(err.to_string()))?
    };
    let Value::Object(object) = value else {
        return Err(bad("the body is not a JSON object".to_owned()));
    };
    let string = |name: &str| -> Result<Option<String>, LambdaError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("`{name}` must be a string"))),
        }
    };
    let integer = |name: &str| -> Result<Option<i64>, LambdaError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_i64().map(Some).ok_or_else(|| bad(format!("`{name}` must be an integer"))),
        }
    };
    let enabled = match object.get("Enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad("`Enabled` must be a boolean".to_owned())),
    };
    let maximum_concurrency = match object.get("ScalingConfig") {
        None | Some(Value::Null) => None,
        Some(Value::Object(config)) => match config.get("MaximumConcurrency") {
            None | Some(Value::Null) => Some(None),
            Some(value) => Some(Some(
                value
                    .as_i64()
                    .ok_or_else(|| bad("`ScalingConfig.MaximumConcurrency` must be an integer".to_owned()))?,
            )),
        },
        Some(_) => return Err(bad("`ScalingConfig` must be an object".to_owned())),
    };
    let function_response_types = match object.get("FunctionResponseTypes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("`FunctionResponseTypes` must be a list of strings".to_owned()))?,
        ),
        Some(_) => return Err(bad("`FunctionResponseTypes` must be a list".to_owned())),
    };
    Ok(MappingRequest {
        event_source_arn: string("EventSourceArn")?,
        function_name: string("FunctionName")?,
        enabled,
        batch_size: integer("BatchSize")?,
        maximum_batching_window_s: integer("MaximumBatchingWindowInSeconds")?,
        maximum_concurrency,
        function_response_types,
        unsupported: OTHER_SOURCES_MEMBERS
            .iter()
            .filter(|name| object.get(**name).is_some_and(|v| !v.is_null()))
            .map(|name| (*name).to_owned())
            .collect(),
        filter_criteria: object.get("FilterCriteria").is_some_and(|v| !v.is_null()),
    })
}

/// Create, Update and Delete answer 202 with the mapping.
fn accepted(view: MappingView) -> Response {
    json_response(StatusCode::ACCEPTED, &mapping_json(&view))
}

/// `EventSourceMappingConfiguration` as Lambda returns it for an SQS source.
fn mapping_json(view: &MappingView) -> Value {
    let mapping = &view.mapping;
    let mut body = json!({
        "UUID": mapping.uuid,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.maximum_batching_window_s,
        "EventSourceArn": mapping.event_source_arn,
        "FunctionArn": view.function_arn,
        "LastModified": mapping.last_modified_ms as f64 / 1000.0,
        "State": view.state,
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": if mapping.report_batch_item_failures { vec![REPORT_BATCH_ITEM_FAILURES] } else { Vec::new() },
        "EventSourceMappingArn": view.mapping_arn,
    });
    if let Some(maximum) = mapping.maximum_concurrency {
        body["ScalingConfig"] = json!({ "MaximumConcurrency": maximum });
    }
    body
}

impl AppState {
    pub(crate) fn mappings(&self) -> &Arc<EventSourceMappings> {
        &self.inner.mappings
    }
}
