//! One reconcile of one TaskRun: read from the caches, make sure its pod
//! exists, project the status, write it once if it changed, and only then
//! act on what it says (stop a pod, publish Events, delete a finished run).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::AsyncReadExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, LogParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use minitask_api::{Phase, Reason, Task, TaskRun, TaskRunStatus, TaskSpec};
use serde_json::json;
use tracing::{info, instrument, warn};

use crate::cache::CachedPod;
use crate::deadline::{Starting, starting, stop_reason, time_left};
use crate::disruption;
use crate::events::announcements;
use crate::expiring::Expiring;
use crate::leases::Shards;
use crate::metrics::{Metrics, ReasonLabel};
use crate::names::pod_name;
use crate::pod::{MANAGER, PodOptions, build_pod, is_left_by_earlier_run, is_owned_by, task_spec_of};
use crate::publisher::{Publisher, Reporter};
use crate::refusal::{Refusal, refusal, retry_after};
use crate::results::REPORTER;
use crate::retention::{Finished, Retention, by_ttl};
use crate::retry::retry;
use crate::shard::shard_of_run;
use crate::status::{project_status, reporter_log_needed, with_outcome};
use crate::stop::{Stop, how_to_stop};
use crate::writes::{Writes, may_wait};

/// What every reconcile shares: the client, the caches and the settings.
pub struct Context {
    pub client: Client,
    /// Pods labelled `minitask.dev/taskrun`, from a watch.
    pub pods: Store<CachedPod>,
    /// Tasks, from a watch.
    pub tasks: Store<Task>,
    pub options: PodOptions,
    /// The shards this replica works on.
    pub shards: Shards,
    pub metrics: Arc<Metrics>,
    /// Publishes Events on TaskRuns.
    pub publisher: Publisher,
    /// Keep only this many finished runs per Task (`--keep-finished-per-task`).
    pub keep_finished_per_task: Option<usize>,
    /// The finished runs of each Task, for `keep_finished_per_task`.
    pub finished: Arc<Mutex<Finished>>,
    /// Pods this process created that its cache may not show yet (the
    /// "expectations" of Kubernetes' own controllers): a miss on one of
    /// these is the watch lagging, not a deleted pod.
    created: Mutex<Expiring<ObjectRef<CachedPod>, ()>>,
    /// The status writes this process made (see writes.rs).
    writes: Writes,
}

impl Context {
    /// A context for a single replica: every shard, no retention policy.
    /// Must be called within a Tokio runtime (it starts the Event publisher).
    pub fn new(client: Client, pods: Store<CachedPod>, tasks: Store<Task>, options: PodOptions) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: MANAGER.into(),
        };
        Context {
            publisher: Publisher::start(client.clone(), reporter).0,
            client,
            pods,
            tasks,
            options,
            shards: Shards::all(1),
            metrics: Arc::default(),
            keep_finished_per_task: None,
            finished: Arc::default(),
            created: Mutex::new(Expiring::new(EXPECTATION_TTL)),
            writes: Writes::default(),
        }
    }

    /// True while this replica holds the shard of `run`: every write on the
    /// run happens only then, checked again just before it is sent (a
    /// shard can change hands while a reconcile runs).
    fn holds(&self, run: &TaskRun) -> bool {
        self.shards.holds(shard_of_run(run, self.shards.count()))
    }

    fn expect_created(&self, pod: ObjectRef<CachedPod>) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created.insert(pod, (), Instant::now());
    }

    /// True while the watch has had less than EXPECTATION_TTL to deliver a
    /// pod we created; seeing the pod (or the TTL passing) ends it.
    fn awaits_created(&self, pod: &ObjectRef<CachedPod>, seen: bool) -> bool {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if seen {
            created.remove(pod);
            return false;
        }
        created.get(pod, Instant::now()).is_some()
    }
}

/// How long a created pod may take to show up in the cache before we ask
/// the API server directly.
const EXPECTATION_TTL: Duration = Duration::from_secs(30);
/// How long reading the results reporter's log may take.
const LOG_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TaskRun came without a namespace: not from a namespaced watch.
    #[error("TaskRun {0} has no namespace")]
    NoNamespace(String),
    /// The API server did not answer a pod create (busy, unreachable).
    #[error("creating pod {pod}: {source}")]
    CreatePod { pod: String, source: kube::Error },
    #[error("reading pod {pod}: {source}")]
    ReadPod { pod: String, source: kube::Error },
    #[error("reading the results from the log of container {REPORTER} of pod {pod}: {source}")]
    ReadLog { pod: String, source: kube::Error },
    #[error("stopping pod {pod}: {source}")]
    StopPod { pod: String, source: kube::Error },
    /// A stale write (409) is retried at once on fresh data.
    #[error("writing the status of TaskRun {run}: {source}")]
    WriteStatus { run: String, source: kube::Error },
    #[error("deleting finished TaskRun {run}: {source}")]
    DeleteRun { run: String, source: kube::Error },
    /// A bug: the reconcile panicked. The run is looked at again later.
    #[error("the reconcile of TaskRun {run} panicked: {message}")]
    Panicked { run: String, message: String },
}

impl Error {
    /// The error's kind, as a metric label.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::NoNamespace(_) => "no_namespace",
            Error::CreatePod { .. } => "create_pod",
            Error::ReadPod { .. } => "read_pod",
            Error::ReadLog { .. } => "read_log",
            Error::StopPod { .. } => "stop_pod",
            Error::WriteStatus { .. } => "write_status",
            Error::DeleteRun { .. } => "delete_run",
            Error::Panicked { .. } => "panic",
        }
    }
}

/// A safety net only: pod and Task events wake the run long before this.
/// Every requeue is capped by it, so no time taken from an object can
/// overflow the scheduler's clock.
const RESYNC: Duration = Duration::from_secs(300);

fn requeue(after: Duration) -> Action {
    Action::requeue(after.saturating_add(Duration::from_secs(1)).min(RESYNC))
}

#[instrument(skip_all, fields(taskrun = %run.name_any(), namespace = run.namespace().as_deref().unwrap_or_default()))]
pub async fn reconcile(run: Arc<TaskRun>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Another replica owns this run's shard: it is not ours to touch. When
    // this replica wins the shard, every run is looked at again.
    if !ctx.holds(&run) {
        return Ok(Action::await_change());
    }
    let namespace = run.namespace().ok_or_else(|| Error::NoNamespace(run.name_any()))?;
    // The cache still shows the run as it was before our last write: the
    // watch event of that write wakes the run again (this is a safety net).
    if ctx.writes.is_stale(&run, Instant::now()) {
        return Ok(Action::requeue(Duration::from_secs(10)));
    }
    let now = Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH));
    if run.phase().is_terminal() {
        return finished(&run, &namespace, &ctx, &now).await;
    }
    let mut previous = run.status.clone().unwrap_or_default();
    if previous.task_spec.is_none() {
        // Started by this process, not written yet (writes.rs).
        previous.task_spec = ctx.writes.started_with(&run, Instant::now());
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    // Each failed attempt is recorded before the next starts, so the
    // record says which attempt's pod to look for.
    let name = pod_name(&run.name_any(), previous.retries_status.len());

    let key = ObjectRef::new(&name).within(&namespace);
    let cached = ctx.pods.get(&key).map(|p| p.to_pod());
    if ctx.awaits_created(&key, cached.is_some()) {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    // An earlier TaskRun of the same name was deleted and its pod lingers.
    if let Some(stale) = cached.as_ref().filter(|p| is_left_by_earlier_run(p, &run)) {
        return wait_for_stale_pod(&run, &previous, stale, &pods, &ctx, &now).await;
    }
    let pod = match (cached, &previous.pod_name) {
        (Some(pod), _) => Some(pod),
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
        (Some(pod), _) => (observe(&run, &previous, pod, &pods, &now).await?, Some(pod.clone())),
        (None, Some(_)) => (project_status(&previous, None, None, &now), None),
        // A run cancelled or out of time before it started never starts.
        (None, None) if stop_reason(&run, &previous, &now).is_some() => (previous.clone(), None),
        (None, None) => {
            let (next, pod) = start(&run, &previous, &pods, &ctx, &now).await?;
            if let (Some(_), Some(task)) = (&pod, &next.task_spec) {
                ctx.writes.started(&run, task.clone(), Instant::now());
            }
            (next, pod)
        }
    };
    let mut recheck = None;
    if !next.phase.is_some_and(Phase::is_terminal) {
        let stuck = pod
            .as_ref()
            .map_or(Starting::Fine, |p| starting(p, &now, ctx.options.image_pull_grace));
        let stop = match (stop_reason(&run, &next, &now), stuck) {
            (Some(stop), _) => Some(stop),
            (None, Starting::Failed(reason, message)) => Some((reason, message)),
            (None, Starting::Failing { left, at }) => {
                recheck = Some(left);
                // Say when the controller gives up: a stable time, so that
                // it costs no status write per reconcile.
                let message = format!(
                    "{}; the run fails at {} if it has not started by then",
                    next.message.clone().unwrap_or_default(),
                    at.0
                );
                let (phase, reason) = (next.phase.unwrap_or(Phase::Pending), next.reason.clone());
                let reason = Reason::ALL
                    .into_iter()
                    .find(|r| Some(r.as_str()) == reason.as_deref())
                    .unwrap_or(Reason::Pending);
                next = with_outcome(&next, phase, reason, message, &now);
                None
            }
            (None, Starting::Fine) => None,
        };
        if let Some((reason, message)) = stop {
            next = with_outcome(&next, Phase::Failed, reason, message, &now);
        }
        if let Some(left) = pod.as_ref().and_then(|p| disruption::recheck(p, &now)) {
            recheck = Some(recheck.map_or(left, |r: Duration| r.min(left)));
        }
    }
    if let Some(retry) = retry(&run, &next, pod.as_ref(), &now) {
        next = start(&run, &retry, &pods, &ctx, &now).await?.0;
    }
    next.observed_generation = run.metadata.generation;

    if run.status.as_ref() != Some(&next) {
        // A step's progress can wait for the write window; its end cannot.
        if may_wait(&previous, &next)
            && let Some(left) = ctx.writes.hold_back(&run, Instant::now())
        {
            return Ok(Action::requeue(left));
        }
        if !write_status(&run, &namespace, &next, &ctx).await? {
            return Ok(Action::await_change());
        }
        ctx.writes.wrote(&run, Instant::now());
        info!(phase = ?next.phase, reason = next.reason.as_deref(), "status updated");
        // Only now that the write has landed: Events, metrics and stopping
        // pods act on what is stored, so a controller that dies here leaves
        // a status that already says how the run ended.
        announce(&run, &previous, &next, &ctx, &now).await;
        stop_pods(&run, &next, &pods, &ctx).await?;
    }
    if next.phase.is_some_and(Phase::is_terminal) {
        return Ok(Action::await_change());
    }
    // Wake up at the timeout, at the end of a grace period, or when a
    // refused pod is tried again: no watch event announces those.
    let mut after = time_left(&run, &now).unwrap_or(RESYNC);
    if next.reason.as_deref() == Some(Reason::PodCreationFailed.as_str()) {
        after = after.min(retry_after(age(&run, &now)));
    }
    Ok(requeue(recheck.map_or(after, |r| r.min(after))))
}

/// How old `run` is at `now`.
fn age(run: &TaskRun, now: &Time) -> Duration {
    let created = run.metadata.creation_timestamp.as_ref().map_or(0, |t| t.0.as_second());
    Duration::from_secs(now.0.as_second().saturating_sub(created).max(0) as u64)
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
        ctx.metrics
            .run_seconds
            .observe(end.saturating_sub(created).max(0) as f64);
    }
    for a in announcements(before, after) {
        if !ctx.holds(run) {
            return;
        }
        ctx.publisher.publish(run, a).await;
    }
}

/// A finished run: its pods are stopped if something still runs in them
/// (a sidecar, or a controller that died between the status write and the
/// stop), and it is deleted once its TTL has passed or when it is beyond
/// the newest `--keep-finished-per-task` runs of its Task.
async fn finished(run: &TaskRun, namespace: &str, ctx: &Context, now: &Time) -> Result<Action, Error> {
    let status = run.status.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    stop_pods(run, &status, &pods, ctx).await?;
    let beyond_keep = ctx.keep_finished_per_task.is_some_and(|keep| {
        let finished = ctx.finished.lock().unwrap_or_else(|e| e.into_inner());
        finished.is_beyond(run, keep)
    });
    let (delete, action) = match by_ttl(run, now) {
        Retention::Delete => (true, Action::await_change()),
        Retention::CheckIn(left) => (beyond_keep, requeue(left)),
        Retention::Keep => (beyond_keep, Action::await_change()),
    };
    if delete && ctx.holds(run) {
        delete_run(run, namespace, ctx).await?;
    }
    Ok(action)
}

/// Deletes a finished run, only if it is still the run we decided on: the
/// preconditions make a stale cache unable to delete a run re-created
/// under the same name.
async fn delete_run(run: &TaskRun, namespace: &str, ctx: &Context) -> Result<(), Error> {
    let api: Api<TaskRun> = Api::namespaced(ctx.client.clone(), namespace);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: run.uid(),
            resource_version: run.resource_version(),
        }),
        ..DeleteParams::background()
    };
    match api.delete(&run.name_any(), &params).await {
        Ok(_) => {
            info!("deleted a finished run (retention)");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(source) => Err(Error::DeleteRun {
            run: run.name_any(),
            source,
        }),
    }
}

/// Stops every pod of `run` that still runs although its attempt has ended:
/// the current one once the run has ended, and those of failed attempts.
/// Called only after the status that says why is stored.
async fn stop_pods(run: &TaskRun, status: &TaskRunStatus, pods: &Api<Pod>, ctx: &Context) -> Result<(), Error> {
    let current = status
        .pod_name
        .iter()
        .filter(|_| status.phase.is_some_and(Phase::is_terminal));
    let earlier = status.retries_status.iter().map(|a| &a.pod_name);
    for name in current.chain(earlier) {
        let key = ObjectRef::new(name).within(&run.namespace().unwrap_or_default());
        let Some(pod) = ctx.pods.get(&key).map(|p| p.to_pod()) else {
            continue;
        };
        if !is_owned_by(&pod, run) || !ctx.holds(run) {
            continue;
        }
        stop_pod(pods, &pod).await?;
    }
    Ok(())
}

/// Stops a pod whose run has ended (see `how_to_stop`).
async fn stop_pod(pods: &Api<Pod>, pod: &Pod) -> Result<(), Error> {
    let name = pod.name_any();
    let result = match how_to_stop(pod) {
        Stop::Nothing => return Ok(()),
        Stop::Delete => {
            // The resourceVersion makes sure no node took it meanwhile:
            // a pod that has started is stopped instead, keeping its logs.
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: pod.uid(),
                    resource_version: pod.resource_version(),
                }),
                ..DeleteParams::default()
            };
            pods.delete(&name, &params)
                .await
                .map(|_| info!(pod = %name, "deleted the pod, which no node had taken"))
        }
        Stop::Deadline => {
            let patch = json!({"spec": {"activeDeadlineSeconds": 1}});
            pods.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| info!(pod = %name, "stopping the pod's containers"))
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(Error::StopPod { pod: name, source }),
    }
}

/// A run whose pod name is taken by the pod of an earlier TaskRun of the
/// same name (deleted, its pod not yet collected): that pod is deleted,
/// and the run waits until it is gone.
async fn wait_for_stale_pod(
    run: &TaskRun,
    previous: &TaskRunStatus,
    stale: &Pod,
    pods: &Api<Pod>,
    ctx: &Context,
    now: &Time,
) -> Result<Action, Error> {
    let name = stale.name_any();
    if stale.metadata.deletion_timestamp.is_none() && ctx.holds(run) {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: stale.uid(),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match pods.delete(&name, &params).await {
            Ok(_) => info!(pod = %name, "deleted the pod of an earlier TaskRun of the same name"),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(source) => return Err(Error::StopPod { pod: name, source }),
        }
    }
    let message = format!(
        "waiting for pod {name}, left by an earlier TaskRun named {}, to be deleted",
        run.name_any()
    );
    let mut next = with_outcome(previous, Phase::Pending, Reason::Pending, message, now);
    next.observed_generation = run.metadata.generation;
    if run.status.as_ref() != Some(&next) {
        write_status(run, &run.namespace().unwrap_or_default(), &next, ctx).await?;
    }
    // The pod's deletion event wakes the run; this is a safety net.
    Ok(Action::requeue(Duration::from_secs(5)))
}

/// The status of a run whose pod we can see.
async fn observe(
    run: &TaskRun,
    previous: &TaskRunStatus,
    pod: &Pod,
    pods: &Api<Pod>,
    now: &Time,
) -> Result<TaskRunStatus, Error> {
    if !is_owned_by(pod, run) {
        return Ok(conflict(run, previous, pod, now));
    }
    // The pod records what it runs: a status from a stale cache, or one
    // never written because a controller died after creating the pod, is
    // completed from it rather than from a Task that may have changed.
    let mut previous = previous.clone();
    previous.pod_name.get_or_insert_with(|| pod.name_any());
    if previous.task_spec.is_none() {
        previous.task_spec = match task_spec_of(pod) {
            Some(spec) => Some(Box::new(spec)),
            // The cache drops the annotation of a pod that has ended (see
            // cache.rs); a status never written since is rare enough to ask.
            None => pods
                .get_opt(&pod.name_any())
                .await
                .map_err(|source| Error::ReadPod {
                    pod: pod.name_any(),
                    source,
                })?
                .and_then(|fresh| task_spec_of(&fresh))
                .map(Box::new),
        };
    }
    let Some(header) = reporter_log_needed(pod) else {
        return Ok(project_status(&previous, Some(pod), None, now));
    };
    // The report did not fit the termination message: read it, once.
    let params = LogParams {
        container: Some(REPORTER.into()),
        limit_bytes: Some(header.bytes as i64 + 1),
        ..LogParams::default()
    };
    let read = async {
        let mut log = Vec::new();
        let stream = pods.log_stream(&pod.name_any(), &params).await?;
        futures::io::AsyncReadExt::take(stream, header.bytes as u64 + 1)
            .read_to_end(&mut log)
            .await
            .map_err(kube::Error::ReadEvents)?;
        Ok::<_, kube::Error>(log)
    };
    let read = tokio::time::timeout(LOG_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| Err(kube::Error::Service("the log did not arrive within 30s".into())));
    match read {
        Ok(log) => Ok(project_status(&previous, Some(pod), Some(&log), now)),
        // The log is gone for good (the node's container was removed):
        // another try cannot help.
        Err(kube::Error::Api(e)) if (400..500).contains(&e.code) && e.code != 429 => {
            let message = format!(
                "every step succeeded, but the results could not be read from the log of container {REPORTER} of pod {}: {}",
                pod.name_any(),
                e.message
            );
            let ended = project_status(&previous, Some(pod), None, now);
            Ok(with_outcome(&ended, Phase::Failed, Reason::ResultsFailed, message, now))
        }
        Err(source) => Err(Error::ReadLog {
            pod: pod.name_any(),
            source,
        }),
    }
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
    // The shard may have gone to another replica since this reconcile
    // began: then that replica starts the pod.
    if !ctx.holds(run) {
        return Ok((previous.clone(), None));
    }
    let attempt = previous.retries_status.len();
    let pod = match build_pod(&task, run, attempt, &ctx.options) {
        Ok(pod) => pod,
        Err(e) => {
            let status = with_outcome(previous, Phase::Failed, e.reason(), e.to_string(), now);
            return Ok((status, None));
        }
    };
    let name = pod.name_any();
    let namespace = run.namespace().unwrap_or_default();
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    let pod = match pods.create(&params, &pod).await {
        Ok(created) => {
            info!(pod = %name, "created pod");
            ctx.expect_created(ObjectRef::new(&name).within(&namespace));
            created
        }
        // A previous controller (or this one, with a stale cache) got here
        // first: read the pod back and adopt it only if it is ours.
        Err(kube::Error::Api(e)) if e.code == 409 => pods.get(&name).await.map_err(|source| Error::ReadPod {
            pod: name.clone(),
            source,
        })?,
        // The API server refused the pod: say why at once, then either
        // keep trying (the cause may go away) or fail the run.
        Err(kube::Error::Api(e)) => match refusal(&name, &namespace, e.code, &e.message) {
            Some(Refusal::Permanent(message)) => {
                let status = with_outcome(previous, Phase::Failed, Reason::PodCreationFailed, message, now);
                return Ok((status, None));
            }
            Some(Refusal::Retry(message)) => {
                warn!(pod = %name, code = e.code, message = %e.message, "the API server refused the pod; trying again later");
                let status = with_outcome(previous, Phase::Pending, Reason::PodCreationFailed, message, now);
                return Ok((status, None));
            }
            None => {
                return Err(Error::CreatePod {
                    pod: name,
                    source: kube::Error::Api(e),
                });
            }
        },
        Err(source) => return Err(Error::CreatePod { pod: name, source }),
    };
    let mut started = previous.clone();
    started.task_spec = Some(task);
    started.start_time.get_or_insert_with(|| now.clone());
    Ok((observe(run, &started, &pod, pods, now).await?, Some(pod)))
}

/// The run's Task spec: inline, or the named Task from the cache.
fn resolve_task(run: &TaskRun, tasks: &Store<Task>) -> Result<Box<TaskSpec>, String> {
    if let Some(spec) = &run.spec.task_spec {
        return Ok(spec.clone());
    }
    let namespace = run.namespace().unwrap_or_default();
    let name = run.task_name().unwrap_or_default();
    match tasks.get(&ObjectRef::new(name).within(&namespace)) {
        Some(task) => Ok(Box::new(task.spec.clone())),
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

/// Server-side apply of the whole status, as the controller's field
/// manager; false (and nothing written) when this replica no longer holds
/// the run's shard, which may have changed hands since the reconcile
/// began: no two replicas write one run's status.
async fn write_status(run: &TaskRun, namespace: &str, status: &TaskRunStatus, ctx: &Context) -> Result<bool, Error> {
    if !ctx.holds(run) {
        return Ok(false);
    }
    let api: Api<TaskRun> = Api::namespaced(ctx.client.clone(), namespace);
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
        .map(|_| true)
        .map_err(|source| Error::WriteStatus {
            run: run.name_any(),
            source,
        })
}

/// Transient errors (API unavailable, conflicts) are retried after a pause.
pub fn error_policy(run: Arc<TaskRun>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failed(error.metric_label());
    if let Error::WriteStatus {
        source: kube::Error::Api(e),
        ..
    } = error
        && e.code == 409
    {
        // Our cached TaskRun was stale; the fresh one is on its way.
        return Action::requeue(Duration::from_secs(1));
    }
    if let Error::Panicked { .. } = error {
        tracing::error!(taskrun = %run.name_any(), namespace = run.namespace().as_deref().unwrap_or_default(), %error, "reconcile panicked; looking at the run again in 60s");
        return Action::requeue(Duration::from_secs(60));
    }
    warn!(taskrun = %run.name_any(), namespace = run.namespace().as_deref().unwrap_or_default(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
