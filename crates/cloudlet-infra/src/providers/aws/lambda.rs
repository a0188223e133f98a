//! `aws_lambda_function` over the daemon's Lambda REST API: CreateFunction,
//! UpdateFunctionCode when `source_code_hash` (or `filename`) changes,
//! UpdateFunctionConfiguration otherwise, PublishVersion when `publish`,
//! Put/DeleteFunctionConcurrency for `reserved_concurrent_executions`
//! (-1: unreserved), GetFunction for refresh and import. The id is the
//! function name.

use std::path::Path;

use base64::Engine as _;
use serde_json::json;

use crate::value::{Type, Value};

use super::super::{
    Attr, PlannedChange, ProviderError, Schema, get, get_bool, get_i64, get_str, plan_from_schema, set,
};
use super::{ApiError, call, skeleton_of};

/// Settings UpdateFunctionConfiguration carries (attribute, API member).
const CONFIG: &[(&str, &str)] = &[
    ("role", "Role"),
    ("runtime", "Runtime"),
    ("handler", "Handler"),
    ("memory_size", "MemorySize"),
    ("timeout", "Timeout"),
];

fn variables_type() -> Type {
    Type::Map(Box::new(Type::String))
}

/// `environment[0].variables`, as the API's `Environment.Variables`.
fn variables_of(v: &Value) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    if let Some(Value::List(_, items)) = get(v, "environment") {
        for item in items {
            if let Some(Value::Map(_, m)) = get(item, "variables") {
                for (k, x) in m {
                    if let Some(s) = x.unmarked().as_str() {
                        out.insert(k.clone(), json!(s));
                    }
                }
            }
        }
    }
    out
}

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        Attr::computed("id", Type::String),
        Attr::required("function_name", Type::String).force_new(),
        Attr::optional("filename", Type::String),
        Attr::optional("source_code_hash", Type::String).optional_computed(),
        Attr::required("role", Type::String),
        Attr::optional("runtime", Type::String),
        Attr::optional("handler", Type::String),
        Attr::optional("memory_size", Type::Number).default(Value::int(128)),
        Attr::optional("timeout", Type::Number).default(Value::int(3)),
        Attr::optional("publish", Type::Bool).default(Value::Bool(false)),
        Attr::optional("reserved_concurrent_executions", Type::Number).default(Value::int(-1)),
        Attr::block("environment", Schema::new(vec![Attr::optional("variables", variables_type())])),
        Attr::computed("arn", Type::String),
        Attr::computed("qualified_arn", Type::String),
        Attr::computed("version", Type::String),
        Attr::computed("last_modified", Type::String),
        Attr::computed("source_code_size", Type::Number),
    ])
}

pub(super) fn skeleton(schema: &Schema, name: &str) -> Value {
    let mut v = skeleton_of(schema, name);
    set(&mut v, "function_name", Value::string(name));
    set(&mut v, "publish", Value::Bool(false));
    v
}

fn differs(a: &Value, b: &Value, name: &str) -> bool {
    let x = get(a, name).cloned().unwrap_or(Value::Null(Type::Dynamic));
    let y = get(b, name).cloned().unwrap_or(Value::Null(Type::Dynamic));
    !x.unmark_deep().0.raw_equal(&y.unmark_deep().0)
}

fn code_changes(prior: &Value, planned: &Value) -> bool {
    differs(prior, planned, "filename") || differs(prior, planned, "source_code_hash")
}

fn config_changes(prior: &Value, planned: &Value) -> bool {
    CONFIG.iter().any(|(n, _)| differs(prior, planned, n)) || variables_of(prior) != variables_of(planned)
}

pub(super) fn plan(schema: &Schema, prior: Option<&Value>, config: &Value) -> PlannedChange {
    let mut p = plan_from_schema(schema, prior, config);
    let Some(prior) = prior else {
        set(&mut p.planned, "id", Value::Unknown(Type::String));
        return p;
    };
    if !p.requires_replace.is_empty() {
        return p;
    }
    let code = code_changes(prior, &p.planned);
    let conf = config_changes(prior, &p.planned);
    if code || conf {
        set(&mut p.planned, "last_modified", Value::Unknown(Type::String));
    }
    if code {
        set(&mut p.planned, "source_code_size", Value::Unknown(Type::Number));
    }
    if get_bool(&p.planned, "publish") == Some(true) && (code || conf || differs(prior, &p.planned, "publish")) {
        set(&mut p.planned, "version", Value::Unknown(Type::String));
        set(&mut p.planned, "qualified_arn", Value::Unknown(Type::String));
    }
    p
}

fn path_of(name: &str, rest: &str) -> String {
    format!("/2015-03-31/functions/{name}{rest}")
}

fn json_call(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    call(endpoint, method, path, &[("Content-Type", "application/json")], body.to_string().as_bytes())
}

fn zip_base64(base_dir: &Path, planned: &Value) -> Result<String, ProviderError> {
    let Some(file) = get_str(planned, "filename") else {
        return Err(ProviderError::new(
            "Missing function code",
            "cloudlet's aws_lambda_function takes its code from \"filename\" (a .zip archive); set it.",
        ));
    };
    let path = base_dir.join(file);
    let bytes = std::fs::read(&path).map_err(|e| {
        ProviderError::new(
            "reading Lambda Function code",
            format!("unable to load {:?}: {e}", path.display().to_string()),
        )
    })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn concurrency(endpoint: &str, name: &str, reserved: i64) -> Result<(), ProviderError> {
    let path = format!("/2017-10-31/functions/{name}/concurrency");
    let result = if reserved < 0 {
        call(endpoint, "DELETE", &path, &[], &[])
    } else {
        json_call(endpoint, "PUT", &path, &json!({ "ReservedConcurrentExecutions": reserved }))
    };
    result.map(|_| ()).map_err(|e| e.into_provider("setting Lambda Function concurrency"))
}

pub(super) fn apply(
    endpoint: &str,
    base_dir: &Path,
    prior: Option<&Value>,
    planned: Option<&Value>,
) -> Result<Option<Value>, ProviderError> {
    let Some(planned) = planned else {
        let name = prior.and_then(|p| get_str(p, "function_name")).unwrap_or_default();
        return match call(endpoint, "DELETE", &path_of(name, ""), &[], &[]) {
            Ok(_) => Ok(None),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e.into_provider("deleting Lambda Function")),
        };
    };
    let name = get_str(planned, "function_name").unwrap_or_default().to_owned();
    let publish = get_bool(planned, "publish") == Some(true);
    let reserved = get_i64(planned, "reserved_concurrent_executions").unwrap_or(-1);
    let settings = || {
        let mut body = serde_json::Map::new();
        for (n, key) in CONFIG {
            if let Some(v) = get(planned, n).filter(|v| !v.is_null()) {
                let j = match v.unmarked() {
                    Value::String(s) => json!(s),
                    other => json!(other.as_number().and_then(crate::number::Number::to_i64_exact)),
                };
                body.insert((*key).to_owned(), j);
            }
        }
        body.insert("Environment".to_owned(), json!({ "Variables": variables_of(planned) }));
        body
    };
    match prior {
        None => {
            let mut body = settings();
            body.insert("FunctionName".to_owned(), json!(name));
            body.insert("Code".to_owned(), json!({ "ZipFile": zip_base64(base_dir, planned)? }));
            body.insert("Publish".to_owned(), json!(publish));
            json_call(endpoint, "POST", "/2015-03-31/functions", &serde_json::Value::Object(body))
                .map_err(|e| e.into_provider("creating Lambda Function"))?;
            if reserved >= 0 {
                concurrency(endpoint, &name, reserved)?;
            }
        }
        Some(prior) => {
            let code = code_changes(prior, planned);
            let conf = config_changes(prior, planned);
            if conf {
                json_call(endpoint, "PUT", &path_of(&name, "/configuration"), &serde_json::Value::Object(settings()))
                    .map_err(|e| e.into_provider("updating Lambda Function configuration"))?;
            }
            if code {
                let body = json!({ "ZipFile": zip_base64(base_dir, planned)?, "Publish": publish });
                json_call(endpoint, "PUT", &path_of(&name, "/code"), &body)
                    .map_err(|e| e.into_provider("updating Lambda Function code"))?;
            } else if publish && (conf || differs(prior, planned, "publish")) {
                json_call(endpoint, "POST", &path_of(&name, "/versions"), &json!({}))
                    .map_err(|e| e.into_provider("publishing Lambda Function version"))?;
            }
            let was = get_i64(prior, "reserved_concurrent_executions").unwrap_or(-1);
            if was != reserved {
                concurrency(endpoint, &name, reserved)?;
            }
        }
    }
    let mut new = planned.clone();
    set(&mut new, "id", Value::string(name));
    read(endpoint, &new)?.map(Some).ok_or_else(|| {
        ProviderError::new("reading Lambda Function", "The function was not found right after it was written.")
    })
}

fn string_or_null(v: &serde_json::Value) -> Value {
    v.as_str().map_or(Value::Null(Type::String), Value::string)
}

pub(super) fn read(endpoint: &str, state: &Value) -> Result<Option<Value>, ProviderError> {
    let name = get_str(state, "function_name").or(get_str(state, "id")).unwrap_or_default().to_owned();
    let out = match call(endpoint, "GET", &path_of(&name, ""), &[], &[]) {
        Ok(out) => out,
        Err(e) if e.status == 404 => return Ok(None),
        Err(e) => return Err(e.into_provider("reading Lambda Function")),
    };
    let c = &out["Configuration"];
    let mut new = state.clone();
    set(&mut new, "id", Value::string(name.clone()));
    set(&mut new, "function_name", Value::string(name.clone()));
    for (n, key) in CONFIG {
        let v = match &c[*key] {
            serde_json::Value::Number(x) => x.as_i64().map_or(Value::Null(Type::Number), Value::int),
            other => string_or_null(other),
        };
        set(&mut new, n, v);
    }
    let arn = c["FunctionArn"].as_str().unwrap_or_default().to_owned();
    set(&mut new, "arn", Value::string(arn.clone()));
    set(&mut new, "last_modified", string_or_null(&c["LastModified"]));
    set(&mut new, "source_code_size", c["CodeSize"].as_i64().map_or(Value::Null(Type::Number), Value::int));
    set(&mut new, "source_code_hash", string_or_null(&c["CodeSha256"]));
    let vars: std::collections::BTreeMap<String, Value> = c["Environment"]["Variables"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), Value::string(s)))).collect())
        .unwrap_or_default();
    let block_type = Type::Object([("variables".to_owned(), variables_type())].into());
    let environment = if vars.is_empty() {
        // An empty block (or none) reads as it was written.
        match get(state, "environment") {
            Some(v @ Value::List(..)) if variables_of(v).is_empty() => v.clone(),
            _ => Value::List(block_type, Vec::new()),
        }
    } else {
        let item = Value::Object([("variables".to_owned(), Value::Map(Type::String, vars))].into());
        Value::List(block_type, vec![item])
    };
    set(&mut new, "environment", environment);
    let reserved = out["Concurrency"]["ReservedConcurrentExecutions"].as_i64().unwrap_or(-1);
    set(&mut new, "reserved_concurrent_executions", Value::int(reserved));
    if get(&new, "publish").is_none_or(|v| v.is_null() || v.is_unknown()) {
        set(&mut new, "publish", Value::Bool(false));
    }
    // The latest published version, as the AWS provider reports it.
    let version = if get_bool(&new, "publish") == Some(true) {
        let versions = call(endpoint, "GET", &path_of(&name, "/versions"), &[], &[])
            .map_err(|e| e.into_provider("listing Lambda Function versions"))?;
        versions["Versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["Version"].as_str().and_then(|s| s.parse::<u64>().ok()))
            .max()
            .map_or_else(|| "$LATEST".to_owned(), |n| n.to_string())
    } else {
        "$LATEST".to_owned()
    };
    set(&mut new, "qualified_arn", Value::string(format!("{arn}:{version}")));
    set(&mut new, "version", Value::string(version));
    Ok(Some(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(pairs: &[(&str, Value)]) -> Value {
        Value::Object(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    }

    fn config(hash: &str, timeout: i64, publish: bool) -> Value {
        object(&[
            ("function_name", Value::string("worker")),
            ("filename", Value::string("fn.zip")),
            ("source_code_hash", Value::string(hash)),
            ("role", Value::string("arn:aws:iam::000000000000:role/r")),
            ("timeout", Value::int(timeout)),
            ("publish", Value::Bool(publish)),
        ])
    }

    /// The prior object a create of `config` leaves behind.
    fn applied(s: &Schema, config: &Value) -> Value {
        let mut v = plan(s, None, config).planned;
        for (n, x) in [
            ("id", Value::string("worker")),
            ("arn", Value::string("arn:aws:lambda:us-east-1:000000000000:function:worker")),
            ("qualified_arn", Value::string("arn:aws:lambda:us-east-1:000000000000:function:worker:1")),
            ("version", Value::string("1")),
            ("last_modified", Value::string("2026-01-01T00:00:00.000+0000")),
            ("source_code_size", Value::int(100)),
        ] {
            set(&mut v, n, x);
        }
        v
    }

    #[test]
    fn plans_say_which_update_runs() {
        let s = schema();
        let prior = applied(&s, &config("h1", 3, false));
        let same = plan(&s, Some(&prior), &config("h1", 3, false)).planned;
        assert!(same.raw_equal(&prior), "{same:?}");

        let code = plan(&s, Some(&prior), &config("h2", 3, false));
        assert!(code.requires_replace.is_empty());
        assert!(code_changes(&prior, &code.planned));
        assert!(get(&code.planned, "source_code_size").is_some_and(Value::is_unknown));
        assert_eq!(get_str(&code.planned, "version"), Some("1"));

        let conf = plan(&s, Some(&prior), &config("h1", 9, false)).planned;
        assert!(config_changes(&prior, &conf) && !code_changes(&prior, &conf));
        assert!(get(&conf, "last_modified").is_some_and(Value::is_unknown));
        assert_eq!(get_i64(&conf, "source_code_size"), Some(100));

        let published = plan(&s, Some(&prior), &config("h1", 9, true)).planned;
        assert!(get(&published, "version").is_some_and(Value::is_unknown));
        assert_eq!(get_i64(&published, "reserved_concurrent_executions"), Some(-1));

        let mut with_env = config("h1", 3, false);
        let vars = Value::Map(Type::String, [("A".to_owned(), Value::string("1"))].into());
        let block_type = Type::Object([("variables".to_owned(), variables_type())].into());
        let env = Value::List(block_type, vec![Value::Object([("variables".to_owned(), vars)].into())]);
        set(&mut with_env, "environment", env);
        let env_plan = plan(&s, Some(&prior), &with_env).planned;
        assert!(config_changes(&prior, &env_plan) && !code_changes(&prior, &env_plan));
        assert_eq!(variables_of(&env_plan).get("A"), Some(&json!("1")));

        let mut renamed = config("h1", 3, false);
        set(&mut renamed, "function_name", Value::string("other"));
        assert_eq!(plan(&s, Some(&prior), &renamed).requires_replace, ["function_name"]);
    }

    #[test]
    fn code_comes_from_filename_relative_to_the_configuration() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("fn.zip"), b"PK").expect("write");
        let planned = config("h", 3, false);
        assert_eq!(zip_base64(&dir, &planned).expect("read"), "UEs=");
        let err = zip_base64(&dir.join("missing"), &planned).expect_err("no file");
        assert!(err.detail.contains("fn.zip"), "{err:?}");
        let mut no_file = planned;
        set(&mut no_file, "filename", Value::Null(Type::String));
        assert!(zip_base64(&dir, &no_file).is_err());
    }
}
