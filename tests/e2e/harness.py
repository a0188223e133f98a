"""Helpers for the end-to-end tests: the daemon as a real process, boto3 and
aws CLI clients pointed at it, function zips, and Lambda's log lines.

Fixtures that use these live in conftest.py; test modules import what they
need from here (`from harness import ...`).
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "functions"
PYTHON_FIXTURES = FIXTURES / "python"
NODE_FIXTURES = FIXTURES / "node"
VENV = REPO / ".venv"
VENV_RIC = REPO / ".venv-ric"
# aws-lambda-ric, installed by tests/e2e/install-deps (npm, built from source).
NODE_RIC_MODULES = REPO / ".node-ric" / "node_modules"

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

# Lambda's limits, as the reference gives them (serverless.md §2.3, §2.4).
MAX_SYNC_REQUEST = 6 * 1024 * 1024  # 6,291,456 B
MAX_SYNC_RESPONSE = MAX_SYNC_REQUEST + 100  # 6,291,556 B

STOP_TIMEOUT_S = 5.0
START_TIMEOUT_S = 15.0


def function_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def unique_name(prefix: str) -> str:
    """A function name no other test uses (names are at most 64 characters)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Polls real state until `predicate()` is truthy; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in (b"Z", b"X")


# ---------------------------------------------------------------------------
# The cloudlet binary and the daemon


def target_dir() -> Path:
    configured = os.environ.get("CARGO_TARGET_DIR")
    if not configured:
        return REPO / "target"
    path = Path(configured)
    return path if path.is_absolute() else REPO / path


def cloudlet_binary() -> Path:
    """`target/debug/cloudlet`, built with `cargo build -p cloudlet` if missing.

    `CLOUDLET_BIN` names another binary (e.g. a release build). An existing
    binary is used as it is: scripts/test builds it in its cargo test step.
    """
    configured = os.environ.get("CLOUDLET_BIN")
    if configured:
        binary = Path(configured)
        if not binary.is_file():
            raise FileNotFoundError(f"CLOUDLET_BIN={configured} is not a file")
        return binary
    binary = target_dir() / "debug" / "cloudlet"
    if not binary.is_file():
        subprocess.run(["cargo", "build", "-p", "cloudlet"], cwd=REPO, check=True)
    return binary


def _die_with_parent() -> None:
    """preexec_fn: the daemon gets SIGTERM if the test process dies, so a
    crashed or interrupted pytest never leaves daemons behind."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def daemon_env(*, path_prefix: list[Path] | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a daemon: the test process's own, without any
    CLOUDLET_* setting, RUST_LOG or NODE_PATH (on which the daemon looks for
    aws-lambda-ric), and with a PATH on which `python3.11` is not one of this
    project's venvs unless `path_prefix` puts one first."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CLOUDLET_") and k not in ("RUST_LOG", "NODE_PATH")}
    venv_bins = {str(VENV / "bin"), str(VENV_RIC / "bin")}
    env.pop("VIRTUAL_ENV", None)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p.rstrip("/") not in venv_bins]
    env["PATH"] = os.pathsep.join([str(p) for p in (path_prefix or [])] + path)
    env.update(extra or {})
    return env


class Daemon:
    """One `cloudlet up` process on a data dir.

    `start()` runs it on a free port and reads the address from the banner
    (`  listening  http://127.0.0.1:PORT`), then waits for
    `GET /_cloudlet/health` to answer 200. stdout and stderr go to files in
    `log_dir` (a pipe nobody reads could fill up and block the daemon).
    """

    _count = 0
    _count_lock = threading.Lock()

    def __init__(self, binary: Path, data_dir: Path, log_dir: Path, *, env: dict[str, str] | None = None,
                 args: list[str] | None = None, name: str = "daemon") -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.env = env if env is not None else daemon_env()
        self.args = list(args or [])
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.addr: str | None = None
        self.stdout_path: Path | None = None
        self.stderr_path: Path | None = None
        self.starts = 0

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> "Daemon":
        assert self.proc is None or self.proc.poll() is not None, "daemon already running"
        with Daemon._count_lock:
            Daemon._count += 1
            n = Daemon._count
        self.starts += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.log_dir / f"{self.name}-{n}.stdout"
        self.stderr_path = self.log_dir / f"{self.name}-{n}.stderr"
        command = [str(self.binary), "up", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir), *self.args]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=self.env, preexec_fn=_die_with_parent)
        self.addr = self._read_address()
        self._wait_healthy()
        return self

    def _read_address(self) -> str:
        assert self.proc is not None and self.stdout_path is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        pattern = re.compile(r"^\s*listening\s+http://(\S+)\s*$", re.M)
        while True:
            match = pattern.search(self.stdout_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"cloudlet up exited with {self.proc.returncode} before printing its address\n"
                                     f"{self.output_tail()}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"cloudlet up printed no address within {START_TIMEOUT_S} s\n{self.output_tail()}")
            time.sleep(0.01)

    def _wait_healthy(self) -> None:
        def healthy() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}\n{self.output_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_cloudlet/health", timeout=2) as response:
                    return response.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_until(healthy, timeout=START_TIMEOUT_S, interval=0.02, what=f"{self.url}/_cloudlet/health to answer 200")

    def stop(self) -> int:
        """SIGTERM; SIGKILL after 5 s, and then fail: a daemon must stop within 5 s."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon did not exit within {STOP_TIMEOUT_S} s of SIGTERM; killed it\n"
                                 f"{self.output_tail()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self) -> "Daemon":
        """kill -9, then start again on the same data dir (the port changes:
        make new clients from `self.url`)."""
        self.kill9()
        return self.start()

    # -- access --------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.addr, "daemon not started"
        return f"http://{self.addr}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.url}/_cloudlet/health", timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    def output_tail(self, limit: int = 6000) -> str:
        parts = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            if path and path.exists():
                text = path.read_text(errors="replace")
                parts.append(f"--- daemon {label} ({path}), last {limit} chars ---\n{text[-limit:]}")
        return "\n".join(parts)


# ---------------------------------------------------------------------------
# Clients


class RawResponses:
    """Keeps the raw body of the last error response each thread received, so
    tests can check a body byte for byte (botocore only keeps parsed fields)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def record(self, response_dict: dict, **_: Any) -> None:
        body = response_dict.get("body")
        if isinstance(body, (bytes, bytearray)):
            self._local.last = (response_dict.get("status_code"), dict(response_dict.get("headers") or {}), bytes(body))

    def last(self) -> tuple[int, dict, bytes]:
        last = getattr(self._local, "last", None)
        assert last is not None, "no raw response recorded in this thread"
        return last

    def last_json(self) -> Any:
        return json.loads(self.last()[2])


def lambda_client(endpoint: str, *, read_timeout: int = 120):
    """A boto3 `lambda` client for the daemon at `endpoint`, no retries.

    `client.raw` (a RawResponses) holds the last error body per thread.
    """
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 0}, read_timeout=read_timeout, connect_timeout=10,
                      max_pool_connections=32),
    )
    raw = RawResponses()
    client.meta.events.register("before-parse.lambda", raw.record)
    client.raw = raw  # type: ignore[attr-defined]
    return client


class AwsCliError(AssertionError):
    def __init__(self, command: list[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"{' '.join(command)} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
        self.returncode = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr


def aws_executable() -> str:
    for candidate in (Path(sys.prefix) / "bin" / "aws", VENV / "bin" / "aws"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("aws")
    if not found:
        raise FileNotFoundError("no aws CLI: run scripts/test (it installs .venv) or pip install awscli")
    return found


def aws_cli_major() -> int:
    """1 for the aws CLI v1 (the one pip installs), 2 for v2."""
    out = subprocess.run([aws_executable(), "--version"], capture_output=True, text=True).stdout
    match = re.match(r"aws-cli/(\d+)\.", out.strip())
    assert match, f"cannot read the aws CLI's version from {out!r}"
    return int(match.group(1))


def raw_payload_args() -> list[str]:
    """The flag that makes `--payload` raw JSON: v2 reads blobs as base64
    unless told `--cli-binary-format raw-in-base64-out`; v1 sends them as they
    are and does not know the flag ("Unknown options")."""
    return ["--cli-binary-format", "raw-in-base64-out"] if aws_cli_major() >= 2 else []


def aws(endpoint: str, *args: str, cwd: Path | None = None, check: bool = True, timeout: float = 180) -> Any:
    """Runs `aws <args>` against the daemon; returns stdout parsed as JSON
    (None when it is empty). Raises AwsCliError on a non-zero exit if `check`."""
    command = [aws_executable(), "--endpoint-url", endpoint, "--region", REGION, "--output", "json",
               "--cli-read-timeout", "120", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS)
    env.update({
        "AWS_DEFAULT_REGION": REGION,
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        # Never read the developer's own profiles.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AwsCliError(command, result)
    return json.loads(result.stdout) if result.stdout.strip() else None


# ---------------------------------------------------------------------------
# Function code


def zip_dir(path: Path) -> bytes:
    """Zips a directory in memory, keeping each file's Unix mode (so an
    executable `bootstrap` stays executable). Skips __pycache__."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            if "__pycache__" in file.parts or not file.is_file():
                continue
            info = zipfile.ZipInfo.from_file(file, arcname=file.relative_to(path).as_posix())
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
    return buffer.getvalue()


def zip_files(files: dict[str, Path | bytes | str], *, mode: int = 0o644, executable: tuple[str, ...] = ()) -> bytes:
    """Zips named entries (from files, bytes or text) in memory. A Path keeps
    its own mode; other entries get `mode`, or 0o755 if named in `executable`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            if isinstance(content, Path):
                info = zipfile.ZipInfo.from_file(content, arcname=name)
                data = content.read_bytes()
            else:
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.create_system = 3  # Unix, so external_attr holds a mode
                info.external_attr = ((0o755 if name in executable else mode) | 0o100000) << 16
                data = content.encode() if isinstance(content, str) else content
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """CodeSha256 as Lambda reports it: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def create_function(client, *, zip_bytes: bytes, runtime: str, handler: str, name: str | None = None,
                    prefix: str = "fn", wait: bool = True, **kwargs: Any) -> str:
    """CreateFunction with the test role, then waits for Active with boto3's
    `function_active_v2` waiter. Returns the function name."""
    name = name or unique_name(prefix)
    client.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                           Code={"ZipFile": zip_bytes}, **kwargs)
    if wait:
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name


def metrics_text(url: str) -> str:
    """The daemon's Prometheus metrics, as text."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return response.read().decode()


@dataclass
class PhaseSamples:
    """One cold-start phase of one function, over its `process` labels."""
    sum_ms: float = 0.0
    count: int = 0
    processes: set[str] = field(default_factory=set)


def cold_start_phases(url: str, function: str) -> dict[str, PhaseSamples]:
    """`cloudlet_lambda_cold_start_phase_ms` of one function, by phase
    (`process` is "" for code_unpack, which has no such label)."""
    phases: dict[str, PhaseSamples] = {}
    sample = re.compile(r"^cloudlet_lambda_cold_start_phase_ms_(sum|count)\{([^}]*)\} (\S+)$")
    for line in metrics_text(url).splitlines():
        match = sample.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2)))
        if labels.get("function") != function:
            continue
        phase = phases.setdefault(labels["phase"], PhaseSamples())
        phase.processes.add(labels.get("process", ""))
        if match.group(1) == "sum":
            phase.sum_ms += float(match.group(3))
        else:
            phase.count += int(match.group(3))
    return phases


# ---------------------------------------------------------------------------
# Invoking and reading Lambda's log lines

REPORT_RE = re.compile(
    r"^REPORT RequestId: (?P<id>\S+)\tDuration: (?P<duration>\d+\.\d{2}) ms\tBilled Duration: (?P<billed>\d+) ms"
    r"\tMemory Size: (?P<memory>\d+) MB\tMax Memory Used: (?P<used>\d+) MB"
    r"(?:\tInit Duration: (?P<init>\d+\.\d{2}) ms)?\t?$",
    re.M,
)


@dataclass
class Report:
    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_used_mb: int
    init_ms: float | None
    line: str


@dataclass
class Invocation:
    status: int
    payload: bytes
    function_error: str | None
    executed_version: str | None
    log: str | None
    request_id: str
    headers: dict[str, str]
    elapsed_s: float
    raw: dict = field(repr=False, default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.payload)

    def report(self) -> Report:
        """The REPORT line of this invocation in the tail log; fails if missing."""
        assert self.log is not None, "invoke with log_tail=True to read log lines"
        for match in REPORT_RE.finditer(self.log):
            if match.group("id") == self.request_id:
                return Report(
                    request_id=match.group("id"),
                    duration_ms=float(match.group("duration")),
                    billed_ms=int(match.group("billed")),
                    memory_mb=int(match.group("memory")),
                    max_memory_used_mb=int(match.group("used")),
                    init_ms=float(match.group("init")) if match.group("init") else None,
                    line=match.group(0),
                )
        raise AssertionError(f"no REPORT line for {self.request_id} matching {REPORT_RE.pattern!r} in:\n{self.log}")

    def log_lines(self) -> list[str]:
        assert self.log is not None, "invoke with log_tail=True to read log lines"
        return self.log.splitlines()


def invoke(client, name: str, payload: Any = None, *, qualifier: str | None = None, log_tail: bool = False,
           invocation_type: str | None = None, raw_payload: bytes | None = None) -> Invocation:
    """Invoke through boto3; `payload` is sent as JSON, `raw_payload` as is."""
    kwargs: dict[str, Any] = {"FunctionName": name}
    if raw_payload is not None:
        kwargs["Payload"] = raw_payload
    elif payload is not None:
        kwargs["Payload"] = json.dumps(payload).encode()
    if qualifier is not None:
        kwargs["Qualifier"] = qualifier
    if log_tail:
        kwargs["LogType"] = "Tail"
    if invocation_type is not None:
        kwargs["InvocationType"] = invocation_type
    began = time.monotonic()
    response = client.invoke(**kwargs)
    body = response["Payload"].read() if "Payload" in response else b""
    elapsed = time.monotonic() - began
    log = base64.b64decode(response["LogResult"]).decode("utf-8", errors="replace") if "LogResult" in response else None
    metadata = response["ResponseMetadata"]
    return Invocation(
        status=response["StatusCode"],
        payload=body,
        function_error=response.get("FunctionError"),
        executed_version=response.get("ExecutedVersion"),
        log=log,
        request_id=metadata.get("RequestId", ""),
        headers=metadata.get("HTTPHeaders", {}),
        elapsed_s=elapsed,
        raw=response,
    )


def assert_start_end_report(inv: Invocation, *, version: str = "$LATEST", memory_mb: int = 128) -> Report:
    """START, END and REPORT lines for this request, in that order, in the tail."""
    lines = inv.log_lines()
    rid = re.escape(inv.request_id)
    start = [i for i, l in enumerate(lines) if re.fullmatch(rf"START RequestId: {rid} Version: {re.escape(version)}\s*", l)]
    end = [i for i, l in enumerate(lines) if re.fullmatch(rf"END RequestId: {rid}\s*", l)]
    report = inv.report()
    report_at = [i for i, l in enumerate(lines) if l == report.line]
    assert start, f"no 'START RequestId: {inv.request_id} Version: {version}' line in:\n{inv.log}"
    assert end, f"no 'END RequestId: {inv.request_id}' line in:\n{inv.log}"
    assert start[0] < end[0] < report_at[0], f"START, END, REPORT out of order in:\n{inv.log}"
    assert report.memory_mb == memory_mb, report.line
    assert report.billed_ms >= int(report.duration_ms), f"billed less than the duration: {report.line}"
    assert 0 < report.max_memory_used_mb <= memory_mb, report.line
    return report


def client_error_parts(error) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a botocore ClientError."""
    response = error.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Code", ""),
        response["Error"].get("Message", ""),
    )
