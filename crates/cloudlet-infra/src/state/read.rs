//! Reading a state file: the format version sniffed first (with Terraform's
//! messages for corrupted, zero and newer versions), then version 4 in
//! either dialect (Terraform's, OpenTofu's), unknown fields kept.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::{IndexKey, InstanceState, Mode, OutputState, ResourceState, State, TERRAFORM_VERSION};

/// Why a state file could not be read: one or more of Terraform's
/// "Unsupported state file format" problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReadError {
    /// Each problem's detail text.
    pub problems: Vec<String>,
}

impl fmt::Display for StateReadError {
    /// As Terraform prints the diagnostics' `Err()`: one problem as
    /// `summary: detail`, several as `N problems:` and a bullet list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SUMMARY: &str = "Unsupported state file format";
        match self.problems.as_slice() {
            [one] => write!(f, "{SUMMARY}: {one}"),
            many => {
                writeln!(f, "{} problems:", many.len())?;
                for p in many {
                    write!(f, "\n- {SUMMARY}: {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for StateReadError {}

fn problem(detail: impl Into<String>) -> StateReadError {
    StateReadError { problems: vec![detail.into()] }
}

/// Reads state file bytes. Empty input is "no state yet" (`Ok(None)`), as
/// for Terraform.
pub fn parse(src: &[u8]) -> Result<Option<State>, StateReadError> {
    if src.is_empty() {
        return Ok(None);
    }
    let root: Value = match serde_json::from_slice(src) {
        Ok(v) => v,
        Err(err) => {
            // Go reports the number of bytes read when the error struck.
            let mut offset = 0usize;
            for (i, line) in src.split(|b| *b == b'\n').enumerate() {
                if i + 1 == err.line() {
                    offset += err.column();
                    break;
                }
                offset += line.len() + 1;
            }
            let offset = offset.min(src.len());
            return Err(StateReadError {
                problems: vec![
                    format!("The state file could not be parsed as JSON: syntax error at byte offset {offset}."),
                    "The state file does not have a \"version\" attribute, which is required to identify the format version.".to_owned(),
                ],
            });
        }
    };
    let Value::Object(mut top) = root else {
        return Err(problem("The state file could not be parsed as JSON: the top level must be an object."));
    };
    let version = match top.get("version") {
        None | Some(Value::Null) => {
            return Err(problem(
                "The state file does not have a \"version\" attribute, which is required to identify the format version.",
            ));
        }
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        Some(other) => {
            return Err(problem(format!(
                "The version in the state file is {other}. A positive whole number is required."
            )));
        }
    };
    match version {
        4 => {}
        0 => {
            return Err(problem(
                "The state file uses JSON syntax but has a version number of zero. There was never a JSON-based state format zero, so this state file is invalid and cannot be processed.",
            ));
        }
        1..=3 => {
            return Err(problem(format!(
                "The state file uses format version {version}, which cloudlet does not upgrade. Run Terraform 1.x once on this state to upgrade it to format version 4."
            )));
        }
        _ => {
            let created_by = match top.get("terraform_version").and_then(Value::as_str) {
                Some(v) => format!("This state file was created by Terraform {v}."),
                None => "This state file may have been created by a newer version of Terraform.".to_owned(),
            };
            return Err(problem(format!(
                "The state file uses format version {version}, which is not supported by Terraform {TERRAFORM_VERSION}. {created_by}"
            )));
        }
    }
    top.remove("version");
    let terraform_version = take_string(&mut top, "terraform_version", "terraform_version")?.unwrap_or_default();
    let serial = match top.remove("serial") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        Some(_) => return Err(field_error("serial", "a whole number")),
    };
    let lineage = take_string(&mut top, "lineage", "lineage")?.unwrap_or_default();
    let mut outputs = BTreeMap::new();
    match top.remove("outputs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, raw) in map {
                let field = format!("outputs.{name}");
                let Value::Object(mut o) = raw else {
                    return Err(field_error(&field, "an object"));
                };
                let value = o.remove("value").unwrap_or(Value::Null);
                let type_ = o.remove("type").unwrap_or(Value::Null);
                let sensitive = take_bool(&mut o, "sensitive", &field)?;
                outputs.insert(name, OutputState { value, type_, sensitive, value_raw: None, extra: o });
            }
        }
        Some(_) => return Err(field_error("outputs", "an object")),
    }
    let mut resources = Vec::new();
    match top.remove("resources") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, raw) in items.into_iter().enumerate() {
                resources.push(resource(raw, &format!("resources[{i}]"))?);
            }
        }
        Some(_) => return Err(field_error("resources", "a list")),
    }
    let check_results = top.remove("check_results");
    let mut state =
        State { version, terraform_version, serial, lineage, outputs, resources, check_results, extra: top };
    attach_raw(src, &mut state);
    Ok(Some(state))
}

/// The file's own text of every `attributes` object and output `value`,
/// kept so an unchanged object is written back exactly as it was.
fn attach_raw(src: &[u8], state: &mut State) {
    use serde_json::value::RawValue;
    #[derive(serde::Deserialize)]
    struct RawState<'a> {
        #[serde(borrow, default)]
        outputs: Option<BTreeMap<String, RawOutput<'a>>>,
        #[serde(borrow, default)]
        resources: Option<Vec<RawResource<'a>>>,
    }
    #[derive(serde::Deserialize)]
    struct RawOutput<'a> {
        #[serde(borrow, default)]
        value: Option<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct RawResource<'a> {
        #[serde(borrow, default)]
        instances: Option<Vec<RawInstance<'a>>>,
    }
    #[derive(serde::Deserialize)]
    struct RawInstance<'a> {
        #[serde(borrow, default)]
        attributes: Option<&'a RawValue>,
    }
    let Ok(text) = std::str::from_utf8(src) else { return };
    let Ok(raw) = serde_json::from_str::<RawState<'_>>(text) else { return };
    for (name, output) in raw.outputs.unwrap_or_default() {
        if let (Some(o), Some(v)) = (state.outputs.get_mut(&name), output.value) {
            let mut as_value = String::new();
            super::json::write_value(&mut as_value, &o.value, 0);
            if !same_text(v.get(), &as_value) {
                o.value_raw = Some(v.get().to_owned());
            }
        }
    }
    let mut scratch = String::new();
    for (r, raw_r) in state.resources.iter_mut().zip(raw.resources.unwrap_or_default()) {
        for (i, raw_i) in r.instances.iter_mut().zip(raw_r.instances.unwrap_or_default()) {
            if let Some(a) = raw_i.attributes.filter(|a| a.get().starts_with('{')) {
                scratch.clear();
                super::json::write_object(&mut scratch, &i.attributes, 0);
                if !same_text(a.get(), &scratch) {
                    i.attributes_raw = Some(a.get().to_owned());
                }
            }
        }
    }
}

/// Whether `raw` is written back as `rendered` (the value's own text): then
/// the raw text need not be kept, and writing skips re-reading it.
fn same_text(raw: &str, rendered: &str) -> bool {
    let mut from_raw = String::with_capacity(rendered.len());
    super::json::write_raw_indented(&mut from_raw, raw, 0);
    from_raw == rendered
}

fn field_error(field: &str, what: &str) -> StateReadError {
    problem(format!("The state file could not be parsed as JSON: {field} must be {what}."))
}

fn take_string(map: &mut Map<String, Value>, key: &str, field: &str) -> Result<Option<String>, StateReadError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(field_error(field, "a string")),
    }
}

fn take_bool(map: &mut Map<String, Value>, key: &str, field: &str) -> Result<bool, StateReadError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(field_error(&format!("{field}.{key}"), "true or false")),
    }
}

fn resource(raw: Value, field: &str) -> Result<ResourceState, StateReadError> {
    let Value::Object(mut r) = raw else {
        return Err(field_error(field, "an object"));
    };
    let module = take_string(&mut r, "module", &format!("{field}.module"))?.filter(|m| !m.is_empty());
    let mode = match take_string(&mut r, "mode", &format!("{field}.mode"))?.as_deref() {
        Some("managed") => Mode::Managed,
        Some("data") => Mode::Data,
        other => {
            return Err(problem(format!(
                "The state file could not be parsed as JSON: {field}.mode is {:?}; it must be \"managed\" or \"data\".",
                other.unwrap_or("")
            )));
        }
    };
    let type_ = take_string(&mut r, "type", &format!("{field}.type"))?.unwrap_or_default();
    let name = take_string(&mut r, "name", &format!("{field}.name"))?.unwrap_or_default();
    let each = take_string(&mut r, "each", &format!("{field}.each"))?.filter(|e| !e.is_empty());
    let provider = take_string(&mut r, "provider", &format!("{field}.provider"))?.unwrap_or_default();
    let mut instances = Vec::new();
    match r.remove("instances") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, raw) in items.into_iter().enumerate() {
                instances.push(instance(raw, &format!("{field}.instances[{i}]"))?);
            }
        }
        Some(_) => return Err(field_error(&format!("{field}.instances"), "a list")),
    }
    Ok(ResourceState { module, mode, type_, name, each, provider, instances, extra: r })
}

fn instance(raw: Value, field: &str) -> Result<InstanceState, StateReadError> {
    let Value::Object(mut o) = raw else {
        return Err(field_error(field, "an object"));
    };
    let index_key = match o.remove("index_key") {
        None | Some(Value::Null) => None,
        // Go decodes JSON numbers as float64 and casts them to int.
        Some(Value::Number(n)) => Some(IndexKey::Int(n.as_i64().unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64))),
        Some(Value::String(s)) => Some(IndexKey::String(s)),
        Some(_) => return Err(field_error(&format!("{field}.index_key"), "a number or a string")),
    };
    let status = take_string(&mut o, "status", &format!("{field}.status"))?.filter(|s| !s.is_empty());
    let deposed = take_string(&mut o, "deposed", &format!("{field}.deposed"))?.filter(|s| !s.is_empty());
    let schema_version = match o.remove("schema_version") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        Some(_) => return Err(field_error(&format!("{field}.schema_version"), "a whole number")),
    };
    let mut attributes = match o.remove("attributes") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(field_error(&format!("{field}.attributes"), "an object")),
    };
    match o.remove("attributes_flat") {
        None | Some(Value::Null) => {}
        Some(Value::Object(flat)) => {
            let mut strings = BTreeMap::new();
            for (k, v) in flat {
                let Value::String(s) = v else {
                    return Err(field_error(&format!("{field}.attributes_flat.{k}"), "a string"));
                };
                strings.insert(k, s);
            }
            if attributes.is_empty() {
                attributes = unflatten(&strings);
            }
        }
        Some(_) => return Err(field_error(&format!("{field}.attributes_flat"), "an object")),
    }
    let sensitive_attributes = match o.remove("sensitive_attributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(paths)) => paths,
        Some(_) => return Err(field_error(&format!("{field}.sensitive_attributes"), "a list")),
    };
    let private = take_string(&mut o, "private", &format!("{field}.private"))?;
    let dependencies = match o.remove("dependencies") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut deps = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => deps.push(s),
                    _ => return Err(field_error(&format!("{field}.dependencies"), "a list of strings")),
                }
            }
            deps
        }
        Some(_) => return Err(field_error(&format!("{field}.dependencies"), "a list of strings")),
    };
    let create_before_destroy = take_bool(&mut o, "create_before_destroy", field)?;
    Ok(InstanceState {
        index_key,
        status,
        deposed,
        schema_version,
        attributes,
        attributes_raw: None,
        sensitive_attributes,
        private,
        dependencies,
        create_before_destroy,
        extra: o,
    })
}

/// Terraform 0.11's flat attribute map (`tags.% = "1"`, `tags.Name = "x"`,
/// `ids.# = "2"`, `ids.0 = "a"`) as nested JSON. Without the provider's
/// schema every leaf stays a string, as the flatmap stored it.
fn unflatten(flat: &BTreeMap<String, String>) -> Map<String, Value> {
    fn build(flat: &BTreeMap<String, String>, prefix: &str) -> Map<String, Value> {
        let mut out = Map::new();
        let mut seen = std::collections::BTreeSet::new();
        for key in flat.keys() {
            let Some(rest) = key.strip_prefix(prefix) else { continue };
            let head = rest.split('.').next().unwrap_or(rest);
            if head.is_empty() || !seen.insert(head.to_owned()) {
                continue;
            }
            out.insert(head.to_owned(), node(flat, &format!("{prefix}{head}")));
        }
        out
    }
    fn node(flat: &BTreeMap<String, String>, path: &str) -> Value {
        if let Some(count) = flat.get(&format!("{path}.#")) {
            let n: usize = count.parse().unwrap_or(0);
            let items = build(flat, &format!("{path}."));
            let mut list: Vec<Value> = (0..n).filter_map(|i| items.get(&i.to_string()).cloned()).collect();
            // Sets were keyed by hash rather than position.
            if list.len() < n {
                list = items.into_iter().filter(|(k, _)| k != "#").map(|(_, v)| v).collect();
            }
            return Value::Array(list);
        }
        if flat.contains_key(&format!("{path}.%")) {
            let mut map = build(flat, &format!("{path}."));
            map.remove("%");
            return Value::Object(map);
        }
        match flat.get(path) {
            Some(s) => Value::String(s.clone()),
            None => Value::Object(build(flat, &format!("{path}."))),
        }
    }
    build(flat, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text.as_bytes()).expect_err("must fail").to_string()
    }

    #[test]
    fn raw_attribute_text_is_kept_only_where_it_differs_from_the_values() {
        let text = r#"{"version":4,"terraform_version":"1.0.3","serial":1,"lineage":"l","outputs":{"a":{"value":1.50,"type":"number"},"b":{"value":"x","type":"string"}},"resources":[{"mode":"managed","type":"t","name":"n","provider":"p","instances":[{"index_key":0,"schema_version":0,"attributes":{"z":1,"a":2}},{"index_key":1,"schema_version":0,"attributes":{"a":2,"z":"<"}}]}]}"#;
        let s = parse(text.as_bytes()).expect("reads").expect("not empty");
        let instances = &s.resources[0].instances;
        assert_eq!(instances[0].attributes_raw.as_deref(), Some(r#"{"z":1,"a":2}"#), "unsorted keys are kept");
        assert_eq!(instances[1].attributes_raw, None, "sorted keys need no raw text");
        assert_eq!(s.outputs["a"].value_raw.as_deref(), Some("1.50"), "the digits as written are kept");
        assert_eq!(s.outputs["b"].value_raw, None);
        let written = s.to_json();
        assert!(written.contains("\"z\": 1,\n            \"a\": 2"), "{written}");
        assert!(written.contains("\"value\": 1.50,"), "{written}");
        assert!(written.contains("\"z\": \"\\u003c\""), "{written}");
    }

    #[test]
    fn empty_input_is_no_state() {
        assert_eq!(parse(b""), Ok(None));
    }

    #[test]
    fn corrupted_json_reads_as_terraform_reports_it() {
        assert_eq!(
            err("{\"version\": 4, \"serial\": \n"),
            "2 problems:\n\n- Unsupported state file format: The state file could not be parsed as JSON: syntax error at byte offset 26.\n- Unsupported state file format: The state file does not have a \"version\" attribute, which is required to identify the format version."
        );
    }

    #[test]
    fn newer_zero_and_missing_versions() {
        assert_eq!(
            err(r#"{"version": 5, "terraform_version":"9.0.0","serial":1,"lineage":"x"}"#),
            "Unsupported state file format: The state file uses format version 5, which is not supported by Terraform 1.0.3. This state file was created by Terraform 9.0.0."
        );
        assert!(err(r#"{"version": 0}"#).contains("has a version number of zero"));
        assert!(err(r#"{"serial": 1}"#).contains("does not have a \"version\" attribute"));
        assert!(err(r#"{"version": 4, "resources": [{"mode": "weird"}]}"#).contains("resources[0].mode"));
    }

    #[test]
    fn keeps_unknown_fields_of_every_level() {
        let text = r#"{"version":4,"terraform_version":"1.12.0","serial":2,"lineage":"l","outputs":{"o":{"value":1,"type":"number","deprecated":"use p"}},"resources":[{"mode":"managed","type":"t","name":"n","instances":[{"schema_version":0,"attributes":{},"identity_schema_version":0,"provider":"provider[\"registry.opentofu.org/hashicorp/aws\"].by_region[\"us-east-1\"]"}]}],"check_results":null,"future":{"x":1}}"#;
        let s = parse(text.as_bytes()).expect("reads").expect("not empty");
        assert_eq!(s.extra.get("future"), Some(&serde_json::json!({"x": 1})));
        assert_eq!(s.check_results, Some(Value::Null));
        assert_eq!(s.outputs["o"].extra.get("deprecated"), Some(&Value::String("use p".to_owned())));
        assert!(s.resources[0].provider.is_empty());
        assert!(s.resources[0].instances[0].extra.contains_key("identity_schema_version"));
        let again = parse(s.to_json().as_bytes()).expect("reads").expect("not empty");
        assert_eq!(again, s);
        assert!(!s.to_json().contains("\"provider\": \"\""));
    }

    #[test]
    fn converts_attributes_flat() {
        let text = r#"{"version":4,"serial":1,"lineage":"l","resources":[{"mode":"managed","type":"t","name":"n","each":"list","provider":"provider.aws","instances":[{"index_key":0,"schema_version":0,"attributes_flat":{"id":"i-1","tags.%":"1","tags.Name":"web","ids.#":"2","ids.0":"a","ids.1":"b"}}]}]}"#;
        let s = parse(text.as_bytes()).expect("reads").expect("not empty");
        let attrs = &s.resources[0].instances[0].attributes;
        assert_eq!(
            Value::Object(attrs.clone()),
            serde_json::json!({"id": "i-1", "tags": {"Name": "web"}, "ids": ["a", "b"]})
        );
        assert_eq!(s.resources[0].each.as_deref(), Some("list"));
        assert_eq!(s.resources[0].instances[0].index_key, Some(IndexKey::Int(0)));
    }
}
