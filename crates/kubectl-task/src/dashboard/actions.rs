//! What the dashboard changes, each as the user (their kubeconfig, their
//! RBAC): start a Task or Pipeline from the form, rerun, cancel, delete.
//! The runs are built by the same code as `kubectl task start`.

use std::collections::HashMap;

use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use minitask_api::{ParamType, ParamValue, TaskKind};
use serde_json::json;

use super::index::RunKind;
use super::route::{Action, Definition};
use crate::cluster::Cluster;
use crate::errors;
use crate::resolve::{as_task, find_cluster_task, find_pipeline, find_task, pipelineruns, runs};
use crate::start::Args;

/// Why an action did not happen, for the page: the HTTP status and the
/// CLI's one-line explanation.
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

fn refusal(error: anyhow::Error) -> Refusal {
    let status = error
        .chain()
        .find_map(|e| match e.downcast_ref::<kube::Error>() {
            Some(kube::Error::Api(s)) => Some(s.code),
            _ => None,
        })
        .unwrap_or(422);
    Refusal {
        status,
        message: format!("{error:#}"),
    }
}

fn api_refusal(e: &kube::Error, doing: &str, cluster: &Cluster) -> Refusal {
    Refusal {
        status: match e {
            kube::Error::Api(s) => s.code,
            _ => 502,
        },
        message: errors::describe(e, doing, &cluster.server),
    }
}

/// Cancels or deletes a run; where to go next.
pub async fn act(cluster: &Cluster, kind: RunKind, name: &str, action: Action) -> Result<String, Refusal> {
    let ns = &cluster.namespace;
    let word = kind.word().to_ascii_lowercase();
    let patch = json!({"spec": {"cancelled": true}});
    let (doing, result) = match (action, kind) {
        (Action::Cancel, RunKind::TaskRun) => (
            format!("cancelling {word} {name} in namespace {ns}"),
            runs(cluster)
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ()),
        ),
        (Action::Cancel, RunKind::PipelineRun) => (
            format!("cancelling {word} {name} in namespace {ns}"),
            pipelineruns(cluster)
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ()),
        ),
        (Action::Delete, RunKind::TaskRun) => (
            format!("deleting {word} {name} in namespace {ns}"),
            runs(cluster)
                .delete(name, &DeleteParams::background())
                .await
                .map(|_| ()),
        ),
        (Action::Delete, RunKind::PipelineRun) => (
            format!("deleting {word} {name} in namespace {ns}"),
            pipelineruns(cluster)
                .delete(name, &DeleteParams::background())
                .await
                .map(|_| ()),
        ),
    };
    result.map_err(|e| api_refusal(&e, &doing, cluster))?;
    Ok(match action {
        Action::Cancel => format!("/ns/{ns}/{}/{name}", kind.plural()),
        Action::Delete => "/runs".into(),
    })
}

/// The form's values as `kubectl task start` flags (array params are set
/// after, one item per line).
fn args_of(name: &str, form: &HashMap<String, String>, rerun: Option<(RunKind, String)>) -> Args {
    let mut args = Args {
        task: name.to_string(),
        use_param_defaults: true,
        ..Args::default()
    };
    let mut keys: Vec<&String> = form.keys().collect();
    keys.sort();
    for key in keys {
        let value = &form[key];
        if let Some(param) = key.strip_prefix("param.") {
            // Whole, newlines and all (a browser sends a textarea's as
            // CRLF); an array's items are set after.
            args.params.push(format!("{param}={}", value.replace("\r\n", "\n")));
        } else if let Some(workspace) = key.strip_prefix("workspace.")
            && !value.trim().is_empty()
        {
            args.workspaces.push(format!("{workspace}={}", value.trim()));
        }
    }
    let given = |k: &str| form.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    args.service_account = given("serviceAccountName");
    args.timeout = given("timeout");
    match rerun {
        Some((RunKind::TaskRun, run)) => args.use_taskrun = Some(run),
        Some((RunKind::PipelineRun, run)) => args.use_pipelinerun = Some(run),
        None => {}
    }
    args
}

/// Drops the workspace flags a rerun form sent back as it showed them
/// (`shown`: the source run's bindings as text): the source run's own
/// binding is kept, even one whose text does not parse back (a subPath).
fn keep_unedited<'a>(args: &mut Args, shown: impl Iterator<Item = (&'a String, String)>) {
    let shown: Vec<String> = shown.map(|(name, text)| format!("{name}={text}")).collect();
    args.workspaces.retain(|w| !shown.contains(w));
}

/// An array param's items: one per line of the form, kept whole (commas
/// and all).
fn array_items(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Starts a run of a Task or Pipeline from the posted form; the new run's
/// page.
pub async fn start(
    cluster: &Cluster,
    of: Definition,
    name: &str,
    form: &HashMap<String, String>,
) -> Result<String, Refusal> {
    let ns = cluster.namespace.clone();
    let rerun = form
        .get("rerun")
        .filter(|r| super::route::is_name(r))
        .map(|r| (of.run_kind(), r.clone()));
    let args = args_of(name, form, rerun.clone());
    let arrays = |declared: &[minitask_api::ParamSpec], params: &mut Vec<minitask_api::Param>| {
        for param in params.iter_mut() {
            let is_array = declared
                .iter()
                .any(|d| d.name == param.name && d.type_ == ParamType::Array);
            if let (true, Some(text)) = (is_array, form.get(&format!("param.{}", param.name))) {
                param.value = ParamValue::Array(array_items(text));
            }
        }
    };
    match of {
        Definition::Task | Definition::ClusterTask => {
            let (task, kind, edit) = if of == Definition::Task {
                let task = find_task(cluster, name).await.map_err(refusal)?;
                (task, TaskKind::Task, format!("kubectl edit task {name} -n {ns}"))
            } else {
                let task = find_cluster_task(cluster, name).await.map_err(refusal)?;
                (
                    as_task(task),
                    TaskKind::ClusterTask,
                    format!("kubectl edit clustertask {name}"),
                )
            };
            let problems = minitask_api::undeclared(&task.spec);
            if !problems.is_empty() {
                return Err(Refusal {
                    status: 422,
                    message: format!(
                        "{} {name} cannot run: {}; fix it ({edit})",
                        kind.as_str(),
                        problems.join("; ")
                    ),
                });
            }
            let source = match &rerun {
                Some((_, run)) => Some(crate::resolve::find_run(cluster, run).await.map_err(refusal)?),
                None => None,
            };
            let mut args = args;
            if let Some(source) = &source {
                let shown = source.spec.workspaces.iter();
                keep_unedited(&mut args, shown.map(|w| (&w.name, crate::inputs::binding_text(w))));
            }
            let mut run = crate::start::taskrun(&args, &task, kind, source.as_ref()).map_err(refusal)?;
            arrays(&task.spec.params, &mut run.spec.params);
            crate::preflight::task_sources(cluster, &run.spec.workspaces)
                .await
                .map_err(refusal)?;
            let doing = format!("creating a TaskRun of {name} in namespace {ns}");
            let created = runs(cluster)
                .create(&PostParams::default(), &run)
                .await
                .map_err(|e| api_refusal(&e, &doing, cluster))?;
            Ok(format!("/ns/{ns}/taskruns/{}", created.name_any()))
        }
        Definition::Pipeline => {
            let pipeline = find_pipeline(cluster, name).await.map_err(refusal)?;
            if let Some(why) = crate::pipeline_start::invalid(&pipeline) {
                return Err(Refusal {
                    status: 422,
                    message: format!(
                        "Pipeline {name} cannot run: {why}; fix the Pipeline (kubectl edit pipeline {name} -n {ns})"
                    ),
                });
            }
            let source = match &rerun {
                Some((_, run)) => Some(crate::resolve::find_pipelinerun(cluster, run).await.map_err(refusal)?),
                None => None,
            };
            let mut args = args;
            if let Some(source) = &source {
                let shown = source.spec.workspaces.iter();
                keep_unedited(
                    &mut args,
                    shown.map(|w| (&w.name, crate::pipeline_start::binding_text(w))),
                );
            }
            let mut run = crate::pipeline_start::pipelinerun(&args, &pipeline, source.as_ref()).map_err(refusal)?;
            arrays(&pipeline.spec.params, &mut run.spec.params);
            let problems = minitask_api::binding_problems(&pipeline.spec, &run.spec.workspaces);
            if !problems.is_empty() {
                return Err(Refusal {
                    status: 422,
                    message: format!("pipeline/{name} cannot run so: {}", problems.join("; ")),
                });
            }
            crate::preflight::pipeline_sources(cluster, &run.spec.workspaces)
                .await
                .map_err(refusal)?;
            let doing = format!("creating a PipelineRun of {name} in namespace {ns}");
            let created = pipelineruns(cluster)
                .create(&PostParams::default(), &run)
                .await
                .map_err(|e| api_refusal(&e, &doing, cluster))?;
            Ok(format!("/ns/{ns}/pipelineruns/{}", created.name_any()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_flags_of_kubectl_task_start() {
        let form: HashMap<String, String> = [
            ("param.greeting", "hi, there"),
            ("param.names", "ada\r\ngrace"),
            ("workspace.src", " pvc:src "),
            ("workspace.cache", ""),
            ("serviceAccountName", "builder"),
            ("timeout", ""),
            ("csrf", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let args = args_of("hello", &form, Some((RunKind::TaskRun, "hello-run-1".into())));
        assert_eq!(args.params, ["greeting=hi, there", "names=ada\ngrace"]);
        assert_eq!(args.workspaces, ["src=pvc:src"]);
        assert_eq!(args.service_account.as_deref(), Some("builder"));
        assert_eq!(args.timeout, None);
        assert_eq!(args.use_taskrun.as_deref(), Some("hello-run-1"));
        assert!(args.use_param_defaults);
        assert_eq!(array_items("ada\r\n a,b \n\n"), ["ada", "a,b"]);
    }
}
