//! GitHub's expression known-answer suite, every case, as data: each file
//! maps a group name to cases `{expr, contexts?, result | err}`; errors
//! match when the printed error contains the expected text, as in GitHub's
//! own harness.

use std::path::Path;

use cloudlet_ci::expr::{self, ErrorKind, HASH_FILES, Host, Object, STATUS_FUNCTIONS, Value};

struct KatHost;
impl Host for KatHost {}

fn run_case(c: &Value) -> Result<(), String> {
    let obj = c.as_object().ok_or("case is not an object")?;
    let text = obj.get("expr").and_then(Value::as_str).ok_or("no expr")?;
    let contexts = obj.get("contexts").and_then(Value::as_object).cloned().unwrap_or_default();
    let names: Vec<String> = contexts.iter().map(|(k, _)| k.to_owned()).collect();
    let _ = (STATUS_FUNCTIONS, HASH_FILES);
    let outcome = expr::parse(text, &names, &[]).and_then(|e| expr::evaluate(e.as_ref(), text, &contexts, &KatHost));
    match (obj.get("result"), obj.get("err"), outcome) {
        (Some(expected), _, Ok(v)) => {
            let kind = expected.as_object().and_then(|o| o.get("kind")).and_then(Value::as_str).unwrap_or("");
            let want = expected.as_object().and_then(|o| o.get("value")).cloned().unwrap_or(Value::Null);
            if v.kind() != kind {
                return Err(format!("{text:?}: kind {} != {kind}", v.kind()));
            }
            // Compare as JSON text, as GitHub's harness does (so -0 is 0).
            if v.to_json_compact() != want.to_json_compact() {
                return Err(format!("{text:?}: {} != {}", v.to_json_compact(), want.to_json_compact()));
            }
            Ok(())
        }
        (Some(_), _, Err(e)) => Err(format!("{text:?}: unexpected error {e}")),
        (None, Some(err), outcome) => {
            let err = err.as_object().ok_or("err is not an object")?;
            let want_kind = match err.get("kind").and_then(Value::as_str) {
                Some("lexing") => ErrorKind::Lexing,
                Some("parsing") => ErrorKind::Parsing,
                _ => ErrorKind::Evaluation,
            };
            let want = err.get("value").and_then(Value::as_str).unwrap_or("");
            match outcome {
                Ok(v) => Err(format!("{text:?}: expected error {want:?}, got {}", v.to_json_compact())),
                Err(e) if e.kind == want_kind && e.to_string().contains(want) => Ok(()),
                Err(e) => Err(format!("{text:?}: expected {want_kind:?} {want:?}, got {:?} {e}", e.kind)),
            }
        }
        (None, None, _) => Err(format!("{text:?}: case has neither result nor err")),
    }
}

#[test]
fn known_answer_suite_passes_every_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gha-expressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let groups = Value::from_json(&text).unwrap_or(Value::Null);
        let Some(groups) = groups.as_object() else { panic!("{} is not a JSON object", f.display()) };
        for (group, cases) in groups.iter() {
            for c in cases.as_array().unwrap_or_default() {
                total += 1;
                if let Err(e) = run_case(c) {
                    failures.push(format!("{}::{group}: {e}", f.file_name().unwrap_or_default().display()));
                }
            }
        }
    }
    assert!(total >= 1000, "only {total} cases found in {}", dir.display());
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn objects_keep_order_and_compare_by_identity() {
    let mut ctx = Object::new();
    ctx.set("o", Value::from_json(r#"{"b": 1, "a": 2}"#).unwrap_or(Value::Null));
    let v = expr::eval_str("toJSON(o)", &ctx, &[], &KatHost).map(|v| v.to_display_string());
    assert_eq!(v.ok().as_deref(), Some("{\n  \"b\": 1,\n  \"a\": 2\n}"));
    let same = expr::eval_str("o == o", &ctx, &[], &KatHost).map(|v| v.is_truthy());
    let fresh = expr::eval_str("fromJSON('{}') == fromJSON('{}')", &ctx, &[], &KatHost).map(|v| v.is_truthy());
    assert_eq!((same.ok(), fresh.ok()), (Some(true), Some(false)));
}
