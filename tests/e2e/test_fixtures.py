"""The function fixtures themselves, checked without cloudlet.

Each Python fixture runs under AWS's own awslambdaric (from .venv-ric) and
the Rust fixture under the `lambda_runtime` crate, both against a mock
Runtime API; the Node handlers are called directly. This pins down what a
real runtime client does with them (error shapes, init errors, exit codes),
which is what test_functions.py then expects from cloudlet. It needs no
daemon, so scripts/test runs it on every run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
import io
from pathlib import Path

import pytest

import harness
from runtime_api_mock import MockRuntimeApi, runtime_env


@pytest.fixture
def api():
    mock = MockRuntimeApi()
    yield mock
    mock.close()


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    shutil.copytree(harness.PYTHON_FIXTURES, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


class Runtime:
    """A runtime client process talking to the mock Runtime API."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        self.proc = subprocess.Popen(command, cwd=cwd, env={**base, **env}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        out, _ = self.proc.communicate(timeout=10)
        return out.decode(errors="replace")

    def wait(self, timeout: float = 10) -> int:
        return self.proc.wait(timeout=timeout)


@pytest.fixture
def python_runtime(api: MockRuntimeApi, task_root: Path):
    started: list[Runtime] = []

    def start(handler: str) -> Runtime:
        python = harness.VENV_RIC / "bin" / "python3.11"
        if not python.exists():
            pytest.fail(f"{python} is missing: run tests/e2e/install-deps")
        env = runtime_env(api, handler=handler, task_root=str(task_root))
        env["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.11"
        runtime = Runtime([str(python), "-m", "awslambdaric", handler], env, task_root)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop()


def test_python_echo_returns_the_event(api, python_runtime):
    python_runtime("echo.handler")
    event = {"hello": "world", "n": [1, 2, 3], "nested": {"ok": True}}
    _, outcome = api.invoke(event)
    assert outcome.kind == "response"
    assert outcome.json() == event


def test_python_ctx_reports_context_and_environment(api, python_runtime, task_root):
    runtime = python_runtime("ctx.handler")
    request_id, outcome = api.invoke({})
    assert outcome.kind == "response"
    ctx = outcome.json()
    assert ctx["ric"] is True
    assert ctx["function_name"] == "fixture"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["memory_limit_in_mb"] == "128"  # awslambdaric passes the env var's string through
    assert ctx["aws_request_id"] == request_id
    assert ctx["invoked_function_arn"] == api.function_arn
    assert ctx["log_group_name"] == "/aws/lambda/fixture"
    assert 0 < ctx["remaining_time_in_millis"] <= 30_000
    assert ctx["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert ctx["env"]["TZ"] == ":UTC"
    assert Path(ctx["cwd"]) == task_root
    assert ctx["pid"] == runtime.proc.pid
    # The same process serves the next invoke (module state survives).
    _, again = api.invoke({})
    assert again.json()["invokes"] == 2


def test_python_raise_reports_the_exception_with_the_request_id(api, python_runtime):
    python_runtime("raise.handler")
    request_id, outcome = api.invoke({})
    assert outcome.kind == "error"
    error = outcome.json()
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom"
    assert error["requestId"] == request_id
    assert any('raise ValueError("boom")' in frame for frame in error["stackTrace"])
    # A handler's exception does not end the runtime: it serves the next one.
    _, again = api.invoke({})
    assert again.kind == "error"


def test_python_exception_at_import_is_an_init_error_of_its_own_type(api, python_runtime):
    runtime = python_runtime("init_error.handler")
    outcome = api.init_errors.get(timeout=15)
    error = outcome.json()
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "init failed"
    assert error["requestId"] == ""
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert runtime.wait() == 1


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("import_error.handler", "Runtime.ImportModuleError",
         "Unable to import module 'import_error': No module named 'cloudlet_no_such_module'"),
        ("echo.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'echo'"),
        ("no_such_file.handler", "Runtime.ImportModuleError",
         "Unable to import module 'no_such_file': No module named 'no_such_file'"),
        ("echo", "Runtime.MalformedHandlerName", "Bad handler 'echo': not enough values to unpack (expected 2, got 1)"),
    ],
    ids=["import-error", "handler-not-found", "no-such-module", "malformed-handler"],
)
def test_python_init_faults(api, python_runtime, handler, error_type, message):
    runtime = python_runtime(handler)
    error = api.init_errors.get(timeout=15).json()
    assert error == {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
    assert runtime.wait() == 1


def test_python_crash_exits_with_status_3(api, python_runtime):
    runtime = python_runtime("crash.handler")
    api._events.put(("crash-request", b"{}"))
    assert runtime.wait() == 3


def test_python_sleep_big_printer_touch_oom(api, python_runtime, tmp_path):
    # One runtime at a time: they all poll the same mock's /next.
    runtime = python_runtime("sleep.handler")
    _, outcome = api.invoke({"ms": 20})
    assert outcome.json() == {"pid": runtime.proc.pid, "slept_ms": 20}
    runtime.stop()

    runtime = python_runtime("big.handler")
    _, outcome = api.invoke({"bytes": 1000})
    assert outcome.body == b'"' + b"x" * 1000 + b'"'
    runtime.stop()

    runtime = python_runtime("printer.handler")
    _, outcome = api.invoke({"lines": 2})
    assert outcome.json() == {"printed": 2}
    output = runtime.stop()
    assert "printer line 1 of 2" in output and "printer line 2 of 2" in output

    runtime = python_runtime("touch.handler")
    target = tmp_path / "touched.json"
    request_id, outcome = api.invoke({"path": str(target)})
    assert outcome.kind == "response", outcome.body
    assert json.loads(target.read_text())["aws_request_id"] == request_id
    runtime.stop()

    python_runtime("oom.handler")
    _, outcome = api.invoke({"mb": 4})
    assert outcome.json()["allocated_mb"] == 4


def test_rust_echo_bootstrap(api, rust_bootstrap, tmp_path):
    assert os.access(rust_bootstrap, os.X_OK)
    runtime = Runtime([str(rust_bootstrap)], runtime_env(api, handler="bootstrap"), tmp_path)
    try:
        event = {"hello": "rust", "n": 1}
        _, outcome = api.invoke(event)
        assert outcome.kind == "response", outcome.body
        assert outcome.json() == event
        _, outcome = api.invoke({"sleep_ms": 30})
        assert outcome.json() == {"sleep_ms": 30}
    finally:
        runtime.stop()


NODE_DRIVER = r"""
const path = require("path");
const dir = process.argv[1];
const context = {
  functionName: "fixture", functionVersion: "$LATEST", memoryLimitInMB: "128",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:fixture",
  awsRequestId: "req-1", logGroupName: "/aws/lambda/fixture", logStreamName: "s",
  getRemainingTimeInMillis: () => 1234,
};
(async () => {
  const out = {};
  const echo = await import(path.join(dir, "echo.mjs"));
  out.echo = await echo.handler({ a: 1 }, context);
  out.ctx = await require(path.join(dir, "ctx.js")).handler({}, context);
  out.sleep = await require(path.join(dir, "sleep.js")).handler({ ms: 5 }, context);
  try { await require(path.join(dir, "throw.js")).handler({}, context); out.throw = null; }
  catch (e) { out.throw = { name: e.name, message: e.message }; }
  process.stdout.write(JSON.stringify(out));
})();
"""


def test_node_handlers(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (the nodejs20.x tests need Node 20)")
    result = subprocess.run([node, "-e", NODE_DRIVER, str(harness.NODE_FIXTURES)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["echo"] == {"a": 1}
    assert out["ctx"]["functionName"] == "fixture"
    assert out["ctx"]["awsRequestId"] == "req-1"
    assert out["ctx"]["remainingTimeInMillis"] == 1234
    assert out["sleep"]["slept_ms"] == 5
    assert out["throw"] == {"name": "Error", "message": "boom"}


def test_zip_helpers_keep_unix_modes(rust_bootstrap):
    archive = zipfile.ZipFile(io.BytesIO(harness.zip_files({"bootstrap": rust_bootstrap})))
    assert (archive.getinfo("bootstrap").external_attr >> 16) & 0o111, "bootstrap lost its executable bits"
    archive = zipfile.ZipFile(io.BytesIO(harness.zip_files({"run.sh": "#!/bin/sh\n"}, executable=("run.sh",))))
    assert (archive.getinfo("run.sh").external_attr >> 16) & 0o777 == 0o755
    archive = zipfile.ZipFile(io.BytesIO(harness.zip_dir(harness.PYTHON_FIXTURES)))
    names = set(archive.namelist())
    assert {"echo.py", "ctx.py", "raise.py", "init_error.py"} <= names
    assert not any("__pycache__" in n for n in names)
    assert harness.code_sha256(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
