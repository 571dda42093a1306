//! Building the Pod that runs a TaskRun: a pure function of its inputs.
//!
//! Steps run strictly in order because all but the last are init
//! containers, which the kubelet runs one at a time, each only after the one
//! before exited 0; the last step is the pod's only container. With
//! `restartPolicy: Never` the first failing step fails the pod and the steps
//! after it never start.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{Container, EmptyDirVolumeSource, Pod, PodSpec, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};
use minitask_api::{
    ANNOTATION_TASK_SPEC, LABEL_TASK, LABEL_TASKRUN, Step, TaskRun, TaskSpec, label_value, parse_duration,
};

use crate::names::{pod_name, step_container};
use crate::script::{SCRIPTS_DIR, script_command};

/// The directory every step shares and starts in.
pub const WORKSPACE_DIR: &str = "/workspace";
const WORKSPACE_VOLUME: &str = "workspace";
const SCRIPTS_VOLUME: &str = "minitask-scripts";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGER: &str = "minitask-controller";

/// Cluster-wide choices for the pods the controller builds.
#[derive(Clone, Debug, Default)]
pub struct PodOptions {
    /// `imagePullPolicy` of every step; the Kubernetes default when None.
    pub image_pull_policy: Option<String>,
}

/// Why a TaskRun cannot be turned into a pod. The admission rules reject
/// most of these; the rest come from objects the rules cannot see.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BuildError {
    #[error("the Task has no steps: add at least one step")]
    NoSteps,
    #[error("step name {0:?} is used twice: give every step a unique name")]
    DuplicateStep(String),
    #[error("step {0:?} needs exactly one of script or command")]
    StepCommand(String),
    #[error("spec.timeout: {0}")]
    Timeout(String),
    #[error("the TaskRun has no {0} yet; it is created by the API server")]
    Metadata(&'static str),
}

/// The pod that runs `task` for `run`.
pub fn build_pod(task: &TaskSpec, run: &TaskRun, options: &PodOptions) -> Result<Pod, BuildError> {
    let (last, first) = task.steps.split_last().ok_or(BuildError::NoSteps)?;
    let mut seen = HashSet::new();
    for step in &task.steps {
        if !seen.insert(&step.name) {
            return Err(BuildError::DuplicateStep(step.name.clone()));
        }
    }
    let name = run.metadata.name.as_deref().ok_or(BuildError::Metadata("name"))?;
    let namespace = run
        .metadata
        .namespace
        .as_deref()
        .ok_or(BuildError::Metadata("namespace"))?;
    let owner = run.controller_owner_ref(&()).ok_or(BuildError::Metadata("uid"))?;
    let timeout = parse_duration(&run.spec.timeout).map_err(BuildError::Timeout)?;

    let task_label = run.task_name().unwrap_or(name);
    let labels = BTreeMap::from([
        (LABEL_TASKRUN.to_string(), label_value(name)),
        (LABEL_TASK.to_string(), label_value(task_label)),
        (MANAGED_BY.to_string(), MANAGER.to_string()),
    ]);
    let init_containers = first
        .iter()
        .map(|s| container(s, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(name)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                ANNOTATION_TASK_SPEC.to_string(),
                task_spec_json(task),
            )])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            init_containers: (!init_containers.is_empty()).then_some(init_containers),
            containers: vec![container(last, options)?],
            volumes: Some(vec![empty_dir(WORKSPACE_VOLUME), empty_dir(SCRIPTS_VOLUME)]),
            service_account_name: run.spec.service_account_name.clone(),
            // The kubelet stops the pod once the run is over its timeout;
            // rounding up keeps a sub-second timeout from becoming 0.
            active_deadline_seconds: Some(timeout.as_secs_f64().ceil().max(1.0) as i64),
            ..PodSpec::default()
        }),
        status: None,
    })
}

fn container(step: &Step, options: &PodOptions) -> Result<Container, BuildError> {
    let (command, args) = match (&step.script, &step.command) {
        (Some(script), None) => {
            let (command, args) = script_command(&step.name, script);
            (Some(command), Some(args))
        }
        (None, Some(command)) => (Some(command.clone()), step.args.clone()),
        _ => return Err(BuildError::StepCommand(step.name.clone())),
    };
    Ok(Container {
        name: step_container(&step.name),
        image: Some(step.image.clone()),
        image_pull_policy: options.image_pull_policy.clone(),
        command,
        args,
        env: step.env.clone(),
        working_dir: Some(step.working_dir.clone().unwrap_or_else(|| WORKSPACE_DIR.into())),
        resources: step.resources.clone(),
        volume_mounts: Some(vec![
            mount(WORKSPACE_VOLUME, WORKSPACE_DIR),
            mount(SCRIPTS_VOLUME, SCRIPTS_DIR),
        ]),
        ..Container::default()
    })
}

fn task_spec_json(task: &TaskSpec) -> String {
    serde_json::to_string(task).expect("a TaskSpec always serializes")
}

/// The TaskSpec a pod was built from (see `ANNOTATION_TASK_SPEC`).
pub fn task_spec_of(pod: &Pod) -> Option<TaskSpec> {
    serde_json::from_str(pod.annotations().get(ANNOTATION_TASK_SPEC)?).ok()
}

/// True when `pod` is controlled by `run` (same UID): a pod with the right
/// name but another owner is never adopted.
pub fn is_owned_by(pod: &Pod, run: &TaskRun) -> bool {
    let uid = run.meta().uid.as_deref();
    uid.is_some()
        && pod
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

#[cfg(test)]
#[path = "pod_tests.rs"]
mod tests;
