//! Wiring: watches with caches for TaskRuns, Pods (by label) and Tasks,
//! feeding the TaskRun Controller; and for PipelineRuns, Pipelines and
//! claims (by label), feeding the PipelineRun Controller, which the
//! TaskRun watch also wakes when a PipelineRun's TaskRun changes.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{FutureExt, Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use minitask_api::{
    ClusterTask, LABEL_PIPELINERUN, LABEL_TASKRUN, Pipeline, PipelineRun, Task, TaskKind, TaskRef, TaskRun, Trigger,
};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};
use tracing::{error, info, warn};

use crate::pod::{MANAGER, PodOptions};
use crate::runtime::cache::{self, CachedPod};
use crate::runtime::catalog::Catalog;
use crate::runtime::children::Children;
use crate::runtime::http::{Health, serve};
use crate::runtime::leases::{LeaseConfig, Shards, elect};
use crate::runtime::metrics::Metrics;
use crate::runtime::pipeline_status::record_validity;
use crate::runtime::pipelines::{self, PipelineContext, PipelineError};
use crate::runtime::publisher::{Publisher, Reporter};
use crate::runtime::reconcile::{Context, Error, error_policy, reconcile};
use crate::runtime::relisted::{Relisted, controllers_of};
use crate::runtime::task_status::record_task_status;
use crate::runtime::task_users::TaskUsers;
use crate::runtime::task_watch;
use crate::runtime::triggers::{self, Clock, TriggerContext, TriggerError};
use crate::runtime::watches::{WatchBackoff, controller, log_errors};
use crate::shards::shard_of;
use crate::status::retention::Finished;

/// The default `--workers` (see the README's Performance section for why).
pub const DEFAULT_WORKERS: u16 = 8;

/// How long one reconcile may take. The client has no read timeout (a
/// watch may be quiet for minutes), so a request on a connection that died
/// without a reset (a node powered off behind a load balancer) would hang
/// until TCP gives up, about 15 minutes, holding a worker; a reconcile is
/// safe to abandon at any await, as at a crash, and is tried again.
const RECONCILE_TIMEOUT: Duration = Duration::from_secs(60);

/// Objects per page of a watch's list. Each page is parsed whole before its
/// objects are slimmed for the cache: kube's default of 500 pods made the
/// list, not the cache, the peak of memory at startup.
const LIST_PAGE: u32 = 100;

/// How one controller process runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Watch one namespace, or all of them when None.
    pub namespace: Option<String>,
    pub pod_options: PodOptions,
    /// How many shards the runs are split into.
    pub shards: u32,
    /// Compete for the shards' Leases; without, this replica works on all.
    pub lease: Option<LeaseConfig>,
    /// At most this many reconciles at once (never two of one run).
    pub workers: u16,
    /// Where to serve /metrics, /healthz and /readyz.
    pub metrics_addr: Option<SocketAddr>,
    /// Keep only the newest N finished runs of each Task.
    pub keep_finished_per_task: Option<usize>,
    /// With an archive installed: delete a finished run only once it is
    /// archived, or this long after it ended.
    pub max_archive_wait: Option<Duration>,
    /// Delete a finished run's pods once the archive holds their logs.
    pub delete_pods_after_archive: bool,
    /// This replica's name in Events and Leases.
    pub identity: String,
    /// The time schedules read (tests move it).
    pub clock: Clock,
    /// The longest a schedule waits before reading the clock again.
    pub schedule_recheck: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespace: None,
            pod_options: PodOptions::default(),
            shards: 1,
            lease: None,
            workers: DEFAULT_WORKERS,
            metrics_addr: None,
            keep_finished_per_task: None,
            max_archive_wait: None,
            delete_pods_after_archive: false,
            identity: MANAGER.into(),
            clock: Clock::default(),
            schedule_recheck: triggers::RECHECK,
        }
    }
}

/// Why the controller stopped on its own.
#[derive(Debug, thiserror::Error)]
#[error("the controller stopped although no shutdown was asked for; its watches ended")]
pub struct Stopped;

/// Runs the controller until `shutdown` completes, then finishes the
/// reconciles in flight, releases its Leases and returns. Returns an error
/// if it stops for any other reason, so that the process can exit non-zero
/// and be restarted.
pub async fn run(
    client: Client,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), Stopped> {
    let (taskruns, tasks, pods) = apis(&client, config.namespace.as_deref());
    let (run_store, run_writer) = reflector::store();
    let (task_store, task_writer) = reflector::store();
    let (cluster_task_store, cluster_task_writer) = reflector::store();
    let catalog = Catalog {
        tasks: task_store.clone(),
        cluster: cluster_task_store,
    };
    let (pod_store, pod_writer) = reflector::store();

    // The finished runs of each Task follow the watch; a run that falls
    // beyond `--keep-finished-per-task` is sent to be looked at (and
    // deleted by the replica holding its shard).
    let finished = Arc::new(std::sync::Mutex::new(Finished::default()));
    let (beyond_keep, beyond_keep_rx) = mpsc::unbounded_channel();
    let (index, keep) = (finished.clone(), config.keep_finished_per_task);
    let synced = Synced::default();
    let (pipelineruns, pipelines, claims) = pipeline_apis(&client, config.namespace.as_deref());
    let (pipeline_store, pipeline_writer) = reflector::store();
    let metrics = Arc::new(Metrics::default());
    let shards = match &config.lease {
        Some(_) => Shards::elected(config.shards),
        None => Shards::all(config.shards),
    };
    // Status writes on Tasks and Pipelines come from the replica holding
    // their shard alone.
    let holder = shards.clone();
    let holds = move |namespace: &str, name: &str| holder.holds(shard_of(namespace, name, holder.count()));
    // Each PipelineRun's TaskRuns follow the watch too; a change wakes the
    // PipelineRun.
    let children = Arc::new(std::sync::Mutex::new(Children::default()));
    let (wake_parent, woken_parents) = mpsc::unbounded_channel();
    let child_index = children.clone();
    // What a relist changed, looked at again once it is complete
    // (relisted.rs): the runs themselves, the runs of the pods, the runs
    // waiting for the Tasks.
    let (look_again, runs_again) = mpsc::unbounded_channel();
    let mut relisted_runs = Relisted::sending(run_store.clone(), &look_again, |run| vec![ObjectRef::from_obj(run)]);
    let mut relisted_pods = Relisted::sending(pod_store.clone(), &look_again, controllers_of::<CachedPod, TaskRun>);
    let waiting = run_store.clone();
    let mut relisted_tasks = Relisted::sending(task_store.clone(), &look_again, move |task| {
        runs_waiting_for(&waiting, task)
    });
    let run_events = watcher(taskruns, watcher::Config::default().page_size(LIST_PAGE))
        .inspect(log_errors("taskruns"))
        .backoff(WatchBackoff::default())
        .modify(cache::run)
        .reflect(run_writer)
        .inspect_ok(synced.marker(0))
        .inspect_ok(move |event| relisted_runs.apply(event))
        .inspect_ok(move |event| {
            for parent in child_index.lock().unwrap_or_else(|e| e.into_inner()).apply(event) {
                let _ = wake_parent.send(parent);
            }
            let Some(keep) = keep else { return };
            let doomed = index.lock().unwrap_or_else(|e| e.into_inner()).apply(event, keep);
            for run in doomed {
                let _ = beyond_keep.send(run);
            }
        })
        .applied_objects();
    let woken_parents = receiver_stream(woken_parents);
    let beyond_keep = receiver_stream(beyond_keep_rx);
    // Each Task and ClusterTask passes by once per change (task_watch.rs).
    let task_users = Arc::new(std::sync::Mutex::new(TaskUsers::default()));
    let listed = synced.clone();
    let wiring = task_watch::Wiring {
        client: client.clone(),
        holds: Arc::new(holds.clone()),
        listed: Arc::new(move || listed.tasks_listed()),
        users: task_users.clone(),
        pipelines: pipeline_store.clone(),
        catalog: catalog.clone(),
    };
    let tasks = watcher(tasks, watcher::Config::default().page_size(LIST_PAGE))
        .inspect(log_errors("tasks"))
        .backoff(WatchBackoff::default())
        .modify(cache::task)
        .reflect(task_writer)
        .inspect_ok(synced.marker(1))
        .inspect_ok(move |event| relisted_tasks.apply(event));
    let task_events = task_watch::follow(tasks, wiring.clone());
    // ClusterTasks are watched whatever `--namespace` says: runs of any
    // namespace may name them.
    let waiting = run_store.clone();
    let mut relisted_cluster_tasks = Relisted::sending(catalog.cluster.clone(), &look_again, move |task| {
        runs_waiting_for_cluster_task(&waiting, task)
    });
    let cluster_tasks = watcher(
        Api::<ClusterTask>::all(client.clone()),
        watcher::Config::default().page_size(LIST_PAGE),
    )
    .inspect(log_errors("clustertasks"))
    .backoff(WatchBackoff::default())
    .modify(cache::cluster_task)
    .reflect(cluster_task_writer)
    .inspect_ok(synced.marker(7))
    .inspect_ok(move |event| relisted_cluster_tasks.apply(event));
    let cluster_task_events = task_watch::follow(cluster_tasks, wiring);
    // Only our pods: the label selector keeps the rest of the cluster's pods
    // out of the watch and the cache.
    let pod_config = watcher::Config::default().labels(LABEL_TASKRUN).page_size(LIST_PAGE);
    let pod_events = watcher(pods, pod_config)
        .inspect(log_errors("pods"))
        .backoff(WatchBackoff::default())
        .reflect(pod_writer)
        .inspect_ok(synced.marker(2))
        .inspect_ok(move |event| relisted_pods.apply(event))
        .touched_objects();

    let (plr_store, plr_writer) = reflector::store();
    let (claim_store, claim_writer) = reflector::store();
    // And for PipelineRuns: themselves, those of the claims, those waiting
    // for the Pipelines (their TaskRuns wake them through `children`).
    let (look_again, pipelineruns_again) = mpsc::unbounded_channel();
    let mut relisted_pipelineruns =
        Relisted::sending(plr_store.clone(), &look_again, |run| vec![ObjectRef::from_obj(run)]);
    let mut relisted_claims = Relisted::sending(
        claim_store.clone(),
        &look_again,
        controllers_of::<PersistentVolumeClaim, PipelineRun>,
    );
    let waiting = plr_store.clone();
    let mut relisted_pipelines = Relisted::sending(pipeline_store.clone(), &look_again, move |pipeline| {
        pipelineruns_waiting_for(&waiting, pipeline)
    });
    // Each Pipeline passes by once per change: record whether it is valid.
    let (validity_client, validity_tasks) = (client.clone(), catalog.clone());
    let pipeline_holds = holds.clone();
    let pipelines_synced = synced.clone();
    let pipeline_events = watcher(pipelines, watcher::Config::default().page_size(LIST_PAGE))
        .inspect(log_errors("pipelines"))
        .backoff(WatchBackoff::default())
        .modify(cache::pipeline)
        .reflect(pipeline_writer)
        .inspect_ok(synced.marker(3))
        .inspect_ok(move |event| relisted_pipelines.apply(event))
        .inspect_ok(move |event| task_users.lock().unwrap_or_else(|e| e.into_inner()).apply(event))
        .applied_objects()
        .and_then(move |pipeline| {
            let (client, tasks) = (validity_client.clone(), validity_tasks.clone());
            let tasks_listed = pipelines_synced.tasks_listed();
            let held = pipeline_holds(&pipeline.namespace().unwrap_or_default(), &pipeline.name_any());
            async move {
                if held {
                    record_validity(&client, &tasks, tasks_listed, &pipeline).await;
                }
                Ok(pipeline)
            }
        });
    let plr_events = watcher(pipelineruns, watcher::Config::default().page_size(LIST_PAGE))
        .inspect(log_errors("pipelineruns"))
        .backoff(WatchBackoff::default())
        .modify(cache::pipeline_run)
        .reflect(plr_writer)
        .inspect_ok(synced.marker(4))
        .inspect_ok(move |event| relisted_pipelineruns.apply(event))
        .applied_objects();
    // Only the claims PipelineRuns made: the label keeps the rest out.
    let claim_config = watcher::Config::default()
        .labels(LABEL_PIPELINERUN)
        .page_size(LIST_PAGE);
    let claim_events = watcher(claims, claim_config)
        .inspect(log_errors("claims"))
        .backoff(WatchBackoff::default())
        .reflect(claim_writer)
        .inspect_ok(synced.marker(5))
        .inspect_ok(move |event| relisted_claims.apply(event))
        .touched_objects();

    // Triggers: a schedule's fire times, and whether each can fire.
    let trigger_api: Api<Trigger> = match config.namespace.as_deref() {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (trigger_store, trigger_writer) = reflector::store();
    let trigger_events = watcher(trigger_api, watcher::Config::default().page_size(LIST_PAGE))
        .inspect(log_errors("triggers"))
        .backoff(WatchBackoff::default())
        .modify(|trigger: &mut Trigger| trigger.metadata.managed_fields = None)
        .reflect(trigger_writer)
        .inspect_ok(synced.marker(6))
        .applied_objects();
    let trigger_ctx = Arc::new(TriggerContext {
        client: client.clone(),
        tasks: catalog.clone(),
        pipelines: pipeline_store.clone(),
        taskruns: run_store.clone(),
        pipelineruns: plr_store.clone(),
        shards: shards.clone(),
        clock: config.clock.clone(),
        recheck: config.schedule_recheck,
    });

    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: config.identity.clone(),
    };
    let (publisher, publishing) = Publisher::start(client.clone(), reporter);
    let mut pipeline_ctx = PipelineContext::new(
        client.clone(),
        pipeline_store.clone(),
        catalog.clone(),
        run_store.clone(),
        claim_store,
        children,
        shards.clone(),
        metrics.clone(),
        publisher.clone(),
    );
    pipeline_ctx.max_archive_wait = config.max_archive_wait;
    let pipeline_ctx = Arc::new(pipeline_ctx);
    let mut context = Context::new(client.clone(), pod_store.clone(), catalog.clone(), config.pod_options);
    context.shards = shards.clone();
    context.metrics = metrics.clone();
    context.publisher = publisher;
    context.keep_finished_per_task = config.keep_finished_per_task;
    context.max_archive_wait = config.max_archive_wait;
    context.delete_pods_after_archive = config.delete_pods_after_archive;
    context.finished = finished;
    let ctx = Arc::new(context);
    // Tasks that must not outlive this function, even when it is dropped
    // mid-way (a crashed replica must stop renewing its Leases).
    let mut tasks_of_this_run = AbortOnDrop(Vec::new());
    let problem_of = shards.clone();
    let probed = synced.clone();
    let health = Arc::new(Health {
        metrics: metrics.clone(),
        ready: Box::new(move || probed.all()),
        problem: Box::new(move || problem_of.problem()),
    });
    if let Some(addr) = config.metrics_addr {
        match TcpListener::bind(addr).await {
            Ok(listener) => tasks_of_this_run.0.push(tokio::spawn(serve(listener, health.clone()))),
            Err(e) => warn!(%addr, %e, "cannot serve metrics and probes"),
        }
    }
    // Winning a shard looks at every run again; those of other shards
    // return at once.
    let (won, _) = broadcast::channel(4);
    let (won_runs, won_pipelines, won_triggers) = (won.subscribe(), won.subscribe(), won.subscribe());
    // And the statuses of its Tasks and Pipelines, which changed while
    // nobody held it.
    let mut won_statuses = won.subscribe();
    let (status_client, status_tasks, status_pipelines) = (client.clone(), catalog.clone(), pipeline_store.clone());
    let status_synced = synced.clone();
    tasks_of_this_run.0.push(tokio::spawn(async move {
        while let Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) = won_statuses.recv().await {
            for task in status_tasks.tasks.state() {
                if holds(&task.namespace().unwrap_or_default(), &task.name_any()) {
                    record_task_status(&status_client, task.as_ref()).await;
                }
            }
            for task in status_tasks.cluster.state() {
                if holds("", &task.name_any()) {
                    record_task_status(&status_client, task.as_ref()).await;
                }
            }
            for pipeline in status_pipelines.state() {
                if holds(&pipeline.namespace().unwrap_or_default(), &pipeline.name_any()) {
                    record_validity(&status_client, &status_tasks, status_synced.tasks_listed(), &pipeline).await;
                }
            }
        }
    }));
    let (stop, stopped) = watch::channel(false);
    let election = config.lease.clone().map(|lease| {
        info!(shards = config.shards, identity = %lease.identity, namespace = %lease.namespace, "competing for the shard leases");
        tokio::spawn(elect(client.clone(), lease, shards, won, metrics.clone(), stopped))
    });
    let mut election = AbortOnDrop(election.into_iter().collect());

    let waiting_runs = run_store.clone();
    let waiting_cluster_runs = run_store.clone();
    let waiting_pipelineruns = plr_store.clone();
    let asked = Arc::new(AtomicBool::new(false));
    let shutdown = {
        let asked = asked.clone();
        async move {
            shutdown.await;
            asked.store(true, Ordering::SeqCst);
        }
    }
    .shared();
    info!(
        namespace = config.namespace.as_deref().unwrap_or("<all>"),
        "starting controller"
    );
    let trigger_synced = synced.clone();
    let taskruns = controller(run_events, run_store, config.workers)
        .owns_stream(pod_events)
        .watches_stream(task_events, move |task| runs_waiting_for(&waiting_runs, &task))
        .watches_stream(cluster_task_events, move |task| {
            runs_waiting_for_cluster_task(&waiting_cluster_runs, &task)
        })
        .reconcile_all_on(broadcast_stream(won_runs))
        .reconcile_on(beyond_keep)
        .reconcile_on(receiver_stream(runs_again))
        .graceful_shutdown_on(shutdown.clone())
        .run(
            {
                let synced = synced.clone();
                move |run, ctx: Arc<Context>| {
                    let synced = synced.clone();
                    async move {
                        // Until every cache holds a full list, a missing pod or
                        // Task would be a false alarm: look again shortly.
                        if !synced.all() {
                            return Ok(Action::requeue(Duration::from_millis(500)));
                        }
                        let started = std::time::Instant::now();
                        let key = format!("{}/{}", run.namespace().unwrap_or_default(), run.name_any());
                        // A panic is a bug; it must not end the controller for
                        // every other run (kube-runtime would end its stream).
                        let reconciling = AssertUnwindSafe(reconcile(run, ctx.clone())).catch_unwind();
                        let result = match tokio::time::timeout(RECONCILE_TIMEOUT, reconciling).await {
                            Ok(Ok(result)) => result,
                            Ok(Err(panic)) => Err(Error::Panicked {
                                run: key,
                                message: panic_message(panic.as_ref()),
                            }),
                            Err(_) => Err(Error::TimedOut {
                                run: key,
                                after: RECONCILE_TIMEOUT,
                            }),
                        };
                        ctx.metrics.reconciled(result.is_ok(), started.elapsed().as_secs_f64());
                        result
                    }
                }
            },
            error_policy,
            ctx,
        )
        .for_each(dropped_requests);
    let pipelineruns = controller(plr_events, plr_store, config.workers)
        .owns_stream(claim_events)
        .watches_stream(pipeline_events, move |pipeline| {
            pipelineruns_waiting_for(&waiting_pipelineruns, &pipeline)
        })
        .reconcile_all_on(broadcast_stream(won_pipelines))
        .reconcile_on(woken_parents)
        .reconcile_on(receiver_stream(pipelineruns_again))
        .graceful_shutdown_on(shutdown.clone())
        .run(
            move |run, ctx: Arc<PipelineContext>| {
                let synced = synced.clone();
                async move {
                    if !synced.all() {
                        return Ok(Action::requeue(Duration::from_millis(500)));
                    }
                    let key = format!("{}/{}", run.namespace().unwrap_or_default(), run.name_any());
                    let reconciling = AssertUnwindSafe(pipelines::reconcile(run, ctx)).catch_unwind();
                    match tokio::time::timeout(RECONCILE_TIMEOUT, reconciling).await {
                        Ok(Ok(result)) => result,
                        Ok(Err(panic)) => Err(PipelineError::Panicked {
                            run: key,
                            message: panic_message(panic.as_ref()),
                        }),
                        Err(_) => Err(PipelineError::TimedOut {
                            run: key,
                            after: RECONCILE_TIMEOUT,
                        }),
                    }
                }
            },
            pipelines::error_policy,
            pipeline_ctx,
        )
        .for_each(dropped_requests);
    let triggers = controller(trigger_events, trigger_store, config.workers)
        .reconcile_all_on(broadcast_stream(won_triggers))
        .graceful_shutdown_on(shutdown.clone())
        .run(
            move |trigger, ctx: Arc<TriggerContext>| {
                let synced = trigger_synced.clone();
                async move {
                    // A schedule's Forbid reads the runs, Ready the Tasks.
                    if !synced.all() {
                        return Ok(Action::requeue(Duration::from_millis(500)));
                    }
                    let key = format!("{}/{}", trigger.namespace().unwrap_or_default(), trigger.name_any());
                    let reconciling = AssertUnwindSafe(triggers::reconcile(trigger, ctx)).catch_unwind();
                    match tokio::time::timeout(RECONCILE_TIMEOUT, reconciling).await {
                        Ok(Ok(result)) => result,
                        Ok(Err(panic)) => Err(TriggerError::Stuck {
                            trigger: key,
                            why: format!("the reconcile panicked: {}", panic_message(panic.as_ref())),
                        }),
                        Err(_) => Err(TriggerError::Stuck {
                            trigger: key,
                            why: format!("the reconcile took longer than {RECONCILE_TIMEOUT:?}; trying again"),
                        }),
                    }
                }
            },
            triggers::error_policy,
            trigger_ctx,
        )
        .for_each(dropped_requests);
    futures::future::join3(taskruns, pipelineruns, triggers).await;
    // No reconcile runs any more: now the shards can go to another replica,
    // and the Events of the last reconciles are created.
    let _ = stop.send(true);
    if tokio::time::timeout(Duration::from_secs(5), publishing).await.is_err() {
        warn!("some Events were not published within 5s of stopping");
    }
    for handle in election.0.drain(..) {
        let _ = handle.await;
    }
    if !asked.load(Ordering::SeqCst) {
        error!("the controller stopped although no shutdown was asked for");
        return Err(Stopped);
    }
    info!("controller stopped");
    Ok(())
}

/// What the Controller says of each request: a request for a run its
/// store does not hold is dropped by kube-runtime; say so (debug), as such
/// a drop once hid a run that was never looked at (relisted.rs).
fn dropped_requests<T, E: std::fmt::Display>(
    result: Result<T, kube::runtime::controller::Error<E, kube::runtime::watcher::Error>>,
) -> futures::future::Ready<()> {
    if let Err(kube::runtime::controller::Error::ObjectNotFound(object)) = &result {
        tracing::debug!(%object, "a reconcile request for a run the cache does not hold was dropped");
    }
    futures::future::ready(())
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "a panic without a message".into(),
    }
}

/// Which watches have delivered their first full list (their stores hold
/// it by then). Kept here rather than asked of `Store::wait_until_ready`:
/// kube-runtime 4.2 wakes only the last of several tasks waiting on one
/// store (its `DelayedInit` keeps one waker), so a second waiter, or a probe
/// that polls it once, can leave the others (the Controller's own included)
/// parked for good.
#[derive(Clone, Default)]
struct Synced(Arc<[AtomicBool; 8]>);

impl Synced {
    /// Marks watch `index` synced when its first list is done.
    fn marker<K>(&self, index: usize) -> impl FnMut(&watcher::Event<K>) + use<K> {
        let flags = self.0.clone();
        move |event| {
            if let watcher::Event::InitDone = event {
                flags[index].store(true, Ordering::SeqCst);
            }
        }
    }

    /// Whether watch `index` has delivered its first full list.
    fn is(&self, index: usize) -> bool {
        self.0[index].load(Ordering::SeqCst)
    }

    /// Whether the Tasks and the ClusterTasks are both listed: before, a
    /// Task missing from the caches is not known to be missing.
    fn tasks_listed(&self) -> bool {
        self.is(1) && self.is(7)
    }

    fn all(&self) -> bool {
        self.0.iter().all(|f| f.load(Ordering::SeqCst))
    }
}

/// Aborts its tasks when dropped.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

pub(crate) fn apis(client: &Client, namespace: Option<&str>) -> (Api<TaskRun>, Api<Task>, Api<CachedPod>) {
    match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
    }
}

/// The PipelineRun and Pipeline and claim APIs, in one namespace or all.
fn pipeline_apis(
    client: &Client,
    namespace: Option<&str>,
) -> (Api<PipelineRun>, Api<Pipeline>, Api<PersistentVolumeClaim>) {
    match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
    }
}

/// The items of a channel, as a stream.
fn receiver_stream<T: Send + 'static>(rx: mpsc::UnboundedReceiver<T>) -> impl Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// Each `()` of a broadcast, as a stream (a lag is a wake-up too).
fn broadcast_stream(rx: broadcast::Receiver<()>) -> impl Stream<Item = ()> + Send {
    futures::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => Some(((), rx)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

/// The PipelineRuns that wait for `pipeline` (not started yet): a Pipeline
/// that appears or changes wakes exactly those.
fn pipelineruns_waiting_for(runs: &Store<PipelineRun>, pipeline: &Pipeline) -> Vec<ObjectRef<PipelineRun>> {
    let namespace = pipeline.namespace();
    runs.state()
        .iter()
        .filter(|run| run.namespace() == namespace && run.pipeline_name() == Some(pipeline.name_any().as_str()))
        .filter(|run| run.status.as_ref().is_none_or(|s| s.pipeline_spec.is_none()))
        .map(|run| ObjectRef::from_obj(run.as_ref()))
        .collect()
}

/// The not-yet-started runs in `task`'s namespace that name it: a Task that
/// appears (or changes) wakes exactly those.
fn runs_waiting_for(runs: &Store<TaskRun>, task: &Task) -> Vec<ObjectRef<TaskRun>> {
    let (namespace, reference) = (task.namespace(), TaskRef::task(task.name_any()));
    waiting(runs, |run| {
        run.namespace() == namespace && run.spec.task_ref.as_ref() == Some(&reference)
    })
}

/// The same for a ClusterTask: the runs of every namespace that name it.
fn runs_waiting_for_cluster_task(runs: &Store<TaskRun>, task: &ClusterTask) -> Vec<ObjectRef<TaskRun>> {
    let reference = TaskRef {
        name: task.name_any(),
        kind: TaskKind::ClusterTask,
    };
    waiting(runs, |run| run.spec.task_ref.as_ref() == Some(&reference))
}

/// The runs `names` picks among those without a pod yet.
fn waiting(runs: &Store<TaskRun>, names: impl Fn(&TaskRun) -> bool) -> Vec<ObjectRef<TaskRun>> {
    runs.state()
        .iter()
        .filter(|run| names(run) && run.status.as_ref().is_none_or(|s| s.pod_name.is_none()))
        .map(|run| ObjectRef::from_obj(run.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_caught_with_its_message() {
        let caught = futures::executor::block_on(AssertUnwindSafe(async { panic!("boom {}", 1) }).catch_unwind());
        assert_eq!(panic_message(caught.unwrap_err().as_ref()), "boom 1");
        let caught = futures::executor::block_on(AssertUnwindSafe(async { panic!("static") }).catch_unwind());
        assert_eq!(panic_message(caught.unwrap_err().as_ref()), "static");
    }
}
