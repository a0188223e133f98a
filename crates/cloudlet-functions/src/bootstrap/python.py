# cloudlet's built-in Python runtime bootstrap.
#
# Used when awslambdaric is not importable by the function's interpreter. It
# speaks the Lambda Runtime API (2018-06-01) at $AWS_LAMBDA_RUNTIME_API and
# follows awslambdaric's contract: the handler is argv[1] ("module.function"),
# the context object has the same attributes, and init and invocation errors
# are reported with the same error types, messages and log lines.
#
# Beyond awslambdaric, its first /next carries the header
# Cloudlet-Init-Code-Us: the microseconds spent importing the handler's module
# (the function's init code), so that cloudlet can tell that cold-start phase
# from the runtime's own start-up.
import importlib
import json
import os
import socket
import sys
import time

API_PREFIX = "/2018-06-01/runtime"


class _Response:
    __slots__ = ["status", "headers"]

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers

    def getheader(self, name):
        return self.headers.get(name.lower())


class _Client:
    """One keep-alive HTTP/1.1 connection to the Runtime API.

    A few lines over a socket instead of http.client, whose imports (email,
    urllib) would cost every cold start tens of milliseconds.
    """

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self._address = (host, int(port))
        self._sock = None
        self._buf = b""

    def _connect(self):
        self._sock = socket.create_connection(self._address)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""

    def call(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                if self._sock is None:
                    self._connect()
                return self._exchange(method, path, body or b"", headers or {})
            except OSError:
                if self._sock is not None:
                    self._sock.close()
                self._sock = None
                if attempt:
                    raise

    def _exchange(self, method, path, body, headers):
        head = f"{method} {API_PREFIX}{path} HTTP/1.1\r\nHost: {self._address[0]}\r\nContent-Length: {len(body)}\r\n"
        for name, value in headers.items():
            head += f"{name}: {value}\r\n"
        self._sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        while b"\r\n\r\n" not in self._buf:
            self._read()
        raw_head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        response_headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        if response_headers.get("transfer-encoding", "").lower() == "chunked":
            data = self._chunked()
        else:
            data = self._exactly(int(response_headers.get("content-length", "0")))
        return _Response(status, response_headers), data

    def _read(self):
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("the Runtime API closed the connection")
        self._buf += chunk

    def _exactly(self, n):
        while len(self._buf) < n:
            self._read()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _line(self):
        while b"\r\n" not in self._buf:
            self._read()
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def _chunked(self):
        parts = []
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                self._line()
                return b"".join(parts)
            parts.append(self._exactly(size))
            self._exactly(2)


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]


class ClientContext:
    __slots__ = ["custom", "env", "client"]


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, cognito_identity):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = None
        self._deadline_ms = deadline_ms
        self.identity = CognitoIdentity()
        self.identity.cognito_identity_id = (cognito_identity or {}).get("cognitoIdentityId")
        self.identity.cognito_identity_pool_id = (cognito_identity or {}).get("cognitoIdentityPoolId")
        self.client_context = None
        if client_context is not None:
            self.client_context = ClientContext()
            self.client_context.custom = client_context.get("custom")
            self.client_context.env = client_context.get("env")
            self.client_context.client = None
            client = client_context.get("client")
            if client is not None:
                self.client_context.client = Client()
                for key in Client.__slots__:
                    setattr(self.client_context.client, key, client.get(key))

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))
        sys.stdout.flush()

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
            f"identity={self.identity}])"
        )


class FaultException(Exception):
    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def _error(message, error_type, stack_trace, request_id=None):
    result = {"errorMessage": message if message else "", "errorType": error_type if error_type else "", "stackTrace": stack_trace if stack_trace else []}
    if request_id is not None:
        result["requestId"] = request_id
    return result


def _fault_result(exc_info, request_id):
    import traceback

    etype, value, tb = exc_info
    frames = traceback.extract_tb(tb)
    # Hide this bootstrap's own frames, as awslambdaric does.
    frames = [f for f in frames if f.filename != __file__]
    stack = traceback.format_list(frames)
    return _error(str(value), etype.__name__, stack, request_id)


def _log_error(result):
    lines = [f"[ERROR] {result['errorType']}: {result['errorMessage']}"]
    if result.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in result["stackTrace"])
    # Lambda keeps a multi-line error as one log event; "\r" joins the lines.
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


def _get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}")
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                "Runtime.BuiltInModuleConflict", f"Cannot use built-in module {modname} as a handler module"
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}")
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultException("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        fault = FaultException("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")

        def fault_handler(event, context):
            raise fault

        return fault_handler


def _become_environment():
    """A spare (`--spare`): cloudlet started this interpreter ahead of time.
    Wait for the environment's configuration on stdin, then become it."""
    config = json.loads(sys.stdin.readline())
    os.environ.clear()
    os.environ.update(config["env"])
    os.chdir(config["cwd"])
    sys.argv = [sys.argv[0], config["handler"]]
    time.tzset()
    for entry in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--spare":
        _become_environment()
    client = _Client(os.environ["AWS_LAMBDA_RUNTIME_API"])
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    if task_root not in sys.path:
        sys.path.insert(0, task_root)

    init_code_began = time.perf_counter()
    try:
        handler = _get_handler(sys.argv[1])
    except FaultException as e:
        result = _error(e.msg, e.exception_type, e.trace)
    except Exception:
        result = _fault_result(sys.exc_info(), None)
    else:
        result = None
    if result is not None:
        _log_error(result)
        client.call(
            "POST",
            "/init/error",
            body=json.dumps(result).encode(),
            headers={"Lambda-Runtime-Function-Error-Type": result["errorType"]},
        )
        sys.exit(1)
    init_code_us = int((time.perf_counter() - init_code_began) * 1_000_000)
    next_headers = {"Cloudlet-Init-Code-Us": str(init_code_us)}

    while True:
        response, body = client.call("GET", "/invocation/next", headers=next_headers)
        next_headers = None
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        trace_id = response.getheader("Lambda-Runtime-Trace-Id")
        if trace_id is not None:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            client_context = response.getheader("Lambda-Runtime-Client-Context")
            cognito_identity = response.getheader("Lambda-Runtime-Cognito-Identity")
            try:
                client_context = json.loads(client_context) if client_context else None
                cognito_identity = json.loads(cognito_identity) if cognito_identity else None
            except Exception as e:
                raise FaultException("Runtime.LambdaContextUnmarshalError", f"Unable to parse Client Context JSON: {e}")
            context = LambdaContext(
                request_id,
                int(response.getheader("Lambda-Runtime-Deadline-Ms")),
                response.getheader("Lambda-Runtime-Invoked-Function-Arn"),
                client_context,
                cognito_identity,
            )
            try:
                event = json.loads(body) if body else None
            except Exception as e:
                raise FaultException("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}")
            result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except Exception as e:
                raise FaultException("Runtime.MarshalError", f"Unable to marshal response: {e}")
        except FaultException as e:
            error = _error(e.msg, e.exception_type, e.trace, request_id)
        except Exception:
            error = _fault_result(sys.exc_info(), request_id)
        else:
            client.call("POST", f"/invocation/{request_id}/response", body=payload)
            continue
        _log_error(error)
        client.call(
            "POST",
            f"/invocation/{request_id}/error",
            body=json.dumps(error).encode(),
            headers={"Lambda-Runtime-Function-Error-Type": error["errorType"]},
        )


if __name__ == "__main__":
    main()
