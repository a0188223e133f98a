"""Fixtures for the end-to-end tests: real `cloudlet up` daemons, real boto3
and aws CLI clients, and the function fixtures under tests/fixtures/functions.

Run with the project venv that scripts/test installs:

    .venv/bin/python -m pytest tests/e2e -q

Daemons:
- `daemon`      one per session, the default environment (PATH without the
                project's venvs, so Python functions use the built-in bootstrap
                unless the system python3.11 has awslambdaric).
- `ric_daemon`  one per session whose PATH starts with .venv-ric/bin, so the
                `python3.11` it finds can import awslambdaric.
- `py_daemon`   parametrised over both, for tests every Python path must pass.
- `node_ric_daemon` one per session whose NODE_PATH is .node-ric/node_modules,
                so Node.js functions run on aws-lambda-ric (every other
                daemon gets no NODE_PATH: the built-in Node.js client).
- `new_daemon`  a factory for daemons of one test, on fresh data dirs, for
                tests whose state must not leak (restarts, account limits).
Every daemon is stopped with SIGTERM at teardown and must exit within 5 s.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Callable

import pytest

import harness
from harness import Daemon


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):  # noqa: ANN001
    """Records each phase's report on the item (for fixtures' teardown), and
    adds the log tails of the daemons a failed test used to its report."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
    if report.failed and report.when == "call":
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, Daemon):
                report.sections.append((f"daemon {name}", value.output_tail()))


def _failed(request: pytest.FixtureRequest) -> bool:
    node = request.node
    return any(getattr(getattr(node, f"rep_{when}", None), "failed", False) for when in ("setup", "call"))


# ---------------------------------------------------------------------------
# The binary and the daemons


@pytest.fixture(scope="session")
def cloudlet_bin() -> Path:
    return harness.cloudlet_binary()


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


def _start(binary: Path, base: Path, name: str, env: dict[str, str] | None = None) -> Daemon:
    root = base / f"{name}-{uuid.uuid4().hex[:6]}"
    return Daemon(binary, root / "data", root / "logs", env=env, name=name).start()


def _stop(daemon: Daemon) -> None:
    code = daemon.stop()
    assert code == 0, f"daemon exited with {code} after SIGTERM\n{daemon.output_tail()}"


@pytest.fixture(scope="session")
def daemon(cloudlet_bin: Path, e2e_dir: Path):
    d = _start(cloudlet_bin, e2e_dir, "default")
    yield d
    _stop(d)


@pytest.fixture(scope="session")
def ric_python() -> Path:
    python = harness.VENV_RIC / "bin" / "python3.11"
    if not python.exists():
        pytest.fail(f"{python} is missing: scripts/test creates .venv-ric with awslambdaric")
    check = subprocess.run([str(python), "-c", "import awslambdaric"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail(f"awslambdaric is not importable by {python}: {check.stderr}")
    return python


@pytest.fixture(scope="session")
def ric_daemon(cloudlet_bin: Path, e2e_dir: Path, ric_python: Path):
    env = harness.daemon_env(path_prefix=[ric_python.parent])
    d = _start(cloudlet_bin, e2e_dir, "ric", env=env)
    yield d
    _stop(d)


@pytest.fixture(scope="session")
def node_ric_modules() -> Path:
    """The node_modules dir holding aws-lambda-ric (tests/e2e/install-deps)."""
    entry = harness.NODE_RIC_MODULES / "aws-lambda-ric" / "bin" / "index.mjs"
    if not entry.is_file():
        pytest.fail(f"{entry} is missing: scripts/test installs aws-lambda-ric into .node-ric (tests/e2e/install-deps)")
    return harness.NODE_RIC_MODULES


@pytest.fixture(scope="session")
def node_ric_daemon(cloudlet_bin: Path, e2e_dir: Path, node_ric_modules: Path):
    env = harness.daemon_env(extra={"NODE_PATH": str(node_ric_modules)})
    d = _start(cloudlet_bin, e2e_dir, "node-ric", env=env)
    yield d
    _stop(d)


@pytest.fixture(scope="session")
def default_python_has_ric() -> bool:
    """Whether the python3.11 on the default daemon's PATH can import
    awslambdaric (then that daemon uses it, by the rule the daemon follows)."""
    python = shutil.which("python3.11", path=harness.daemon_env()["PATH"])
    if python is None:
        return False
    return subprocess.run([python, "-c", "import awslambdaric"], capture_output=True).returncode == 0


@pytest.fixture(params=["builtin", "awslambdaric"])
def py_daemon(request: pytest.FixtureRequest, default_python_has_ric: bool) -> Daemon:
    """Each Python test runs twice: on the daemon's built-in bootstrap and on
    awslambdaric. `py_daemon.kind` says which."""
    if request.param == "builtin":
        if default_python_has_ric:
            pytest.skip("the python3.11 on PATH has awslambdaric, so the built-in bootstrap cannot be tested")
        d = request.getfixturevalue("daemon")
    else:
        d = request.getfixturevalue("ric_daemon")
    d.kind = request.param  # type: ignore[attr-defined]
    return d


@pytest.fixture
def new_daemon(cloudlet_bin: Path, e2e_dir: Path, request: pytest.FixtureRequest):
    """Factory: `new_daemon()` starts a daemon on a fresh data dir, stopped
    (and checked) at the end of the test. `new_daemon(env=...)` sets its env."""
    started: list[Daemon] = []

    def start(env: dict[str, str] | None = None) -> Daemon:
        d = _start(cloudlet_bin, e2e_dir, request.node.name[:40].replace("/", "_"), env=env)
        started.append(d)
        return d

    yield start
    if _failed(request):
        for d in started:
            print(d.output_tail())
    for d in started:
        _stop(d)


# ---------------------------------------------------------------------------
# Clients


@pytest.fixture(scope="session")
def make_client() -> Callable:
    """`make_client(daemon)` -> a boto3 lambda client for that daemon."""
    return lambda d: harness.lambda_client(d.url)


@pytest.fixture(scope="session")
def lambda_client(daemon: Daemon):
    return harness.lambda_client(daemon.url)


@pytest.fixture
def py_client(py_daemon: Daemon):
    return harness.lambda_client(py_daemon.url)


@pytest.fixture(scope="session")
def aws() -> Callable:
    """`aws(daemon, "lambda", "list-functions")` -> parsed JSON output."""
    return lambda d, *args, **kwargs: harness.aws(d.url, *args, **kwargs)


# ---------------------------------------------------------------------------
# Function code


@pytest.fixture(scope="session")
def python_zip() -> bytes:
    return harness.zip_dir(harness.PYTHON_FIXTURES)


@pytest.fixture(scope="session")
def node_zip() -> bytes:
    return harness.zip_dir(harness.NODE_FIXTURES)


@pytest.fixture(scope="session")
def rust_bootstrap() -> Path:
    """Builds tests/fixtures/functions/rust-echo once (cached under target/fixtures)."""
    script = harness.FIXTURES / "build-rust-echo"
    result = subprocess.run([str(script)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"{script} failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def rust_zip(rust_bootstrap: Path) -> bytes:
    return harness.zip_files({"bootstrap": rust_bootstrap})


@pytest.fixture
def side_effect_dir():
    """A directory for files that functions write, outside /tmp (an execution
    environment may well have a /tmp of its own, as on Lambda)."""
    path = harness.target_dir() / "e2e-side-effects" / uuid.uuid4().hex
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)
