//! One execution environment: a real process tree running a function's
//! runtime, with its own working directory, `/tmp` directory, environment
//! variables (exactly Lambda's set), resource limits and log capture.
//!
//! This is the only module that spawns processes. It makes no decisions:
//! which environment to start or reuse is the concurrency core's call.
//!
//! Which runtime client a function gets: Python functions run on
//! awslambdaric when the function's interpreter can import it, Node.js
//! functions on aws-lambda-ric when it is installed in the function's own
//! `node_modules` or in a directory on the daemon's `NODE_PATH` (the
//! function's copy first); otherwise on the built-in clients in
//! `bootstrap/`. `provided` runtimes run the package's `bootstrap`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::AsyncReadExt as _;

use crate::model::{FunctionVersion, RuntimeFamily};
use crate::sandbox::{EnvLimits, Sandbox};

/// The Python bootstrap used when awslambdaric is not importable.
const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap/python.py");
/// The Node.js bootstrap used when aws-lambda-ric is not installed.
const NODE_BOOTSTRAP: &str = include_str!("bootstrap/node.mjs");
/// The npm package of AWS's Node.js runtime interface client.
const NODE_RIC_PACKAGE: &str = "aws-lambda-ric";

/// How to start each runtime on this host.
#[derive(Debug)]
pub struct RuntimeCommands {
    python_bootstrap: PathBuf,
    node_bootstrap: PathBuf,
    /// The daemon's `PATH`, searched for interpreters and handed to runtimes.
    path: OsString,
    /// Per interpreter name (`python3.11`, `node`): its real executable and,
    /// for Python, whether it can import awslambdaric. Resolving once
    /// matters: version-manager shims (pyenv, nvm) cost a shell start per
    /// cold start.
    interpreters: Mutex<HashMap<String, Interpreter>>,
    /// Pre-started runtime processes, by interpreter executable: the
    /// interpreter is up and the runtime client imported, waiting on stdin
    /// for the environment it is to become. Taking one instead of spawning
    /// takes the interpreter's start-up off the cold start.
    spares: Mutex<HashMap<PathBuf, Spare>>,
    /// aws-lambda-ric's entry point in a directory on the daemon's
    /// `NODE_PATH`, if any: every Node.js function without its own copy
    /// runs on it.
    node_ric_on_node_path: Option<PathBuf>,
    /// aws-lambda-ric's entry point in each unpacked package's own
    /// `node_modules`, by package directory (packages never change).
    node_ric_in_package: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
}

/// A pre-started runtime process (see [`RuntimeCommands`]).
#[derive(Debug)]
struct Spare {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    log_pipe: OwnedFd,
}

#[derive(Debug, Clone)]
struct Interpreter {
    executable: PathBuf,
    has_ric: bool,
}

impl RuntimeCommands {
    /// Writes the built-in bootstraps into `dir` (once per content), and
    /// looks for aws-lambda-ric on the daemon's `NODE_PATH`.
    pub fn install(dir: &Path) -> std::io::Result<RuntimeCommands> {
        std::fs::create_dir_all(dir)?;
        let python_bootstrap = dir.join("python_bootstrap.py");
        let node_bootstrap = dir.join("node_bootstrap.mjs");
        for (path, contents) in [(&python_bootstrap, PYTHON_BOOTSTRAP), (&node_bootstrap, NODE_BOOTSTRAP)] {
            if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, contents)?;
                std::fs::rename(&tmp, path)?;
            }
        }
        let node_path = std::env::var_os("NODE_PATH").unwrap_or_default();
        let node_ric_on_node_path = std::env::split_paths(&node_path)
            .filter(|dir| dir.is_absolute())
            .find_map(|dir| node_ric_entry_point(&dir));
        if let Some(entry_point) = &node_ric_on_node_path {
            tracing::info!(entry_point = %entry_point.display(), "Node.js functions run on aws-lambda-ric");
        }
        Ok(RuntimeCommands {
            python_bootstrap,
            node_bootstrap,
            path: std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
            interpreters: Mutex::new(HashMap::new()),
            spares: Mutex::new(HashMap::new()),
            node_ric_on_node_path,
            node_ric_in_package: Mutex::new(HashMap::new()),
        })
    }

    /// aws-lambda-ric's entry point for `version`: the function's own copy
    /// (in its package's `node_modules`, resolved from the task root as
    /// `require` would), else the one on the daemon's `NODE_PATH`.
    fn node_ric(&self, version: &FunctionVersion) -> Option<PathBuf> {
        let package = &version.code.dir;
        let mut cache = self.node_ric_in_package.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let own = cache.entry(package.clone()).or_insert_with(|| node_ric_entry_point(&package.join("node_modules")));
        own.clone().or_else(|| self.node_ric_on_node_path.clone())
    }

    /// The program and arguments that start `version`'s runtime.
    async fn command(&self, version: &FunctionVersion) -> (PathBuf, Vec<String>) {
        let handler = version.handler.clone();
        match version.runtime.family() {
            RuntimeFamily::Python => {
                let python = self.interpreter(version.runtime.as_str(), PYTHON_PROBE).await;
                if python.has_ric {
                    (python.executable, vec!["-m".into(), "awslambdaric".into(), handler])
                } else {
                    (python.executable, vec![self.python_bootstrap.display().to_string(), handler])
                }
            }
            RuntimeFamily::Nodejs => {
                let node = self.interpreter("node", NODE_PROBE).await;
                // aws-lambda-ric's own command line: `aws-lambda-ric HANDLER`,
                // in the task root (it loads the handler from its cwd).
                let client = self.node_ric(version).unwrap_or_else(|| self.node_bootstrap.clone());
                (node.executable, vec![client.display().to_string(), handler])
            }
            RuntimeFamily::Provided => (version.code.dir.join("bootstrap"), Vec::new()),
        }
    }

    /// Asks the interpreter for its real path (and awslambdaric's
    /// availability) once; falls back to the bare name.
    async fn interpreter(&self, name: &str, probe: &[&str]) -> Interpreter {
        if let Some(known) = self.lock().get(name) {
            return known.clone();
        }
        let output = tokio::process::Command::new(name)
            .args(probe)
            .env("PATH", &self.path)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await;
        let stdout = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        let mut lines = stdout.lines();
        let executable = lines.next().filter(|p| !p.is_empty()).map_or_else(|| PathBuf::from(name), PathBuf::from);
        let has_ric = lines.next() == Some("ric");
        let interpreter = Interpreter { executable, has_ric };
        self.lock().insert(name.to_owned(), interpreter.clone());
        interpreter
    }

    /// The built-in bootstrap that `version` can run as a spare, with its
    /// interpreter: Python without awslambdaric, and Node.js without
    /// aws-lambda-ric.
    async fn spare_target(&self, version: &FunctionVersion) -> Option<(PathBuf, PathBuf)> {
        match version.runtime.family() {
            RuntimeFamily::Python => {
                let python = self.interpreter(version.runtime.as_str(), PYTHON_PROBE).await;
                (!python.has_ric).then(|| (python.executable, self.python_bootstrap.clone()))
            }
            RuntimeFamily::Nodejs => {
                if self.node_ric(version).is_some() {
                    return None;
                }
                let node = self.interpreter("node", NODE_PROBE).await;
                Some((node.executable, self.node_bootstrap.clone()))
            }
            RuntimeFamily::Provided => None,
        }
    }

    /// Takes the spare for `interpreter`, if one is ready, and starts its
    /// replacement.
    fn take_spare(&self, interpreter: &Path, bootstrap: &Path) -> Option<Spare> {
        let spare = self.spares.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(interpreter);
        self.start_spare(interpreter, bootstrap);
        // A spare that died meanwhile is no use.
        spare.filter(|spare| spare.child.id().is_some())
    }

    /// Kills every waiting spare (daemon shutdown).
    pub fn stop_spares(&self) {
        let spares = std::mem::take(&mut *self.spares.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for (_, mut spare) in spares {
            let _ = spare.child.start_kill();
        }
    }

    /// Starts a spare for `interpreter` unless one is waiting.
    fn start_spare(&self, interpreter: &Path, bootstrap: &Path) {
        let mut spares = self.spares.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if spares.contains_key(interpreter) {
            return;
        }
        match spawn_spare(interpreter, bootstrap, &self.path) {
            Ok(spare) => {
                spares.insert(interpreter.to_owned(), spare);
            }
            Err(err) => tracing::debug!(interpreter = %interpreter.display(), error = %err, "no spare runtime"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Interpreter>> {
        self.interpreters.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn spawn_spare(interpreter: &Path, bootstrap: &Path, path: &OsString) -> std::io::Result<Spare> {
    let (log_reader, log_writer) = std::io::pipe()?;
    let stderr_writer = log_writer.try_clone()?;
    let mut command = tokio::process::Command::new(interpreter);
    command
        .arg(bootstrap)
        .arg("--spare")
        .env_clear()
        .env("PATH", path)
        // Interpreter start-up settings cannot change later: the ones every
        // environment of the runtime family gets.
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("LANG", "en_US.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::from(log_writer))
        .stderr(Stdio::from(stderr_writer))
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    drop(command);
    let stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("spare without stdin"))?;
    Ok(Spare { child, stdin, log_pipe: OwnedFd::from(log_reader) })
}

/// The entry point of aws-lambda-ric installed in the `node_modules`
/// directory `dir`: its package's `bin` script (`bin/index.mjs` in 3.x),
/// which takes the handler as its argument.
fn node_ric_entry_point(dir: &Path) -> Option<PathBuf> {
    let package_dir = dir.join(NODE_RIC_PACKAGE);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(package_dir.join("package.json")).ok()?).ok()?;
    let bin = match manifest.get("bin")? {
        serde_json::Value::String(bin) => bin.as_str(),
        serde_json::Value::Object(bins) => bins.get(NODE_RIC_PACKAGE)?.as_str()?,
        _ => return None,
    };
    let entry_point = package_dir.join(bin);
    // A `bin` naming a path outside the package is no entry point of it.
    let inside = Path::new(bin)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
    (inside && entry_point.is_file()).then_some(entry_point)
}

/// Prints the interpreter's executable, then `ric` if awslambdaric imports.
const PYTHON_PROBE: &[&str] = &[
    "-c",
    "import sys\nprint(sys.executable)\ntry:\n    import awslambdaric\n    print('ric')\nexcept Exception:\n    print('-')",
];
const NODE_PROBE: &[&str] = &["-p", "process.execPath"];

/// What an environment is started with.
#[derive(Debug)]
pub struct EnvironmentSpec<'a> {
    /// Unique among live environments; names the work dir and cgroup.
    pub name: String,
    pub version: &'a FunctionVersion,
    /// `on-demand` or `provisioned-concurrency`.
    pub initialization_type: &'static str,
    pub runtime_api: SocketAddr,
    pub region: &'a str,
    pub log_group: &'a str,
    pub log_stream: &'a str,
    /// cloudlet's own endpoint, given to functions as `AWS_ENDPOINT_URL` so
    /// that AWS SDKs inside them talk to cloudlet.
    pub endpoint_url: &'a str,
    /// Parent of the environment's work dir (holding its `/tmp`).
    pub work_root: &'a Path,
}

/// A running environment. The process itself ([`tokio::process::Child`]) is
/// returned separately by [`ExecutionEnvironment::start`], so one task can
/// wait for it to exit while invocations use this value.
#[derive(Debug)]
pub struct ExecutionEnvironment {
    pid: Option<u32>,
    limits: EnvLimits,
    work_dir: PathBuf,
    log: Arc<LogCapture>,
    log_pipe: OwnedFd,
    /// Whether the process is an adopted spare rather than a new one.
    adopted_spare: bool,
}

/// A spare that could not be adopted; its limits go to a new process.
struct SpareFailed {
    limits: EnvLimits,
    reason: &'static str,
}

/// Why an environment could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot create the environment's directory `{}`", path.display())]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start `{}`", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ExecutionEnvironment {
    /// Starts the runtime process. It runs init at once and will call
    /// `/next` on the Runtime API when it is ready.
    pub async fn start(
        spec: EnvironmentSpec<'_>,
        commands: &RuntimeCommands,
        sandbox: &Sandbox,
    ) -> Result<(ExecutionEnvironment, tokio::process::Child), SpawnError> {
        let version = spec.version;
        let work_dir = spec.work_root.join(&spec.name);
        let tmp_dir = work_dir.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(|source| SpawnError::WorkDir { path: tmp_dir.clone(), source })?;

        let limits = sandbox.environment(&spec.name, version.memory_mb);
        // Spares need control groups: a process can join one after it
        // started, but cannot be given an address-space limit it lacks.
        if limits.uses_cgroups()
            && let Some((interpreter, bootstrap)) = commands.spare_target(version).await
            && let Some(spare) = commands.take_spare(&interpreter, &bootstrap)
        {
            match Self::adopt(spare, &spec, commands, limits, &work_dir, &tmp_dir).await {
                Ok(started) => return Ok(started),
                Err(SpareFailed { limits: returned, reason }) => {
                    tracing::debug!(reason, "spare runtime failed; starting a new process");
                    return Self::spawn(spec, commands, returned, work_dir, tmp_dir).await;
                }
            }
        }
        Self::spawn(spec, commands, limits, work_dir, tmp_dir).await
    }

    /// Turns a spare into this environment: into its control groups, then
    /// its configuration on stdin (the environment variables, the working
    /// directory, the handler).
    async fn adopt(
        mut spare: Spare,
        spec: &EnvironmentSpec<'_>,
        commands: &RuntimeCommands,
        limits: EnvLimits,
        work_dir: &Path,
        tmp_dir: &Path,
    ) -> Result<(ExecutionEnvironment, tokio::process::Child), SpareFailed> {
        use tokio::io::AsyncWriteExt as _;
        let Some(pid) = spare.child.id() else {
            return Err(SpareFailed { limits, reason: "exited" });
        };
        if !limits.adopt(pid) {
            return Err(SpareFailed { limits, reason: "cannot join the control groups" });
        }
        let environment: serde_json::Map<String, serde_json::Value> = lambda_environment(spec, &commands.path, tmp_dir)
            .into_iter()
            .map(|(key, value)| (key, serde_json::Value::from(value.to_string_lossy().into_owned())))
            .collect();
        let config = serde_json::json!({
            "env": environment,
            "cwd": spec.version.code.dir,
            "handler": spec.version.handler,
        });
        let mut line = config.to_string().into_bytes();
        line.push(b'\n');
        if spare.stdin.write_all(&line).await.is_err() || spare.stdin.shutdown().await.is_err() {
            // It had joined the groups: it must not linger there.
            let _ = spare.child.start_kill();
            return Err(SpareFailed { limits, reason: "cannot configure" });
        }
        let log = Arc::new(LogCapture::default());
        let Ok(reader_fd) = spare.log_pipe.try_clone() else {
            let _ = spare.child.start_kill();
            return Err(SpareFailed { limits, reason: "cannot read its output" });
        };
        tokio::spawn(read_logs(reader_fd, Arc::clone(&log)));
        let environment = ExecutionEnvironment {
            pid: Some(pid),
            limits,
            work_dir: work_dir.to_owned(),
            log,
            log_pipe: spare.log_pipe,
            adopted_spare: true,
        };
        Ok((environment, spare.child))
    }

    /// Starts a new runtime process for the environment.
    async fn spawn(
        spec: EnvironmentSpec<'_>,
        commands: &RuntimeCommands,
        limits: EnvLimits,
        work_dir: PathBuf,
        tmp_dir: PathBuf,
    ) -> Result<(ExecutionEnvironment, tokio::process::Child), SpawnError> {
        let version = spec.version;
        let (program, mut args) = commands.command(version).await;
        let node = version.runtime.family() == RuntimeFamily::Nodejs;
        if node && !limits.uses_cgroups() {
            args.insert(0, format!("--max-old-space-size={}", version.memory_mb));
        }
        let (program, args) = limits.wrap(&program, &args, node);

        let (log_reader, log_writer) =
            std::io::pipe().map_err(|source| SpawnError::Spawn { program: program.clone(), source })?;
        let spawn_error = |source| SpawnError::Spawn { program: program.clone(), source };
        let stderr_writer = log_writer.try_clone().map_err(spawn_error)?;

        let mut command = tokio::process::Command::new(&program);
        command
            .args(&args)
            .env_clear()
            .envs(lambda_environment(&spec, &commands.path, &tmp_dir))
            .current_dir(&version.code.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_writer))
            .stderr(Stdio::from(stderr_writer))
            // Its own process group, so the whole tree can be killed at once.
            .process_group(0)
            .kill_on_drop(true);
        let child = command.spawn().map_err(spawn_error)?;
        // `command` holds the pipe's write ends; drop them so the reader
        // sees end-of-file when the environment exits.
        drop(command);

        let log_pipe = OwnedFd::from(log_reader);
        let reader_fd = log_pipe.try_clone().map_err(spawn_error)?;
        let log = Arc::new(LogCapture::default());
        tokio::spawn(read_logs(reader_fd, Arc::clone(&log)));
        let pid = child.id();
        Ok((ExecutionEnvironment { pid, limits, work_dir, log, log_pipe, adopted_spare: false }, child))
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Whether this environment's process is a pre-started spare that was
    /// adopted (its interpreter start-up happened before the cold start).
    pub fn adopted_spare(&self) -> bool {
        self.adopted_spare
    }

    /// Waits until every byte the runtime has written so far has been read
    /// into the log capture, and returns the lines captured since the last
    /// call. The runtime writes its output before it posts a response, so
    /// after the response arrives this returns all of the invocation's lines.
    pub async fn drain_log(&self) -> Vec<String> {
        for _ in 0..1000 {
            let unread = rustix::io::ioctl_fionread(self.log_pipe.as_fd()).unwrap_or(0);
            if unread == 0 && !self.log.reading() {
                break;
            }
            tokio::task::yield_now().await;
        }
        self.log.take()
    }

    /// Peak memory use of the environment so far, in MB (rounded up).
    pub fn max_memory_used_mb(&self) -> Option<u64> {
        self.limits.peak_memory_bytes(self.pid).map(|bytes| bytes.div_ceil(1024 * 1024))
    }

    pub fn oom_killed(&self) -> bool {
        self.limits.oom_killed()
    }

    /// Kills the whole process tree (SIGKILL): the process group and
    /// anything left in the environment's control groups.
    pub fn kill(&self) {
        if let Some(pid) = self.pid.and_then(|pid| i32::try_from(pid).ok()).and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        self.limits.kill_all();
    }

    /// Removes the environment's work dir (its `/tmp`); call after the
    /// process has exited.
    pub fn remove_files(&self) {
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

/// The environment variables of a Lambda runtime (reference §1.3), then the
/// function's own.
fn lambda_environment(spec: &EnvironmentSpec<'_>, path: &OsString, tmp_dir: &Path) -> BTreeMap<String, OsString> {
    let version = spec.version;
    let mut env: BTreeMap<String, OsString> = BTreeMap::new();
    let mut set = |key: &str, value: &str| {
        env.insert(key.to_owned(), value.into());
    };
    // The function's variables first: Lambda refuses reserved keys at
    // configuration time, and the reserved values below win regardless.
    for (key, value) in &version.environment {
        set(key, value);
    }
    set("LANG", "en_US.UTF-8");
    set("TZ", ":UTC");
    set("_HANDLER", &version.handler);
    set("AWS_REGION", spec.region);
    set("AWS_DEFAULT_REGION", spec.region);
    if let Some(execution_env) = version.runtime.execution_env() {
        set("AWS_EXECUTION_ENV", &execution_env);
    }
    set("AWS_LAMBDA_FUNCTION_NAME", &version.function_name);
    set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &version.memory_mb.to_string());
    set("AWS_LAMBDA_FUNCTION_VERSION", &version.version);
    set("AWS_LAMBDA_INITIALIZATION_TYPE", spec.initialization_type);
    set("AWS_LAMBDA_LOG_GROUP_NAME", spec.log_group);
    set("AWS_LAMBDA_LOG_STREAM_NAME", spec.log_stream);
    set("AWS_LAMBDA_RUNTIME_API", &spec.runtime_api.to_string());
    // Static credentials for the local account, as an execution role would give.
    set("AWS_ACCESS_KEY_ID", "test");
    set("AWS_SECRET_ACCESS_KEY", "test");
    set("AWS_SESSION_TOKEN", "test");
    set("AWS_ENDPOINT_URL", spec.endpoint_url);
    let task_root = version.code.dir.display().to_string();
    set("LAMBDA_TASK_ROOT", &task_root);
    set("LAMBDA_RUNTIME_DIR", &task_root);
    set("TMPDIR", &tmp_dir.display().to_string());
    set("HOME", &tmp_dir.display().to_string());
    match version.runtime.family() {
        RuntimeFamily::Python => {
            // Lambda's Python output is unbuffered, so logs keep their order.
            set("PYTHONUNBUFFERED", "1");
            // The unpacked package is shared by every environment of the
            // version (and read-only in Lambda): no `__pycache__` in it.
            set("PYTHONDONTWRITEBYTECODE", "1");
            set("PYTHONPATH", &task_root);
        }
        RuntimeFamily::Nodejs => set("NODE_PATH", &format!("{task_root}/node_modules")),
        RuntimeFamily::Provided => {}
    }
    env.insert("PATH".to_owned(), path.clone());
    env
}

/// Lines an environment wrote to stdout and stderr, waiting to be claimed by
/// the invocation they belong to.
#[derive(Debug, Default)]
pub struct LogCapture {
    state: Mutex<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    lines: Vec<String>,
    partial: Vec<u8>,
    reading: bool,
}

impl LogCapture {
    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reading(&self) -> bool {
        self.lock().reading
    }

    /// Every complete line captured so far, plus any unterminated tail.
    pub fn take(&self) -> Vec<String> {
        let mut state = self.lock();
        let mut lines = std::mem::take(&mut state.lines);
        if !state.partial.is_empty() {
            let partial = std::mem::take(&mut state.partial);
            lines.push(String::from_utf8_lossy(&partial).into_owned());
        }
        lines
    }

    fn push_bytes(&self, bytes: &[u8]) {
        let mut state = self.lock();
        state.partial.extend_from_slice(bytes);
        while let Some(end) = state.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = state.partial.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            state.lines.push(text);
        }
        state.reading = false;
    }
}

async fn read_logs(fd: OwnedFd, log: Arc<LogCapture>) {
    let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else { return };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                log.lock().reading = true;
                log.push_bytes(&buf[..n]);
            }
        }
    }
}

/// One log stream's file, `LOGS_DIR/<group>/<stream>.log` (with `/` written
/// as `%2F`), kept open for the environment's life so that each invocation
/// costs one `write`.
#[derive(Debug)]
pub struct LogStreamFile {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl LogStreamFile {
    pub fn new(logs_dir: &Path, group: &str, stream: &str) -> LogStreamFile {
        let path = logs_dir.join(group.replace('/', "%2F")).join(format!("{}.log", stream.replace('/', "%2F")));
        LogStreamFile { path, file: Mutex::new(None) }
    }

    /// Appends an invocation's lines in one write.
    pub fn append(&self, lines: &[String]) -> std::io::Result<()> {
        let mut text = String::new();
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            *file = Some(std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?);
        }
        match file.as_mut() {
            Some(file) => file.write_all(text.as_bytes()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, contents: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
    }

    #[test]
    fn aws_lambda_ric_is_found_by_its_package_bin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let modules = dir.path().join("node_modules");
        assert_eq!(node_ric_entry_point(&modules), None, "not installed");

        let package = modules.join(NODE_RIC_PACKAGE);
        write(&package.join("package.json"), r#"{"name":"aws-lambda-ric","bin":{"aws-lambda-ric":"bin/index.mjs"}}"#);
        assert_eq!(node_ric_entry_point(&modules), None, "a manifest whose bin script is missing");
        write(&package.join("bin/index.mjs"), "");
        assert_eq!(node_ric_entry_point(&modules), Some(package.join("bin/index.mjs")));

        write(&package.join("package.json"), r#"{"bin":"bin/index.mjs"}"#);
        assert_eq!(node_ric_entry_point(&modules), Some(package.join("bin/index.mjs")), "bin as a string");
        write(&package.join("package.json"), r#"{"bin":"../../escape.mjs"}"#);
        write(&dir.path().join("escape.mjs"), "");
        assert_eq!(node_ric_entry_point(&modules), None, "a bin outside the package");
        write(&package.join("package.json"), "not json");
        assert_eq!(node_ric_entry_point(&modules), None);
    }
}
