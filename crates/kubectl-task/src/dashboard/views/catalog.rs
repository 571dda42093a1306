//! Tasks and Pipelines: their lists and pages, and the start form (new, a
//! rerun, or again after a refusal).

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::ListParams;

use super::{Reply, State, status_of};
use crate::dashboard::index::{Filter, RunKind, select};
use crate::dashboard::pages::{self, catalog::Definition as Item, catalog::Prefill};
use crate::dashboard::route::Definition;
use crate::errors;
use crate::resolve::{cluster_tasks, pipelines, tasks};

/// A Task's or a ClusterTask's entry; a ClusterTask is shown in `ns`,
/// where its runs go.
fn item_of_task(of: Definition, ns: String, name: String, spec: &minitask_api::TaskSpec) -> Item {
    Item {
        plural: of.plural(),
        namespace: ns,
        name,
        description: spec.description.clone().unwrap_or_default(),
        params: spec.params.clone(),
        workspaces: spec
            .workspaces
            .iter()
            .map(|w| (w.name.clone(), w.optional, w.description.clone().unwrap_or_default()))
            .collect(),
        parts: spec.steps.iter().map(|s| s.name.clone()).collect(),
    }
}

fn item_of_namespaced(task: &minitask_api::Task) -> Item {
    let ns = task.namespace().unwrap_or_default();
    item_of_task(Definition::Task, ns, task.name_any(), &task.spec)
}

fn item_of_cluster_task(ns: &str, task: &minitask_api::ClusterTask) -> Item {
    item_of_task(Definition::ClusterTask, ns.to_string(), task.name_any(), &task.spec)
}

fn item_of_pipeline(pipeline: &minitask_api::Pipeline) -> Item {
    Item {
        plural: "pipelines",
        namespace: pipeline.namespace().unwrap_or_default(),
        name: pipeline.name_any(),
        description: pipeline.spec.description.clone().unwrap_or_default(),
        params: pipeline.spec.params.clone(),
        workspaces: pipeline
            .spec
            .workspaces
            .iter()
            .map(|w| (w.name.clone(), w.optional, w.description.clone().unwrap_or_default()))
            .collect(),
        parts: pipeline.spec.all_tasks().map(|t| t.name.clone()).collect(),
    }
}

/// A Task or Pipeline, or the error page that says why not.
async fn item(state: &State, ns: &str, of: Definition, name: &str) -> Result<Item, Reply> {
    let cluster = state.in_ns(ns);
    let found = match of {
        Definition::Task => crate::resolve::find_task(&cluster, name)
            .await
            .map(|t| item_of_namespaced(&t)),
        Definition::ClusterTask => crate::resolve::find_cluster_task(&cluster, name)
            .await
            .map(|t| item_of_cluster_task(ns, &t)),
        Definition::Pipeline => crate::resolve::find_pipeline(&cluster, name)
            .await
            .map(|p| item_of_pipeline(&p)),
    };
    found.map_err(|e| state.failure(404, name, &format!("{e:#}")))
}

/// `/ns/NS/tasks` (with the ClusterTasks), `/ns/NS/pipelines`.
pub async fn catalog(state: &State, path: &str, ns: &str, of: Definition, fragment: bool) -> Reply {
    let cluster = state.in_ns(ns);
    let doing = format!("listing {} in namespace {ns}", of.plural());
    let mut note = None;
    let items: Result<Vec<Item>, kube::Error> = match of {
        Definition::Task | Definition::ClusterTask => match tasks(&cluster).list(&ListParams::default()).await {
            Ok(own) => {
                let mut items: Vec<Item> = own.items.iter().map(item_of_namespaced).collect();
                match cluster_tasks(&cluster).list(&ListParams::default()).await {
                    Ok(shared) => items.extend(shared.items.iter().map(|t| item_of_cluster_task(ns, t))),
                    // Reading ClusterTasks is granted apart (RBAC); without
                    // it the namespace's own Tasks are still worth showing.
                    Err(e) => note = Some(errors::describe(&e, "listing ClusterTasks", &cluster.server)),
                }
                Ok(items)
            }
            Err(e) => Err(e),
        },
        Definition::Pipeline => pipelines(&cluster)
            .list(&ListParams::default())
            .await
            .map(|l| l.items.iter().map(item_of_pipeline).collect()),
    };
    match items {
        Ok(items) => state.page(
            of.plural(),
            path,
            fragment,
            pages::catalog::list(of, ns, &items, note.as_deref()),
            None,
        ),
        Err(e) => state.failure(
            status_of(&e),
            of.plural(),
            &errors::describe(&e, &doing, &cluster.server),
        ),
    }
}

/// `/ns/NS/tasks/NAME`: params, workspaces, steps and recent runs.
pub async fn show(state: &State, path: &str, ns: &str, of: Definition, name: &str, fragment: bool) -> Reply {
    let item = match item(state, ns, of, name).await {
        Ok(item) => item,
        Err(reply) => return reply,
    };
    let filter = Filter {
        kind: Some(of.run_kind()),
        namespace: Some(ns.to_string()),
        owner: Some(name.to_string()),
        ..Filter::default()
    };
    state.index.listed(Duration::from_secs(10)).await;
    let body = state.index.read(|all| {
        let (recent, _) = select(all.values(), &filter, 0, 10);
        pages::catalog::show(&item, &recent, Timestamp::now())
    });
    state.page(&format!("{} {name}", of.plural()), path, fragment, body, None)
}

/// The start form; for a rerun, filled in with that run's values.
pub async fn start_form(state: &State, ns: &str, of: Definition, name: &str) -> Reply {
    let item = match item(state, ns, of, name).await {
        Ok(item) => item,
        Err(reply) => return reply,
    };
    let body = pages::catalog::start_form(&item, &Prefill::default(), &state.session.csrf, None);
    Reply::Html(200, pages::page(&state.frame("Start", None), body))
}

/// `/ns/NS/{taskruns,pipelineruns}/NAME/rerun`: the form of its Task or
/// Pipeline with the run's params, workspaces, service account and timeout.
pub async fn rerun_form(state: &State, ns: &str, kind: RunKind, name: &str) -> Reply {
    let cluster = state.in_ns(ns);
    let (of, owner, prefill) = match kind {
        RunKind::TaskRun => match crate::resolve::find_run(&cluster, name).await {
            Ok(run) => (
                match run.spec.task_ref.as_ref().map(|r| r.kind) {
                    Some(minitask_api::TaskKind::ClusterTask) => Definition::ClusterTask,
                    _ => Definition::Task,
                },
                run.task_name().map(str::to_string),
                Prefill {
                    params: param_texts(&run.spec.params),
                    workspaces: run
                        .spec
                        .workspaces
                        .iter()
                        .map(|w| (w.name.clone(), crate::inputs::binding_text(w)))
                        .collect(),
                    service_account: run.spec.service_account_name.clone().unwrap_or_default(),
                    timeout: run.spec.timeout.clone(),
                    rerun_of: Some(name.to_string()),
                },
            ),
            Err(e) => return state.failure(404, "Rerun", &format!("{e:#}")),
        },
        RunKind::PipelineRun => match crate::resolve::find_pipelinerun(&cluster, name).await {
            Ok(run) => (
                Definition::Pipeline,
                run.pipeline_name().map(str::to_string),
                Prefill {
                    params: param_texts(&run.spec.params),
                    workspaces: run
                        .spec
                        .workspaces
                        .iter()
                        .map(|w| (w.name.clone(), crate::pipeline_start::binding_text(w)))
                        .collect(),
                    service_account: run.spec.service_account_name.clone().unwrap_or_default(),
                    timeout: String::new(),
                    rerun_of: Some(name.to_string()),
                },
            ),
            Err(e) => return state.failure(404, "Rerun", &format!("{e:#}")),
        },
    };
    let Some(owner) = owner else {
        return state.failure(
            422,
            "Rerun",
            &format!(
                "{} {name} runs an inline spec: start it again with kubectl create -f",
                kind.word()
            ),
        );
    };
    let item = match item(state, ns, of, &owner).await {
        Ok(item) => item,
        Err(reply) => return reply,
    };
    let body = pages::catalog::start_form(&item, &prefill, &state.session.csrf, None);
    Reply::Html(200, pages::page(&state.frame("Rerun", None), body))
}

/// A run's params as the form shows them (an array one item per line).
fn param_texts(params: &[minitask_api::Param]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|p| {
            let text = match &p.value {
                minitask_api::ParamValue::Array(items) => items.join("\n"),
                other => crate::describe::show(other),
            };
            (p.name.clone(), text)
        })
        .collect()
}

/// POST of the start form: the new run's page, or the form again with the
/// reason it was refused.
pub async fn start(state: &State, ns: &str, of: Definition, name: &str, form: &HashMap<String, String>) -> Reply {
    match crate::dashboard::actions::start(&state.in_ns(ns), of, name, form).await {
        Ok(location) => Reply::Redirect(location),
        Err(refusal) => {
            let item = match item(state, ns, of, name).await {
                Ok(item) => item,
                Err(reply) => return reply,
            };
            let prefill = Prefill {
                params: form
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("param.")?.to_string(), v.clone())))
                    .collect(),
                workspaces: form
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("workspace.")?.to_string(), v.clone())))
                    .collect(),
                service_account: form.get("serviceAccountName").cloned().unwrap_or_default(),
                timeout: form.get("timeout").cloned().unwrap_or_default(),
                rerun_of: form.get("rerun").cloned(),
            };
            let body = pages::catalog::start_form(&item, &prefill, &state.session.csrf, Some(&refusal.message));
            Reply::Html(refusal.status, pages::page(&state.frame("Start", None), body))
        }
    }
}
