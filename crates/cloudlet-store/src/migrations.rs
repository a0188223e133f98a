//! The schema, as an ordered list of migrations per subsystem.
//!
//! A migration is never edited once released: a schema change is a new
//! migration with the next version of its subsystem. Each migration runs in
//! its own transaction together with the row that records it, so a crash
//! mid-migration leaves the previous version intact.

/// One step of one subsystem's schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The subsystem that owns the tables (`store`, `functions`, `queues`, ...).
    pub subsystem: &'static str,
    /// 1, 2, 3, ... within the subsystem, without gaps.
    pub version: u32,
    pub description: &'static str,
    /// Statements separated by `;`, in SQL that SQLite and PostgreSQL share.
    pub sql: &'static str,
}

/// Every migration this build knows, in the order they apply.
pub static MIGRATIONS: &[Migration] = &[
    Migration {
        subsystem: "store",
        version: 1,
        description: "store identity and daemon starts",
        sql: "
        CREATE TABLE store_meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE daemon_starts (
            seq           INTEGER PRIMARY KEY,
            started_at_ms BIGINT NOT NULL,
            pid           BIGINT NOT NULL,
            version       TEXT NOT NULL
        );
    ",
    },
    Migration {
        subsystem: "functions",
        version: 1,
        description: "functions, versions, aliases and concurrency settings",
        // One row per function ($LATEST inline), one per published version,
        // alias and concurrency setting. Maps (environment, tags, routing
        // weights) are JSON text. Everything hangs off `functions` with
        // ON DELETE CASCADE, so deleting a function is one statement.
        sql: "
        CREATE TABLE functions (
            name             TEXT PRIMARY KEY,
            runtime          TEXT NOT NULL,
            handler          TEXT NOT NULL,
            memory_mb        INTEGER NOT NULL,
            timeout_s        INTEGER NOT NULL,
            environment_json TEXT NOT NULL,
            description      TEXT NOT NULL,
            role             TEXT NOT NULL,
            architecture     TEXT NOT NULL,
            code_sha256      TEXT NOT NULL,
            code_sha256_hex  TEXT NOT NULL,
            code_size_bytes  BIGINT NOT NULL,
            revision_id      TEXT NOT NULL,
            last_modified_ms BIGINT NOT NULL,
            dead_letter_target_arn TEXT,
            state            TEXT NOT NULL,
            last_version     INTEGER NOT NULL,
            tags_json        TEXT NOT NULL,
            created_at_ms    BIGINT NOT NULL
        );
        CREATE TABLE function_versions (
            function_name    TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
            version          INTEGER NOT NULL,
            runtime          TEXT NOT NULL,
            handler          TEXT NOT NULL,
            memory_mb        INTEGER NOT NULL,
            timeout_s        INTEGER NOT NULL,
            environment_json TEXT NOT NULL,
            description      TEXT NOT NULL,
            role             TEXT NOT NULL,
            architecture     TEXT NOT NULL,
            code_sha256      TEXT NOT NULL,
            code_sha256_hex  TEXT NOT NULL,
            code_size_bytes  BIGINT NOT NULL,
            revision_id      TEXT NOT NULL,
            last_modified_ms BIGINT NOT NULL,
            dead_letter_target_arn TEXT,
            published_from_revision TEXT NOT NULL,
            PRIMARY KEY (function_name, version)
        );
        CREATE TABLE function_aliases (
            function_name    TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
            name             TEXT NOT NULL,
            function_version TEXT NOT NULL,
            description      TEXT NOT NULL,
            routing_json     TEXT NOT NULL,
            revision_id      TEXT NOT NULL,
            PRIMARY KEY (function_name, name)
        );
        CREATE TABLE function_reserved_concurrency (
            function_name TEXT PRIMARY KEY REFERENCES functions (name) ON DELETE CASCADE,
            reserved      INTEGER NOT NULL
        );
        CREATE TABLE function_provisioned_concurrency (
            function_name    TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
            qualifier        TEXT NOT NULL,
            requested        INTEGER NOT NULL,
            last_modified_ms BIGINT NOT NULL,
            PRIMARY KEY (function_name, qualifier)
        );
    ",
    },
    Migration {
        subsystem: "functions",
        version: 2,
        description: "the durable queue of asynchronous invocations and their settings",
        // Payloads are validated JSON, so TEXT holds them in both SQLite and
        // PostgreSQL. No foreign key: an event outlives a deleted function
        // long enough to fail properly.
        sql: "
        CREATE TABLE function_async_events (
            id             TEXT PRIMARY KEY,
            function_name  TEXT NOT NULL,
            qualifier      TEXT,
            payload        TEXT NOT NULL,
            enqueued_at_ms BIGINT NOT NULL,
            attempts       INTEGER NOT NULL,
            invocations    INTEGER NOT NULL,
            not_before_ms  BIGINT NOT NULL
        );
        CREATE INDEX function_async_events_due ON function_async_events (not_before_ms);
        CREATE TABLE function_event_invoke_configs (
            function_name          TEXT NOT NULL,
            qualifier              TEXT NOT NULL,
            maximum_retry_attempts INTEGER NOT NULL,
            maximum_event_age_s    INTEGER NOT NULL,
            on_success             TEXT,
            on_failure             TEXT,
            last_modified_ms       BIGINT NOT NULL,
            PRIMARY KEY (function_name, qualifier)
        );
    ",
    },
    Migration {
        subsystem: "functions",
        version: 3,
        description: "event source mappings",
        // One row per mapping; its settings are a JSON object so that new
        // members need no migration.
        sql: "
        CREATE TABLE function_event_source_mappings (
            uuid             TEXT PRIMARY KEY,
            event_source_arn TEXT NOT NULL,
            function_name    TEXT NOT NULL,
            settings_json    TEXT NOT NULL
        );
    ",
    },
    Migration {
        subsystem: "queues",
        version: 1,
        description: "SQS queues, messages and FIFO deduplication ids",
        // Attribute maps are JSON text. Message bodies are TEXT: SQS allows
        // only Unicode characters in them. No foreign keys: deleting a queue
        // deletes its rows explicitly in the same transaction.
        sql: "
        CREATE TABLE sqs_queues (
            name             TEXT PRIMARY KEY,
            attributes_json  TEXT NOT NULL,
            tags_json        TEXT NOT NULL,
            created_at_ms    BIGINT NOT NULL,
            last_modified_ms BIGINT NOT NULL
        );
        CREATE TABLE sqs_messages (
            queue_name            TEXT NOT NULL,
            seq                   BIGINT NOT NULL,
            message_id            TEXT NOT NULL,
            body                  TEXT NOT NULL,
            attributes_json       TEXT NOT NULL,
            trace_header          TEXT,
            sent_at_ms            BIGINT NOT NULL,
            first_receive_at_ms   BIGINT,
            receive_count         INTEGER NOT NULL,
            visible_at_ms         BIGINT NOT NULL,
            received_at_ms        BIGINT,
            receipt               TEXT NOT NULL,
            group_id              TEXT,
            dedup_id              TEXT,
            dead_letter_source_arn TEXT,
            PRIMARY KEY (queue_name, seq)
        );
        CREATE TABLE sqs_dedup (
            queue_name    TEXT NOT NULL,
            dedup_key     TEXT NOT NULL,
            message_id    TEXT NOT NULL,
            seq           BIGINT NOT NULL,
            expires_at_ms BIGINT NOT NULL,
            PRIMARY KEY (queue_name, dedup_key)
        );
    ",
    },
    Migration {
        subsystem: "ci",
        version: 1,
        description: "CI run history: runs, jobs, legs, steps, logs, approvals, cache restores, concurrency groups",
        // Ids are assigned by the writer inside its transaction (no
        // AUTOINCREMENT/SERIAL, which differ). Log chunks are deflated
        // text; times are Unix milliseconds.
        sql: "
        CREATE TABLE ci_runs (
            run_id           BIGINT PRIMARY KEY,
            run_number       BIGINT NOT NULL,
            repository       TEXT NOT NULL,
            workflow         TEXT NOT NULL,
            workflow_path    TEXT NOT NULL,
            event            TEXT NOT NULL,
            git_ref          TEXT NOT NULL,
            sha              TEXT NOT NULL,
            commit_at_ms     BIGINT,
            status           TEXT NOT NULL,
            conclusion       TEXT,
            created_at_ms    BIGINT NOT NULL,
            started_at_ms    BIGINT,
            finished_at_ms   BIGINT,
            updated_at_ms    BIGINT NOT NULL,
            pid              BIGINT NOT NULL,
            pid_start        BIGINT NOT NULL,
            concurrency_group TEXT,
            cancel_requested TEXT,
            note             TEXT
        );
        CREATE INDEX ci_runs_by_workflow ON ci_runs (repository, workflow_path, run_number);
        CREATE TABLE ci_jobs (
            run_id      BIGINT NOT NULL REFERENCES ci_runs (run_id) ON DELETE CASCADE,
            job_id      TEXT NOT NULL,
            position    INTEGER NOT NULL,
            name        TEXT NOT NULL,
            needs_json  TEXT NOT NULL,
            environment TEXT,
            result      TEXT,
            PRIMARY KEY (run_id, job_id)
        );
        CREATE TABLE ci_legs (
            run_id         BIGINT NOT NULL REFERENCES ci_runs (run_id) ON DELETE CASCADE,
            job_id         TEXT NOT NULL,
            leg            INTEGER NOT NULL,
            name           TEXT NOT NULL,
            matrix_json    TEXT,
            status         TEXT NOT NULL,
            result         TEXT,
            outputs_json   TEXT NOT NULL,
            started_at_ms  BIGINT,
            finished_at_ms BIGINT,
            PRIMARY KEY (run_id, job_id, leg)
        );
        CREATE TABLE ci_steps (
            run_id         BIGINT NOT NULL REFERENCES ci_runs (run_id) ON DELETE CASCADE,
            job_id         TEXT NOT NULL,
            leg            INTEGER NOT NULL,
            step           INTEGER NOT NULL,
            name           TEXT NOT NULL,
            outcome        TEXT,
            conclusion     TEXT,
            started_at_ms  BIGINT NOT NULL,
            finished_at_ms BIGINT,
            PRIMARY KEY (run_id, job_id, leg, step)
        );
        CREATE TABLE ci_logs (
            run_id   BIGINT NOT NULL REFERENCES ci_runs (run_id) ON DELETE CASCADE,
            seq      BIGINT NOT NULL,
            leg_name TEXT NOT NULL,
            step     INTEGER NOT NULL,
            data     BYTEA NOT NULL,
            PRIMARY KEY (run_id, seq)
        );
        CREATE TABLE ci_approvals (
            run_id        BIGINT NOT NULL REFERENCES ci_runs (run_id) ON DELETE CASCADE,
            environment   TEXT NOT NULL,
            approved      INTEGER NOT NULL,
            actor         TEXT NOT NULL,
            comment       TEXT NOT NULL,
            decided_at_ms BIGINT NOT NULL,
            PRIMARY KEY (run_id, environment)
        );
        CREATE TABLE ci_caches (
            run_id    BIGINT NOT NULL REFERENCES ci_runs (run_id) ON DELETE CASCADE,
            seq       BIGINT NOT NULL,
            job_id    TEXT NOT NULL,
            leg       INTEGER NOT NULL,
            cache_key TEXT NOT NULL,
            hit       TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        );
        CREATE TABLE ci_concurrency (
            group_key TEXT NOT NULL,
            run_id    BIGINT NOT NULL REFERENCES ci_runs (run_id) ON DELETE CASCADE,
            state     TEXT NOT NULL,
            PRIMARY KEY (group_key, run_id)
        );
    ",
    },
    Migration {
        subsystem: "kube",
        version: 1,
        description: "the live Kubernetes cluster's objects (nodes, pods, deployments, budgets, events, ...)",
        // One row per API object, its Kubernetes JSON as text; `seq` is the
        // creation order (the scheduling queue's order among equals).
        // Cluster-scoped objects have an empty namespace.
        sql: "
        CREATE TABLE kube_objects (
            kind      TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name      TEXT NOT NULL,
            seq       BIGINT NOT NULL,
            body_json TEXT NOT NULL,
            PRIMARY KEY (kind, namespace, name)
        );
    ",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_per_subsystem() {
        let mut last: std::collections::HashMap<&str, u32> = Default::default();
        for migration in MIGRATIONS {
            let previous = last.insert(migration.subsystem, migration.version).unwrap_or(0);
            assert_eq!(
                migration.version,
                previous + 1,
                "{} migration {} follows {previous}",
                migration.subsystem,
                migration.version
            );
        }
    }
}
