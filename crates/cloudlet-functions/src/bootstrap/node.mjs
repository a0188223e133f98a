// cloudlet's built-in Node.js runtime bootstrap.
//
// Used when aws-lambda-ric is not available. It speaks the Lambda Runtime API
// (2018-06-01) at $AWS_LAMBDA_RUNTIME_API and follows aws-lambda-ric's
// contract: the handler is argv[2] ("file.export"), resolved from the current
// directory (the task root); async and callback handlers; the same context
// object and error types.
//
// Beyond aws-lambda-ric, its first /next carries the header
// Cloudlet-Init-Code-Us: the microseconds spent importing the handler's module
// (the function's init code), so that cloudlet can tell that cold-start phase
// from the runtime's own start-up.
import net from "node:net";
import path from "node:path";
import fs from "node:fs";
import { pathToFileURL } from "node:url";

let host;
let port;
const PREFIX = "/2018-06-01/runtime";

// One keep-alive HTTP/1.1 connection to the Runtime API, spoken directly:
// node:http's client costs several times the CPU per request, and every
// invoke makes two.
let socket = null;
let buffered = Buffer.alloc(0);
let waiting = null;

function connect() {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host, port }, () => resolve(s));
    s.setNoDelay(true);
    s.on("error", (err) => {
      if (waiting) waiting.reject(err);
      reject(err);
    });
    s.on("data", (chunk) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      if (waiting) waiting.check();
    });
    s.on("close", () => {
      socket = null;
      if (waiting) waiting.reject(new Error("the Runtime API closed the connection"));
    });
  });
}

function readResponse() {
  return new Promise((resolve, reject) => {
    const check = () => {
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString("latin1").split("\r\n");
      const headers = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers["content-length"] || 0);
      if (buffered.length < end + 4 + length) return;
      const body = buffered.subarray(end + 4, end + 4 + length);
      buffered = buffered.subarray(end + 4 + length);
      waiting = null;
      resolve({ status: Number(head[0].split(" ")[1]), headers, body });
    };
    waiting = { check, reject };
    check();
  });
}

async function call(method, urlPath, body, headers = {}) {
  if (!socket) socket = await connect();
  const data = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  let head = `${method} ${PREFIX}${urlPath} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${data.length}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.write(Buffer.concat([Buffer.from(head + "\r\n", "latin1"), data]));
  return readResponse();
}

class UserCodeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

function toErrorBody(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      trace: (err.stack || "").split("\n"),
    };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

function logError(body) {
  // Lambda's Node runtime logs one ERROR event per failure.
  const line = `${new Date().toISOString()}\t${globalThis.__requestId ?? "undefined"}\tERROR\t${JSON.stringify(body)}`;
  process.stdout.write(line.replace(/\n/g, "\r") + "\n");
}

async function loadHandler(handlerString) {
  const appRoot = process.cwd();
  const match = /^([^.]*)\.(.*)$/.exec(path.basename(handlerString));
  if (!match) {
    throw new UserCodeError("Runtime.MalformedHandlerName", `Bad handler ${handlerString}`);
  }
  const moduleRoot = path.dirname(handlerString);
  const [, moduleName, handlerPath] = match;
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  const candidates = [".js", ".mjs", ".cjs"].map((ext) => base + ext);
  const file = candidates.find((c) => fs.existsSync(c));
  if (!file) {
    throw new UserCodeError("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${appRoot}`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new UserCodeError("Runtime.UserCodeSyntaxError", `${err.name}: ${err.message}`);
    }
    throw err;
  }
  let handler = mod;
  for (const part of handlerPath.split(".")) {
    handler = handler?.[part] ?? (part === handlerPath.split(".")[0] ? mod.default?.[part] : undefined);
  }
  if (handler === undefined) {
    throw new UserCodeError("Runtime.HandlerNotFound", `${handlerString} is undefined or not exported`);
  }
  if (typeof handler !== "function") {
    throw new UserCodeError("Runtime.HandlerNotFound", `${handlerString} is not a function`);
  }
  return handler;
}

function makeContext(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const parse = (v) => (v ? JSON.parse(v) : undefined);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(headers["lambda-runtime-cognito-identity"]),
    clientContext: parse(headers["lambda-runtime-client-context"]),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.done = callback;
    context.succeed = (r) => callback(null, r);
    context.fail = (e) => callback(e ?? "handled");
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === "function") {
        returned.then((r) => callback(null, r), (e) => callback(e ?? new Error("Promise rejected")));
      } else if (handler.length < 3) {
        callback(null, returned);
      }
    } catch (err) {
      callback(err);
    }
  });
}

// A spare (`--spare`): cloudlet started this process ahead of time. Wait for
// the environment's configuration on stdin, then become it.
async function becomeEnvironment() {
  const line = await new Promise((resolve, reject) => {
    let buffered = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
      buffered += chunk;
      const end = buffered.indexOf("\n");
      if (end >= 0) {
        process.stdin.destroy();
        resolve(buffered.slice(0, end));
      }
    });
    process.stdin.on("end", () => reject(new Error("no configuration on stdin")));
  });
  const config = JSON.parse(line);
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, config.env);
  process.chdir(config.cwd);
  process.argv[2] = config.handler;
}

async function main() {
  if (process.argv[2] === "--spare") await becomeEnvironment();
  [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
  let handler;
  const initCodeBegan = performance.now();
  try {
    handler = await loadHandler(process.argv[2]);
  } catch (err) {
    const body = toErrorBody(err);
    logError(body);
    await call("POST", "/init/error", JSON.stringify(body), { "Lambda-Runtime-Function-Error-Type": body.errorType });
    process.exit(129);
  }
  let nextHeaders = { "Cloudlet-Init-Code-Us": String(Math.round((performance.now() - initCodeBegan) * 1000)) };
  for (;;) {
    const next = await call("GET", "/invocation/next", undefined, nextHeaders);
    nextHeaders = {};
    const requestId = next.headers["lambda-runtime-aws-request-id"];
    globalThis.__requestId = requestId;
    const traceId = next.headers["lambda-runtime-trace-id"];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    let result;
    try {
      const context = makeContext(next.headers);
      const event = next.body.length ? JSON.parse(next.body.toString("utf8")) : undefined;
      result = await runHandler(handler, event, context);
    } catch (err) {
      const body = toErrorBody(err);
      logError(body);
      await call("POST", `/invocation/${requestId}/error`, JSON.stringify(body), {
        "Lambda-Runtime-Function-Error-Type": body.errorType,
      });
      continue;
    }
    const payload = result === undefined ? "null" : JSON.stringify(result);
    await call("POST", `/invocation/${requestId}/response`, payload);
  }
}

process.on("uncaughtException", (err) => {
  logError(toErrorBody(err));
  process.exit(129);
});
process.on("unhandledRejection", (err) => {
  logError(toErrorBody(err));
  process.exit(128);
});

main();
