//! What a PipelineRun creates: a TaskRun per pipeline task (one per
//! combination of a matrix), and a PersistentVolumeClaim per workspace
//! bound to a `volumeClaimTemplate`. Deterministic names, the run as the
//! controlling owner, labels to find them by: a restarted controller or a
//! stale cache gets AlreadyExists, never a second child.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};
use minitask_api::{
    LABEL_PIPELINE, LABEL_PIPELINE_TASK, LABEL_PIPELINERUN, LABEL_TASK, Param, PipelineRun, PipelineTask,
    PipelineWorkspaceBinding, TaskRun, TaskRunSpec, WorkspaceBinding, fnv1a, format_duration, label_value, shorten,
};

use crate::pod::MANAGER;

/// Object names are at most 63 characters here, so that a child's pod
/// name (`<child>-pod`) and labels stay readable.
const MAX_NAME: usize = 63;

/// The TaskRun of pipeline task `task` of run `run`; `index` for each
/// combination of a matrix.
pub fn child_name(run: &str, task: &str, index: Option<usize>) -> String {
    let base = format!("{run}-{task}");
    match index {
        None => shorten(&base, "", MAX_NAME),
        Some(i) => shorten(&base, &format!("-{i}"), MAX_NAME),
    }
}

/// The claim made for workspace `workspace` of run `run`: readable, and
/// with a hash of the pair, so that run `nightly` with workspace
/// `build-cache` and run `nightly-build` with workspace `cache` never want
/// one claim. A run that already made its claim under the name of earlier
/// versions (`<run>-<workspace>`, in `existing`) keeps it.
pub fn claim_name(run: &str, workspace: &str, existing: &BTreeSet<String>) -> String {
    let legacy = legacy_claim_name(run, workspace);
    if existing.contains(&legacy) {
        return legacy;
    }
    let hash = format!("-{:08x}", fnv1a(format!("{run}/{workspace}").as_bytes()) as u32);
    shorten(&format!("{run}-{workspace}"), &hash, MAX_NAME)
}

/// The claim name of versions before the hash.
pub fn legacy_claim_name(run: &str, workspace: &str) -> String {
    shorten(&format!("{run}-{workspace}"), "", MAX_NAME)
}

/// The labels every child of `run` carries (and its claims).
fn labels(run: &PipelineRun) -> BTreeMap<String, String> {
    let name = run.name_any();
    BTreeMap::from([
        (LABEL_PIPELINERUN.to_string(), label_value(&name)),
        (
            LABEL_PIPELINE.to_string(),
            label_value(run.pipeline_name().unwrap_or(&name)),
        ),
        ("app.kubernetes.io/managed-by".to_string(), MANAGER.to_string()),
    ])
}

fn metadata(run: &PipelineRun, name: String, mut labels: BTreeMap<String, String>) -> ObjectMeta {
    labels.extend(self::labels(run));
    ObjectMeta {
        name: Some(name),
        namespace: run.namespace(),
        labels: Some(labels),
        owner_references: run.controller_owner_ref(&()).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// The TaskRun `name` that runs `task` for `run`, with its params already
/// substituted, at most `timeout` long.
/// `claims` are the claims the run has made (see `claim_name`).
pub fn child(
    run: &PipelineRun,
    task: &PipelineTask,
    name: String,
    params: Vec<Param>,
    timeout: Duration,
    claims: &BTreeSet<String>,
) -> TaskRun {
    let mut labels = BTreeMap::from([(LABEL_PIPELINE_TASK.to_string(), task.name.clone())]);
    if let Some(task_ref) = &task.task_ref {
        labels.insert(LABEL_TASK.to_string(), label_value(&task_ref.name));
    }
    let spec = TaskRunSpec {
        task_ref: task.task_ref.clone(),
        task_spec: task.task_spec.clone(),
        timeout: format_duration(timeout.max(Duration::from_secs(1))),
        service_account_name: run.spec.service_account_name.clone(),
        params,
        workspaces: workspaces(run, task, claims),
        retries: task.retries,
        pod_template: run.spec.pod_template.clone(),
        ..TaskRunSpec::default()
    };
    let mut child = TaskRun::new(&name, spec);
    child.metadata = metadata(run, name, labels);
    child
}

/// The task's workspaces, bound to what the run binds the Pipeline's to.
/// A Pipeline workspace the run leaves unbound (an optional one) gives the
/// task nothing.
fn workspaces(run: &PipelineRun, task: &PipelineTask, claims: &BTreeSet<String>) -> Vec<WorkspaceBinding> {
    let run_name = run.name_any();
    task.workspaces
        .iter()
        .filter_map(|w| {
            let bound = run.spec.workspaces.iter().find(|b| b.name == w.workspace)?;
            let sub_path = match (&bound.sub_path, &w.sub_path) {
                (Some(a), Some(b)) => Some(format!("{a}/{b}")),
                (a, b) => a.clone().or_else(|| b.clone()),
            };
            let claim = bound
                .volume_claim_template
                .as_ref()
                .map(|_| PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name(&run_name, &bound.name, claims),
                    read_only: None,
                });
            Some(WorkspaceBinding {
                name: w.name.clone(),
                sub_path,
                empty_dir: bound.empty_dir.clone(),
                persistent_volume_claim: claim.or_else(|| bound.persistent_volume_claim.clone()),
                config_map: bound.config_map.clone(),
                secret: bound.secret.clone(),
            })
        })
        .collect()
}

/// The claim a `volumeClaimTemplate` binding asks for, owned by the run.
pub fn claim(
    run: &PipelineRun,
    binding: &PipelineWorkspaceBinding,
    claims: &BTreeSet<String>,
) -> Option<PersistentVolumeClaim> {
    let template = binding.volume_claim_template.as_ref()?;
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert("minitask.dev/workspace".into(), label_value(&binding.name));
    let mut metadata = metadata(run, claim_name(&run.name_any(), &binding.name, claims), labels);
    metadata.annotations = template.metadata.as_ref().and_then(|m| m.annotations.clone());
    Some(PersistentVolumeClaim {
        metadata,
        spec: Some(template.spec.clone()),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minitask_api::ParamValue;
    use serde_json::json;

    fn run() -> PipelineRun {
        serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
            "metadata": {"name": "ci-7", "namespace": "ns", "uid": "u-1"},
            "spec": {"pipelineRef": {"name": "ci"}, "serviceAccountName": "builder",
                     "workspaces": [
                        {"name": "src", "volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}},
                        {"name": "cfg", "configMap": {"name": "settings"}, "subPath": "ci"},
                     ]},
        }))
        .unwrap()
    }

    #[test]
    fn children_have_deterministic_names_that_fit() {
        assert_eq!(child_name("ci-7", "build", None), "ci-7-build");
        assert_eq!(child_name("ci-7", "test", Some(3)), "ci-7-test-3");
        let long = child_name(&"r".repeat(60), "build", None);
        assert_eq!(long.len(), 63);
        assert_eq!(long, child_name(&"r".repeat(60), "build", None));
        assert_ne!(long, child_name(&"r".repeat(60), "built", None));
        assert!(child_name(&"r".repeat(60), "build", Some(12)).ends_with("-12"));
    }

    /// Run `nightly` with workspace `build-cache` and run `nightly-build`
    /// with workspace `cache` want claims of different names; a run that
    /// made its claim under the old name keeps it.
    #[test]
    fn claim_names_never_collide_and_a_claim_of_the_old_name_is_kept() {
        let none = BTreeSet::new();
        let a = claim_name("nightly", "build-cache", &none);
        let b = claim_name("nightly-build", "cache", &none);
        assert!(
            a.starts_with("nightly-build-cache-") && b.starts_with("nightly-build-cache-"),
            "{a} {b}"
        );
        assert_ne!(a, b);
        assert_eq!(a, claim_name("nightly", "build-cache", &none), "stable");
        assert!(claim_name(&"r".repeat(60), "src", &none).len() <= 63);
        let old = BTreeSet::from(["ci-7-src".to_string()]);
        assert_eq!(claim_name("ci-7", "src", &old), "ci-7-src");
    }

    #[test]
    fn a_child_is_owned_labelled_and_bound_to_the_runs_workspaces() {
        let task: PipelineTask = serde_json::from_value(json!({
            "name": "build", "taskRef": {"name": "make"}, "retries": 2,
            "workspaces": [{"name": "source", "workspace": "src"}, {"name": "config", "workspace": "cfg", "subPath": "build"}, {"name": "cache", "workspace": "unbound"}],
        }))
        .unwrap();
        let params = vec![Param {
            name: "x".into(),
            value: ParamValue::String("1".into()),
        }];
        let child = child(
            &run(),
            &task,
            "ci-7-build".into(),
            params.clone(),
            Duration::from_secs(90),
            &BTreeSet::new(),
        );
        let owner = &child.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("PipelineRun", "u-1", Some(true))
        );
        let labels = child.metadata.labels.unwrap();
        assert_eq!(labels[LABEL_PIPELINERUN], "ci-7");
        assert_eq!(labels[LABEL_PIPELINE_TASK], "build");
        assert_eq!(labels[LABEL_PIPELINE], "ci");
        assert_eq!(labels[LABEL_TASK], "make");
        assert_eq!(child.spec.timeout, "1m30s");
        assert_eq!(child.spec.retries, 2);
        assert_eq!(child.spec.params, params);
        assert_eq!(child.spec.service_account_name.as_deref(), Some("builder"));
        let ws = &child.spec.workspaces;
        assert_eq!(ws.len(), 2, "the unbound workspace gives nothing");
        let bound = &ws[0].persistent_volume_claim.as_ref().unwrap().claim_name;
        assert_eq!(*bound, claim_name("ci-7", "src", &BTreeSet::new()));
        assert_eq!(ws[1].config_map.as_ref().unwrap().name, "settings");
        assert_eq!(ws[1].sub_path.as_deref(), Some("ci/build"));
    }

    #[test]
    fn a_claim_template_becomes_a_claim_the_run_owns() {
        let run = run();
        let none = BTreeSet::new();
        let claim = claim(&run, &run.spec.workspaces[0], &none).unwrap();
        assert_eq!(claim.metadata.name, Some(claim_name("ci-7", "src", &none)));
        assert_eq!(claim.metadata.owner_references.unwrap()[0].uid, "u-1");
        assert_eq!(claim.metadata.labels.unwrap()[LABEL_PIPELINERUN], "ci-7");
        assert!(super::claim(&run, &run.spec.workspaces[1], &none).is_none());
    }
}
