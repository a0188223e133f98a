//! The apply executor: the [`Sink`] the walk hands each change to. At most
//! `parallelism` provider calls run at once on worker threads; each result
//! is recorded into the new state as it lands (so a failure keeps what
//! succeeded), a snapshot is persisted every `persist_interval_ms` of the
//! injected clock, and once `interrupted` is set (the first Ctrl-C) no new
//! change starts while those in flight finish.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::decode::Mode;
use crate::plan::values;
use crate::plan::{Action, Job, Sink, object_json};
use crate::providers::ProviderError;
use crate::state::{InstanceState, State};
use crate::value::Value;

/// Milliseconds from an injected clock.
pub type ClockMs = Arc<dyn Fn() -> u64 + Send + Sync>;

/// What a worker sends back.
struct Landed {
    job: Job,
    result: Result<Option<Value>, ProviderError>,
    /// Progress lines printed when the result lands.
    lines: Vec<String>,
}

/// Writes an intermediate snapshot.
pub type Persist<'o> = Box<dyn FnMut(&State) + 'o>;

/// Counts for "Apply complete! Resources: X added, Y changed, Z destroyed."
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
}

/// The executor of one apply.
pub struct Executor<'o> {
    jobs: Option<mpsc::Sender<Job>>,
    results: mpsc::Receiver<Landed>,
    workers: Vec<std::thread::JoinHandle<()>>,
    parallelism: usize,
    in_flight: BTreeSet<String>,
    landed: HashMap<String, Option<Value>>,
    any_failed: bool,
    state: State,
    out: &'o mut dyn Write,
    /// Rendered errors of failed changes.
    pub errors: String,
    pub counts: Counts,
    interrupted: Arc<AtomicBool>,
    persist: Option<Persist<'o>>,
    persist_interval_ms: u64,
    last_persist_ms: u64,
    clock: ClockMs,
}

impl std::fmt::Debug for Executor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("in_flight", &self.in_flight)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

fn id_of(v: &Value) -> Option<String> {
    crate::providers::get_str(v, "id").map(str::to_owned)
}

fn with_id(line: String, v: Option<&Value>) -> String {
    match v.and_then(id_of) {
        Some(id) => format!("{line} [id={id}]"),
        None => line,
    }
}

/// Carries one change out (on a worker thread).
fn perform(job: &Job, clock: &ClockMs) -> (Result<Option<Value>, ProviderError>, Vec<String>) {
    let c = &job.change;
    let p = &job.provider;
    let started = clock();
    let secs = |clock: &ClockMs| (clock().saturating_sub(started)) / 1000;
    let mut lines = Vec::new();
    let create = |lines: &mut Vec<String>| -> Result<Option<Value>, ProviderError> {
        let v = p.apply(&c.type_name, None, c.after.as_ref())?;
        lines.push(with_id(format!("{}: Creation complete after {}s", c.addr, secs(clock)), v.as_ref()));
        Ok(v)
    };
    let destroy = |lines: &mut Vec<String>, deposed: bool| -> Result<Option<Value>, ProviderError> {
        p.apply(&c.type_name, job.prior.as_ref(), None)?;
        let who = if deposed { format!("{} (deposed object)", c.addr) } else { c.addr.clone() };
        lines.push(format!("{who}: Destruction complete after {}s", secs(clock)));
        Ok(None)
    };
    let result = match c.action {
        Action::Create => create(&mut lines),
        Action::Update => p.apply(&c.type_name, job.prior.as_ref(), c.after.as_ref()).inspect(|v| {
            lines.push(with_id(format!("{}: Modifications complete after {}s", c.addr, secs(clock)), v.as_ref()));
        }),
        Action::Delete => destroy(&mut lines, false),
        Action::DeleteThenCreate => destroy(&mut lines, false).and_then(|_| {
            lines.push(format!("{}: Creating...", c.addr));
            create(&mut lines)
        }),
        Action::CreateThenDelete => create(&mut lines).and_then(|v| {
            lines.push(with_id(format!("{} (deposed object): Destroying...", c.addr), job.prior.as_ref()));
            destroy(&mut lines, true).map(|_| v)
        }),
        Action::Read => p.read_data(&c.type_name, c.after.as_ref().unwrap_or(&Value::Null(c.ty.clone()))).map(|v| {
            lines.push(with_id(format!("{}: Read complete after {}s", c.addr, secs(clock)), Some(&v)));
            Some(v)
        }),
        Action::NoOp => Ok(job.prior.clone()),
    };
    (result, lines)
}

impl<'o> Executor<'o> {
    /// An executor with `parallelism` workers writing progress to `out`.
    pub fn new(
        parallelism: usize,
        out: &'o mut dyn Write,
        interrupted: Arc<AtomicBool>,
        clock: ClockMs,
    ) -> Executor<'o> {
        let parallelism = parallelism.max(1);
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (results_tx, results_rx) = mpsc::channel::<Landed>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let workers = (0..parallelism)
            .map(|_| {
                let rx = jobs_rx.clone();
                let tx = results_tx.clone();
                let clock = clock.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let (result, lines) = perform(&job, &clock);
                        if tx.send(Landed { job, result, lines }).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        let now = clock();
        Executor {
            jobs: Some(jobs_tx),
            results: results_rx,
            workers,
            parallelism,
            in_flight: BTreeSet::new(),
            landed: HashMap::new(),
            any_failed: false,
            state: State::new([0; 16]),
            out,
            errors: String::new(),
            counts: Counts::default(),
            interrupted,
            persist: None,
            persist_interval_ms: 20_000,
            last_persist_ms: now,
            clock,
        }
    }

    /// Persists intermediate snapshots through `f` every `interval_ms`.
    pub fn persist_with(&mut self, interval_ms: u64, f: Persist<'o>) {
        self.persist_interval_ms = interval_ms;
        self.persist = Some(f);
    }

    /// Waits for everything in flight, stops the workers and returns the
    /// new state.
    pub fn finish(mut self) -> (State, String, Counts) {
        while !self.in_flight.is_empty() {
            self.receive_one();
        }
        self.jobs = None;
        for w in std::mem::take(&mut self.workers) {
            let _ = w.join();
        }
        (std::mem::replace(&mut self.state, State::new([0; 16])), std::mem::take(&mut self.errors), self.counts)
    }

    fn receive_one(&mut self) {
        let Ok(landed) = self.results.recv() else {
            self.in_flight.clear();
            return;
        };
        let addr = landed.job.change.addr.clone();
        self.in_flight.remove(&addr);
        for line in &landed.lines {
            let _ = writeln!(self.out, "{line}");
        }
        match landed.result {
            Ok(v) => {
                let c = &landed.job.change;
                match c.action {
                    Action::Create => self.counts.added += 1,
                    Action::Update => self.counts.changed += 1,
                    Action::Delete => self.counts.destroyed += 1,
                    Action::DeleteThenCreate | Action::CreateThenDelete => {
                        self.counts.added += 1;
                        self.counts.destroyed += 1;
                    }
                    _ => {}
                }
                self.store(&landed.job, v.as_ref());
                self.landed.insert(addr, v);
            }
            Err(e) => {
                self.any_failed = true;
                // A replacement whose destroy went through but whose
                // create failed has no object left.
                let detail: String = e.detail.split('\n').map(|l| crate::diag::wrap(l, 77) + "\n").collect();
                self.errors.push_str(&format!("\nError: {}\n\n  with {addr},\n\n{detail}\n", e.summary));
            }
        }
        let now = (self.clock)();
        if now.saturating_sub(self.last_persist_ms) >= self.persist_interval_ms
            && let Some(f) = self.persist.as_mut()
        {
            f(&self.state);
            self.last_persist_ms = now;
        }
    }

    /// Records an object (or its absence) into the new state.
    fn store(&mut self, job: &Job, v: Option<&Value>) {
        let c = &job.change;
        let module = c.module.as_deref();
        match v {
            Some(v) => {
                let Some(schema) = job.provider.schema(c.mode, &c.type_name) else { return };
                let attrs = object_json(v, schema);
                let sensitive = values::sensitive_paths(v);
                let r = self.state.resource_mut(module, c.mode, &c.type_name, &c.name, &c.provider);
                let inst = match r.instances.iter_mut().position(|i| i.index_key == c.key && i.deposed.is_none()) {
                    Some(i) => &mut r.instances[i],
                    None => {
                        r.instances.push(InstanceState::new(c.key.clone(), serde_json::Map::new()));
                        let last = r.instances.len() - 1;
                        &mut r.instances[last]
                    }
                };
                inst.attributes = attrs;
                inst.sensitive_attributes = sensitive;
                inst.status = None;
                inst.schema_version = schema.version;
                if c.mode == Mode::Managed {
                    inst.dependencies = c.dependencies.clone();
                    inst.create_before_destroy = c.create_before_destroy;
                }
            }
            None => {
                for r in &mut self.state.resources {
                    if r.module.as_deref() == module && r.mode == c.mode && r.type_ == c.type_name && r.name == c.name {
                        r.instances.retain(|i| i.index_key != c.key || i.deposed.is_some());
                    }
                }
                self.state.resources.retain(|r| !r.instances.is_empty());
            }
        }
    }
}

impl Sink for Executor<'_> {
    fn begin(&mut self, refreshed: &State) {
        self.state = refreshed.clone();
        // Moved objects are recorded under their new address; the marker
        // the walk used is not state.
        for r in &mut self.state.resources {
            r.extra.remove("cloudlet_moved_from");
        }
    }

    fn record(&mut self, job: Job, value: &Value) {
        self.store(&job, Some(value));
    }

    fn start(&mut self, job: Job) {
        if self.interrupted.load(Ordering::SeqCst) {
            return;
        }
        while self.in_flight.len() >= self.parallelism {
            self.receive_one();
        }
        let c = &job.change;
        let line = match c.action {
            Action::Create | Action::CreateThenDelete => format!("{}: Creating...", c.addr),
            Action::Update => with_id(format!("{}: Modifying...", c.addr), job.prior.as_ref()),
            Action::Delete | Action::DeleteThenCreate => {
                with_id(format!("{}: Destroying...", c.addr), job.prior.as_ref())
            }
            Action::Read => format!("{}: Reading...", c.addr),
            Action::NoOp => return,
        };
        let _ = writeln!(self.out, "{line}");
        self.in_flight.insert(c.addr.clone());
        if let Some(tx) = &self.jobs
            && tx.send(job).is_err()
        {
            self.any_failed = true;
        }
    }

    fn wait(&mut self, matches: &dyn Fn(&str) -> bool) -> (Vec<(String, Option<Value>)>, bool) {
        while self.in_flight.iter().any(|a| matches(a)) {
            self.receive_one();
        }
        let landed = self.landed.iter().filter(|(a, _)| matches(a)).map(|(a, v)| (a.clone(), v.clone())).collect();
        (landed, self.any_failed)
    }

    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}
