//! `terraform_data` (Terraform's built-in provider) and `null_resource`
//! (hashicorp/null), with the attributes and id formats of the originals:
//! `terraform_data`'s id is a UUID and its `output` follows `input`;
//! `null_resource`'s id is a random non-negative 63-bit decimal.

use crate::decode::Mode;
use crate::value::{Type, Value};

use super::{Attr, PlannedChange, Provider, ProviderError, Schema, SharedRng, get, set};

fn uuid_from(rng: &SharedRng) -> String {
    let mut b = rng.lock().map(|mut r| r.bytes(16)).unwrap_or_else(|_| vec![0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A random UUID (version 4) from the injected generator.
pub fn random_uuid(rng: &SharedRng) -> String {
    uuid_from(rng)
}

/// Terraform's built-in `terraform_data`.
#[derive(Debug)]
pub struct Terraform {
    rng: SharedRng,
    data: Schema,
    remote_state: Schema,
}

impl Terraform {
    pub fn new(rng: SharedRng) -> Terraform {
        Terraform {
            rng,
            data: Schema::new(vec![
                Attr::computed("id", Type::String),
                Attr::optional("input", Type::Dynamic),
                Attr::computed("output", Type::Dynamic),
                Attr::optional("triggers_replace", Type::Dynamic),
            ]),
            remote_state: Schema::new(vec![Attr::required("backend", Type::String)]),
        }
    }
}

impl Provider for Terraform {
    fn name(&self) -> &'static str {
        "terraform"
    }
    fn source(&self) -> &'static str {
        "terraform.io/builtin/terraform"
    }
    fn schema(&self, mode: Mode, type_name: &str) -> Option<&Schema> {
        match (mode, type_name) {
            (Mode::Managed, "terraform_data") => Some(&self.data),
            (Mode::Data, "terraform_remote_state") => Some(&self.remote_state),
            _ => None,
        }
    }
    fn plan_change(
        &self,
        _type_name: &str,
        prior: Option<&Value>,
        config: &Value,
    ) -> Result<PlannedChange, ProviderError> {
        let input = get(config, "input").cloned().unwrap_or(Value::Null(Type::Dynamic));
        let trigger = get(config, "triggers_replace").cloned().unwrap_or(Value::Null(Type::Dynamic));
        let mut planned = config.clone();
        let fresh_output = if input.is_null() { input.clone() } else { Value::Unknown(input.ty()) };
        let mut requires_replace = Vec::new();
        match prior {
            None => {
                set(&mut planned, "id", Value::Unknown(Type::String));
                set(&mut planned, "output", fresh_output);
            }
            Some(prior) => {
                set(&mut planned, "id", get(prior, "id").cloned().unwrap_or(Value::Unknown(Type::String)));
                set(&mut planned, "output", get(prior, "output").cloned().unwrap_or(Value::Null(Type::Dynamic)));
                let prior_trigger = get(prior, "triggers_replace").cloned().unwrap_or(Value::Null(Type::Dynamic));
                let prior_input = get(prior, "input").cloned().unwrap_or(Value::Null(Type::Dynamic));
                if !prior_trigger.clone().unmark_deep().0.raw_equal(&trigger.clone().unmark_deep().0) {
                    requires_replace.push("triggers_replace".to_owned());
                    set(&mut planned, "id", Value::Unknown(Type::String));
                    set(&mut planned, "output", fresh_output);
                } else if !prior_input.clone().unmark_deep().0.raw_equal(&input.clone().unmark_deep().0) {
                    set(&mut planned, "output", Value::Unknown(input.ty()));
                }
            }
        }
        Ok(PlannedChange { planned, requires_replace })
    }
    fn apply(
        &self,
        _type_name: &str,
        _prior: Option<&Value>,
        planned: Option<&Value>,
    ) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = planned else { return Ok(None) };
        let mut new = planned.clone();
        if get(&new, "id").is_none_or(Value::is_unknown) {
            set(&mut new, "id", Value::string(uuid_from(&self.rng)));
        }
        let input = get(&new, "input").cloned().unwrap_or(Value::Null(Type::Dynamic));
        set(&mut new, "output", input);
        Ok(Some(new))
    }
    fn read_data(&self, type_name: &str, _config: &Value) -> Result<Value, ProviderError> {
        Err(ProviderError::new(
            "Unsupported data source",
            format!("The data source {type_name:?} is not available in cloudlet yet."),
        ))
    }
    fn import(&self, _type_name: &str, id: &str) -> Result<Value, ProviderError> {
        Ok(Value::Object(
            [
                ("id".to_owned(), Value::string(id)),
                ("input".to_owned(), Value::Null(Type::Dynamic)),
                ("output".to_owned(), Value::Null(Type::Dynamic)),
                ("triggers_replace".to_owned(), Value::Null(Type::Dynamic)),
            ]
            .into(),
        ))
    }
}

/// hashicorp/null's `null_resource`.
#[derive(Debug)]
pub struct Null {
    rng: SharedRng,
    resource: Schema,
}

impl Null {
    pub fn new(rng: SharedRng) -> Null {
        Null {
            rng,
            resource: Schema::new(vec![
                Attr::computed("id", Type::String),
                Attr::optional("triggers", Type::Map(Box::new(Type::String))).force_new(),
            ]),
        }
    }
}

impl Provider for Null {
    fn name(&self) -> &'static str {
        "null"
    }
    fn source(&self) -> &'static str {
        "registry.terraform.io/hashicorp/null"
    }
    fn schema(&self, mode: Mode, type_name: &str) -> Option<&Schema> {
        (mode == Mode::Managed && type_name == "null_resource").then_some(&self.resource)
    }
    fn apply(
        &self,
        _type_name: &str,
        _prior: Option<&Value>,
        planned: Option<&Value>,
    ) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = planned else { return Ok(None) };
        let mut new = planned.clone();
        if get(&new, "id").is_none_or(Value::is_unknown) {
            let n = self.rng.lock().map(|mut r| r.next_u64() >> 1).unwrap_or(0);
            set(&mut new, "id", Value::string(n.to_string()));
        }
        Ok(Some(new))
    }
    fn import(&self, _type_name: &str, id: &str) -> Result<Value, ProviderError> {
        Ok(Value::Object(
            [
                ("id".to_owned(), Value::string(id)),
                ("triggers".to_owned(), Value::Null(Type::Map(Box::new(Type::String)))),
            ]
            .into(),
        ))
    }
}
