//! From a Task and a run to the steps the pod runs: the step template
//! merged in and every `$(...)` reference substituted.

use std::collections::BTreeMap;

use kube::ResourceExt;
use minitask_api::{ParamValue, Step, TaskRun, TaskSpec};

use crate::pod::error::BuildError;
use crate::pod::results::result_path;
use crate::pod::substitute::{Field, Vars};
use crate::pod::template;
use crate::pod::workspaces::Workspace;

/// What `$(...)` references resolve to for this run.
pub fn vars(task: &TaskSpec, run: &TaskRun, values: &BTreeMap<String, ParamValue>, workspaces: &[Workspace]) -> Vars {
    let mut vars = Vars::default();
    let mut set = |key: String, value: &str| vars.values.insert(key, ParamValue::String(value.into()));
    for result in &task.results {
        set(format!("results.{}.path", result.name), &result_path(&result.name));
    }
    for w in workspaces {
        set(format!("workspaces.{}.path", w.name), &w.path);
        set(
            format!("workspaces.{}.bound", w.name),
            if w.volume.is_some() { "true" } else { "false" },
        );
    }
    let name = run.metadata.name.clone().unwrap_or_default();
    set("context.taskRun.name".into(), &name);
    set("context.taskRun.namespace".into(), &run.namespace().unwrap_or_default());
    set("context.task.name".into(), run.task_name().unwrap_or(&name));
    for (param, value) in values {
        vars.values.insert(format!("params.{param}"), value.clone());
    }
    vars
}

/// The steps with the template merged in and every reference substituted.
pub fn resolve_steps(task: &TaskSpec, vars: &Vars) -> Result<Vec<Step>, BuildError> {
    let mut problems = Vec::new();
    let mut steps = Vec::new();
    for step in &task.steps {
        let mut step = template::apply(step, task.step_template.as_ref());
        let what = |field: &str| format!("step {:?} {field}", step.name);
        let image = step
            .image
            .clone()
            .ok_or_else(|| BuildError::NoImage(step.name.clone()))?;
        step.image = Some(vars.string(&image, Field::Raw, &what("image"), &mut problems));
        step.script = step
            .script
            .as_ref()
            .map(|s| vars.string(s, Field::Raw, &what("script"), &mut problems));
        step.working_dir = step
            .working_dir
            .as_ref()
            .map(|s| vars.string(s, Field::Raw, &what("workingDir"), &mut problems));
        step.command = step
            .command
            .as_ref()
            .map(|c| vars.list(c, &what("command"), &mut problems));
        step.args = step.args.as_ref().map(|a| vars.list(a, &what("args"), &mut problems));
        for var in step.env.iter_mut().flatten() {
            let field = format!("env {}", var.name);
            if let Some(value) = &var.value {
                var.value = Some(vars.string(value, Field::Expanded, &what(&field), &mut problems));
            }
        }
        steps.push(step);
    }
    match problems.is_empty() {
        true => Ok(steps),
        // The reason follows the kind of reference (see BuildError::reason).
        false => Err(BuildError::References(problems)),
    }
}
