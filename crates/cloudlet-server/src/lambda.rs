//! Lambda's management API over REST (`/2015-03-31/functions/...`,
//! `/2017-03-31/tags/...`): request JSON and query strings in, the
//! control plane's typed results out, in AWS's exact wire shapes.
//!
//! Field names are the ones boto3 sends and reads (botocore's
//! `lambda/2015-03-31` model); errors are Lambda's REST JSON errors
//! (`x-amzn-ErrorType` header, `{"Type":"User","Message":...}` body). Writes
//! run on a blocking thread because they write the store and unpack code.
//! This module decides nothing about functions: validation and semantics
//! live in `cloudlet_functions::control`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine as _;
use cloudlet_core::Timestamp;
use cloudlet_functions::control::{
    AliasConfiguration, CodeSource, ControlPlane, CreateAliasRequest, CreateFunctionRequest, FunctionConfiguration,
    MAX_CREATE_FUNCTION_REQUEST_BYTES, PublishVersionRequest, UpdateAliasRequest, UpdateCodeRequest,
    UpdateConfigurationRequest,
};
use cloudlet_functions::{ErrorType, LambdaError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::routing::percent_decode;

/// The largest body of the small management requests (configuration,
/// aliases, tags): they are a few kilobytes of JSON.
const MAX_SMALL_REQUEST_BYTES: usize = 1024 * 1024;

/// The management routes. Bodies are read by the handlers, which enforce
/// Lambda's own limits with Lambda's own errors.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/2015-03-31/functions", get(list_functions).post(create_function))
        .route("/2015-03-31/functions/", get(list_functions).post(create_function))
        .route("/2015-03-31/functions/{function}", get(get_function).delete(delete_function))
        .route(
            "/2015-03-31/functions/{function}/configuration",
            get(get_function_configuration).put(update_function_configuration),
        )
        .route("/2015-03-31/functions/{function}/code", put(update_function_code))
        .route("/2015-03-31/functions/{function}/versions", get(list_versions).post(publish_version))
        .route("/2015-03-31/functions/{function}/aliases", get(list_aliases).post(create_alias))
        .route(
            "/2015-03-31/functions/{function}/aliases/{alias}",
            get(get_alias).put(update_alias).delete(delete_alias),
        )
        .route("/2017-03-31/tags/{resource}", get(list_tags).post(tag_resource).delete(untag_resource))
        .layer(DefaultBodyLimit::disable())
}

/// Renders a [`LambdaError`] as Lambda's REST JSON error: the exception
/// name in `x-amzn-ErrorType`, and `{"Type":"User"|"Service","Message":...}`
/// (throttles: `{"Reason":...,"Type":"User","message":...}` with
/// `Retry-After`; validation errors: `{"message":...}`).
pub(crate) fn error_response(err: &LambdaError) -> Response {
    let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if status.is_server_error() { "Service" } else { "User" };
    let body = match err.error_type {
        ErrorType::TooManyRequestsException => {
            let mut body = json!({ "Type": kind, "message": err.message });
            if let Some(reason) = &err.reason {
                body["Reason"] = Value::from(reason.as_str());
            }
            body
        }
        ErrorType::ValidationException => json!({ "message": err.message }),
        _ => json!({ "Type": kind, "Message": err.message }),
    };
    let mut response = json_response(status, &body);
    let headers = response.headers_mut();
    headers.insert("x-amzn-errortype", HeaderValue::from_static(err.error_type.as_str()));
    if let Some(seconds) = err.retry_after_seconds {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

fn no_content() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

fn reply<T>(result: Result<T, LambdaError>, ok: impl FnOnce(T) -> Response) -> Response {
    match result {
        Ok(value) => ok(value),
        Err(err) => error_response(&err),
    }
}

/// Runs a control-plane write on a blocking thread.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&ControlPlane) -> Result<T, LambdaError> + Send + 'static,
) -> Result<T, LambdaError> {
    let plane = Arc::clone(state.functions());
    tokio::task::spawn_blocking(move || work(&plane))
        .await
        .unwrap_or_else(|join| Err(LambdaError::service(format!("the request's worker failed: {join}"))))
}

// ---- request reading ---------------------------------------------------------

/// Reads the body, refusing more than `limit` bytes with Lambda's 413.
async fn read_body(request: Request, limit: usize, operation: &str) -> Result<Vec<u8>, LambdaError> {
    let too_large = || {
        LambdaError::new(
            ErrorType::RequestEntityTooLargeException,
            format!("Request must be smaller than {limit} bytes for the {operation} operation"),
        )
    };
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let body: Body = request.into_body();
    axum::body::to_bytes(body, limit).await.map(|bytes| bytes.to_vec()).map_err(|_| too_large())
}

/// Parses a JSON body; an empty body is `{}`.
fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, LambdaError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|err| {
        LambdaError::new(
            ErrorType::InvalidRequestContentException,
            format!("Could not parse request body into json: {err}"),
        )
    })
}

/// The query string's parameters, percent-decoded, in order.
fn query_params(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    query_params(uri).into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

/// `MaxItems` from the query string.
fn max_items(uri: &Uri) -> Result<Option<i64>, LambdaError> {
    match query_param(uri, "MaxItems") {
        None => Ok(None),
        Some(text) => text.trim().parse::<i64>().map(Some).map_err(|_| {
            LambdaError::new(
                ErrorType::ValidationException,
                format!(
                    "1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: Member must be an integer"
                ),
            )
        }),
    }
}

fn qualifier(uri: &Uri) -> Option<String> {
    query_param(uri, "Qualifier")
}

// ---- request bodies (botocore member names) ------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CodeInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    image_uri: Option<String>,
}

impl CodeInput {
    fn into_source(self) -> Result<CodeSource, LambdaError> {
        if let Some(zip) = self.zip_file {
            let bytes = base64::engine::general_purpose::STANDARD.decode(zip.trim()).map_err(|err| {
                LambdaError::new(
                    ErrorType::InvalidRequestContentException,
                    format!("Could not parse request body into json: ZipFile is not valid base64 ({err})"),
                )
            })?;
            return Ok(CodeSource::Zip(bytes));
        }
        if let Some(bucket) = self.s3_bucket {
            return Ok(CodeSource::S3 { bucket, key: self.s3_key.unwrap_or_default() });
        }
        if let Some(uri) = self.image_uri {
            return Ok(CodeSource::Image(uri));
        }
        Ok(CodeSource::Missing)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct EnvironmentInput {
    variables: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateFunctionInput {
    function_name: Option<String>,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    code: Option<CodeInput>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentInput>,
    dead_letter_config: Option<DeadLetterConfigInput>,
    publish: Option<bool>,
    package_type: Option<String>,
    architectures: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateConfigurationInput {
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentInput>,
    dead_letter_config: Option<DeadLetterConfigInput>,
    revision_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DeadLetterConfigInput {
    target_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateCodeInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    image_uri: Option<String>,
    publish: Option<bool>,
    dry_run: Option<bool>,
    revision_id: Option<String>,
    architectures: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PublishVersionInput {
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RoutingInput {
    additional_version_weights: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AliasInput {
    name: Option<String>,
    function_version: Option<String>,
    description: Option<String>,
    routing_config: Option<RoutingInput>,
    revision_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TagsInput {
    tags: Option<BTreeMap<String, String>>,
}

fn required(value: Option<String>, member: &str) -> Result<String, LambdaError> {
    value.ok_or_else(|| {
        LambdaError::new(
            ErrorType::ValidationException,
            format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"),
        )
    })
}

// ---- responses ------------------------------------------------------------------

/// `LastModified` as Lambda writes it: `2024-01-01T00:00:00.000+0000`.
pub(crate) fn lambda_date(timestamp: Timestamp) -> String {
    let text = timestamp.to_rfc3339_millis();
    match text.strip_suffix('Z') {
        Some(stem) => format!("{stem}+0000"),
        None => text,
    }
}

fn configuration_json(view: &FunctionConfiguration) -> Value {
    let config = &view.config;
    let mut body = json!({
        "FunctionName": view.function_name,
        "FunctionArn": view.function_arn,
        "Runtime": config.runtime.as_str(),
        "Role": config.role,
        "Handler": config.handler,
        "CodeSize": config.code_size_bytes,
        "Description": config.description,
        "Timeout": config.timeout_s,
        "MemorySize": config.memory_mb,
        "LastModified": lambda_date(config.last_modified),
        "CodeSha256": config.code_sha256,
        "Version": view.version,
        "Environment": { "Variables": config.environment },
        "TracingConfig": { "Mode": "PassThrough" },
        "RevisionId": config.revision_id,
        "PackageType": "Zip",
        "Architectures": [config.architecture],
        "EphemeralStorage": { "Size": 512 },
        "SnapStart": { "ApplyOn": "None", "OptimizationStatus": "Off" },
        "LoggingConfig": { "LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", view.function_name) },
    });
    if let Some(state) = view.state {
        body["State"] = Value::from(state.as_str());
    }
    if let Some(reason) = view.state_reason {
        body["StateReason"] = Value::from(reason);
    }
    if let Some(code) = view.state_reason_code {
        body["StateReasonCode"] = Value::from(code);
    }
    if let Some(update) = view.last_update {
        body["LastUpdateStatus"] = Value::from(update.status);
        if let Some(reason) = update.reason {
            body["LastUpdateStatusReason"] = Value::from(reason);
        }
        if let Some(code) = update.reason_code {
            body["LastUpdateStatusReasonCode"] = Value::from(code);
        }
    }
    if let Some(target) = &config.dead_letter_target_arn {
        body["DeadLetterConfig"] = json!({ "TargetArn": target });
    }
    body
}

fn alias_json(alias: &AliasConfiguration) -> Value {
    let record = &alias.alias;
    let mut body = json!({
        "AliasArn": alias.alias_arn,
        "Name": record.name,
        "FunctionVersion": record.function_version,
        "Description": record.description,
        "RevisionId": record.revision_id,
    });
    if !record.additional_version_weights.is_empty() {
        body["RoutingConfig"] = json!({ "AdditionalVersionWeights": record.additional_version_weights });
    }
    body
}

fn with_marker(mut body: Value, next_marker: Option<String>) -> Value {
    if let Some(marker) = next_marker {
        body["NextMarker"] = Value::from(marker);
    }
    body
}

// ---- handlers -------------------------------------------------------------------

async fn create_function(State(state): State<AppState>, request: Request) -> Response {
    let result = async {
        let body = read_body(request, MAX_CREATE_FUNCTION_REQUEST_BYTES, "CreateFunction").await?;
        // Parsing and base64-decoding tens of megabytes is blocking work too.
        blocking(&state, move |plane| {
            let input: CreateFunctionInput = parse_json(&body)?;
            drop(body);
            let request = CreateFunctionRequest {
                function_name: required(input.function_name, "functionName")?,
                runtime: input.runtime,
                role: input.role,
                handler: input.handler,
                code: input.code.unwrap_or_default().into_source()?,
                description: input.description,
                timeout_s: input.timeout,
                memory_mb: input.memory_size,
                environment: input.environment.map(|e| e.variables.unwrap_or_default()),
                dead_letter_target_arn: input.dead_letter_config.and_then(|d| d.target_arn),
                publish: input.publish.unwrap_or(false),
                package_type: input.package_type,
                architectures: input.architectures,
                tags: input.tags.unwrap_or_default(),
            };
            plane.create_function(request)
        })
        .await
    }
    .await;
    reply(result, |view| json_response(StatusCode::CREATED, &configuration_json(&view)))
}

async fn list_functions(State(state): State<AppState>, uri: Uri) -> Response {
    let result = (|| {
        let all = match query_param(&uri, "FunctionVersion").as_deref() {
            None => false,
            Some("ALL") => true,
            Some(other) => {
                return Err(LambdaError::new(
                    ErrorType::ValidationException,
                    format!(
                        "1 validation error detected: Value '{other}' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
                    ),
                ));
            }
        };
        state.functions().list_functions(query_param(&uri, "Marker").as_deref(), max_items(&uri)?, all)
    })();
    reply(result, |page| {
        let functions: Vec<Value> = page.items.iter().map(configuration_json).collect();
        json_response(StatusCode::OK, &with_marker(json!({ "Functions": functions }), page.next_marker))
    })
}

async fn get_function(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let result = state.functions().get_function(&function, qualifier(&uri).as_deref());
    reply(result, |details| {
        let mut code = json!({ "RepositoryType": "S3" });
        if let Some(dir) = &details.configuration.code_dir {
            code["Location"] = Value::from(format!("file://{}", dir.display()));
        }
        let mut body = json!({ "Configuration": configuration_json(&details.configuration), "Code": code });
        if !details.tags.is_empty() {
            body["Tags"] = json!(details.tags);
        }
        if let Some(reserved) = details.reserved_concurrency {
            body["Concurrency"] = json!({ "ReservedConcurrentExecutions": reserved });
        }
        json_response(StatusCode::OK, &body)
    })
}

async fn get_function_configuration(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let result = state.functions().get_function_configuration(&function, qualifier(&uri).as_deref());
    reply(result, |view| json_response(StatusCode::OK, &configuration_json(&view)))
}

async fn delete_function(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let qualifier = qualifier(&uri);
    let name = state.functions().resolve(&function, None, 0.0).ok().map(|r| r.version.function_name.clone());
    let deleted_qualifier = qualifier.clone();
    let result = blocking(&state, move |plane| plane.delete_function(&function, qualifier.as_deref())).await;
    if let (Ok(()), Some(name)) = (&result, name) {
        // Environments of deleted code never serve again.
        state.invoker().function_deleted(&name, deleted_qualifier.as_deref());
    }
    reply(result, |()| no_content())
}

async fn update_function_configuration(
    State(state): State<AppState>,
    Path(function): Path<String>,
    request: Request,
) -> Response {
    let result = async {
        let body = read_body(request, MAX_SMALL_REQUEST_BYTES, "UpdateFunctionConfiguration").await?;
        let input: UpdateConfigurationInput = parse_json(&body)?;
        let request = UpdateConfigurationRequest {
            function_name: function,
            runtime: input.runtime,
            role: input.role,
            handler: input.handler,
            description: input.description,
            timeout_s: input.timeout,
            memory_mb: input.memory_size,
            environment: input.environment.map(|e| e.variables.unwrap_or_default()),
            dead_letter_target_arn: input.dead_letter_config.map(|d| d.target_arn.unwrap_or_default()),
            revision_id: input.revision_id,
        };
        blocking(&state, move |plane| plane.update_function_configuration(request)).await
    }
    .await;
    if let Ok(view) = &result {
        // Warm environments run the old configuration: retire them.
        state.invoker().latest_changed(&view.function_name);
    }
    reply(result, |view| json_response(StatusCode::OK, &configuration_json(&view)))
}

async fn update_function_code(
    State(state): State<AppState>,
    Path(function): Path<String>,
    request: Request,
) -> Response {
    let result = async {
        let body = read_body(request, MAX_CREATE_FUNCTION_REQUEST_BYTES, "UpdateFunctionCode").await?;
        blocking(&state, move |plane| {
            let input: UpdateCodeInput = parse_json(&body)?;
            drop(body);
            let code = CodeInput {
                zip_file: input.zip_file,
                s3_bucket: input.s3_bucket,
                s3_key: input.s3_key,
                image_uri: input.image_uri,
            }
            .into_source()?;
            let request = UpdateCodeRequest {
                function_name: function,
                code,
                publish: input.publish.unwrap_or(false),
                dry_run: input.dry_run.unwrap_or(false),
                revision_id: input.revision_id,
                architectures: input.architectures,
            };
            plane.update_function_code(request)
        })
        .await
    }
    .await;
    if let Ok(view) = &result {
        // Warm environments run the old code: retire them.
        state.invoker().latest_changed(&view.function_name);
    }
    reply(result, |view| json_response(StatusCode::OK, &configuration_json(&view)))
}

async fn publish_version(State(state): State<AppState>, Path(function): Path<String>, request: Request) -> Response {
    let result = async {
        let body = read_body(request, MAX_SMALL_REQUEST_BYTES, "PublishVersion").await?;
        let input: PublishVersionInput = parse_json(&body)?;
        let request = PublishVersionRequest {
            function_name: function,
            code_sha256: input.code_sha256,
            description: input.description,
            revision_id: input.revision_id,
        };
        blocking(&state, move |plane| plane.publish_version(request)).await
    }
    .await;
    reply(result, |view| json_response(StatusCode::CREATED, &configuration_json(&view)))
}

async fn list_versions(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let result = max_items(&uri).and_then(|max| {
        state.functions().list_versions_by_function(&function, query_param(&uri, "Marker").as_deref(), max)
    });
    reply(result, |page| {
        let versions: Vec<Value> = page.items.iter().map(configuration_json).collect();
        json_response(StatusCode::OK, &with_marker(json!({ "Versions": versions }), page.next_marker))
    })
}

async fn create_alias(State(state): State<AppState>, Path(function): Path<String>, request: Request) -> Response {
    let result = async {
        let body = read_body(request, MAX_SMALL_REQUEST_BYTES, "CreateAlias").await?;
        let input: AliasInput = parse_json(&body)?;
        let request = CreateAliasRequest {
            function_name: function,
            name: required(input.name, "name")?,
            function_version: required(input.function_version, "functionVersion")?,
            description: input.description,
            additional_version_weights: input.routing_config.and_then(|r| r.additional_version_weights),
        };
        blocking(&state, move |plane| plane.create_alias(request)).await
    }
    .await;
    reply(result, |alias| json_response(StatusCode::CREATED, &alias_json(&alias)))
}

async fn list_aliases(State(state): State<AppState>, Path(function): Path<String>, uri: Uri) -> Response {
    let result = max_items(&uri).and_then(|max| {
        state.functions().list_aliases(
            &function,
            query_param(&uri, "FunctionVersion").as_deref(),
            query_param(&uri, "Marker").as_deref(),
            max,
        )
    });
    reply(result, |page| {
        let aliases: Vec<Value> = page.items.iter().map(alias_json).collect();
        json_response(StatusCode::OK, &with_marker(json!({ "Aliases": aliases }), page.next_marker))
    })
}

async fn get_alias(State(state): State<AppState>, Path((function, alias)): Path<(String, String)>) -> Response {
    reply(state.functions().get_alias(&function, &alias), |alias| json_response(StatusCode::OK, &alias_json(&alias)))
}

async fn update_alias(
    State(state): State<AppState>,
    Path((function, alias)): Path<(String, String)>,
    request: Request,
) -> Response {
    let result = async {
        let body = read_body(request, MAX_SMALL_REQUEST_BYTES, "UpdateAlias").await?;
        let input: AliasInput = parse_json(&body)?;
        let request = UpdateAliasRequest {
            function_name: function,
            name: alias,
            function_version: input.function_version,
            description: input.description,
            // A RoutingConfig without weights removes the routing.
            additional_version_weights: input.routing_config.map(|r| r.additional_version_weights.unwrap_or_default()),
            revision_id: input.revision_id,
        };
        blocking(&state, move |plane| plane.update_alias(request)).await
    }
    .await;
    reply(result, |alias| json_response(StatusCode::OK, &alias_json(&alias)))
}

async fn delete_alias(State(state): State<AppState>, Path((function, alias)): Path<(String, String)>) -> Response {
    let result = blocking(&state, move |plane| plane.delete_alias(&function, &alias)).await;
    reply(result, |()| no_content())
}

async fn list_tags(State(state): State<AppState>, Path(resource): Path<String>) -> Response {
    reply(state.functions().list_tags(&resource), |tags| json_response(StatusCode::OK, &json!({ "Tags": tags })))
}

async fn tag_resource(State(state): State<AppState>, Path(resource): Path<String>, request: Request) -> Response {
    let result = async {
        let body = read_body(request, MAX_SMALL_REQUEST_BYTES, "TagResource").await?;
        let input: TagsInput = parse_json(&body)?;
        let tags = input.tags.unwrap_or_default();
        blocking(&state, move |plane| plane.tag_resource(&resource, tags)).await
    }
    .await;
    reply(result, |()| no_content())
}

async fn untag_resource(State(state): State<AppState>, Path(resource): Path<String>, uri: Uri) -> Response {
    let keys: Vec<String> =
        query_params(&uri).into_iter().filter(|(key, _)| key == "tagKeys").map(|(_, value)| value).collect();
    let result = blocking(&state, move |plane| plane.untag_resource(&resource, &keys)).await;
    reply(result, |()| no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded() {
        let uri: Uri = "/x?Qualifier=%24LATEST&tagKeys=a%20b&tagKeys=c+d&Empty".parse().expect("uri");
        assert_eq!(
            query_params(&uri),
            [
                ("Qualifier".to_owned(), "$LATEST".to_owned()),
                ("tagKeys".to_owned(), "a b".to_owned()),
                ("tagKeys".to_owned(), "c d".to_owned()),
                ("Empty".to_owned(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn dates_are_lambdas() {
        assert_eq!(lambda_date(Timestamp::from_unix_millis(1_704_067_200_123)), "2024-01-01T00:00:00.123+0000");
    }

    #[test]
    fn error_shapes() {
        let response =
            error_response(&LambdaError::function_not_found("arn:aws:lambda:us-east-1:000000000000:function:f"));
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["x-amzn-errortype"], "ResourceNotFoundException");
        let throttled = LambdaError::throttled("ReservedFunctionConcurrentInvocationLimitExceeded", "Rate Exceeded.");
        let response = error_response(&throttled);
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["x-amzn-errortype"], "TooManyRequestsException");
    }
}
