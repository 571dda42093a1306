//! A PipelineRun's page: its graph (SVG, in layers, `finally` apart), each
//! task's state and why, its TaskRuns, results and Events.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Event;
use kube::ResourceExt;
use maud::{Markup, html};
use minitask_api::{PipelineRun, TaskRun};

use super::taskrun::{Source, event_table};
use super::{RunHead, badge, pairs, param_rows, run_head, time};
use crate::dashboard::graph;

/// The part of the page that live updates replace.
pub fn live(
    run: &PipelineRun,
    children: &BTreeMap<String, TaskRun>,
    source: &Source,
    events: &[Event],
    csrf: &str,
) -> Markup {
    let status = run.status.clone().unwrap_or_default();
    let ns = run.namespace().unwrap_or_default();
    let name = run.name_any();
    let phase = format!("{:?}", run.phase());
    let spec = status.pipeline_spec.as_deref().or(run.spec.pipeline_spec.as_deref());
    let declared = spec.map(|s| s.params.as_slice()).unwrap_or_default();
    // Only the declared ones: a PipelineRun's others are refused before it runs.
    let params: Vec<(String, String)> = param_rows(declared, &run.spec.params)
        .into_iter()
        .take(declared.len())
        .collect();
    let results: Vec<(String, String)> = status
        .results
        .iter()
        .map(|r| (r.name.clone(), r.value.clone()))
        .collect();
    let layout = spec.map(|spec| {
        graph::with_matrix_counts(graph::layout(spec, Some(&status)), |n| {
            children.get(n).map(|c| c.phase())
        })
    });
    html! {
        (run_head(
            &RunHead {
                kind: "PipelineRun",
                ns: &ns,
                name: &name,
                phase: &phase,
                source,
                cancellable: !run.phase().is_terminal() && !run.spec.cancelled,
                rerunnable: run.pipeline_name().is_some(),
                ended: run.phase().is_terminal(),
                confirm: format!("Delete PipelineRun {name} and its TaskRuns?"),
            },
            csrf
        ))
        dl.fields {
            dt { "Pipeline" }
            dd { @match run.pipeline_name() {
                Some(p) => a href={"/ns/" (ns) "/pipelines/" (p)} { (p) },
                None => "inline",
            } }
            dt { "Namespace" } dd { (ns) }
            dt { "Reason" } dd.reason { (status.reason.clone().unwrap_or_default()) }
            dt { "Message" } dd.message { (status.message.clone().unwrap_or_default()) }
            dt { "Tasks" } dd { (status.progress.clone().unwrap_or_else(|| "—".into())) }
            dt { "Started" } dd { (time(status.start_time.as_ref())) }
            dt { "Ended" } dd { (time(status.completion_time.as_ref())) }
            dt { "Duration" } dd { (status.duration.clone().unwrap_or_else(|| "—".into())) }
            @if run.spec.cancelled { dt { "Cancelled" } dd { "yes: tasks not started never start; finally tasks run" } }
        }
        h2 { "Graph" }
        @match &layout {
            Some(layout) => div.graph-box { (graph::svg(layout, |node| node.task_runs.first().map(|tr| format!("/ns/{ns}/taskruns/{tr}")))) },
            None => p.none { "The Pipeline is not resolved yet." },
        }
        h2 { "Tasks" }
        p { a href={"/ns/" (ns) "/pipelineruns/" (name) "/logs"} { "Every task's logs" } }
        table.tasks {
            thead { tr { th scope="col" { "Task" } th scope="col" { "State" } th scope="col" { "TaskRuns" } th scope="col" { "Why" } } }
            tbody {
                @for task in &status.tasks {
                    tr data-task=(task.name) {
                        th scope="row" { (task.name) @if task.finally { " (finally)" } }
                        td { (badge(task.state.as_str())) }
                        td {
                            @for (i, tr) in task.task_runs.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href={"/ns/" (ns) "/taskruns/" (tr)} { (tr) }
                                @if let Some(child) = children.get(tr) { " " (badge(&format!("{:?}", child.phase()))) }
                            }
                        }
                        td { (task.reason.clone().unwrap_or_default()) @if let Some(m) = &task.message { ": " (m) } }
                    }
                }
            }
        }
        h2 { "Params" } (pairs(&params, "No params."))
        h2 { "Results" } (pairs(&results, "No results yet."))
        h2 { "Events" }
        (event_table(events))
    }
}

/// `/ns/NS/pipelineruns/NAME/logs`: each task's TaskRuns and their steps'
/// logs, in the order of the run's tasks.
pub fn logs(ns: &str, name: &str, tasks: &[(String, String, Vec<super::taskrun::StepLog>, usize)]) -> Markup {
    html! {
        div.heading { h1 { "Logs of PipelineRun " a href={"/ns/" (ns) "/pipelineruns/" (name)} { (name) } } }
        section #logs aria-label="logs" {
            @if tasks.is_empty() { p.none { "No task has started yet." } }
            @for (task, run, logs, attempts) in tasks {
                h2 { "task " (task) " · " a href={"/ns/" (ns) "/taskruns/" (run)} { (run) } }
                @if logs.is_empty() { p.none { "No step has started yet." } }
                (super::taskrun::log_panes(ns, run, logs, *attempts))
            }
        }
    }
}
