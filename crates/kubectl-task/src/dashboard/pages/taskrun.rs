//! A TaskRun's page: its status, inputs and outputs, a timeline of its
//! steps for every attempt, Events, and each step's log.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use maud::{Markup, html};
use minitask_api::{LABEL_PIPELINERUN, StepState, TaskKind, TaskRun};

use super::{RunHead, badge, pairs, param_rows, run_head, time};

/// One step's log as the page shows it: the last lines, or why there is
/// none.
pub struct StepLog {
    pub attempt: usize,
    pub step: String,
    pub text: Result<String, String>,
    /// Lines left out above (the page shows the tail).
    pub cut: bool,
    /// The step still runs: the page streams the rest.
    pub live: bool,
}

/// Where the run comes from: the cluster, or the archive (it is gone).
pub enum Source {
    Cluster,
    Archive { archived_at: String, notes: Vec<String> },
}

/// The part of the page that live updates replace.
pub fn live(run: &TaskRun, source: &Source, events: &[Event], csrf: &str, now: Timestamp) -> Markup {
    let status = run.status.clone().unwrap_or_default();
    let ns = run.namespace().unwrap_or_default();
    let name = run.name_any();
    let phase = format!("{:?}", run.phase());
    let cluster_task = run
        .spec
        .task_ref
        .as_ref()
        .is_some_and(|r| r.kind == TaskKind::ClusterTask);
    let declared = status.task_spec.as_ref().map(|t| t.params.clone()).unwrap_or_default();
    let params = param_rows(&declared, &run.spec.params);
    let results: Vec<(String, String)> = status
        .results
        .iter()
        .map(|r| (r.name.clone(), r.value.clone()))
        .collect();
    let workspaces: Vec<(String, String)> = run
        .spec
        .workspaces
        .iter()
        .map(|w| (w.name.clone(), crate::inputs::binding_text(w)))
        .collect();
    let mut attempts: Vec<(String, Vec<StepState>, Option<Time>)> = status
        .retries_status
        .iter()
        .map(|a| (a.reason.clone(), a.steps.clone(), a.completion_time.clone()))
        .collect();
    let ended = run
        .phase()
        .is_terminal()
        .then(|| status.completion_time.clone().unwrap_or(Time(now)));
    attempts.push((status.reason.clone().unwrap_or_default(), status.steps.clone(), ended));
    html! {
        (run_head(
            &RunHead {
                kind: "TaskRun",
                ns: &ns,
                name: &name,
                phase: &phase,
                source,
                cancellable: !run.phase().is_terminal(),
                rerunnable: run.task_name().is_some(),
                ended: run.phase().is_terminal(),
                confirm: format!("Delete TaskRun {name}?"),
            },
            csrf
        ))
        dl.fields {
            dt { "Task" }
            dd { @match run.task_name() {
                Some(task) => @if cluster_task {
                    a href={"/ns/" (ns) "/clustertasks/" (task)} { (task) } " (ClusterTask)"
                } @else {
                    a href={"/ns/" (ns) "/tasks/" (task)} { (task) }
                },
                None => "inline",
            } }
            dt { "Namespace" } dd { (ns) }
            @if let Some(parent) = run.labels().get(LABEL_PIPELINERUN) {
                dt { "PipelineRun" } dd { a href={"/ns/" (ns) "/pipelineruns/" (parent)} { (parent) } }
            }
            dt { "Reason" } dd.reason { (status.reason.clone().unwrap_or_default()) }
            dt { "Message" } dd.message { (crate::output::deadline_in(&status.message.clone().unwrap_or_default(), now)) }
            dt { "Started" } dd { (time(status.start_time.as_ref())) }
            dt { "Ended" } dd { (time(status.completion_time.as_ref())) }
            dt { "Duration" } dd { (status.duration.clone().unwrap_or_else(|| "—".into())) }
            dt { "Pod" } dd { (status.pod_name.clone().unwrap_or_else(|| "—".into())) }
            dt { "Timeout" } dd { (run.spec.timeout) }
            @if run.spec.retries > 0 {
                dt { "Retries" } dd { (run.spec.retries) " (attempt " (status.retries_status.len() + 1) ")" }
            }
        }
        h2 { "Params" } (pairs(&params, "No params."))
        h2 { "Results" } (pairs(&results, "No results yet."))
        @if !workspaces.is_empty() { h2 { "Workspaces" } (pairs(&workspaces, "")) }
        h2 { "Steps" }
        @for (i, (reason, steps, ended)) in attempts.iter().enumerate() {
            @if attempts.len() > 1 {
                h3 { "Attempt " (i + 1) @if !reason.is_empty() { " — " (reason) } }
            }
            (steps_table(steps, ended.as_ref(), now))
        }
        h2 { "Events" }
        (event_table(events))
        // Which steps have a log: when it changes, app.js adds their panes.
        span #steps-started hidden data-started=(started(&attempts)) {}
    }
}

/// `attempt/step` of every step that has started, for app.js.
fn started(attempts: &[(String, Vec<StepState>, Option<Time>)]) -> String {
    attempts
        .iter()
        .enumerate()
        .flat_map(|(i, (_, steps, _))| {
            steps
                .iter()
                .filter(|s| s.running.is_some() || s.terminated.is_some())
                .map(move |s| format!("{}/{}", i + 1, s.name))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A step's state in words, and its exit code.
fn step_state(step: &StepState) -> (String, String) {
    if let Some(t) = &step.terminated {
        let word = if t.exit_code == 0 { "Succeeded" } else { "Failed" };
        return (word.into(), t.exit_code.to_string());
    }
    if step.running.is_some() {
        return ("Running".into(), String::new());
    }
    match &step.waiting {
        Some(w) => (
            format!("Waiting ({})", w.reason.clone().unwrap_or_default()),
            String::new(),
        ),
        None => ("Pending".into(), String::new()),
    }
}

fn span(step: &StepState, ended: Option<&Time>, now: Timestamp) -> Option<(i64, i64)> {
    if let Some(t) = &step.terminated {
        let start = t.started_at.as_ref()?.0.as_millisecond();
        let end = t.finished_at.as_ref().map_or(start, |f| f.0.as_millisecond());
        return Some((start, end.max(start)));
    }
    let running = step.running.as_ref()?.started_at.as_ref()?.0.as_millisecond();
    Some((running, ended.map_or(now, |t| t.0).as_millisecond().max(running)))
}

/// The steps of one attempt: state, exit code, duration and a timeline bar
/// (drawn in SVG: the page's policy allows no inline styles).
fn steps_table(steps: &[StepState], ended: Option<&Time>, now: Timestamp) -> Markup {
    let spans: Vec<Option<(i64, i64)>> = steps.iter().map(|s| span(s, ended, now)).collect();
    let first = spans.iter().flatten().map(|s| s.0).min().unwrap_or(0);
    let last = spans.iter().flatten().map(|s| s.1).max().unwrap_or(0);
    let total = (last - first).max(1) as f64;
    html! {
        table.steps {
            thead { tr { th scope="col" { "Step" } th scope="col" { "State" } th scope="col" { "Exit" } th scope="col" { "Duration" } th scope="col" { "Timeline" } } }
            tbody {
                @for (step, span) in steps.iter().zip(&spans) {
                    @let (state, exit) = step_state(step);
                    @let word = state.split(' ').next().unwrap_or_default().to_string();
                    tr data-step=(step.name) {
                        th scope="row" { (step.name) }
                        td { (badge(&word)) @if word == "Waiting" { " " (state.trim_start_matches("Waiting ")) } }
                        td { (exit) }
                        td { @match span { Some((a, b)) => (minitask_api::format_duration(std::time::Duration::from_millis((b - a) as u64))), None => "—" } }
                        td.timeline {
                            svg width="200" height="12" role="img" aria-label="when the step ran" {
                                @if let Some((a, b)) = span {
                                    @let x = ((a - first) as f64 / total * 196.0).round();
                                    @let w = (((b - a) as f64 / total * 196.0).round()).max(2.0);
                                    rect.(word.to_ascii_lowercase()) x=(x + 2.0) y="2" width=(w) height="8" rx="2" {}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The newest Events, as `describe` shows them.
pub fn event_table(events: &[Event]) -> Markup {
    html! {
        @if events.is_empty() {
            p.none { "No Events." }
        } @else {
            table.events {
                thead { tr { th scope="col" { "Type" } th scope="col" { "Reason" } th scope="col" { "When" } th scope="col" { "Message" } } }
                tbody {
                    @for e in events.iter().rev().take(20).rev() {
                        @let when = e.last_timestamp.clone().or(e.event_time.clone().map(|t| Time(t.0)));
                        tr {
                            td { (e.type_.clone().unwrap_or_default()) }
                            td { (e.reason.clone().unwrap_or_default()) }
                            td { (time(when.as_ref())) }
                            td { (e.message.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

/// The logs, below the live part: each step's tail, streamed on while it
/// runs, with a link to the whole log as text.
pub fn logs(ns: &str, name: &str, logs: &[StepLog], attempts: usize) -> Markup {
    html! {
        section #logs aria-label="logs" {
            h2 { "Logs" }
            @if logs.is_empty() { p.none.waiting { "No step has started yet: each step's log shows here when it starts." } }
            (log_panes(ns, name, logs, attempts))
        }
    }
}

/// One pane per step log of TaskRun `name` (and per sidecar log).
pub fn log_panes(ns: &str, name: &str, logs: &[StepLog], attempts: usize) -> Markup {
    html! {
        @for log in logs {
            @let query = format!("step={}&attempt={}", crate::dashboard::route::encode(&log.step), log.attempt);
            @let base = format!("/ns/{ns}/taskruns/{name}/log?{query}");
            details.log open[log.live || log.text.is_err() || logs.len() <= 4] data-step=(log.step) data-key={(name) "/" (log.attempt) "/" (log.step)} {
                summary {
                    @if attempts > 1 { "attempt " (log.attempt) " · " }
                    @match log.step.strip_prefix("sidecar ") {
                        Some(sidecar) => { "sidecar " strong { (sidecar) } },
                        None => { "step " strong { (log.step) } },
                    }
                    " · " a href={(base) "&raw=1"} { "whole log (text)" }
                }
                @match &log.text {
                    Ok(text) => {
                        @if log.cut { p.note { "Showing the last lines; the whole log is behind the link above." } }
                        pre.log data-follow=[log.live.then(|| format!("{base}&follow=1"))] { (text) }
                    }
                    Err(why) => p.note { (why) },
                }
            }
        }
    }
}
