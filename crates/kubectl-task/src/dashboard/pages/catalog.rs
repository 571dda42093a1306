//! Tasks and Pipelines: lists, each one's params, workspaces and recent
//! runs, and the form that starts a run of it (also used to rerun, with
//! the last run's values).

use k8s_openapi::jiff::Timestamp;
use maud::{Markup, html};
use minitask_api::ParamSpec;

use super::{ago, badge, time};
use crate::dashboard::index::Summary;
use crate::dashboard::pages::runs::href;
use crate::dashboard::route::Definition as Of;

/// A Task or a Pipeline, as the catalog shows it.
pub struct Definition {
    /// "tasks", "clustertasks" or "pipelines": where its pages are.
    pub plural: &'static str,
    pub namespace: String,
    pub name: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
    /// Workspace names, whether optional, and their description.
    pub workspaces: Vec<(String, bool, String)>,
    /// Step names (Task) or task names (Pipeline).
    pub parts: Vec<String>,
}

fn kind_word(plural: &str) -> &'static str {
    match plural {
        "pipelines" => "Pipeline",
        "clustertasks" => "ClusterTask",
        _ => "Task",
    }
}

/// The Tasks page also lists the ClusterTasks, with a Kind column (as
/// `kubectl task list` does); `note` says why some could not be listed.
pub fn list(of: Of, ns: &str, items: &[Definition], note: Option<&str>) -> Markup {
    let tasks = of != Of::Pipeline;
    html! {
        h1 { (if tasks { "Tasks" } else { "Pipelines" }) " in " (ns) }
        @if let Some(note) = note { p.note { (note) } }
        @if items.is_empty() {
            p.none { "None in this namespace." }
        } @else {
            table.catalog {
                thead { tr {
                    th scope="col" { "Name" }
                    @if tasks { th scope="col" { "Kind" } }
                    th scope="col" { "Description" } th scope="col" { "Params" } th scope="col" { "" }
                } }
                tbody {
                    @for item in items {
                        tr {
                            td { a href={"/ns/" (ns) "/" (item.plural) "/" (item.name)} { (item.name) } }
                            @if tasks { td { (kind_word(item.plural)) } }
                            td { (item.description.lines().next().unwrap_or_default()) }
                            td { (item.params.len()) }
                            td { a.button href={"/ns/" (ns) "/" (item.plural) "/" (item.name) "/start"} { "Start…" } }
                        }
                    }
                }
            }
        }
    }
}

pub fn show(item: &Definition, recent: &[&Summary], now: Timestamp) -> Markup {
    let word = kind_word(item.plural);
    html! {
        div.heading {
            h1 { (word) " " (item.name) }
            a.button href={"/ns/" (item.namespace) "/" (item.plural) "/" (item.name) "/start"} { "Start…" }
        }
        @if item.plural == "clustertasks" {
            p.note { "A ClusterTask, shared by every namespace; runs started here run in " (item.namespace) "." }
        }
        @if !item.description.is_empty() { p { (item.description) } }
        h2 { "Params" }
        @if item.params.is_empty() { p.none { "No params." } } @else {
            table.params {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Default" } th scope="col" { "Description" } } }
                tbody {
                    @for p in &item.params {
                        tr {
                            th scope="row" { (p.name) }
                            td { (type_word(p)) }
                            td { @match &p.default { Some(d) => code { (crate::describe::show(d)) }, None => "required" } }
                            td { (p.description.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        h2 { "Workspaces" }
        @if item.workspaces.is_empty() { p.none { "No workspaces." } } @else {
            ul { @for (name, optional, description) in &item.workspaces {
                li { strong { (name) } @if *optional { " (optional)" } @if !description.is_empty() { " — " (description) } }
            } }
        }
        h2 { @if item.plural == "pipelines" { "Tasks" } @else { "Steps" } }
        ol { @for part in &item.parts { li { (part) } } }
        h2 { "Recent runs" }
        @if recent.is_empty() { p.none { "No runs yet." } } @else {
            table.runs {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Phase" } th scope="col" { "Started" } th scope="col" { "Duration" } th scope="col" { "Age" } } }
                tbody { @for run in recent {
                    tr data-run=(run.name) {
                        td { a href=(href(run)) { (run.name) } }
                        td { (badge(&run.phase)) }
                        td { (time(run.started.as_ref())) }
                        td { (run.duration.as_deref().unwrap_or("—")) }
                        td { (ago(run.created.as_ref(), now)) }
                    }
                } }
            }
        }
    }
}

fn type_word(p: &ParamSpec) -> String {
    serde_json::to_value(p.type_)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "string".into())
}

/// What the form starts with: the run's values for a rerun, else the
/// defaults.
#[derive(Default)]
pub struct Prefill {
    pub params: Vec<(String, String)>,
    pub workspaces: Vec<(String, String)>,
    pub service_account: String,
    pub timeout: String,
    /// The run this reruns, if any.
    pub rerun_of: Option<String>,
}

/// The start form: one field per param (an array as one item per line),
/// one per workspace (as `-w` writes a binding), service account, timeout.
pub fn start_form(item: &Definition, prefill: &Prefill, csrf: &str, error: Option<&str>) -> Markup {
    let word = kind_word(item.plural);
    let value_of = |name: &str| prefill.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let binding_of = |name: &str| {
        prefill
            .workspaces
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    html! {
        h1 {
            @match &prefill.rerun_of { Some(run) => { "Rerun " (run) }, None => { "Start " (word) " " (item.name) } }
        }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        form.start method="post" action={"/ns/" (item.namespace) "/" (item.plural) "/" (item.name) "/start"} {
            input type="hidden" name="csrf" value=(csrf);
            @if let Some(run) = &prefill.rerun_of { input type="hidden" name="rerun" value=(run); }
            fieldset {
                legend { "Params" }
                @if item.params.is_empty() { p.none { "No params." } }
                @for p in &item.params {
                    @let id = format!("param-{}", p.name);
                    @let is_array = type_word(p) == "array";
                    @let default = p.default.as_ref().map(|d| match d {
                        minitask_api::ParamValue::Array(items) => items.join("\n"),
                        other => crate::describe::show(other),
                    });
                    @let value = value_of(&p.name).or(default.clone()).unwrap_or_default();
                    div.field {
                        label for=(id) { (p.name) " " span.type { "(" (type_word(p)) ")" } @if p.default.is_none() { " " span.required { "required" } } }
                        @if is_array || value.contains('\n') {
                            textarea id=(id) name={"param." (p.name)} rows="3" required[p.default.is_none()] { (value) }
                        } @else {
                            input id=(id) name={"param." (p.name)} value=(value) required[p.default.is_none()];
                        }
                        @if let Some(d) = &p.description { small { (d) } }
                        @if is_array { small { "One item per line." } }
                    }
                }
            }
            @if !item.workspaces.is_empty() {
                fieldset {
                    legend { "Workspaces" }
                    @for (name, optional, description) in &item.workspaces {
                        @let id = format!("workspace-{name}");
                        div.field {
                            label for=(id) { (name) @if *optional { " (optional)" } }
                            input id=(id) name={"workspace." (name)} value=(binding_of(name).unwrap_or_default())
                                placeholder=(if item.plural == "pipelines" { "emptyDir, pvc:CLAIM, volumeClaimTemplate:1Gi, configmap:NAME, secret:NAME" } else { "emptyDir, pvc:CLAIM, configmap:NAME, secret:NAME" })
                                required[!*optional];
                            @if !description.is_empty() { small { (description) } }
                        }
                    }
                }
            }
            fieldset {
                legend { "Run" }
                div.field {
                    label for="serviceAccountName" { "Service account" }
                    input #serviceAccountName name="serviceAccountName" value=(prefill.service_account) placeholder="default";
                }
                div.field {
                    label for="timeout" { "Timeout" }
                    input #timeout name="timeout" value=(prefill.timeout) placeholder="1h";
                }
            }
            button type="submit" { "Start" }
        }
    }
}
