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
pub static MIGRATIONS: &[Migration] = &[Migration {
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
}];

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
