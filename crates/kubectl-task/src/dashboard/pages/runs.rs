//! The runs page: TaskRuns and PipelineRuns, newest first, filtered and
//! paged on the server.

use k8s_openapi::jiff::Timestamp;
use maud::{Markup, html};

use super::{ago, badge, time};
use crate::dashboard::index::{Filter, RunKind, Summary};

pub const PER_PAGE: usize = 50;

/// The query that shows `filter` at `page` (the pager's links).
pub fn query(filter: &Filter, page: usize) -> String {
    let mut parts: Vec<(&str, String)> = Vec::new();
    if let Some(kind) = filter.kind {
        parts.push(("kind", kind.plural().into()));
    }
    if let Some(ns) = &filter.namespace {
        parts.push(("ns", ns.clone()));
    }
    if let Some(owner) = &filter.owner {
        parts.push(("owner", owner.clone()));
    }
    if let Some(phase) = &filter.phase {
        parts.push(("phase", phase.clone()));
    }
    if !filter.labels.is_empty() {
        parts.push(("labels", labels_text(filter)));
    }
    if page > 0 {
        parts.push(("page", page.to_string()));
    }
    let encoded: Vec<String> = parts
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::dashboard::route::encode(v)))
        .collect();
    match encoded.is_empty() {
        true => "/runs".into(),
        false => format!("/runs?{}", encoded.join("&")),
    }
}

fn labels_text(filter: &Filter) -> String {
    filter
        .labels
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A run's page.
pub fn href(run: &Summary) -> String {
    format!("/ns/{}/{}/{}", run.namespace, run.kind.plural(), run.name)
}

/// The list: a filter form, the page of runs, and the pager.
pub fn list(
    runs: &[&Summary],
    total: usize,
    filter: &Filter,
    page: usize,
    all_namespaces: bool,
    error: Option<&str>,
    now: Timestamp,
) -> Markup {
    let last_page = total.saturating_sub(1) / PER_PAGE;
    html! {
        h1 { "Runs" }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form.filters method="get" action="/runs" {
            label { "Kind "
                select name="kind" {
                    option value="" selected[filter.kind.is_none()] { "all" }
                    option value="taskruns" selected[filter.kind == Some(RunKind::TaskRun)] { "TaskRuns" }
                    option value="pipelineruns" selected[filter.kind == Some(RunKind::PipelineRun)] { "PipelineRuns" }
                }
            }
            @if all_namespaces {
                label { "Namespace " input name="ns" value=[filter.namespace.as_deref()] size="12"; }
            }
            label { "Task or Pipeline " input name="owner" value=[filter.owner.as_deref()] size="14"; }
            label { "Phase "
                select name="phase" {
                    option value="" selected[filter.phase.is_none()] { "any" }
                    @for phase in ["Pending", "Running", "Succeeded", "Failed"] {
                        option value=(phase) selected[filter.phase.as_deref() == Some(phase)] { (phase) }
                    }
                }
            }
            label { "Labels " input name="labels" value=(labels_text(filter)) placeholder="team=a,env" size="16"; }
            button type="submit" { "Filter" }
        }
        p.count { (total) @if total == 1 { " run" } @else { " runs" } @if total > PER_PAGE { ", page " (page + 1) " of " (last_page + 1) } }
        @if runs.is_empty() {
            p.none { "No runs match. Start one with " code { "kubectl task start TASK" } " or from a Task's page." }
        } @else {
            table.runs {
                thead { tr {
                    th scope="col" { "Name" }
                    @if all_namespaces { th scope="col" { "Namespace" } }
                    th scope="col" { "Kind" }
                    th scope="col" { "Task / Pipeline" }
                    th scope="col" { "Phase" }
                    th scope="col" { "Reason" }
                    th scope="col" { "Started" }
                    th scope="col" { "Duration" }
                    th scope="col" { "Age" }
                } }
                tbody {
                    @for run in runs {
                        tr data-run=(run.name) data-phase=(run.phase) {
                            td { a href=(href(run)) { (run.name) } }
                            @if all_namespaces { td { (run.namespace) } }
                            td { (run.kind.word()) }
                            td { (run.owner) }
                            td { (badge(&run.phase)) }
                            td { (run.reason) }
                            td { (time(run.started.as_ref())) }
                            td { (run.duration.as_deref().unwrap_or("—")) }
                            td { (ago(run.created.as_ref(), now)) }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="pages" {
            @if page > 0 { a rel="prev" href=(query(filter, page - 1)) { "← Newer" } }
            @if page < last_page { a rel="next" href=(query(filter, page + 1)) { "Older →" } }
        }
    }
}

/// Runs read back from the archive (their objects may be gone).
pub fn archived(ns: &str, kind: RunKind, runs: &[Summary], next: Option<&str>, now: Timestamp) -> Markup {
    html! {
        h1 { "Archived " (kind.word()) "s in " (ns) }
        p {
            "From the run archive, newest first; a run gone from the cluster opens from there. "
            @match kind {
                RunKind::TaskRun => a href={"/archive?ns=" (ns) "&kind=pipelineruns"} { "PipelineRuns" },
                RunKind::PipelineRun => a href={"/archive?ns=" (ns) "&kind=taskruns"} { "TaskRuns" },
            }
        }
        @if runs.is_empty() { p.none { "The archive holds no runs here." } } @else {
            table.runs {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Task / Pipeline" } th scope="col" { "Phase" } th scope="col" { "Reason" } th scope="col" { "Started" } th scope="col" { "Duration" } th scope="col" { "Age" } } }
                tbody { @for run in runs {
                    tr data-run=(run.name) {
                        td { a href=(href(run)) { (run.name) } " " span.archived { "archived" } }
                        td { (run.owner) }
                        td { (badge(&run.phase)) }
                        td { (run.reason) }
                        td { (time(run.started.as_ref())) }
                        td { (run.duration.as_deref().unwrap_or("—")) }
                        td { (ago(run.created.as_ref(), now)) }
                    }
                } }
            }
        }
        @if let Some(next) = next {
            nav.pager { a rel="next" href={"/archive?ns=" (ns) "&kind=" (kind.plural()) "&continue=" (crate::dashboard::route::encode(next))} { "Older →" } }
        }
    }
}
