//! Lambda's data plane and concurrency settings over REST: Invoke, the
//! reserved and provisioned concurrency APIs, GetAccountSettings — plus
//! cloudlet's own `/_cloudlet/functions/...` for what AWS serves elsewhere
//! (logs, which AWS keeps in CloudWatch; live concurrency statistics).
//!
//! Every handler is a translation: headers, paths and JSON in, a call to
//! `cloudlet_functions::invoke::Invoker`, AWS's wire shape out.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use cloudlet_functions::async_config::{EventInvokeConfig, EventInvokeConfigChange};
use cloudlet_functions::invoke::{InvocationType, InvokeInput, Invoker, ProvisionedConfigView};
use cloudlet_functions::{ErrorType, LambdaError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::lambda::{error_response, query_param};

/// Bodies up to this size are read so that Lambda's own limit (6 MB) is
/// reported with Lambda's own error rather than a bare 413.
const MAX_INVOKE_BODY_BYTES: usize = 16 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .route(
            "/2017-10-31/functions/{function}/concurrency",
            put(put_function_concurrency).delete(delete_function_concurrency),
        )
        .route("/2019-09-30/functions/{function}/concurrency", get(get_function_concurrency))
        .route(
            "/2019-09-30/functions/{function}/provisioned-concurrency",
            get(get_provisioned).put(put_provisioned).delete(delete_provisioned),
        )
        .route(
            "/2019-09-25/functions/{function}/event-invoke-config",
            get(get_event_invoke_config)
                .put(put_event_invoke_config)
                .post(update_event_invoke_config)
                .delete(delete_event_invoke_config),
        )
        .route("/2019-09-25/functions/{function}/event-invoke-config/list", get(list_event_invoke_configs))
        .route("/2016-08-19/account-settings", get(account_settings))
        .route("/2016-08-19/account-settings/", get(account_settings))
        .route("/_cloudlet/functions/stats", get(stats))
        .route("/_cloudlet/functions/{function}/logs", get(logs))
        .layer(DefaultBodyLimit::max(MAX_INVOKE_BODY_BYTES))
}

struct QualifierQuery {
    qualifier: Option<String>,
    list: Option<String>,
}

impl QualifierQuery {
    fn of(uri: &Uri) -> QualifierQuery {
        QualifierQuery { qualifier: query_param(uri, "Qualifier"), list: query_param(uri, "List") }
    }
}

async fn invoke(
    State(state): State<AppState>,
    Path(function): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = QualifierQuery::of(&uri);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let invocation_type = match header("x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => InvocationType::RequestResponse,
        "Event" => InvocationType::Event,
        "DryRun" => InvocationType::DryRun,
        other => {
            return error_response(&LambdaError::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: \
                 Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )));
        }
    };
    let input = InvokeInput {
        function_name: function,
        qualifier: query.qualifier,
        invocation_type,
        tail_log: header("x-amz-log-type") == Some("Tail"),
        payload: body.to_vec(),
        client_context: header("x-amz-client-context").map(str::to_owned),
    };
    match state.invoker().invoke(input).await {
        Ok(output) => {
            let status = StatusCode::from_u16(output.status).unwrap_or(StatusCode::OK);
            let mut response = if output.status == 200 {
                (status, [(header::CONTENT_TYPE, "application/json")], output.payload).into_response()
            } else {
                status.into_response()
            };
            let headers = response.headers_mut();
            let mut put = |name: &'static str, value: &str| {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            };
            put("x-amzn-requestid", &output.request_id);
            if let Some(kind) = output.function_error {
                put("x-amz-function-error", kind);
            }
            if let Some(version) = &output.executed_version {
                put("x-amz-executed-version", version);
            }
            if let Some(log) = &output.log_result {
                put("x-amz-log-result", log);
            }
            response
        }
        Err(err) => error_response(&err),
    }
}

#[derive(Debug, Deserialize)]
struct ReservedBody {
    #[serde(rename = "ReservedConcurrentExecutions")]
    reserved: Option<i64>,
}

async fn put_function_concurrency(
    State(state): State<AppState>,
    Path(function): Path<String>,
    body: Bytes,
) -> Response {
    let reserved = match serde_json::from_slice::<ReservedBody>(&body) {
        Ok(ReservedBody { reserved: Some(n) }) if n >= 0 => u32::try_from(n).unwrap_or(u32::MAX),
        Ok(ReservedBody { reserved: Some(n) }) => {
            return error_response(&LambdaError::new(
                ErrorType::ValidationException,
                format!(
                    "1 validation error detected: Value '{n}' at 'reservedConcurrentExecutions' failed to satisfy \
                     constraint: Member must have value greater than or equal to 0"
                ),
            ));
        }
        _ => return error_response(&bad_json("ReservedConcurrentExecutions")),
    };
    let invoker = Arc::clone(state.invoker());
    blocking(
        move || invoker.put_function_concurrency(&function, reserved),
        |n| json_ok(StatusCode::OK, &json!({ "ReservedConcurrentExecutions": n })),
    )
    .await
}

async fn get_function_concurrency(State(state): State<AppState>, Path(function): Path<String>) -> Response {
    match state.invoker().function_concurrency(&function) {
        Ok(Some(n)) => json_ok(StatusCode::OK, &json!({ "ReservedConcurrentExecutions": n })),
        Ok(None) => json_ok(StatusCode::OK, &json!({})),
        Err(err) => error_response(&err),
    }
}

async fn delete_function_concurrency(State(state): State<AppState>, Path(function): Path<String>) -> Response {
    let invoker = Arc::clone(state.invoker());
    blocking(move || invoker.delete_function_concurrency(&function), |()| StatusCode::NO_CONTENT.into_response()).await
}

#[derive(Debug, Deserialize)]
struct ProvisionedBody {
    #[serde(rename = "ProvisionedConcurrentExecutions")]
    requested: Option<i64>,
}

async fn put_provisioned(
    State(state): State<AppState>,
    Path(function): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Some(qualifier) = QualifierQuery::of(&uri).qualifier else { return error_response(&missing_qualifier()) };
    let requested = match serde_json::from_slice::<ProvisionedBody>(&body) {
        Ok(ProvisionedBody { requested: Some(n) }) => u32::try_from(n.max(0)).unwrap_or(u32::MAX),
        _ => return error_response(&bad_json("ProvisionedConcurrentExecutions")),
    };
    let invoker = Arc::clone(state.invoker());
    blocking(
        move || invoker.put_provisioned_concurrency(&function, &qualifier, requested),
        |view| json_ok(StatusCode::ACCEPTED, &provisioned_json(&view, false)),
    )
    .await
}

async fn get_provisioned(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let query = QualifierQuery::of(&uri);
    let invoker = state.invoker();
    if query.list.is_some() || query.qualifier.is_none() {
        return match invoker.list_provisioned_concurrency(&function) {
            Ok(views) => {
                let configs: Vec<Value> = views.iter().map(|view| provisioned_json(view, true)).collect();
                json_ok(StatusCode::OK, &json!({ "ProvisionedConcurrencyConfigs": configs }))
            }
            Err(err) => error_response(&err),
        };
    }
    let qualifier = query.qualifier.unwrap_or_default();
    match invoker.provisioned_concurrency(&function, &qualifier) {
        Ok(view) => json_ok(StatusCode::OK, &provisioned_json(&view, false)),
        Err(err) => error_response(&err),
    }
}

async fn delete_provisioned(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let Some(qualifier) = QualifierQuery::of(&uri).qualifier else { return error_response(&missing_qualifier()) };
    let invoker = Arc::clone(state.invoker());
    blocking(
        move || invoker.delete_provisioned_concurrency(&function, &qualifier),
        |()| StatusCode::NO_CONTENT.into_response(),
    )
    .await
}

async fn account_settings(State(state): State<AppState>) -> Response {
    let (limit, unreserved) = state.invoker().account_concurrency();
    let (function_count, total_code_size) = state.functions().account_usage();
    json_ok(
        StatusCode::OK,
        &json!({
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800_u64,
                "CodeSizeUnzipped": 262_144_000_u64,
                "CodeSizeZipped": 52_428_800_u64,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": unreserved,
            },
            "AccountUsage": { "TotalCodeSize": total_code_size, "FunctionCount": function_count },
        }),
    )
}

async fn stats(State(state): State<AppState>) -> Response {
    let snapshot = state.invoker().metrics_snapshot();
    let (limit, _) = state.invoker().account_concurrency();
    let functions: Vec<Value> = snapshot
        .functions
        .iter()
        .map(|(name, m)| {
            let throttles: u64 = cloudlet_functions::concurrency::ThrottleReason::ALL
                .iter()
                .map(|reason| m.throttles.get(*reason))
                .sum();
            json!({
                "function": name,
                "concurrent_executions": m.concurrent_executions,
                "provisioned_concurrent_executions": m.provisioned_concurrent_executions,
                "cold_starts": m.cold_starts,
                "warm_starts": m.warm_starts,
                "provisioned_invocations": m.provisioned_concurrency_invocations,
                "spillover_invocations": m.provisioned_concurrency_spillover_invocations,
                "throttles": throttles,
            })
        })
        .collect();
    let account = &snapshot.account;
    json_ok(
        StatusCode::OK,
        &json!({
            "account": {
                "concurrent_executions": account.concurrent_executions,
                "unreserved_concurrent_executions": account.unreserved_concurrent_executions,
                "claimed_account_concurrency": account.claimed_account_concurrency,
                "account_concurrency_limit": limit,
                "host_memory_used_mb": account.host_memory_used_mb,
            },
            "functions": functions,
        }),
    )
}

async fn logs(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let invoker = Arc::clone(state.invoker());
    let offset = query_param(&uri, "offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let read = tokio::task::spawn_blocking(move || invoker.read_logs(&function, offset)).await;
    match read {
        Ok((lines, next_offset)) => json_ok(StatusCode::OK, &json!({ "lines": lines, "next_offset": next_offset })),
        Err(err) => error_response(&LambdaError::service(format!("reading logs failed: {err}"))),
    }
}

#[derive(Debug, Deserialize)]
struct EventInvokeConfigBody {
    #[serde(rename = "MaximumRetryAttempts")]
    maximum_retry_attempts: Option<i64>,
    #[serde(rename = "MaximumEventAgeInSeconds")]
    maximum_event_age_s: Option<i64>,
    #[serde(rename = "DestinationConfig")]
    destination_config: Option<DestinationConfigBody>,
}

#[derive(Debug, Deserialize)]
struct DestinationConfigBody {
    #[serde(rename = "OnSuccess")]
    on_success: Option<DestinationBody>,
    #[serde(rename = "OnFailure")]
    on_failure: Option<DestinationBody>,
}

#[derive(Debug, Deserialize)]
struct DestinationBody {
    #[serde(rename = "Destination")]
    destination: Option<String>,
}

fn event_invoke_change(body: &[u8]) -> Result<EventInvokeConfigChange, LambdaError> {
    let body: EventInvokeConfigBody = if body.is_empty() {
        EventInvokeConfigBody { maximum_retry_attempts: None, maximum_event_age_s: None, destination_config: None }
    } else {
        serde_json::from_slice(body).map_err(|err| {
            LambdaError::new(
                ErrorType::InvalidRequestContentException,
                format!("Could not parse request body into json: {err}"),
            )
        })?
    };
    let (on_success, on_failure) = match body.destination_config {
        Some(config) => {
            (Some(config.on_success.and_then(|d| d.destination)), Some(config.on_failure.and_then(|d| d.destination)))
        }
        None => (None, None),
    };
    Ok(EventInvokeConfigChange {
        maximum_retry_attempts: body.maximum_retry_attempts,
        maximum_event_age_s: body.maximum_event_age_s,
        on_success,
        on_failure,
    })
}

fn event_invoke_json(config: &EventInvokeConfig, function_arn: &str) -> Value {
    let destination = |arn: &Option<String>| match arn {
        Some(arn) => json!({ "Destination": arn }),
        None => json!({}),
    };
    json!({
        "LastModified": config.last_modified.as_unix_millis() as f64 / 1000.0,
        "FunctionArn": function_arn,
        "MaximumRetryAttempts": config.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": config.maximum_event_age_s,
        "DestinationConfig": {
            "OnSuccess": destination(&config.on_success),
            "OnFailure": destination(&config.on_failure),
        },
    })
}

async fn put_event_invoke_config(
    State(state): State<AppState>,
    Path(function): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    write_event_invoke_config(state, function, uri, body, true).await
}

async fn update_event_invoke_config(
    State(state): State<AppState>,
    Path(function): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    write_event_invoke_config(state, function, uri, body, false).await
}

async fn write_event_invoke_config(
    state: AppState,
    function: String,
    uri: Uri,
    body: Bytes,
    replace: bool,
) -> Response {
    let change = match event_invoke_change(&body) {
        Ok(change) => change,
        Err(err) => return error_response(&err),
    };
    let qualifier = QualifierQuery::of(&uri).qualifier;
    let invoker = Arc::clone(state.invoker());
    blocking(
        move || invoker.put_event_invoke_config(&function, qualifier.as_deref(), &change, replace),
        |(config, arn)| json_ok(StatusCode::OK, &event_invoke_json(&config, &arn)),
    )
    .await
}

async fn get_event_invoke_config(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let qualifier = QualifierQuery::of(&uri).qualifier;
    match state.invoker().get_event_invoke_config(&function, qualifier.as_deref()) {
        Ok((config, arn)) => json_ok(StatusCode::OK, &event_invoke_json(&config, &arn)),
        Err(err) => error_response(&err),
    }
}

async fn delete_event_invoke_config(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let qualifier = QualifierQuery::of(&uri).qualifier;
    let invoker = Arc::clone(state.invoker());
    blocking(
        move || invoker.delete_event_invoke_config(&function, qualifier.as_deref()),
        |()| StatusCode::NO_CONTENT.into_response(),
    )
    .await
}

async fn list_event_invoke_configs(State(state): State<AppState>, Path(function): Path<String>) -> Response {
    match state.invoker().list_event_invoke_configs(&function) {
        Ok(configs) => {
            let configs: Vec<Value> = configs.iter().map(|(config, arn)| event_invoke_json(config, arn)).collect();
            json_ok(StatusCode::OK, &json!({ "FunctionEventInvokeConfigs": configs }))
        }
        Err(err) => error_response(&err),
    }
}

fn provisioned_json(view: &ProvisionedConfigView, with_arn: bool) -> Value {
    let mut body = json!({
        "RequestedProvisionedConcurrentExecutions": view.requested,
        "AvailableProvisionedConcurrentExecutions": view.available,
        "AllocatedProvisionedConcurrentExecutions": view.allocated,
        "Status": view.status,
        "LastModified": crate::lambda::lambda_date(view.last_modified),
    });
    if with_arn {
        body["FunctionArn"] = Value::from(view.function_arn.as_str());
    }
    body
}

pub(crate) fn json_ok(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn bad_json(member: &str) -> LambdaError {
    LambdaError::new(
        ErrorType::InvalidRequestContentException,
        format!("Could not parse request body into json: missing or invalid `{member}`"),
    )
}

fn missing_qualifier() -> LambdaError {
    LambdaError::invalid_parameter("The qualifier is required for provisioned concurrency configurations.")
}

/// Runs a settings write (which writes the store) on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LambdaError> + Send + 'static,
    ok: impl FnOnce(T) -> Response,
) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => ok(value),
        Ok(Err(err)) => error_response(&err),
        Err(join) => error_response(&LambdaError::service(format!("the request's worker failed: {join}"))),
    }
}

impl AppState {
    pub(crate) fn invoker(&self) -> &Arc<Invoker> {
        &self.inner.invoker
    }
}
