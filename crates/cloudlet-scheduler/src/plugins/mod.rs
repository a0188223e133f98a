//! The filter and score plugins of the default profile. Each is a set of
//! pure functions over the [`Cluster`] and the pod being scheduled; the
//! framework decides when to call them. Messages and arithmetic follow
//! kube-scheduler v1.34.

pub mod interpod;
pub mod node;
pub mod resources;
pub mod spread;

use std::borrow::Cow;

use crate::config::Plugin;

/// A rejection's reason strings: one inline (the common case, a `'static`
/// string, so rejecting a node allocates nothing), more in a vector
/// (NodeResourcesFit can report several resources at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reasons {
    first: Cow<'static, str>,
    rest: Vec<Cow<'static, str>>,
}

impl Reasons {
    pub fn one(reason: impl Into<Cow<'static, str>>) -> Self {
        Self { first: reason.into(), rest: Vec::new() }
    }

    pub fn push(&mut self, reason: impl Into<Cow<'static, str>>) {
        self.rest.push(reason.into());
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.first.as_ref()).chain(self.rest.iter().map(AsRef::as_ref))
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }

    pub fn join(&self, separator: &str) -> String {
        self.iter().collect::<Vec<_>>().join(separator)
    }
}

impl serde::Serialize for Reasons {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// A filter plugin's rejection of one node (a framework `Status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub plugin: Plugin,
    pub reasons: Reasons,
    /// `UnschedulableAndUnresolvable`: preemption cannot help on this node.
    pub unresolvable: bool,
    /// What exactly failed, for explanations (may name taints; hidden by
    /// `--redact`). Filled only when the cycle is explained: formatting it
    /// for every node of every failing pod would cost more than filtering.
    pub detail: Option<String>,
}

impl Rejection {
    pub fn new(plugin: Plugin, reason: &'static str, unresolvable: bool) -> Self {
        Self { plugin, reasons: Reasons::one(reason), unresolvable, detail: None }
    }

    /// Adds the detail when asked for (`detail`), formatting it only then.
    pub fn with_detail(mut self, detail: bool, text: impl FnOnce() -> String) -> Self {
        if detail {
            self.detail = Some(text());
        }
        self
    }
}

pub const MAX_NODE_SCORE: i64 = 100;

/// `helper.DefaultNormalizeScore`.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut v = MAX_NODE_SCORE * *s / max;
        if reverse {
            v = MAX_NODE_SCORE - v;
        }
        *s = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cases from upstream's helper/normalize_score_test.go, restated.
    #[test]
    fn default_normalize_scales_to_the_maximum() {
        let mut s = vec![10, 20, 30, 40];
        default_normalize(&mut s, false);
        assert_eq!(s, vec![25, 50, 75, 100]);
        let mut s = vec![10, 20, 30, 40];
        default_normalize(&mut s, true);
        assert_eq!(s, vec![75, 50, 25, 0]);
        let mut s = vec![0, 0, 0];
        default_normalize(&mut s, false);
        assert_eq!(s, vec![0, 0, 0]);
        let mut s = vec![0, 0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, vec![100, 100, 100]);
        let mut s = vec![1000, 10, 20, 30];
        default_normalize(&mut s, false);
        assert_eq!(s, vec![100, 1, 2, 3]);
    }
}
