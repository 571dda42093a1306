//! One reconcile of one TaskRun, the shell around `status::decide`: gather
//! what the decision needs (the caches; a read only where they cannot
//! tell), create the pod it asks for and decide again with the result,
//! write the status once if it changed, and only then act on what it says
//! (stop a pod, publish Events, delete a finished run).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::AsyncReadExt;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use minitask_api::{Phase, TaskKind, TaskRef, TaskRun, TaskRunStatus, TaskSpec};
use serde_json::json;
use tracing::{info, instrument, warn};

use crate::pod::results::REPORTER;
use crate::pod::{MANAGER, PodOptions, is_owned_by, task_spec_of};
use crate::runtime::cache::CachedPod;
use crate::runtime::catalog::Catalog;
use crate::runtime::leases::Shards;
use crate::runtime::metrics::{Metrics, ReasonLabel};
use crate::runtime::publisher::{Publisher, Reporter};
use crate::runtime::shell::{Expected, Made, apply_status, create_or_read};
use crate::runtime::writes::{Writes, may_wait};
use crate::shards::shard_of_run;
use crate::status::decide::{Facts, Log, current_pod, decide};
use crate::status::events::announcements;
use crate::status::refusal::{Refusal, refusal};
use crate::status::reporter_log_needed;
use crate::status::retention::{Finished, Retention, archive_hold, by_ttl};
use crate::status::stop::{Stop, ended_pods, how_to_stop};
use crate::status::stuck::{self, PodEvent, events_worth_reading};

/// What every reconcile shares: the client, the caches and the settings.
pub struct Context {
    pub client: Client,
    /// Pods labelled `minitask.dev/taskrun`, from a watch.
    pub pods: Store<CachedPod>,
    /// Tasks and ClusterTasks, from watches.
    pub tasks: Catalog,
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
    /// With an archive installed: a finished run is deleted only once
    /// archived, or this long after it ended (`--max-archive-wait`).
    pub max_archive_wait: Option<Duration>,
    /// Delete a finished run's pods once the archive holds their logs
    /// (`--delete-pods-after-archive`).
    pub delete_pods_after_archive: bool,
    /// Pods this process created that its cache may not show yet (the
    /// "expectations" of Kubernetes' own controllers): a miss on one of
    /// these is the watch lagging, not a deleted pod.
    created: Expected<CachedPod>,
    /// The status writes this process made (see writes.rs).
    writes: Writes,
}

impl Context {
    /// A context for a single replica: every shard, no retention policy.
    /// Must be called within a Tokio runtime (it starts the Event publisher).
    pub fn new(client: Client, pods: Store<CachedPod>, tasks: Catalog, options: PodOptions) -> Self {
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
            max_archive_wait: None,
            delete_pods_after_archive: false,
            created: Expected::new(EXPECTATION_TTL),
            writes: Writes::default(),
        }
    }

    /// True while this replica holds the shard of `run`: every write on the
    /// run happens only then, checked again just before it is sent (a
    /// shard can change hands while a reconcile runs).
    fn holds(&self, run: &TaskRun) -> bool {
        self.shards.holds(shard_of_run(run, self.shards.count()))
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
    /// An API call hung (a connection that died without a word): the
    /// reconcile was abandoned so that it holds no worker, and is retried.
    #[error("the reconcile of TaskRun {run} took longer than {after:?} (an API call did not answer); trying again")]
    TimedOut { run: String, after: Duration },
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
            Error::TimedOut { .. } => "timeout",
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
    let name = current_pod(&run, &previous);
    let key = ObjectRef::new(&name).within(&namespace);
    let cached = ctx.pods.get(&key).map(|p| p.to_pod());
    if ctx.created.awaits(&key, cached.is_some()) {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let pod = match (cached, &previous.pod_name) {
        (Some(pod), _) => Some(pod),
        // A pod we recorded but cannot see: deleted, or created by an
        // earlier controller process whose cache we do not share. Only the
        // API server can tell; this is the one read outside the caches.
        (None, Some(_)) => read_pod(&pods, &name).await?,
        (None, None) => None,
    };
    let owned = pod.as_ref().filter(|p| is_owned_by(p, &run));
    if let Some(pod) = owned
        && previous.task_spec.is_none()
        && task_spec_of(pod).is_none()
    {
        // The cache drops the annotation of a pod that has ended (see
        // cache.rs); a status never written since is rare enough to ask.
        let fresh = read_pod(&pods, &name).await?;
        previous.task_spec = fresh.as_ref().and_then(task_spec_of).map(Box::new);
    }
    let log = match owned.and_then(reporter_log_needed) {
        Some(header) => Some(read_report(&pods, &name, header.bytes).await?),
        None => None,
    };
    let events = match owned.filter(|p| events_worth_reading(p, &now).is_some_and(|wait| wait.is_zero())) {
        Some(pod) => Some(read_pod_events(&ctx.client, &namespace, pod).await),
        None => None,
    };
    let task = (pod.is_none() && previous.pod_name.is_none()).then(|| resolve_task(&run, &ctx.tasks));
    let facts = Facts {
        run: &run,
        previous: &previous,
        pod: pod.as_ref(),
        reporter_log: log.as_ref(),
        pod_events: events.as_deref(),
        task,
        refused: None,
        options: &ctx.options,
        now: &now,
    };
    let mut decision = decide(&facts);
    if let Some(stale) = decision.delete.take() {
        delete_stale_pod(&run, &stale, &pods, &ctx).await?;
    }
    if let Some(new) = decision.create.take() {
        // The shard may have gone to another replica since this reconcile
        // began: then that replica starts the pod.
        if !ctx.holds(&run) {
            return Ok(Action::await_change());
        }
        let (created, refused) = match create_pod(&run, &new, &pods, &ctx).await? {
            Created::Pod(pod) => (Some(*pod), None),
            Created::Refused(refusal) => (None, Some(refusal)),
            Created::Gone => return Ok(requeue(Duration::from_secs(1))),
        };
        if let Some(task) = created.as_ref().and_then(task_spec_of)
            && decision.status.retries_status.is_empty()
        {
            ctx.writes.started(&run, Box::new(task), Instant::now());
        }
        let base = decision.status;
        let facts = Facts {
            previous: &base,
            pod: created.as_ref(),
            reporter_log: None,
            pod_events: None,
            task: None,
            refused: refused.as_ref(),
            ..facts
        };
        decision = decide(&facts);
    }
    let next = decision.status;
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
    Ok(match (next.phase.is_some_and(Phase::is_terminal), decision.requeue) {
        (true, _) => Action::await_change(),
        (false, Some(after)) => requeue(after),
        (false, None) => requeue(RESYNC),
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
    if ctx.delete_pods_after_archive && minitask_api::is_archived(&status.conditions) {
        delete_archived_pods(run, &status, &pods, ctx).await?;
    }
    let beyond_keep = ctx.keep_finished_per_task.is_some_and(|keep| {
        let finished = ctx.finished.lock().unwrap_or_else(|e| e.into_inner());
        finished.is_beyond(run, keep)
    });
    let (delete, action) = match by_ttl(run, now) {
        Retention::Delete => (true, Action::await_change()),
        Retention::CheckIn(left) => (beyond_keep, requeue(left)),
        Retention::Keep => (beyond_keep, Action::await_change()),
    };
    // The Archived condition's write wakes the run before the wait is up.
    if delete
        && let Some(left) = archive_hold(
            &status.conditions,
            status.completion_time.as_ref(),
            ctx.max_archive_wait,
            now,
        )
    {
        return Ok(requeue(left));
    }
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
    for pod in own_ended_pods(run, status, ctx) {
        stop_pod(pods, &pod).await?;
    }
    Ok(())
}

/// The pods of `run`'s ended attempts that the cache holds and that are
/// the run's own, while this replica holds its shard.
fn own_ended_pods(run: &TaskRun, status: &TaskRunStatus, ctx: &Context) -> Vec<Pod> {
    let namespace = run.namespace().unwrap_or_default();
    ended_pods(status)
        .filter_map(|name| ctx.pods.get(&ObjectRef::new(name).within(&namespace)))
        .map(|p| p.to_pod())
        .filter(|pod| is_owned_by(pod, run) && ctx.holds(run))
        .collect()
}

/// The pods of a run whose logs the archive holds: deleted, the run kept
/// (node disk and etcd relieved; claims its pods held are released).
async fn delete_archived_pods(
    run: &TaskRun,
    status: &TaskRunStatus,
    pods: &Api<Pod>,
    ctx: &Context,
) -> Result<(), Error> {
    for pod in own_ended_pods(run, status, ctx) {
        let name = pod.name_any();
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: pod.uid(),
                ..Preconditions::default()
            }),
            ..DeleteParams::default()
        };
        match pods.delete(&name, &params).await {
            Ok(_) => info!(pod = %name, "deleted the pod of a run the archive holds"),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(source) => {
                return Err(Error::StopPod { pod: name, source });
            }
        }
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

/// Deletes the pod an earlier TaskRun of the same name left (deleted, its
/// pod not yet collected); the run waits until it is gone.
async fn delete_stale_pod(run: &TaskRun, stale: &Pod, pods: &Api<Pod>, ctx: &Context) -> Result<(), Error> {
    if !ctx.holds(run) {
        return Ok(());
    }
    let name = stale.name_any();
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
    Ok(())
}

/// A pod from the API server: None when it does not exist.
async fn read_pod(pods: &Api<Pod>, name: &str) -> Result<Option<Pod>, Error> {
    pods.get_opt(name).await.map_err(|source| Error::ReadPod {
        pod: name.to_string(),
        source,
    })
}

/// The results report of pod `name`, which did not fit the reporter's
/// termination message, read once from its log (at most `bytes` + 1).
async fn read_report(pods: &Api<Pod>, name: &str, bytes: usize) -> Result<Log, Error> {
    let params = LogParams {
        container: Some(REPORTER.into()),
        limit_bytes: Some(bytes as i64 + 1),
        ..LogParams::default()
    };
    let read = async {
        let mut log = Vec::new();
        let stream = pods.log_stream(name, &params).await?;
        futures::io::AsyncReadExt::take(stream, bytes as u64 + 1)
            .read_to_end(&mut log)
            .await
            .map_err(kube::Error::ReadEvents)?;
        Ok::<_, kube::Error>(log)
    };
    let read = tokio::time::timeout(LOG_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| Err(kube::Error::Service("the log did not arrive within 30s".into())));
    match read {
        Ok(log) => Ok(Log::Read(log)),
        // The log is gone for good (the node's container was removed):
        // another try cannot help.
        Err(kube::Error::Api(e)) if (400..500).contains(&e.code) && e.code != 429 => Ok(Log::Gone(e.message.clone())),
        Err(source) => Err(Error::ReadLog {
            pod: name.to_string(),
            source,
        }),
    }
}

/// What came of a pod create.
enum Created {
    /// The pod: ours, or one that existed already under its name (the
    /// decision then checks whose it is).
    Pod(Box<Pod>),
    Refused(Refusal),
    /// The name was taken, and free again when read back.
    Gone,
}

/// Creates `pod`. AlreadyExists means a previous controller (or this one,
/// with a stale cache) got there first: the pod is read back. A refusal
/// that says something about the pod is returned; the API server being
/// busy or away is an error, retried.
async fn create_pod(run: &TaskRun, pod: &Pod, pods: &Api<Pod>, ctx: &Context) -> Result<Created, Error> {
    let name = pod.name_any();
    let namespace = run.namespace().unwrap_or_default();
    match create_or_read(pods, pod).await {
        Ok(Made::Created(created)) => {
            info!(pod = %name, "created pod");
            ctx.created.created(ObjectRef::new(&name).within(&namespace));
            Ok(Created::Pod(Box::new(created)))
        }
        // Whose it is, the caller checks (by owner UID).
        Ok(Made::Exists(Some(existing))) => Ok(Created::Pod(Box::new(existing))),
        // It went while being read back (deleted by hand): look again.
        Ok(Made::Exists(None)) => Ok(Created::Gone),
        Err(kube::Error::Api(e)) => match refusal(&name, &namespace, e.code, &e.message) {
            Some(refused) => {
                if let Refusal::Retry(_) = refused {
                    warn!(pod = %name, code = e.code, message = %e.message, "the API server refused the pod; trying again later");
                }
                Ok(Created::Refused(refused))
            }
            None => Err(Error::CreatePod {
                pod: name,
                source: kube::Error::Api(e),
            }),
        },
        Err(source) => Err(Error::CreatePod { pod: name, source }),
    }
}

/// The pod's Warning Events, newest first at most `MOST_EVENTS`, selected
/// by its UID (no watch of the cluster's Events). A failed read is logged
/// and counts as none: the message can wait for the next look.
async fn read_pod_events(client: &kube::Client, namespace: &str, pod: &Pod) -> Vec<PodEvent> {
    let Some(uid) = pod.metadata.uid.as_deref() else {
        return Vec::new();
    };
    let api: Api<CoreEvent> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default()
        .fields(&format!("involvedObject.uid={uid},type=Warning"))
        .limit(stuck::MOST_EVENTS);
    match api.list(&params).await {
        Ok(list) => list
            .items
            .into_iter()
            .map(|e| PodEvent {
                reason: e.reason.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
                last: e
                    .last_timestamp
                    .or(e.first_timestamp)
                    .or_else(|| e.event_time.map(|t| Time(t.0))),
            })
            .collect(),
        Err(error) => {
            warn!(pod = %pod.name_any(), %error, "could not read the pod's Events");
            Vec::new()
        }
    }
}

/// The run's Task spec: inline, or the named Task or ClusterTask from the
/// cache.
fn resolve_task(run: &TaskRun, tasks: &Catalog) -> Result<Box<TaskSpec>, String> {
    if let Some(spec) = &run.spec.task_spec {
        return Ok(spec.clone());
    }
    let namespace = run.namespace().unwrap_or_default();
    let none = TaskRef::task("");
    let reference = run.spec.task_ref.as_ref().unwrap_or(&none);
    match tasks.with(reference, &namespace, |spec| Box::new(spec.clone())) {
        Some(spec) => Ok(spec),
        None => {
            let create = match reference.kind {
                TaskKind::Task => format!("kubectl apply -f <task>.yaml -n {namespace}"),
                TaskKind::ClusterTask => {
                    "kubectl apply -f <clustertask>.yaml, as one who may publish ClusterTasks".into()
                }
            };
            Err(format!(
                "{}; create it ({create}) and the run starts",
                tasks.not_found(reference, &namespace)
            ))
        }
    }
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
    apply_status(&api, run, status)
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
