//! Manifest loading: kinds, expansion, defaults, and errors that name the
//! file, document and field.

use super::*;

fn load(yaml: &str) -> Result<Manifests, LoadError> {
    Manifests::build(&parse_documents("m.yaml", yaml)?)
}

fn error(yaml: &str) -> String {
    match load(yaml) {
        Ok(_) => panic!("expected an error"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn deployments_expand_into_owned_pods() {
    let m = match load(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: nginx}]}\n",
    ) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(m.pods.len(), 3);
    let names: std::collections::HashSet<&str> = m.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 3);
    for pod in &m.pods {
        assert_eq!(pod.namespace, "shop");
        assert!(pod.name.starts_with("web-"));
        assert!(pod.labels.contains_key("pod-template-hash"));
        let selector = pod.owner_selector.as_ref().map(|s| s.matches(&pod.labels));
        assert_eq!(selector, Some(true));
        assert_eq!(pod.images, vec!["nginx:latest".to_string()]);
    }
    assert!(m.namespaces.contains_key("shop"));
}

#[test]
fn priority_comes_from_the_class_or_the_global_default() {
    let m = match load(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\npreemptionPolicy: Never\n---\n\
apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: default}\nvalue: 7\nglobalDefault: true\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {priorityClassName: high, containers: [{name: c, image: x}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c, image: x}]}\n",
    ) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    assert_eq!((m.pods[0].priority, m.pods[0].preemption_never), (1000, true));
    assert_eq!((m.pods[1].priority, m.pods[1].preemption_never), (7, false));
}

#[test]
fn init_containers_sidecars_and_overhead_sum_like_upstream() {
    let m = match load(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  overhead: {cpu: 10m}\n  initContainers:\n  - {name: i1, image: x, resources: {requests: {cpu: '2'}}}\n  - {name: side, image: x, restartPolicy: Always, resources: {requests: {cpu: 200m}}}\n  - {name: i2, image: x, resources: {requests: {cpu: 500m}}}\n  containers:\n  - {name: c, image: x, resources: {requests: {cpu: 300m}}}\n",
    ) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    // max(300m + 200m sidecar, init max(2, 200m + 500m)) + 10m overhead
    assert_eq!(m.pods[0].requests.milli_cpu, 2010);
}

#[test]
fn errors_name_file_document_and_field() {
    let bad_quantity = "apiVersion: v1\nkind: Node\nmetadata: {name: n}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x, resources: {requests: {cpu: 1x}}}]}\n";
    assert_eq!(
        error(bad_quantity),
        "m.yaml, document 2 (Pod default/p): spec.containers[0].resources.requests.cpu: \"1x\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    let unknown = error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n");
    assert!(unknown.starts_with("m.yaml, document 1: kind: unknown kind \"ConfigMap\""), "{unknown}");
    let bad_selector = error(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: zone, labelSelector: {matchExpressions: [{key: app, operator: In}]}}]}}\n",
    );
    assert_eq!(
        bad_selector,
        "m.yaml, document 1 (Pod default/p): spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0]: values: must be specified when `operator` is 'In' or 'NotIn'"
    );
    let wrong_shape = error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: {name: c}}\n");
    assert!(wrong_shape.starts_with("m.yaml, document 1: spec.containers: "), "{wrong_shape}");
    let syntax = error("a: [\n");
    assert!(syntax.starts_with("m.yaml: not valid YAML or JSON"), "{syntax}");
}

#[test]
fn volumes_that_need_binding_are_not_supported() {
    let err = error(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: cfg, configMap: {name: c}}, {name: data, persistentVolumeClaim: {claimName: d}}]\n",
    );
    assert!(err.starts_with("m.yaml, document 1 (Pod default/p): spec.volumes[1].persistentVolumeClaim: persistentVolumeClaim volumes are not supported"), "{err}");
    let err = error(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n  resourceClaims: [{name: gpu, resourceClaimName: g}]\n",
    );
    assert!(err.contains("spec.resourceClaims: resource claims"), "{err}");
}

#[test]
fn lists_and_json_documents_load() {
    let m = match load(
        "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"name\": \"n\"}, \"status\": {\"allocatable\": {\"cpu\": 2, \"memory\": \"1Gi\"}}}]}",
    ) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(m.nodes.len(), 1);
    assert_eq!(m.nodes[0].allocatable.milli_cpu, 2000);
    assert_eq!(m.nodes[0].labels.get("kubernetes.io/hostname").map(String::as_str), Some("n"));
}

#[test]
fn stateful_sets_expand_into_ordinal_pods_with_the_controller_labels() {
    let m = load(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: shop}\nspec:\n  replicas: 2\n  ordinals: {start: 5}\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c, image: pg}]}\n",
    )
    .expect("a valid StatefulSet");
    let names: Vec<&str> = m.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["db-5", "db-6"]);
    let pod = &m.pods[1];
    assert_eq!(pod.labels.get("statefulset.kubernetes.io/pod-name").map(String::as_str), Some("db-6"));
    assert_eq!(pod.labels.get("apps.kubernetes.io/pod-index").map(String::as_str), Some("6"));
    let revision = pod.labels.get("controller-revision-hash").expect("a revision label");
    assert!(revision.starts_with("db-") && revision.len() == 13, "{revision}");
    assert_eq!(m.pods[0].labels.get("controller-revision-hash"), Some(revision));
    let selector = pod.default_spread_selector.as_ref().expect("the StatefulSet's selector");
    assert!(selector.matches(&pod.labels));
    assert!(!selector.matches(&Labels::from([("app".to_string(), "web".to_string())])));
}

#[test]
fn default_selector_is_the_union_of_services_and_the_controller() {
    let m = load(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s1}\nspec: {selector: {app: web}}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {name: s2}\nspec: {selector: {tier: front}}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {name: s3}\nspec: {selector: {app: other}}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {name: s4, namespace: elsewhere}\nspec: {selector: {app: web}}\n---\n\
apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec:\n  replicas: 1\n  template:\n    metadata: {labels: {app: web, tier: front, track: a}}\n    spec: {containers: [{name: c, image: x}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: lone, labels: {app: other2}}\nspec: {containers: [{name: c, image: x}]}\n",
    )
    .expect("valid manifests");
    let rc_pod = m.pods.iter().find(|p| p.name.starts_with("rc-")).expect("the controller's pod");
    let Some(Selector::Requirements(reqs)) = &rc_pod.default_spread_selector else { panic!("a selector") };
    let mut keys: Vec<&str> = reqs.iter().map(|r| r.key.as_str()).collect();
    keys.sort_unstable();
    // s1 and s2 (app, tier), then the controller's defaulted selector
    // (app, tier, track); s3 does not select the pod, s4 is elsewhere.
    assert_eq!(keys, ["app", "app", "tier", "tier", "track"]);
    let lone = m.pods.iter().find(|p| p.name == "lone").expect("the lone pod");
    assert!(lone.default_spread_selector.is_none());
}

#[test]
fn controller_errors_name_the_object_and_field() {
    let err = error(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  selector: {}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c, image: x}]}\n",
    );
    assert_eq!(
        err,
        "m.yaml, document 1 (StatefulSet default/db): spec.selector: empty selector is invalid for a StatefulSet"
    );
    let err = error(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  selector: {matchLabels: {app: db}}\n  volumeClaimTemplates: [{metadata: {name: data}}]\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c, image: x}]}\n",
    );
    assert!(
        err.starts_with("m.yaml, document 1 (StatefulSet default/db): spec.volumeClaimTemplates: not supported"),
        "{err}"
    );
    let err = error(
        "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec:\n  selector: {app: web}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: c, image: x}]}\n",
    );
    assert_eq!(
        err,
        "m.yaml, document 1 (ReplicationController default/rc): spec.template.metadata.labels: `selector` does not match template `labels`"
    );
    let err = error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: [app]}\n");
    assert!(err.starts_with("m.yaml, document 1: spec.selector: "), "{err}");
    let err = error("apiVersion: apps/v1\nkind: Service\nmetadata: {name: s}\n");
    assert!(err.contains("apiVersion: Service must have apiVersion \"v1\""), "{err}");
}

#[test]
fn start_times_and_nominations_come_from_the_status() {
    let m = load(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\nstatus: {startTime: '2024-01-01T00:00:01Z', nominatedNodeName: n1}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {nodeName: n2, containers: [{name: c, image: x}]}\nstatus: {nominatedNodeName: n1}\n",
    )
    .expect("valid pods");
    assert_eq!(m.pods[0].start_time, Some(1_704_067_201_000_000_000));
    assert_eq!(m.pods[0].nominated_node_name.as_deref(), Some("n1"));
    assert_eq!((m.pods[1].start_time, m.pods[1].nominated_node_name.as_deref()), (None, None), "bound: no nomination");
    let err = error(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\nstatus: {startTime: yesterday}\n",
    );
    assert!(err.starts_with("m.yaml, document 1: status.startTime: "), "{err}");
}
