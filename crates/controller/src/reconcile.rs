//! One reconcile of one TaskRun: read from the caches, make sure its pod
//! exists, project the status, write it once if it changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use minitask_api::{Phase, Reason, Task, TaskRun, TaskRunStatus, TaskSpec};
use serde_json::json;
use tracing::{info, instrument, warn};

use crate::deadline::{Pulls, image_pulls, stop_reason, time_left};
use crate::events::announcements;
use crate::leases::Shards;
use crate::metrics::{Metrics, ReasonLabel};
use crate::names::pod_name;
use crate::pod::{MANAGER, PodOptions, build_pod, is_owned_by, task_spec_of};
use crate::retention::{Retention, beyond_keep, by_ttl};
use crate::retry::retry;
use crate::shard::shard_of_run;
use crate::status::{project_status, with_outcome};

/// What every reconcile shares: the client, the caches and the settings.
pub struct Context {
    pub client: Client,
    /// Pods labelled `minitask.dev/taskrun`, from a watch.
    pub pods: Store<Pod>,
    /// Tasks, from a watch.
    pub tasks: Store<Task>,
    /// TaskRuns, from the controller's own watch (for retention).
    pub runs: Store<TaskRun>,
    pub options: PodOptions,
    /// The shards this replica works on.
    pub shards: Shards,
    pub metrics: Arc<Metrics>,
    /// Publishes Events on TaskRuns.
    pub recorder: Recorder,
    /// Keep only this many finished runs per Task (`--keep-finished-per-task`).
    pub keep_finished_per_task: Option<usize>,
    /// Pods this process created that its cache may not show yet (the
    /// "expectations" of Kubernetes' own controllers): a miss on one of
    /// these is the watch lagging, not a deleted pod.
    created: Mutex<HashMap<ObjectRef<Pod>, Instant>>,
}

impl Context {
    /// A context for a single replica: every shard, no retention policy.
    pub fn new(client: Client, pods: Store<Pod>, tasks: Store<Task>, options: PodOptions) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: None,
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            pods,
            tasks,
            runs: reflector::store().0,
            options,
            shards: Shards::all(1),
            metrics: Arc::default(),
            keep_finished_per_task: None,
            created: Mutex::default(),
        }
    }

    fn expect_created(&self, pod: ObjectRef<Pod>) {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pod, Instant::now());
    }

    /// True while the watch has had less than EXPECTATION_TTL to deliver a
    /// pod we created; seeing the pod (or the TTL passing) ends it.
    fn awaits_created(&self, pod: &ObjectRef<Pod>, seen: bool) -> bool {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created.retain(|_, at| at.elapsed() < EXPECTATION_TTL);
        if seen {
            created.remove(pod);
            return false;
        }
        created.contains_key(pod)
    }
}

/// How long a created pod may take to show up in the cache before we ask
/// the API server directly.
const EXPECTATION_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("TaskRun {0} has no namespace")]
    NoNamespace(String),
    #[error("creating pod {pod}: {source}")]
    CreatePod { pod: String, source: kube::Error },
    #[error("reading pod {pod}: {source}")]
    ReadPod { pod: String, source: kube::Error },
    #[error("stopping pod {pod}: {source}")]
    StopPod { pod: String, source: kube::Error },
    #[error("writing the status of TaskRun {run}: {source}")]
    WriteStatus { run: String, source: kube::Error },
    #[error("deleting finished TaskRun {run}: {source}")]
    DeleteRun { run: String, source: kube::Error },
}

/// A safety net only: pod and Task events wake the run long before this.
const RESYNC: Duration = Duration::from_secs(300);

#[instrument(skip_all, fields(taskrun = %run.name_any(), namespace = run.namespace().as_deref().unwrap_or_default()))]
pub async fn reconcile(run: Arc<TaskRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Another replica owns this run's shard: it is not ours to touch. When
    // this replica wins the shard, every run is looked at again.
    if !ctx.shards.holds(shard_of_run(&run, ctx.shards.count())) {
        return Ok(Action::await_change());
    }
    let namespace = run.namespace().ok_or_else(|| Error::NoNamespace(run.name_any()))?;
    let now = Time(Timestamp::from_second(Timestamp::now().as_second()).expect("now is a valid time"));
    if run.phase().is_terminal() {
        return retain(&run, &namespace, &ctx, &now).await;
    }
    let previous = run.status.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    // Each failed attempt is recorded before the next starts, so the
    // record says which attempt's pod to look for.
    let name = pod_name(&run.name_any(), previous.retries_status.len());

    let key = ObjectRef::new(&name).within(&namespace);
    let cached = ctx.pods.get(&key);
    if ctx.awaits_created(&key, cached.is_some()) {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let pod = match (cached, &previous.pod_name) {
        (Some(pod), _) => Some(pod.as_ref().clone()),
        // A pod we recorded but cannot see: deleted, or created by an
        // earlier controller process whose cache we do not share. Only the
        // API server can tell; this is the one read outside the caches.
        (None, Some(_)) => pods.get_opt(&name).await.map_err(|source| Error::ReadPod {
            pod: name.clone(),
            source,
        })?,
        (None, None) => None,
    };
    let (mut next, pod) = match (&pod, &previous.pod_name) {
        (Some(pod), _) => (observe(&run, &previous, pod, &now), Some(pod.clone())),
        (None, Some(_)) => (project_status(&previous, None, &now), None),
        // A run cancelled or out of time before it started never starts.
        (None, None) if stop_reason(&run, &previous, &now).is_some() => (previous.clone(), None),
        (None, None) => start(&run, &previous, &pods, &ctx, &now).await?,
    };
    let mut recheck = None;
    if !next.phase.is_some_and(Phase::is_terminal) {
        let pulls = pod
            .as_ref()
            .map_or(Pulls::Fine, |p| image_pulls(p, &now, ctx.options.image_pull_grace));
        let stop = match (stop_reason(&run, &next, &now), pulls) {
            (Some(stop), _) => Some(stop),
            (None, Pulls::Failed(message)) => Some((Reason::ImagePullFailed, message)),
            (None, Pulls::Failing(left)) => {
                recheck = Some(left);
                None
            }
            (None, Pulls::Fine) => None,
        };
        if let Some((reason, message)) = stop {
            if let Some(pod) = &pod {
                stop_pod(&pods, pod).await?;
            }
            next = with_outcome(&next, Phase::Failed, reason, message, &now);
        }
    }
    if let Some(retry) = retry(&run, &next, pod.as_ref(), &now) {
        next = start(&run, &retry, &pods, &ctx, &now).await?.0;
    }
    next.observed_generation = run.metadata.generation;

    if run.status.as_ref() != Some(&next) {
        write_status(&run, &namespace, &next, &ctx.client).await?;
        info!(phase = ?next.phase, reason = next.reason.as_deref(), "status updated");
        // Only now that the write has landed: Events and metrics describe
        // what is stored.
        announce(&run, &previous, &next, &ctx, &now).await;
    }
    Ok(match next.phase {
        Some(phase) if phase.is_terminal() => Action::await_change(),
        // Wake up at the timeout or the end of an image pull's grace
        // period, which no watch event announces.
        _ => {
            let left = time_left(&run, &now).map_or(RESYNC, |left| left.min(RESYNC));
            Action::requeue(recheck.map_or(left, |r| r.min(left)) + Duration::from_secs(1))
        }
    })
}

/// Publishes the Events of a status change and counts its metrics.
async fn announce(run: &TaskRun, before: &TaskRunStatus, after: &TaskRunStatus, ctx: &Context, now: &Time) {
    let created = run.metadata.creation_timestamp.as_ref().map_or(0, |t| t.0.as_second());
    if before.pod_name.is_none() && after.pod_name.is_some() && before.retries_status.is_empty() {
        let seconds = (Timestamp::now().as_millisecond() as f64 / 1000.0) - created as f64;
        ctx.metrics.pod_creation_seconds.observe(seconds.max(0.0));
    }
    if !before.phase.is_some_and(Phase::is_terminal) && after.phase.is_some_and(Phase::is_terminal) {
        let reason = after.reason.clone().unwrap_or_default();
        ctx.metrics.finished.get_or_create(&ReasonLabel { reason }).inc();
        let end = after.completion_time.as_ref().unwrap_or(now).0.as_second();
        ctx.metrics.run_seconds.observe((end - created).max(0) as f64);
    }
    for a in announcements(before, after) {
        let event = Event {
            type_: a.type_,
            reason: a.reason.into(),
            note: Some(a.note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &run.object_ref(&())).await {
            warn!(%e, reason = a.reason, "publishing an Event");
        }
    }
}

/// A finished run: deleted once its TTL has passed, or when it is beyond
/// the newest `--keep-finished-per-task` runs of its Task (which are
/// collected here too).
async fn retain(run: &TaskRun, namespace: &str, ctx: &Context, now: &Time) -> Result<Action, Error> {
    let api: Api<TaskRun> = Api::namespaced(ctx.client.clone(), namespace);
    let mut doomed: Vec<String> = Vec::new();
    if let Some(keep) = ctx.keep_finished_per_task {
        doomed.extend(beyond_keep(run, &ctx.runs.state(), keep).iter().map(|r| r.name_any()));
    }
    let action = match by_ttl(run, now) {
        Retention::Delete => {
            doomed.push(run.name_any());
            Action::await_change()
        }
        Retention::CheckIn(left) => Action::requeue(left + Duration::from_secs(1)),
        Retention::Keep => Action::await_change(),
    };
    doomed.sort();
    doomed.dedup();
    for name in doomed {
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => info!(taskrun = %name, "deleted a finished run (retention)"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => return Err(Error::DeleteRun { run: name, source }),
        }
    }
    Ok(action)
}

/// Stops a pod's containers but keeps the pod, so `kubectl logs` still
/// works: the kubelet ends a pod whose `activeDeadlineSeconds` has passed,
/// and that field may only be lowered, so this never restarts anything.
async fn stop_pod(pods: &Api<Pod>, pod: &Pod) -> Result<(), Error> {
    let finished = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Succeeded" || p == "Failed");
    let stopping = pod.spec.as_ref().and_then(|s| s.active_deadline_seconds) == Some(1);
    if finished || stopping {
        return Ok(());
    }
    let patch = json!({"spec": {"activeDeadlineSeconds": 1}});
    pods.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| info!(pod = %pod.name_any(), "stopping the pod's containers"))
        .map_err(|source| Error::StopPod {
            pod: pod.name_any(),
            source,
        })
}

/// The status of a run whose pod we can see.
fn observe(run: &TaskRun, previous: &TaskRunStatus, pod: &Pod, now: &Time) -> TaskRunStatus {
    if !is_owned_by(pod, run) {
        return conflict(run, previous, pod, now);
    }
    // The pod records what it runs: a status from a stale cache, or one
    // never written because a controller died after creating the pod, is
    // completed from it rather than from a Task that may have changed.
    let mut previous = previous.clone();
    previous.pod_name.get_or_insert_with(|| pod.name_any());
    if previous.task_spec.is_none() {
        previous.task_spec = task_spec_of(pod);
    }
    project_status(&previous, Some(pod), now)
}

/// Resolves the Task (a retry reuses the one the run started with),
/// creates the pod for the current attempt and records both in the status.
async fn start(
    run: &TaskRun,
    previous: &TaskRunStatus,
    pods: &Api<Pod>,
    ctx: &Context,
    now: &Time,
) -> Result<(TaskRunStatus, Option<Pod>), Error> {
    let resolved = match &previous.task_spec {
        Some(task) => Ok(task.clone()),
        None => resolve_task(run, &ctx.tasks),
    };
    let task = match resolved {
        Ok(task) => task,
        Err(message) => {
            let status = with_outcome(previous, Phase::Pending, Reason::TaskNotFound, message, now);
            return Ok((status, None));
        }
    };
    let attempt = previous.retries_status.len();
    let pod = match build_pod(&task, run, attempt, &ctx.options) {
        Ok(pod) => pod,
        Err(e) => {
            let status = with_outcome(previous, Phase::Failed, e.reason(), e.to_string(), now);
            return Ok((status, None));
        }
    };
    let name = pod.name_any();
    let pod = match pods
        .create(
            &PostParams {
                field_manager: Some(MANAGER.into()),
                ..Default::default()
            },
            &pod,
        )
        .await
    {
        Ok(created) => {
            info!(pod = %name, "created pod");
            ctx.expect_created(ObjectRef::from_obj(&created));
            created
        }
        // A previous controller (or this one, with a stale cache) got here
        // first: read the pod back and adopt it only if it is ours.
        Err(kube::Error::Api(e)) if e.code == 409 => pods.get(&name).await.map_err(|source| Error::ReadPod {
            pod: name.clone(),
            source,
        })?,
        // The API server refuses this pod for good (invalid field, admission
        // webhook): retrying cannot help, so the run fails and says why.
        Err(kube::Error::Api(e)) if e.code == 400 || e.code == 422 => {
            let message = format!("the API server rejected pod {name}: {}", e.message);
            let status = with_outcome(previous, Phase::Failed, Reason::PodCreationFailed, message, now);
            return Ok((status, None));
        }
        Err(source) => return Err(Error::CreatePod { pod: name, source }),
    };
    let mut started = previous.clone();
    started.task_spec = Some(task);
    started.start_time.get_or_insert_with(|| now.clone());
    Ok((observe(run, &started, &pod, now), Some(pod)))
}

/// The run's Task spec: inline, or the named Task from the cache.
fn resolve_task(run: &TaskRun, tasks: &Store<Task>) -> Result<TaskSpec, String> {
    if let Some(spec) = &run.spec.task_spec {
        return Ok(spec.clone());
    }
    let namespace = run.namespace().unwrap_or_default();
    let name = run.task_name().unwrap_or_default();
    match tasks.get(&ObjectRef::new(name).within(&namespace)) {
        Some(task) => Ok(task.spec.clone()),
        None => Err(format!(
            "Task {name:?} not found in namespace {namespace:?}; create it (kubectl apply -f <task>.yaml -n {namespace}) and the run starts"
        )),
    }
}

fn conflict(run: &TaskRun, previous: &TaskRunStatus, pod: &Pod, now: &Time) -> TaskRunStatus {
    warn!(pod = %pod.name_any(), "a pod with this run's pod name belongs to someone else");
    let message = format!(
        "pod {} already exists and is not owned by TaskRun {}; delete that pod or start a run with another name",
        pod.name_any(),
        run.name_any()
    );
    with_outcome(previous, Phase::Failed, Reason::PodConflict, message, now)
}

/// Server-side apply of the whole status, as the controller's field manager.
async fn write_status(run: &TaskRun, namespace: &str, status: &TaskRunStatus, client: &Client) -> Result<(), Error> {
    let api: Api<TaskRun> = Api::namespaced(client.clone(), namespace);
    // The resourceVersion makes the write conditional: a status projected
    // from a cached TaskRun older than the stored one is refused (409) and
    // the reconcile retried on fresh data, so nothing stale overwrites it.
    let patch = json!({
        "apiVersion": TaskRun::api_version(&()),
        "kind": TaskRun::kind(&()),
        "metadata": {"resourceVersion": run.resource_version()},
        "status": status,
    });
    let params = PatchParams::apply(MANAGER).force();
    api.patch_status(&run.name_any(), &params, &Patch::Apply(&patch))
        .await
        .map(|_| ())
        .map_err(|source| Error::WriteStatus {
            run: run.name_any(),
            source,
        })
}

/// Transient errors (API unavailable, conflicts) are retried after a pause.
pub fn error_policy(run: Arc<TaskRun>, error: &Error, _ctx: Arc<Context>) -> Action {
    if let Error::WriteStatus {
        source: kube::Error::Api(e),
        ..
    } = error
        && e.code == 409
    {
        // Our cached TaskRun was stale; the fresh one is on its way.
        return Action::requeue(Duration::from_secs(1));
    }
    warn!(taskrun = %run.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
