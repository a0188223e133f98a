//! Lambda's management API on the real daemon over real TCP: wire shapes,
//! status codes and error bodies as boto3 reads them, limits, and functions
//! surviving `kill -9` of the daemon.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;
use serde_json::{Value, json};

use super::*;

const ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";
const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";

/// A `provided.al2023` package (it needs nothing installed on the host).
fn bootstrap_zip(marker: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let bootstrap = dir.path().join("bootstrap");
    std::fs::write(&bootstrap, format!("#!/bin/sh\n# {marker}\n")).expect("write bootstrap");
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let zip = cloudlet_functions::package::zip_directory(dir.path()).expect("zip");
    base64::engine::general_purpose::STANDARD.encode(zip)
}

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value, http::HttpResponse) {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let response = http::request_with_body(addr, method, path, &[("Content-Type", "application/json")], &bytes)
        .unwrap_or_else(|err| panic!("{method} {path}: {err}"));
    let parsed = if response.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&response.body)
            .unwrap_or_else(|err| panic!("{method} {path}: not JSON ({err}): {}", response.body))
    };
    (response.status, parsed, response)
}

#[track_caller]
fn assert_lambda_error(response: &(u16, Value, http::HttpResponse), status: u16, error_type: &str, message: &str) {
    let (got_status, body, raw) = response;
    assert_eq!(*got_status, status, "{body}");
    assert_eq!(raw.header("x-amzn-errortype"), Some(error_type), "{body}");
    assert_eq!(body, &json!({ "Type": "User", "Message": message }));
}

fn create_body(name: &str, marker: &str) -> Value {
    json!({
        "FunctionName": name,
        "Runtime": "provided.al2023",
        "Role": ROLE,
        "Handler": "bootstrap",
        "Code": { "ZipFile": bootstrap_zip(marker) },
        "MemorySize": 256,
        "Environment": { "Variables": { "MODE": "test" } },
        "Tags": { "team": "core" },
    })
}

#[test]
fn function_lifecycle_over_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(dir.path());
    let addr = daemon.addr;

    let created = call(addr, "POST", "/2015-03-31/functions", Some(&create_body("hello", "v1")));
    assert_eq!(created.0, 201, "{}", created.1);
    let config = &created.1;
    assert_eq!(config["FunctionArn"], format!("{ARN}:hello"));
    assert_eq!((&config["State"], &config["StateReasonCode"]), (&json!("Pending"), &json!("Creating")));
    assert_eq!(config["MemorySize"], 256);
    assert_eq!(config["Timeout"], 3);
    assert_eq!(config["PackageType"], "Zip");
    assert_eq!(config["Environment"], json!({ "Variables": { "MODE": "test" } }));
    assert_eq!(config["LoggingConfig"], json!({ "LogFormat": "Text", "LogGroup": "/aws/lambda/hello" }));
    let last_modified = config["LastModified"].as_str().expect("LastModified");
    assert!(last_modified.ends_with("+0000") && last_modified.len() == 28, "{last_modified}");
    assert!(created.2.header("x-amzn-requestid").is_some());

    let (status, got, _) = call(addr, "GET", "/2015-03-31/functions/hello", None);
    assert_eq!(status, 200);
    assert_eq!(got["Configuration"]["State"], "Active");
    assert_eq!(got["Configuration"]["LastUpdateStatus"], "Successful");
    assert_eq!(got["Configuration"]["CodeSha256"], config["CodeSha256"]);
    assert_eq!(got["Code"]["RepositoryType"], "S3");
    assert_eq!(got["Tags"], json!({ "team": "core" }));

    assert_lambda_error(
        &call(addr, "POST", "/2015-03-31/functions", Some(&create_body("hello", "v1"))),
        409,
        "ResourceConflictException",
        "Function already exist: hello",
    );
    assert_lambda_error(
        &call(addr, "GET", "/2015-03-31/functions/nope/configuration", None),
        404,
        "ResourceNotFoundException",
        &format!("Function not found: {ARN}:nope"),
    );
    // Validation errors are ValidationException with a lower-case message.
    let mut bad = create_body("bad", "v1");
    bad["MemorySize"] = json!(64);
    let (status, body, raw) = call(addr, "POST", "/2015-03-31/functions", Some(&bad));
    assert_eq!((status, raw.header("x-amzn-errortype")), (400, Some("ValidationException")));
    assert_eq!(
        body["message"],
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
    );
    let (status, body, _) = call(addr, "POST", "/2015-03-31/functions", None);
    assert_eq!(status, 400, "{body}");

    // Publish, alias, update, versions.
    let (status, v1, _) = call(addr, "POST", "/2015-03-31/functions/hello/versions", Some(&json!({})));
    assert_eq!((status, &v1["Version"], &v1["FunctionArn"]), (201, &json!("1"), &json!(format!("{ARN}:hello:1"))));
    let (status, alias, _) = call(
        addr,
        "POST",
        "/2015-03-31/functions/hello/aliases",
        Some(&json!({ "Name": "live", "FunctionVersion": "1" })),
    );
    assert_eq!((status, &alias["AliasArn"]), (201, &json!(format!("{ARN}:hello:live"))));
    let (status, updated, _) = call(
        addr,
        "PUT",
        "/2015-03-31/functions/hello/configuration",
        Some(&json!({ "MemorySize": 1024, "Timeout": 60 })),
    );
    assert_eq!(
        (status, &updated["MemorySize"], &updated["LastUpdateStatus"]),
        (200, &json!(1024), &json!("InProgress"))
    );
    assert_ne!(updated["RevisionId"], config["RevisionId"]);
    let (status, code, _) = call(
        addr,
        "PUT",
        "/2015-03-31/functions/hello/code",
        Some(&json!({ "ZipFile": bootstrap_zip("v2"), "Publish": true })),
    );
    assert_eq!((status, &code["Version"]), (200, &json!("2")));
    assert_ne!(code["CodeSha256"], config["CodeSha256"]);
    let (_, versions, _) = call(addr, "GET", "/2015-03-31/functions/hello/versions?MaxItems=2", None);
    let listed: Vec<&Value> =
        versions["Versions"].as_array().expect("versions").iter().map(|v| &v["Version"]).collect();
    assert_eq!(listed, [&json!("$LATEST"), &json!("1")]);
    let marker = versions["NextMarker"].as_str().expect("NextMarker").to_owned();
    let (_, rest, _) = call(addr, "GET", &format!("/2015-03-31/functions/hello/versions?Marker={marker}"), None);
    assert_eq!(rest["Versions"][0]["Version"], "2");
    assert!(rest.get("NextMarker").is_none());

    // Qualified reads in every form, percent-encoded as boto3 sends them.
    let (_, by_alias, _) = call(
        addr,
        "GET",
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello%3Alive",
        None,
    );
    assert_eq!(
        (&by_alias["Configuration"]["Version"], &by_alias["Configuration"]["MemorySize"]),
        (&json!("1"), &json!(256))
    );
    let (_, by_query, _) = call(addr, "GET", "/2015-03-31/functions/hello/configuration?Qualifier=%24LATEST", None);
    assert_eq!(by_query["FunctionArn"], format!("{ARN}:hello:$LATEST"));

    // Tags by ARN.
    let arn_path = format!("/2017-03-31/tags/{}", format!("{ARN}:hello").replace(':', "%3A"));
    let (status, _, _) = call(addr, "POST", &arn_path, Some(&json!({ "Tags": { "env": "dev" } })));
    assert_eq!(status, 204);
    let (status, _, _) = call(addr, "DELETE", &format!("{arn_path}?tagKeys=team"), None);
    assert_eq!(status, 204);
    assert_eq!(call(addr, "GET", &arn_path, None).1, json!({ "Tags": { "env": "dev" } }));

    // Deletes.
    assert_lambda_error(
        &call(addr, "DELETE", "/2015-03-31/functions/hello?Qualifier=1", None),
        409,
        "ResourceConflictException",
        "Unable to delete version because the following aliases reference it: [live]",
    );
    assert_eq!(call(addr, "DELETE", "/2015-03-31/functions/hello/aliases/live", None).0, 204);
    assert_eq!(call(addr, "DELETE", "/2015-03-31/functions/hello?Qualifier=1", None).0, 204);
    assert_eq!(call(addr, "DELETE", "/2015-03-31/functions/hello", None).0, 204);
    assert_eq!(call(addr, "GET", "/2015-03-31/functions/", None).1, json!({ "Functions": [] }));
}

#[test]
fn functions_survive_kill_dash_nine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(dir.path());
    let addr = daemon.addr;
    assert_eq!(call(addr, "POST", "/2015-03-31/functions", Some(&create_body("keep", "v1"))).0, 201);
    assert_eq!(call(addr, "POST", "/2015-03-31/functions/keep/versions", Some(&json!({}))).0, 201);
    let alias = json!({ "Name": "live", "FunctionVersion": "1", "RoutingConfig": { "AdditionalVersionWeights": {} } });
    assert_eq!(call(addr, "POST", "/2015-03-31/functions/keep/aliases", Some(&alias)).0, 201);
    let (_, before, _) = call(addr, "GET", "/2015-03-31/functions/keep", None);
    let (_, versions_before, _) = call(addr, "GET", "/2015-03-31/functions/keep/versions", None);
    let (_, alias_before, _) = call(addr, "GET", "/2015-03-31/functions/keep/aliases/live", None);
    drop(daemon); // SIGKILL

    let daemon = Daemon::start(dir.path());
    let addr = daemon.addr;
    assert_eq!(call(addr, "GET", "/2015-03-31/functions/keep", None).1, before);
    assert_eq!(call(addr, "GET", "/2015-03-31/functions/keep/versions", None).1, versions_before);
    assert_eq!(call(addr, "GET", "/2015-03-31/functions/keep/aliases/live", None).1, alias_before);
    // And the next version number continues.
    assert_eq!(call(addr, "PUT", "/2015-03-31/functions/keep/configuration", Some(&json!({ "Timeout": 9 }))).0, 200);
    assert_eq!(call(addr, "POST", "/2015-03-31/functions/keep/versions", Some(&json!({}))).1["Version"], "2");
}

#[test]
fn an_oversized_create_function_gets_lambdas_413() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(dir.path());
    // Declared too large: refused before any of the body is read.
    let mut stream = TcpStream::connect(daemon.addr).expect("connect");
    let head = format!(
        "POST /2015-03-31/functions HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 70167212\r\n\r\n",
        daemon.addr
    );
    stream.write_all(head.as_bytes()).expect("send head");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.to_ascii_lowercase().contains("x-amzn-errortype: requestentitytoolargeexception"), "{raw}");
    assert!(
        raw.contains(r#""Message":"Request must be smaller than 70167211 bytes for the CreateFunction operation""#),
        "{raw}"
    );
}
