//! The `aws` provider subset: cloudlet's own platform managed through the
//! daemon's AWS-compatible APIs, with the AWS provider's resource names and
//! attributes (`aws_sqs_queue`, `aws_lambda_function`).
//!
//! It is configured by an ordinary `provider "aws"` block in the root
//! module; `endpoints { sqs = "...", lambda = "..." }` point it at a
//! daemon (default `http://127.0.0.1:4566`, the address `cloudlet up`
//! listens on). Requests go through [`cloudlet_core::http`], the same
//! client the CLI uses.

mod lambda;
mod sqs;

use std::time::Duration;

use cloudlet_core::http;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};

use crate::config::FileBody;
use crate::decode::{Mode, ModuleConfig};
use crate::value::Value;

use super::{PlannedChange, Provider, ProviderError, Schema, SharedRng};

/// Where `cloudlet up` listens unless told otherwise.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";

/// How long one API call may take (a function create unpacks its code).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The provider's settings from its `provider "aws"` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    pub sqs_endpoint: String,
    pub lambda_endpoint: String,
}

impl Default for AwsConfig {
    fn default() -> AwsConfig {
        AwsConfig { sqs_endpoint: DEFAULT_ENDPOINT.to_owned(), lambda_endpoint: DEFAULT_ENDPOINT.to_owned() }
    }
}

fn literal_string(e: &Expression) -> Option<String> {
    match e {
        Expression::String(s) => Some(s.value().to_string()),
        _ => None,
    }
}

fn endpoints_from_body(body: &Body, out: &mut AwsConfig) -> Result<(), String> {
    for s in body.iter() {
        let Structure::Block(b) = s else { continue };
        if b.ident.value().as_str() != "endpoints" {
            continue;
        }
        for s in b.body.iter() {
            let Structure::Attribute(a) = s else { continue };
            let key = a.key.value().as_str();
            let value = literal_string(&a.value)
                .ok_or_else(|| format!("provider \"aws\": endpoints.{key} must be a literal string URL"))?;
            match key {
                "sqs" => out.sqs_endpoint = value,
                "lambda" => out.lambda_endpoint = value,
                // Endpoints of services cloudlet's subset does not manage.
                _ => {}
            }
        }
    }
    Ok(())
}

impl AwsConfig {
    /// The settings of the root module's `provider "aws"` block (the
    /// defaults when there is none).
    pub fn from_module(config: &ModuleConfig) -> Result<AwsConfig, String> {
        let mut out = AwsConfig::default();
        for f in &config.files {
            let FileBody::Hcl(body) = &f.body else { continue };
            for s in body.iter() {
                let Structure::Block(b) = s else { continue };
                let is_aws =
                    b.ident.value().as_str() == "provider" && b.labels.first().is_some_and(|l| l.as_str() == "aws");
                if is_aws
                    && !b.body.iter().any(|s| matches!(s, Structure::Attribute(a) if a.key.value().as_str() == "alias"))
                {
                    endpoints_from_body(&b.body, &mut out).map_err(|e| format!("{}: {e}", f.path.display()))?;
                }
            }
        }
        Ok(out)
    }
}

/// A failed API call: HTTP status, error code and message.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    fn into_provider(self, what: &str) -> ProviderError {
        if self.status == 0 {
            return ProviderError::new(format!("{what}: the daemon is unreachable"), self.message);
        }
        ProviderError::new(
            format!("{what}: {}", self.code),
            format!("The API answered {} {}: {}", self.status, self.code, self.message),
        )
    }
}

/// One request to the daemon; the body is parsed as JSON (null when empty).
pub(crate) fn call(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let unreachable = |e: std::io::Error| ApiError {
        status: 0,
        code: "RequestError".to_owned(),
        message: format!("cannot reach the cloudlet daemon at {endpoint}: {e} (is `cloudlet up` running?)"),
    };
    let addr = http::endpoint_addr(endpoint).map_err(unreachable)?;
    let response = http::send(addr, method, path, headers, body, READ_TIMEOUT).map_err(unreachable)?;
    let parsed: serde_json::Value = if response.body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null)
    };
    if response.status >= 400 {
        let code = response
            .header("x-amzn-query-error")
            .or(response.header("x-amzn-errortype"))
            .and_then(|v| v.split([';', ':']).next())
            .map(str::to_owned)
            .or_else(|| parsed["__type"].as_str().or(parsed["Type"].as_str()).map(str::to_owned))
            .unwrap_or_else(|| "Error".to_owned());
        let message = parsed["message"].as_str().or(parsed["Message"].as_str()).unwrap_or_default().to_owned();
        return Err(ApiError { status: response.status, code, message });
    }
    Ok(parsed)
}

/// The `aws` provider.
#[derive(Debug)]
pub struct Aws {
    config: AwsConfig,
    rng: SharedRng,
    base_dir: std::path::PathBuf,
    queue: Schema,
    function: Schema,
}

impl Aws {
    pub fn new(config: AwsConfig, rng: SharedRng, base_dir: std::path::PathBuf) -> Aws {
        Aws { config, rng, base_dir, queue: sqs::schema(), function: lambda::schema() }
    }
}

fn unsupported(type_name: &str) -> ProviderError {
    ProviderError::new(
        "Invalid resource type",
        format!("The provider hashicorp/aws does not support resource type {type_name:?} in cloudlet."),
    )
}

impl Provider for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }
    fn source(&self) -> &'static str {
        "registry.terraform.io/hashicorp/aws"
    }
    fn schema(&self, mode: Mode, type_name: &str) -> Option<&Schema> {
        match (mode, type_name) {
            (Mode::Managed, "aws_sqs_queue") => Some(&self.queue),
            (Mode::Managed, "aws_lambda_function") => Some(&self.function),
            _ => None,
        }
    }
    fn validate(&self, type_name: &str, config: &Value) -> Result<(), ProviderError> {
        match type_name {
            "aws_sqs_queue" => sqs::validate(config),
            _ => Ok(()),
        }
    }
    fn plan_change(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        config: &Value,
    ) -> Result<PlannedChange, ProviderError> {
        match type_name {
            "aws_sqs_queue" => Ok(sqs::plan(&self.queue, prior, config)),
            "aws_lambda_function" => Ok(lambda::plan(&self.function, prior, config)),
            _ => Err(unsupported(type_name)),
        }
    }
    fn apply(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        planned: Option<&Value>,
    ) -> Result<Option<Value>, ProviderError> {
        match type_name {
            "aws_sqs_queue" => sqs::apply(&self.config.sqs_endpoint, &self.rng, prior, planned),
            "aws_lambda_function" => lambda::apply(&self.config.lambda_endpoint, &self.base_dir, prior, planned),
            _ => Err(unsupported(type_name)),
        }
    }
    fn read(&self, type_name: &str, state: &Value) -> Result<Option<Value>, ProviderError> {
        match type_name {
            "aws_sqs_queue" => sqs::read(&self.config.sqs_endpoint, state),
            "aws_lambda_function" => lambda::read(&self.config.lambda_endpoint, state),
            _ => Err(unsupported(type_name)),
        }
    }
    fn import(&self, type_name: &str, id: &str) -> Result<Value, ProviderError> {
        let found = match type_name {
            "aws_sqs_queue" => sqs::read(&self.config.sqs_endpoint, &sqs::skeleton(&self.queue, id))?,
            "aws_lambda_function" => lambda::read(&self.config.lambda_endpoint, &lambda::skeleton(&self.function, id))?,
            _ => return Err(unsupported(type_name)),
        };
        found.ok_or_else(|| {
            ProviderError::new(
                "Cannot import non-existent remote object",
                format!(
                    "While attempting to import an existing object to {type_name:?}, the provider detected that no object exists with the given id. Only pre-existing objects can be imported; check that the id is correct and that it is associated with the provider's configured region or endpoint, or use \"terraform apply\" to create a new remote object for this resource."
                ),
            )
        })
    }
}

/// A null-filled object of `schema` with `id` set.
pub(crate) fn skeleton_of(schema: &Schema, id: &str) -> Value {
    let mut m: std::collections::BTreeMap<String, Value> =
        schema.attrs.iter().map(|a| (a.name.to_owned(), Value::Null(a.ty.clone()))).collect();
    m.insert("id".to_owned(), Value::string(id));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_come_from_the_provider_block() {
        let body = hcl_edit::parser::parse_body(
            "provider \"aws\" {\n  region = \"us-east-1\"\n  endpoints {\n    sqs = \"http://127.0.0.1:9\"\n    lambda = \"http://127.0.0.1:8\"\n  }\n}\n",
        )
        .expect("parse");
        let Some(Structure::Block(b)) = body.iter().next() else { panic!("no block") };
        let mut c = AwsConfig::default();
        endpoints_from_body(&b.body, &mut c).expect("endpoints");
        assert_eq!(c.sqs_endpoint, "http://127.0.0.1:9");
        assert_eq!(c.lambda_endpoint, "http://127.0.0.1:8");
        let body = hcl_edit::parser::parse_body("endpoints {\n  sqs = var.x\n}\n").expect("parse");
        assert!(endpoints_from_body(&body, &mut c).is_err_and(|e| e.contains("endpoints.sqs")));
    }
}
