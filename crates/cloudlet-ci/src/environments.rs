//! Deployment environments' protection rules, from
//! `.cloudlet/environments.yml` at the repository root.
//!
//! GitHub keeps these rules in the repository's settings; cloudlet keeps
//! them in a file beside the workflows:
//!
//! ```yaml
//! production:
//!   approval: required      # a reviewer must approve (`cloudlet ci approve`)
//!   wait-timer: 5           # minutes to wait before the job starts (0..=43200)
//!   branches: [main, 'release/*']   # refs allowed to deploy
//! ```
//!
//! Parsing and the decisions (may this ref deploy? what must the job wait
//! for?) are pure; reading the file is the caller's.

use crate::yaml::{Node, Pos};

/// The path of the rules file, relative to the repository root.
pub const FILE: &str = ".cloudlet/environments.yml";

/// The longest wait timer GitHub allows: 30 days, in minutes.
pub const MAX_WAIT_TIMER_MINUTES: u64 = 43_200;

/// One environment's protection rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvironmentRules {
    pub name: String,
    /// A reviewer must approve each run's deployment to it.
    pub approval: bool,
    pub wait_timer_minutes: u64,
    /// Deployment branch policy: `None` lets every ref deploy.
    pub branches: Option<Vec<String>>,
}

/// Every environment with rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environments {
    pub environments: Vec<EnvironmentRules>,
}

/// A rules file that does not say what it means: `file:line:col: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{}:{}: {message}", pos.line, pos.col)]
pub struct EnvironmentsError {
    pub file: String,
    pub pos: Pos,
    pub message: String,
}

/// What a job deploying to an environment must get past before it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// No rules stand in the way.
    Open,
    /// The ref may not deploy here: the job fails with GitHub's message.
    BranchNotAllowed(String),
    /// Wait for an approval and/or a timer.
    Wait { approval: bool, wait_timer_minutes: u64 },
}

impl Environments {
    /// Environment names compare ignoring case, as on GitHub.
    pub fn get(&self, name: &str) -> Option<&EnvironmentRules> {
        self.environments.iter().find(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// The gate for a job of a run on `git_ref` deploying to `name`.
    pub fn gate(&self, name: &str, git_ref: &str) -> Gate {
        let Some(rules) = self.get(name) else { return Gate::Open };
        if let Some(patterns) = &rules.branches {
            let branch = git_ref.strip_prefix("refs/heads/");
            let allowed = branch.is_some_and(|b| patterns.iter().any(|p| crate::filters::pattern_matches(p, b)));
            if !allowed {
                let shown = branch.unwrap_or(git_ref);
                return Gate::BranchNotAllowed(format!(
                    "Branch \"{shown}\" is not allowed to deploy to {} due to environment protection rules.",
                    rules.name
                ));
            }
        }
        if rules.approval || rules.wait_timer_minutes > 0 {
            Gate::Wait { approval: rules.approval, wait_timer_minutes: rules.wait_timer_minutes }
        } else {
            Gate::Open
        }
    }
}

/// Parses the rules file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Environments, EnvironmentsError> {
    let err = |pos: Pos, message: String| EnvironmentsError { file: file.to_owned(), pos, message };
    let root = match crate::yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Ok(Environments::default()),
        Err(e) => return Err(err(e.pos, e.message)),
    };
    let Some(map) = root.as_map() else {
        return Err(err(
            root.pos,
            format!("expected a mapping of environment names to rules, found {}", root.describe()),
        ));
    };
    let mut out = Environments::default();
    for (key, value) in map {
        let Some(name) = key.as_str().filter(|n| !n.trim().is_empty()) else {
            return Err(err(key.pos, "an environment name must be a non-empty string".to_owned()));
        };
        if out.get(name).is_some() {
            return Err(err(key.pos, format!("environment '{name}' is defined twice (names ignore case)")));
        }
        let mut rules = EnvironmentRules { name: name.to_owned(), ..EnvironmentRules::default() };
        if !value.is_null() {
            let Some(fields) = value.as_map() else {
                return Err(err(
                    value.pos,
                    format!("environment '{name}': expected a mapping of rules, found {}", value.describe()),
                ));
            };
            for (k, v) in fields {
                match k.as_str().unwrap_or_default() {
                    "approval" => {
                        rules.approval = match v.as_str() {
                            Some("required") => true,
                            Some("none") => false,
                            _ => {
                                return Err(err(
                                    v.pos,
                                    format!("{name}.approval: expected `required` or `none`, found {}", shown(v)),
                                ));
                            }
                        }
                    }
                    "wait-timer" => {
                        let minutes =
                            v.as_str().and_then(|s| s.parse::<u64>().ok()).filter(|m| *m <= MAX_WAIT_TIMER_MINUTES);
                        rules.wait_timer_minutes = minutes.ok_or_else(|| {
                            err(v.pos, format!("{name}.wait-timer: expected whole minutes from 0 to {MAX_WAIT_TIMER_MINUTES}, found {}", shown(v)))
                        })?;
                    }
                    "branches" => {
                        let items: Vec<&Node> = match (v.as_seq(), v.as_str()) {
                            (Some(seq), _) => seq.iter().collect(),
                            (None, Some(_)) => vec![v],
                            _ => {
                                return Err(err(
                                    v.pos,
                                    format!(
                                        "{name}.branches: expected a list of branch name patterns, found {}",
                                        v.describe()
                                    ),
                                ));
                            }
                        };
                        let mut patterns = Vec::new();
                        for item in items {
                            match item.as_str().filter(|s| !s.is_empty()) {
                                Some(p) => patterns.push(p.to_owned()),
                                None => {
                                    return Err(err(
                                        item.pos,
                                        format!(
                                            "{name}.branches: expected a branch name pattern, found {}",
                                            shown(item)
                                        ),
                                    ));
                                }
                            }
                        }
                        rules.branches = Some(patterns);
                    }
                    other => {
                        return Err(err(
                            k.pos,
                            format!(
                                "{name}: unknown rule '{other}'; hint: the rules are `approval`, `wait-timer` and `branches`"
                            ),
                        ));
                    }
                }
            }
        }
        out.environments.push(rules);
    }
    Ok(out)
}

fn shown(n: &Node) -> String {
    match n.as_str() {
        Some(s) => format!("'{s}'"),
        None => n.describe().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Environments {
        parse(FILE, text).expect("valid rules")
    }

    #[test]
    fn rules_parse_with_every_field() {
        let envs =
            rules("production:\n  approval: required\n  wait-timer: 5\n  branches: [main, 'release/*']\nstaging: {}\n");
        let p = envs.get("PRODUCTION").expect("case-insensitive lookup");
        assert!(p.approval);
        assert_eq!(p.wait_timer_minutes, 5);
        assert_eq!(p.branches.as_deref(), Some(&["main".to_owned(), "release/*".to_owned()][..]));
        assert_eq!(envs.gate("staging", "refs/heads/x"), Gate::Open);
        assert_eq!(envs.gate("unknown", "refs/heads/x"), Gate::Open);
    }

    #[test]
    fn gates_follow_the_branch_policy_then_approval_and_timer() {
        let envs = rules("production: {approval: required, branches: ['release/*', main]}\nqa: {wait-timer: 2}\n");
        assert_eq!(envs.gate("production", "refs/heads/main"), Gate::Wait { approval: true, wait_timer_minutes: 0 });
        assert_eq!(
            envs.gate("production", "refs/heads/release/1.2"),
            Gate::Wait { approval: true, wait_timer_minutes: 0 }
        );
        assert_eq!(
            envs.gate("production", "refs/heads/release/1/2"),
            Gate::BranchNotAllowed(
                "Branch \"release/1/2\" is not allowed to deploy to production due to environment protection rules."
                    .to_owned()
            )
        );
        assert!(matches!(envs.gate("production", "refs/tags/v1"), Gate::BranchNotAllowed(_)));
        assert_eq!(envs.gate("qa", "refs/heads/x"), Gate::Wait { approval: false, wait_timer_minutes: 2 });
    }

    #[test]
    fn bad_rules_name_file_line_and_column() {
        let e = parse(FILE, "production:\n  approval: maybe\n").expect_err("bad approval");
        assert_eq!(
            e.to_string(),
            ".cloudlet/environments.yml:2:13: production.approval: expected `required` or `none`, found 'maybe'"
        );
        let e = parse(FILE, "production:\n  aproval: required\n").expect_err("unknown key");
        assert!(e.to_string().starts_with(".cloudlet/environments.yml:2:3: production: unknown rule 'aproval'"), "{e}");
        let e = parse(FILE, "qa:\n  wait-timer: 50000\n").expect_err("too long");
        assert!(e.to_string().starts_with(".cloudlet/environments.yml:2:15: qa.wait-timer"), "{e}");
        let e = parse(FILE, "- production\n").expect_err("not a map");
        assert!(e.to_string().starts_with(".cloudlet/environments.yml:1:1: expected a mapping"), "{e}");
        assert_eq!(rules(""), Environments::default());
    }
}
