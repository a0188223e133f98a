//! Terraform's state file, format version 4: the model, reading
//! (Terraform's and OpenTofu's dialects, unknown fields kept) and writing
//! byte for byte as Terraform 1.0.3 writes it.
//!
//! This module does no I/O: it turns bytes into a [`State`] and back.
//! Where the bytes live (a file, S3, PostgreSQL) is a backend's business
//! (`crate::backend`).
//!
//! Usage for the engine:
//!
//! ```text
//! let prior = backend.read_state("default")?           // Option<State>
//!     .unwrap_or_else(|| State::new(rng_bytes));       // a fresh lineage
//! let mut next = prior.clone();
//! next.resources.push(ResourceState::managed("null_resource", "a", provider_fqn("hashicorp/null")));
//! next.resource_mut(None, Mode::Managed, "null_resource", "a")...instances.push(InstanceState::new(attrs));
//! backend.write_state("default", &next)?;              // serial bumped only if content changed
//! ```
//!
//! `State::to_json` sorts resources and instances the way Terraform does, so
//! callers may push in any order. `State::content_eq` compares two states
//! ignoring `serial` (what "the content changed" means).

pub mod addr;
mod json;
mod read;
pub mod render;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub(crate) use json::{write_string as json_string, write_value as json_write};
pub use read::{StateReadError, parse};

/// The Terraform version cloudlet writes into states and lock infos: the
/// version whose behaviour it reproduces.
pub const TERRAFORM_VERSION: &str = "1.0.3";

/// A whole state snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Read from the file (4 after an upgrade); always written as 4.
    pub version: u64,
    pub terraform_version: String,
    pub serial: u64,
    pub lineage: String,
    /// Root-module outputs by name.
    pub outputs: BTreeMap<String, OutputState>,
    pub resources: Vec<ResourceState>,
    /// Newer Terraforms' `check_results` (`null` or a list), kept as read;
    /// `None` (Terraform 1.0.3's form) leaves the field out.
    pub check_results: Option<Value>,
    /// Top-level fields this model does not know, kept and written back.
    pub extra: Map<String, Value>,
}

/// One root-module output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputState {
    pub value: Value,
    /// The cty type in its JSON form: `"string"`, `["list","string"]`,
    /// `["object",{"a":"number"}]`.
    pub type_: Value,
    pub sensitive: bool,
    /// `value`'s text as read from a file; written back as it was (key
    /// order, digits) while `value` still equals it, as Terraform does.
    pub value_raw: Option<String>,
    /// OpenTofu's `deprecated` and anything else unknown.
    pub extra: Map<String, Value>,
}

/// `managed` (a `resource` block) or `data` (a `data` block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    Managed,
    Data,
}

impl Mode {
    /// The word the state file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Managed => "managed",
            Mode::Data => "data",
        }
    }
}

/// One resource (all its instances).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceState {
    /// The module instance path (`module.a["x"].module.b[0]`); `None` for
    /// the root module.
    pub module: Option<String>,
    pub mode: Mode,
    pub type_: String,
    pub name: String,
    /// Legacy `each` (`"list"` or `"map"`), kept when an old state has it.
    pub each: Option<String>,
    /// The absolute provider configuration:
    /// `provider["registry.terraform.io/hashicorp/null"]`,
    /// `module.m.provider["registry.terraform.io/hashicorp/aws"].west`.
    /// Empty when an OpenTofu state leaves it out (instances carry theirs).
    pub provider: String,
    pub instances: Vec<InstanceState>,
    pub extra: Map<String, Value>,
}

/// A `count` index or a `for_each` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexKey {
    Int(i64),
    String(String),
}

impl std::fmt::Display for IndexKey {
    /// The key as an address writes it: `[0]`, `["a"]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexKey::Int(i) => write!(f, "[{i}]"),
            IndexKey::String(s) => {
                let mut quoted = String::new();
                json::write_string(&mut quoted, s);
                // Go's %q and HCL both leave <, > and & alone.
                let quoted = quoted.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&");
                write!(f, "[{quoted}]")
            }
        }
    }
}

/// One object of a resource: the current object of an instance, or a
/// deposed one (create-before-destroy) when `deposed` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceState {
    pub index_key: Option<IndexKey>,
    /// `Some("tainted")` for a tainted object; `None` when ready.
    pub status: Option<String>,
    /// The 8-hex deposed key.
    pub deposed: Option<String>,
    pub schema_version: u64,
    /// The object's attributes (an old state's `attributes_flat` is
    /// converted into this on read).
    pub attributes: Map<String, Value>,
    /// `attributes`' text as read from a file; written back as it was (key
    /// order, digits) while `attributes` still equals it, as Terraform
    /// writes back objects it did not change. Leave `None` when building.
    pub attributes_raw: Option<String>,
    /// Paths into `attributes` that are sensitive, each a list of steps
    /// `{"type":"get_attr","value":"password"}` / `{"type":"index","value":0}`.
    pub sensitive_attributes: Vec<Value>,
    /// Provider-private data, base64 as in the file.
    pub private: Option<String>,
    /// Config addresses this object depends on (`aws_vpc.main`).
    pub dependencies: Vec<String>,
    pub create_before_destroy: bool,
    /// OpenTofu's instance `provider`, `depends_on`, newer Terraforms'
    /// `identity*`, and anything else unknown.
    pub extra: Map<String, Value>,
}

impl Default for State {
    /// An empty state without a lineage yet; prefer [`State::new`], which
    /// makes one (a state written without a lineage keeps the lineage of
    /// the snapshot it replaces).
    fn default() -> State {
        State {
            version: 4,
            terraform_version: TERRAFORM_VERSION.to_owned(),
            serial: 0,
            lineage: String::new(),
            outputs: BTreeMap::new(),
            resources: Vec::new(),
            check_results: None,
            extra: Map::new(),
        }
    }
}

impl State {
    /// An empty state with a new lineage made from 16 random bytes (the
    /// caller's randomness, so tests are repeatable).
    pub fn new(random: [u8; 16]) -> State {
        State {
            version: 4,
            terraform_version: TERRAFORM_VERSION.to_owned(),
            serial: 0,
            lineage: uuid::Builder::from_random_bytes(random).into_uuid().to_string(),
            outputs: BTreeMap::new(),
            resources: Vec::new(),
            check_results: None,
            extra: Map::new(),
        }
    }

    /// No resources and no outputs (what `workspace delete` and
    /// `state push` treat as empty).
    pub fn is_empty(&self) -> bool {
        self.resources.iter().all(|r| r.instances.is_empty()) && self.outputs.is_empty()
    }

    /// Whether any resource has an instance (what `workspace delete`
    /// refuses to lose without `-force`).
    pub fn has_resources(&self) -> bool {
        self.resources.iter().any(|r| !r.instances.is_empty())
    }

    /// Equal apart from `serial` and `terraform_version`: the test for
    /// "the content changed" that decides whether a write bumps `serial`.
    pub fn content_eq(&self, other: &State) -> bool {
        self.render(0, "") == other.render(0, "")
    }

    /// The resource with this address, if any.
    pub fn resource(&self, module: Option<&str>, mode: Mode, type_: &str, name: &str) -> Option<&ResourceState> {
        self.resources
            .iter()
            .find(|r| r.module.as_deref() == module && r.mode == mode && r.type_ == type_ && r.name == name)
    }

    /// The resource with this address, made (with `provider`) if missing.
    pub fn resource_mut(
        &mut self,
        module: Option<&str>,
        mode: Mode,
        type_: &str,
        name: &str,
        provider: &str,
    ) -> &mut ResourceState {
        let found = self
            .resources
            .iter()
            .position(|r| r.module.as_deref() == module && r.mode == mode && r.type_ == type_ && r.name == name);
        let index = match found {
            Some(i) => i,
            None => {
                self.resources.push(ResourceState {
                    module: module.map(str::to_owned),
                    mode,
                    type_: type_.to_owned(),
                    name: name.to_owned(),
                    each: None,
                    provider: provider.to_owned(),
                    instances: Vec::new(),
                    extra: Map::new(),
                });
                self.resources.len() - 1
            }
        };
        &mut self.resources[index]
    }

    /// Resources and their instances in Terraform's order: by module, mode
    /// (`data` before `managed`), type and name; instances without a key
    /// first, then integer keys, then string keys, then by deposed key.
    pub fn normalize(&mut self) {
        self.resources.sort_by(resource_order);
        for r in &mut self.resources {
            r.instances.sort_by(instance_order);
        }
    }

    /// The state file's bytes as Terraform 1.0.3 writes them: sorted,
    /// `version` 4, fields in Go's struct order, two-space indentation,
    /// a trailing newline.
    pub fn to_json(&self) -> String {
        self.render(self.serial, &self.terraform_version)
    }

    /// [`State::to_json`] with `serial` and `terraform_version` given, in
    /// Terraform's order without copying the state.
    pub(crate) fn render(&self, serial: u64, terraform_version: &str) -> String {
        let sorted = self;
        let mut resources: Vec<&ResourceState> = self.resources.iter().collect();
        if !resources.is_sorted_by(|a, b| resource_order(a, b).is_le()) {
            resources.sort_by(|a, b| resource_order(a, b));
        }
        let instances: usize = self.resources.iter().map(|r| r.instances.len()).sum();
        let mut out = String::with_capacity(256 + 1024 * instances);
        let mut top = json::ObjectWriter::new(&mut out, 0);
        top.u64_field("version", 4);
        top.str_field("terraform_version", terraform_version);
        top.u64_field("serial", serial);
        top.str_field("lineage", &sorted.lineage);
        {
            let (out, depth) = top.key("outputs");
            let mut outputs = json::ObjectWriter::new(out, depth);
            for (name, output) in &sorted.outputs {
                let (out, depth) = outputs.key(name);
                let mut o = json::ObjectWriter::new(out, depth);
                match &output.value_raw {
                    Some(raw) if serde_json::from_str::<Value>(raw).is_ok_and(|v| v == output.value) => {
                        let (out, depth) = o.key("value");
                        json::write_raw_indented(out, raw, depth);
                    }
                    _ => o.field("value", &output.value),
                }
                o.field("type", &output.type_);
                if output.sensitive {
                    o.field("sensitive", &Value::Bool(true));
                }
                for (k, v) in &output.extra {
                    o.field(k, v);
                }
                o.finish();
            }
            outputs.finish();
        }
        {
            let (out, depth) = top.key("resources");
            write_resources(out, depth, &resources);
        }
        if let Some(check_results) = &sorted.check_results {
            top.field("check_results", check_results);
        }
        for (k, v) in &sorted.extra {
            top.field(k, v);
        }
        top.finish();
        out.push('\n');
        out
    }
}

/// Terraform's resource order: by module, mode (`data` before `managed`),
/// type and name.
fn resource_order(a: &ResourceState, b: &ResourceState) -> std::cmp::Ordering {
    (a.module.as_deref().unwrap_or_default(), a.mode.as_str(), &a.type_, &a.name).cmp(&(
        b.module.as_deref().unwrap_or_default(),
        b.mode.as_str(),
        &b.type_,
        &b.name,
    ))
}

/// Terraform's instance order: no key first, then integer keys, then
/// string keys, then by deposed key.
fn instance_order(a: &InstanceState, b: &InstanceState) -> std::cmp::Ordering {
    let rank = |k: &Option<IndexKey>| match k {
        None => 0,
        Some(IndexKey::Int(_)) => 1,
        Some(IndexKey::String(_)) => 2,
    };
    rank(&a.index_key)
        .cmp(&rank(&b.index_key))
        .then_with(|| a.index_key.cmp(&b.index_key))
        .then_with(|| a.deposed.cmp(&b.deposed))
}

fn write_resources(out: &mut String, depth: usize, resources: &[&ResourceState]) {
    if resources.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push('[');
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_newline(out, depth + 1);
        let mut o = json::ObjectWriter::new(out, depth + 1);
        if let Some(module) = &r.module {
            o.str_field("module", module);
        }
        o.str_field("mode", r.mode.as_str());
        o.str_field("type", &r.type_);
        o.str_field("name", &r.name);
        if let Some(each) = &r.each {
            o.str_field("each", each);
        }
        // OpenTofu leaves `provider` out when instances carry their own.
        if !r.provider.is_empty() {
            o.str_field("provider", &r.provider);
        }
        {
            let (out, depth) = o.key("instances");
            let mut instances: Vec<&InstanceState> = r.instances.iter().collect();
            if !instances.is_sorted_by(|a, b| instance_order(a, b).is_le()) {
                instances.sort_by(|a, b| instance_order(a, b));
            }
            write_instances(out, depth, &instances);
        }
        for (k, v) in &r.extra {
            o.field(k, v);
        }
        o.finish();
    }
    push_newline(out, depth);
    out.push(']');
}

fn write_instances(out: &mut String, depth: usize, instances: &[&InstanceState]) {
    if instances.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push('[');
    for (i, inst) in instances.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_newline(out, depth + 1);
        let mut o = json::ObjectWriter::new(out, depth + 1);
        match &inst.index_key {
            Some(IndexKey::Int(k)) => o.field("index_key", &Value::from(*k)),
            Some(IndexKey::String(k)) => o.str_field("index_key", k),
            None => {}
        }
        if let Some(status) = &inst.status {
            o.str_field("status", status);
        }
        if let Some(deposed) = &inst.deposed {
            o.str_field("deposed", deposed);
        }
        o.u64_field("schema_version", inst.schema_version);
        {
            let (out, depth) = o.key("attributes");
            match &inst.attributes_raw {
                Some(raw) if serde_json::from_str::<Map<String, Value>>(raw).is_ok_and(|m| m == inst.attributes) => {
                    json::write_raw_indented(out, raw, depth);
                }
                _ => json::write_object(out, &inst.attributes, depth),
            }
        }
        {
            let (out, depth) = o.key("sensitive_attributes");
            json::write_array(out, &inst.sensitive_attributes, depth);
        }
        if let Some(private) = &inst.private {
            o.str_field("private", private);
        }
        if !inst.dependencies.is_empty() {
            let (out, depth) = o.key("dependencies");
            json::write_str_array(out, &inst.dependencies, depth);
        }
        if inst.create_before_destroy {
            o.field("create_before_destroy", &Value::Bool(true));
        }
        for (k, v) in &inst.extra {
            o.field(k, v);
        }
        o.finish();
    }
    push_newline(out, depth);
    out.push(']');
}

fn push_newline(out: &mut String, depth: usize) {
    json::newline(out, depth);
}

impl ResourceState {
    /// The resource's address without instance key:
    /// `module.m.aws_instance.web`, `data.local_file.f`.
    pub fn address(&self) -> String {
        let mut out = String::new();
        if let Some(m) = &self.module {
            out.push_str(m);
            out.push('.');
        }
        if self.mode == Mode::Data {
            out.push_str("data.");
        }
        out.push_str(&self.type_);
        out.push('.');
        out.push_str(&self.name);
        out
    }

    /// The address of one of its instances (`aws_instance.web[0]`).
    pub fn instance_address(&self, key: Option<&IndexKey>) -> String {
        match key {
            Some(k) => format!("{}{k}", self.address()),
            None => self.address(),
        }
    }
}

impl InstanceState {
    /// A ready object with these attributes and everything else empty.
    pub fn new(index_key: Option<IndexKey>, attributes: Map<String, Value>) -> InstanceState {
        InstanceState {
            index_key,
            status: None,
            deposed: None,
            schema_version: 0,
            attributes,
            attributes_raw: None,
            sensitive_attributes: Vec::new(),
            private: None,
            dependencies: Vec::new(),
            create_before_destroy: false,
            extra: Map::new(),
        }
    }
}

/// `provider["registry.terraform.io/<namespace>/<type>"]` for a root-module
/// provider configuration without alias, e.g. `provider_config("hashicorp/null")`.
pub fn provider_config(namespace_and_type: &str) -> String {
    format!("provider[\"registry.terraform.io/{namespace_and_type}\"]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut s = State::new([7; 16]);
        s.serial = 3;
        let p = provider_config("hashicorp/null");
        let mut attrs = Map::new();
        attrs.insert("id".to_owned(), Value::String("1".to_owned()));
        s.resource_mut(Some("module.b"), Mode::Managed, "null_resource", "x", &p)
            .instances
            .push(InstanceState::new(None, attrs.clone()));
        let r = s.resource_mut(None, Mode::Managed, "null_resource", "a", &p);
        r.instances.push(InstanceState::new(Some(IndexKey::String("k".to_owned())), attrs.clone()));
        r.instances.push(InstanceState::new(Some(IndexKey::Int(10)), attrs.clone()));
        r.instances.push(InstanceState::new(Some(IndexKey::Int(2)), attrs.clone()));
        s.resource_mut(None, Mode::Data, "local_file", "f", &provider_config("hashicorp/local"))
            .instances
            .push(InstanceState::new(None, attrs));
        s
    }

    #[test]
    fn new_state_has_a_v4_lineage_from_the_given_bytes() {
        let s = State::new([0xab; 16]);
        assert_eq!(s.lineage, "abababab-abab-4bab-abab-abababababab");
        assert_eq!(s.serial, 0);
        assert!(s.is_empty());
    }

    #[test]
    fn writes_sorted_like_terraform() {
        let text = sample().to_json();
        let back = parse(text.as_bytes()).expect("reads its own output").expect("not empty");
        let addrs: Vec<String> = back
            .resources
            .iter()
            .flat_map(|r| r.instances.iter().map(|i| r.instance_address(i.index_key.as_ref())))
            .collect();
        assert_eq!(
            addrs,
            [
                "data.local_file.f",
                "null_resource.a[2]",
                "null_resource.a[10]",
                "null_resource.a[\"k\"]",
                "module.b.null_resource.x"
            ]
        );
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\n      \"instances\": [\n        {\n          \"schema_version\": 0,\n"));
    }

    #[test]
    fn round_trips_byte_for_byte() {
        let text = sample().to_json();
        let back = parse(text.as_bytes()).expect("reads").expect("not empty");
        assert_eq!(back.to_json(), text);
    }

    #[test]
    fn content_eq_ignores_serial_only() {
        let a = sample();
        let mut b = a.clone();
        b.serial += 5;
        assert!(a.content_eq(&b));
        b.outputs.insert(
            "x".to_owned(),
            OutputState {
                value: Value::Bool(true),
                type_: Value::String("bool".to_owned()),
                sensitive: false,
                value_raw: None,
                extra: Map::new(),
            },
        );
        assert!(!a.content_eq(&b));
    }
}
