//! Live progress of a `cloudlet ci run` on stderr, fed by the run's
//! history events: on a terminal, a compact block with one line per job
//! leg, redrawn in place; otherwise one line per state change. With
//! `--verbose` every log line is streamed too, prefixed by its job.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use cloudlet_ci::history::{ApprovalRecord, RunEvent, RunRecorder};
use cloudlet_ci::runner::LogSink;
use cloudlet_core::Timestamp;
use cloudlet_store::StoreRecorder;

#[derive(Debug)]
pub(crate) struct Progress {
    /// Redraw a block in place (stderr is a terminal and logs are not streamed).
    in_place: bool,
    verbose: bool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// (job, leg) → row index.
    index: HashMap<(String, usize), usize>,
    /// Each leg's name, state text and start.
    rows: Vec<(String, String, Option<Timestamp>)>,
    /// Lines of the block currently on screen.
    drawn: usize,
}

/// Lines worth showing even without `--verbose`.
fn notable(line: &str) -> bool {
    ["Error", "Warning", "Cancel", "Deployment to", "Waiting for", "The deployment"].iter().any(|p| line.starts_with(p))
}

impl Progress {
    pub(crate) fn new(terminal: bool, verbose: bool) -> Progress {
        Progress { in_place: terminal && !verbose, verbose, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A log line of a job: streamed with `--verbose`, else only if notable.
    pub(crate) fn log(&self, job: &str, line: &str) {
        if !self.verbose && !notable(line) {
            return;
        }
        let mut st = self.state();
        let mut err = std::io::stderr().lock();
        self.clear(&mut st, &mut err);
        let _ = writeln!(err, "[{job}] {line}");
        self.redraw(&mut st, &mut err);
    }

    fn clear(&self, st: &mut State, err: &mut impl std::io::Write) {
        if self.in_place && st.drawn > 0 {
            let _ = write!(err, "\x1b[{}A\x1b[J", st.drawn);
            st.drawn = 0;
        }
    }

    fn redraw(&self, st: &mut State, err: &mut impl std::io::Write) {
        if !self.in_place {
            return;
        }
        let width = st.rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        for (name, status, _) in &st.rows {
            let _ = writeln!(err, "  {name:<width$}  {status}");
        }
        st.drawn = st.rows.len();
        let _ = err.flush();
    }

    fn set(&self, job: &str, leg: usize, name: Option<&str>, status: String, started: Option<Timestamp>) {
        let mut st = self.state();
        let key = (job.to_owned(), leg);
        let i = match st.index.get(&key) {
            Some(i) => *i,
            None => {
                st.rows.push((name.unwrap_or(job).to_owned(), String::new(), None));
                let i = st.rows.len() - 1;
                st.index.insert(key, i);
                i
            }
        };
        if st.rows[i].1 == status {
            return;
        }
        st.rows[i].1 = status.clone();
        if started.is_some() {
            st.rows[i].2 = started;
        }
        let mut err = std::io::stderr().lock();
        if self.in_place {
            self.clear(&mut st, &mut err);
            self.redraw(&mut st, &mut err);
        } else {
            let _ = writeln!(err, "» {}: {status}", st.rows[i].0);
        }
    }

    /// Updates the view for one event.
    pub(crate) fn event(&self, e: &RunEvent) {
        match e {
            RunEvent::JobDecided { job, legs, skipped, .. } => {
                for (i, l) in legs.iter().enumerate() {
                    let status = if *skipped { "skipped" } else { "queued" };
                    self.set(job, i, Some(&l.name), status.to_owned(), None);
                }
            }
            RunEvent::JobWaiting { job, environment, .. } => {
                let legs = self.legs_of(job);
                for l in legs {
                    self.set(job, l, None, format!("waiting for '{environment}'"), None);
                }
            }
            RunEvent::LegStarted { job, leg, at } => self.set(job, *leg, None, "in_progress".to_owned(), Some(*at)),
            RunEvent::StepStarted { job, leg, name, .. } if self.in_place => {
                self.set(job, *leg, None, format!("in_progress · {name}"), None);
            }
            RunEvent::LegFinished { job, leg, result, at, .. } => {
                let started = {
                    let st = self.state();
                    st.index.get(&(job.clone(), *leg)).and_then(|i| st.rows[*i].2)
                };
                let took = started
                    .map_or_else(String::new, |s| format!(" in {:.1}s", at.saturating_duration_since(s).as_secs_f64()));
                self.set(job, *leg, None, format!("{}{took}", result.as_str()), None);
            }
            RunEvent::JobFinished { job, result, .. } => {
                // Legs that never started end with their job.
                for l in self.legs_of(job) {
                    let done = {
                        let st = self.state();
                        st.index.get(&(job.clone(), l)).is_some_and(|i| {
                            let s = &st.rows[*i].1;
                            !(s == "queued" || s.starts_with("waiting"))
                        })
                    };
                    if !done {
                        let r = if result.as_str() == "success" { "cancelled" } else { result.as_str() };
                        self.set(job, l, None, r.to_owned(), None);
                    }
                }
            }
            _ => {}
        }
    }

    fn legs_of(&self, job: &str) -> Vec<usize> {
        let st = self.state();
        let mut legs: Vec<usize> = st.index.keys().filter(|(j, _)| j == job).map(|(_, l)| *l).collect();
        legs.sort_unstable();
        legs
    }
}

/// The run's recorder: the store's, with the progress view watching.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) store: Arc<StoreRecorder>,
    pub(crate) progress: Arc<Progress>,
}

impl RunRecorder for Recorder {
    fn record(&self, event: RunEvent) {
        self.progress.event(&event);
        self.store.record(event);
    }

    fn approval(&self, environment: &str) -> Option<ApprovalRecord> {
        self.store.approval(environment)
    }

    fn cancel_requested(&self) -> Option<String> {
        self.store.cancel_requested()
    }
}

/// Log lines go to the history (already masked) and to the progress view.
pub(crate) struct Logs {
    pub(crate) store: Option<Arc<StoreRecorder>>,
    pub(crate) progress: Arc<Progress>,
}

impl LogSink for Logs {
    fn line(&self, job: &str, line: &str) {
        if let Some(s) = &self.store {
            s.log_line(job, line);
        }
        self.progress.log(job, line);
    }
}
