//! Resource limits for execution environments: memory and CPU share.
//!
//! Where the host lets cloudlet create control groups (cgroup v2, or the v1
//! `memory` and `cpu` hierarchies), each environment gets its own group:
//! a hard memory limit equal to the function's memory size (the kernel's OOM
//! killer enforces it, and the group's peak usage is the honest `Max Memory
//! Used`), and a CPU weight proportional to memory (1,769 MB = one vCPU's
//! share; a share, not a quota, so an idle host still runs init at full
//! speed). Without control groups, memory is limited with `RLIMIT_AS` (Node.js
//! gets a V8 heap limit instead, since V8 reserves far more address space
//! than it uses) and the peak is read from `/proc/PID/status` (`VmHWM`).
//!
//! A process joins its group before it executes the runtime: it is started
//! through `/bin/sh`, which writes its own pid into the group and then
//! `exec`s the runtime, so nothing the function does escapes the limit.

use std::fs;
use std::path::{Path, PathBuf};

/// Memory (MB) that counts as one vCPU.
pub const MB_PER_VCPU: u64 = 1769;

/// How the host can limit environments.
#[derive(Debug, Clone)]
pub enum Sandbox {
    /// cgroup v2: one group per environment under `root`.
    V2 { root: PathBuf },
    /// cgroup v1: groups under the `memory` and (when writable) `cpu` roots.
    V1 { memory_root: PathBuf, cpu_root: Option<PathBuf> },
    /// No writable control groups: rlimits and `/proc`.
    Rlimit,
}

impl Sandbox {
    /// Finds out what this host allows, creating cloudlet's parent groups
    /// named after `owner` (e.g. `cloudlet-<pid>`). Leftover groups of dead
    /// daemons with no processes are removed on the way.
    pub fn detect(owner: &str) -> Sandbox {
        let v2 = Path::new("/sys/fs/cgroup");
        if v2.join("cgroup.controllers").exists() {
            let root = v2.join(owner);
            let controllers = fs::read_to_string(v2.join("cgroup.subtree_control")).unwrap_or_default();
            if controllers.contains("memory") && make_group(&root) {
                let _ = fs::write(root.join("cgroup.subtree_control"), "+memory +cpu");
                return Sandbox::V2 { root };
            }
        }
        let v1_memory = Path::new("/sys/fs/cgroup/memory");
        if v1_memory.join("memory.limit_in_bytes").exists() {
            clean_stale(v1_memory);
            let memory_root = v1_memory.join(owner);
            if make_group(&memory_root) {
                let v1_cpu = Path::new("/sys/fs/cgroup/cpu");
                clean_stale(v1_cpu);
                let cpu_root = Some(v1_cpu.join(owner)).filter(|root| make_group(root));
                return Sandbox::V1 { memory_root, cpu_root };
            }
        }
        Sandbox::Rlimit
    }

    /// A short description for logs and `/_cloudlet/info`.
    pub fn describe(&self) -> &'static str {
        match self {
            Sandbox::V2 { .. } => "cgroup v2 (memory limit, cpu weight)",
            Sandbox::V1 { cpu_root: Some(_), .. } => "cgroup v1 (memory limit, cpu shares)",
            Sandbox::V1 { cpu_root: None, .. } => "cgroup v1 (memory limit)",
            Sandbox::Rlimit => "rlimits (address-space limit; no cgroups on this host)",
        }
    }

    /// Creates the group(s) of one environment.
    pub fn environment(&self, name: &str, memory_mb: u32) -> EnvLimits {
        let memory_bytes = u64::from(memory_mb) * 1024 * 1024;
        match self {
            Sandbox::V2 { root } => {
                let group = root.join(name);
                if !make_group(&group) {
                    return EnvLimits::rlimit(memory_mb);
                }
                let _ = fs::write(group.join("memory.max"), memory_bytes.to_string());
                let _ = fs::write(group.join("memory.swap.max"), "0");
                let weight = (100 * u64::from(memory_mb) / MB_PER_VCPU).clamp(1, 10_000);
                let _ = fs::write(group.join("cpu.weight"), weight.to_string());
                EnvLimits::new(memory_mb, vec![group], LimitKind::V2)
            }
            Sandbox::V1 { memory_root, cpu_root } => {
                let memory_group = memory_root.join(name);
                if !make_group(&memory_group) {
                    return EnvLimits::rlimit(memory_mb);
                }
                let _ = fs::write(memory_group.join("memory.limit_in_bytes"), memory_bytes.to_string());
                // Without swap accounting this file is absent; the limit then
                // still holds for resident memory.
                let _ = fs::write(memory_group.join("memory.memsw.limit_in_bytes"), memory_bytes.to_string());
                let mut groups = vec![memory_group];
                if let Some(cpu_root) = cpu_root {
                    let cpu_group = cpu_root.join(name);
                    if make_group(&cpu_group) {
                        let shares = (1024 * u64::from(memory_mb) / MB_PER_VCPU).max(2);
                        let _ = fs::write(cpu_group.join("cpu.shares"), shares.to_string());
                        groups.push(cpu_group);
                    }
                }
                EnvLimits::new(memory_mb, groups, LimitKind::V1)
            }
            Sandbox::Rlimit => EnvLimits::rlimit(memory_mb),
        }
    }

    /// Removes cloudlet's parent groups (at daemon shutdown).
    pub fn remove(&self) {
        match self {
            Sandbox::V2 { root } => {
                let _ = fs::remove_dir(root);
            }
            Sandbox::V1 { memory_root, cpu_root } => {
                let _ = fs::remove_dir(memory_root);
                if let Some(cpu_root) = cpu_root {
                    let _ = fs::remove_dir(cpu_root);
                }
            }
            Sandbox::Rlimit => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LimitKind {
    V2,
    V1,
    Rlimit,
}

/// The limits of one environment.
#[derive(Debug)]
pub struct EnvLimits {
    memory_mb: u32,
    /// The environment's groups; the first is the memory group.
    groups: Vec<PathBuf>,
    kind: LimitKind,
    /// The memory group's high-water-mark file, opened once: every REPORT
    /// line reads it, so it is read with `pread` rather than reopened.
    peak_file: std::sync::OnceLock<Option<fs::File>>,
    /// Whether the process joined after it started (a spare) and its
    /// earlier memory is not in the group's peak: always on cgroup v2, and
    /// on v1 when the kernel no longer moves charges (Linux 6.x refuses
    /// `memory.move_charge_at_immigrate`).
    charges_left_behind: std::sync::atomic::AtomicBool,
}

impl EnvLimits {
    fn new(memory_mb: u32, groups: Vec<PathBuf>, kind: LimitKind) -> EnvLimits {
        EnvLimits {
            memory_mb,
            groups,
            kind,
            peak_file: std::sync::OnceLock::new(),
            charges_left_behind: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn rlimit(memory_mb: u32) -> EnvLimits {
        EnvLimits::new(memory_mb, Vec::new(), LimitKind::Rlimit)
    }

    /// Whether the kernel enforces the memory limit with a control group.
    pub fn uses_cgroups(&self) -> bool {
        self.kind != LimitKind::Rlimit
    }

    /// Moves a running process into these groups (a pre-started runtime).
    /// On cgroup v1 kernels that still move charges, its memory charges
    /// move with it, so the group's peak covers the whole process; otherwise
    /// (v2, and v1 on newer kernels) they stay behind, which is why
    /// [`EnvLimits::peak_memory_bytes`] then also reads the process's own
    /// peak.
    pub fn adopt(&self, pid: u32) -> bool {
        if self.kind == LimitKind::Rlimit {
            return false;
        }
        let charges_move = self.kind == LimitKind::V1
            && fs::write(self.groups[0].join("memory.move_charge_at_immigrate"), "3").is_ok();
        self.charges_left_behind.store(!charges_move, std::sync::atomic::Ordering::Relaxed);
        self.groups.iter().all(|group| fs::write(group.join("cgroup.procs"), pid.to_string()).is_ok())
    }

    /// The program and leading arguments that put a process under these
    /// limits before it `exec`s `program args...`.
    pub fn wrap(&self, program: &Path, args: &[String], node: bool) -> (PathBuf, Vec<String>) {
        let mut wrapped = Vec::new();
        match self.kind {
            LimitKind::V1 | LimitKind::V2 => {
                // sh writes its own pid into each group, then becomes the runtime.
                wrapped.push("-c".to_owned());
                wrapped.push(
                    r#"p=$$; while [ "$1" != "--" ]; do echo "$p" > "$1" || exit 125; shift; done; shift; exec "$@""#
                        .to_owned(),
                );
                wrapped.push("cloudlet-sandbox".to_owned());
                for group in &self.groups {
                    wrapped.push(group.join("cgroup.procs").display().to_string());
                }
                wrapped.push("--".to_owned());
            }
            LimitKind::Rlimit if !node => {
                let bytes = u64::from(self.memory_mb) * 1024 * 1024;
                wrapped.push("-c".to_owned());
                wrapped.push(r#"ulimit -v "$1" || exit 125; shift; exec "$@""#.to_owned());
                wrapped.push("cloudlet-sandbox".to_owned());
                wrapped.push((bytes / 1024).to_string());
            }
            LimitKind::Rlimit => {
                // V8 reserves gigabytes of address space up front; limit its
                // heap instead (the caller passes --max-old-space-size).
                return (program.to_owned(), args.to_vec());
            }
        }
        wrapped.push(program.display().to_string());
        wrapped.extend(args.iter().cloned());
        (PathBuf::from("/bin/sh"), wrapped)
    }

    /// The environment's peak memory use so far, in bytes: the group's
    /// high-water mark, and the root process's own (`VmHWM`) where the group
    /// cannot see all of it (no cgroups, or a spare whose earlier charges
    /// stayed behind).
    pub fn peak_memory_bytes(&self, pid: Option<u32>) -> Option<u64> {
        let from_group = self.read_group_peak();
        let left_behind = self.charges_left_behind.load(std::sync::atomic::Ordering::Relaxed);
        if from_group.is_some() && !left_behind {
            return from_group;
        }
        let from_process = pid.and_then(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        });
        from_group.max(from_process)
    }

    fn read_group_peak(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt as _;
        let name = match self.kind {
            LimitKind::V2 => "memory.peak",
            LimitKind::V1 => "memory.max_usage_in_bytes",
            LimitKind::Rlimit => return None,
        };
        let file = self.peak_file.get_or_init(|| fs::File::open(self.groups[0].join(name)).ok()).as_ref()?;
        let mut buf = [0u8; 32];
        let n = file.read_at(&mut buf, 0).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }

    /// Whether the kernel's OOM killer has killed a process of this group.
    pub fn oom_killed(&self) -> bool {
        let events = match self.kind {
            LimitKind::V2 => fs::read_to_string(self.groups[0].join("memory.events")),
            LimitKind::V1 => fs::read_to_string(self.groups[0].join("memory.oom_control")),
            LimitKind::Rlimit => return false,
        };
        events.unwrap_or_default().lines().any(|line| {
            let mut fields = line.split_whitespace();
            fields.next() == Some("oom_kill") && fields.next().is_some_and(|n| n != "0")
        })
    }

    /// Kills every process left in the groups (children the runtime forked
    /// into other process groups included).
    pub fn kill_all(&self) {
        for group in &self.groups {
            if let Ok(procs) = fs::read_to_string(group.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                }
            }
        }
    }
}

impl Drop for EnvLimits {
    fn drop(&mut self) {
        // Close the group's file before removing the group.
        drop(self.peak_file.take());
        // A group can only be removed once it has no processes; callers kill
        // and reap the environment first.
        for group in &self.groups {
            let _ = fs::remove_dir(group);
        }
    }
}

fn make_group(path: &Path) -> bool {
    match fs::create_dir(path) {
        Ok(()) => true,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => true,
        Err(_) => false,
    }
}

/// Removes empty groups left by daemons that died without cleaning up.
fn clean_stale(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("cloudlet-")) else { continue };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        if let Ok(children) = fs::read_dir(entry.path()) {
            for child in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = fs::remove_dir(child.path());
            }
        }
        let _ = fs::remove_dir(entry.path());
    }
}
