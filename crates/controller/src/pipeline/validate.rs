//! Checking a Pipeline where admission cannot: cycles, references to tasks,
//! results, params and workspaces that do not exist, `$(tasks...status)`
//! outside finally, matrices, `when` CEL that does not parse. Linear in tasks + references (Tekton's
//! webhook timed out on large pipelines, tektoncd/pipeline#5420). The
//! controller records the outcome in the Pipeline's `Valid` condition, and
//! a run of an invalid Pipeline fails at start (InvalidPipeline).

use std::collections::{HashMap, HashSet};

use minitask_api::{ParamValue, PipelineSpec, PipelineTask, cel};

use crate::pipeline::graph::graph;
use crate::pipeline::refs::{Ref, refs, texts};

/// The results each task's Task declares, when it is known (an inline
/// Task, or a named one the cache holds); None: not known, not checked.
pub type DeclaredResults<'a> = &'a dyn Fn(&PipelineTask) -> Option<Vec<String>>;

/// Every problem with `spec`; empty when it is sound.
/// The most params a TaskRun takes (its schema's bound).
pub const MAX_TASKRUN_PARAMS: usize = 50;

pub fn validate(spec: &PipelineSpec, declared: DeclaredResults) -> Vec<String> {
    let mut problems = graph(spec).err().unwrap_or_default();
    let tasks: HashMap<&str, &PipelineTask> = spec.tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let finally: HashSet<&str> = spec.finally.iter().map(|t| t.name.as_str()).collect();
    let params: HashSet<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
    let workspaces: HashSet<&str> = spec.workspaces.iter().map(|w| w.name.as_str()).collect();
    let mut results: HashMap<&str, Option<Vec<String>>> = HashMap::new();
    let mut declared_by = |name: &str| -> Option<Vec<String>> {
        results
            .entry(tasks.get(name).map_or("", |t| t.name.as_str()))
            .or_insert_with(|| tasks.get(name).and_then(|t| declared(t)))
            .clone()
    };
    for task in spec.all_tasks() {
        let is_finally = finally.contains(task.name.as_str());
        let who = format!("task {:?}", task.name);
        for text in texts(task) {
            for reference in refs(text) {
                match reference {
                    Ref::Param(p) if !params.contains(p) => {
                        problems.push(format!("{who}: $(params.{p}) refers to a param the Pipeline does not declare"))
                    }
                    Ref::Result { task: source, result } => {
                        // A task's unknown sources are the graph's to name.
                        if !tasks.contains_key(source) {
                            if is_finally && finally.contains(source) {
                                problems.push(format!("{who}: $(tasks.{source}.results.{result}): finally tasks cannot use each other's results"));
                            } else if is_finally {
                                problems.push(format!("{who}: $(tasks.{source}.results.{result}) refers to task {source:?}, which the Pipeline does not have"));
                            }
                        } else if let Some(names) = declared_by(source)
                            && !names.iter().any(|n| n == result)
                        {
                            problems.push(format!(
                                "{who}: $(tasks.{source}.results.{result}): task {source:?} declares no result {result:?}{}",
                                match names.is_empty() {
                                    true => String::new(),
                                    false => format!(" (it has {})", names.join(", ")),
                                }
                            ));
                        }
                    }
                    Ref::Status(_) | Ref::AllStatus if !is_finally => problems.push(format!(
                        "{who}: $(tasks...status) can only be used in finally tasks, which run when the others have ended"
                    )),
                    Ref::Status(source) if !tasks.contains_key(source) => problems.push(format!(
                        "{who}: $(tasks.{source}.status) refers to task {source:?}, which the Pipeline does not have (or is a finally task)"
                    )),
                    Ref::BadTasks(inner) => problems.push(format!(
                        "{who}: $({inner}) is not a reference: use $(tasks.<task>.results.<result>) or, in finally, $(tasks.<task>.status)"
                    )),
                    _ => {}
                }
            }
        }
        for binding in &task.workspaces {
            if !workspaces.contains(binding.workspace.as_str()) {
                problems.push(format!(
                    "{who}: workspace {:?} binds the Pipeline's workspace {:?}, which the Pipeline does not declare",
                    binding.name, binding.workspace
                ));
            }
        }
        for (i, when) in task.when.iter().enumerate() {
            match &when.cel {
                Some(cel) => {
                    if let Err(e) = cel::compile_when(cel) {
                        problems.push(format!("{who}: when[{i}].cel {cel:?} is not CEL: {e}"));
                    }
                }
                // Admission refuses it; an older object may still hold it.
                None if when.operator.is_none() => {
                    problems.push(format!("{who}: when[{i}] needs cel, or operator and values"))
                }
                None => {}
            }
        }
        if let Some(matrix) = &task.matrix {
            let count = task.params.len() + matrix.params.len();
            if count > MAX_TASKRUN_PARAMS {
                problems.push(format!(
                    "{who}: its params and matrix params are {count} together, more than the {MAX_TASKRUN_PARAMS} a TaskRun takes"
                ));
            }
            for param in &matrix.params {
                if task.params.iter().any(|p| p.name == param.name) {
                    problems.push(format!(
                        "{who}: param {:?} is set both in params and in matrix",
                        param.name
                    ));
                }
                let is_list = match &param.value {
                    ParamValue::Array(_) => true,
                    ParamValue::String(s) => s.starts_with("$(") && s.ends_with("[*])"),
                    ParamValue::Other(_) => false,
                };
                if !is_list {
                    problems.push(format!(
                        "{who}: matrix param {:?} must be a list of values (or a whole array, \"$(params.<name>[*])\")",
                        param.name
                    ));
                }
            }
        }
    }
    // A matrix task `t` makes TaskRuns `<run>-t-0`, `<run>-t-1`...: a task
    // named `t-1` would want the same name.
    for task in spec.all_tasks() {
        let clash = spec.all_tasks().filter(|m| m.matrix.is_some()).find(|m| {
            let index = task.name.strip_prefix(&format!("{}-", m.name));
            index.is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
        });
        if let Some(matrix) = clash {
            problems.push(format!(
                "task {:?}: its TaskRun's name would be that of one of matrix task {:?}'s; rename it",
                task.name, matrix.name
            ));
        }
    }
    for result in &spec.results {
        for reference in refs(&result.value) {
            match reference {
                Ref::Result { task, .. } if !tasks.contains_key(task) && !finally.contains(task) => {
                    problems.push(format!(
                        "result {:?}: $(tasks.{task}...) refers to task {task:?}, which the Pipeline does not have",
                        result.name
                    ))
                }
                Ref::Result { .. } | Ref::Other => {}
                _ => problems.push(format!(
                    "result {:?}: its value may only use $(tasks.<task>.results.<result>)",
                    result.name
                )),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> PipelineSpec {
        serde_json::from_value(value).unwrap()
    }

    fn no_results(_: &PipelineTask) -> Option<Vec<String>> {
        None
    }

    #[test]
    fn a_sound_pipeline_has_no_problems() {
        let s = spec(json!({
            "params": [{"name": "repo"}],
            "workspaces": [{"name": "src"}],
            "results": [{"name": "digest", "value": "$(tasks.build.results.digest)"}],
            "tasks": [
                {"name": "fetch", "taskRef": {"name": "git"}, "params": [{"name": "url", "value": "$(params.repo)"}], "workspaces": [{"name": "out", "workspace": "src"}]},
                {"name": "build", "taskRef": {"name": "b"}, "params": [{"name": "c", "value": "$(tasks.fetch.results.commit)"}], "when": [{"input": "$(params.repo)", "operator": "notin", "values": [""]}]},
                {"name": "fan", "taskRef": {"name": "t"}, "matrix": {"params": [{"name": "os", "value": ["linux", "mac"]}]}},
            ],
            "finally": [{"name": "report", "taskRef": {"name": "r"}, "params": [{"name": "s", "value": "$(tasks.status) $(tasks.build.status) $(tasks.build.results.digest)"}]}],
        }));
        let declared = |t: &PipelineTask| -> Option<Vec<String>> {
            match t.name.as_str() {
                "fetch" => Some(vec!["commit".into()]),
                "build" => Some(vec!["digest".into()]),
                _ => None,
            }
        };
        assert_eq!(validate(&s, &declared), Vec::<String>::new());
    }

    #[test]
    fn every_bad_reference_is_named() {
        let s = spec(json!({
            "tasks": [
                {"name": "a", "taskRef": {"name": "t"}, "params": [
                    {"name": "p", "value": "$(params.nope) $(tasks.ghost.results.r) $(tasks.b.results.missing) $(tasks.b.status) $(tasks.b.result)"},
                ], "workspaces": [{"name": "w", "workspace": "undeclared"}], "runAfter": ["b"]},
                {"name": "b", "taskRef": {"name": "t"}, "matrix": {"params": [{"name": "os", "value": "linux"}]}},
            ],
            "results": [{"name": "r", "value": "$(tasks.zzz.results.x) $(params.p)"}],
        }));
        let declared = |t: &PipelineTask| -> Option<Vec<String>> { (t.name == "b").then(|| vec!["out".into()]) };
        let got = validate(&s, &declared);
        let want = [
            "task \"a\" refers to task \"ghost\" (results), which the Pipeline does not have",
            "task \"a\": $(params.nope) refers to a param the Pipeline does not declare",
            "task \"a\": $(tasks.b.results.missing): task \"b\" declares no result \"missing\" (it has out)",
            "task \"a\": $(tasks...status) can only be used in finally tasks",
            "task \"a\": $(tasks.b.result) is not a reference",
            "task \"a\": workspace \"w\" binds the Pipeline's workspace \"undeclared\"",
            "task \"b\": matrix param \"os\" must be a list",
            "result \"r\": $(tasks.zzz...) refers to task \"zzz\"",
            "result \"r\": its value may only use",
        ];
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (got, want) in got.iter().zip(want) {
            assert!(got.starts_with(want), "{got:?} does not start with {want:?}");
        }
        assert!(
            validate(&s, &no_results).len() < want.len(),
            "unknown declarations are not checked"
        );
    }

    #[test]
    fn a_when_that_is_not_cel_is_named() {
        let s = spec(json!({"tasks": [
            {"name": "a", "taskRef": {"name": "t"}, "when": [{"cel": "'$(params.b)' =="}]},
            {"name": "b", "taskRef": {"name": "t"}, "when": [{"cel": "branch == 'main'"}, {"cel": "true"}]},
        ], "params": [{"name": "b"}]}));
        let got = validate(&s, &no_results);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].starts_with("task \"a\": when[0].cel \"'$(params.b)' ==\" is not CEL: "),
            "{}",
            got[0]
        );
        assert!(
            got[1].contains("when[0].cel \"branch == 'main'\" is not CEL: unknown name branch"),
            "{}",
            got[1]
        );
        let s =
            spec(json!({"tasks": [{"name": "a", "taskRef": {"name": "t"}, "when": [{"cel": "$(params.nope) > 1"}]}]}));
        assert_eq!(
            validate(&s, &no_results),
            ["task \"a\": $(params.nope) refers to a param the Pipeline does not declare"]
        );
    }

    /// Two tasks must never want one TaskRun, and a matrix task's TaskRuns
    /// must be able to take its params.
    #[test]
    fn names_that_would_share_a_taskrun_and_too_many_params_are_refused() {
        let list: Vec<String> = (0..30).map(|i| format!("p{i}")).collect();
        let params: Vec<serde_json::Value> = list.iter().map(|p| json!({"name": p, "value": "x"})).collect();
        let axes: Vec<serde_json::Value> = (0..21)
            .map(|i| json!({"name": format!("m{i}"), "value": ["a"]}))
            .collect();
        let s = spec(json!({"tasks": [
            {"name": "t", "taskRef": {"name": "t"}, "matrix": {"params": [{"name": "os", "value": ["a", "b"]}]}},
            {"name": "t-1", "taskRef": {"name": "t"}},
            {"name": "t-x", "taskRef": {"name": "t"}},
            {"name": "wide", "taskRef": {"name": "t"}, "params": params, "matrix": {"params": axes}},
        ]}));
        let got = validate(&s, &no_results);
        assert_eq!(
            got,
            [
                "task \"wide\": its params and matrix params are 51 together, more than the 50 a TaskRun takes",
                "task \"t-1\": its TaskRun's name would be that of one of matrix task \"t\"'s; rename it",
            ]
        );
    }
}

/// The status `pipeline` should show: its `Valid` condition (False naming
/// every problem) and its task count; None when it shows that already.
/// `missing` says why a task's named Task cannot be found, if it cannot
/// (a run would wait for it, so it is not checked when a run starts).
pub fn validity(
    pipeline: &minitask_api::Pipeline,
    declared: DeclaredResults,
    missing: &dyn Fn(&PipelineTask) -> Option<String>,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> Option<minitask_api::PipelineStatus> {
    use crate::shared::valid::{already_says, valid_condition};
    let mut problems: Vec<String> = (pipeline.spec.all_tasks())
        .filter_map(|t| Some(format!("task {:?}: {}", t.name, missing(t)?)))
        .collect();
    problems.extend(validate(&pipeline.spec, declared));
    let current = pipeline.status.clone().unwrap_or_default();
    let generation = pipeline.metadata.generation;
    let sound = "the graph and its references are sound";
    let condition = valid_condition(&problems, sound, &current.conditions, generation, now);
    let tasks = i32::try_from(pipeline.spec.tasks.len() + pipeline.spec.finally.len()).unwrap_or(i32::MAX);
    let same = already_says(&current.conditions, &condition)
        && current.tasks == Some(tasks)
        && current.observed_generation == generation;
    (!same).then(|| minitask_api::PipelineStatus {
        conditions: vec![condition],
        tasks: Some(tasks),
        observed_generation: generation,
    })
}

#[cfg(test)]
mod validity_tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    #[test]
    fn the_valid_condition_is_written_only_when_it_changes() {
        let now = Time(Timestamp::from_second(1_800_000_000).unwrap());
        let mut pipeline: minitask_api::Pipeline = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "Pipeline", "metadata": {"name": "ci", "generation": 1},
            "spec": {"tasks": [{"name": "a", "taskRef": {"name": "t"}, "runAfter": ["b"]}, {"name": "b", "taskRef": {"name": "t"}, "runAfter": ["a"]}]},
        }))
        .unwrap();
        let none = |_: &PipelineTask| None;
        let found = |_: &PipelineTask| None;
        let status = validity(&pipeline, &none, &found, &now).unwrap();
        assert_eq!(status.conditions[0].status, "False");
        assert!(status.conditions[0].message.contains("form a cycle"));
        assert_eq!(status.tasks, Some(2));
        pipeline.status = Some(status);
        assert_eq!(validity(&pipeline, &none, &found, &now), None, "nothing new to write");
        pipeline.spec.tasks[0].run_after.clear();
        pipeline.metadata.generation = Some(2);
        let fixed = validity(&pipeline, &none, &found, &now).unwrap();
        assert_eq!(fixed.conditions[0].status, "True");
    }

    #[test]
    fn a_task_whose_task_does_not_exist_makes_the_pipeline_invalid() {
        let now = Time(Timestamp::from_second(1_800_000_000).unwrap());
        let pipeline: minitask_api::Pipeline = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "Pipeline", "metadata": {"name": "ci", "generation": 1},
            "spec": {"tasks": [{"name": "a", "taskRef": {"name": "helo"}}, {"name": "b", "taskRef": {"name": "t"}}]},
        }))
        .unwrap();
        let none = |_: &PipelineTask| None;
        let missing = |t: &PipelineTask| {
            (t.task_ref.as_ref()?.name == "helo")
                .then(|| "Task \"helo\" does not exist (did you mean \"hello\"?)".to_string())
        };
        let status = validity(&pipeline, &none, &missing, &now).unwrap();
        assert_eq!(status.conditions[0].status, "False");
        assert_eq!(
            status.conditions[0].message,
            "task \"a\": Task \"helo\" does not exist (did you mean \"hello\"?)"
        );
    }
}
