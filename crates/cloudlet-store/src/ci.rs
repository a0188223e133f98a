//! CI run history in the tables of the `ci` migration: runs, jobs, legs,
//! steps, log chunks, approvals, cache restores and concurrency groups.
//!
//! [`StoreRecorder`] is the [`RunRecorder`] a running `cloudlet ci run`
//! writes through: one short transaction per event, so a run killed at
//! any moment is on record up to its last event. Log lines are kept in
//! memory per leg and written as a deflated chunk when a step or leg
//! ends. The read side serves `ci runs/show/logs/stats`; approvals and
//! concurrency-group changes come from other processes and are read by
//! the running one.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use cloudlet_ci::history::{
    ApprovalRecord, CacheHit, CacheRecord, JobRecord, LegRecord, RunDetail, RunEvent, RunRecord, RunRecorder,
    RunStatus, StepRecord,
};
use cloudlet_core::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::{Store, StoreError};

fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_unix_millis()).unwrap_or(i64::MAX)
}

fn ts(v: i64) -> Timestamp {
    Timestamp::from_unix_millis(u64::try_from(v).unwrap_or(0))
}

fn id(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn q(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query { operation, source: Box::new(source) }
}

/// A run about to start.
#[derive(Clone, Debug, Default)]
pub struct NewRun {
    pub repository: String,
    pub workflow: String,
    pub workflow_path: String,
    pub event: String,
    pub git_ref: String,
    pub sha: String,
    pub commit_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub pid: u32,
    pub pid_start: u64,
}

/// Which runs `ci runs` lists.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// The workflow's name or file path.
    pub workflow: Option<String>,
    pub status: Option<String>,
    pub limit: Option<usize>,
    pub since: Option<Timestamp>,
}

/// What became of `ci approve` / `ci reject`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalOutcome {
    Recorded,
    NoSuchRun,
    /// No job of the run waits for that environment.
    NotWaiting {
        waiting_for: Vec<String>,
    },
    AlreadyDecided(ApprovalRecord),
}

/// A run's place in its concurrency group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupState {
    Running,
    Pending,
    /// A newer run took its place (the message says why).
    Cancelled(String),
}

/// One stored chunk of a leg's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogChunk {
    pub leg_name: String,
    pub step: usize,
    pub text: String,
}

const RUN_COLUMNS: &str = "run_id, run_number, repository, workflow, workflow_path, event, git_ref, sha, \
     commit_at_ms, status, conclusion, created_at_ms, started_at_ms, finished_at_ms, pid, pid_start, note";

fn read_run(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let status: String = row.get(9)?;
    Ok(RunRecord {
        run_id: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
        run_number: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
        repository: row.get(2)?,
        workflow: row.get(3)?,
        workflow_path: row.get(4)?,
        event: row.get(5)?,
        git_ref: row.get(6)?,
        sha: row.get(7)?,
        commit_at: row.get::<_, Option<i64>>(8)?.map(ts),
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Completed),
        conclusion: row.get(10)?,
        created_at: ts(row.get(11)?),
        started_at: row.get::<_, Option<i64>>(12)?.map(ts),
        finished_at: row.get::<_, Option<i64>>(13)?.map(ts),
        pid: u32::try_from(row.get::<_, i64>(14)?).unwrap_or(0),
        pid_start: u64::try_from(row.get::<_, i64>(15)?).unwrap_or(0),
        note: row.get(16)?,
    })
}

impl Store {
    /// Records a new run (status `queued`), numbering it after the
    /// workflow's previous runs in the repository.
    pub fn ci_create_run(&self, new: &NewRun) -> Result<RunRecord, StoreError> {
        let sql = q("ci_create_run");
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        let run_id: i64 =
            tx.query_row("SELECT COALESCE(MAX(run_id), 0) + 1 FROM ci_runs", [], |r| r.get(0)).map_err(&sql)?;
        let number: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(run_number), 0) + 1 FROM ci_runs WHERE repository = ?1 AND workflow_path = ?2",
                params![new.repository, new.workflow_path],
                |r| r.get(0),
            )
            .map_err(&sql)?;
        tx.execute(
            "INSERT INTO ci_runs (run_id, run_number, repository, workflow, workflow_path, event, git_ref, sha,
                 commit_at_ms, status, created_at_ms, updated_at_ms, pid, pid_start)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10, ?11, ?12)",
            params![
                run_id,
                number,
                new.repository,
                new.workflow,
                new.workflow_path,
                new.event,
                new.git_ref,
                new.sha,
                new.commit_at.map(ms),
                ms(new.created_at),
                i64::from(new.pid),
                id(new.pid_start)
            ],
        )
        .map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        drop(conn);
        self.ci_run(u64::try_from(run_id).unwrap_or(0))?
            .ok_or_else(|| StoreError::Query { operation: "ci_create_run", source: "the new run is missing".into() })
    }

    /// Sets a running run's status (`pending`, `in_progress`, `waiting`);
    /// the first `in_progress` sets its start.
    pub fn ci_set_status(&self, run_id: u64, status: RunStatus, at: Timestamp) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE ci_runs SET status = ?2, updated_at_ms = ?3,
                     started_at_ms = CASE WHEN ?2 = 'in_progress' AND started_at_ms IS NULL THEN ?3 ELSE started_at_ms END
                 WHERE run_id = ?1 AND status <> 'completed'",
                params![id(run_id), status.as_str(), ms(at)],
            )
            .map(drop)
            .map_err(q("ci_set_status"))
    }

    /// Completes a run and leaves its concurrency group.
    pub fn ci_finish_run(
        &self,
        run_id: u64,
        conclusion: &str,
        at: Timestamp,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = q("ci_finish_run");
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        tx.execute(
            "UPDATE ci_runs SET status = 'completed', conclusion = ?2, finished_at_ms = ?3, updated_at_ms = ?3,
                 started_at_ms = COALESCE(started_at_ms, ?3), note = COALESCE(?4, note)
             WHERE run_id = ?1 AND status <> 'completed'",
            params![id(run_id), conclusion, ms(at), note],
        )
        .map_err(&sql)?;
        // Jobs and legs the run never finished end with it.
        tx.execute(
            "UPDATE ci_legs SET status = 'completed', result = COALESCE(result, 'cancelled'),
                 finished_at_ms = CASE WHEN started_at_ms IS NULL THEN NULL ELSE COALESCE(finished_at_ms, ?2) END
             WHERE run_id = ?1 AND status <> 'completed'",
            params![id(run_id), ms(at)],
        )
        .map_err(&sql)?;
        tx.execute("UPDATE ci_jobs SET result = 'cancelled' WHERE run_id = ?1 AND result IS NULL", params![id(run_id)])
            .map_err(&sql)?;
        tx.execute("DELETE FROM ci_concurrency WHERE run_id = ?1", params![id(run_id)]).map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    pub fn ci_run(&self, run_id: u64) -> Result<Option<RunRecord>, StoreError> {
        self.lock()
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM ci_runs WHERE run_id = ?1"), params![id(run_id)], read_run)
            .optional()
            .map_err(q("ci_run"))
    }

    /// Runs, newest first.
    pub fn ci_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let sql = q("ci_runs");
        let conn = self.lock();
        let mut statement = conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM ci_runs
                 WHERE (?1 IS NULL OR LOWER(workflow) = LOWER(?1) OR workflow_path = ?1)
                   AND (?2 IS NULL OR status = ?2 OR conclusion = ?2)
                   AND (?3 IS NULL OR created_at_ms >= ?3)
                 ORDER BY run_id DESC LIMIT ?4"
            ))
            .map_err(&sql)?;
        let limit = filter.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = statement
            .query_map(params![filter.workflow, filter.status, filter.since.map(ms), limit], read_run)
            .map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(&sql)
    }

    /// A run with its jobs, legs, steps, approvals and cache restores.
    pub fn ci_run_detail(&self, run_id: u64) -> Result<Option<RunDetail>, StoreError> {
        let Some(run) = self.ci_run(run_id)? else { return Ok(None) };
        let conn = self.lock();
        detail(&conn, run).map(Some).map_err(q("ci_run_detail"))
    }

    /// Every run the filter selects, with details, for statistics.
    pub fn ci_run_details(&self, filter: &RunFilter) -> Result<Vec<RunDetail>, StoreError> {
        let runs = self.ci_runs(filter)?;
        let conn = self.lock();
        runs.into_iter().map(|r| detail(&conn, r)).collect::<Result<_, _>>().map_err(q("ci_run_details"))
    }

    /// Marks a run whose process died: completed, conclusion `failure`,
    /// ended at its last recorded activity.
    pub fn ci_mark_dead(&self, run_id: u64, note: &str) -> Result<(), StoreError> {
        let last: Option<i64> = self
            .lock()
            .query_row("SELECT updated_at_ms FROM ci_runs WHERE run_id = ?1", params![id(run_id)], |r| r.get(0))
            .optional()
            .map_err(q("ci_mark_dead"))?;
        match last {
            Some(at) => self.ci_finish_run(run_id, "failure", ts(at), Some(note)),
            None => Ok(()),
        }
    }

    /// The run's log, chunk by chunk in the order written.
    pub fn ci_logs(&self, run_id: u64) -> Result<Vec<LogChunk>, StoreError> {
        let sql = q("ci_logs");
        let conn = self.lock();
        let mut statement =
            conn.prepare("SELECT leg_name, step, data FROM ci_logs WHERE run_id = ?1 ORDER BY seq").map_err(&sql)?;
        let rows = statement
            .query_map(params![id(run_id)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?))
            })
            .map_err(&sql)?;
        let mut out = Vec::new();
        for row in rows {
            let (leg_name, step, data) = row.map_err(&sql)?;
            let text = cloudlet_ci::history::decompress_log(&data)
                .map_err(|e| StoreError::Query { operation: "ci_logs", source: Box::new(e) })?;
            out.push(LogChunk { leg_name, step: usize::try_from(step).unwrap_or(0), text });
        }
        Ok(out)
    }

    /// Records a reviewer's decision on a run's deployment to
    /// `environment`; the first decision stands, as on GitHub.
    pub fn ci_decide(
        &self,
        run_id: u64,
        environment: &str,
        approved: bool,
        actor: &str,
        comment: &str,
        at: Timestamp,
    ) -> Result<ApprovalOutcome, StoreError> {
        let sql = q("ci_decide");
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        let exists: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM ci_runs WHERE run_id = ?1)", params![id(run_id)], |r| r.get(0))
            .map_err(&sql)?;
        if !exists {
            return Ok(ApprovalOutcome::NoSuchRun);
        }
        if let Some(prior) = approval(&tx, run_id, environment).map_err(&sql)? {
            return Ok(ApprovalOutcome::AlreadyDecided(prior));
        }
        let mut statement = tx
            .prepare(
                "SELECT DISTINCT j.environment FROM ci_jobs j JOIN ci_legs l ON l.run_id = j.run_id AND l.job_id = j.job_id
                 WHERE j.run_id = ?1 AND l.status = 'waiting' AND j.environment IS NOT NULL ORDER BY j.environment",
            )
            .map_err(&sql)?;
        let waiting: Vec<String> = statement
            .query_map(params![id(run_id)], |r| r.get(0))
            .map_err(&sql)?
            .collect::<Result<_, _>>()
            .map_err(&sql)?;
        drop(statement);
        if !waiting.iter().any(|w| w.eq_ignore_ascii_case(environment)) {
            return Ok(ApprovalOutcome::NotWaiting { waiting_for: waiting });
        }
        tx.execute(
            "INSERT INTO ci_approvals (run_id, environment, approved, actor, comment, decided_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id(run_id), environment.to_lowercase(), i64::from(approved), actor, comment, ms(at)],
        )
        .map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(ApprovalOutcome::Recorded)
    }

    /// Puts a run into concurrency group `group` (names ignore case), by
    /// GitHub's rules: at most one running and one pending run; a newer
    /// run replaces the pending one, and with `cancel_in_progress` also
    /// asks the running one to stop. Members whose process is gone
    /// (`alive` says no) are dropped first.
    pub fn ci_enter_group(
        &self,
        run_id: u64,
        group: &str,
        cancel_in_progress: bool,
        alive: &dyn Fn(u32, u64) -> bool,
    ) -> Result<GroupState, StoreError> {
        let sql = q("ci_enter_group");
        let key = group.to_lowercase();
        let message = format!("Canceling since a higher priority waiting request for '{group}' exists");
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        let members = group_members(&tx, &key).map_err(&sql)?;
        let mut running = None;
        for (member, state, pid, pid_start) in members {
            if !alive(pid, pid_start) {
                tx.execute("DELETE FROM ci_concurrency WHERE run_id = ?1", params![id(member)]).map_err(&sql)?;
                continue;
            }
            if state == "running" {
                running = Some(member);
                if cancel_in_progress {
                    tx.execute(
                        "UPDATE ci_runs SET cancel_requested = ?2 WHERE run_id = ?1",
                        params![id(member), message],
                    )
                    .map_err(&sql)?;
                }
            } else {
                // The older pending run is replaced.
                tx.execute("DELETE FROM ci_concurrency WHERE run_id = ?1", params![id(member)]).map_err(&sql)?;
                tx.execute("UPDATE ci_runs SET cancel_requested = ?2 WHERE run_id = ?1", params![id(member), message])
                    .map_err(&sql)?;
            }
        }
        let state = if running.is_some() { "pending" } else { "running" };
        tx.execute(
            "INSERT INTO ci_concurrency (group_key, run_id, state) VALUES (?1, ?2, ?3)",
            params![key, id(run_id), state],
        )
        .map_err(&sql)?;
        tx.execute("UPDATE ci_runs SET concurrency_group = ?2 WHERE run_id = ?1", params![id(run_id), group])
            .map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(if running.is_some() { GroupState::Pending } else { GroupState::Running })
    }

    /// A pending run's turn: it becomes `Running` once the running member
    /// is gone, or learns it was replaced.
    pub fn ci_group_poll(&self, run_id: u64, alive: &dyn Fn(u32, u64) -> bool) -> Result<GroupState, StoreError> {
        let sql = q("ci_group_poll");
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        if let Some(reason) = cancel_reason(&tx, run_id).map_err(&sql)? {
            return Ok(GroupState::Cancelled(reason));
        }
        let Some(key) = tx
            .query_row("SELECT group_key FROM ci_concurrency WHERE run_id = ?1", params![id(run_id)], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(&sql)?
        else {
            return Ok(GroupState::Cancelled("the run left its concurrency group".to_owned()));
        };
        let mut other_running = false;
        for (member, state, pid, pid_start) in group_members(&tx, &key).map_err(&sql)? {
            if member == run_id {
                continue;
            }
            if !alive(pid, pid_start) {
                tx.execute("DELETE FROM ci_concurrency WHERE run_id = ?1", params![id(member)]).map_err(&sql)?;
            } else if state == "running" {
                other_running = true;
            }
        }
        if other_running {
            tx.commit().map_err(&sql)?;
            return Ok(GroupState::Pending);
        }
        tx.execute("UPDATE ci_concurrency SET state = 'running' WHERE run_id = ?1", params![id(run_id)])
            .map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(GroupState::Running)
    }
}

fn group_members(conn: &Connection, key: &str) -> rusqlite::Result<Vec<(u64, String, u32, u64)>> {
    let mut statement = conn.prepare(
        "SELECT c.run_id, c.state, r.pid, r.pid_start FROM ci_concurrency c JOIN ci_runs r ON r.run_id = c.run_id
         WHERE c.group_key = ?1 ORDER BY c.run_id",
    )?;
    let rows = statement.query_map(params![key], |r| {
        Ok((
            u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
            r.get(1)?,
            u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
        ))
    })?;
    rows.collect()
}

fn cancel_reason(conn: &Connection, run_id: u64) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT cancel_requested FROM ci_runs WHERE run_id = ?1", params![id(run_id)], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

fn approval(conn: &Connection, run_id: u64, environment: &str) -> rusqlite::Result<Option<ApprovalRecord>> {
    conn.query_row(
        "SELECT environment, approved, actor, comment, decided_at_ms FROM ci_approvals
         WHERE run_id = ?1 AND environment = ?2",
        params![id(run_id), environment.to_lowercase()],
        read_approval,
    )
    .optional()
}

fn read_approval(r: &Row<'_>) -> rusqlite::Result<ApprovalRecord> {
    Ok(ApprovalRecord {
        environment: r.get(0)?,
        approved: r.get::<_, i64>(1)? != 0,
        actor: r.get(2)?,
        comment: r.get(3)?,
        at: ts(r.get(4)?),
    })
}

fn detail(conn: &Connection, run: RunRecord) -> rusqlite::Result<RunDetail> {
    let rid = id(run.run_id);
    let mut jobs: Vec<JobRecord> = Vec::new();
    let mut statement = conn.prepare(
        "SELECT job_id, name, needs_json, environment, result FROM ci_jobs WHERE run_id = ?1 ORDER BY position",
    )?;
    let rows = statement.query_map(params![rid], |r| {
        let needs: String = r.get(2)?;
        Ok(JobRecord {
            job_id: r.get(0)?,
            name: r.get(1)?,
            needs: serde_json::from_str(&needs).unwrap_or_default(),
            environment: r.get(3)?,
            result: r.get(4)?,
            legs: Vec::new(),
        })
    })?;
    for row in rows {
        jobs.push(row?);
    }
    let mut legs = conn.prepare(
        "SELECT job_id, leg, name, matrix_json, status, result, outputs_json, started_at_ms, finished_at_ms
         FROM ci_legs WHERE run_id = ?1 ORDER BY job_id, leg",
    )?;
    let rows = legs.query_map(params![rid], |r| {
        Ok((
            r.get::<_, String>(0)?,
            LegRecord {
                leg: usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                name: r.get(2)?,
                matrix_json: r.get(3)?,
                status: r.get(4)?,
                result: r.get(5)?,
                outputs_json: r.get(6)?,
                started_at: r.get::<_, Option<i64>>(7)?.map(ts),
                finished_at: r.get::<_, Option<i64>>(8)?.map(ts),
                steps: Vec::new(),
            },
        ))
    })?;
    for row in rows {
        let (job_id, leg) = row?;
        if let Some(j) = jobs.iter_mut().find(|j| j.job_id == job_id) {
            j.legs.push(leg);
        }
    }
    let mut steps = conn.prepare(
        "SELECT job_id, leg, step, name, outcome, conclusion, started_at_ms, finished_at_ms
         FROM ci_steps WHERE run_id = ?1 ORDER BY job_id, leg, step",
    )?;
    let rows = steps.query_map(params![rid], |r| {
        Ok((
            r.get::<_, String>(0)?,
            usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            StepRecord {
                step: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                name: r.get(3)?,
                outcome: r.get(4)?,
                conclusion: r.get(5)?,
                started_at: ts(r.get(6)?),
                finished_at: r.get::<_, Option<i64>>(7)?.map(ts),
            },
        ))
    })?;
    for row in rows {
        let (job_id, leg, step) = row?;
        if let Some(l) =
            jobs.iter_mut().find(|j| j.job_id == job_id).and_then(|j| j.legs.iter_mut().find(|l| l.leg == leg))
        {
            l.steps.push(step);
        }
    }
    let mut approvals_stmt = conn.prepare(
        "SELECT environment, approved, actor, comment, decided_at_ms FROM ci_approvals WHERE run_id = ?1
         ORDER BY decided_at_ms",
    )?;
    let approvals = approvals_stmt.query_map(params![rid], read_approval)?.collect::<Result<_, _>>()?;
    let mut caches_stmt =
        conn.prepare("SELECT job_id, cache_key, hit FROM ci_caches WHERE run_id = ?1 ORDER BY seq")?;
    let caches = caches_stmt
        .query_map(params![rid], |r| {
            let hit: String = r.get(2)?;
            Ok(CacheRecord {
                run_id: run.run_id,
                job_id: r.get(0)?,
                key: r.get(1)?,
                hit: CacheHit::parse(&hit).unwrap_or(CacheHit::Miss),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(RunDetail { run, jobs, approvals, caches })
}

/// The [`RunRecorder`] of one run, writing into the store.
///
/// Events are written by a writer thread that commits whatever has queued
/// up in one transaction (group commit): one WAL sync for a burst of
/// events instead of one each, so recording costs a step little. The
/// delay before an event is on disk is one commit, a few milliseconds.
#[derive(Debug)]
pub struct StoreRecorder {
    store: Arc<Store>,
    run_id: u64,
    state: Mutex<RecorderState>,
    queue: Mutex<Option<mpsc::Sender<Op>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct RecorderState {
    /// Each leg's name, by (job, leg).
    names: HashMap<(String, usize), String>,
    /// Unwritten log lines per leg name, with the step they belong to.
    logs: HashMap<String, (usize, Vec<String>)>,
    /// Jobs waiting for their environment.
    waiting: Vec<String>,
    seq: i64,
}

/// One write for the writer thread.
#[derive(Debug)]
enum Op {
    /// An event; for `JobReleased`, whether other jobs still wait.
    Event(RunEvent, bool, i64),
    Log {
        leg_name: String,
        step: usize,
        seq: i64,
        data: Vec<u8>,
    },
    /// Acknowledged once everything queued before it is committed.
    Barrier(mpsc::Sender<()>),
}

fn report(failed: &AtomicBool, result: Result<(), StoreError>) {
    if let Err(e) = result
        && !failed.swap(true, Ordering::SeqCst)
    {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        let _ = writeln!(std::io::stderr(), "warning: cloudlet ci: the run history is incomplete: {chain}");
    }
}

impl StoreRecorder {
    pub fn new(store: Arc<Store>, run_id: u64) -> StoreRecorder {
        let (tx, rx) = mpsc::channel::<Op>();
        let writer = {
            let store = store.clone();
            // The first write error is reported; later ones are not repeated.
            let failed = AtomicBool::new(false);
            std::thread::spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter());
                    let mut acks = Vec::new();
                    let result = commit(&store, run_id, batch, &mut acks);
                    report(&failed, result);
                    for a in acks {
                        let _ = a.send(());
                    }
                }
            })
        };
        StoreRecorder {
            store,
            run_id,
            state: Mutex::new(RecorderState::default()),
            queue: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        }
    }

    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RecorderState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, op: Op) {
        if let Some(q) = self.queue.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = q.send(op);
        }
    }

    /// A log line of a leg (already masked by the runner).
    pub fn log_line(&self, leg_name: &str, line: &str) {
        let mut st = self.state();
        st.logs.entry(leg_name.to_owned()).or_insert((0, Vec::new())).1.push(line.to_owned());
    }

    /// Writes every buffered log line and waits until everything recorded
    /// so far is on disk.
    pub fn sync(&self) {
        let names: Vec<String> = self.state().logs.keys().cloned().collect();
        for n in names {
            self.flush(&n);
        }
        let (ack, done) = mpsc::channel();
        self.send(Op::Barrier(ack));
        let _ = done.recv();
    }

    fn flush(&self, leg_name: &str) {
        let op = {
            let mut st = self.state();
            let Some((step, lines)) = st.logs.get_mut(leg_name) else { return };
            if lines.is_empty() {
                return;
            }
            let (step, lines) = (*step, std::mem::take(lines));
            st.seq += 1;
            Op::Log {
                leg_name: leg_name.to_owned(),
                step,
                seq: st.seq,
                data: cloudlet_ci::history::compress_log(&lines),
            }
        };
        self.send(op);
    }

    fn leg_name(&self, job: &str, leg: usize) -> String {
        self.state().names.get(&(job.to_owned(), leg)).cloned().unwrap_or_else(|| job.to_owned())
    }
}

impl Drop for StoreRecorder {
    fn drop(&mut self) {
        self.sync();
        // Closing the queue ends the writer.
        drop(self.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(w) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = w.join();
        }
    }
}

/// Applies a batch of writes in one transaction.
fn commit(store: &Store, run_id: u64, batch: Vec<Op>, acks: &mut Vec<mpsc::Sender<()>>) -> Result<(), StoreError> {
    let sql = q("ci_record");
    let run = id(run_id);
    let mut conn = store.lock();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
    for op in batch {
        match op {
            Op::Barrier(ack) => acks.push(ack),
            Op::Log { leg_name, step, seq, data } => {
                tx.execute(
                    "INSERT INTO ci_logs (run_id, seq, leg_name, step, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![run, seq, leg_name, id(step as u64), data],
                )
                .map_err(&sql)?;
            }
            Op::Event(event, still_waiting, seq) => apply(&tx, run, &event, still_waiting, seq).map_err(&sql)?,
        }
    }
    tx.commit().map_err(&sql)
}

fn apply(conn: &Connection, run: i64, event: &RunEvent, still_waiting: bool, seq: i64) -> rusqlite::Result<()> {
    let touch = |conn: &Connection, at: &Timestamp| {
        conn.execute("UPDATE ci_runs SET updated_at_ms = ?2 WHERE run_id = ?1", params![run, ms(*at)]).map(drop)
    };
    match event {
        RunEvent::JobDecided { job, name, needs, environment, legs, skipped, at } => {
            let position: i64 =
                conn.query_row("SELECT COUNT(*) FROM ci_jobs WHERE run_id = ?1", params![run], |r| r.get(0))?;
            let needs_json = serde_json::to_string(needs).unwrap_or_else(|_| "[]".to_owned());
            conn.execute(
                "INSERT INTO ci_jobs (run_id, job_id, position, name, needs_json, environment, result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (run_id, job_id) DO NOTHING",
                params![run, job, position, name, needs_json, environment, skipped.then_some("skipped")],
            )?;
            for (i, l) in legs.iter().enumerate() {
                conn.execute(
                    "INSERT INTO ci_legs (run_id, job_id, leg, name, matrix_json, status, result, outputs_json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '{}')
                     ON CONFLICT (run_id, job_id, leg) DO NOTHING",
                    params![
                        run,
                        job,
                        id(i as u64),
                        l.name,
                        l.matrix_json,
                        if *skipped { "completed" } else { "queued" },
                        skipped.then_some("skipped")
                    ],
                )?;
            }
            touch(conn, at)
        }
        RunEvent::JobWaiting { job, at, .. } => {
            conn.execute(
                "UPDATE ci_legs SET status = 'waiting' WHERE run_id = ?1 AND job_id = ?2 AND status = 'queued'",
                params![run, job],
            )?;
            conn.execute(
                "UPDATE ci_runs SET status = 'waiting', updated_at_ms = ?2 WHERE run_id = ?1 AND status <> 'completed'",
                params![run, ms(*at)],
            )
            .map(drop)
        }
        RunEvent::JobReleased { job, at } => {
            conn.execute(
                "UPDATE ci_legs SET status = 'queued' WHERE run_id = ?1 AND job_id = ?2 AND status = 'waiting'",
                params![run, job],
            )?;
            conn.execute(
                "UPDATE ci_runs SET status = ?3, updated_at_ms = ?2 WHERE run_id = ?1 AND status <> 'completed'",
                params![run, ms(*at), if still_waiting { "waiting" } else { "in_progress" }],
            )
            .map(drop)
        }
        RunEvent::LegStarted { job, leg, at } => {
            conn.execute(
                "UPDATE ci_legs SET status = 'in_progress', started_at_ms = ?4 WHERE run_id = ?1 AND job_id = ?2 AND leg = ?3",
                params![run, job, id(*leg as u64), ms(*at)],
            )?;
            touch(conn, at)
        }
        RunEvent::StepStarted { job, leg, step, name, at } => conn
            .execute(
                "INSERT INTO ci_steps (run_id, job_id, leg, step, name, started_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (run_id, job_id, leg, step) DO NOTHING",
                params![run, job, id(*leg as u64), id(*step as u64), name, ms(*at)],
            )
            .map(drop),
        RunEvent::StepFinished { job, leg, step, outcome, conclusion, at } => {
            conn.execute(
                "UPDATE ci_steps SET outcome = ?5, conclusion = ?6, finished_at_ms = ?7
                 WHERE run_id = ?1 AND job_id = ?2 AND leg = ?3 AND step = ?4",
                params![run, job, id(*leg as u64), id(*step as u64), outcome, conclusion, ms(*at)],
            )?;
            touch(conn, at)
        }
        RunEvent::LegFinished { job, leg, result, outputs_json, at } => {
            conn.execute(
                "UPDATE ci_legs SET status = 'completed', result = ?4, outputs_json = ?5, finished_at_ms = ?6,
                     started_at_ms = COALESCE(started_at_ms, ?6)
                 WHERE run_id = ?1 AND job_id = ?2 AND leg = ?3",
                params![run, job, id(*leg as u64), result.as_str(), outputs_json, ms(*at)],
            )?;
            touch(conn, at)
        }
        RunEvent::JobFinished { job, result, at } => {
            conn.execute(
                "UPDATE ci_jobs SET result = ?3 WHERE run_id = ?1 AND job_id = ?2",
                params![run, job, result.as_str()],
            )?;
            // Legs that never started (fail-fast, a rejected deployment) end with their job.
            conn.execute(
                "UPDATE ci_legs SET status = 'completed', result = COALESCE(result, ?3)
                 WHERE run_id = ?1 AND job_id = ?2 AND status <> 'completed'",
                params![run, job, if result.as_str() == "success" { "cancelled" } else { result.as_str() }],
            )?;
            touch(conn, at)
        }
        RunEvent::CacheLookup { job, leg, key, hit } => conn
            .execute(
                "INSERT INTO ci_caches (run_id, seq, job_id, leg, cache_key, hit) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run, seq, job, id(*leg as u64), key, hit.as_str()],
            )
            .map(drop),
    }
}

impl RunRecorder for StoreRecorder {
    fn record(&self, event: RunEvent) {
        // What the event means for the buffered logs and the waiting jobs.
        let mut still_waiting = false;
        match &event {
            RunEvent::JobDecided { job, legs, .. } => {
                let mut st = self.state();
                for (i, l) in legs.iter().enumerate() {
                    st.names.insert((job.clone(), i), l.name.clone());
                }
            }
            RunEvent::JobWaiting { job, .. } => self.state().waiting.push(job.clone()),
            RunEvent::JobReleased { job, .. } => {
                let mut st = self.state();
                st.waiting.retain(|w| w != job);
                still_waiting = !st.waiting.is_empty();
            }
            RunEvent::StepStarted { job, leg, step, .. } => {
                let leg_name = self.leg_name(job, *leg);
                self.flush(&leg_name);
                self.state().logs.entry(leg_name).or_insert((0, Vec::new())).0 = *step;
            }
            RunEvent::StepFinished { job, leg, .. } | RunEvent::LegFinished { job, leg, .. } => {
                self.flush(&self.leg_name(job, *leg));
            }
            _ => {}
        }
        let seq = {
            let mut st = self.state();
            st.seq += 1;
            st.seq
        };
        self.send(Op::Event(event, still_waiting, seq));
    }

    fn approval(&self, environment: &str) -> Option<ApprovalRecord> {
        let conn = self.store.lock();
        approval(&conn, self.run_id, environment).ok().flatten()
    }

    fn cancel_requested(&self) -> Option<String> {
        let conn = self.store.lock();
        cancel_reason(&conn, self.run_id).ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudlet_ci::history::LegInfo;
    use cloudlet_ci::scheduler::JobResult;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(1_764_000_000 + s)
    }

    fn open(dir: &std::path::Path) -> Arc<Store> {
        Arc::new(Store::open(&dir.join(crate::DATABASE_FILE), t(0)).expect("open store"))
    }

    fn new_run(workflow: &str, pid: u32) -> NewRun {
        NewRun {
            repository: "o/r".to_owned(),
            workflow: workflow.to_owned(),
            workflow_path: format!(".github/workflows/{workflow}.yml"),
            event: "push".to_owned(),
            git_ref: "refs/heads/main".to_owned(),
            sha: "a".repeat(40),
            commit_at: Some(t(0)),
            created_at: t(1),
            pid,
            pid_start: 7,
        }
    }

    #[test]
    fn a_recorded_run_reads_back_with_jobs_steps_logs_and_numbers_per_workflow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        let run = store.ci_create_run(&new_run("ci", 1)).expect("create");
        let other = store.ci_create_run(&new_run("deploy", 1)).expect("create");
        let again = store.ci_create_run(&new_run("ci", 1)).expect("create");
        assert_eq!((run.run_number, other.run_number, again.run_number), (1, 1, 2));
        assert!(again.run_id > other.run_id && other.run_id > run.run_id);
        let rec = StoreRecorder::new(store.clone(), run.run_id);
        store.ci_set_status(run.run_id, RunStatus::InProgress, t(2)).expect("status");
        let legs = vec![LegInfo { name: "build (1)".to_owned(), matrix_json: Some("{\"n\":1}".to_owned()) }];
        rec.record(RunEvent::JobDecided {
            job: "build".to_owned(),
            name: "build".to_owned(),
            needs: Vec::new(),
            environment: None,
            legs,
            skipped: false,
            at: t(2),
        });
        rec.record(RunEvent::LegStarted { job: "build".to_owned(), leg: 0, at: t(3) });
        rec.record(RunEvent::StepStarted {
            job: "build".to_owned(),
            leg: 0,
            step: 1,
            name: "make".to_owned(),
            at: t(3),
        });
        rec.log_line("build (1)", "Run make");
        rec.log_line("build (1)", "compiled ***");
        rec.record(RunEvent::StepFinished {
            job: "build".to_owned(),
            leg: 0,
            step: 1,
            outcome: "success".to_owned(),
            conclusion: "success".to_owned(),
            at: t(5),
        });
        rec.record(RunEvent::CacheLookup {
            job: "build".to_owned(),
            leg: 0,
            key: "k".to_owned(),
            hit: CacheHit::Exact,
        });
        rec.record(RunEvent::LegFinished {
            job: "build".to_owned(),
            leg: 0,
            result: JobResult::Success,
            outputs_json: "{\"v\":\"1\"}".to_owned(),
            at: t(6),
        });
        rec.record(RunEvent::JobFinished { job: "build".to_owned(), result: JobResult::Success, at: t(6) });
        rec.sync();
        store.ci_finish_run(run.run_id, "success", t(7), None).expect("finish");
        let d = store.ci_run_detail(run.run_id).expect("read").expect("exists");
        assert_eq!(d.run.status, RunStatus::Completed);
        assert_eq!(d.run.duration_ms(), Some(5_000));
        assert_eq!(d.jobs[0].result.as_deref(), Some("success"));
        assert_eq!(d.jobs[0].legs[0].outputs_json, "{\"v\":\"1\"}");
        assert_eq!(d.jobs[0].legs[0].steps[0].conclusion.as_deref(), Some("success"));
        assert_eq!(d.caches[0].hit, CacheHit::Exact);
        let logs = store.ci_logs(run.run_id).expect("logs");
        assert_eq!(
            logs,
            vec![LogChunk { leg_name: "build (1)".to_owned(), step: 1, text: "Run make\ncompiled ***\n".to_owned() }]
        );
        let listed =
            store.ci_runs(&RunFilter { workflow: Some("CI".to_owned()), ..RunFilter::default() }).expect("list");
        assert_eq!(listed.iter().map(|r| r.run_id).collect::<Vec<_>>(), vec![again.run_id, run.run_id]);
        let done =
            store.ci_runs(&RunFilter { status: Some("success".to_owned()), ..RunFilter::default() }).expect("list");
        assert_eq!(done.len(), 1);
    }

    #[test]
    fn approvals_need_a_waiting_job_and_the_first_decision_stands() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        let run = store.ci_create_run(&new_run("ci", 1)).expect("create");
        let rec = StoreRecorder::new(store.clone(), run.run_id);
        assert_eq!(
            store.ci_decide(run.run_id, "production", true, "me", "", t(2)).expect("decide"),
            ApprovalOutcome::NotWaiting { waiting_for: Vec::new() }
        );
        assert_eq!(
            store.ci_decide(999, "production", true, "me", "", t(2)).expect("decide"),
            ApprovalOutcome::NoSuchRun
        );
        rec.record(RunEvent::JobDecided {
            job: "deploy".to_owned(),
            name: "deploy".to_owned(),
            needs: Vec::new(),
            environment: Some("production".to_owned()),
            legs: vec![LegInfo { name: "deploy".to_owned(), matrix_json: None }],
            skipped: false,
            at: t(2),
        });
        rec.record(RunEvent::JobWaiting { job: "deploy".to_owned(), environment: "production".to_owned(), at: t(2) });
        rec.sync();
        assert_eq!(store.ci_run(run.run_id).expect("read").expect("run").status, RunStatus::Waiting);
        assert_eq!(rec.approval("production"), None);
        assert_eq!(
            store.ci_decide(run.run_id, "Production", true, "alice", "ship it", t(3)).expect("decide"),
            ApprovalOutcome::Recorded
        );
        let decided = rec.approval("PRODUCTION").expect("decided");
        assert!(decided.approved);
        assert_eq!(decided.actor, "alice");
        assert!(matches!(
            store.ci_decide(run.run_id, "production", false, "bob", "", t(4)).expect("decide"),
            ApprovalOutcome::AlreadyDecided(_)
        ));
        rec.record(RunEvent::JobReleased { job: "deploy".to_owned(), at: t(4) });
        rec.sync();
        assert_eq!(store.ci_run(run.run_id).expect("read").expect("run").status, RunStatus::InProgress);
    }

    #[test]
    fn concurrency_groups_keep_one_running_and_replace_the_pending_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        let alive = |_: u32, _: u64| true;
        let a = store.ci_create_run(&new_run("ci", 1)).expect("create").run_id;
        let b = store.ci_create_run(&new_run("ci", 2)).expect("create").run_id;
        let c = store.ci_create_run(&new_run("ci", 3)).expect("create").run_id;
        assert_eq!(store.ci_enter_group(a, "Deploy", false, &alive).expect("enter"), GroupState::Running);
        assert_eq!(store.ci_enter_group(b, "deploy", false, &alive).expect("enter"), GroupState::Pending);
        assert_eq!(store.ci_group_poll(b, &alive).expect("poll"), GroupState::Pending);
        // A newer run replaces the pending one.
        assert_eq!(store.ci_enter_group(c, "DEPLOY", false, &alive).expect("enter"), GroupState::Pending);
        assert_eq!(
            store.ci_group_poll(b, &alive).expect("poll"),
            GroupState::Cancelled("Canceling since a higher priority waiting request for 'DEPLOY' exists".to_owned())
        );
        assert_eq!(StoreRecorder::new(store.clone(), a).cancel_requested(), None);
        store.ci_finish_run(a, "success", t(5), None).expect("finish");
        assert_eq!(store.ci_group_poll(c, &alive).expect("poll"), GroupState::Running);
        // cancel-in-progress asks the running run to stop; a dead runner's place is taken at once.
        let d = store.ci_create_run(&new_run("ci", 4)).expect("create").run_id;
        assert_eq!(store.ci_enter_group(d, "deploy", true, &alive).expect("enter"), GroupState::Pending);
        assert!(StoreRecorder::new(store.clone(), c).cancel_requested().is_some());
        let dead = |pid: u32, _: u64| pid != 3;
        assert_eq!(store.ci_group_poll(d, &dead).expect("poll"), GroupState::Running);
    }

    #[test]
    fn a_dead_run_is_completed_as_a_failure_at_its_last_activity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        let run = store.ci_create_run(&new_run("ci", 1)).expect("create");
        store.ci_set_status(run.run_id, RunStatus::InProgress, t(2)).expect("status");
        store.ci_mark_dead(run.run_id, "the runner process (pid 1) died").expect("mark");
        let r = store.ci_run(run.run_id).expect("read").expect("run");
        assert_eq!((r.status, r.conclusion.as_deref()), (RunStatus::Completed, Some("failure")));
        assert_eq!(r.finished_at, Some(t(2)));
        assert_eq!(r.note.as_deref(), Some("the runner process (pid 1) died"));
    }
}
