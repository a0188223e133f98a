#!/usr/bin/env python3
"""Functions benchmark: cloudlet side by side with serverless-offline.

Run through `bench/functions` (it builds cloudlet and the Rust fixture first):

    bench/functions                      # everything, about 4 minutes
    bench/functions --invokes 200 --seconds 5 --cold-runs 5
    bench/functions --no-peer            # cloudlet only

What it measures, for cloudlet and for serverless-offline 13 (the peer) in the
same run, with the same clients:

- warm sync invoke latency: one keep-alive connection, 20 warm-ups, then N
  sequential POSTs of {"hello":"world","i":n}; p50/p90/p99/max with
  statistics.quantiles(method="inclusive"), as the peer's measurements did;
  with http.client (the peer document's client) and with a bare socket
  (a fraction of the client CPU); plus the servers' CPU per invoke;
- throughput: 8 threads, each with its own connection, for S seconds after a
  warm-up at concurrency 8 (cloudlet starts one environment per concurrent
  request, as Lambda does; so does the peer), with both clients;
- cold start: cloudlet deploys a new function and times its first invoke from
  the client, and reads `Init Duration` from the REPORT line, one at a time
  and 8 at once; the peer's first invoke after a fresh server start (one
  invoke, and 8 at once), and its `--reloadHandler` mode (a new instance per
  invoke in a warm server);
- floors of this machine: process start of node and python, and the same
  clients against a trivial HTTP echo server;
- how much CPU other processes on the host took during the run.

Sections alternate between cloudlet and the peer (warm, throughput, cold) so
that background load on a shared machine hits both alike. Every process it
starts is stopped at the end, on error, on Ctrl-C and on SIGTERM.

stdlib only: this is a benchmark, not a test, and it must run anywhere the
repository builds. Raw results go to target/bench/functions-<time>.json.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import http.client
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "functions"
PEER_DIR = REPO / "bench" / "peers" / "slsoff"
PEER_SERVICE = PEER_DIR / "svc"
RESULTS_DIR = REPO / "target" / "bench"

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
PEER_SERVICE_NAME = "slsbench"
PEER_STAGE = "dev"
PEER_DEFAULT_PORTS = {"httpPort": 3000, "websocketPort": 3001, "lambdaPort": 3002}
JSON_HEADERS = {"Content-Type": "application/json"}

# The three echo functions, keyed by runtime. `peer` is the peer's function
# name (serverless-offline runs provided.al2023 only in Docker: none here).
RUNTIMES = ("python3.11", "nodejs20.x", "provided.al2023")
PEER_FUNCTIONS = {"python3.11": "pyecho", "nodejs20.x": "echo"}
WARM_UPS = 20

REPORT_RE = re.compile(
    r"^REPORT RequestId: (?P<id>\S+)\tDuration: (?P<duration>[\d.]+) ms\t.*?"
    r"(?:Init Duration: (?P<init>[\d.]+) ms)?\t?$",
    re.M,
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Processes: everything started here is registered and stopped at exit.


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM to the child if this script dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Service:
    """A server process with its output in a log file, stopped with SIGTERM
    (SIGKILL after `grace_s`), in its own session so that a Ctrl-C in the
    terminal reaches only this script, which then stops it in order."""

    running: list["Service"] = []

    def __init__(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str], log_path: Path,
                 grace_s: float = 10.0) -> None:
        self.name = name
        self.log_path = log_path
        self.grace_s = grace_s
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as out:
            self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self.started = time.perf_counter()
        Service.running.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_output(self, pattern: re.Pattern[str], timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            match = pattern.search(self.output())
            if match:
                return match
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not print {pattern.pattern!r} in {timeout_s} s:\n"
                                   f"{self.output()[-3000:]}")
            time.sleep(0.005)

    def stop(self) -> None:
        """SIGTERM, then checks that every process it had started is gone;
        any left (by pid, as seen before the stop) is killed."""
        if self in Service.running:
            Service.running.remove(self)
        before = descendants(self.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                log(f"  {self.name} did not stop within {self.grace_s} s of SIGTERM: killing it")
                self.proc.kill()
                self.proc.wait()
        deadline = time.monotonic() + 2
        while True:
            left = [pid for pid in before if pid_alive(pid)]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if left:
            log(f"  {self.name} left {len(left)} process(es) behind: killing {left}")
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    @classmethod
    def stop_all(cls) -> None:
        for service in list(reversed(cls.running)):
            try:
                service.stop()
            except Exception as err:  # keep stopping the others
                log(f"  cannot stop {service.name}: {err}")


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in (b"Z", b"X"):
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# ---------------------------------------------------------------------------
# The client


class Client:
    """One keep-alive HTTP/1.1 connection for control calls (any method,
    headers, the whole response)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def connect(self) -> None:
        self.conn.connect()

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        self.conn.request(method, path, body, headers or {})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, response.headers, data

    def close(self) -> None:
        self.conn.close()


class HttpClient:
    """The measuring client of the peer's numbers: http.client, keep-alive."""

    kind = "http.client"

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def connect(self) -> None:
        self.conn.connect()

    def post(self, path: str, body: bytes) -> tuple[int, str | None, bytes]:
        """(status, X-Amz-Function-Error, body)."""
        self.conn.request("POST", path, body, JSON_HEADERS)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, response.headers.get("X-Amz-Function-Error"), data

    def close(self) -> None:
        self.conn.close()


class RawClient:
    """A keep-alive HTTP/1.1 client on a bare socket: one prepared request
    per invoke, a minimal response parser (Content-Length or chunked). It
    costs the client a fraction of http.client's CPU, which matters when the
    load generator shares 2 cores with the servers it measures."""

    kind = "raw socket"

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.host_header = address.encode()
        self.sock: socket.socket | None = None
        self.buf = b""

    def connect(self) -> None:
        self.sock = socket.create_connection(self.address, timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line, self.buf = self.buf[:end], self.buf[end + 2:]
        return line

    def post(self, path: str, body: bytes) -> tuple[int, str | None, bytes]:
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), self.host_header, len(body), body))
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buf = self.buf[:end].lower(), self.buf[end + 4:]
        status = int(head[9:12])
        function_error = None
        length = None
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"x-amz-function-error":
                function_error = value.strip().decode()
        if chunked:
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the empty line
                pass
            return status, function_error, b"".join(parts)
        return status, function_error, self._take(length or 0)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


CLIENTS: dict[str, type] = {"http": HttpClient, "raw": RawClient}


def echo_body(i: int) -> bytes:
    return json.dumps({"hello": "world", "i": i}, separators=(",", ":")).encode()


def check_echo(status: int, function_error: str | None, data: bytes, i: int, what: str) -> None:
    if status != 200 or function_error:
        raise RuntimeError(f"{what}: invoke {i} returned {status} (function error {function_error}): {data[:500]!r}")
    if json.loads(data) != {"hello": "world", "i": i}:
        raise RuntimeError(f"{what}: invoke {i} returned {data[:500]!r}, not its event")


def quantiles_ms(samples_ns: list[int]) -> dict[str, float]:
    ms = [s / 1e6 for s in samples_ns]
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": q[49], "p90": q[89], "p99": q[98], "max": max(ms), "n": len(ms)}


def cpu_s(pids: list[int]) -> float:
    """CPU seconds these processes have run so far, from each live thread's
    /proc/PID/task/TID/schedstat (nanoseconds; finer than the 10 ms ticks of
    /proc/PID/stat). Threads that have exited are not counted."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                    total += int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                pass
    return total / 1e9


def warm_latency(address: str, path: str, invokes: int, what: str, *, client_kind: str = "http",
                 server_pid: int | None = None) -> dict[str, float]:
    """20 warm-ups, then `invokes` timed sequential POSTs on one connection.
    With `server_pid`, also the CPU time per invoke of that process and
    everything below it (the function processes), and of this client."""
    client = CLIENTS[client_kind](address)
    try:
        for i in range(WARM_UPS):
            check_echo(*client.post(path, echo_body(i)), i, what)
        servers = [server_pid, *descendants(server_pid)] if server_pid else []
        server_cpu = cpu_s(servers)
        client_cpu = time.process_time()
        samples = []
        replies = []
        for i in range(invokes):
            body = echo_body(i)
            began = time.perf_counter_ns()
            reply = client.post(path, body)
            samples.append(time.perf_counter_ns() - began)
            replies.append(reply)
        result = quantiles_ms(samples)
        if server_pid:
            result["server_cpu_us"] = (cpu_s(servers) - server_cpu) / invokes * 1e6
            result["client_cpu_us"] = (time.process_time() - client_cpu) / invokes * 1e6
        for i, reply in enumerate(replies):
            check_echo(*reply, i, what)
        return result
    finally:
        client.close()


def throughput(address: str, path: str, threads: int, seconds: float, what: str, *,
               client_kind: str = "http", server_pid: int | None = None) -> dict[str, float]:
    """`threads` clients, each on its own connection: a warm-up of 20 invokes
    each at full concurrency, then invokes for `seconds`. With `server_pid`,
    also the number of processes below it afterwards."""
    deadline = [0.0]
    started = [0.0]

    def set_deadline() -> None:
        started[0] = time.perf_counter()
        deadline[0] = started[0] + seconds

    warm_barrier = threading.Barrier(threads)
    go_barrier = threading.Barrier(threads, action=set_deadline)
    results: list[dict[str, Any]] = [{} for _ in range(threads)]

    def worker(k: int) -> None:
        client = CLIENTS[client_kind](address)
        ok = errors = 0
        samples: list[int] = []
        first_error = None
        try:
            client.connect()
            warm_barrier.wait()
            for i in range(WARM_UPS):
                check_echo(*client.post(path, echo_body(i)), i, what)
            go_barrier.wait()
            i = 0
            while time.perf_counter() < deadline[0]:
                body = echo_body(i)
                began = time.perf_counter_ns()
                try:
                    status, function_error, data = client.post(path, body)
                except (OSError, http.client.HTTPException) as err:
                    errors += 1
                    first_error = first_error or repr(err)
                    client.close()
                    client = CLIENTS[client_kind](address)
                    continue
                samples.append(time.perf_counter_ns() - began)
                if status == 200 and not function_error:
                    ok += 1
                else:
                    errors += 1
                    first_error = first_error or f"{status}: {data[:200]!r}"
                i += 1
        except threading.BrokenBarrierError:
            pass
        except Exception as err:
            first_error = repr(err)
            warm_barrier.abort()
            go_barrier.abort()
        finally:
            client.close()
            results[k] = {"ok": ok, "errors": errors, "samples": samples, "ended": time.perf_counter(),
                          "first_error": first_error}

    workers = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    first_errors = [r["first_error"] for r in results if r.get("first_error")]
    if not started[0]:
        raise RuntimeError(f"{what}: throughput run never started: {first_errors[:1]}")
    elapsed = max(r["ended"] for r in results) - started[0]
    ok = sum(r["ok"] for r in results)
    errors = sum(r["errors"] for r in results)
    samples = [s for r in results for s in r["samples"]]
    latency = quantiles_ms(samples)
    return {"invokes_per_s": ok / elapsed, "ok": ok, "errors": errors, "elapsed_s": elapsed,
            "p50": latency["p50"], "p99": latency["p99"], "first_error": first_errors[0] if first_errors else None,
            "processes_after": len(descendants(server_pid)) if server_pid else None}


def median(values: list[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------------------
# cloudlet


def daemon_env() -> dict[str, str]:
    """This process's environment without CLOUDLET_* settings, RUST_LOG, or
    the project's venvs on PATH (as tests/e2e/harness.py does): functions get
    the host's interpreters, like a developer's daemon."""
    venv_bins = {str(REPO / ".venv" / "bin"), str(REPO / ".venv-ric" / "bin")}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CLOUDLET_") and k not in ("RUST_LOG", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and p.rstrip("/") not in venv_bins)
    return env


def zip_entries(entries: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix, so external_attr holds a mode
            info.external_attr = (mode | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass
class FunctionCode:
    runtime: str
    handler: str
    zip_bytes: bytes


def function_codes(rust_bootstrap: Path) -> dict[str, FunctionCode]:
    return {
        "python3.11": FunctionCode("python3.11", "echo.handler", zip_entries(
            {"echo.py": ((FIXTURES / "python" / "echo.py").read_bytes(), 0o644)})),
        "nodejs20.x": FunctionCode("nodejs20.x", "echo.handler", zip_entries(
            {"echo.mjs": ((FIXTURES / "node" / "echo.mjs").read_bytes(), 0o644)})),
        "provided.al2023": FunctionCode("provided.al2023", "bootstrap", zip_entries(
            {"bootstrap": (rust_bootstrap.read_bytes(), 0o755)})),
    }


class Cloudlet:
    def __init__(self, binary: Path, data_dir: Path, log_dir: Path) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.service: Service | None = None
        self.address = ""

    def start(self) -> None:
        self.service = Service(
            "cloudlet", [str(self.binary), "up", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)],
            cwd=REPO, env=daemon_env(), log_path=self.log_dir / "cloudlet.log", grace_s=5.0)
        match = self.service.wait_for_output(re.compile(r"^\s*listening\s+http://(\S+)\s*$", re.M), 15)
        self.address = match.group(1)
        deadline = time.monotonic() + 15
        while True:
            try:
                client = Client(self.address)
                status, _, _ = client.call("GET", "/_cloudlet/health")
                client.close()
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cloudlet never became healthy:\n{self.service.output()[-3000:]}")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.service:
            self.service.stop()

    def create(self, client: Client, name: str, code: FunctionCode, memory_mb: int) -> None:
        body = json.dumps({
            "FunctionName": name, "Runtime": code.runtime, "Handler": code.handler, "Role": ROLE,
            "Code": {"ZipFile": base64.b64encode(code.zip_bytes).decode()},
            "MemorySize": memory_mb, "Timeout": 30,
        }).encode()
        status, _, data = client.call("POST", "/2015-03-31/functions", body, JSON_HEADERS)
        if status != 201:
            raise RuntimeError(f"CreateFunction {name} returned {status}: {data[:500]!r}")

    def delete(self, client: Client, name: str) -> None:
        status, _, data = client.call("DELETE", f"/2015-03-31/functions/{name}")
        if status not in (200, 204):
            raise RuntimeError(f"DeleteFunction {name} returned {status}: {data[:500]!r}")

    @staticmethod
    def invoke_path(name: str) -> str:
        return f"/2015-03-31/functions/{name}/invocations"


COLD_START_PHASES = ("code_unpack", "process_start", "runtime_init", "init_code", "runtime_and_init_code")
PHASE_SAMPLE_RE = re.compile(r'^cloudlet_lambda_cold_start_phase_ms_sum\{([^}]*)\} (\S+)$', re.M)


def cold_start_phases(control: Client, function: str) -> tuple[dict[str, float], str]:
    """One function's cold-start phases from /metrics (each observed once for
    a new function): ms by phase, and its process label (new or spare)."""
    status, _, data = control.call("GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"GET /metrics returned {status}")
    phases, process = {}, ""
    for match in PHASE_SAMPLE_RE.finditer(data.decode()):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels.get("function") == function:
            phases[labels["phase"]] = float(match.group(2))
            process = labels.get("process", process)
    return phases, process


def cloudlet_cold_starts(cloudlet: Cloudlet, codes: dict[str, FunctionCode], runtime: str, memory_mb: int,
                         runs: int) -> dict[str, Any]:
    """Deploys a new function `runs` times and times its first invoke from the
    client (on a connection opened beforehand), reading Init Duration from the
    REPORT line and the cold-start phases from /metrics. Each function is
    deleted afterwards, which stops its environment."""
    control = Client(cloudlet.address)
    client_ms, init_ms, duration_ms = [], [], []
    phase_ms: dict[str, list[float]] = {}
    processes: dict[str, int] = {}
    try:
        for run in range(runs):
            name = f"cold-{runtime.split('.')[0]}-{memory_mb}-{run}-{uuid.uuid4().hex[:8]}"
            cloudlet.create(control, name, codes[runtime], memory_mb)
            client = Client(cloudlet.address)
            client.connect()
            began = time.perf_counter_ns()
            status, headers, data = client.call("POST", Cloudlet.invoke_path(name), echo_body(run),
                                                {**JSON_HEADERS, "X-Amz-Log-Type": "Tail"})
            elapsed = time.perf_counter_ns() - began
            client.close()
            check_echo(status, headers.get("X-Amz-Function-Error"), data, run, f"cold {runtime}")
            tail = base64.b64decode(headers.get("X-Amz-Log-Result", "")).decode(errors="replace")
            report = next((m for m in REPORT_RE.finditer(tail) if m.group("id") == headers.get("x-amzn-RequestId")),
                          None)
            if report is None or report.group("init") is None:
                raise RuntimeError(f"cold {runtime}: no REPORT line with Init Duration in:\n{tail}")
            client_ms.append(elapsed / 1e6)
            init_ms.append(float(report.group("init")))
            duration_ms.append(float(report.group("duration")))
            phases, process = cold_start_phases(control, name)
            for phase, ms in phases.items():
                phase_ms.setdefault(phase, []).append(ms)
            processes[process] = processes.get(process, 0) + 1
            cloudlet.delete(control, name)
            time.sleep(0.2)  # let the environment's teardown finish before the next start
    finally:
        control.close()
    return {"client_ms": client_ms, "init_ms": init_ms, "duration_ms": duration_ms,
            "client_median": median(client_ms), "init_median": median(init_ms),
            "duration_median": median(duration_ms), "phase_ms": phase_ms,
            "phase_medians": {phase: median(values) for phase, values in phase_ms.items()},
            "processes": processes}


def concurrent_first_invokes(address: str, path: str, concurrency: int, what: str) -> list[float]:
    """`concurrency` clients, connected beforehand, send their first invoke
    at the same moment; returns each one's time in ms."""
    barrier = threading.Barrier(concurrency)
    times: list[float] = [0.0] * concurrency
    errors: list[str] = []

    def worker(k: int) -> None:
        client = HttpClient(address)
        try:
            client.connect()
            barrier.wait()
            began = time.perf_counter_ns()
            reply = client.post(path, echo_body(k))
            times[k] = (time.perf_counter_ns() - began) / 1e6
            check_echo(*reply, k, what)
        except Exception as err:
            errors.append(repr(err))
            barrier.abort()
        finally:
            client.close()

    workers = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(concurrency)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    if errors:
        raise RuntimeError(f"{what}: {errors[0]}")
    return times


def burst_summary(bursts: list[list[float]]) -> dict[str, Any]:
    """Per burst its median and slowest invoke; then the median of each over
    the bursts."""
    return {"bursts_ms": bursts, "median_ms": median([median(b) for b in bursts]),
            "slowest_ms": median([max(b) for b in bursts])}


def cloudlet_cold_bursts(cloudlet: Cloudlet, codes: dict[str, FunctionCode], runtime: str, memory_mb: int,
                         concurrency: int, bursts: int) -> dict[str, Any]:
    """A new function gets `concurrency` invokes at once: as many cold starts
    at the same moment (only the first can take a pre-started process)."""
    control = Client(cloudlet.address)
    results = []
    try:
        for run in range(bursts):
            name = f"burst-{runtime.split('.')[0]}-{run}-{uuid.uuid4().hex[:8]}"
            cloudlet.create(control, name, codes[runtime], memory_mb)
            results.append(concurrent_first_invokes(cloudlet.address, Cloudlet.invoke_path(name), concurrency,
                                                    f"burst {runtime}"))
            cloudlet.delete(control, name)
            time.sleep(0.5)
    finally:
        control.close()
    return burst_summary(results)


# ---------------------------------------------------------------------------
# The peer: serverless-offline 13 on Serverless Framework 3


PEER_SERVERLESS_YML = f"""\
# Written by bench/functions.py; do not edit (it is rewritten on every run).
service: {PEER_SERVICE_NAME}
frameworkVersion: '3'
provider:
  name: aws
  runtime: nodejs20.x
  region: us-east-1
  stage: {PEER_STAGE}
  memorySize: 1769
  timeout: 30
plugins:
  - serverless-offline
functions:
  echo:
    handler: handler.echo
  pyecho:
    handler: pyecho.handler
    runtime: python3.11
"""
PEER_NODE_HANDLER = "// Written by bench/functions.py.\nexports.echo = async (event) => event;\n"
PEER_PYTHON_HANDLER = "# Written by bench/functions.py.\n\n\ndef handler(event, context):\n    return event\n"


def peer_versions() -> dict[str, str]:
    versions = {}
    for package in ("serverless", "serverless-offline"):
        try:
            manifest = json.loads((PEER_DIR / "node_modules" / package / "package.json").read_text())
            versions[package] = manifest["version"]
        except (OSError, ValueError, KeyError):
            versions[package] = "?"
    return versions


def install_peer() -> None:
    """Installs the peer as peer-serverless-offline.md says, once."""
    binary = PEER_DIR / "node_modules" / ".bin" / "serverless"
    if binary.exists() and (PEER_DIR / "node_modules" / "serverless-offline" / "package.json").exists():
        log(f"peer: already installed in {PEER_DIR.relative_to(REPO)} ({peer_versions()})")
    else:
        if not shutil.which("npm"):
            raise RuntimeError("npm is not on PATH: the peer (serverless-offline) needs Node.js and npm")
        PEER_DIR.mkdir(parents=True, exist_ok=True)
        (PEER_DIR / "package.json").write_text('{ "name": "slsoff-bench", "version": "1.0.0", "private": true }\n')
        log(f"peer: npm install serverless@3 serverless-offline@13 in {PEER_DIR.relative_to(REPO)} (about a minute)")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "serverless@3", "serverless-offline@13"],
                       cwd=PEER_DIR, check=True, stdout=sys.stderr)
        log(f"peer: installed {peer_versions()}")
    PEER_SERVICE.mkdir(parents=True, exist_ok=True)
    for name, text in (("serverless.yml", PEER_SERVERLESS_YML), ("handler.js", PEER_NODE_HANDLER),
                       ("pyecho.py", PEER_PYTHON_HANDLER)):
        path = PEER_SERVICE / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


class Peer:
    """`serverless offline start` with the peer document's exact command."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.service: Service | None = None
        self.starts = 0
        if all(port_free(p) for p in PEER_DEFAULT_PORTS.values()):
            self.ports = dict(PEER_DEFAULT_PORTS)
        else:
            self.ports = {key: free_port() for key in PEER_DEFAULT_PORTS}
            log(f"peer: ports 3000-3002 are busy; using {self.ports}")
        self.address = f"127.0.0.1:{self.ports['lambdaPort']}"

    def start(self, *extra: str) -> float:
        """Starts the server; returns seconds from spawn to ready."""
        self.starts += 1
        env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        command = [str(PEER_DIR / "node_modules" / ".bin" / "serverless"), "offline", "start",
                   "--host", "127.0.0.1", *(f"--{k}={v}" for k, v in self.ports.items()), *extra]
        began = time.perf_counter()
        self.service = Service("serverless-offline", command, cwd=PEER_SERVICE, env=env,
                               log_path=self.log_dir / f"peer-{self.starts}.log", grace_s=10.0)
        # With no HTTP events there is no "Server ready" line: the Lambda
        # invoke server is up once it has listed the functions it exposes.
        self.service.wait_for_output(re.compile(rf"\* pyecho: {PEER_SERVICE_NAME}-{PEER_STAGE}-pyecho"), 60)
        return time.perf_counter() - began

    def stop(self) -> None:
        if self.service:
            self.service.stop()
            self.service = None

    @staticmethod
    def invoke_path(function: str) -> str:
        return f"/2015-03-31/functions/{PEER_SERVICE_NAME}-{PEER_STAGE}-{function}/invocations"

    def first_invoke_ms(self, function: str, settle_s: float) -> float:
        time.sleep(settle_s)
        client = HttpClient(self.address)
        client.connect()
        began = time.perf_counter_ns()
        reply = client.post(self.invoke_path(function), echo_body(0))
        elapsed = time.perf_counter_ns() - began
        client.close()
        check_echo(*reply, 0, f"peer cold {function}")
        return elapsed / 1e6


def peer_cold_starts(peer: Peer, function: str, runs: int, settle_s: float) -> dict[str, Any]:
    """First invoke after a fresh server start, `runs` times."""
    samples, ready = [], []
    for _ in range(runs):
        ready.append(peer.start())
        try:
            samples.append(peer.first_invoke_ms(function, settle_s))
        finally:
            peer.stop()
    return {"client_ms": samples, "client_median": median(samples), "server_ready_s": ready}


def peer_cold_bursts(peer: Peer, function: str, concurrency: int, bursts: int, settle_s: float) -> dict[str, Any]:
    """`concurrency` first invokes at once after a fresh server start."""
    results = []
    for _ in range(bursts):
        peer.start()
        try:
            time.sleep(settle_s)
            results.append(concurrent_first_invokes(peer.address, Peer.invoke_path(function), concurrency,
                                                    f"peer burst {function}"))
        finally:
            peer.stop()
    return burst_summary(results)


def peer_reload_cold(peer: Peer, function: str, runs: int) -> dict[str, Any]:
    """With --reloadHandler every invoke gets a new instance. The first
    invoke (which also warms the server's own code) is left out."""
    peer.start("--reloadHandler")
    try:
        client = HttpClient(peer.address)
        samples = []
        for i in range(runs + 1):
            began = time.perf_counter_ns()
            reply = client.post(peer.invoke_path(function), echo_body(i))
            elapsed = time.perf_counter_ns() - began
            check_echo(*reply, i, f"peer reload {function}")
            if i:
                samples.append(elapsed / 1e6)
        client.close()
        leaked = len(descendants(peer.service.pid)) if peer.service else 0
    finally:
        peer.stop()
    return {"client_ms": samples, "client_median": median(samples), "processes_left": leaked}


# ---------------------------------------------------------------------------
# Floors of this machine


def spawn_ms(command: list[str], runs: int = 15, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter_ns()
        subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, check=True)
        samples.append((time.perf_counter_ns() - began) / 1e6)
    return median(samples)


FLOOR_SERVER = """\
const http = require("http");
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => { res.writeHead(200, {"content-type": "application/json"}); res.end(Buffer.concat(chunks)); });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log("listening 127.0.0.1:" + server.address().port));
"""


def floors(log_dir: Path, invokes: int, threads: int, seconds: float) -> dict[str, Any]:
    env = daemon_env()
    python = shutil.which("python3.11", path=env["PATH"]) or "python3.11"
    real_python = subprocess.run([python, "-c", "import sys; print(sys.executable)"], capture_output=True,
                                 text=True, env=env, check=True).stdout.strip()
    # Functions get Lambda's environment variables and nothing else from the
    # host: no NODE_EXTRA_CA_CERTS or NODE_OPTIONS (which this host sets, and
    # which make every Node start slower). Both are measured.
    clean = {"PATH": env["PATH"]}
    result: dict[str, Any] = {
        "python_executable": real_python,
        "spawn_sh_true_ms": spawn_ms(["/bin/sh", "-c", "exec /bin/true"], env=clean),
        "node_e0_ms": spawn_ms(["node", "-e", "0"]),
        "node_e0_clean_ms": spawn_ms(["node", "-e", "0"], env=clean),
        "python_pass_ms": spawn_ms([real_python, "-c", "pass"], env=clean),
        "python_nosite_ms": spawn_ms([real_python, "-S", "-c", "pass"], env=clean),
        # What serverless-offline spawns for python3.11: `python3` through a
        # shell, with this script's environment.
        "peer_python3_via_shell_ms": spawn_ms(["/bin/sh", "-c", "python3 -c pass"]),
        "node_extra_ca_certs": "NODE_EXTRA_CA_CERTS" in os.environ or "NODE_OPTIONS" in os.environ,
    }
    site = Path(real_python).resolve().parent.parent / "lib" / "python3.11" / "site-packages"
    result["site_pth_files"] = sorted(p.name for p in site.glob("*.pth")) if site.is_dir() else []
    # The same client against a trivial Node.js HTTP echo server.
    script = log_dir / "floor_server.js"
    script.write_text(FLOOR_SERVER)
    service = Service("floor server", ["node", str(script)], cwd=log_dir, env=dict(os.environ),
                      log_path=log_dir / "floor_server.log", grace_s=5.0)
    try:
        address = service.wait_for_output(re.compile(r"listening (\S+)"), 10).group(1)
        for kind in CLIENTS:
            result[f"client_floor_latency_{kind}"] = warm_latency(address, "/", invokes, "floor server",
                                                                  client_kind=kind)
            result[f"client_floor_throughput_{kind}"] = throughput(address, "/", threads, seconds, "floor server",
                                                                   client_kind=kind)
    finally:
        service.stop()
    return result


# ---------------------------------------------------------------------------
# The machine


def cpu_busy_percent(seconds: float = 1.0) -> float:
    """How busy the host's CPUs are (all of them, 0-100), over `seconds`:
    other people's builds on a shared machine make every number worse."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 100.0 * (1 - (idle1 - idle0) / max(total1 - total0, 1))


def host_cpu_s() -> float:
    """CPU seconds all of the host's CPUs have been busy since boot."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this script and every child it has waited for (each
    server's own children, waited for by it, are included)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def machine() -> dict[str, str]:
    info = {"kernel": platform.release()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)"):
                info[key.strip()] = value.strip()
    except OSError:
        pass
    try:
        mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal:"))
        info["memory"] = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    info["loadavg"] = open("/proc/loadavg").read().split(" ")[0]
    info["busy_before"] = f"{cpu_busy_percent():.0f}%"
    info["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    info["python"] = platform.python_version()
    info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                    text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "crates", ":(exclude)crates/*/tests"], cwd=REPO, capture_output=True,
                           text=True).stdout.strip()
    if dirty:
        info["commit"] += " (crates/ modified)"
    return info


# ---------------------------------------------------------------------------
# Report


@dataclass
class Row:
    measure: str
    runtime: str
    cloudlet: float | None
    peer: float | None
    unit: str
    note: str = ""


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "/s":
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(row: Row) -> str:
    if row.cloudlet is None or row.peer is None or row.peer == 0:
        return "—"
    return f"{row.cloudlet / row.peer:.2f}×"


def table(rows: list[Row], markdown: bool) -> str:
    header = ["measure", "runtime", "cloudlet", "serverless-offline", "cloudlet ÷ peer"]
    body = [[r.measure + (f" ({r.unit})" if r.unit else ""), r.runtime, fmt(r.cloudlet, r.unit),
             fmt(r.peer, r.unit) + (f" {r.note}" if r.note else ""), ratio(r)] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["--:"] * 3) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(c) for c in body])


def build_rows(r: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    c, p = r["cloudlet"], r.get("peer", {})

    def get(side: dict[str, Any], *keys: str) -> Any:
        for key in keys:
            if not isinstance(side, dict) or key not in side:
                return None
            side = side[key]
        return side

    for kind, stats in (("http", ("p50", "p90", "p99", "max")), ("raw", ("p50", "p99"))):
        for stat in stats:
            for runtime in RUNTIMES:
                rows.append(Row(f"warm invoke {stat}, {CLIENTS[kind].kind}", runtime,
                                get(c, "warm", kind, runtime, stat), get(p, "warm", kind, runtime, stat), "ms"))
    for runtime in RUNTIMES:
        rows.append(Row("CPU per warm invoke, server + function processes", runtime,
                        get(c, "warm", "http", runtime, "server_cpu_us"),
                        get(p, "warm", "http", runtime, "server_cpu_us"), "µs"))
    for kind in CLIENTS:
        for runtime in RUNTIMES:
            rows.append(Row(f"throughput, {args.threads} clients, {CLIENTS[kind].kind}", runtime,
                            get(c, "throughput", kind, runtime, "invokes_per_s"),
                            get(p, "throughput", kind, runtime, "invokes_per_s"), "/s"))
    for stat in ("p50", "p99"):
        for runtime in RUNTIMES:
            rows.append(Row(f"latency under {args.threads} clients {stat}, http.client", runtime,
                            get(c, "throughput", "http", runtime, stat), get(p, "throughput", "http", runtime, stat),
                            "ms"))
    for memory_mb in args.memory:
        for runtime in RUNTIMES:
            rows.append(Row(f"cold start, first invoke, median, {memory_mb} MB", runtime,
                            get(c, "cold", f"{runtime}@{memory_mb}", "client_median"),
                            get(p, "cold", runtime, "client_median"), "ms"))
        for runtime in RUNTIMES:
            rows.append(Row(f"cold start, REPORT Init Duration, median, {memory_mb} MB", runtime,
                            get(c, "cold", f"{runtime}@{memory_mb}", "init_median"), None, "ms",
                            note="(no REPORT line)" if runtime in PEER_FUNCTIONS and p else ""))
        for phase in COLD_START_PHASES:
            for runtime in RUNTIMES:
                rows.append(Row(f"cold start phase {phase}, median, {memory_mb} MB", runtime,
                                get(c, "cold", f"{runtime}@{memory_mb}", "phase_medians", phase), None, "ms"))
    for stat, label in (("median_ms", "median"), ("slowest_ms", "slowest")):
        for runtime in RUNTIMES:
            rows.append(Row(f"cold start, {args.threads} at once, {label} of {args.threads}, {args.memory[0]} MB",
                            runtime, get(c, "burst", runtime, stat), get(p, "burst", runtime, stat), "ms"))
    for runtime in PEER_FUNCTIONS:
        if get(p, "reload", runtime):
            rows.append(Row(f"cold start vs peer --reloadHandler, median, {args.memory[0]} MB", runtime,
                            get(c, "cold", f"{runtime}@{args.memory[0]}", "client_median"),
                            get(p, "reload", runtime, "client_median"), "ms"))
    return [row for row in rows if row.cloudlet is not None or row.peer is not None]


def summary_lines(r: dict[str, Any], args: argparse.Namespace) -> list[str]:
    m = r["machine"]
    lines = [
        f"machine: {m.get('Model name', '?')}, {m.get('CPU(s)', '?')} CPUs, {m.get('memory', '?')}, "
        f"Linux {m['kernel']}; node {m['node']}, python {m['python']}",
        f"host CPU used by other processes: {r.get('others_busy_percent', 0):.0f}% during the run; "
        f"host CPU busy just before: {m['busy_before']}, just after: {r.get('busy_after', '?')}",
        f"cloudlet {m['commit']} (release build); environments: {r['cloudlet'].get('sandbox', '?')}; Python "
        f"runtime client: {r['cloudlet'].get('python_runtime_client', '?')}; Node.js runtime client: "
        f"{r['cloudlet'].get('node_runtime_client', '?')}",
    ]
    if "peer" in r:
        v = r["peer"]["versions"]
        lines.append(f"peer: serverless-offline {v.get('serverless-offline')} on serverless {v.get('serverless')}; "
                     f"server start to ready median {median(r['peer']['server_ready_s']):.2f} s; provided.al2023 "
                     f"runs only in Docker there (—)")
    lines.append(f"warm: {args.invokes} sequential invokes after {WARM_UPS} warm-ups, one keep-alive connection; "
                 f"throughput: {args.threads} threads × {args.seconds:g} s after {WARM_UPS} warm-ups each at "
                 f"concurrency {args.threads}; cold: {args.cold_runs} new functions one at a time, 0.2 s apart, per "
                 f"case, and {args.bursts} bursts of {args.threads} at once (medians over bursts); warm, throughput "
                 f"and bursts at MemorySize {args.memory[0]} MB")
    spares = [f"{case} {res['processes'].get('spare', 0)}/{sum(res['processes'].values())}"
              for case, res in r["cloudlet"]["cold"].items() if "processes" in res]
    lines.append("cold start phases: medians of cloudlet_lambda_cold_start_phase_ms (/metrics) per new function; "
                 "runtime_and_init_code where the runtime client cannot tell them apart (provided); cold starts "
                 f"that adopted a spare process: {', '.join(spares)}")
    if "peer" in r:
        lines.append(f"peer cold start = first invoke after a fresh server start ({args.settle_s:g} s after "
                     f"it is ready), one function per start; its --reloadHandler variant is the last rows")
    cpu = [f"{CLIENTS[kind].kind} {r['cloudlet']['warm'][kind][RUNTIMES[0]].get('client_cpu_us', 0):.0f} µs"
           for kind in CLIENTS if kind in r["cloudlet"]["warm"]]
    lines.append(f"client CPU per warm invoke: {', '.join(cpu)}")
    f = r.get("floors")
    if f:
        lines.append(
            f"floors: spawn `sh -c 'exec true'` {f['spawn_sh_true_ms']:.1f} ms; `node -e 0` "
            f"{f['node_e0_clean_ms']:.1f} ms in a clean environment (as functions get), {f['node_e0_ms']:.1f} ms in "
            f"this shell's{' (NODE_EXTRA_CA_CERTS/NODE_OPTIONS set)' if f['node_extra_ca_certs'] else ''}; "
            f"`python3.11 -c pass` {f['python_pass_ms']:.1f} ms, with -S (no site) {f['python_nosite_ms']:.1f} ms "
            f"(site-packages .pth: {', '.join(f['site_pth_files']) or 'none'}); `sh -c 'python3 -c pass'` "
            f"(what the peer spawns) {f['peer_python3_via_shell_ms']:.1f} ms")
        floor = []
        for kind in CLIENTS:
            lat, tp = f[f"client_floor_latency_{kind}"], f[f"client_floor_throughput_{kind}"]
            floor.append(f"{CLIENTS[kind].kind} p50 {lat['p50']:.3f} / p99 {lat['p99']:.3f} ms, "
                         f"{tp['invokes_per_s']:,.0f} req/s with {args.threads} threads")
        lines.append(f"client floor (the same clients against a trivial Node.js http echo server): {'; '.join(floor)}")
    envs = r["cloudlet"].get("processes_after_throughput")
    if envs is not None:
        lines.append(f"processes under cloudlet after the throughput runs: {envs}"
                     + (f"; under the peer: {r['peer']['processes_after_throughput']}" if "peer" in r else ""))
    return lines


# ---------------------------------------------------------------------------
# Main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cloudlet", type=Path, default=REPO / "target" / "release" / "cloudlet")
    parser.add_argument("--rust-bootstrap", type=Path, required=True)
    parser.add_argument("--invokes", type=int, default=500, help="timed sequential invokes (default 500)")
    parser.add_argument("--threads", type=int, default=8, help="throughput clients (default 8)")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput duration (default 10)")
    parser.add_argument("--cold-runs", type=int, default=10, help="cold starts per case (default 10)")
    parser.add_argument("--bursts", type=int, default=3,
                        help="bursts of --threads simultaneous cold starts per runtime (default 3)")
    parser.add_argument("--memory", type=int, nargs="+", default=[1769, 128],
                        help="MemorySize of the cold-start cases; the first is used for warm and throughput")
    parser.add_argument("--settle-s", type=float, default=0.5,
                        help="pause between the peer being ready and its first invoke (default 0.5)")
    parser.add_argument("--no-peer", action="store_true", help="measure cloudlet only")
    parser.add_argument("--no-floors", action="store_true", help="skip the floor measurements")
    args = parser.parse_args()

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    work = Path(tempfile.mkdtemp(prefix="cloudlet-bench-functions-"))
    host_before, own_before, wall_before = host_cpu_s(), own_cpu_s(), time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "args": {k: (str(v) if isinstance(v, Path) else v)
                                                              for k, v in vars(args).items()}}
    try:
        run(args, work, results)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        Service.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    # Whatever the host's CPUs did during the run that this script and its
    # processes did not: other people's builds and tests on a shared machine.
    wall = time.monotonic() - wall_before
    others = (host_cpu_s() - host_before) - (own_cpu_s() - own_before)
    results["others_busy_percent"] = max(0.0, 100 * others / (wall * (os.cpu_count() or 1)))
    results["busy_after"] = f"{cpu_busy_percent():.0f}%"

    rows = build_rows(results, args)
    summary = summary_lines(results, args)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = RESULTS_DIR / f"functions-{stamp}.json"
    raw.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(table(rows, markdown=False))
    print()
    for line in summary:
        print(line)
    print()
    print("Markdown:")
    print()
    print(table(rows, markdown=True))
    print()
    for line in summary:
        print(f"- {line}")
    print()
    print(f"raw results: {raw.relative_to(REPO)}")
    return 0


def run(args: argparse.Namespace, work: Path, results: dict[str, Any]) -> None:
    codes = function_codes(args.rust_bootstrap)
    log_dir = work / "logs"
    memory = args.memory[0]
    peer: Peer | None = None
    if not args.no_peer:
        install_peer()
        results["peer"] = {"versions": peer_versions(), "warm": {}, "throughput": {}, "cold": {}, "reload": {},
                           "server_ready_s": []}
        peer = Peer(log_dir)

    cloudlet = Cloudlet(args.cloudlet, work / "data", log_dir)
    log(f"cloudlet: starting {args.cloudlet.relative_to(REPO) if args.cloudlet.is_relative_to(REPO) else args.cloudlet}")
    cloudlet.start()
    sandbox = re.search(r'sandbox="([^"]+)"', cloudlet.service.output())
    env = daemon_env()
    has_ric = subprocess.run([shutil.which("python3.11", path=env["PATH"]) or "python3.11", "-c",
                              "import awslambdaric"], env=env, capture_output=True).returncode == 0
    results["cloudlet"] = {"warm": {}, "throughput": {}, "cold": {}, "address": cloudlet.address,
                           "sandbox": sandbox.group(1) if sandbox else "?",
                           "python_runtime_client": "awslambdaric" if has_ric else "built-in bootstrap",
                           "node_runtime_client": "aws-lambda-ric (on NODE_PATH)" if any(
                               (Path(d) / "aws-lambda-ric" / "package.json").is_file()
                               for d in env.get("NODE_PATH", "").split(os.pathsep) if d) else "built-in client"}
    control = Client(cloudlet.address)
    names = {}
    for runtime in RUNTIMES:
        names[runtime] = f"echo-{runtime.split('.')[0]}-{uuid.uuid4().hex[:8]}"
        cloudlet.create(control, names[runtime], codes[runtime], memory)
    control.close()
    log(f"cloudlet: listening on {cloudlet.address}; deployed {', '.join(names.values())} at {memory} MB")

    if peer:
        results["peer"]["server_ready_s"].append(peer.start())
        log(f"peer: listening on {peer.address}")

    # -- warm latency ------------------------------------------------------
    for kind in CLIENTS:
        for side in ("cloudlet", "peer"):
            if side in results:
                results[side]["warm"][kind] = {}
                results[side]["throughput"][kind] = {}
    for kind in CLIENTS:
        for runtime in RUNTIMES:
            log(f"warm latency ({CLIENTS[kind].kind}): cloudlet {runtime}")
            results["cloudlet"]["warm"][kind][runtime] = warm_latency(
                cloudlet.address, Cloudlet.invoke_path(names[runtime]), args.invokes, f"cloudlet {runtime}",
                client_kind=kind, server_pid=cloudlet.service.pid)
            if peer and peer.service and runtime in PEER_FUNCTIONS:
                log(f"warm latency ({CLIENTS[kind].kind}): peer {PEER_FUNCTIONS[runtime]}")
                results["peer"]["warm"][kind][runtime] = warm_latency(
                    peer.address, Peer.invoke_path(PEER_FUNCTIONS[runtime]), args.invokes, f"peer {runtime}",
                    client_kind=kind, server_pid=peer.service.pid)

    # -- throughput --------------------------------------------------------
    for kind in CLIENTS:
        for runtime in RUNTIMES:
            log(f"throughput ({CLIENTS[kind].kind}): cloudlet {runtime}, {args.threads} clients × {args.seconds:g} s")
            results["cloudlet"]["throughput"][kind][runtime] = throughput(
                cloudlet.address, Cloudlet.invoke_path(names[runtime]), args.threads, args.seconds,
                f"cloudlet {runtime}", client_kind=kind, server_pid=cloudlet.service.pid)
            if peer and runtime in PEER_FUNCTIONS:
                log(f"throughput ({CLIENTS[kind].kind}): peer {PEER_FUNCTIONS[runtime]}, "
                    f"{args.threads} clients × {args.seconds:g} s")
                results["peer"]["throughput"][kind][runtime] = throughput(
                    peer.address, Peer.invoke_path(PEER_FUNCTIONS[runtime]), args.threads, args.seconds,
                    f"peer {runtime}", client_kind=kind, server_pid=peer.service.pid if peer.service else None)
    results["cloudlet"]["processes_after_throughput"] = len(descendants(cloudlet.service.pid))
    if peer and peer.service:
        results["peer"]["processes_after_throughput"] = len(descendants(peer.service.pid))
        peer.stop()

    # -- cold starts -------------------------------------------------------
    for memory_mb in args.memory:
        for runtime in RUNTIMES:
            log(f"cold start: cloudlet {runtime} at {memory_mb} MB, {args.cold_runs} new functions")
            results["cloudlet"]["cold"][f"{runtime}@{memory_mb}"] = cloudlet_cold_starts(
                cloudlet, codes, runtime, memory_mb, args.cold_runs)
    results["cloudlet"]["burst"] = {}
    for runtime in RUNTIMES:
        log(f"cold start burst: cloudlet {runtime}, {args.threads} at once, {args.bursts} new functions")
        results["cloudlet"]["burst"][runtime] = cloudlet_cold_bursts(cloudlet, codes, runtime, memory, args.threads,
                                                                     args.bursts)
    if peer:
        results["peer"]["burst"] = {}
        for runtime, function in PEER_FUNCTIONS.items():
            log(f"cold start burst: peer {function}, {args.threads} at once, {args.bursts} fresh server starts")
            results["peer"]["burst"][runtime] = peer_cold_bursts(peer, function, args.threads, args.bursts,
                                                                 args.settle_s)
        for runtime, function in PEER_FUNCTIONS.items():
            log(f"cold start: peer {function}, {args.cold_runs} fresh server starts")
            cold = peer_cold_starts(peer, function, args.cold_runs, args.settle_s)
            results["peer"]["server_ready_s"] += cold.pop("server_ready_s")
            results["peer"]["cold"][runtime] = cold
        for runtime, function in PEER_FUNCTIONS.items():
            log(f"cold start: peer {function} with --reloadHandler, {args.cold_runs} invokes")
            results["peer"]["reload"][runtime] = peer_reload_cold(peer, function, args.cold_runs)
    cloudlet.stop()

    if not args.no_floors:
        log("floors: process start and the client against a trivial server")
        results["floors"] = floors(log_dir, args.invokes, args.threads, args.seconds)


if __name__ == "__main__":
    sys.exit(main())
