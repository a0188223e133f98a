//! The Kubernetes API of the daemon's simulated live cluster, in the API
//! server's REST shapes: `/api/v1/nodes`, `/api/v1/namespaces/{ns}/pods`,
//! `.../pods/{name}/eviction`, `/api/v1/namespaces/{ns}/events`,
//! `/apis/apps/v1/namespaces/{ns}/deployments`, `/apis/policy/v1/...`
//! and `/apis/scheduling.k8s.io/v1/priorityclasses`. Errors are `Status`
//! objects with Kubernetes' reasons and messages.
//!
//! [`KubeService`] holds the [`LiveCluster`] (pure) behind one lock, gives
//! it the daemon's clock, and commits its writes to the store before a
//! request is answered; a failed commit reloads the cluster from the
//! store, so memory never runs ahead of disk. A ticker lets time pass for
//! `tolerationSeconds`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use cloudlet_core::SharedClock;
use cloudlet_scheduler::config::Profile;
use cloudlet_scheduler::live::{ApiError, Kind, KubeStore, KubeStoreError, LiveCluster};
use serde_json::{Value, json};

use crate::AppState;

/// How often the ticker lets the cluster's time pass.
const TICK: Duration = Duration::from_secs(1);

/// The live cluster, its store and its clock.
#[derive(Debug)]
pub struct KubeService {
    cluster: Mutex<LiveCluster>,
    store: Arc<dyn KubeStore>,
    clock: SharedClock,
}

impl KubeService {
    /// Loads the cluster from the store.
    pub fn open(store: Arc<dyn KubeStore>, clock: SharedClock) -> Result<Arc<KubeService>, KubeStoreError> {
        let objects = store.load_kube()?;
        let cluster = LiveCluster::new(objects, Profile::default());
        Ok(Arc::new(KubeService { cluster: Mutex::new(cluster), store, clock }))
    }

    /// Starts the ticker on the current tokio runtime; it stops when the
    /// runtime does.
    pub fn start_ticker(self: &Arc<Self>) {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                service.clock.sleep(TICK).await;
                let service = Arc::clone(&service);
                let ticked = tokio::task::spawn_blocking(move || {
                    service.run(|cluster, now| {
                        cluster.advance(now);
                        Ok(())
                    })
                })
                .await;
                if let Ok(Err(err)) = ticked {
                    tracing::warn!(message = %err.message, "kube: letting time pass failed");
                }
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, LiveCluster> {
        // The cluster is only changed through `run`, which restores it from
        // the store when a commit fails; a poisoned lock is still consistent.
        self.cluster.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one change and commits what it wrote before returning.
    fn run<T>(&self, change: impl FnOnce(&mut LiveCluster, u64) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut cluster = self.lock();
        let now = self.clock.now().as_unix_millis();
        let result = change(&mut cluster, now);
        let writes = cluster.take_writes();
        if let Err(err) = self.store.commit_kube(&writes) {
            tracing::error!(error = %cloudlet_core::ErrorChain(&err), "kube: cannot commit; reloading from the store");
            if let Ok(objects) = self.store.load_kube() {
                *cluster = LiveCluster::new(objects, Profile::default());
            }
            return Err(internal(&format!("the store refused the change: {}", cloudlet_core::ErrorChain(&err))));
        }
        result
    }
}

fn internal(message: &str) -> ApiError {
    ApiError {
        code: 500,
        reason: "InternalError",
        message: format!("Internal error occurred: {message}"),
        kind: Kind::Pod,
        name: String::new(),
        causes: Vec::new(),
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/{*path}", any(handle)).route("/apis/{*path}", any(handle))
}

/// What a path names.
#[derive(Debug, PartialEq)]
struct Target {
    kind: Kind,
    /// `None` for cluster-scoped kinds and for lists across namespaces.
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, "v1", rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, rest @ ..] => (Some(ns.to_string()), {
            let mut v = vec![*plural];
            v.extend_from_slice(rest);
            v
        }),
        other => (None, other.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    let kind = Kind::from_plural(plural)?;
    if kind.group() != group {
        return None;
    }
    if !kind.namespaced() && namespace.is_some() {
        // `/api/v1/namespaces/{name}` alone is the Namespace object itself.
        return None;
    }
    Some(Target { kind, namespace, name, subresource })
}

/// `/api/v1/namespaces/{name}` names a Namespace, not a collection inside it.
fn parse(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let ["api", "v1", "namespaces", name] = parts.as_slice() {
        return Some(Target {
            kind: Kind::Namespace,
            namespace: None,
            name: Some(name.to_string()),
            subresource: None,
        });
    }
    parse_path(path)
}

async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(service) = state.kube() else {
        return status_response(&internal("the Kubernetes API is not running in this daemon"));
    };
    let Some(target) = parse(uri.path()) else {
        return not_found_path(uri.path());
    };
    let result = tokio::task::spawn_blocking(move || dispatch(&service, &method, target, query.as_deref(), &body))
        .await
        .unwrap_or_else(|join| Err(internal(&join.to_string())));
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(err) => status_response(&err),
    }
}

fn dispatch(
    service: &KubeService,
    method: &Method,
    target: Target,
    query: Option<&str>,
    body: &[u8],
) -> Result<(StatusCode, Value), ApiError> {
    let Target { kind, namespace, name, subresource } = target;
    let ns = namespace.clone().unwrap_or_default();
    let parse_body = |name: &str| -> Result<Value, ApiError> {
        serde_json::from_slice(body)
            .map_err(|err| ApiError::bad_request(kind, name, format!("the request body is not valid JSON: {err}")))
    };
    match (method.clone(), name, subresource) {
        (Method::GET, None, None) => {
            let cluster = service.lock();
            let filters = Filters::parse(query);
            let items: Vec<Value> =
                cluster.list(kind, namespace.as_deref()).into_iter().filter(|o| filters.matches(o)).cloned().collect();
            let list = json!({
                "kind": format!("{}List", kind.as_str()),
                "apiVersion": kind.api_version(),
                "metadata": { "resourceVersion": cluster.resource_version() },
                "items": items,
            });
            Ok((StatusCode::OK, list))
        }
        (Method::POST, None, None) => {
            let body = parse_body("")?;
            let created = service.run(|c, now| c.create(kind, &ns, body, now))?;
            Ok((StatusCode::CREATED, created))
        }
        (Method::GET, Some(name), None) => {
            let cluster = service.lock();
            Ok((StatusCode::OK, cluster.get(kind, &ns, &name)?.clone()))
        }
        (Method::PUT, Some(name), None) => {
            let body = parse_body(&name)?;
            Ok((StatusCode::OK, service.run(|c, now| c.replace(kind, &ns, &name, body, now))?))
        }
        (Method::PATCH, Some(name), None) => {
            let patch = parse_body(&name)?;
            Ok((StatusCode::OK, service.run(|c, now| c.merge_patch(kind, &ns, &name, &patch, now))?))
        }
        (Method::DELETE, Some(name), None) => {
            Ok((StatusCode::OK, service.run(|c, now| c.delete(kind, &ns, &name, now))?))
        }
        (Method::POST, Some(name), Some(sub)) if kind == Kind::Pod && sub == "eviction" => {
            service.run(|c, now| c.evict(&ns, &name, now))?;
            let status =
                json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201 });
            Ok((StatusCode::CREATED, status))
        }
        (method, name, _) => Err(ApiError {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!("the server does not allow this method on the requested resource ({method})"),
            kind,
            name: name.unwrap_or_default(),
            causes: Vec::new(),
        }),
    }
}

/// `fieldSelector` and `labelSelector` with `=`/`==`/`!=` terms, enough
/// for kubectl (`spec.nodeName=x`, `involvedObject.name=y`, `app=web`).
#[derive(Debug, Default)]
struct Filters {
    fields: Vec<(String, bool, String)>,
    labels: Vec<(String, bool, String)>,
}

impl Filters {
    fn parse(query: Option<&str>) -> Filters {
        let mut filters = Filters::default();
        for pair in query.unwrap_or_default().split('&') {
            let Some((key, value)) = pair.split_once('=') else { continue };
            let value = crate::routing::percent_decode(value);
            let list = match key {
                "fieldSelector" => &mut filters.fields,
                "labelSelector" => &mut filters.labels,
                _ => continue,
            };
            for term in value.split(',').filter(|t| !t.is_empty()) {
                let (k, equal, v) = if let Some((k, v)) = term.split_once("!=") {
                    (k, false, v)
                } else if let Some((k, v)) = term.split_once("==") {
                    (k, true, v)
                } else if let Some((k, v)) = term.split_once('=') {
                    (k, true, v)
                } else {
                    continue;
                };
                list.push((k.trim().to_string(), equal, v.trim().to_string()));
            }
        }
        filters
    }

    fn matches(&self, object: &Value) -> bool {
        let field_ok = self.fields.iter().all(|(path, equal, want)| {
            let pointer = format!("/{}", path.replace('.', "/"));
            let got = object.pointer(&pointer).and_then(Value::as_str).unwrap_or_default();
            (got == want) == *equal
        });
        let label_ok = self.labels.iter().all(|(key, equal, want)| {
            let got = object.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str);
            (got == Some(want.as_str())) == *equal
        });
        field_ok && label_ok
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn status_response(err: &ApiError) -> Response {
    let status = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &err.status())
}

fn not_found_path(path: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("the server could not find the requested resource ({path})"),
        "reason": "NotFound",
        "details": {},
        "code": 404,
    });
    json_response(StatusCode::NOT_FOUND, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_kinds_namespaces_and_subresources() {
        let t = parse("/api/v1/namespaces/default/pods/web/eviction").expect("eviction");
        assert_eq!(
            t,
            Target {
                kind: Kind::Pod,
                namespace: Some("default".into()),
                name: Some("web".into()),
                subresource: Some("eviction".into())
            }
        );
        assert_eq!(parse("/api/v1/nodes/a").map(|t| (t.kind, t.name)), Some((Kind::Node, Some("a".into()))));
        assert_eq!(
            parse("/api/v1/namespaces/team").map(|t| (t.kind, t.name)),
            Some((Kind::Namespace, Some("team".into())))
        );
        assert_eq!(parse("/api/v1/pods").map(|t| (t.kind, t.namespace)), Some((Kind::Pod, None)));
        assert_eq!(parse("/apis/apps/v1/namespaces/x/deployments").map(|t| t.kind), Some(Kind::Deployment));
        assert_eq!(parse("/apis/apps/v1/nodes"), None, "nodes are in the core group");
        assert_eq!(parse("/api/v1/widgets"), None);
    }

    #[test]
    fn selectors_filter_by_field_and_label() {
        let pod = json!({ "metadata": { "labels": { "app": "web" } }, "spec": { "nodeName": "a" } });
        assert!(Filters::parse(Some("fieldSelector=spec.nodeName%3Da")).matches(&pod));
        assert!(!Filters::parse(Some("fieldSelector=spec.nodeName%3Db")).matches(&pod));
        assert!(Filters::parse(Some("labelSelector=app%3Dweb&limit=500")).matches(&pod));
        assert!(!Filters::parse(Some("labelSelector=app!%3Dweb")).matches(&pod));
    }
}
