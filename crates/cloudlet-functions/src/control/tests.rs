//! The control plane over an in-memory store and a real package cache:
//! AWS's validation messages, versions, aliases, resolution of every
//! FunctionName form, publish idempotence, and that failed writes leave
//! nothing behind.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::Duration;

use cloudlet_core::{AwsScope, ManualClock, Timestamp};

use super::*;
use crate::package::zip_directory;
use crate::store::MemoryFunctionStore;

const ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";
const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";

/// A probe that says every runtime is there except the ones listed.
#[derive(Debug, Default)]
struct FakeProbe {
    missing: BTreeSet<&'static str>,
}

impl RuntimeProbe for FakeProbe {
    fn check(&self, runtime: Runtime) -> Result<(), String> {
        if self.missing.contains(runtime.as_str()) { Err(format!("no executable `{runtime}` on PATH")) } else { Ok(()) }
    }
}

struct Fixture {
    plane: ControlPlane,
    store: Arc<MemoryFunctionStore>,
    clock: ManualClock,
    packages: Arc<PackageCache>,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_probe(FakeProbe { missing: ["python3.13"].into() })
    }

    fn with_probe(probe: FakeProbe) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(MemoryFunctionStore::new());
        let clock = ManualClock::new(Timestamp::from_unix_millis(1_764_000_000_123));
        let packages = Arc::new(PackageCache::new(dir.path().join("code")));
        let plane = ControlPlane::open(
            Arc::clone(&store) as Arc<dyn FunctionStore>,
            Arc::clone(&packages),
            AwsScope::default(),
            clock.shared(),
            Arc::new(probe),
        )
        .expect("open");
        Fixture { plane, store, clock, packages, dir }
    }

    /// A control plane over the same store and cache, as after a restart.
    fn reopen(&self) -> ControlPlane {
        ControlPlane::open(
            Arc::clone(&self.store) as Arc<dyn FunctionStore>,
            Arc::clone(&self.packages),
            AwsScope::default(),
            self.clock.shared(),
            Arc::new(FakeProbe::default()),
        )
        .expect("reopen")
    }

    /// A zip of `files` (name, contents, mode).
    fn zip(&self, files: &[(&str, &str, u32)]) -> Vec<u8> {
        let src = tempfile::tempdir_in(self.dir.path()).expect("src dir");
        for (name, contents, mode) in files {
            let path = src.path().join(name);
            std::fs::write(&path, contents).expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).expect("chmod");
        }
        zip_directory(src.path()).expect("zip")
    }

    fn python_zip(&self, body: &str) -> Vec<u8> {
        self.zip(&[("app.py", body, 0o644)])
    }

    fn create(&self, name: &str) -> FunctionConfiguration {
        self.plane.create_function(self.request(name)).expect("create")
    }

    fn request(&self, name: &str) -> CreateFunctionRequest {
        CreateFunctionRequest {
            function_name: name.to_owned(),
            runtime: Some("python3.12".into()),
            role: Some(ROLE.into()),
            handler: Some("app.handler".into()),
            code: CodeSource::Zip(self.python_zip("def handler(event, context):\n    return event\n")),
            ..CreateFunctionRequest::default()
        }
    }

    fn publish(&self, name: &str) -> FunctionConfiguration {
        self.plane
            .publish_version(PublishVersionRequest { function_name: name.into(), ..Default::default() })
            .expect("publish")
    }

    fn set_memory(&self, name: &str, memory_mb: i64) -> FunctionConfiguration {
        self.plane
            .update_function_configuration(UpdateConfigurationRequest {
                function_name: name.into(),
                memory_mb: Some(memory_mb),
                ..Default::default()
            })
            .expect("update")
    }

    fn alias(&self, function: &str, name: &str, version: &str) -> Result<AliasConfiguration, LambdaError> {
        self.plane.create_alias(CreateAliasRequest {
            function_name: function.into(),
            name: name.into(),
            function_version: version.into(),
            ..Default::default()
        })
    }
}

#[track_caller]
fn assert_error(result: Result<impl fmt::Debug, LambdaError>, error_type: ErrorType, message: &str) {
    let err = result.expect_err("must fail");
    assert_eq!((err.error_type, err.message.as_str()), (error_type, message));
}

#[track_caller]
fn assert_error_starts(result: Result<impl fmt::Debug, LambdaError>, error_type: ErrorType, prefix: &str) {
    let err = result.expect_err("must fail");
    assert_eq!(err.error_type, error_type, "{}", err.message);
    assert!(err.message.starts_with(prefix), "message: {}\nexpected prefix: {prefix}", err.message);
}

#[test]
fn create_then_read_back() {
    let fx = Fixture::new();
    let mut request = fx.request("hello");
    request.environment = Some(BTreeMap::from([("GREETING".into(), "hi".into())]));
    request.description = Some("says hi".into());
    request.tags = BTreeMap::from([("team".into(), "core".into())]);
    let created = fx.plane.create_function(request).expect("create");
    assert_eq!(created.function_arn, format!("{ARN}:hello"));
    assert_eq!(created.version, "$LATEST");
    assert_eq!(created.state, Some(FunctionState::Pending));
    assert_eq!(created.state_reason, Some("The function is being created."));
    assert_eq!(created.state_reason_code, Some("Creating"));
    assert_eq!(created.last_update, None);
    assert_eq!(created.config.memory_mb, 128);
    assert_eq!(created.config.timeout_s, 3);
    assert_eq!(created.config.architecture, "x86_64");
    assert_eq!(created.config.last_modified, Timestamp::from_unix_millis(1_764_000_000_123));
    assert_eq!(created.config.code_sha256.len(), 44, "base64 of 32 bytes");
    let code_dir = created.code_dir.clone().expect("code dir");
    assert!(code_dir.join("app.py").is_file());

    let details = fx.plane.get_function("hello", None).expect("get");
    let got = &details.configuration;
    assert_eq!(got.state, Some(FunctionState::Active));
    assert_eq!(got.last_update.map(|u| u.status), Some("Successful"));
    assert_eq!(got.config, created.config);
    assert_eq!(details.tags, BTreeMap::from([("team".into(), "core".into())]));
    assert_eq!(fx.plane.get_function_configuration("hello", None).expect("config").config, created.config);

    let resolved = fx.plane.resolve("hello", None, 0.0).expect("resolve");
    assert_eq!(resolved.invoked_arn, format!("{ARN}:hello"));
    assert_eq!(resolved.qualifier, None);
    let version = &resolved.version;
    assert_eq!((version.version.as_str(), version.handler.as_str()), ("$LATEST", "app.handler"));
    assert_eq!(version.environment["GREETING"], "hi");
    assert_eq!(version.code.dir, code_dir);
    assert_eq!(version.revision_id, created.config.revision_id);
}

#[test]
fn create_validation_uses_aws_messages_and_leaves_nothing_behind() {
    let fx = Fixture::new();
    let with = |change: &dyn Fn(&mut CreateFunctionRequest)| {
        let mut request = fx.request("f");
        change(&mut request);
        fx.plane.create_function(request)
    };
    assert_error_starts(
        with(&|r| r.function_name = "my fn".into()),
        ErrorType::ValidationException,
        "1 validation error detected: Value 'my fn' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ",
    );
    let long = "a".repeat(65);
    assert_error(
        with(&|r| r.function_name = long.clone()),
        ErrorType::ValidationException,
        &format!(
            "1 validation error detected: Value '{long}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"
        ),
    );
    assert_error_starts(
        with(&|r| r.function_name = "f:1".into()),
        ErrorType::ValidationException,
        "1 validation error detected: Value 'f:1' at 'functionName'",
    );
    assert_error(
        with(&|r| r.role = Some("not-a-role".into())),
        ErrorType::ValidationException,
        r"1 validation error detected: Value 'not-a-role' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
    );
    assert_error(
        with(&|r| r.runtime = Some("cobol85".into())),
        ErrorType::InvalidParameterValueException,
        "Value cobol85 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java17, nodejs16.x, java25, dotnet8, python3.10, java11, python3.11, dotnet6, java21, nodejs18.x, provided.al2, ruby3.3, ruby3.4, java8.al2, ruby3.2, python3.8, python3.9] or be a valid ARN",
    );
    assert_error(
        with(&|r| r.runtime = Some("python3.7".into())),
        ErrorType::InvalidParameterValueException,
        "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime (python3.12) while creating or updating functions.",
    );
    assert_error_starts(
        with(&|r| r.runtime = Some("java21".into())),
        ErrorType::InvalidParameterValueException,
        "The runtime java21 is not supported by cloudlet. hint: use one of python3.9,",
    );
    assert_error(
        with(&|r| r.runtime = Some("python3.13".into())),
        ErrorType::InvalidParameterValueException,
        "The runtime python3.13 cannot run on this host: no executable `python3.13` on PATH. hint: install it, or choose a runtime this host has",
    );
    assert_error(
        with(&|r| r.handler = None),
        ErrorType::ValidationException,
        "1 validation error detected: Value null at 'handler' failed to satisfy constraint: Member must not be null",
    );
    assert_error(
        with(&|r| r.memory_mb = Some(127)),
        ErrorType::ValidationException,
        "1 validation error detected: Value '127' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128",
    );
    assert_error(
        with(&|r| r.memory_mb = Some(10_241)),
        ErrorType::ValidationException,
        "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240",
    );
    assert_error(
        with(&|r| r.timeout_s = Some(901)),
        ErrorType::ValidationException,
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900",
    );
    assert_error(
        with(&|r| r.timeout_s = Some(0)),
        ErrorType::ValidationException,
        "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    assert_error(
        with(&|r| r.environment = Some(BTreeMap::from([("AWS_REGION".into(), "x".into())]))),
        ErrorType::InvalidParameterValueException,
        "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION",
    );
    assert_error_starts(
        with(&|r| r.environment = Some(BTreeMap::from([("BIG".into(), "x".repeat(4096))]))),
        ErrorType::InvalidParameterValueException,
        "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {\"BIG\":\"xxx",
    );
    assert_error_starts(
        with(&|r| r.architectures = Some(vec!["sparc".into()])),
        ErrorType::ValidationException,
        "1 validation error detected: Value '[sparc]' at 'architectures' failed to satisfy constraint:",
    );
    assert_error_starts(
        with(&|r| r.code = CodeSource::S3 { bucket: "b".into(), key: "k".into() }),
        ErrorType::InvalidParameterValueException,
        "cloudlet cannot fetch code from S3",
    );
    assert_error(
        with(&|r| r.code = CodeSource::Zip(b"not a zip".to_vec())),
        ErrorType::InvalidParameterValueException,
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    );
    assert_error(
        with(&|r| r.code = CodeSource::Zip(Vec::new())),
        ErrorType::InvalidParameterValueException,
        "Uploaded file must be a non-empty zip",
    );
    assert_eq!(fx.plane.function_count(), 0);
    assert_eq!(fx.store.writes(), 0, "no failed create may write");

    fx.create("f");
    assert_error(with(&|_| {}), ErrorType::ResourceConflictException, "Function already exist: f");
    assert_eq!(fx.store.writes(), 1);
}

#[test]
fn provided_runtimes_need_an_executable_bootstrap() {
    let fx = Fixture::new();
    let mut request = fx.request("rusty");
    request.runtime = Some("provided.al2023".into());
    request.handler = Some("bootstrap".into());
    request.code = CodeSource::Zip(fx.zip(&[("main.rs", "fn main() {}", 0o644)]));
    assert_error_starts(
        fx.plane.create_function(request.clone()),
        ErrorType::InvalidParameterValueException,
        "The runtime provided.al2023 runs an executable file named `bootstrap` at the root of the deployment package, and this package has none.",
    );
    request.code = CodeSource::Zip(fx.zip(&[("bootstrap", "#!/bin/sh\n", 0o644)]));
    assert_error_starts(
        fx.plane.create_function(request.clone()),
        ErrorType::InvalidParameterValueException,
        "The runtime provided.al2023 runs the file `bootstrap` at the root of the deployment package, but it is not executable.",
    );
    request.code = CodeSource::Zip(fx.zip(&[("bootstrap", "#!/bin/sh\n", 0o755)]));
    fx.plane.create_function(request).expect("create with bootstrap");

    // Switching a Python function to `provided` checks its code too.
    fx.create("snake");
    let to_provided = UpdateConfigurationRequest {
        function_name: "snake".into(),
        runtime: Some("provided.al2".into()),
        ..Default::default()
    };
    assert_error_starts(
        fx.plane.update_function_configuration(to_provided),
        ErrorType::InvalidParameterValueException,
        "The runtime provided.al2 runs an executable file named `bootstrap`",
    );
    assert_eq!(fx.plane.get_function_configuration("snake", None).expect("get").config.runtime, Runtime::Python312);
}

#[test]
fn a_failed_store_write_leaves_no_trace() {
    let fx = Fixture::new();
    fx.create("f");
    let before = fx.plane.get_function_configuration("f", None).expect("get");
    fx.store.fail_writes(true);
    let err = fx.plane.create_function(fx.request("g")).expect_err("store down");
    assert_eq!(err.error_type, ErrorType::ServiceException);
    assert!(err.message.contains("function store operation `put_function` failed"), "{}", err.message);
    assert!(fx.plane.get_function("g", None).is_err());
    assert!(
        fx.plane
            .update_function_configuration(UpdateConfigurationRequest {
                function_name: "f".into(),
                memory_mb: Some(512),
                ..Default::default()
            })
            .is_err()
    );
    assert!(
        fx.plane.publish_version(PublishVersionRequest { function_name: "f".into(), ..Default::default() }).is_err()
    );
    assert!(fx.alias("f", "live", "$LATEST").is_err());
    assert!(fx.plane.delete_function("f", None).is_err());
    assert_eq!(fx.plane.get_function_configuration("f", None).expect("get"), before);
    assert!(fx.plane.list_versions_by_function("f", None, None).expect("versions").items.len() == 1);
    assert!(fx.plane.list_aliases("f", None, None, None).expect("aliases").items.is_empty());
    fx.store.fail_writes(false);
    assert_eq!(fx.reopen().get_function_configuration("f", None).expect("get").config, before.config);
}

#[test]
fn updates_change_the_revision_and_honour_preconditions() {
    let fx = Fixture::new();
    let created = fx.create("f");
    fx.clock.advance(Duration::from_secs(60));
    let updated = fx
        .plane
        .update_function_configuration(UpdateConfigurationRequest {
            function_name: "f".into(),
            memory_mb: Some(512),
            timeout_s: Some(30),
            handler: Some("app.main".into()),
            description: Some("bigger".into()),
            environment: Some(BTreeMap::from([("ALPHA".into(), "1".into())])),
            revision_id: Some(created.config.revision_id.clone()),
            ..Default::default()
        })
        .expect("update");
    assert_ne!(updated.config.revision_id, created.config.revision_id);
    assert_eq!(updated.config.last_modified, Timestamp::from_unix_millis(1_764_000_060_123));
    assert_eq!(updated.last_update.map(|u| (u.status, u.reason_code)), Some(("InProgress", Some("Creating"))));
    assert_eq!((updated.config.memory_mb, updated.config.timeout_s), (512, 30));
    let snapshot = fx.plane.resolve("f", None, 0.0).expect("resolve").version;
    assert_eq!(snapshot.revision_id, updated.config.revision_id);
    assert_eq!((snapshot.memory_mb, snapshot.handler.as_str()), (512, "app.main"));

    // A stale revision is refused, and changes nothing.
    let stale = UpdateConfigurationRequest {
        function_name: "f".into(),
        memory_mb: Some(1024),
        revision_id: Some(created.config.revision_id.clone()),
        ..Default::default()
    };
    assert_error(
        fx.plane.update_function_configuration(stale),
        ErrorType::PreconditionFailedException,
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    );
    assert_error_starts(
        fx.plane.update_function_configuration(UpdateConfigurationRequest {
            function_name: "f".into(),
            memory_mb: Some(64),
            ..Default::default()
        }),
        ErrorType::ValidationException,
        "1 validation error detected: Value '64' at 'memorySize'",
    );
    assert_eq!(fx.plane.get_function_configuration("f", None).expect("get").config, updated.config);

    // Environment Some(empty) clears it; None leaves it.
    let cleared = fx
        .plane
        .update_function_configuration(UpdateConfigurationRequest {
            function_name: "f".into(),
            environment: Some(BTreeMap::new()),
            ..Default::default()
        })
        .expect("clear env");
    assert!(cleared.config.environment.is_empty());

    // New code: new sha and revision; a stale RevisionId is refused first.
    let code = UpdateCodeRequest {
        function_name: "f".into(),
        code: CodeSource::Zip(fx.python_zip("def main(event, context):\n    return 2\n")),
        revision_id: Some(updated.config.revision_id.clone()),
        ..Default::default()
    };
    assert_error(
        fx.plane.update_function_code(code.clone()),
        ErrorType::PreconditionFailedException,
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    );
    let new_code = fx.plane.update_function_code(UpdateCodeRequest { revision_id: None, ..code }).expect("code");
    assert_ne!(new_code.config.code_sha256, created.config.code_sha256);
    assert_ne!(new_code.config.revision_id, cleared.config.revision_id);
    let snapshot = fx.plane.resolve("f", None, 0.0).expect("resolve").version;
    assert_eq!(snapshot.code.sha256_base64, new_code.config.code_sha256);
    assert!(std::fs::read_to_string(snapshot.code.dir.join("app.py")).expect("code").contains("return 2"));
}

#[test]
fn publishing_is_idempotent_until_latest_changes() {
    let fx = Fixture::new();
    let created = fx.create("f");
    let first = fx.publish("f");
    assert_eq!((first.version.as_str(), first.function_arn.as_str()), ("1", &*format!("{ARN}:f:1")));
    assert_eq!(first.state, Some(FunctionState::Pending));
    let again = fx.publish("f");
    assert_eq!(again.version, "1", "nothing changed: the same version");
    assert_eq!(again.config.revision_id, first.config.revision_id);
    fx.set_memory("f", 256);
    let second = fx.publish("f");
    assert_eq!(second.version, "2");
    assert_eq!(second.config.memory_mb, 256);

    // Version 1 is immutable.
    let v1 = fx.plane.get_function_configuration("f", Some("1")).expect("v1");
    assert_eq!((v1.config.memory_mb, v1.function_arn.as_str()), (128, &*format!("{ARN}:f:1")));
    assert_eq!(v1.config.code_sha256, created.config.code_sha256);

    // Preconditions.
    assert_error(
        fx.plane.publish_version(PublishVersionRequest {
            function_name: "f".into(),
            code_sha256: Some("bogus".into()),
            ..Default::default()
        }),
        ErrorType::InvalidParameterValueException,
        &format!(
            "CodeSHA256 (bogus) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
            created.config.code_sha256
        ),
    );
    assert_error_starts(
        fx.plane.publish_version(PublishVersionRequest {
            function_name: "f".into(),
            revision_id: Some("nope".into()),
            ..Default::default()
        }),
        ErrorType::PreconditionFailedException,
        "The Revision Id provided does not match",
    );
    // A description for the version only.
    fx.set_memory("f", 512);
    let third = fx
        .plane
        .publish_version(PublishVersionRequest {
            function_name: "f".into(),
            description: Some("release 3".into()),
            ..Default::default()
        })
        .expect("publish 3");
    assert_eq!((third.version.as_str(), third.config.description.as_str()), ("3", "release 3"));
    assert_eq!(fx.plane.get_function_configuration("f", None).expect("latest").config.description, "");

    // Publish on create and on code update.
    let mut request = fx.request("g");
    request.publish = true;
    let created = fx.plane.create_function(request).expect("create + publish");
    assert_eq!((created.version.as_str(), created.function_arn.as_str()), ("1", &*format!("{ARN}:g")));
    let updated = fx
        .plane
        .update_function_code(UpdateCodeRequest {
            function_name: "g".into(),
            code: CodeSource::Zip(fx.python_zip("# v2\n")),
            publish: true,
            ..Default::default()
        })
        .expect("code + publish");
    assert_eq!((updated.version.as_str(), updated.function_arn.as_str()), ("2", &*format!("{ARN}:g:2")));
}

#[test]
fn versions_are_listed_latest_first_with_pagination() {
    let fx = Fixture::new();
    fx.create("f");
    for memory in [129, 130, 131] {
        fx.publish("f");
        fx.set_memory("f", memory);
    }
    let all = fx.plane.list_versions_by_function("f", None, None).expect("list");
    let versions: Vec<&str> = all.items.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(versions, ["$LATEST", "1", "2", "3"]);
    assert_eq!(all.items[0].function_arn, format!("{ARN}:f:$LATEST"));
    assert_eq!(all.items[0].state, None, "lists carry no state");
    assert_eq!(all.next_marker, None);

    let page = fx.plane.list_versions_by_function("f", None, Some(2)).expect("page 1");
    assert_eq!(page.items.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["$LATEST", "1"]);
    let marker = page.next_marker.expect("more");
    let page = fx.plane.list_versions_by_function("f", Some(&marker), Some(2)).expect("page 2");
    assert_eq!(page.items.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["2", "3"]);
    assert_eq!(page.next_marker, None);
    assert_error_starts(
        fx.plane.list_versions_by_function("f", None, Some(0)),
        ErrorType::ValidationException,
        "1 validation error detected: Value '0' at 'maxItems'",
    );
    assert_error(
        fx.plane.list_versions_by_function("nope", None, None),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:nope"),
    );
}

#[test]
fn functions_are_listed_by_name_with_pagination() {
    let fx = Fixture::new();
    for name in ["b", "a-b", "a", "c"] {
        fx.create(name);
    }
    fx.publish("a");
    let names =
        |page: &Page<FunctionConfiguration>| page.items.iter().map(|f| f.function_arn.clone()).collect::<Vec<_>>();
    let first = fx.plane.list_functions(None, Some(3), false).expect("page 1");
    assert_eq!(names(&first), [format!("{ARN}:a"), format!("{ARN}:a-b"), format!("{ARN}:b")]);
    let second = fx.plane.list_functions(first.next_marker.as_deref(), Some(3), false).expect("page 2");
    assert_eq!(names(&second), [format!("{ARN}:c")]);
    assert_eq!(second.next_marker, None);

    let mut marker = None;
    let mut seen = Vec::new();
    loop {
        let page = fx.plane.list_functions(marker.as_deref(), Some(1), true).expect("page");
        seen.extend(names(&page));
        marker = page.next_marker;
        if marker.is_none() {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            format!("{ARN}:a:$LATEST"),
            format!("{ARN}:a:1"),
            format!("{ARN}:a-b:$LATEST"),
            format!("{ARN}:b:$LATEST"),
            format!("{ARN}:c:$LATEST"),
        ]
    );
}

#[test]
fn aliases_with_routing() {
    let fx = Fixture::new();
    fx.create("f");
    fx.publish("f");
    fx.set_memory("f", 256);
    fx.publish("f");

    let live = fx.alias("f", "live", "1").expect("alias");
    assert_eq!(live.alias_arn, format!("{ARN}:f:live"));
    assert_eq!(live.alias.description, "");
    assert_error(
        fx.alias("f", "live", "1"),
        ErrorType::ResourceConflictException,
        &format!("Alias already exists: {ARN}:f:live"),
    );
    assert_error(
        fx.alias("f", "next", "9"),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f:9"),
    );
    assert_error(
        fx.alias("f", "123", "1"),
        ErrorType::ValidationException,
        "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
    );
    assert_error(
        fx.plane.get_alias("f", "nope"),
        ErrorType::ResourceNotFoundException,
        &format!("Cannot find alias arn: {ARN}:f:nope"),
    );

    let routed = |weights: &[(&str, f64)], version: &str| {
        fx.plane.update_alias(UpdateAliasRequest {
            function_name: "f".into(),
            name: "live".into(),
            function_version: Some(version.into()),
            additional_version_weights: Some(weights.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect()),
            ..Default::default()
        })
    };
    assert_error(
        routed(&[("1", 0.5)], "1"),
        ErrorType::InvalidParameterValueException,
        "Invalid function version 1. Function version 1 is already included in routing configuration.",
    );
    assert_error(
        routed(&[("1", 0.1), ("2", 0.1)], "1"),
        ErrorType::InvalidParameterValueException,
        "Number of items in AdditionalVersionWeights cannot be greater than 1",
    );
    assert_error_starts(
        routed(&[("2", 1.5)], "1"),
        ErrorType::ValidationException,
        "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights'",
    );
    assert_error(
        routed(&[("1", 0.5)], "$LATEST"),
        ErrorType::InvalidParameterValueException,
        "$LATEST is not supported for an alias pointing to more than 1 version",
    );
    assert_error(
        routed(&[("7", 0.5)], "1"),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f:7"),
    );
    let updated = routed(&[("2", 0.25)], "1").expect("route a quarter to 2");
    assert_ne!(updated.alias.revision_id, live.alias.revision_id);
    assert_error_starts(
        fx.plane.update_alias(UpdateAliasRequest {
            function_name: "f".into(),
            name: "live".into(),
            revision_id: Some(live.alias.revision_id.clone()),
            ..Default::default()
        }),
        ErrorType::PreconditionFailedException,
        "The Revision Id provided does not match",
    );

    // Routing: the first quarter of the sample interval goes to version 2.
    for (sample, version, memory) in [(0.0, "2", 256), (0.2499, "2", 256), (0.25, "1", 128), (0.99, "1", 128)] {
        let resolved = fx.plane.resolve("f:live", None, sample).expect("resolve alias");
        assert_eq!(
            (resolved.version.version.as_str(), resolved.version.memory_mb),
            (version, memory),
            "sample {sample}"
        );
        assert_eq!(resolved.invoked_arn, format!("{ARN}:f:live"));
        assert_eq!(resolved.qualifier.as_deref(), Some("live"));
    }

    // A version an alias uses (directly or by weight) cannot be deleted.
    fx.alias("f", "canary", "2").expect("canary");
    assert_error(
        fx.plane.delete_function("f", Some("2")),
        ErrorType::ResourceConflictException,
        "Unable to delete version because the following aliases reference it: [canary, live]",
    );
    let listed = fx.plane.list_aliases("f", None, None, None).expect("list");
    assert_eq!(listed.items.iter().map(|a| a.alias.name.as_str()).collect::<Vec<_>>(), ["canary", "live"]);
    let for_two = fx.plane.list_aliases("f", Some("2"), None, None).expect("filtered");
    assert_eq!(for_two.items.iter().map(|a| a.alias.name.as_str()).collect::<Vec<_>>(), ["canary"]);
    let paged = fx.plane.list_aliases("f", None, None, Some(1)).expect("page");
    assert_eq!(paged.next_marker.as_deref(), Some("canary"));

    fx.plane.delete_alias("f", "canary").expect("delete canary");
    assert_error(
        fx.plane.delete_alias("f", "canary"),
        ErrorType::ResourceNotFoundException,
        &format!("Cannot find alias arn: {ARN}:f:canary"),
    );
    routed(&[], "1").expect("no more routing");
    fx.plane.delete_function("f", Some("2")).expect("delete version 2");
    assert_error(
        fx.plane.resolve("f:2", None, 0.0),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f:2"),
    );
    // Version numbers are never reused.
    fx.set_memory("f", 1024);
    assert_eq!(fx.publish("f").version, "3");
}

/// (FunctionName, Qualifier, version run, invoked ARN suffix, qualifier reported)
type Case<'a> = (&'a str, Option<&'a str>, &'a str, &'a str, Option<&'a str>);

#[test]
fn resolution_of_every_function_name_form() {
    let fx = Fixture::new();
    fx.create("f");
    fx.publish("f");
    fx.set_memory("f", 256);
    fx.alias("f", "live", "1").expect("alias");

    let cases: &[Case<'_>] = &[
        // (FunctionName, Qualifier, version run, invoked ARN suffix, qualifier reported)
        ("f", None, "$LATEST", "f", None),
        ("f", Some("$LATEST"), "$LATEST", "f:$LATEST", Some("$LATEST")),
        ("f:$LATEST", None, "$LATEST", "f:$LATEST", Some("$LATEST")),
        ("f:1", None, "1", "f:1", Some("1")),
        ("f", Some("1"), "1", "f:1", Some("1")),
        ("f:live", Some("live"), "1", "f:live", Some("live")),
        ("000000000000:function:f", None, "$LATEST", "f", None),
        ("000000000000:function:f:live", None, "1", "f:live", Some("live")),
        ("arn:aws:lambda:us-east-1:000000000000:function:f", None, "$LATEST", "f", None),
        ("arn:aws:lambda:us-east-1:000000000000:function:f:1", None, "1", "f:1", Some("1")),
        ("arn:aws:lambda:us-east-1:000000000000:function:f", Some("live"), "1", "f:live", Some("live")),
    ];
    for (name, qualifier, version, arn, reported) in cases {
        let resolved = fx.plane.resolve(name, *qualifier, 0.5).unwrap_or_else(|e| panic!("{name} {qualifier:?}: {e}"));
        assert_eq!(resolved.version.version, *version, "{name} {qualifier:?}");
        assert_eq!(resolved.invoked_arn, format!("{ARN}:{arn}"), "{name} {qualifier:?}");
        assert_eq!(resolved.qualifier.as_deref(), *reported, "{name} {qualifier:?}");
    }
    let latest = fx.plane.resolve("f", None, 0.0).expect("latest").version;
    assert_eq!(latest.memory_mb, 256);

    assert_error(
        fx.plane.resolve("f:1", Some("live"), 0.0),
        ErrorType::InvalidParameterValueException,
        "The derived qualifier from the function name does not match the specified qualifier.",
    );
    assert_error(
        fx.plane.resolve("nope", None, 0.0),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:nope"),
    );
    assert_error(
        fx.plane.resolve("nope:live", None, 0.0),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:nope:live"),
    );
    assert_error(
        fx.plane.resolve("f:9", None, 0.0),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f:9"),
    );
    assert_error(
        fx.plane.resolve("f", Some("dark"), 0.0),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f:dark"),
    );
    assert_error(
        fx.plane.resolve("arn:aws:lambda:eu-west-1:000000000000:function:f", None, 0.0),
        ErrorType::ResourceNotFoundException,
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')",
    );
    assert_error(
        fx.plane.resolve("111111111111:function:f", None, 0.0),
        ErrorType::ResourceNotFoundException,
        "Function not found: arn:aws:lambda:us-east-1:111111111111:function:f",
    );
    assert_error_starts(
        fx.plane.resolve("f", Some("a b"), 0.0),
        ErrorType::ValidationException,
        "1 validation error detected: Value 'a b' at 'qualifier'",
    );
    assert_error_starts(
        fx.plane.resolve("bad name", None, 0.0),
        ErrorType::ValidationException,
        "1 validation error detected: Value 'bad name' at 'functionName'",
    );

    // Reads accept the same forms, with the ARN the caller qualified.
    let via_alias = fx.plane.get_function("arn:aws:lambda:us-east-1:000000000000:function:f:live", None).expect("get");
    assert_eq!(via_alias.configuration.function_arn, format!("{ARN}:f:live"));
    assert_eq!(via_alias.configuration.version, "1");
    assert_error(
        fx.plane.get_function("f", Some("nope")),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f:nope"),
    );
}

#[test]
fn delete_function_and_its_rules() {
    let fx = Fixture::new();
    fx.create("f");
    fx.publish("f");
    fx.alias("f", "live", "1").expect("alias");
    fx.plane.set_reserved_concurrency("f", Some(5)).expect("reserved");
    fx.plane.put_provisioned_concurrency("f", "live", 2).expect("provisioned");
    assert_error(
        fx.plane.delete_function("f", Some("$LATEST")),
        ErrorType::InvalidParameterValueException,
        "$LATEST version cannot be deleted without deleting the function.",
    );
    assert_error(
        fx.plane.delete_function("f", Some("live")),
        ErrorType::InvalidParameterValueException,
        "Deletion of aliases is not supported.",
    );
    assert_error(
        fx.plane.delete_function("f", Some("4")),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f:4"),
    );
    fx.plane.delete_function("arn:aws:lambda:us-east-1:000000000000:function:f", None).expect("delete");
    assert_error(
        fx.plane.get_function("f", None),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f"),
    );
    assert_error(
        fx.plane.delete_function("f", None),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f"),
    );
    let reopened = fx.reopen();
    assert_eq!(reopened.function_count(), 0);
    assert!(reopened.all_provisioned_concurrency().is_empty());
    assert!(reopened.all_reserved_concurrency().is_empty());
    // The name is free again, and starts from version 1.
    fx.create("f");
    assert_eq!(fx.publish("f").version, "1");
}

#[test]
fn everything_survives_a_reopen() {
    let fx = Fixture::new();
    let mut request = fx.request("f");
    request.tags = BTreeMap::from([("k".into(), "v".into())]);
    fx.plane.create_function(request).expect("create");
    fx.publish("f");
    fx.set_memory("f", 256);
    fx.publish("f");
    fx.plane
        .create_alias(CreateAliasRequest {
            function_name: "f".into(),
            name: "live".into(),
            function_version: "2".into(),
            description: Some("prod".into()),
            additional_version_weights: Some(BTreeMap::from([("1".into(), 0.1)])),
        })
        .expect("alias");
    fx.plane.set_reserved_concurrency("f", Some(10)).expect("reserved");
    fx.plane.put_provisioned_concurrency("f", "1", 3).expect("provisioned");

    let reopened = fx.reopen();
    for (name, q) in [("f", None), ("f", Some("1")), ("f", Some("2")), ("f", Some("live"))] {
        assert_eq!(
            reopened.get_function(name, q).expect("reopened"),
            fx.plane.get_function(name, q).expect("original"),
            "{name} {q:?}"
        );
        let (a, b) = (reopened.resolve(name, q, 0.5).expect("r"), fx.plane.resolve(name, q, 0.5).expect("o"));
        assert_eq!((*a.version).clone(), (*b.version).clone());
    }
    assert_eq!(reopened.get_alias("f", "live").expect("alias"), fx.plane.get_alias("f", "live").expect("alias"));
    assert_eq!(reopened.reserved_concurrency("f").expect("reserved"), Some(10));
    assert_eq!(reopened.provisioned_concurrency("f").expect("pc")["1"].requested, 3);
    assert_eq!(fx.publish("f").version, "2", "unchanged since version 2");
}

#[test]
fn concurrency_settings_are_checked_and_kept() {
    let fx = Fixture::new();
    fx.create("f");
    fx.publish("f");
    assert_error(
        fx.plane.put_provisioned_concurrency("f", "$LATEST", 1),
        ErrorType::InvalidParameterValueException,
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    );
    assert_error(
        fx.plane.put_provisioned_concurrency("f", "5", 1),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:f:5"),
    );
    assert_error(
        fx.plane.put_provisioned_concurrency("f", "live", 1),
        ErrorType::ResourceNotFoundException,
        &format!("Cannot find alias arn: {ARN}:f:live"),
    );
    let record = fx.plane.put_provisioned_concurrency("f", "1", 4).expect("pc");
    assert_eq!((record.qualifier.as_str(), record.requested), ("1", 4));
    assert_eq!(fx.plane.all_provisioned_concurrency(), [record]);
    assert!(fx.plane.delete_provisioned_concurrency("f", "1").expect("delete"));
    assert!(!fx.plane.delete_provisioned_concurrency("f", "1").expect("delete again"));
    fx.plane.set_reserved_concurrency("f", Some(0)).expect("off switch");
    assert_eq!(fx.plane.all_reserved_concurrency(), BTreeMap::from([("f".to_owned(), 0)]));
    fx.plane.set_reserved_concurrency("f", None).expect("remove");
    assert_eq!(fx.plane.reserved_concurrency("f").expect("get"), None);
    assert_error(
        fx.plane.set_reserved_concurrency("g", Some(1)),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:g"),
    );
}

#[test]
fn tags() {
    let fx = Fixture::new();
    fx.create("f");
    let arn = format!("{ARN}:f");
    fx.plane.tag_resource(&arn, BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())])).expect("tag");
    fx.plane.untag_resource(&arn, &["a".to_owned()]).expect("untag");
    assert_eq!(fx.plane.list_tags(&arn).expect("list"), BTreeMap::from([("b".into(), "2".into())]));
    assert_error_starts(
        fx.plane.list_tags("f"),
        ErrorType::ValidationException,
        "1 validation error detected: Value 'f' at 'resource'",
    );
    assert_error(
        fx.plane.list_tags(&format!("{ARN}:g")),
        ErrorType::ResourceNotFoundException,
        &format!("Function not found: {ARN}:g"),
    );
    assert_error_starts(
        fx.plane.tag_resource(&format!("{arn}:1"), BTreeMap::new()),
        ErrorType::InvalidParameterValueException,
        "Tags are not supported",
    );
}

#[test]
fn missing_code_is_reported_not_run() {
    let fx = Fixture::new();
    fx.create("f");
    let dir = fx.plane.resolve("f", None, 0.0).expect("resolve").version.code.dir.clone();
    std::fs::remove_dir_all(&dir).expect("remove package");
    let reopened = fx.reopen();
    let err = reopened.resolve("f", None, 0.0).expect_err("code gone");
    assert_eq!(err.error_type, ErrorType::ServiceException);
    assert!(err.message.contains("is missing from cloudlet's package cache"), "{}", err.message);
    assert_eq!(reopened.get_function("f", None).expect("get still works").configuration.code_dir, None);
}

#[test]
fn lists_return_at_most_fifty_functions_or_versions() {
    let fx = Fixture::new();
    for i in 0..52 {
        fx.create(&format!("f{i:02}"));
    }
    let page = fx.plane.list_functions(None, Some(10_000), false).expect("list");
    assert_eq!((page.items.len(), page.next_marker.as_deref()), (50, Some("f49")));
    let rest = fx.plane.list_functions(page.next_marker.as_deref(), None, false).expect("rest");
    assert_eq!((rest.items.len(), rest.next_marker), (2, None));
    assert_error_starts(
        fx.plane.list_functions(None, Some(10_001), false),
        ErrorType::ValidationException,
        "1 validation error detected: Value '10001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 10000",
    );
}
