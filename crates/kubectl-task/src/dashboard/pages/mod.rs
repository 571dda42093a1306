//! The dashboard's HTML, rendered on the server by pure functions (maud
//! escapes every value: names, messages and logs come from the cluster and
//! are untrusted). Every page reads without JavaScript; app.js adds live
//! updates, log streaming and local times.

pub mod catalog;
pub mod pipelinerun;
pub mod runs;
pub mod taskrun;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use maud::{DOCTYPE, Markup, html};

/// What every page needs besides its content.
pub struct Frame<'a> {
    pub title: &'a str,
    /// The namespace the dashboard shows (None: all).
    pub scope: Option<&'a str>,
    /// Where the page gets its live updates (server-sent events), if live.
    pub live: Option<String>,
    /// The token every form posts back (CSRF).
    pub csrf: &'a str,
}

/// A whole page: head, navigation and `content` in `<main>`.
pub fn page(frame: &Frame, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf" content=(frame.csrf);
                title { (frame.title) " · mini-task" }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="main" {
                        a.brand href="/runs" { "mini-task" }
                        a href="/runs" { "Runs" }
                        @if let Some(ns) = frame.scope {
                            a href={"/ns/" (ns) "/tasks"} { "Tasks" }
                            a href={"/ns/" (ns) "/pipelines"} { "Pipelines" }
                            a href={"/archive?ns=" (ns)} { "Archive" }
                            span.scope { "namespace " strong { (ns) } }
                        } @else {
                            span.scope { "all namespaces" }
                        }
                    }
                }
                main #main data-live=[frame.live.as_deref()] {
                    (content)
                }
            }
        }
    }
}

/// A glyph that says a state without colour.
pub fn state_icon(state: &str) -> &'static str {
    match state {
        "Succeeded" => "✓",
        "Failed" => "✗",
        "Running" => "▶",
        "Skipped" => "↷",
        "Pending" => "…",
        _ => "?",
    }
}

/// A state as a badge: icon, word and colour.
pub fn badge(state: &str) -> Markup {
    html! {
        span.badge.(state.to_ascii_lowercase()) data-state=(state) {
            span aria-hidden="true" { (state_icon(state)) } " " (state)
        }
    }
}

/// A time: UTC as text (app.js shows it in the reader's own zone), the
/// absolute time on hover.
pub fn time(at: Option<&Time>) -> Markup {
    match at {
        Some(t) => {
            let text = t.0.strftime("%Y-%m-%d %H:%M:%S UTC").to_string();
            html! { time datetime=(t.0.to_string()) title=(text) { (text) } }
        }
        None => html! { "—" },
    }
}

/// How long ago `at` was, as `kubectl get` says it.
pub fn ago(at: Option<&Time>, now: Timestamp) -> String {
    crate::output::age(at, now)
}

/// A table of name/value pairs, or `none` when empty.
pub fn pairs(rows: &[(String, String)], none: &str) -> Markup {
    html! {
        @if rows.is_empty() {
            p.none { (none) }
        } @else {
            table.pairs {
                @for (name, value) in rows {
                    tr { th scope="row" { (name) } td { code { (value) } } }
                }
            }
        }
    }
}

/// The page of a failure: what failed and what to do (the CLI's words).
pub fn failure(frame: &Frame, heading: &str, message: &str) -> Markup {
    page(
        frame,
        html! {
            h1 { (heading) }
            p.error role="alert" { (message) }
            p { a href="/runs" { "Back to the runs" } }
        },
    )
}

/// A button that POSTs to `action` with the CSRF token; `confirm` asks
/// first (app.js).
pub fn post_button(action: &str, label: &str, csrf: &str, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=[confirm] {
            input type="hidden" name="csrf" value=(csrf);
            button.danger[confirm.is_some()] type="submit" { (label) }
        }
    }
}

/// Params as a run shows them: each declared one with the value given, or
/// its default (marked), or `<missing>`; then any given but not declared.
pub fn param_rows(declared: &[minitask_api::ParamSpec], given: &[minitask_api::Param]) -> Vec<(String, String)> {
    let show = crate::describe::show;
    let mut rows: Vec<(String, String)> = declared
        .iter()
        .map(|d| {
            let value = match (given.iter().find(|p| p.name == d.name), &d.default) {
                (Some(p), _) => show(&p.value),
                (None, Some(default)) => format!("{} (default)", show(default)),
                (None, None) => "<missing>".into(),
            };
            (d.name.clone(), value)
        })
        .collect();
    for p in given.iter().filter(|p| !declared.iter().any(|d| d.name == p.name)) {
        rows.push((p.name.clone(), show(&p.value)));
    }
    rows
}

/// A run's heading (kind, name, phase, whether archived), what the archive
/// says of it, and, for a run in the cluster, its actions: Cancel while it
/// runs, Rerun… when it names its Task or Pipeline, Delete once ended.
pub struct RunHead<'a> {
    /// "TaskRun" or "PipelineRun".
    pub kind: &'a str,
    pub ns: &'a str,
    pub name: &'a str,
    pub phase: &'a str,
    pub source: &'a taskrun::Source,
    pub cancellable: bool,
    pub rerunnable: bool,
    pub ended: bool,
    /// What Delete asks first.
    pub confirm: String,
}

pub fn run_head(head: &RunHead, csrf: &str) -> Markup {
    let base = format!("/ns/{}/{}s/{}", head.ns, head.kind.to_ascii_lowercase(), head.name);
    html! {
        div.heading {
            h1 { (head.kind) " " (head.name) }
            (badge(head.phase))
            @if let taskrun::Source::Archive { archived_at, .. } = head.source {
                span.archived title={"archived " (archived_at)} { "archived" }
            }
        }
        @match head.source {
            taskrun::Source::Archive { archived_at, notes } => {
                p.note { "This run is no longer in the cluster: this is its archived record (archived " (archived_at) ")." }
                @for note in notes { p.note { (note) } }
            }
            taskrun::Source::Cluster => {
                div.actions {
                    @if head.cancellable { (post_button(&format!("{base}/cancel"), "Cancel", csrf, None)) }
                    @if head.rerunnable { a.button href={(base) "/rerun"} { "Rerun…" } }
                    @if head.ended { (post_button(&format!("{base}/delete"), "Delete", csrf, Some(&head.confirm))) }
                }
            }
        }
    }
}
