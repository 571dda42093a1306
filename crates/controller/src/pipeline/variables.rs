//! The variables a pipeline task sees: the run's params and context, the
//! results and states of the tasks before it; `when` on them, their
//! substitution into params, and the Pipeline's own results (capped).

use std::collections::{BTreeMap, BTreeSet};

use minitask_api::{
    Param, ParamValue, PipelineSpec, PipelineTask, TaskRun, TaskRunResult, TaskState, WhenOperator, cel,
};

use crate::pipeline::refs::{Ref, refs, texts};
use crate::pipeline::view::{STOPPED, Stop, View};
use crate::pod::substitute::{Field, Scope, Vars, Whole};

/// A task that uses a result that does not exist is skipped: its input
/// is missing (the task that should have written it was skipped, or did
/// not write it).
pub(crate) fn missing_input(task: &PipelineTask, vars: &Vars) -> Option<View> {
    for text in texts(task) {
        for reference in refs(text) {
            if let Ref::Result { task: source, result } = reference
                && !vars.values.contains_key(&format!("tasks.{source}.results.{result}"))
            {
                let why = match vars.values.get(&format!("tasks.{source}.status")) {
                    Some(ParamValue::String(s)) if s == "Skipped" || s == "None" => {
                        format!("task {source:?} was skipped")
                    }
                    Some(ParamValue::String(s)) if s == "Failed" => {
                        format!("task {source:?} failed without writing it")
                    }
                    _ => format!("task {source:?} did not write it"),
                };
                return Some(View::skipped(
                    "ResultMissing",
                    format!("it uses $(tasks.{source}.results.{result}), which does not exist: {why}"),
                ));
            }
        }
    }
    None
}

/// Why `task`'s `when` skips it, with the values it was judged on
/// (`"dev" notin [main] ($(params.branch))`, not only the Pipeline's
/// text); None when every condition holds, or when a reference could not
/// be filled (`problems` says which). The first condition that is false
/// decides: those after it are shown, not judged.
pub(crate) fn when_skips(task: &PipelineTask, vars: &Vars, what: &str, problems: &mut Vec<String>) -> Option<View> {
    let mut judged = Vec::new();
    let mut holds = true;
    let mut scratch = Vec::new();
    for w in &task.when {
        // Past a false condition, problems no longer count.
        let problems = if holds { &mut *problems } else { &mut scratch };
        let Some(cel) = &w.cel else {
            let input = vars.string(&w.input, Field::Raw, what, problems);
            let values = vars.list_in(&w.values, Field::Raw, what, problems);
            let found = values.contains(&input);
            let written = match input == w.input {
                true => String::new(),
                false => format!(" ({})", w.input),
            };
            let (operator, true_when) = match w.operator {
                Some(WhenOperator::NotIn) => ("notin", !found),
                _ => ("in", found),
            };
            holds &= true_when;
            judged.push(format!("{input:?}{written} {operator} [{}]", values.join(", ")));
            continue;
        };
        if !holds {
            judged.push(cel.clone());
            continue;
        }
        match cel_holds(cel, vars, what, problems) {
            Ok(Some((true, shown))) => judged.push(shown),
            Ok(Some((false, shown))) => {
                holds = false;
                judged.push(format!("{shown} is false"));
            }
            Ok(None) => return None,
            Err(why) => return Some(View::skipped("WhenError", why)),
        }
    }
    (!holds && problems.is_empty())
        .then(|| View::skipped("WhenFalse", format!("its when is false: {}", judged.join(" and "))))
}

/// A CEL `when` judged, with the values it read (`cel (with $(params.b)
/// = "main")`); None when a reference could not be filled (`problems`
/// says which); Err why it cannot be judged.
fn cel_holds(cel: &str, vars: &Vars, what: &str, problems: &mut Vec<String>) -> Result<Option<(bool, String)>, String> {
    let when = cel::compile_when(cel).map_err(|e| format!("its when expression {cel:?} does not parse: {e}"))?;
    let before = problems.len();
    let values: Vec<serde_json::Value> = when
        .references
        .iter()
        .map(|(reference, quoted)| {
            if *quoted {
                return serde_json::Value::String(vars.string(reference, Field::Raw, what, problems));
            }
            match vars.whole_array(reference, what, problems) {
                Whole::Items(items) => serde_json::json!(items),
                Whole::No => cel::typed(&vars.string(reference, Field::Raw, what, problems)),
                Whole::Problem => serde_json::Value::Null,
            }
        })
        .collect();
    if problems.len() > before {
        return Ok(None);
    }
    let filled: Vec<String> = when
        .references
        .iter()
        .zip(&values)
        .map(|((r, _), v)| format!("{r} = {v}"))
        .collect();
    let shown = match filled.is_empty() {
        true => cel.to_string(),
        false => format!("{cel} (with {})", filled.join(", ")),
    };
    match when.eval(&values) {
        Ok(verdict) => Ok(Some((verdict, shown))),
        Err(e) => Err(format!("its when expression could not be evaluated: {e}: {shown}")),
    }
}

/// `params` with every reference replaced; a value that is exactly
/// `$(<array>[*])` becomes the array.
pub(crate) fn substitute(params: &[Param], vars: &Vars, what: &str, problems: &mut Vec<String>) -> Vec<Param> {
    params
        .iter()
        .map(|p| {
            let what = format!("{what} param {:?}", p.name);
            let value = match &p.value {
                ParamValue::String(s) => match vars.whole_array(s, &what, problems) {
                    Whole::Items(items) => ParamValue::Array(items.clone()),
                    Whole::Problem => ParamValue::String(s.clone()),
                    Whole::No => ParamValue::String(vars.string(s, Field::Raw, &what, problems)),
                },
                ParamValue::Array(items) => ParamValue::Array(vars.list_in(items, Field::Raw, &what, problems)),
                other => other.clone(),
            };
            Param {
                name: p.name.clone(),
                value,
            }
        })
        .collect()
}

/// The results of a task's TaskRuns: each TaskRun reports them when it
/// ends (also a failed one, when it could). A matrix's are lists, in the
/// order of its combinations, present only when every TaskRun wrote it.
pub(crate) fn results(children: &[&TaskRun], matrix: bool) -> BTreeMap<String, ParamValue> {
    let of = |c: &TaskRun| -> Vec<TaskRunResult> { c.status.as_ref().map(|s| s.results.clone()).unwrap_or_default() };
    if !matrix {
        return children
            .first()
            .map(|c| {
                of(c)
                    .into_iter()
                    .map(|r| (r.name, ParamValue::String(r.value)))
                    .collect()
            })
            .unwrap_or_default();
    }
    let names: BTreeSet<String> = children.iter().flat_map(|c| of(c)).map(|r| r.name).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let values: Option<Vec<String>> = children
                .iter()
                .map(|c| of(c).into_iter().find(|r| r.name == name).map(|r| r.value))
                .collect();
            Some((name, ParamValue::Array(values?)))
        })
        .collect()
}

/// `base` with the results and states of the tasks so far; for finally
/// tasks (`stop` given) also `$(tasks.<t>.status)` and `$(tasks.status)`.
pub(crate) fn with_results(base: &Vars, spec: &PipelineSpec, views: &[View], stop: Option<Option<Stop>>) -> Vars {
    let mut vars = base.clone();
    for (task, view) in spec.tasks.iter().zip(views) {
        add_task(&mut vars, task, view);
    }
    if let Some(stop) = stop {
        let all = match (stop, views.iter().any(|v| v.state == TaskState::Failed)) {
            (_, true) | (Some(Stop::Failed | Stop::TimedOut), _) => "Failed",
            (Some(Stop::Cancelled), false) => "Cancelled",
            (None, false) => "Succeeded",
        };
        vars.values
            .insert("tasks.status".into(), ParamValue::String(all.into()));
    }
    vars
}

/// `$(tasks.<task>.results.<name>)` and `$(tasks.<task>.status)` of `task`.
pub(crate) fn add_task(vars: &mut Vars, task: &PipelineTask, view: &View) {
    for (name, value) in &view.results {
        vars.values
            .insert(format!("tasks.{}.results.{name}", task.name), value.clone());
    }
    let state = match (view.state, view.reason.as_deref()) {
        (TaskState::Skipped, Some(STOPPED)) => "None",
        (state, _) => state.as_str(),
    };
    vars.values
        .insert(format!("tasks.{}.status", task.name), ParamValue::String(state.into()));
}

/// The Pipeline's results, from its tasks' results; one whose references
/// do not all exist is left out.
pub(crate) fn pipeline_results(spec: &PipelineSpec, views: &[View], finals: &[View]) -> Vec<TaskRunResult> {
    let mut vars = Vars::new(Scope::Pipeline);
    for (task, view) in spec.all_tasks().zip(views.iter().chain(finals)) {
        for (name, value) in &view.results {
            let text = match value {
                ParamValue::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            vars.values
                .insert(format!("tasks.{}.results.{name}", task.name), ParamValue::String(text));
        }
    }
    spec.results
        .iter()
        .filter_map(|r| {
            let mut problems = Vec::new();
            let value = vars.string(&r.value, Field::Raw, "result", &mut problems);
            problems.is_empty().then(|| TaskRunResult {
                name: r.name.clone(),
                value,
            })
        })
        .collect()
}

/// The most bytes of task results a PipelineRun's status keeps, all tasks
/// together (a TaskRun reports at most 8 KiB; a matrix task many times
/// that). A task whose results would go over is recorded without them.
pub const MAX_KEPT_RESULTS: usize = 256 * 1024;

/// The most bytes a Pipeline's results may hold together.
pub const MAX_PIPELINE_RESULTS: usize = 128 * 1024;

pub(crate) fn value_size(value: &ParamValue) -> usize {
    match value {
        ParamValue::String(s) => s.len(),
        ParamValue::Array(items) => items.iter().map(String::len).sum(),
        ParamValue::Other(other) => other.to_string().len(),
    }
}

/// Why `results` cannot be kept, if they are over `MAX_PIPELINE_RESULTS`.
pub(crate) fn results_too_large(results: &[TaskRunResult]) -> Option<String> {
    let total: usize = results.iter().map(|r| r.value.len()).sum();
    if total <= MAX_PIPELINE_RESULTS {
        return None;
    }
    let largest = results.iter().max_by_key(|r| r.value.len())?;
    Some(format!(
        "the Pipeline's results hold {total} bytes together, more than the {} KiB a PipelineRun keeps (result {:?} alone is {} bytes); make them smaller, or pass a reference (a path or a digest) instead of the data",
        MAX_PIPELINE_RESULTS / 1024,
        largest.name,
        largest.value.len()
    ))
}
