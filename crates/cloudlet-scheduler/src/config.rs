//! The scheduling profile: which plugins run at which extension point, with
//! which weights and arguments. [`Profile::default`] is kube-scheduler
//! v1.34's default profile without the volume and DRA plugins;
//! [`Profile::from_config`] applies a `KubeSchedulerConfiguration`
//! (`kubescheduler.config.k8s.io/v1`) on top, as kube-scheduler does.

use serde_json::Value;

/// The plugins cloudlet implements, in the default profile's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Plugin {
    SchedulingGates,
    PrioritySort,
    NodeUnschedulable,
    NodeName,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    PodTopologySpread,
    InterPodAffinity,
    DefaultPreemption,
    NodeResourcesBalancedAllocation,
    ImageLocality,
    DefaultBinder,
}

impl Plugin {
    pub const ALL: [Plugin; 14] = [
        Plugin::SchedulingGates,
        Plugin::PrioritySort,
        Plugin::NodeUnschedulable,
        Plugin::NodeName,
        Plugin::TaintToleration,
        Plugin::NodeAffinity,
        Plugin::NodePorts,
        Plugin::NodeResourcesFit,
        Plugin::PodTopologySpread,
        Plugin::InterPodAffinity,
        Plugin::DefaultPreemption,
        Plugin::NodeResourcesBalancedAllocation,
        Plugin::ImageLocality,
        Plugin::DefaultBinder,
    ];

    /// Filter plugins, in the order the framework runs them.
    pub const FILTERS: [Plugin; 8] = [
        Plugin::NodeUnschedulable,
        Plugin::NodeName,
        Plugin::TaintToleration,
        Plugin::NodeAffinity,
        Plugin::NodePorts,
        Plugin::NodeResourcesFit,
        Plugin::PodTopologySpread,
        Plugin::InterPodAffinity,
    ];

    /// Score plugins with their default weights, in the framework's order.
    pub const SCORES: [(Plugin, i64); 7] = [
        (Plugin::TaintToleration, 3),
        (Plugin::NodeAffinity, 2),
        (Plugin::NodeResourcesFit, 1),
        (Plugin::PodTopologySpread, 2),
        (Plugin::InterPodAffinity, 2),
        (Plugin::NodeResourcesBalancedAllocation, 1),
        (Plugin::ImageLocality, 1),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Plugin::SchedulingGates => "SchedulingGates",
            Plugin::PrioritySort => "PrioritySort",
            Plugin::NodeUnschedulable => "NodeUnschedulable",
            Plugin::NodeName => "NodeName",
            Plugin::TaintToleration => "TaintToleration",
            Plugin::NodeAffinity => "NodeAffinity",
            Plugin::NodePorts => "NodePorts",
            Plugin::NodeResourcesFit => "NodeResourcesFit",
            Plugin::PodTopologySpread => "PodTopologySpread",
            Plugin::InterPodAffinity => "InterPodAffinity",
            Plugin::DefaultPreemption => "DefaultPreemption",
            Plugin::NodeResourcesBalancedAllocation => "NodeResourcesBalancedAllocation",
            Plugin::ImageLocality => "ImageLocality",
            Plugin::DefaultBinder => "DefaultBinder",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    fn is_filter(self) -> bool {
        Self::FILTERS.contains(&self)
    }

    fn default_weight(self) -> Option<i64> {
        Self::SCORES.iter().find(|(p, _)| *p == self).map(|(_, w)| *w)
    }
}

/// Plugins of the upstream default profile that cloudlet does not model.
const UNMODELLED: &[&str] =
    &["VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding", "VolumeZone", "DynamicResources"];

/// `scoringStrategy.type` of NodeResourcesFit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScoringStrategy {
    LeastAllocated,
    MostAllocated,
    /// Shape points `(utilization, score)` with scores already scaled ×10.
    RequestedToCapacityRatio(Vec<(i64, i64)>),
}

/// A resource and its weight in a scoring strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceWeight {
    pub name: String,
    pub weight: i64,
}

fn cpu_and_memory() -> Vec<ResourceWeight> {
    vec![ResourceWeight { name: "cpu".into(), weight: 1 }, ResourceWeight { name: "memory".into(), weight: 1 }]
}

/// A scheduling profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub filters: Vec<Plugin>,
    /// Score plugins with weights, in the framework's order.
    pub scores: Vec<(Plugin, i64)>,
    pub scheduling_gates: bool,
    pub preemption: bool,
    pub percentage_of_nodes_to_score: Option<i32>,
    pub fit_strategy: ScoringStrategy,
    pub fit_resources: Vec<ResourceWeight>,
    pub balanced_resources: Vec<ResourceWeight>,
    pub hard_pod_affinity_weight: i64,
    pub ignore_preferred_terms_of_existing_pods: bool,
    /// `defaultingType: System` (true) or `List` with `default_constraints`.
    pub system_default_spread: bool,
    pub default_spread_constraints: Vec<(i32, String, bool)>,
    pub min_candidate_nodes_percentage: i32,
    pub min_candidate_nodes_absolute: i32,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            filters: Plugin::FILTERS.to_vec(),
            scores: Plugin::SCORES.to_vec(),
            scheduling_gates: true,
            preemption: true,
            percentage_of_nodes_to_score: None,
            fit_strategy: ScoringStrategy::LeastAllocated,
            fit_resources: cpu_and_memory(),
            balanced_resources: cpu_and_memory(),
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false,
            system_default_spread: true,
            default_spread_constraints: Vec::new(),
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

/// Why a scheduler configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: not valid YAML or JSON")]
    Syntax {
        path: String,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error("{path}: {field}: {message}")]
    Invalid { path: String, field: String, message: String },
}

impl Profile {
    /// Applies a `KubeSchedulerConfiguration` document.
    pub fn from_config(path: &str, text: &str) -> Result<Self, ConfigError> {
        let doc: Value = serde_saphyr::from_str_with_options(text, crate::load::yaml_options())
            .map_err(|source| ConfigError::Syntax { path: path.into(), source: Box::new(source) })?;
        let err =
            |field: &str, message: String| ConfigError::Invalid { path: path.into(), field: field.into(), message };
        if doc.get("kind").and_then(Value::as_str) != Some("KubeSchedulerConfiguration") {
            return Err(err("kind", "must be KubeSchedulerConfiguration".into()));
        }
        if doc.get("apiVersion").and_then(Value::as_str) != Some("kubescheduler.config.k8s.io/v1") {
            return Err(err("apiVersion", "must be kubescheduler.config.k8s.io/v1".into()));
        }
        let mut profile = Profile::default();
        let percentage = |field: &str, v: &Value| -> Result<i32, ConfigError> {
            let p = v.as_i64().ok_or_else(|| err(field, "must be an integer".into()))?;
            if !(0..=100).contains(&p) {
                return Err(err(field, format!("{p}: not in valid range [0-100]")));
            }
            Ok(p as i32)
        };
        if let Some(v) = doc.get("percentageOfNodesToScore") {
            profile.percentage_of_nodes_to_score = Some(percentage("percentageOfNodesToScore", v)?);
        }
        let profiles = doc.get("profiles").and_then(Value::as_array).cloned().unwrap_or_default();
        let chosen = profiles.iter().position(|p| {
            p.get("schedulerName").and_then(Value::as_str).unwrap_or("default-scheduler") == "default-scheduler"
        });
        let Some(index) = chosen else {
            if profiles.is_empty() {
                return Ok(profile);
            }
            return Err(err("profiles", "no profile for schedulerName default-scheduler".into()));
        };
        let p = &profiles[index];
        let base = format!("profiles[{index}]");
        if let Some(v) = p.get("percentageOfNodesToScore") {
            profile.percentage_of_nodes_to_score = Some(percentage(&format!("{base}.percentageOfNodesToScore"), v)?);
        }
        if let Some(plugins) = p.get("plugins") {
            profile.apply_plugins(plugins, &format!("{base}.plugins")).map_err(|(f, m)| err(&f, m))?;
        }
        for (i, pc) in p.get("pluginConfig").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let field = format!("{base}.pluginConfig[{i}]");
            let name = pc.get("name").and_then(Value::as_str).unwrap_or_default();
            let args = pc.get("args").cloned().unwrap_or(Value::Null);
            profile.apply_args(name, &args, &field).map_err(|(f, m)| err(&f, m))?;
        }
        Ok(profile)
    }

    fn apply_plugins(&mut self, plugins: &Value, field: &str) -> Result<(), (String, String)> {
        let points = [
            "multiPoint",
            "preEnqueue",
            "queueSort",
            "preFilter",
            "filter",
            "postFilter",
            "preScore",
            "score",
            "reserve",
            "permit",
            "preBind",
            "bind",
            "postBind",
        ];
        for point in points {
            let Some(set) = plugins.get(point) else { continue };
            let f = format!("{field}.{point}");
            for (i, d) in set.get("disabled").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let name = d.get("name").and_then(Value::as_str).unwrap_or_default();
                if name == "*" {
                    self.disable_all(point);
                    continue;
                }
                if UNMODELLED.contains(&name) {
                    continue;
                }
                let plugin = Plugin::from_name(name)
                    .ok_or_else(|| (format!("{f}.disabled[{i}].name"), format!("unknown plugin {name:?}")))?;
                self.disable(point, plugin);
            }
            for (i, e) in set.get("enabled").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
                if UNMODELLED.contains(&name) {
                    return Err((
                        format!("{f}.enabled[{i}].name"),
                        format!("{name} is not supported by cloudlet's scheduler (volumes and DRA are not modelled)"),
                    ));
                }
                let plugin = Plugin::from_name(name)
                    .ok_or_else(|| (format!("{f}.enabled[{i}].name"), format!("unknown plugin {name:?}")))?;
                let weight = e.get("weight").and_then(Value::as_i64).filter(|w| *w != 0);
                if let Some(w) = weight
                    && !(1..=100).contains(&w)
                {
                    return Err((format!("{f}.enabled[{i}].weight"), format!("{w}: must be in the range [1, 100]")));
                }
                self.enable(point, plugin, weight);
            }
        }
        Ok(())
    }

    fn disable_all(&mut self, point: &str) {
        match point {
            "multiPoint" => {
                self.filters.clear();
                self.scores.clear();
                self.preemption = false;
                self.scheduling_gates = false;
            }
            "filter" => self.filters.clear(),
            "score" => self.scores.clear(),
            "postFilter" => self.preemption = false,
            "preEnqueue" => self.scheduling_gates = false,
            _ => {}
        }
    }

    fn disable(&mut self, point: &str, plugin: Plugin) {
        let all = point == "multiPoint";
        if all || point == "filter" {
            self.filters.retain(|p| *p != plugin);
        }
        if all || point == "score" {
            self.scores.retain(|(p, _)| *p != plugin);
        }
        if (all || point == "postFilter") && plugin == Plugin::DefaultPreemption {
            self.preemption = false;
        }
        if (all || point == "preEnqueue") && plugin == Plugin::SchedulingGates {
            self.scheduling_gates = false;
        }
    }

    fn enable(&mut self, point: &str, plugin: Plugin, weight: Option<i64>) {
        let all = point == "multiPoint";
        if (all || point == "filter") && plugin.is_filter() && !self.filters.contains(&plugin) {
            self.filters.push(plugin);
            self.filters.sort_by_key(|p| Plugin::FILTERS.iter().position(|f| f == p));
        }
        if let Some(default) = plugin.default_weight()
            && (all || point == "score")
        {
            let weight = weight.unwrap_or(default);
            match self.scores.iter_mut().find(|(p, _)| *p == plugin) {
                Some(entry) => entry.1 = weight,
                None => self.scores.push((plugin, weight)),
            }
        }
        if (all || point == "postFilter") && plugin == Plugin::DefaultPreemption {
            self.preemption = true;
        }
        if (all || point == "preEnqueue") && plugin == Plugin::SchedulingGates {
            self.scheduling_gates = true;
        }
    }

    fn apply_args(&mut self, name: &str, args: &Value, field: &str) -> Result<(), (String, String)> {
        let resources =
            |v: Option<&Value>, f: &str, zero_to_one: bool| -> Result<Option<Vec<ResourceWeight>>, (String, String)> {
                let Some(list) = v.and_then(Value::as_array) else { return Ok(None) };
                let mut out = Vec::new();
                for (i, r) in list.iter().enumerate() {
                    let name = r
                        .get("name")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| (format!("{f}[{i}].name"), "must not be empty".into()))?;
                    let mut weight = r.get("weight").and_then(Value::as_i64).unwrap_or(0);
                    if weight == 0 && zero_to_one {
                        weight = 1;
                    }
                    if !(1..=100).contains(&weight) {
                        return Err((
                            format!("{f}[{i}].weight"),
                            format!("{weight}: resource weight of {name} not in valid range [1, 100]"),
                        ));
                    }
                    out.push(ResourceWeight { name: name.into(), weight });
                }
                Ok(Some(out))
            };
        match name {
            "NodeResourcesFit" => {
                if let Some(strategy) = args.get("scoringStrategy") {
                    let f = format!("{field}.args.scoringStrategy");
                    if let Some(list) = resources(strategy.get("resources"), &format!("{f}.resources"), true)? {
                        self.fit_resources = list;
                    }
                    match strategy.get("type").and_then(Value::as_str).unwrap_or("LeastAllocated") {
                        "LeastAllocated" => self.fit_strategy = ScoringStrategy::LeastAllocated,
                        "MostAllocated" => self.fit_strategy = ScoringStrategy::MostAllocated,
                        "RequestedToCapacityRatio" => {
                            let shape = strategy
                                .pointer("/requestedToCapacityRatio/shape")
                                .and_then(Value::as_array)
                                .cloned()
                                .unwrap_or_default();
                            if shape.is_empty() {
                                return Err((
                                    format!("{f}.requestedToCapacityRatio.shape"),
                                    "at least one point must be specified".into(),
                                ));
                            }
                            let mut points = Vec::new();
                            for (i, point) in shape.iter().enumerate() {
                                let u = point.get("utilization").and_then(Value::as_i64).unwrap_or(0);
                                let s = point.get("score").and_then(Value::as_i64).unwrap_or(0);
                                if !(0..=100).contains(&u) {
                                    return Err((
                                        format!("{f}.requestedToCapacityRatio.shape[{i}].utilization"),
                                        format!("{u}: not in valid range [0, 100]"),
                                    ));
                                }
                                if !(0..=10).contains(&s) {
                                    return Err((
                                        format!("{f}.requestedToCapacityRatio.shape[{i}].score"),
                                        format!("{s}: not in valid range [0, 10]"),
                                    ));
                                }
                                if let Some((prev, _)) = points.last()
                                    && u <= *prev
                                {
                                    return Err((
                                        format!("{f}.requestedToCapacityRatio.shape[{i}].utilization"),
                                        "utilization values must be sorted in increasing order".into(),
                                    ));
                                }
                                points.push((u, s * 10));
                            }
                            self.fit_strategy = ScoringStrategy::RequestedToCapacityRatio(points);
                        }
                        other => return Err((format!("{f}.type"), format!("unsupported scoring strategy {other:?}"))),
                    }
                }
            }
            "NodeResourcesBalancedAllocation" => {
                if let Some(list) = resources(args.get("resources"), &format!("{field}.args.resources"), true)? {
                    self.balanced_resources = list;
                }
            }
            "InterPodAffinity" => {
                if let Some(w) = args.get("hardPodAffinityWeight").and_then(Value::as_i64) {
                    if !(0..=100).contains(&w) {
                        return Err((
                            format!("{field}.args.hardPodAffinityWeight"),
                            format!("{w}: not in valid range [0, 100]"),
                        ));
                    }
                    self.hard_pod_affinity_weight = w;
                }
                if let Some(b) = args.get("ignorePreferredTermsOfExistingPods").and_then(Value::as_bool) {
                    self.ignore_preferred_terms_of_existing_pods = b;
                }
            }
            "PodTopologySpread" => {
                match args.get("defaultingType").and_then(Value::as_str).unwrap_or("System") {
                    "System" => self.system_default_spread = true,
                    "List" => self.system_default_spread = false,
                    other => {
                        return Err((format!("{field}.args.defaultingType"), format!("unsupported value {other:?}")));
                    }
                }
                let mut constraints = Vec::new();
                for (i, c) in args.get("defaultConstraints").and_then(Value::as_array).into_iter().flatten().enumerate()
                {
                    let f = format!("{field}.args.defaultConstraints[{i}]");
                    let skew = c.get("maxSkew").and_then(Value::as_i64).unwrap_or(0);
                    let key = c.get("topologyKey").and_then(Value::as_str).unwrap_or_default();
                    if skew < 1 || key.is_empty() {
                        return Err((f, "needs maxSkew > 0 and a topologyKey".into()));
                    }
                    if c.get("labelSelector").is_some() {
                        return Err((
                            format!("{f}.labelSelector"),
                            "constraint must not define a selector, as they deduced for each pod".into(),
                        ));
                    }
                    let hard = c.get("whenUnsatisfiable").and_then(Value::as_str) == Some("DoNotSchedule");
                    constraints.push((skew as i32, key.to_string(), hard));
                }
                if self.system_default_spread && !constraints.is_empty() {
                    return Err((
                        format!("{field}.args.defaultConstraints"),
                        "when .defaultingType is \"System\", .defaultConstraints must be empty".into(),
                    ));
                }
                self.default_spread_constraints = constraints;
            }
            "DefaultPreemption" => {
                if let Some(v) = args.get("minCandidateNodesPercentage").and_then(Value::as_i64) {
                    self.min_candidate_nodes_percentage = v.clamp(0, 100) as i32;
                }
                if let Some(v) = args.get("minCandidateNodesAbsolute").and_then(Value::as_i64) {
                    self.min_candidate_nodes_absolute = v.max(0) as i32;
                }
            }
            _ if UNMODELLED.contains(&name) => {}
            other if Plugin::from_name(other).is_some() => {}
            other => return Err((format!("{field}.name"), format!("unknown plugin {other:?}"))),
        }
        Ok(())
    }

    pub fn weight(&self, plugin: Plugin) -> Option<i64> {
        self.scores.iter().find(|(p, _)| *p == plugin).map(|(_, w)| *w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_matches_upstream_weights() {
        let p = Profile::default();
        assert_eq!(p.weight(Plugin::TaintToleration), Some(3));
        assert_eq!(p.weight(Plugin::NodeAffinity), Some(2));
        assert_eq!(p.weight(Plugin::PodTopologySpread), Some(2));
        assert_eq!(p.weight(Plugin::InterPodAffinity), Some(2));
        assert_eq!(p.weight(Plugin::NodeResourcesFit), Some(1));
        assert_eq!(p.weight(Plugin::ImageLocality), Some(1));
        assert_eq!(p.filters.len(), 8);
    }

    #[test]
    fn configuration_changes_weights_strategy_and_sampling() {
        let text = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 100
profiles:
- schedulerName: default-scheduler
  plugins:
    multiPoint:
      disabled:
      - name: ImageLocality
    score:
      enabled:
      - name: NodeAffinity
        weight: 5
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 0
        - name: nvidia.com/gpu
          weight: 3
"#;
        let p = match Profile::from_config("c.yaml", text) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(p.percentage_of_nodes_to_score, Some(100));
        assert_eq!(p.weight(Plugin::ImageLocality), None);
        assert_eq!(p.weight(Plugin::NodeAffinity), Some(5));
        assert_eq!(p.fit_strategy, ScoringStrategy::MostAllocated);
        assert_eq!(p.fit_resources[0].weight, 1);
        assert_eq!(p.fit_resources[1].name, "nvidia.com/gpu");
    }

    #[test]
    fn unknown_plugins_are_named() {
        let text = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- plugins:\n    score:\n      enabled:\n      - name: Nope\n";
        let err = Profile::from_config("c.yaml", text).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("c.yaml: profiles[0].plugins.score.enabled[0].name: unknown plugin \"Nope\""));
    }
}
