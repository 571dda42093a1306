//! What `start` checks before it creates a run, so that a mistake is told
//! at once rather than by a run stuck Pending: the ConfigMaps, Secrets and
//! claims that `-w` names exist (read with the user's own rights), and a
//! Pipeline's Tasks exist.

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use minitask_api::{Pipeline, PipelineWorkspaceBinding, TaskKind, TaskRef, WorkspaceBinding, did_you_mean, similar};

use crate::cluster::Cluster;
use crate::resolve::{cluster_task_names, task_names};

/// An object a workspace binding names: its kind, its name, and the
/// `kubectl create` that makes one.
struct Source {
    workspace: String,
    kind: &'static str,
    name: String,
}

fn sources_of_task(bindings: &[WorkspaceBinding]) -> Vec<Source> {
    bindings
        .iter()
        .filter_map(|b| {
            let (kind, name) = if let Some(c) = &b.config_map {
                ("ConfigMap", c.name.clone())
            } else if let Some(s) = &b.secret {
                ("Secret", s.secret_name.clone().unwrap_or_default())
            } else {
                (
                    "PersistentVolumeClaim",
                    b.persistent_volume_claim.as_ref()?.claim_name.clone(),
                )
            };
            Some(Source {
                workspace: b.name.clone(),
                kind,
                name,
            })
        })
        .collect()
}

/// The sources of a TaskRun's bindings.
pub async fn task_sources(cluster: &Cluster, bindings: &[WorkspaceBinding]) -> anyhow::Result<()> {
    check(cluster, sources_of_task(bindings)).await
}

/// The sources of a PipelineRun's bindings (a claim template makes its own).
pub async fn pipeline_sources(cluster: &Cluster, bindings: &[PipelineWorkspaceBinding]) -> anyhow::Result<()> {
    let as_task: Vec<WorkspaceBinding> = bindings
        .iter()
        .filter(|b| b.volume_claim_template.is_none())
        .map(PipelineWorkspaceBinding::to_task_binding)
        .collect();
    task_sources(cluster, &as_task).await
}

/// Each source read (metadata only: a Secret's data is never fetched). A
/// missing one is an error naming it; one the user may not read is a
/// warning, as the run's ServiceAccount may still have it.
async fn check(cluster: &Cluster, sources: Vec<Source>) -> anyhow::Result<()> {
    let ns = &cluster.namespace;
    let mut missing = Vec::new();
    for source in sources {
        let (found, known) = match source.kind {
            "ConfigMap" => look(Api::<ConfigMap>::namespaced(cluster.client.clone(), ns), &source.name).await,
            "Secret" => look(Api::<Secret>::namespaced(cluster.client.clone(), ns), &source.name).await,
            _ => {
                look(
                    Api::<PersistentVolumeClaim>::namespaced(cluster.client.clone(), ns),
                    &source.name,
                )
                .await
            }
        };
        let Source { workspace, kind, name } = source;
        match found {
            Ok(true) => {}
            Ok(false) => {
                let hint = did_you_mean(&similar(&name, known.iter().map(String::as_str)));
                missing.push(format!(
                    "workspace {workspace:?}: {kind} {name:?} does not exist in namespace {ns}{hint}; create it ({}) or bind another with -w {workspace}=...",
                    create_hint(kind, &name, ns)
                ));
            }
            Err(why) => eprintln!(
                "warning: workspace {workspace:?}: cannot check that {kind} {name:?} exists in namespace {ns} ({why}); if it does not, the run waits for it until its timeout"
            ),
        }
    }
    anyhow::ensure!(missing.is_empty(), "{}", missing.join("; "));
    Ok(())
}

/// Whether `name` exists (and the names there are, when it does not and
/// they may be listed); Err with a short reason when it cannot be told.
async fn look<K>(api: Api<K>, name: &str) -> (Result<bool, String>, Vec<String>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_metadata_opt(name).await {
        Ok(Some(_)) => (Ok(true), Vec::new()),
        Ok(None) => {
            let known = match api.list_metadata(&ListParams::default()).await {
                Ok(list) => list.items.iter().map(|o| o.name_any()).collect(),
                Err(_) => Vec::new(),
            };
            (Ok(false), known)
        }
        Err(kube::Error::Api(status)) if status.code == 403 => (Err("you may not read it".into()), Vec::new()),
        Err(e) => (Err(crate::errors::root_cause(&e)), Vec::new()),
    }
}

fn create_hint(kind: &str, name: &str, ns: &str) -> String {
    match kind {
        "ConfigMap" => format!("kubectl create configmap {name} --from-file=... -n {ns}"),
        "Secret" => format!("kubectl create secret generic {name} --from-literal=... -n {ns}"),
        _ => format!("kubectl apply -f <claim>.yaml -n {ns}"),
    }
}

/// Every `taskRef` of `pipeline` names a Task that exists; an error naming
/// each that does not, with what was probably meant.
pub async fn pipeline_tasks(cluster: &Cluster, pipeline: &Pipeline) -> anyhow::Result<()> {
    let refs: Vec<(&str, &TaskRef)> = pipeline
        .spec
        .all_tasks()
        .filter_map(|t| Some((t.name.as_str(), t.task_ref.as_ref()?)))
        .collect();
    if refs.is_empty() {
        return Ok(());
    }
    // Listing Tasks needs the rights that reading one does; without them
    // the controller's Valid condition still says it.
    let Ok(known) = task_names(cluster).await else {
        return Ok(());
    };
    let shared = match refs.iter().any(|(_, r)| r.kind == TaskKind::ClusterTask) {
        true => match cluster_task_names(cluster).await {
            Ok(names) => names,
            Err(_) => return Ok(()),
        },
        false => Vec::new(),
    };
    let ns = &cluster.namespace;
    let missing: Vec<String> = refs
        .iter()
        .filter_map(|(name, task)| {
            let (known, place) = match task.kind {
                TaskKind::Task => (&known, format!("in namespace {ns}")),
                TaskKind::ClusterTask => (&shared, "in the cluster".to_string()),
            };
            let hint = did_you_mean(&similar(&task.name, known.iter().map(String::as_str)));
            let exists = known.contains(&task.name);
            (!exists).then(|| {
                format!(
                    "task {name:?} names {}, which does not exist {place}{hint}",
                    task.describe()
                )
            })
        })
        .collect();
    let pipeline = pipeline.name_any();
    anyhow::ensure!(
        missing.is_empty(),
        "Pipeline {pipeline} cannot run: {}; create the Task or fix the taskRef (kubectl edit pipeline {pipeline} -n {ns})",
        missing.join("; ")
    );
    Ok(())
}
