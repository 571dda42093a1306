//! References a Task's steps make to params, results and workspaces it does
//! not declare. The API server cannot check them (a CEL rule that scans
//! scripts of any useful length is over its cost budget), so `kubectl task
//! start` checks them before creating a run, and the controller fails a run
//! that has one, with a reason that names the kind of reference.

use crate::{Step, TaskSpec};

/// `step "a" script: $(params.y) names no param of the Task`, for each
/// undeclared reference, in step order.
pub fn undeclared(task: &TaskSpec) -> Vec<String> {
    let kinds: [(&str, &str, Vec<&str>); 3] = [
        ("params", "param", task.params.iter().map(|p| p.name.as_str()).collect()),
        (
            "results",
            "result",
            task.results.iter().map(|r| r.name.as_str()).collect(),
        ),
        (
            "workspaces",
            "workspace",
            task.workspaces.iter().map(|w| w.name.as_str()).collect(),
        ),
    ];
    let mut problems = Vec::new();
    for step in &task.steps {
        for (field, text) in fields(step) {
            for (kind, noun, known) in &kinds {
                for name in names(text, kind) {
                    if !known.contains(&name) {
                        problems.push(format!(
                            "step {:?} {field}: $({kind}.{name}) names no {noun} of the Task",
                            step.name
                        ));
                    }
                }
            }
        }
    }
    problems.dedup();
    problems
}

/// Each text field of a step where references are replaced.
fn fields(step: &Step) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    for (field, text) in [
        ("script", &step.script),
        ("image", &step.image),
        ("workingDir", &step.working_dir),
    ] {
        if let Some(text) = text {
            out.push((field, text.as_str()));
        }
    }
    for (field, items) in [("command", &step.command), ("args", &step.args)] {
        out.extend(items.iter().flatten().map(|item| (field, item.as_str())));
    }
    out.extend(
        step.env
            .iter()
            .flatten()
            .filter_map(|e| Some(("env", e.value.as_deref()?))),
    );
    out
}

/// The names in `$(<kind>.NAME` references of `text`.
fn names<'a>(text: &'a str, kind: &str) -> Vec<&'a str> {
    let opening = format!("$({kind}.");
    text.match_indices(&opening)
        .map(|(at, _)| {
            let rest = &text[at + opening.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParamSpec, ParamType, ResultSpec};

    #[test]
    fn undeclared_references_are_named_with_their_kind() {
        let task = TaskSpec {
            params: vec![ParamSpec {
                name: "who".into(),
                type_: ParamType::String,
                description: None,
                default: None,
            }],
            results: vec![ResultSpec {
                name: "digest".into(),
                description: None,
            }],
            steps: vec![Step {
                name: "a".into(),
                script: Some("echo $(params.who) $(params.whom) > $(results.digest.path) $(results.dgst.path) $(workspaces.src.path) $(params.who[0]) $(date)".into()),
                args: Some(vec!["$(params.nope[*])".into()]),
                ..Step::default()
            }],
            ..TaskSpec::default()
        };
        assert_eq!(
            undeclared(&task),
            [
                "step \"a\" script: $(params.whom) names no param of the Task",
                "step \"a\" script: $(results.dgst) names no result of the Task",
                "step \"a\" script: $(workspaces.src) names no workspace of the Task",
                "step \"a\" args: $(params.nope) names no param of the Task",
            ]
        );
    }
}
