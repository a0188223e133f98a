//! Providers, in-process: each is a [`Provider`] with a schema per
//! resource type and the calls Terraform's plugin protocol has
//! (`validate`, `plan_change`, `apply`, `read`, `read_data`, `import`),
//! over cloudlet's own values. Nothing is downloaded and there is no
//! plugin process; a provider that talks to a service (the `aws` subset
//! talking to the cloudlet daemon over HTTP) implements the same trait.
//!
//! Randomness comes from an injected, seeded [`Rng`], so every plan and
//! apply in a test replays.

pub mod aws;
pub mod builtin;
pub mod local;
pub mod random;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::decode::Mode;
use crate::value::{Type, Value};

/// One attribute of a resource type's schema.
#[derive(Debug, Clone)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    /// Set by the provider (when not given, or always when not optional).
    pub computed: bool,
    pub optional: bool,
    pub sensitive: bool,
    /// A change forces replacement.
    pub force_new: bool,
    /// The value planned when the configuration leaves it unset.
    pub default: Option<Value>,
    /// Written as nested blocks (`environment { ... }`) of this schema's
    /// attributes; the value is a list of their objects.
    pub block: Option<Box<Schema>>,
}

impl Attr {
    pub fn required(name: &'static str, ty: Type) -> Attr {
        Attr {
            name,
            ty,
            required: true,
            computed: false,
            optional: false,
            sensitive: false,
            force_new: false,
            default: None,
            block: None,
        }
    }
    pub fn optional(name: &'static str, ty: Type) -> Attr {
        Attr { optional: true, required: false, ..Attr::required(name, ty) }
    }
    pub fn computed(name: &'static str, ty: Type) -> Attr {
        Attr { computed: true, required: false, ..Attr::required(name, ty) }
    }
    /// Changing the attribute replaces the object.
    pub fn force_new(mut self) -> Attr {
        self.force_new = true;
        self
    }
    pub fn sensitive(mut self) -> Attr {
        self.sensitive = true;
        self
    }
    /// Optional with a default (planned when unset).
    pub fn default(mut self, v: Value) -> Attr {
        self.optional = true;
        self.computed = true;
        self.required = false;
        self.default = Some(v);
        self
    }
    /// A nested block type (`name { ... }`, any number of them), its
    /// value a list of objects of `inner`; none written is an empty list.
    pub fn block(name: &'static str, inner: Schema) -> Attr {
        let ty = Type::List(Box::new(inner.object_type()));
        let empty = Value::List(inner.object_type(), Vec::new());
        Attr { block: Some(Box::new(inner)), default: Some(empty), ..Attr::optional(name, ty) }
    }
    /// Optional and computed when unset.
    pub fn optional_computed(mut self) -> Attr {
        self.optional = true;
        self.computed = true;
        self.required = false;
        self
    }
}

/// A resource type's or data source's attributes.
#[derive(Debug, Clone)]
pub struct Schema {
    pub attrs: Vec<Attr>,
    pub version: u64,
}

impl Schema {
    pub fn new(attrs: Vec<Attr>) -> Schema {
        Schema { attrs, version: 0 }
    }

    /// The object type of a whole object.
    pub fn object_type(&self) -> Type {
        Type::Object(self.attrs.iter().map(|a| (a.name.to_owned(), a.ty.clone())).collect())
    }

    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// What a planned change looks like: the planned new object (with
/// unknowns for what the apply decides) and the attributes whose change
/// forces a replacement.
#[derive(Debug, Clone)]
pub struct PlannedChange {
    pub planned: Value,
    pub requires_replace: Vec<String>,
}

/// A provider call failed: the summary and detail Terraform would print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub summary: String,
    pub detail: String,
}

impl ProviderError {
    pub fn new(summary: impl Into<String>, detail: impl Into<String>) -> ProviderError {
        ProviderError { summary: summary.into(), detail: detail.into() }
    }
}

/// A provider's operations. `prior` and `planned` are whole objects of
/// the schema's object type.
pub trait Provider: Send + Sync {
    /// The local name (`null`, `random`, `terraform`).
    fn name(&self) -> &'static str;
    /// The provider's source address as state records it
    /// (`registry.terraform.io/hashicorp/null`).
    fn source(&self) -> &'static str;
    /// The schema of a resource type or data source, if the provider has it.
    fn schema(&self, mode: Mode, type_name: &str) -> Option<&Schema>;
    /// Checks a configuration beyond its types (values known only).
    fn validate(&self, _type_name: &str, _config: &Value) -> Result<(), ProviderError> {
        Ok(())
    }
    /// Plans the change from `prior` (None: create) to `config`.
    fn plan_change(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        config: &Value,
    ) -> Result<PlannedChange, ProviderError> {
        let schema = self.schema(Mode::Managed, type_name).ok_or_else(|| {
            ProviderError::new(
                "Invalid resource type",
                format!("The provider does not support resource type {type_name:?}."),
            )
        })?;
        Ok(plan_from_schema(schema, prior, config))
    }
    /// Carries a planned change out: `planned` None destroys.
    fn apply(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        planned: Option<&Value>,
    ) -> Result<Option<Value>, ProviderError>;
    /// Reads the object's current state (None: it is gone).
    fn read(&self, _type_name: &str, state: &Value) -> Result<Option<Value>, ProviderError> {
        Ok(Some(state.clone()))
    }
    /// Reads a data source.
    fn read_data(&self, type_name: &str, _config: &Value) -> Result<Value, ProviderError> {
        Err(ProviderError::new(
            "Invalid data source",
            format!("The provider does not support data source {type_name:?}."),
        ))
    }
    /// Imports an existing object by its id.
    fn import(&self, type_name: &str, _id: &str) -> Result<Value, ProviderError> {
        Err(ProviderError::new(
            "Resource Import Not Implemented",
            format!(
                "This resource does not support import. Please contact the provider developer for additional information. Resource type: {type_name}."
            ),
        ))
    }
}

/// The attribute named `name` of an object value.
pub fn get<'v>(obj: &'v Value, name: &str) -> Option<&'v Value> {
    match obj.unmarked() {
        Value::Object(m) => m.get(name).map(Value::unmarked),
        _ => None,
    }
}

/// A string attribute (known, not null).
pub fn get_str<'v>(obj: &'v Value, name: &str) -> Option<&'v str> {
    get(obj, name).and_then(Value::as_str)
}

/// An integer attribute (known, not null).
pub fn get_i64(obj: &Value, name: &str) -> Option<i64> {
    get(obj, name).and_then(Value::as_number).and_then(crate::number::Number::to_i64_exact)
}

/// A bool attribute (known, not null).
pub fn get_bool(obj: &Value, name: &str) -> Option<bool> {
    get(obj, name).and_then(Value::as_bool)
}

/// Sets attribute `name` of an object value.
pub fn set(obj: &mut Value, name: &str, v: Value) {
    if let Value::Object(m) = obj {
        m.insert(name.to_owned(), v);
    }
}

fn same(a: &Value, b: &Value) -> bool {
    a.clone().unmark_deep().0.raw_equal(&b.clone().unmark_deep().0)
}

/// The plan every schema-driven resource gets: configured attributes as
/// given, defaults for unset ones, computed ones kept from the prior
/// object (or unknown when created or replaced), and replacement when a
/// `force_new` attribute changes.
pub fn plan_from_schema(schema: &Schema, prior: Option<&Value>, config: &Value) -> PlannedChange {
    let mut requires_replace = Vec::new();
    if let Some(prior) = prior {
        for a in &schema.attrs {
            if !a.force_new {
                continue;
            }
            let c = get(config, a.name).cloned().unwrap_or(Value::Null(a.ty.clone()));
            let c = if c.is_null() { a.default.clone().unwrap_or(c) } else { c };
            let p = get(prior, a.name).cloned().unwrap_or(Value::Null(a.ty.clone()));
            if (!a.computed || !c.is_null()) && !same(&c, &p) {
                requires_replace.push(a.name.to_owned());
            }
        }
    }
    let replacing = !requires_replace.is_empty();
    let mut planned = BTreeMap::new();
    for a in &schema.attrs {
        let c = get(config, a.name).cloned().unwrap_or(Value::Null(a.ty.clone()));
        let v = if !c.is_null() {
            c
        } else if let Some(d) = &a.default {
            d.clone()
        } else if a.computed {
            match prior.and_then(|p| get(p, a.name)) {
                Some(p) if !replacing && !p.is_null() => p.clone(),
                _ => Value::Unknown(a.ty.clone()),
            }
        } else {
            Value::Null(a.ty.clone())
        };
        planned.insert(a.name.to_owned(), v.mark_if(a.sensitive));
    }
    PlannedChange { planned: Value::Object(planned), requires_replace }
}

/// A small seeded generator (xoshiro256**): the randomness every
/// provider takes, injected so tests replay.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 24) as u8).collect()
    }
}

/// Shared randomness for the providers of one run.
pub type SharedRng = Arc<Mutex<Rng>>;

/// Every built-in provider, by local name.
pub struct Registry {
    providers: Vec<Arc<dyn Provider>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.iter().map(|p| p.name())).finish()
    }
}

impl Registry {
    /// The built-in providers, with randomness from `seed` and files
    /// relative to `base_dir`.
    pub fn builtin(seed: u64, base_dir: &std::path::Path) -> Registry {
        Registry::configured(seed, base_dir, aws::AwsConfig::default())
    }

    /// The built-in providers with the `aws` provider's settings from its
    /// `provider "aws"` block.
    pub fn configured(seed: u64, base_dir: &std::path::Path, aws_config: aws::AwsConfig) -> Registry {
        let rng: SharedRng = Arc::new(Mutex::new(Rng::seeded(seed)));
        Registry {
            providers: vec![
                Arc::new(builtin::Terraform::new(rng.clone())),
                Arc::new(builtin::Null::new(rng.clone())),
                Arc::new(random::Random::new(rng.clone())),
                Arc::new(local::Local::new(base_dir.to_path_buf())),
                Arc::new(aws::Aws::new(aws_config, rng, base_dir.to_path_buf())),
            ],
        }
    }

    /// The provider of a resource type: `terraform_data` → `terraform`,
    /// `random_id` → `random`.
    pub fn for_type(&self, type_name: &str) -> Option<Arc<dyn Provider>> {
        let local =
            if type_name == "terraform_data" { "terraform" } else { type_name.split('_').next().unwrap_or(type_name) };
        self.providers.iter().find(|p| p.name() == local).cloned()
    }

    /// Adds (or replaces) a provider, e.g. one that talks to a service.
    pub fn add(&mut self, p: Arc<dyn Provider>) {
        self.providers.retain(|x| x.name() != p.name());
        self.providers.push(p);
    }
}

/// State's provider address for a provider source.
pub fn provider_addr(source: &str) -> String {
    format!("provider[\"{source}\"]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_rng_replays() {
        let mut a = Rng::seeded(7);
        let mut b = Rng::seeded(7);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::seeded(8).next_u64(), Rng::seeded(7).next_u64());
    }

    #[test]
    fn schema_plan_keeps_computed_and_replaces_on_force_new() {
        let s = Schema::new(vec![
            Attr::computed("id", Type::String),
            Attr::optional("keep", Type::String),
            Attr::optional("fresh", Type::String).force_new(),
        ]);
        let obj = |id: Value, keep: &str, fresh: &str| {
            Value::Object(
                [
                    ("id".to_owned(), id),
                    ("keep".to_owned(), Value::string(keep)),
                    ("fresh".to_owned(), Value::string(fresh)),
                ]
                .into(),
            )
        };
        let prior = obj(Value::string("1"), "a", "b");
        let p = plan_from_schema(&s, Some(&prior), &obj(Value::Null(Type::String), "c", "b"));
        assert!(p.requires_replace.is_empty());
        assert_eq!(get_str(&p.planned, "id"), Some("1"));
        let p = plan_from_schema(&s, Some(&prior), &obj(Value::Null(Type::String), "a", "z"));
        assert_eq!(p.requires_replace, ["fresh"]);
        assert!(get(&p.planned, "id").is_some_and(Value::is_unknown));
    }
}
