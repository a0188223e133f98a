"""A minimal Lambda Runtime API (2018-06-01) server, for checking the function
fixtures against real runtime clients (awslambdaric, the Rust
`lambda_runtime` crate) without cloudlet.

It is a test double, not a model of cloudlet: it hands out queued events on
`GET /runtime/invocation/next` (blocking until there is one), and records what
the runtime posts to `/response`, `/error` and `/init/error`.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01"


@dataclass
class Outcome:
    """What the runtime posted for one request (or for init)."""

    kind: str  # "response" | "error" | "init_error"
    body: bytes
    headers: dict[str, str]

    def json(self):
        return json.loads(self.body)


@dataclass
class MockRuntimeApi:
    function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:fixture"
    timeout_s: float = 30.0
    _events: "queue.Queue[tuple[str, bytes]]" = field(default_factory=queue.Queue)
    _outcomes: dict[str, "queue.Queue[Outcome]"] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    init_errors: "queue.Queue[Outcome]" = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, status: int, body: bytes = b"{}", content_type: str = "application/json",
                       headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_GET(self) -> None:  # noqa: N802
                if self.path != f"{PREFIX}/runtime/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                request_id, event = api._events.get()
                deadline_ms = int((time.time() + api.timeout_s) * 1000)
                self._reply(200, event, headers={
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                })

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path == f"{PREFIX}/runtime/init/error":
                    api.init_errors.put(Outcome("init_error", body, headers))
                    return self._reply(202, b'{"status":"OK"}')
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if len(parts) == 4 and parts[:2] == ["runtime", "invocation"] and parts[3] in ("response", "error"):
                    api._outcome_queue(parts[2]).put(Outcome(parts[3], body, headers))
                    return self._reply(202, b'{"status":"OK"}')
                self._reply(404, b'{"errorType":"NotFound"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        """`host:port`, no scheme: the form AWS_LAMBDA_RUNTIME_API takes."""
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def _outcome_queue(self, request_id: str) -> "queue.Queue[Outcome]":
        with self._lock:
            return self._outcomes.setdefault(request_id, queue.Queue())

    def invoke(self, event, *, timeout: float = 30.0) -> tuple[str, Outcome]:
        """Queues an event and waits for the runtime's answer to it."""
        request_id = str(uuid.uuid4())
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        answers = self._outcome_queue(request_id)
        self._events.put((request_id, body))
        return request_id, answers.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def runtime_env(api: MockRuntimeApi, *, function_name: str = "fixture", handler: str = "", memory_mb: int = 128,
                task_root: str = "") -> dict[str, str]:
    """The reserved environment variables a runtime client needs."""
    return {
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]" + "0" * 32,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": task_root,
        "TZ": ":UTC",
    }
