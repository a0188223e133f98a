//! [`KubeStore`] for [`Store`]: the live Kubernetes cluster's objects in the
//! table of the `kube` migration.
//!
//! One row per object (kind, namespace, name), its Kubernetes JSON as text
//! and its creation sequence, which orders the scheduling queue after a
//! restart. A commit is one transaction: a request's writes land together
//! or not at all.

use cloudlet_scheduler::live::{Kind, KubeStore, KubeStoreError, KubeWrite, StoredObject};
use rusqlite::{TransactionBehavior, params};

use crate::Store;

/// A row this build cannot read back.
#[derive(Debug, thiserror::Error)]
enum CorruptRow {
    #[error("kube_objects row `{kind}/{namespace}/{name}` has an unknown kind")]
    Kind { kind: String, namespace: String, name: String },
    #[error("kube_objects row `{kind}/{namespace}/{name}` has malformed JSON in `body_json`")]
    Json {
        kind: String,
        namespace: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

fn failed(operation: &'static str) -> impl Fn(rusqlite::Error) -> KubeStoreError {
    move |source| KubeStoreError { operation, source: Box::new(source) }
}

impl KubeStore for Store {
    fn load_kube(&self) -> Result<Vec<StoredObject>, KubeStoreError> {
        let sql = failed("load_kube");
        let conn = self.lock();
        let mut statement = conn
            .prepare("SELECT kind, namespace, name, seq, body_json FROM kube_objects ORDER BY seq")
            .map_err(&sql)?;
        let mut rows = statement.query([]).map_err(&sql)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(&sql)? {
            let kind_text: String = row.get(0).map_err(&sql)?;
            let namespace: String = row.get(1).map_err(&sql)?;
            let name: String = row.get(2).map_err(&sql)?;
            let seq: i64 = row.get(3).map_err(&sql)?;
            let body: String = row.get(4).map_err(&sql)?;
            let Some(kind) = Kind::parse(&kind_text) else {
                let source = CorruptRow::Kind { kind: kind_text, namespace, name };
                return Err(KubeStoreError { operation: "load_kube", source: Box::new(source) });
            };
            let body = serde_json::from_str(&body).map_err(|source| KubeStoreError {
                operation: "load_kube",
                source: Box::new(CorruptRow::Json {
                    kind: kind_text.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    source,
                }),
            })?;
            out.push(StoredObject { kind, namespace, name, seq: u64::try_from(seq).unwrap_or(0), body });
        }
        Ok(out)
    }

    fn commit_kube(&self, writes: &[KubeWrite]) -> Result<(), KubeStoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let sql = failed("commit_kube");
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO kube_objects (kind, namespace, name, seq, body_json) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (kind, namespace, name) DO UPDATE SET seq = excluded.seq, body_json = excluded.body_json",
                )
                .map_err(&sql)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM kube_objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3")
                .map_err(&sql)?;
            for write in writes {
                match write {
                    KubeWrite::Put(o) => {
                        let seq = i64::try_from(o.seq).unwrap_or(i64::MAX);
                        put.execute(params![o.kind.as_str(), o.namespace, o.name, seq, o.body.to_string()])
                            .map_err(&sql)?;
                    }
                    KubeWrite::Delete { kind, namespace, name } => {
                        delete.execute(params![kind.as_str(), namespace, name]).map_err(&sql)?;
                    }
                }
            }
        }
        tx.commit().map_err(&sql)
    }
}

#[cfg(test)]
mod tests {
    use cloudlet_core::Timestamp;
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_round_trip_and_deletes_remove_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cloudlet.db");
        let store = Store::open(&path, Timestamp::from_unix_millis(0)).expect("open");
        let object = |name: &str, seq| StoredObject {
            kind: Kind::Pod,
            namespace: "default".into(),
            name: name.into(),
            seq,
            body: json!({ "kind": "Pod", "metadata": { "name": name } }),
        };
        store.commit_kube(&[KubeWrite::Put(object("b", 2)), KubeWrite::Put(object("a", 1))]).expect("commit");
        store
            .commit_kube(&[
                KubeWrite::Put(object("b", 2)),
                KubeWrite::Put(object("c", 3)),
                KubeWrite::Delete { kind: Kind::Pod, namespace: "default".into(), name: "a".into() },
            ])
            .expect("commit");
        drop(store);
        let store = Store::open(&path, Timestamp::from_unix_millis(0)).expect("reopen");
        let loaded = store.load_kube().expect("load");
        assert_eq!(loaded, vec![object("b", 2), object("c", 3)]);
    }
}
