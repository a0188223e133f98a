//! Matrix expansion with GitHub's exact algorithm.
//!
//! The vectors' Cartesian product in key order (the first key varies
//! slowest); then `exclude` removes every combination that an entry
//! matches partially; then each `include` entry is added to every
//! original combination whose original values it would not overwrite
//! (values added by earlier includes may be overwritten), and an entry
//! that fits none is appended as a combination of its own. Pure.

use crate::expr::{Object, Value};

/// GitHub's limit on jobs one matrix may generate.
pub const MAX_MATRIX_JOBS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    #[error("the matrix must be a mapping, got {0}")]
    NotAMapping(&'static str),
    #[error("matrix vector '{0}' must be a sequence")]
    NotASequence(String),
    #[error("Matrix vector '{0}' does not contain any values")]
    EmptyVector(String),
    #[error("matrix '{0}' must be a sequence of mappings")]
    BadIncludeExclude(&'static str),
    #[error("Matrix exclude key '{0}' does not match any key of the matrix")]
    UnknownExcludeKey(String),
    #[error("the matrix would create {0} jobs; GitHub allows at most {MAX_MATRIX_JOBS}")]
    TooManyJobs(usize),
}

/// Expands a matrix value (after any `${{ }}` in it was evaluated) into
/// its combinations, in GitHub's order.
pub fn expand(matrix: &Value) -> Result<Vec<Object>, MatrixError> {
    let Value::Object(m) = matrix else {
        return Err(MatrixError::NotAMapping(matrix.kind()));
    };
    let mut vectors: Vec<(&str, &[Value])> = Vec::new();
    let mut include: &[Value] = &[];
    let mut exclude: &[Value] = &[];
    for (k, v) in m.iter() {
        let items = match v {
            Value::Array(a) => a.as_slice(),
            _ if k == "include" => return Err(MatrixError::BadIncludeExclude("include")),
            _ if k == "exclude" => return Err(MatrixError::BadIncludeExclude("exclude")),
            _ => return Err(MatrixError::NotASequence(k.to_owned())),
        };
        match k {
            "include" => include = items,
            "exclude" => exclude = items,
            _ if items.is_empty() => return Err(MatrixError::EmptyVector(k.to_owned())),
            _ => vectors.push((k, items)),
        }
    }

    let mut combos: Vec<Vec<(String, Value)>> = Vec::new();
    if !vectors.is_empty() {
        let total: usize = vectors.iter().map(|(_, v)| v.len()).product();
        if total > MAX_MATRIX_JOBS * 64 {
            return Err(MatrixError::TooManyJobs(total));
        }
        combos.push(Vec::new());
        for (k, values) in &vectors {
            let mut next = Vec::with_capacity(combos.len() * values.len());
            for c in &combos {
                for v in values.iter() {
                    let mut c = c.clone();
                    c.push(((*k).to_owned(), v.clone()));
                    next.push(c);
                }
            }
            combos = next;
        }
    }

    for entry in exclude {
        let Value::Object(e) = entry else { return Err(MatrixError::BadIncludeExclude("exclude")) };
        for (k, _) in e.iter() {
            if !vectors.iter().any(|(vk, _)| vk.eq_ignore_ascii_case(k)) {
                return Err(MatrixError::UnknownExcludeKey(k.to_owned()));
            }
        }
        combos.retain(|c| !e.iter().all(|(k, v)| lookup(c, k).is_some_and(|cv| cv.deep_eq(v))));
    }

    // Which keys of each combination are original (from the vectors).
    let originals = combos.len();
    let mut appended: Vec<Vec<(String, Value)>> = Vec::new();
    for entry in include {
        let Value::Object(inc) = entry else { return Err(MatrixError::BadIncludeExclude("include")) };
        let mut fitted = false;
        for c in combos.iter_mut().take(originals) {
            let fits = inc.iter().all(|(k, v)| {
                let is_original = vectors.iter().any(|(vk, _)| vk.eq_ignore_ascii_case(k));
                !is_original || lookup(c, k).is_some_and(|cv| cv.deep_eq(v))
            });
            if fits {
                fitted = true;
                for (k, v) in inc.iter() {
                    match c.iter_mut().find(|(ck, _)| ck.eq_ignore_ascii_case(k)) {
                        Some(slot) => slot.1 = v.clone(),
                        None => c.push((k.to_owned(), v.clone())),
                    }
                }
            }
        }
        if !fitted {
            appended.push(inc.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect());
        }
    }
    combos.extend(appended);
    if combos.len() > MAX_MATRIX_JOBS {
        return Err(MatrixError::TooManyJobs(combos.len()));
    }
    Ok(combos.into_iter().map(|c| c.into_iter().collect()).collect())
}

fn lookup<'a>(c: &'a [(String, Value)], k: &str) -> Option<&'a Value> {
    c.iter().find(|(ck, _)| ck.eq_ignore_ascii_case(k)).map(|(_, v)| v)
}

/// The name GitHub gives one leg: `job (v1, v2, …)`, values in order.
pub fn leg_name(job_name: &str, combo: &Object) -> String {
    if combo.is_empty() {
        return job_name.to_owned();
    }
    let values: Vec<String> = combo
        .values()
        .map(|v| match v {
            Value::Object(_) | Value::Array(_) => v.to_json_compact(),
            _ => v.to_display_string(),
        })
        .collect();
    format!("{job_name} ({})", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_json(json: &str) -> Result<Vec<String>, MatrixError> {
        let v = Value::from_json(json).unwrap_or(Value::Null);
        Ok(expand(&v)?.into_iter().map(|o| Value::object(o).to_json_compact()).collect())
    }

    #[test]
    fn githubs_documented_include_vector_gives_exactly_six_jobs() {
        let got = expand_json(
            r#"{"fruit": ["apple", "pear"], "animal": ["cat", "dog"],
                "include": [{"color": "green"}, {"color": "pink", "animal": "cat"},
                            {"fruit": "apple", "shape": "circle"}, {"fruit": "banana"},
                            {"fruit": "banana", "animal": "cat"}]}"#,
        );
        assert_eq!(
            got,
            Ok(vec![
                r#"{"fruit":"apple","animal":"cat","color":"pink","shape":"circle"}"#.to_owned(),
                r#"{"fruit":"apple","animal":"dog","color":"green","shape":"circle"}"#.to_owned(),
                r#"{"fruit":"pear","animal":"cat","color":"pink"}"#.to_owned(),
                r#"{"fruit":"pear","animal":"dog","color":"green"}"#.to_owned(),
                r#"{"fruit":"banana"}"#.to_owned(),
                r#"{"fruit":"banana","animal":"cat"}"#.to_owned(),
            ])
        );
    }

    #[test]
    fn githubs_second_vector_gives_seven_jobs() {
        let got = expand_json(
            r#"{"os": ["ubuntu-latest"], "version": [10, 12, 14, 16, 18],
                "include": [{"os": "macos-latest", "version": 18}, {"os": "macos-latest", "version": 20}]}"#,
        );
        assert_eq!(got.map(|g| g.len()), Ok(7));
    }

    #[test]
    fn exclude_matches_partially_and_runs_before_include() {
        let got = expand_json(
            r#"{"os": ["a", "b"], "node": [1, 2],
                "exclude": [{"os": "a"}], "include": [{"os": "a", "node": 1, "extra": true}]}"#,
        );
        assert_eq!(
            got,
            Ok(vec![
                r#"{"os":"b","node":1}"#.to_owned(),
                r#"{"os":"b","node":2}"#.to_owned(),
                r#"{"os":"a","node":1,"extra":true}"#.to_owned(),
            ])
        );
        assert_eq!(
            expand_json(r#"{"os": ["a"], "exclude": [{"arch": "x"}]}"#),
            Err(MatrixError::UnknownExcludeKey("arch".to_owned()))
        );
    }

    #[test]
    fn include_only_matrices_and_limits() {
        assert_eq!(expand_json(r#"{"include": [{"a": 1}, {"a": 2}]}"#).map(|g| g.len()), Ok(2));
        assert_eq!(expand_json(r#"{"os": []}"#), Err(MatrixError::EmptyVector("os".to_owned())));
        let big = format!(r#"{{"a": {0}, "b": {0}, "c": [1, 2, 3]}}"#, serde_json::json!((0..10).collect::<Vec<_>>()));
        assert_eq!(expand_json(&big), Err(MatrixError::TooManyJobs(300)));
    }

    #[test]
    fn leg_names_list_values_in_order() {
        let v = Value::from_json(r#"{"os": "linux", "node": 18}"#).unwrap_or(Value::Null);
        let o = v.as_object().cloned().unwrap_or_default();
        assert_eq!(leg_name("test", &o), "test (linux, 18)");
    }
}
