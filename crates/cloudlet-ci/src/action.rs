//! Local actions (`uses: ./path`): `action.yml` read with positions and
//! validated — inputs, outputs, and `runs` for composite actions (steps,
//! each `run` with its `shell`) or JavaScript actions (`main`, `post`,
//! `post-if`). Pure: the runner reads the file and runs what this returns.

use std::path::{Path, PathBuf};

use crate::workflow::{Diagnostic, Step, Str, WorkflowError, read_composite_steps};
use crate::yaml::{self, Node, NodeKind, Pos};

#[derive(Clone, Debug)]
pub struct ActionInput {
    pub name: String,
    pub default: Option<String>,
    pub required: bool,
}

#[derive(Clone, Debug)]
pub enum ActionRuns {
    Composite(Vec<Step>),
    /// A JavaScript action: `node main`, and `post` at the end of the job.
    Node {
        main: String,
        post: Option<String>,
        post_if: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct ActionDef {
    pub name: String,
    pub dir: PathBuf,
    pub inputs: Vec<ActionInput>,
    /// Output names and their `value` expressions (composite actions).
    pub outputs: Vec<(String, Option<Str>)>,
    pub runs: ActionRuns,
}

/// Reads `action.yml` (or `action.yaml`) in `dir`; `display` names the
/// directory in messages.
pub fn load_action(dir: &Path, display: &str) -> Result<ActionDef, String> {
    let (path, text) = ["action.yml", "action.yaml"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok().map(|t| (format!("{display}/{f}"), t)))
        .ok_or_else(|| format!("Can't find 'action.yml' or 'action.yaml' under '{}'", dir.display()))?;
    parse_action(&path, &text, dir).map_err(|e| e.to_string())
}

/// Parses and validates an action's metadata.
pub fn parse_action(file: &str, text: &str, dir: &Path) -> Result<ActionDef, WorkflowError> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut err = |pos: Pos, message: String| diags.push(Diagnostic { pos, message });
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(WorkflowError {
                file: file.to_owned(),
                diagnostics: vec![Diagnostic {
                    pos: Pos { line: 1, col: 1 },
                    message: "Required property is missing: runs".to_owned(),
                }],
            });
        }
        Err(e) => {
            return Err(WorkflowError {
                file: file.to_owned(),
                diagnostics: vec![Diagnostic { pos: e.pos, message: e.message }],
            });
        }
    };
    let mut def = ActionDef {
        name: String::new(),
        dir: dir.to_path_buf(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        runs: ActionRuns::Composite(Vec::new()),
    };
    let Some(pairs) = root.as_map() else {
        err(root.pos, "A mapping was expected".to_owned());
        return Err(WorkflowError { file: file.to_owned(), diagnostics: diags });
    };
    let mut runs_node = None;
    for (k, v) in pairs {
        let key = k.as_str().unwrap_or_default();
        match key {
            "name" => def.name = v.as_str().unwrap_or_default().to_owned(),
            "description" | "author" | "branding" => {}
            "inputs" => {
                for (ik, iv) in v.as_map().unwrap_or_default() {
                    let mut input = ActionInput {
                        name: ik.as_str().unwrap_or_default().to_owned(),
                        default: None,
                        required: false,
                    };
                    for (pk, pv) in iv.as_map().unwrap_or_default() {
                        match pk.as_str().unwrap_or_default() {
                            "default" => input.default = pv.as_str().map(str::to_owned),
                            "required" => input.required = pv.as_str() == Some("true"),
                            "description" | "deprecationMessage" => {}
                            other => err(pk.pos, format!("Unexpected value '{other}'")),
                        }
                    }
                    def.inputs.push(input);
                }
            }
            "outputs" => {
                for (ok, ov) in v.as_map().unwrap_or_default() {
                    let mut value = None;
                    for (pk, pv) in ov.as_map().unwrap_or_default() {
                        match pk.as_str().unwrap_or_default() {
                            "value" => value = pv.as_str().map(|s| Str { value: s.to_owned(), pos: pv.pos }),
                            "description" => {}
                            other => err(pk.pos, format!("Unexpected value '{other}'")),
                        }
                    }
                    def.outputs.push((ok.as_str().unwrap_or_default().to_owned(), value));
                }
            }
            "runs" => runs_node = Some(v),
            other => err(k.pos, format!("Unexpected value '{other}'")),
        }
    }
    match runs_node {
        None => err(root.pos, "Required property is missing: runs".to_owned()),
        Some(runs) => {
            if let Some(r) = read_runs(runs, &mut diags) {
                def.runs = r;
            }
        }
    }
    if let ActionRuns::Composite(_) = def.runs {
        for (name, value) in &def.outputs {
            if value.is_none() {
                diags.push(Diagnostic {
                    pos: root.pos,
                    message: format!("Output '{name}' of a composite action needs a value"),
                });
            }
        }
    }
    if diags.is_empty() {
        Ok(def)
    } else {
        diags.sort_by_key(|d| d.pos);
        Err(WorkflowError { file: file.to_owned(), diagnostics: diags })
    }
}

fn read_runs(runs: &Node, diags: &mut Vec<Diagnostic>) -> Option<ActionRuns> {
    let get = |k: &str| runs.get(k);
    let Some(using) = get("using").and_then(Node::as_str) else {
        diags.push(Diagnostic { pos: runs.pos, message: "Required property is missing: using".to_owned() });
        return None;
    };
    match using {
        "composite" => match get("steps") {
            Some(steps @ Node { kind: NodeKind::Seq(_), .. }) => {
                let (steps, d) = read_composite_steps(steps);
                diags.extend(d);
                Some(ActionRuns::Composite(steps))
            }
            _ => {
                diags.push(Diagnostic { pos: runs.pos, message: "Required property is missing: steps".to_owned() });
                None
            }
        },
        u if u.starts_with("node") => {
            let Some(main) = get("main").and_then(Node::as_str) else {
                diags.push(Diagnostic { pos: runs.pos, message: "Required property is missing: main".to_owned() });
                return None;
            };
            Some(ActionRuns::Node {
                main: main.to_owned(),
                post: get("post").and_then(Node::as_str).map(str::to_owned),
                post_if: get("post-if").and_then(Node::as_str).map(str::to_owned),
            })
        }
        "docker" => {
            diags.push(Diagnostic {
                pos: runs.pos,
                message: "a Docker action needs a container runtime; cloudlet ci runs actions on the host".to_owned(),
            });
            None
        }
        other => {
            diags.push(Diagnostic { pos: runs.pos, message: format!("Unexpected value '{other}'") });
            None
        }
    }
}

/// The environment variable a JavaScript action reads an input from:
/// `INPUT_` and the name upper-cased with spaces as `_`.
pub fn input_env_name(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_actions_need_a_shell_on_run_steps() {
        let text = "name: x\ninputs:\n  who: {default: world}\noutputs:\n  o: {value: '${{ steps.a.outputs.v }}'}\nruns:\n  using: composite\n  steps:\n    - id: a\n      run: echo hi\n";
        let e = parse_action("a/action.yml", text, Path::new("a")).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("a/action.yml:9:7: Required property is missing: shell"));
        let ok = parse_action(
            "a/action.yml",
            &text.replace("run: echo hi", "run: echo hi\n      shell: bash"),
            Path::new("a"),
        );
        assert!(matches!(ok.map(|d| d.runs), Ok(ActionRuns::Composite(s)) if s.len() == 1));
    }

    #[test]
    fn javascript_actions_and_input_names() {
        let d =
            parse_action("j/action.yml", "runs:\n  using: node20\n  main: index.js\n  post: post.js\n", Path::new("j"));
        assert!(
            matches!(d.map(|d| d.runs), Ok(ActionRuns::Node { main, post: Some(p), .. }) if main == "index.js" && p == "post.js")
        );
        assert_eq!(input_env_name("my input"), "INPUT_MY_INPUT");
        let docker = parse_action("d/action.yml", "runs:\n  using: docker\n  image: x\n", Path::new("d")).err();
        assert!(docker.is_some_and(|e| e.to_string().contains("needs a container runtime")));
    }
}
