//! Label selectors, node selectors, taints and tolerations: the matching
//! rules of `k8s.io/apimachinery/pkg/labels` and
//! `k8s.io/component-helpers/scheduling/corev1`, over compiled forms built
//! once when manifests are loaded.

use std::collections::BTreeMap;

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Operator,
    pub values: Vec<String>,
}

/// Label selector operators, including the node-selector-only `Gt`/`Lt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

impl Operator {
    pub fn parse(text: &str, numeric_allowed: bool) -> Option<Self> {
        Some(match text {
            "In" => Self::In,
            "NotIn" => Self::NotIn,
            "Exists" => Self::Exists,
            "DoesNotExist" => Self::DoesNotExist,
            "Gt" if numeric_allowed => Self::Gt,
            "Lt" if numeric_allowed => Self::Lt,
            _ => return None,
        })
    }
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.op {
            Operator::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt | Operator::Lt => {
                let Some(have) = value.and_then(|v| v.parse::<i64>().ok()) else { return false };
                let Some(want) = self.values.first().and_then(|v| v.parse::<i64>().ok()) else { return false };
                if self.op == Operator::Gt { have > want } else { have < want }
            }
        }
    }

    /// Checks the shape rules the API server enforces.
    pub fn validate(&self) -> Result<(), String> {
        if self.key.is_empty() {
            return Err("key: must not be empty".into());
        }
        match self.op {
            Operator::In | Operator::NotIn if self.values.is_empty() => {
                Err("values: must be specified when `operator` is 'In' or 'NotIn'".into())
            }
            Operator::Exists | Operator::DoesNotExist if !self.values.is_empty() => {
                Err("values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".into())
            }
            Operator::Gt | Operator::Lt => match self.values.as_slice() {
                [value] if value.parse::<i64>().is_ok() => Ok(()),
                _ => Err("values: must be a single integer when `operator` is 'Gt' or 'Lt'".into()),
            },
            _ => Ok(()),
        }
    }
}

/// A compiled `metav1.LabelSelector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A nil selector: matches nothing.
    Nothing,
    /// Requirements, ANDed; none at all matches everything (`{}`).
    Requirements(Vec<Requirement>),
}

impl Selector {
    pub fn everything() -> Self {
        Self::Requirements(Vec::new())
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Self::Nothing => false,
            Self::Requirements(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// Go's `Selector.Empty()`: true only for a selector with no requirements.
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Requirements(reqs) if reqs.is_empty())
    }

    /// Adds `key In (value)` requirements (matchLabelKeys) or `key NotIn
    /// (value)` ones (mismatchLabelKeys); a nil selector stays nil.
    pub fn with_label_values(mut self, keys: &[String], labels: &Labels, op: Operator) -> Self {
        if let Self::Requirements(reqs) = &mut self {
            for key in keys {
                if let Some(value) = labels.get(key) {
                    reqs.push(Requirement { key: key.clone(), op, values: vec![value.clone()] });
                }
            }
        }
        self
    }
}

/// One `NodeSelectorTerm`: label requirements and `metadata.name` field
/// requirements, ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSelectorTerm {
    pub labels: Vec<Requirement>,
    /// Requirements on the node's name (the only field selectable).
    pub fields: Vec<Requirement>,
}

impl NodeSelectorTerm {
    /// A term with no requirements selects no node.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        if self.is_empty() {
            return false;
        }
        if !self.labels.iter().all(|r| r.matches(labels)) {
            return false;
        }
        if self.fields.is_empty() {
            return true;
        }
        let mut fields = Labels::new();
        fields.insert("metadata.name".to_string(), node_name.to_string());
        self.fields.iter().all(|r| r.matches(&fields))
    }
}

/// A `NodeSelector`: terms, ORed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSelector {
    pub terms: Vec<NodeSelectorTerm>,
}

impl NodeSelector {
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.terms.iter().any(|t| t.matches(node_name, labels))
    }
}

/// Taint effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl Effect {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "NoSchedule" => Self::NoSchedule,
            "PreferNoSchedule" => Self::PreferNoSchedule,
            "NoExecute" => Self::NoExecute,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: Effect,
}

/// A pod toleration. An empty key with `Exists` tolerates every taint; no
/// effect matches every effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    pub key: String,
    /// True for `Exists`, false for `Equal` (also the default).
    pub exists: bool,
    pub value: String,
    pub effect: Option<Effect>,
    pub toleration_seconds: Option<i64>,
}

impl Toleration {
    /// `Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        self.exists || self.value == taint.value
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// The first `NoSchedule`/`NoExecute` taint none of the tolerations tolerate.
pub fn first_untolerated_hard_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| matches!(t.effect, Effect::NoSchedule | Effect::NoExecute))
        .find(|t| !tolerated(tolerations, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn req(key: &str, op: Operator, values: &[&str]) -> Requirement {
        Requirement { key: key.into(), op, values: values.iter().map(|v| v.to_string()).collect() }
    }

    #[test]
    fn requirements_follow_apimachinery() {
        let l = labels(&[("zone", "a"), ("gen", "5")]);
        assert!(req("zone", Operator::In, &["a", "b"]).matches(&l));
        assert!(!req("zone", Operator::NotIn, &["a"]).matches(&l));
        assert!(req("missing", Operator::NotIn, &["a"]).matches(&l));
        assert!(req("zone", Operator::Exists, &[]).matches(&l));
        assert!(req("missing", Operator::DoesNotExist, &[]).matches(&l));
        assert!(req("gen", Operator::Gt, &["4"]).matches(&l));
        assert!(!req("gen", Operator::Lt, &["5"]).matches(&l));
        assert!(!req("zone", Operator::Gt, &["1"]).matches(&l));
    }

    #[test]
    fn nil_and_empty_selectors() {
        let l = labels(&[("app", "web")]);
        assert!(!Selector::Nothing.matches(&l));
        assert!(Selector::everything().matches(&l));
        assert!(Selector::everything().is_empty());
        assert!(!Selector::Nothing.is_empty());
    }

    #[test]
    fn empty_node_selector_term_matches_nothing() {
        let term = NodeSelectorTerm::default();
        assert!(!term.matches("n1", &Labels::new()));
        let by_name = NodeSelectorTerm { labels: vec![], fields: vec![req("metadata.name", Operator::In, &["n1"])] };
        assert!(by_name.matches("n1", &Labels::new()));
        assert!(!by_name.matches("n2", &Labels::new()));
    }

    #[test]
    fn tolerations_follow_component_helpers() {
        let taint = Taint { key: "gpu".into(), value: "true".into(), effect: Effect::NoSchedule };
        let equal = Toleration {
            key: "gpu".into(),
            exists: false,
            value: "true".into(),
            effect: None,
            toleration_seconds: None,
        };
        assert!(equal.tolerates(&taint));
        let wrong_value = Toleration { value: "false".into(), ..equal.clone() };
        assert!(!wrong_value.tolerates(&taint));
        let wrong_effect = Toleration { effect: Some(Effect::NoExecute), ..equal.clone() };
        assert!(!wrong_effect.tolerates(&taint));
        let everything = Toleration {
            key: String::new(),
            exists: true,
            value: String::new(),
            effect: None,
            toleration_seconds: None,
        };
        assert!(everything.tolerates(&taint));
        let soft = Taint { effect: Effect::PreferNoSchedule, ..taint.clone() };
        assert!(first_untolerated_hard_taint(std::slice::from_ref(&soft), &[]).is_none());
        assert_eq!(first_untolerated_hard_taint(std::slice::from_ref(&taint), &[]), Some(&taint));
    }
}
