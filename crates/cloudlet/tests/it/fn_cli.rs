//! `cloudlet fn ...` against a real daemon: deploy a directory, invoke (the
//! result on stdout, the REPORT line on stderr), list, reserved and
//! provisioned concurrency, logs and stats.

use std::process::Output;
use std::time::{Duration, Instant};

use super::*;

const HANDLER: &str = "import os\n\
def handler(event, context):\n    print('handling', event.get('name'))\n    return {'hello': event.get('name'), 'init': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']}\n";

fn fn_cmd(daemon: &Daemon, args: &[&str]) -> Output {
    cloudlet()
        .args(["fn", "--endpoint", &format!("http://{}", daemon.addr)])
        .args(args)
        .output()
        .expect("run cloudlet fn")
}

fn ok(output: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    (stdout, stderr)
}

#[test]
fn deploy_invoke_list_concurrency_logs_and_stats() {
    let data = tempfile::tempdir().expect("tempdir");
    let code = tempfile::tempdir().expect("tempdir");
    std::fs::write(code.path().join("app.py"), HANDLER).expect("handler");
    let daemon = Daemon::start(data.path());
    let code_dir = code.path().to_str().expect("utf-8 path");

    let (stdout, _) = ok(&fn_cmd(
        &daemon,
        &[
            "deploy",
            code_dir,
            "--name",
            "greet",
            "--runtime",
            "python3.11",
            "--handler",
            "app.handler",
            "--memory",
            "256",
            "--timeout",
            "5",
            "--env",
            "GREETING=hi",
            "--publish",
        ],
    ));
    assert!(stdout.starts_with("created greet: python3.11 256 MB 5 s, version 1"), "{stdout}");
    assert!(stdout.contains("arn:aws:lambda:us-east-1:000000000000:function:greet"), "{stdout}");

    let (stdout, stderr) = ok(&fn_cmd(&daemon, &["invoke", "greet", "--payload", r#"{"name":"cli"}"#]));
    assert_eq!(stdout.trim(), r#"{"hello": "cli", "init": "on-demand"}"#);
    assert!(stderr.starts_with("REPORT RequestId: "), "{stderr}");
    assert!(stderr.contains("Memory Size: 256 MB") && stderr.contains("Init Duration: "), "{stderr}");
    let (_, stderr) = ok(&fn_cmd(&daemon, &["invoke", "greet", "--payload", r#"{"name":"warm"}"#]));
    assert!(!stderr.contains("Init Duration"), "the second invoke is warm: {stderr}");

    // Redeploying updates code and configuration in place.
    let (stdout, _) = ok(&fn_cmd(
        &daemon,
        &[
            "deploy",
            code_dir,
            "--name",
            "greet",
            "--runtime",
            "python3.11",
            "--handler",
            "app.handler",
            "--memory",
            "128",
        ],
    ));
    assert!(stdout.starts_with("updated greet: python3.11 128 MB"), "{stdout}");

    let (stdout, _) = ok(&fn_cmd(&daemon, &["list"]));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("NAME   RUNTIME     MEMORY  TIMEOUT  STATE   LAST MODIFIED"), "{stdout}");
    assert!(lines[1].starts_with("greet  python3.11  128 MB  5 s      Active  "), "{stdout}");

    let (stdout, _) = ok(&fn_cmd(&daemon, &["concurrency", "greet", "--reserved", "0"]));
    assert_eq!(stdout.trim(), "greet: reserved concurrency 0");
    let throttled = fn_cmd(&daemon, &["invoke", "greet"]);
    assert_eq!(throttled.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&throttled.stderr);
    assert!(
        stderr.contains("Invoke failed: 429 TooManyRequestsException: Rate Exceeded."),
        "reserved 0 throttles: {stderr}"
    );
    let (stdout, _) = ok(&fn_cmd(&daemon, &["concurrency", "greet", "--delete"]));
    assert_eq!(stdout.trim(), "greet: reserved concurrency removed");

    let (stdout, _) = ok(&fn_cmd(&daemon, &["provisioned", "greet", "--qualifier", "1", "--count", "1"]));
    assert!(stdout.starts_with("greet:1: provisioned concurrency 1 requested"), "{stdout}");
    let began = Instant::now();
    loop {
        let (stdout, stderr) = ok(&fn_cmd(&daemon, &["invoke", "greet", "--qualifier", "1"]));
        if stdout.contains("provisioned-concurrency") {
            assert!(!stderr.contains("Init Duration"), "provisioned environments are initialised ahead: {stderr}");
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(20), "provisioned environment never served: {stdout}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let (stdout, _) = ok(&fn_cmd(&daemon, &["logs", "greet"]));
    assert!(stdout.contains("handling cli"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("START RequestId: ") && l.ends_with("Version: $LATEST")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("REPORT RequestId: ")), "{stdout}");

    let (stdout, _) = ok(&fn_cmd(&daemon, &["stats"]));
    assert!(stdout.starts_with("FUNCTION  CONCURRENT  PROVISIONED  COLD  WARM"), "{stdout}");
    assert!(stdout.contains("account: 0 concurrent"), "{stdout}");

    let missing = fn_cmd(&daemon, &["invoke", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains(
            "404 ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
        ),
        "{stderr}"
    );
}

#[test]
fn a_daemon_that_is_not_running_is_named() {
    let output = cloudlet().args(["fn", "--endpoint", "http://127.0.0.1:1", "list"]).output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach the cloudlet daemon at http://127.0.0.1:1"), "{stderr}");
    assert!(stderr.contains("hint: start it with `cloudlet up`"), "{stderr}");
}

#[test]
fn mappings_and_async_config() {
    let data = tempfile::tempdir().expect("tempdir");
    let code = tempfile::tempdir().expect("tempdir");
    std::fs::write(code.path().join("app.py"), HANDLER).expect("handler");
    let daemon = Daemon::start(data.path());
    let code_dir = code.path().to_str().expect("utf-8 path");
    ok(&fn_cmd(
        &daemon,
        &["deploy", code_dir, "--name", "consumer", "--runtime", "python3.11", "--handler", "app.handler"],
    ));
    let endpoint = format!("http://{}", daemon.addr);
    let sqs = cloudlet().args(["sqs", "--endpoint", &endpoint, "create", "jobs"]).output().expect("run cloudlet sqs");
    ok(&sqs);

    // Created disabled, so nothing polls while the test looks.
    let (stdout, _) = ok(&fn_cmd(
        &daemon,
        &["mappings", "create", "consumer", "jobs", "--batch-size", "20", "--window", "2", "--enabled", "false"],
    ));
    assert!(stdout.starts_with("UUID"), "{stdout}");
    let row = stdout.lines().nth(1).expect("a row");
    let uuid = row.split_whitespace().next().expect("uuid").to_owned();
    assert!(row.contains("consumer") && row.contains("jobs") && row.contains("Creating"), "{row}");

    let (stdout, _) = ok(&fn_cmd(&daemon, &["--json", "mappings", "list", "--function", "consumer"]));
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let mapping = &listed["EventSourceMappings"][0];
    assert_eq!(mapping["UUID"], uuid.as_str());
    assert_eq!(mapping["BatchSize"], 20);
    assert_eq!(mapping["State"], "Disabled");
    assert_eq!(mapping["EventSourceArn"], "arn:aws:sqs:us-east-1:000000000000:jobs");

    let (stdout, _) =
        ok(&fn_cmd(&daemon, &["mappings", "update", &uuid, "--max-concurrency", "3", "--report-failures", "true"]));
    let row = stdout.lines().nth(1).expect("a row");
    assert!(row.contains("Updating") && row.contains(" 3 ") && row.ends_with("yes"), "{row}");
    let (stdout, _) = ok(&fn_cmd(&daemon, &["mappings"]));
    assert!(stdout.contains(&uuid) && stdout.contains("Disabled"), "{stdout}");

    // Bad settings are the API's error, named.
    let bad = fn_cmd(&daemon, &["mappings", "update", &uuid, "--batch-size", "20", "--window", "0"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("400 InvalidParameterValueException: Maximum batch window in seconds must be greater than 0"),
        "{stderr}"
    );

    let (stdout, _) = ok(&fn_cmd(&daemon, &["mappings", "delete", &uuid]));
    assert!(stdout.contains("Deleting"), "{stdout}");
    let (stdout, _) = ok(&fn_cmd(&daemon, &["--json", "mappings"]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).expect("json")["EventSourceMappings"],
        serde_json::json!([])
    );

    // Asynchronous invocation settings: the defaults, a change, JSON, delete.
    let (stdout, _) = ok(&fn_cmd(&daemon, &["async-config", "consumer"]));
    assert!(stdout.contains("MAX RETRIES    2") && stdout.contains("MAX EVENT AGE  21600 s"), "{stdout}");
    let queue_arn = "arn:aws:sqs:us-east-1:000000000000:jobs";
    let (stdout, _) =
        ok(&fn_cmd(&daemon, &["async-config", "consumer", "--max-retries", "0", "--on-failure", queue_arn]));
    assert!(stdout.contains("MAX RETRIES    0") && stdout.contains(&format!("ON FAILURE     {queue_arn}")), "{stdout}");
    let (stdout, _) = ok(&fn_cmd(&daemon, &["--json", "async-config", "consumer", "--max-age", "60"]));
    let config: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(config["MaximumRetryAttempts"], 0, "an update keeps what it does not name");
    assert_eq!(config["MaximumEventAgeInSeconds"], 60);
    assert_eq!(config["DestinationConfig"]["OnFailure"]["Destination"], queue_arn);
    let (stdout, _) = ok(&fn_cmd(&daemon, &["async-config", "consumer", "--delete"]));
    assert!(stdout.contains("the defaults apply"), "{stdout}");
    let (stdout, _) = ok(&fn_cmd(&daemon, &["async-config", "consumer"]));
    assert!(stdout.contains("MAX RETRIES    2"), "{stdout}");
}
