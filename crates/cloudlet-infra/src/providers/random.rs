//! hashicorp/random: `random_id`, `random_string`, `random_password`
//! (its `result` and `bcrypt_hash` sensitive), `random_integer`,
//! `random_pet`, `random_uuid` and `random_shuffle`, with the attributes,
//! defaults and id formats of the real provider. Every attribute the user
//! sets forces a replacement (as in the real provider); `keepers` is the
//! usual way to ask for one.

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::decode::Mode;
use crate::number::Number;
use crate::value::{Type, Value};

use super::{Attr, Provider, ProviderError, Schema, SharedRng, get, get_bool, get_i64, get_str, set};

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NUMERIC: &str = "0123456789";
const SPECIAL: &str = "!@#$%&*()-_=+[]{}<>:?";

const ADVERBS: &[&str] = &[
    "abnormally",
    "actually",
    "adequately",
    "badly",
    "barely",
    "boldly",
    "briefly",
    "calmly",
    "carefully",
    "centrally",
    "cleanly",
    "closely",
    "correctly",
    "deeply",
    "eagerly",
    "easily",
    "evenly",
    "fairly",
    "finally",
    "firmly",
    "freely",
    "gently",
    "gladly",
    "greatly",
    "happily",
    "highly",
    "honestly",
    "jointly",
    "kindly",
    "largely",
    "lightly",
    "loudly",
    "mainly",
    "mildly",
    "mostly",
    "neatly",
    "nicely",
    "openly",
    "partly",
    "politely",
    "quickly",
    "quietly",
    "rarely",
    "really",
    "simply",
    "slowly",
    "smoothly",
    "solely",
    "strongly",
    "surely",
    "vastly",
    "wholly",
    "widely",
    "wisely",
];
const ADJECTIVES: &[&str] = &[
    "able", "active", "adapted", "amazed", "amused", "apt", "awake", "balanced", "big", "bold", "brave", "bright",
    "calm", "capable", "careful", "casual", "charming", "clean", "clever", "cool", "cosmic", "crisp", "dear", "decent",
    "eager", "easy", "equal", "exact", "fair", "famous", "fast", "fine", "firm", "fit", "fluent", "free", "fresh",
    "funny", "gentle", "glad", "golden", "good", "grand", "great", "happy", "hardy", "helpful", "honest", "huge",
    "humble", "ideal", "immense", "joint", "keen", "key", "kind", "large", "lasting", "legal", "lenient", "live",
    "loved", "loyal", "lucky", "magical", "main", "massive", "measured", "merry", "modest", "moral", "neat", "next",
    "nice", "noble", "normal", "open", "optimal", "patient", "perfect", "polite", "precise", "present", "proper",
    "proud", "quick", "quiet", "rapid", "rare", "ready", "real", "regular", "renewed", "rich", "right", "robust",
    "safe", "settled", "sharp", "simple", "smart", "smooth", "solid", "special", "stable", "steady", "strong", "super",
    "sure", "sweet", "teaching", "tender", "tidy", "together", "touched", "true", "trusted", "up", "usable", "valid",
    "vast", "verified", "vital", "warm", "wanted", "welcome", "well", "whole", "wise", "witty", "worthy",
];
const NAMES: &[&str] = &[
    "aardvark", "albacore", "alpaca", "anchovy", "ant", "antelope", "ape", "badger", "barnacle", "bass", "bat", "bear",
    "beetle", "bee", "bird", "bison", "boa", "bobcat", "buck", "buffalo", "bug", "bull", "camel", "cat", "cattle",
    "chicken", "chipmunk", "cicada", "clam", "cobra", "cod", "collie", "colt", "condor", "coral", "cougar", "cow",
    "coyote", "crab", "crane", "cricket", "crow", "deer", "dingo", "dodo", "dog", "dolphin", "donkey", "dove",
    "dragon", "duck", "eagle", "eel", "egret", "elephant", "elk", "emu", "falcon", "ferret", "finch", "fish",
    "flamingo", "fly", "fox", "frog", "gator", "gecko", "gibbon", "giraffe", "gnu", "goat", "goose", "gopher",
    "gorilla", "grouse", "gull", "hare", "hawk", "hen", "heron", "hog", "horse", "hound", "husky", "ibex", "iguana",
    "impala", "jackal", "jaguar", "jay", "kid", "kite", "kiwi", "koala", "krill", "lamb", "lark", "lemming", "lion",
    "lizard", "llama", "lobster", "locust", "lynx", "macaw", "mako", "mammal", "mantis", "marlin", "mastiff", "mink",
    "mole", "monkey", "moose", "moth", "mouse", "mule", "mustang", "newt", "ocelot", "octopus", "orca", "osprey",
    "ostrich", "otter", "owl", "ox", "oyster", "panda", "panther", "parrot", "pelican", "penguin", "pig", "pigeon",
    "pika", "piranha", "pony", "poodle", "porpoise", "possum", "prawn", "puma", "python", "quail", "rabbit", "raccoon",
    "ram", "rat", "raven", "reindeer", "rhino", "robin", "salmon", "seal", "shark", "sheep", "shrew", "skink", "skunk",
    "sloth", "snail", "snake", "sparrow", "spider", "squid", "stallion", "stork", "swan", "tapir", "termite", "tiger",
    "toad", "trout", "tuna", "turkey", "turtle", "unicorn", "viper", "vulture", "walrus", "wasp", "weasel", "whale",
    "wolf", "wombat", "worm", "yak", "zebra",
];

fn keepers() -> Attr {
    Attr::optional("keepers", Type::Map(Box::new(Type::String))).force_new()
}

fn string_schema(password: bool) -> Schema {
    let t = Value::Bool(true);
    let zero = Value::int(0);
    let mut attrs = vec![
        Attr::computed("id", Type::String),
        keepers(),
        Attr::required("length", Type::Number).force_new(),
        Attr::optional("lower", Type::Bool).default(t.clone()).force_new(),
        Attr::optional("min_lower", Type::Number).default(zero.clone()).force_new(),
        Attr::optional("min_numeric", Type::Number).default(zero.clone()).force_new(),
        Attr::optional("min_special", Type::Number).default(zero.clone()).force_new(),
        Attr::optional("min_upper", Type::Number).default(zero).force_new(),
        Attr::optional("number", Type::Bool).default(t.clone()).force_new(),
        Attr::optional("numeric", Type::Bool).default(t.clone()).force_new(),
        Attr::optional("override_special", Type::String).force_new(),
        Attr::optional("special", Type::Bool).default(t.clone()).force_new(),
        Attr::optional("upper", Type::Bool).default(t).force_new(),
    ];
    if password {
        attrs.push(Attr::computed("result", Type::String).sensitive());
        attrs.push(Attr::computed("bcrypt_hash", Type::String).sensitive());
    } else {
        attrs.push(Attr::computed("result", Type::String));
    }
    Schema::new(attrs)
}

/// hashicorp/random.
#[derive(Debug)]
pub struct Random {
    rng: SharedRng,
    schemas: BTreeMap<&'static str, Schema>,
}

impl Random {
    pub fn new(rng: SharedRng) -> Random {
        let mut schemas = BTreeMap::new();
        schemas.insert(
            "random_id",
            Schema::new(vec![
                Attr::computed("id", Type::String),
                keepers(),
                Attr::required("byte_length", Type::Number).force_new(),
                Attr::optional("prefix", Type::String).force_new(),
                Attr::computed("b64_url", Type::String),
                Attr::computed("b64_std", Type::String),
                Attr::computed("hex", Type::String),
                Attr::computed("dec", Type::String),
            ]),
        );
        schemas.insert("random_string", string_schema(false));
        schemas.insert("random_password", string_schema(true));
        schemas.insert(
            "random_integer",
            Schema::new(vec![
                Attr::computed("id", Type::String),
                keepers(),
                Attr::required("min", Type::Number).force_new(),
                Attr::required("max", Type::Number).force_new(),
                Attr::optional("seed", Type::String).force_new(),
                Attr::computed("result", Type::Number),
            ]),
        );
        schemas.insert(
            "random_pet",
            Schema::new(vec![
                Attr::computed("id", Type::String),
                keepers(),
                Attr::optional("length", Type::Number).default(Value::int(2)).force_new(),
                Attr::optional("prefix", Type::String).force_new(),
                Attr::optional("separator", Type::String).default(Value::string("-")).force_new(),
            ]),
        );
        schemas.insert(
            "random_uuid",
            Schema::new(vec![Attr::computed("id", Type::String), keepers(), Attr::computed("result", Type::String)]),
        );
        schemas.insert(
            "random_shuffle",
            Schema::new(vec![
                Attr::computed("id", Type::String),
                keepers(),
                Attr::required("input", Type::List(Box::new(Type::String))).force_new(),
                Attr::optional("seed", Type::String).force_new(),
                Attr::optional("result_count", Type::Number).force_new(),
                Attr::computed("result", Type::List(Box::new(Type::String))),
            ]),
        );
        Random { rng, schemas }
    }

    fn below(&self, n: u64) -> u64 {
        self.rng.lock().map(|mut r| r.below(n)).unwrap_or(0)
    }

    fn random_string(&self, config: &Value) -> Result<String, ProviderError> {
        let length = get_i64(config, "length").unwrap_or(0);
        let flag = |n: &str| get_bool(config, n).unwrap_or(true);
        let min = |n: &str| get_i64(config, n).unwrap_or(0).max(0) as usize;
        let special = get_str(config, "override_special").unwrap_or(SPECIAL);
        let mut sets: Vec<(&str, usize)> = Vec::new();
        if flag("upper") {
            sets.push((UPPER, min("min_upper")));
        }
        if flag("lower") {
            sets.push((LOWER, min("min_lower")));
        }
        if flag("numeric") && flag("number") {
            sets.push((NUMERIC, min("min_numeric")));
        }
        if flag("special") {
            sets.push((special, min("min_special")));
        }
        let required: usize = sets.iter().map(|(_, n)| n).sum();
        if length < 1 || (length as usize) < required {
            return Err(ProviderError::new(
                "Invalid Attribute Value",
                format!(
                    "Attribute length value must be at least 1 and at least the sum of the min_* values, got: {length}"
                ),
            ));
        }
        let all: Vec<char> = sets.iter().flat_map(|(s, _)| s.chars()).collect();
        if all.is_empty() {
            return Err(ProviderError::new(
                "Invalid Attribute Combination",
                "At least one character set must be enabled.",
            ));
        }
        let mut out: Vec<char> = Vec::with_capacity(length as usize);
        for (set, n) in &sets {
            let chars: Vec<char> = set.chars().collect();
            for _ in 0..*n {
                out.push(chars[self.below(chars.len() as u64) as usize]);
            }
        }
        while out.len() < length as usize {
            out.push(all[self.below(all.len() as u64) as usize]);
        }
        for i in (1..out.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            out.swap(i, j);
        }
        Ok(out.into_iter().collect())
    }
}

impl Provider for Random {
    fn name(&self) -> &'static str {
        "random"
    }
    fn source(&self) -> &'static str {
        "registry.terraform.io/hashicorp/random"
    }
    fn schema(&self, mode: Mode, type_name: &str) -> Option<&Schema> {
        if mode != Mode::Managed {
            return None;
        }
        self.schemas.get(type_name)
    }
    fn validate(&self, type_name: &str, config: &Value) -> Result<(), ProviderError> {
        match type_name {
            "random_id" => match get_i64(config, "byte_length") {
                Some(n) if n < 1 => Err(ProviderError::new(
                    "Invalid Attribute Value",
                    format!("Attribute byte_length value must be at least 1, got: {n}"),
                )),
                _ => Ok(()),
            },
            "random_integer" => match (get_i64(config, "min"), get_i64(config, "max")) {
                (Some(min), Some(max)) if max < min => Err(ProviderError::new(
                    "Invalid Attribute Value",
                    "Attribute max value must be at least the value of min",
                )),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
    fn apply(
        &self,
        type_name: &str,
        _prior: Option<&Value>,
        planned: Option<&Value>,
    ) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = planned else { return Ok(None) };
        let mut new = planned.clone();
        // An update (keepers kept) changes nothing the provider decides.
        if get(&new, "id").is_some_and(|v| !v.is_unknown()) {
            return Ok(Some(new));
        }
        match type_name {
            "random_id" => {
                let n = get_i64(&new, "byte_length").unwrap_or(0).max(1) as usize;
                let bytes = self.rng.lock().map(|mut r| r.bytes(n)).unwrap_or_default();
                let prefix = get_str(&new, "prefix").unwrap_or("").to_owned();
                let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
                let std = base64::engine::general_purpose::STANDARD.encode(&bytes);
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                let dec = num_bigint::BigUint::from_bytes_be(&bytes).to_string();
                set(&mut new, "id", Value::string(url.clone()));
                set(&mut new, "b64_url", Value::string(format!("{prefix}{url}")));
                set(&mut new, "b64_std", Value::string(format!("{prefix}{std}")));
                set(&mut new, "hex", Value::string(format!("{prefix}{hex}")));
                set(&mut new, "dec", Value::string(format!("{prefix}{dec}")));
            }
            "random_string" | "random_password" => {
                let s = self.random_string(&new)?;
                if type_name == "random_password" {
                    let hash = bcrypt::hash(&s, bcrypt::DEFAULT_COST)
                        .map_err(|e| ProviderError::new("Failed to hash the password", e.to_string()))?;
                    set(&mut new, "bcrypt_hash", Value::string(hash).mark_if(true));
                    set(&mut new, "id", Value::string("none"));
                    set(&mut new, "result", Value::string(s).mark_if(true));
                } else {
                    set(&mut new, "id", Value::string(s.clone()));
                    set(&mut new, "result", Value::string(s));
                }
            }
            "random_integer" => {
                let min = get_i64(&new, "min").unwrap_or(0);
                let max = get_i64(&new, "max").unwrap_or(0);
                let span = (max - min + 1).max(1) as u64;
                let n = match get_str(&new, "seed") {
                    Some(seed) => {
                        let h = seed
                            .bytes()
                            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
                        super::Rng::seeded(h).below(span)
                    }
                    None => self.below(span),
                };
                let v = min + n as i64;
                set(&mut new, "result", Value::Number(Number::from_i64(v)));
                set(&mut new, "id", Value::string(v.to_string()));
            }
            "random_pet" => {
                let length = get_i64(&new, "length").unwrap_or(2).max(1) as usize;
                let sep = get_str(&new, "separator").unwrap_or("-").to_owned();
                let mut words: Vec<&str> = Vec::new();
                if length >= 3 {
                    for _ in 0..length - 2 {
                        words.push(ADVERBS[self.below(ADVERBS.len() as u64) as usize]);
                    }
                }
                if length >= 2 {
                    words.push(ADJECTIVES[self.below(ADJECTIVES.len() as u64) as usize]);
                }
                words.push(NAMES[self.below(NAMES.len() as u64) as usize]);
                let mut id = words.join(&sep);
                if let Some(p) = get_str(&new, "prefix") {
                    id = format!("{p}{sep}{id}");
                }
                set(&mut new, "id", Value::string(id));
            }
            "random_uuid" => {
                let u = super::builtin::random_uuid(&self.rng);
                set(&mut new, "id", Value::string(u.clone()));
                set(&mut new, "result", Value::string(u));
            }
            "random_shuffle" => {
                let input: Vec<Value> =
                    get(&new, "input").map(|v| v.elements().into_iter().map(|(_, x)| x).collect()).unwrap_or_default();
                let mut items = input.clone();
                let mut rng = match get_str(&new, "seed") {
                    Some(seed) => super::Rng::seeded(
                        seed.bytes()
                            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)),
                    ),
                    None => super::Rng::seeded(self.rng.lock().map(|mut r| r.next_u64()).unwrap_or(0)),
                };
                for i in (1..items.len()).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    items.swap(i, j);
                }
                let count = get_i64(&new, "result_count").map_or(items.len(), |c| c.max(0) as usize);
                // result_count may exceed the input: the shuffle repeats.
                let mut result = Vec::with_capacity(count);
                while result.len() < count && !items.is_empty() {
                    result.push(items[result.len() % items.len()].clone());
                }
                set(&mut new, "result", Value::list(Type::String, result));
                set(&mut new, "id", Value::string("-"));
            }
            other => {
                return Err(ProviderError::new(
                    "Invalid resource type",
                    format!("The provider does not support resource type {other:?}."),
                ));
            }
        }
        Ok(Some(new))
    }
    fn import(&self, type_name: &str, id: &str) -> Result<Value, ProviderError> {
        let schema = self
            .schema(Mode::Managed, type_name)
            .ok_or_else(|| ProviderError::new("Invalid resource type", type_name))?;
        let mut obj: BTreeMap<String, Value> = schema
            .attrs
            .iter()
            .map(|a| (a.name.to_owned(), a.default.clone().unwrap_or(Value::Null(a.ty.clone()))))
            .collect();
        match type_name {
            "random_string" | "random_password" => {
                obj.insert("length".into(), Value::int(id.chars().count() as i64));
                obj.insert("result".into(), Value::string(id).mark_if(type_name == "random_password"));
                obj.insert("id".into(), Value::string(if type_name == "random_password" { "none" } else { id }));
            }
            "random_uuid" => {
                obj.insert("id".into(), Value::string(id));
                obj.insert("result".into(), Value::string(id));
            }
            "random_integer" => {
                let parts: Vec<&str> = id.split(',').collect();
                let nums: Option<Vec<i64>> = parts.iter().map(|p| p.trim().parse().ok()).collect();
                let Some([result, min, max]) = nums.as_deref().and_then(|n| <[i64; 3]>::try_from(n).ok()) else {
                    return Err(ProviderError::new(
                        "Invalid import id",
                        "Expected the import ID \"result,min,max\" (three integers).",
                    ));
                };
                obj.insert("id".into(), Value::string(result.to_string()));
                obj.insert("result".into(), Value::int(result));
                obj.insert("min".into(), Value::int(min));
                obj.insert("max".into(), Value::int(max));
            }
            "random_id" => {
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id).map_err(|e| {
                    ProviderError::new("Invalid import id", format!("The id is not URL-safe base64: {e}"))
                })?;
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                obj.insert("id".into(), Value::string(id));
                obj.insert("byte_length".into(), Value::int(bytes.len() as i64));
                obj.insert("b64_url".into(), Value::string(id));
                obj.insert("b64_std".into(), Value::string(base64::engine::general_purpose::STANDARD.encode(&bytes)));
                obj.insert("hex".into(), Value::string(hex));
                obj.insert("dec".into(), Value::string(num_bigint::BigUint::from_bytes_be(&bytes).to_string()));
            }
            _ => {
                return Err(ProviderError::new(
                    "Resource Import Not Implemented",
                    format!("{type_name} cannot be imported."),
                ));
            }
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn provider() -> Random {
        Random::new(Arc::new(Mutex::new(super::super::Rng::seeded(1))))
    }

    fn create(p: &Random, ty: &str, config: &[(&str, Value)]) -> Value {
        let schema = p.schema(Mode::Managed, ty).expect("schema");
        let mut obj: BTreeMap<String, Value> =
            schema.attrs.iter().map(|a| (a.name.to_owned(), Value::Null(a.ty.clone()))).collect();
        for (k, v) in config {
            obj.insert((*k).to_owned(), v.clone());
        }
        let planned = p.plan_change(ty, None, &Value::Object(obj)).expect("plans").planned;
        p.apply(ty, None, Some(&planned)).expect("applies").expect("object")
    }

    #[test]
    fn strings_respect_their_character_sets_and_minimums() {
        let p = provider();
        let v = create(
            &p,
            "random_string",
            &[("length", Value::int(24)), ("special", Value::Bool(false)), ("min_numeric", Value::int(5))],
        );
        let s = get_str(&v, "result").expect("result").to_owned();
        assert_eq!(s.chars().count(), 24);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
        assert!(s.chars().filter(char::is_ascii_digit).count() >= 5, "{s}");
        assert_eq!(get_str(&v, "id"), Some(s.as_str()));
    }

    #[test]
    fn ids_integers_pets_uuids_and_shuffles_have_the_real_formats() {
        let p = provider();
        let v = create(&p, "random_id", &[("byte_length", Value::int(4)), ("prefix", Value::string("x-"))]);
        assert_eq!(get_str(&v, "id").expect("id").len(), 6);
        assert!(get_str(&v, "hex").expect("hex").starts_with("x-"));
        assert_eq!(get_str(&v, "hex").expect("hex").len(), 10);
        let v = create(&p, "random_integer", &[("min", Value::int(5)), ("max", Value::int(7))]);
        let n = get_i64(&v, "result").expect("result");
        assert!((5..=7).contains(&n));
        assert_eq!(get_str(&v, "id"), Some(n.to_string().as_str()));
        let v = create(&p, "random_pet", &[]);
        assert_eq!(get_str(&v, "id").expect("id").split('-').count(), 2);
        let v = create(&p, "random_uuid", &[]);
        assert_eq!(get_str(&v, "result").expect("uuid").len(), 36);
        let input = Value::list(Type::String, ["a", "b", "c"].iter().map(|s| Value::string(*s)).collect());
        let v = create(&p, "random_shuffle", &[("input", input), ("result_count", Value::int(2))]);
        assert_eq!(get(&v, "result").expect("result").length(), 2);
    }
}
