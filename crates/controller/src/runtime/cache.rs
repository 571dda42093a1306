//! What the caches keep of each object: only what the controller reads.
//! Memory follows the fields we use, not what users and the kubelet write.
//! Measured with `cargo xtask bench` (README, Performance): managedFields,
//! the pods' container specs and k8s-openapi's wide structs (a `Container`
//! is 2 KiB before it holds anything) were most of the cache.
//!
//! - Pods are read into `CachedPod`, which has only the fields below; the
//!   JSON of the others is skipped as it is parsed. `to_pod` gives the
//!   pure functions the `Pod` they take.
//! - TaskRuns lose managedFields and annotations; once finished, all but
//!   what retention and stopping their pods read (`run`).
//! - Tasks lose managedFields and annotations (`task`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus, Probe,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::{Resource, ResourceExt};
use minitask_api::{
    ANNOTATION_TASK_SPEC, AttemptStatus, ClusterTask, Pipeline, PipelineRun, Task, TaskRun, TaskRunSpec, TaskRunStatus,
};
use serde::Deserialize;

/// A pod as the pod cache keeps it: its identity and owners, the
/// task-spec annotation while it runs (a controller that died before its
/// first status write completes the status from it), the node,
/// `activeDeadlineSeconds`, the container names, and the status fields
/// that the status projection, deadlines and disruptions read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CachedPod {
    pub metadata: ObjectMeta,
    spec: Option<Spec>,
    status: Option<Status>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
struct Spec {
    node_name: Option<String>,
    active_deadline_seconds: Option<i64>,
    init_containers: Option<Vec<Named>>,
    containers: Vec<Named>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Named {
    name: String,
    /// Whether it has one (the reporter of a run that waits for a
    /// debugger); what it runs is never read.
    #[serde(default)]
    readiness_probe: Option<serde::de::IgnoredAny>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
struct Status {
    phase: Option<String>,
    reason: Option<String>,
    message: Option<String>,
    start_time: Option<Time>,
    conditions: Option<Vec<Condition>>,
    init_container_statuses: Option<Vec<ContainerInfo>>,
    container_statuses: Option<Vec<ContainerInfo>>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
    reason: Option<String>,
    message: Option<String>,
}

/// A container's status: its name, image, readiness and state; for a
/// sidecar, whether it started (its startup probe passed), how often the
/// kubelet restarted it and how it last ended.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
struct ContainerInfo {
    name: String,
    image: String,
    ready: bool,
    state: Option<ContainerState>,
    started: Option<bool>,
    restart_count: i32,
    // Boxed: a ContainerState is some 200 bytes even when empty, and only
    // a sidecar's is kept.
    last_state: Option<Box<ContainerState>>,
}

/// The metadata fields the controller reads; managedFields and most
/// annotations are skipped while parsing.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    annotations: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: Option<Spec>,
    #[serde(default)]
    status: Option<Status>,
}

impl<'de> Deserialize<'de> for CachedPod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Raw { metadata, spec, status } = Raw::deserialize(deserializer)?;
        let ended = status
            .as_ref()
            .is_some_and(|s| matches!(s.phase.as_deref(), Some("Succeeded" | "Failed")));
        // The pod records its Task spec for a status never written; the
        // status of a pod that has ended is written or read once (reconcile).
        let annotations: BTreeMap<String, String> = metadata
            .annotations
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, _)| key == ANNOTATION_TASK_SPEC && !ended)
            .collect();
        // Labels are not kept: the watch selects by label on the server,
        // and ownership is read from the owner references.
        let metadata = ObjectMeta {
            name: metadata.name,
            namespace: metadata.namespace,
            uid: metadata.uid,
            resource_version: metadata.resource_version,
            creation_timestamp: metadata.creation_timestamp,
            deletion_timestamp: metadata.deletion_timestamp,
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: metadata.owner_references,
            ..ObjectMeta::default()
        };
        Ok(CachedPod {
            metadata,
            spec,
            status: status.map(Status::slim),
        })
    }
}

/// The pod conditions any decision reads (pending_message, disruption).
const CONDITIONS_READ: [(&str, &str); 2] = [("PodScheduled", "False"), ("DisruptionTarget", "True")];

impl Status {
    fn slim(mut self) -> Status {
        if let Some(conditions) = self.conditions.as_mut() {
            conditions.retain(|c| CONDITIONS_READ.contains(&(c.type_.as_str(), c.status.as_str())));
        }
        for c in self
            .init_container_statuses
            .iter_mut()
            .chain(self.container_statuses.iter_mut())
            .flatten()
        {
            // The image is named only when it cannot be pulled.
            if c.state.as_ref().is_none_or(|s| s.waiting.is_none()) {
                c.image = String::new();
            }
            // The runtime's container ID is never read.
            if let Some(ended) = c.state.as_mut().and_then(|s| s.terminated.as_mut()) {
                ended.container_id = None;
            }
            // Only a sidecar's last end is read (a step never restarts).
            if !c.name.starts_with(crate::pod::sidecars::PREFIX) {
                c.last_state = None;
                c.started = None;
            }
            if let Some(ended) = c.last_state.as_mut().and_then(|s| s.terminated.as_mut()) {
                ended.container_id = None;
                ended.message = None;
            }
        }
        self
    }
}

impl Resource for CachedPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Pod::kind(&())
    }
    fn group(_: &()) -> Cow<'_, str> {
        Pod::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        Pod::version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Pod::plural(&())
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl CachedPod {
    /// The pod with the cached fields, for the pure functions.
    pub fn to_pod(&self) -> Pod {
        let names = |named: &[Named]| -> Vec<Container> {
            named
                .iter()
                .map(|n| Container {
                    name: n.name.clone(),
                    readiness_probe: n.readiness_probe.map(|_| Probe::default()),
                    ..Container::default()
                })
                .collect()
        };
        let statuses = |cached: &[ContainerInfo]| -> Vec<ContainerStatus> {
            cached
                .iter()
                .map(|c| ContainerStatus {
                    name: c.name.clone(),
                    image: c.image.clone(),
                    ready: c.ready,
                    state: c.state.clone(),
                    started: c.started,
                    restart_count: c.restart_count,
                    last_state: c.last_state.as_deref().cloned(),
                    ..ContainerStatus::default()
                })
                .collect()
        };
        Pod {
            metadata: self.metadata.clone(),
            spec: self.spec.as_ref().map(|s| PodSpec {
                node_name: s.node_name.clone(),
                active_deadline_seconds: s.active_deadline_seconds,
                init_containers: s.init_containers.as_deref().map(names),
                containers: names(&s.containers),
                ..PodSpec::default()
            }),
            status: self.status.as_ref().map(|s| PodStatus {
                phase: s.phase.clone(),
                reason: s.reason.clone(),
                message: s.message.clone(),
                start_time: s.start_time.clone(),
                conditions: s.conditions.as_ref().map(|conditions| {
                    conditions
                        .iter()
                        .map(|c| PodCondition {
                            type_: c.type_.clone(),
                            status: c.status.clone(),
                            reason: c.reason.clone(),
                            message: c.message.clone(),
                            ..PodCondition::default()
                        })
                        .collect()
                }),
                init_container_statuses: s.init_container_statuses.as_deref().map(statuses),
                container_statuses: s.container_statuses.as_deref().map(statuses),
                ..PodStatus::default()
            }),
        }
    }
}

/// A TaskRun as the run cache keeps it.
pub fn run(run: &mut TaskRun) {
    run.metadata.managed_fields = None;
    run.metadata.annotations = None;
    if !run.phase().is_terminal() {
        return;
    }
    // A PipelineRun's TaskRun is read by it after it ends: how it ended,
    // its results, and the labels that say which task it ran.
    let child = run
        .owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.kind == "PipelineRun");
    if !child {
        run.metadata.labels = None;
    }
    // A finished run is only looked at to stop its pods and for retention.
    let spec = std::mem::take(&mut run.spec);
    run.spec = TaskRunSpec {
        task_ref: spec.task_ref,
        timeout: spec.timeout,
        cancelled: spec.cancelled,
        ttl_seconds_after_finished: spec.ttl_seconds_after_finished,
        ..TaskRunSpec::default()
    };
    run.status = run.status.take().map(|status| TaskRunStatus {
        phase: status.phase,
        reason: status.reason,
        message: status.message.filter(|_| child),
        results: if child { status.results } else { Vec::new() },
        pod_name: status.pod_name,
        start_time: status.start_time,
        completion_time: status.completion_time,
        observed_generation: status.observed_generation,
        // Retention waits for the archive: only whether it holds the run.
        conditions: status
            .conditions
            .into_iter()
            .filter(|c| minitask_api::is_archived(std::slice::from_ref(c)))
            .map(|c| k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                message: String::new(),
                ..c
            })
            .collect(),
        retries_status: status
            .retries_status
            .into_iter()
            .map(|a| AttemptStatus {
                pod_name: a.pod_name,
                reason: a.reason,
                ..AttemptStatus::default()
            })
            .collect(),
        ..TaskRunStatus::default()
    });
}

/// A Task as the Task cache keeps it.
pub fn task(task: &mut Task) {
    task.metadata.managed_fields = None;
    task.metadata.annotations = None;
}

/// A ClusterTask as its cache keeps it.
pub fn cluster_task(task: &mut ClusterTask) {
    task.metadata.managed_fields = None;
    task.metadata.annotations = None;
}

/// A Pipeline as its cache keeps it.
pub fn pipeline(pipeline: &mut Pipeline) {
    pipeline.metadata.managed_fields = None;
    pipeline.metadata.annotations = None;
}

/// A PipelineRun as its cache keeps it.
pub fn pipeline_run(run: &mut PipelineRun) {
    run.metadata.managed_fields = None;
    run.metadata.annotations = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{task as task_spec, taskrun};
    use crate::status::retention::{Finished, by_ttl};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use k8s_openapi::jiff::Timestamp;
    use kube::runtime::watcher;
    use minitask_api::{Param, ParamValue, Phase, StepState};

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
    }

    fn run_with(phase: Phase) -> TaskRun {
        let mut run = taskrun("r", "t");
        run.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        run.metadata.annotations = Some(BTreeMap::from([(
            "kubectl.kubernetes.io/last-applied-configuration".into(),
            "{}".into(),
        )]));
        run.metadata.labels = Some(BTreeMap::from([("team".into(), "a".into())]));
        run.spec.ttl_seconds_after_finished = Some(60);
        run.spec.params = vec![Param {
            name: "p".into(),
            value: ParamValue::String("v".into()),
        }];
        run.status = Some(TaskRunStatus {
            phase: Some(phase),
            reason: Some("Succeeded".into()),
            message: Some("all 3 steps succeeded".into()),
            pod_name: Some("r-pod-retry1".into()),
            start_time: Some(at(0)),
            completion_time: Some(at(10)),
            task_spec: Some(Box::new(task_spec(&["a", "b", "c"]))),
            steps: vec![StepState::default(); 3],
            retries_status: vec![AttemptStatus {
                pod_name: "r-pod".into(),
                reason: "StepFailed".into(),
                message: "step a failed".into(),
                ..AttemptStatus::default()
            }],
            ..TaskRunStatus::default()
        });
        run
    }

    #[test]
    fn a_running_run_keeps_all_but_managed_fields_and_annotations() {
        let full = run_with(Phase::Running);
        let mut cached = full.clone();
        run(&mut cached);
        assert!(cached.metadata.managed_fields.is_none() && cached.metadata.annotations.is_none());
        assert_eq!((&cached.spec, &cached.status), (&full.spec, &full.status));
        assert_eq!(cached.metadata.labels, full.metadata.labels);
    }

    #[test]
    fn a_finished_run_keeps_what_retention_and_stopping_its_pods_read() {
        let full = run_with(Phase::Succeeded);
        let mut cached = full.clone();
        run(&mut cached);
        let status = cached.status.clone().unwrap();
        assert!(status.task_spec.is_none() && status.steps.is_empty() && cached.spec.params.is_empty());
        assert_eq!(
            (status.phase, status.pod_name.as_deref()),
            (Some(Phase::Succeeded), Some("r-pod-retry1"))
        );
        assert_eq!(status.retries_status[0].pod_name, "r-pod");
        for now in [at(20), at(70), at(100)] {
            assert_eq!(by_ttl(&cached, &now), by_ttl(&full, &now));
        }
        let (mut a, mut b) = (Finished::default(), Finished::default());
        a.apply(&watcher::Event::Apply(full.clone()), 0);
        b.apply(&watcher::Event::Apply(cached.clone()), 0);
        assert_eq!((a.is_beyond(&full, 0), b.is_beyond(&cached, 0)), (true, true));
        assert_eq!(cached.task_name(), Some("t"));
        // Stopping reads the status's pod names: the same pods either way.
        let pods = |r: &TaskRun| {
            let s = r.status.clone().unwrap();
            (
                s.pod_name,
                s.retries_status.into_iter().map(|a| a.pod_name).collect::<Vec<_>>(),
            )
        };
        assert_eq!(pods(&cached), pods(&full));
    }

    #[test]
    fn a_task_keeps_its_spec() {
        let mut t = Task::new("t", task_spec(&["a"]));
        t.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        let spec = t.spec.clone();
        task(&mut t);
        assert!(t.metadata.managed_fields.is_none());
        assert_eq!(t.spec, spec);
    }
}
