//! One reconcile of one PipelineRun, the shell around `pipeline::plan`:
//! read the run's Pipeline, children and claims from the caches, plan,
//! create the claims and TaskRuns the plan asks for (deterministic names:
//! AlreadyExists is read back and adopted only when it is the run's),
//! cancel what it says, write the status once if it changed, then publish
//! Events and delete the claims of a run that ended.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use minitask_api::{
    LABEL_PIPELINE_TASK, Phase, Pipeline, PipelineRun, PipelineRunStatus, PipelineSpec, PipelineTask, TaskRun,
};
use serde_json::json;
use tracing::{info, instrument, warn};

use crate::pipeline::child::{claim_name, legacy_claim_name};
use crate::pipeline::events::announcements;
use crate::pipeline::finished::after_end;
use crate::pipeline::plan::{CreateRefused, Inputs, Plan, not_found, plan};
use crate::runtime::catalog::Catalog;
use crate::runtime::children::Children;
use crate::runtime::leases::Shards;
use crate::runtime::metrics::{Metrics, ReasonLabel};
use crate::runtime::publisher::Publisher;
use crate::runtime::shell::{Expected, Made, Written, apply_status, create_or_read};
use crate::shards::shard_of;
use crate::status::refusal::{Refusal, Refused, refusal_of};
use crate::status::retention::archive_hold;

/// What every PipelineRun reconcile shares.
pub struct PipelineContext {
    pub client: Client,
    pub pipelines: Store<Pipeline>,
    pub tasks: Catalog,
    /// Every TaskRun (the TaskRun controller's cache).
    pub taskruns: Store<TaskRun>,
    /// The claims PipelineRuns made, by label.
    pub claims: Store<PersistentVolumeClaim>,
    pub children: Arc<Mutex<Children>>,
    pub shards: Shards,
    pub metrics: Arc<Metrics>,
    pub publisher: Publisher,
    /// TaskRuns this process created that the cache may not show yet.
    created: Expected<TaskRun>,
    /// The status writes this process made, until the watch brings them.
    written: Written,
    /// With an archive installed: see `Context::max_archive_wait`.
    pub max_archive_wait: Option<Duration>,
}

impl PipelineContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        pipelines: Store<Pipeline>,
        tasks: Catalog,
        taskruns: Store<TaskRun>,
        claims: Store<PersistentVolumeClaim>,
        children: Arc<Mutex<Children>>,
        shards: Shards,
        metrics: Arc<Metrics>,
        publisher: Publisher,
    ) -> Self {
        PipelineContext {
            client,
            pipelines,
            tasks,
            taskruns,
            claims,
            children,
            shards,
            metrics,
            publisher,
            created: Expected::new(Duration::from_secs(30)),
            written: Written::new(Duration::from_secs(30)),
            max_archive_wait: None,
        }
    }

    fn holds(&self, run: &PipelineRun) -> bool {
        let shard = shard_of(
            &run.namespace().unwrap_or_default(),
            &run.name_any(),
            self.shards.count(),
        );
        self.shards.holds(shard)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The PipelineRun came without a namespace.
    #[error("PipelineRun {0} has no namespace")]
    NoNamespace(String),
    /// The API server did not take a write (busy, unreachable, a conflict).
    #[error("{what} for PipelineRun {run}: {source}")]
    Write {
        run: String,
        what: String,
        source: kube::Error,
    },
    /// A bug: the reconcile panicked.
    #[error("the reconcile of PipelineRun {run} panicked: {message}")]
    Panicked { run: String, message: String },
    /// An API call hung (a connection that died without a word): the
    /// reconcile was abandoned so that it holds no worker, and is retried.
    #[error("the reconcile of PipelineRun {run} took longer than {after:?} (an API call did not answer); trying again")]
    TimedOut { run: String, after: Duration },
}

impl PipelineError {
    pub fn metric_label(&self) -> &'static str {
        match self {
            PipelineError::NoNamespace(_) => "no_namespace",
            PipelineError::Write { .. } => "pipeline_write",
            PipelineError::Panicked { .. } => "panic",
            PipelineError::TimedOut { .. } => "timeout",
        }
    }
}

const RESYNC: Duration = Duration::from_secs(300);

fn write_error(run: &PipelineRun, what: impl Into<String>) -> impl FnOnce(kube::Error) -> PipelineError {
    let (run, what) = (run.name_any(), what.into());
    move |source| PipelineError::Write { run, what, source }
}

#[instrument(skip_all, fields(pipelinerun = %run.name_any(), namespace = run.namespace().as_deref().unwrap_or_default()))]
pub async fn reconcile(run: Arc<PipelineRun>, ctx: Arc<PipelineContext>) -> Result<Action, PipelineError> {
    if !ctx.holds(&run) {
        return Ok(Action::await_change());
    }
    let namespace = run
        .namespace()
        .ok_or_else(|| PipelineError::NoNamespace(run.name_any()))?;
    let now = Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH));
    // The cache still shows the run as it was before our last write: the
    // watch event of that write wakes the run again (the requeue is a
    // safety net), as on the TaskRun side.
    if ctx.written.is_stale(&*run) {
        return Ok(Action::requeue(Duration::from_secs(10)));
    }
    let mut children = children(&run, &namespace, &ctx);
    if run.phase().is_terminal() {
        return finished(&run, &namespace, &children, &ctx, &now).await;
    }
    // A TaskRun this process just created that the cache does not show
    // yet: the watch brings it in a moment.
    let expected = names_in_status(&run).into_iter().any(|name| {
        let child = ObjectRef::new(&name).within(&namespace);
        ctx.created.awaits(&child, children.contains_key(&name))
    });
    if expected {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    // A child of an unfinished task that the cache lacks is asked for
    // before the plan calls it deleted: a cache behind a relist must not
    // fail a task whose TaskRun runs on. What the API server says is used
    // for this reconcile, and the run is looked at again soon, since the
    // cache will not wake it for that child.
    let mut read_back = false;
    for name in unconfirmed(&run, &children) {
        let api: Api<TaskRun> = Api::namespaced(ctx.client.clone(), &namespace);
        let found = api
            .get_opt(&name)
            .await
            .map_err(write_error(&run, format!("reading TaskRun {name}")))?;
        if let Some(child) = found.filter(|c| owned_by(c.owner_references(), &run)) {
            warn!(taskrun = %name, "the cache lacks a TaskRun of the run; using the API server's copy");
            children.insert(name, child);
            read_back = true;
        }
    }
    let Some(spec) = resolve(&run, &namespace, &ctx) else {
        let name = run.pipeline_name().unwrap_or_default();
        let message = format!(
            "Pipeline {name:?} not found in namespace {namespace:?}; create it (kubectl apply -f <pipeline>.yaml -n {namespace}) and the run starts"
        );
        let (status, left) = not_found(&run, message, &now);
        if write_if_changed(&run, &namespace, &status, &ctx).await? {
            announce(&run, &run.status.clone().unwrap_or_default(), &status, &ctx).await;
        }
        // The Pipeline's creation wakes the run; its timeout does not.
        return Ok(match left {
            Some(left) => Action::requeue(left.saturating_add(Duration::from_secs(1)).min(RESYNC)),
            None => Action::await_change(),
        });
    };
    let claims = claims(&run, &namespace, &ctx);
    let declared = |task: &PipelineTask| declared_results(task, &namespace, &ctx.tasks);
    let mut foreign = Vec::new();
    let mut refused = Vec::new();
    let mut plan = plan(&Inputs {
        run: &run,
        spec: &spec,
        children: &children,
        foreign: &foreign,
        refused: &refused,
        declared: &declared,
        claims: &claims,
        now: &now,
    });
    if !ctx.holds(&run) {
        return Ok(Action::await_change());
    }
    for stale in &plan.delete_stale {
        delete_stale(&run, stale, &namespace, &ctx).await?;
    }
    for claim in &plan.claims {
        refused.extend(create_claim(&run, claim, &namespace, &ctx).await?);
    }
    // A TaskRun never starts on a claim that was refused (or is another's).
    let creates = match refused.is_empty() {
        true => plan.create.as_slice(),
        false => &[],
    };
    for child in creates {
        match create_child(&run, child, &namespace, &ctx).await? {
            Created::Yes => {}
            Created::Taken(name) => foreign.push(name),
            Created::Refused(refusal) => refused.push(refusal),
        }
    }
    if !foreign.is_empty() || !refused.is_empty() {
        plan = self::plan(&Inputs {
            run: &run,
            spec: &spec,
            children: &children,
            foreign: &foreign,
            refused: &refused,
            declared: &declared,
            claims: &claims,
            now: &now,
        });
    }
    for name in &plan.cancel {
        cancel_child(&run, name, &namespace, &ctx).await?;
    }
    let previous = run.status.clone().unwrap_or_default();
    if write_if_changed(&run, &namespace, &plan.status, &ctx).await? {
        announce(&run, &previous, &plan.status, &ctx).await;
    }
    if plan.status.phase.is_some_and(Phase::is_terminal) {
        delete_claims(&run, &plan, &namespace, &ctx).await?;
        return Ok(Action::await_change());
    }
    let again = match read_back {
        true => Duration::from_secs(5),
        false => RESYNC,
    };
    Ok(Action::requeue(plan.requeue.map_or(again, |r| {
        r.saturating_add(Duration::from_secs(1)).min(again)
    })))
}

/// The TaskRuns that carry the run as their controller, from the index,
/// with those an earlier run of the same name left.
fn children(run: &PipelineRun, namespace: &str, ctx: &PipelineContext) -> BTreeMap<String, TaskRun> {
    let names = ctx
        .children
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .of(namespace, &run.name_any());
    names
        .into_iter()
        .filter_map(|name| {
            let child = ctx.taskruns.get(&ObjectRef::new(&name).within(namespace))?;
            Some((name, (*child).clone()))
        })
        .collect()
}

/// The TaskRuns the status lists for tasks that have not ended but that
/// the cache does not have.
fn unconfirmed(run: &PipelineRun, children: &BTreeMap<String, TaskRun>) -> Vec<String> {
    let tasks = run.status.iter().flat_map(|s| &s.tasks);
    let running = tasks.filter(|t| !t.state.is_done());
    running
        .flat_map(|t| t.task_runs.iter())
        .filter(|name| !children.contains_key(*name))
        .cloned()
        .collect()
}

/// The names the run's status lists as its TaskRuns.
fn names_in_status(run: &PipelineRun) -> Vec<String> {
    run.status
        .iter()
        .flat_map(|s| &s.tasks)
        .flat_map(|t| t.task_runs.clone())
        .collect()
}

/// The Pipeline to run: recorded at start, inline, or the named one.
fn resolve(run: &PipelineRun, namespace: &str, ctx: &PipelineContext) -> Option<PipelineSpec> {
    if let Some(spec) = run.status.as_ref().and_then(|s| s.pipeline_spec.clone()) {
        return Some(*spec);
    }
    if let Some(spec) = &run.spec.pipeline_spec {
        return Some((**spec).clone());
    }
    let name = run.pipeline_name()?;
    ctx.pipelines
        .get(&ObjectRef::new(name).within(namespace))
        .map(|p| p.spec.clone())
}

/// The results a pipeline task's Task declares, when it is known.
pub fn declared_results(task: &PipelineTask, namespace: &str, tasks: &Catalog) -> Option<Vec<String>> {
    let names = |spec: &minitask_api::TaskSpec| spec.results.iter().map(|r| r.name.clone()).collect();
    if let Some(spec) = &task.task_spec {
        return Some(names(spec));
    }
    tasks.with(task.task_ref.as_ref()?, namespace, names)
}

/// Why `task`'s named Task cannot be found, when the cache lacks it.
pub fn missing_task(task: &PipelineTask, namespace: &str, tasks: &Catalog) -> Option<String> {
    let reference = task.task_ref.as_ref()?;
    if tasks.has(reference, namespace) {
        return None;
    }
    Some(format!(
        "{}; create it or fix the taskRef",
        tasks.not_found(reference, namespace)
    ))
}

/// The claims of the run that exist (made by it: its UID owns them),
/// looked up by their names.
fn claims(run: &PipelineRun, namespace: &str, ctx: &PipelineContext) -> BTreeSet<String> {
    let none = BTreeSet::new();
    run.spec
        .workspaces
        .iter()
        .filter(|b| b.volume_claim_template.is_some())
        .flat_map(|b| {
            [
                claim_name(&run.name_any(), &b.name, &none),
                legacy_claim_name(&run.name_any(), &b.name),
            ]
        })
        .filter(|name| {
            ctx.claims
                .get(&ObjectRef::new(name).within(namespace))
                .is_some_and(|c| owned_by(c.owner_references(), run))
        })
        .collect()
}

fn owned_by(owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference], run: &PipelineRun) -> bool {
    owners
        .iter()
        .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == run.metadata.uid.as_deref())
}

/// Creates `claim`; what the API server refused, if it did. A claim of
/// that name that the run does not own (another run's, a user's) is
/// never mounted: the run fails.
async fn create_claim(
    run: &PipelineRun,
    claim: &PersistentVolumeClaim,
    namespace: &str,
    ctx: &PipelineContext,
) -> Result<Option<CreateRefused>, PipelineError> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace);
    let name = claim.name_any();
    let refused = |refusal| CreateRefused {
        name: name.clone(),
        claim: true,
        refusal,
    };
    match create_or_read(&api, claim).await {
        Ok(Made::Created(_)) => {
            info!(claim = %name, "created claim");
            Ok(None)
        }
        Ok(Made::Exists(Some(c))) if !owned_by(c.owner_references(), run) => {
            Ok(Some(refused(Refusal::Permanent(format!(
                "claim {name} already exists and is not owned by PipelineRun {}: it is never mounted by this run; delete it or start a run with another name",
                run.name_any()
            )))))
        }
        Ok(Made::Exists(_)) => Ok(None),
        Err(error) => {
            let object = Refused {
                kind: "claim",
                resource: "persistentvolumeclaims",
                name: &name,
                fix: "fix the workspace's volumeClaimTemplate and start a new run",
            };
            match refusal_in(&object, namespace, &error) {
                Some(refusal) => Ok(Some(refused(refusal))),
                None => Err(write_error(run, format!("creating claim {name}"))(error)),
            }
        }
    }
}

/// A create of `object` the API server did not take: the refusal to
/// record in the run, or None (the API server busy or away: an error,
/// retried quietly).
fn refusal_in(object: &Refused, namespace: &str, error: &kube::Error) -> Option<Refusal> {
    match error {
        kube::Error::Api(e) => refusal_of(object, namespace, e.code, &e.message),
        _ => None,
    }
}

/// What came of creating a child TaskRun.
enum Created {
    Yes,
    /// Its name is taken by a TaskRun that is not the run's.
    Taken(String),
    Refused(CreateRefused),
}

async fn create_child(
    run: &PipelineRun,
    child: &TaskRun,
    namespace: &str,
    ctx: &PipelineContext,
) -> Result<Created, PipelineError> {
    let api: Api<TaskRun> = Api::namespaced(ctx.client.clone(), namespace);
    let name = child.name_any();
    match create_or_read(&api, child).await {
        Ok(Made::Created(_)) => {
            info!(taskrun = %name, "created TaskRun");
            ctx.created.created(ObjectRef::new(&name).within(namespace));
            Ok(Created::Yes)
        }
        // A previous controller (or this one, with a stale cache) made it:
        // it is the run's only if its owner and its task say so.
        Ok(Made::Exists(existing)) => {
            let ours = existing.is_some_and(|t| owned_by(t.owner_references(), run) && same_task(&t, child));
            Ok(match ours {
                true => Created::Yes,
                false => Created::Taken(name),
            })
        }
        Err(error) => {
            let object = Refused {
                kind: "TaskRun",
                resource: "taskruns",
                name: &name,
                fix: "fix the Pipeline or the PipelineRun and start a new run",
            };
            match refusal_in(&object, namespace, &error) {
                Some(refusal) => Ok(Created::Refused(CreateRefused {
                    name,
                    claim: false,
                    refusal,
                })),
                None => Err(write_error(run, format!("creating TaskRun {name}"))(error)),
            }
        }
    }
}

/// Whether `existing` (a TaskRun of the run's that has `child`'s name) is
/// the TaskRun of `child`'s pipeline task.
fn same_task(existing: &TaskRun, child: &TaskRun) -> bool {
    existing.labels().get(LABEL_PIPELINE_TASK) == child.labels().get(LABEL_PIPELINE_TASK)
}

async fn cancel_child(
    run: &PipelineRun,
    name: &str,
    namespace: &str,
    ctx: &PipelineContext,
) -> Result<(), PipelineError> {
    let api: Api<TaskRun> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = json!({"spec": {"cancelled": true}});
    match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => {
            info!(taskrun = %name, "cancelled TaskRun");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(write_error(run, format!("cancelling TaskRun {name}"))(source)),
    }
}

async fn delete_stale(
    run: &PipelineRun,
    stale: &TaskRun,
    namespace: &str,
    ctx: &PipelineContext,
) -> Result<(), PipelineError> {
    let api: Api<TaskRun> = Api::namespaced(ctx.client.clone(), namespace);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: stale.uid(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(&stale.name_any(), &params).await {
        Ok(_) => {
            info!(taskrun = %stale.name_any(), "deleted the TaskRun of an earlier PipelineRun of the same name");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(source) => Err(write_error(run, format!("deleting TaskRun {}", stale.name_any()))(
            source,
        )),
    }
}

/// Deletes the claims a finished run made (unless it keeps them).
async fn delete_claims(
    run: &PipelineRun,
    plan: &Plan,
    namespace: &str,
    ctx: &PipelineContext,
) -> Result<(), PipelineError> {
    let present = claims(run, namespace, ctx);
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace);
    for name in plan.delete_claims.iter().filter(|n| present.contains(*n)) {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => info!(claim = %name, "deleted the claim of a finished run"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => return Err(write_error(run, format!("deleting claim {name}"))(source)),
        }
    }
    Ok(())
}

/// A finished run: its claims go (unless kept), a TaskRun still running
/// is cancelled (a controller that died between the end's write and the
/// cancel), and the run is deleted once its TTL has passed.
async fn finished(
    run: &PipelineRun,
    namespace: &str,
    children: &BTreeMap<String, TaskRun>,
    ctx: &PipelineContext,
    now: &Time,
) -> Result<Action, PipelineError> {
    let after = after_end(run, children, &claims(run, namespace, ctx), now);
    let plan = Plan {
        delete_claims: after.delete_claims,
        ..Plan::default()
    };
    delete_claims(run, &plan, namespace, ctx).await?;
    for name in &after.cancel {
        cancel_child(run, name, namespace, ctx).await?;
    }
    match after.delete_in {
        None => return Ok(Action::await_change()),
        Some(left) if !left.is_zero() => return Ok(Action::requeue(left.min(RESYNC))),
        Some(_) => {}
    }
    let status = run.status.clone().unwrap_or_default();
    if let Some(left) = archive_hold(
        &status.conditions,
        status.completion_time.as_ref(),
        ctx.max_archive_wait,
        now,
    ) {
        return Ok(Action::requeue(left.min(RESYNC)));
    }
    let api: Api<PipelineRun> = Api::namespaced(ctx.client.clone(), namespace);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: run.uid(),
            resource_version: run.resource_version(),
        }),
        ..DeleteParams::background()
    };
    match api.delete(&run.name_any(), &params).await {
        Ok(_) => info!("deleted a finished run (retention)"),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(source) => return Err(write_error(run, "deleting the finished run")(source)),
    }
    Ok(Action::await_change())
}

/// Writes `status` (server-side apply, with the run's resourceVersion as
/// a precondition) when it differs from the stored one and this replica
/// holds the run's shard. True when it wrote.
async fn write_if_changed(
    run: &PipelineRun,
    namespace: &str,
    status: &PipelineRunStatus,
    ctx: &PipelineContext,
) -> Result<bool, PipelineError> {
    if run.status.as_ref() == Some(status) || !ctx.holds(run) {
        return Ok(false);
    }
    let api: Api<PipelineRun> = Api::namespaced(ctx.client.clone(), namespace);
    apply_status(&api, run, status)
        .await
        .map_err(write_error(run, "writing the status"))?;
    ctx.written.wrote(run);
    info!(phase = ?status.phase, reason = status.reason.as_deref(), progress = status.progress.as_deref(), "status updated");
    Ok(true)
}

async fn announce(run: &PipelineRun, before: &PipelineRunStatus, after: &PipelineRunStatus, ctx: &PipelineContext) {
    if !before.phase.is_some_and(Phase::is_terminal) && after.phase.is_some_and(Phase::is_terminal) {
        let reason = after.reason.clone().unwrap_or_default();
        ctx.metrics
            .pipelines_finished
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }
    for a in announcements(before, after) {
        if ctx.holds(run) {
            ctx.publisher.publish(run, a).await;
        }
    }
}

/// Transient errors are retried after a pause; a stale write at once.
pub fn error_policy(run: Arc<PipelineRun>, error: &PipelineError, ctx: Arc<PipelineContext>) -> Action {
    ctx.metrics.failed(error.metric_label());
    if let PipelineError::Write {
        source: kube::Error::Api(e),
        ..
    } = error
        && e.code == 409
    {
        return Action::requeue(Duration::from_secs(1));
    }
    warn!(pipelinerun = %run.name_any(), namespace = run.namespace().as_deref().unwrap_or_default(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
