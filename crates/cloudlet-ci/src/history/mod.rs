//! Run history: what a run reports while it runs ([`RunRecorder`],
//! [`RunEvent`]), what is read back ([`RunRecord`], [`JobRecord`], ...),
//! and the pure analyses over recorded runs (`analysis`: critical path and
//! exclusive time; `stats`: success rates, percentiles, cache hit rate and
//! the DORA metrics).
//!
//! No SQL here: `cloudlet-store` implements [`RunRecorder`] and reads the
//! records back. The runner reports through the trait as the run
//! progresses, so a run whose process is killed is still on record.

pub mod analysis;
pub mod stats;

use cloudlet_core::Timestamp;

use crate::scheduler::JobResult;

/// One thing that happened in a run, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEvent {
    /// A job was decided: it will run as `legs` (one per matrix leg), or
    /// was skipped (one leg, which never starts).
    JobDecided {
        job: String,
        name: String,
        needs: Vec<String>,
        environment: Option<String>,
        legs: Vec<LegInfo>,
        skipped: bool,
        at: Timestamp,
    },
    /// The job waits for its environment's protection rules.
    JobWaiting {
        job: String,
        environment: String,
        at: Timestamp,
    },
    /// The wait is over (approved, or the timer ran out); the job proceeds.
    JobReleased {
        job: String,
        at: Timestamp,
    },
    LegStarted {
        job: String,
        leg: usize,
        at: Timestamp,
    },
    StepStarted {
        job: String,
        leg: usize,
        step: usize,
        name: String,
        at: Timestamp,
    },
    StepFinished {
        job: String,
        leg: usize,
        step: usize,
        outcome: String,
        conclusion: String,
        at: Timestamp,
    },
    LegFinished {
        job: String,
        leg: usize,
        result: JobResult,
        outputs_json: String,
        at: Timestamp,
    },
    JobFinished {
        job: String,
        result: JobResult,
        at: Timestamp,
    },
    /// An `actions/cache` restore.
    CacheLookup {
        job: String,
        leg: usize,
        key: String,
        hit: CacheHit,
    },
}

impl RunEvent {
    /// The job the event is about.
    pub fn job(&self) -> &str {
        match self {
            RunEvent::JobDecided { job, .. }
            | RunEvent::JobWaiting { job, .. }
            | RunEvent::JobReleased { job, .. }
            | RunEvent::LegStarted { job, .. }
            | RunEvent::StepStarted { job, .. }
            | RunEvent::StepFinished { job, .. }
            | RunEvent::LegFinished { job, .. }
            | RunEvent::JobFinished { job, .. }
            | RunEvent::CacheLookup { job, .. } => job,
        }
    }
}

/// A matrix leg as decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegInfo {
    pub name: String,
    /// The leg's matrix combination as JSON, `None` without a matrix.
    pub matrix_json: Option<String>,
}

/// How an `actions/cache` restore went, as the hit-rate metric counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheHit {
    /// The primary key matched exactly (`cache-hit: 'true'`).
    Exact,
    /// A prefix or restore key matched.
    Partial,
    Miss,
}

impl CacheHit {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheHit::Exact => "exact",
            CacheHit::Partial => "partial",
            CacheHit::Miss => "miss",
        }
    }

    pub fn parse(s: &str) -> Option<CacheHit> {
        match s {
            "exact" => Some(CacheHit::Exact),
            "partial" => Some(CacheHit::Partial),
            "miss" => Some(CacheHit::Miss),
            _ => None,
        }
    }
}

/// A reviewer's decision on a run's deployment to an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRecord {
    pub environment: String,
    pub approved: bool,
    pub actor: String,
    pub comment: String,
    pub at: Timestamp,
}

/// Where a running run's events go, and where it learns what other
/// processes decided about it (approvals, cancellation).
pub trait RunRecorder: Send + Sync + std::fmt::Debug {
    /// Records one event. A recorder that cannot write reports it itself
    /// (once) and keeps the run going: history must not fail a build.
    fn record(&self, event: RunEvent);
    /// The decision on this run's deployment to `environment`, if any.
    fn approval(&self, environment: &str) -> Option<ApprovalRecord>;
    /// Why this run must stop (a newer run of its concurrency group), if
    /// it must.
    fn cancel_requested(&self) -> Option<String>;
}

/// A run's status, as GitHub names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Queued,
    /// Waiting for its concurrency group.
    Pending,
    InProgress,
    /// A job waits for an environment's protection rules.
    Waiting,
    Completed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Pending => "pending",
            RunStatus::InProgress => "in_progress",
            RunStatus::Waiting => "waiting",
            RunStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        [RunStatus::Queued, RunStatus::Pending, RunStatus::InProgress, RunStatus::Waiting, RunStatus::Completed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One run as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    /// Unique in the store, increasing.
    pub run_id: u64,
    /// 1, 2, 3, ... per workflow of a repository, as GitHub numbers runs.
    pub run_number: u64,
    pub repository: String,
    pub workflow: String,
    pub workflow_path: String,
    pub event: String,
    pub git_ref: String,
    pub sha: String,
    /// When the commit `sha` was made (for lead time for changes).
    pub commit_at: Option<Timestamp>,
    pub status: RunStatus,
    /// `success`, `failure`, `cancelled`; `None` until completed.
    pub conclusion: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// The running process and its start time (to tell a dead run).
    pub pid: u32,
    pub pid_start: u64,
    /// Why the run stopped early, when it did (a concurrency group, the
    /// runner process died).
    pub note: Option<String>,
}

impl RunRecord {
    pub fn duration_ms(&self) -> Option<u64> {
        Some(self.finished_at?.saturating_duration_since(self.started_at?).as_millis() as u64)
    }
}

/// One job of a run as stored, with its legs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRecord {
    pub job_id: String,
    pub name: String,
    pub needs: Vec<String>,
    pub environment: Option<String>,
    /// `None` while the job has not finished.
    pub result: Option<String>,
    pub legs: Vec<LegRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegRecord {
    pub leg: usize,
    pub name: String,
    pub matrix_json: Option<String>,
    /// queued, waiting, in_progress, completed.
    pub status: String,
    pub result: Option<String>,
    pub outputs_json: String,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub steps: Vec<StepRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    pub step: usize,
    pub name: String,
    pub outcome: Option<String>,
    pub conclusion: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

impl JobRecord {
    /// From the first leg's start to the last leg's end, when it ran.
    pub fn span(&self) -> Option<(Timestamp, Timestamp)> {
        let start = self.legs.iter().filter_map(|l| l.started_at).min()?;
        let end = self.legs.iter().filter_map(|l| l.finished_at).max()?;
        Some((start, end.max(start)))
    }
}

/// A cache restore as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheRecord {
    pub run_id: u64,
    pub job_id: String,
    pub key: String,
    pub hit: CacheHit,
}

/// A run with everything recorded about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDetail {
    pub run: RunRecord,
    pub jobs: Vec<JobRecord>,
    pub approvals: Vec<ApprovalRecord>,
    pub caches: Vec<CacheRecord>,
}

/// Log lines as stored: deflated UTF-8, one `\n` after each line.
pub fn compress_log(lines: &[String]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    for l in lines {
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(l.as_bytes());
        let _ = enc.write_all(b"\n");
    }
    enc.finish().unwrap_or_default()
}

/// The text of a stored log chunk.
pub fn decompress_log(data: &[u8]) -> Result<String, std::io::Error> {
    use std::io::Read as _;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(data).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_round_trip_through_compression() {
        let lines: Vec<String> = (0..500).map(|i| format!("line {i}: the same words again")).collect();
        let data = compress_log(&lines);
        assert!(data.len() < lines.iter().map(String::len).sum::<usize>() / 4, "{} bytes", data.len());
        let text = decompress_log(&data).expect("valid deflate");
        assert_eq!(text.lines().count(), 500);
        assert!(text.starts_with("line 0: the same words again\nline 1:"));
        assert!(decompress_log(b"not deflate at all").is_err());
    }
}
