//! Pipelines and PipelineRuns on screen: `list pipelines`, `runs
//! pipelineruns`, and `describe` of a PipelineRun (its graph as text: each
//! task's state, duration, what it runs after, why it was skipped, and its
//! TaskRuns) or of a Pipeline. The text is built by pure functions.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::ListParams;
use minitask_api::{
    LABEL_PIPELINE, LABEL_PIPELINERUN, Pipeline, PipelineRun, PipelineSpec, PipelineTask, TaskRun, format_duration,
    label_value,
};

use crate::cluster::Cluster;
use crate::describe::{event_rows, events, indented, show};
use crate::errors;
use crate::output::{Format, age, print, render};
use crate::refs::Kind;
use crate::resolve::{pipelineruns, runs};

/// The tasks each task runs after: its runAfter and the tasks whose
/// results it uses; `(finally)` for a finally task.
pub fn after(spec: &PipelineSpec, task: &PipelineTask, finally: bool) -> String {
    if finally {
        return "(finally)".into();
    }
    let mut names: Vec<String> = task.run_after.clone();
    for text in task
        .params
        .iter()
        .map(|p| serde_json::to_string(&p.value).unwrap_or_default())
    {
        let mut rest = text.as_str();
        while let Some(start) = rest.find("$(tasks.") {
            let after = &rest[start + 8..];
            let name: String = after.chars().take_while(|c| *c != '.' && *c != ')').collect();
            rest = &after[name.len()..];
            if spec.tasks.iter().any(|t| t.name == name) && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    match names.is_empty() {
        true => "-".into(),
        false => names.join(", "),
    }
}

/// How long a task's TaskRuns took (the first start to the last end).
fn duration(children: &[&TaskRun]) -> String {
    let starts: Vec<i64> = children
        .iter()
        .filter_map(|c| c.status.as_ref()?.start_time.as_ref().map(|t| t.0.as_second()))
        .collect();
    let ends: Vec<i64> = children
        .iter()
        .filter_map(|c| c.status.as_ref()?.completion_time.as_ref().map(|t| t.0.as_second()))
        .collect();
    match (
        starts.iter().min(),
        ends.iter().max(),
        ends.len() == children.len() && !children.is_empty(),
    ) {
        (Some(start), Some(end), true) => {
            format_duration(std::time::Duration::from_secs(end.saturating_sub(*start).max(0) as u64))
        }
        (Some(_), _, _) => "running".into(),
        _ => "-".into(),
    }
}

/// The description of `run`, with its TaskRuns (by name) and Events.
pub fn describe_pipelinerun(
    run: &PipelineRun,
    children: &BTreeMap<String, TaskRun>,
    events: &[Event],
    now: Timestamp,
) -> String {
    let status = run.status.clone().unwrap_or_default();
    let mut out = String::new();
    let mut field = |name: &str, value: String| out.push_str(&format!("{:<11}{value}\n", format!("{name}:")));
    field("Name", run.name_any());
    field("Namespace", run.namespace().unwrap_or_default());
    field("Pipeline", run.pipeline_name().unwrap_or("<inline>").to_string());
    let reason = status.reason.clone().unwrap_or_default();
    let phase = format!("{:?}", run.phase());
    field(
        "Status",
        match reason.is_empty() || reason == phase {
            true => phase,
            false => format!("{phase} ({reason})"),
        },
    );
    field("Message", status.message.clone().unwrap_or_default());
    field("Tasks", status.progress.clone().unwrap_or_else(|| "---".into()));
    field(
        "Started",
        status
            .start_time
            .as_ref()
            .map_or("---".into(), |t| format!("{} ago", age(Some(t), now))),
    );
    field("Duration", status.duration.clone().unwrap_or_else(|| "---".into()));
    if run.spec.cancelled {
        field(
            "Cancelled",
            "yes: tasks not started never start; finally tasks run".into(),
        );
    }

    let spec = status.pipeline_spec.as_deref().or(run.spec.pipeline_spec.as_deref());
    out.push_str("\nParams:\n");
    let mut rows = Vec::new();
    for declared in spec.map(|s| s.params.as_slice()).unwrap_or_default() {
        let given = run
            .spec
            .params
            .iter()
            .find(|p| p.name == declared.name)
            .map(|p| &p.value);
        let value = match (given, &declared.default) {
            (Some(v), _) => show(v),
            (None, Some(d)) => format!("{} (default)", show(d)),
            (None, None) => "<missing>".into(),
        };
        rows.push(vec![declared.name.clone(), value]);
    }
    out.push_str(&indented(&["NAME", "VALUE"], &rows));
    if !run.spec.workspaces.is_empty() {
        out.push_str("\nWorkspaces:\n");
        let rows: Vec<Vec<String>> = run
            .spec
            .workspaces
            .iter()
            .map(|w| vec![w.name.clone(), crate::pipeline_start::binding_text(w)])
            .collect();
        out.push_str(&indented(&["NAME", "BOUND TO"], &rows));
    }

    out.push_str("\nTasks:\n");
    let mut rows = Vec::new();
    for task in &status.tasks {
        let declared = spec.and_then(|s| s.all_tasks().find(|t| t.name == task.name));
        let kids: Vec<&TaskRun> = task.task_runs.iter().filter_map(|n| children.get(n)).collect();
        let runs = match task.task_runs.as_slice() {
            [] => "-".to_string(),
            [one] => one.clone(),
            [first, ..] => format!("{first} (+{} more)", task.task_runs.len() - 1),
        };
        let why = match (&task.reason, &task.message) {
            (Some(reason), Some(message)) => format!("{reason}: {message}"),
            (None, Some(message)) => message.clone(),
            (Some(reason), None) => reason.clone(),
            (None, None) => String::new(),
        };
        rows.push(vec![
            task.name.clone(),
            task.state.as_str().to_string(),
            duration(&kids),
            match (spec, declared) {
                (Some(spec), Some(t)) => after(spec, t, task.finally),
                _ => "-".into(),
            },
            runs,
            why,
        ]);
    }
    out.push_str(&indented(
        &["TASK", "STATE", "DURATION", "AFTER", "TASKRUN", "WHY"],
        &rows,
    ));

    if !status.results.is_empty() {
        out.push_str("\nResults:\n");
        let rows: Vec<Vec<String>> = status
            .results
            .iter()
            .map(|r| vec![r.name.clone(), r.value.clone()])
            .collect();
        out.push_str(&indented(&["NAME", "VALUE"], &rows));
    }
    out.push_str("\nEvents:\n");
    out.push_str(&event_rows(events, now));
    let name = run.name_any();
    out.push_str(&format!(
        "\nEach task's steps: `kubectl task logs pipelinerun/{name}`; one task's run: `kubectl task describe <taskrun>`.\n"
    ));
    out
}

/// The description of `pipeline`: its graph and newest runs.
pub fn describe_pipeline(pipeline: &Pipeline, recent: &[PipelineRun], now: Timestamp) -> String {
    let spec = &pipeline.spec;
    let mut out = String::new();
    let mut field = |name: &str, value: String| out.push_str(&format!("{:<13}{value}\n", format!("{name}:")));
    field("Name", pipeline.name_any());
    field("Namespace", pipeline.namespace().unwrap_or_default());
    field(
        "Description",
        spec.description.clone().unwrap_or_else(|| "<none>".into()),
    );
    let valid = pipeline
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Valid"))
        .map_or("not checked yet".to_string(), |c| match c.status.as_str() {
            "True" => "yes".into(),
            _ => format!("no: {}", c.message),
        });
    field("Valid", valid);
    out.push_str("\nParams:\n");
    let rows: Vec<Vec<String>> = spec
        .params
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.type_.as_str().into(),
                p.default.as_ref().map_or("<required>".into(), show),
            ]
        })
        .collect();
    out.push_str(&indented(&["NAME", "TYPE", "DEFAULT"], &rows));
    out.push_str("\nWorkspaces:\n");
    let rows: Vec<Vec<String>> = spec
        .workspaces
        .iter()
        .map(|w| {
            vec![
                w.name.clone(),
                if w.optional { "optional".into() } else { String::new() },
            ]
        })
        .collect();
    out.push_str(&indented(&["NAME", ""], &rows));
    out.push_str("\nTasks:\n");
    let rows: Vec<Vec<String>> = spec
        .tasks
        .iter()
        .map(|t| (t, false))
        .chain(spec.finally.iter().map(|t| (t, true)))
        .map(|(t, finally)| {
            let runs = match (&t.task_ref, t.matrix.is_some()) {
                (Some(r), false) => r.name.clone(),
                (Some(r), true) => format!("{} (matrix)", r.name),
                (None, _) => "<inline>".into(),
            };
            let when = t.when.iter().map(when_text).collect::<Vec<_>>().join(" && ");
            vec![t.name.clone(), runs, after(spec, t, finally), when]
        })
        .collect();
    out.push_str(&indented(&["TASK", "RUNS", "AFTER", "WHEN"], &rows));
    out.push_str("\nRecent runs:\n");
    let rows: Vec<Vec<String>> = recent
        .iter()
        .map(|r| {
            let status = r.status.clone().unwrap_or_default();
            vec![
                r.name_any(),
                format!("{:?}", r.phase()),
                status.reason.unwrap_or_default(),
                status.progress.unwrap_or_default(),
                age(r.metadata.creation_timestamp.as_ref(), now),
            ]
        })
        .collect();
    out.push_str(&indented(&["NAME", "STATUS", "REASON", "TASKS", "AGE"], &rows));
    out.push_str(&format!(
        "\nStart it with `kubectl task start pipeline/{}`.\n",
        pipeline.name_any()
    ));
    out
}

pub async fn show_pipelinerun(cluster: &Cluster, run: PipelineRun, output: Option<Format>) -> anyhow::Result<()> {
    if let Some(format) = output.filter(|f| !f.is_table()) {
        print(&render(
            &[&run],
            &[Kind::PipelineRun.qualified(&run.name_any())],
            &format,
            true,
        )?);
        return Ok(());
    }
    let name = run.name_any();
    let selector = format!("{LABEL_PIPELINERUN}={}", label_value(&name));
    let doing = format!("listing the TaskRuns of pipelinerun {name}");
    let children: BTreeMap<String, TaskRun> = runs(cluster)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items
        .into_iter()
        .map(|c| (c.name_any(), c))
        .collect();
    let events = events(cluster, "PipelineRun", &name).await?;
    print(&describe_pipelinerun(&run, &children, &events, Timestamp::now()));
    Ok(())
}

pub async fn show_pipeline(cluster: &Cluster, pipeline: Pipeline, output: Option<Format>) -> anyhow::Result<()> {
    if let Some(format) = output.filter(|f| !f.is_table()) {
        print(&render(
            &[&pipeline],
            &[Kind::Pipeline.qualified(&pipeline.name_any())],
            &format,
            true,
        )?);
        return Ok(());
    }
    let selector = format!("{LABEL_PIPELINE}={}", label_value(&pipeline.name_any()));
    let doing = format!("listing the runs of Pipeline {}", pipeline.name_any());
    let mut recent = pipelineruns(cluster)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items;
    crate::list::newest_first(&mut recent);
    recent.truncate(5);
    print(&describe_pipeline(&pipeline, &recent, Timestamp::now()));
    Ok(())
}

/// One `when` as written: its CEL, or `input in [values]`.
fn when_text(w: &minitask_api::WhenExpression) -> String {
    match (&w.cel, w.operator) {
        (Some(cel), _) => cel.clone(),
        (None, Some(minitask_api::WhenOperator::NotIn)) => format!("{} notin [{}]", w.input, w.values.join(", ")),
        (None, _) => format!("{} in [{}]", w.input, w.values.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run() -> PipelineRun {
        serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
            "metadata": {"name": "ci-1", "namespace": "team"},
            "spec": {"pipelineRef": {"name": "ci"}, "params": [{"name": "repo", "value": "git://x"}]},
            "status": {
                "phase": "Failed", "reason": "TaskFailed", "message": "lint (StepFailed) failed", "progress": "4/4",
                "pipelineSpec": {"params": [{"name": "repo"}, {"name": "ref", "default": "main"}], "tasks": [
                    {"name": "fetch", "taskRef": {"name": "git"}},
                    {"name": "lint", "taskRef": {"name": "t"}, "runAfter": ["fetch"]},
                    {"name": "test", "taskRef": {"name": "t"}, "params": [{"name": "c", "value": "$(tasks.fetch.results.commit)"}]},
                ], "finally": [{"name": "report", "taskRef": {"name": "t"}}]},
                "tasks": [
                    {"name": "fetch", "taskRuns": ["ci-1-fetch"], "state": "Succeeded"},
                    {"name": "lint", "taskRuns": ["ci-1-lint"], "state": "Failed", "reason": "StepFailed", "message": "TaskRun ci-1-lint: exit 1"},
                    {"name": "test", "state": "Skipped", "reason": "Stopped", "message": "a task failed before it could start"},
                    {"name": "report", "taskRuns": ["ci-1-report"], "state": "Succeeded", "finally": true},
                ],
            },
        }))
        .unwrap()
    }

    fn child(name: &str, start: i64, end: i64) -> TaskRun {
        let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).unwrap().to_string();
        serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": name},
            "spec": {"taskRef": {"name": "t"}},
            "status": {"phase": "Succeeded", "startTime": at(start), "completionTime": at(end)},
        }))
        .unwrap()
    }

    #[test]
    fn a_pipelinerun_shows_its_graph_as_text() {
        let children = BTreeMap::from([
            ("ci-1-fetch".to_string(), child("ci-1-fetch", 0, 12)),
            ("ci-1-lint".to_string(), child("ci-1-lint", 12, 15)),
        ]);
        let text = describe_pipelinerun(&run(), &children, &[], Timestamp::from_second(1_800_000_100).unwrap());
        assert!(text.contains("Status:    Failed (TaskFailed)"), "{text}");
        assert!(text.contains("ref    main (default)"), "{text}");
        let tasks: Vec<&str> = text.lines().skip_while(|l| *l != "Tasks:").skip(1).take(5).collect();
        let cells = |i: usize| tasks[i].split_whitespace().collect::<Vec<_>>();
        assert_eq!(cells(0)[..6], ["TASK", "STATE", "DURATION", "AFTER", "TASKRUN", "WHY"]);
        assert_eq!(cells(1)[..5], ["fetch", "Succeeded", "12s", "-", "ci-1-fetch"]);
        assert_eq!(cells(2)[..5], ["lint", "Failed", "3s", "fetch", "ci-1-lint"]);
        assert_eq!(cells(3)[..5], ["test", "Skipped", "-", "fetch", "-"]);
        assert!(
            tasks[3].contains("Stopped: a task failed before it could start"),
            "{}",
            tasks[3]
        );
        assert_eq!(cells(4)[..4], ["report", "Succeeded", "-", "(finally)"]);
    }
}
