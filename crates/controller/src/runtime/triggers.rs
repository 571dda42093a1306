//! The Trigger reconciler: records whether a Trigger can fire and, for a
//! schedule, starts the run of each fire time (webhooks are received by
//! minitask-hooks, never here). A shell around `schedule::{check, plan}`.
//!
//! Order: the run is created first, named after its fire time, then the
//! status records the fire time. A crash between the two repeats the
//! create, which the API server refuses (409): one run per fire time.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use minitask_api::{
    LABEL_TRIGGER, Pipeline, PipelineRun, SECRET_FOUND, TaskRef, TaskRun, Trigger, TriggerStatus, label_value,
    triggered_run,
};
use serde_json::json;
use tracing::{info, warn};

use crate::pod::MANAGER;
use crate::runtime::catalog::Catalog;
use crate::runtime::leases::Shards;
use crate::schedule::{self, Running};
use crate::shards::shard_of;

/// The time a schedule reads: the wall clock, or one a test moves, and
/// how many times faster than the wall clock it runs.
#[derive(Clone)]
pub struct Clock {
    pub now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    pub speed: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            now: Arc::new(Timestamp::now),
            speed: 1.0,
        }
    }
}

impl Clock {
    /// A clock that runs `speed` times faster than the wall clock since
    /// `epoch` (unix seconds): the same reading in every process.
    pub fn simulated(epoch: i64, speed: f64) -> Clock {
        let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
        let now = move || {
            let start = Timestamp::from_second(epoch).unwrap_or(Timestamp::UNIX_EPOCH);
            let real = Timestamp::now().duration_since(start).as_secs_f64();
            let simulated = jiff::SignedDuration::try_from_secs_f64(real * speed).unwrap_or_default();
            start.checked_add(simulated).unwrap_or(start)
        };
        Clock {
            now: Arc::new(now),
            speed,
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// The longest a schedule waits before looking at the clock again: a wall
/// clock that steps delays a fire time by at most this.
pub const RECHECK: Duration = Duration::from_secs(60);

/// How often a Trigger that cannot fire is looked at again.
const INVALID_RECHECK: Duration = Duration::from_secs(5);

pub struct TriggerContext {
    pub client: Client,
    pub tasks: Catalog,
    pub pipelines: Store<Pipeline>,
    pub taskruns: Store<TaskRun>,
    pub pipelineruns: Store<PipelineRun>,
    pub shards: Shards,
    pub clock: Clock,
    pub recheck: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("{what} for Trigger {namespace}/{trigger}: {source}")]
    Write {
        namespace: String,
        trigger: String,
        what: String,
        source: kube::Error,
    },
    /// A bug (a panic) or an API call that did not answer.
    #[error("Trigger {trigger}: {why}")]
    Stuck { trigger: String, why: String },
}

pub async fn reconcile(trigger: Arc<Trigger>, ctx: Arc<TriggerContext>) -> Result<Action, TriggerError> {
    let namespace = trigger.namespace().unwrap_or_default();
    let name = trigger.name_any();
    if !ctx.shards.holds(shard_of(&namespace, &name, ctx.shards.count())) {
        return Ok(Action::await_change());
    }
    let write = |what: &str| {
        let (namespace, trigger, what) = (namespace.clone(), name.clone(), what.to_string());
        move |source| TriggerError::Write {
            namespace,
            trigger,
            what,
            source,
        }
    };
    let task = |t: &TaskRef| ctx.tasks.has(t, &namespace);
    let pipeline = |p: &str| ctx.pipelines.get(&ObjectRef::new(p).within(&namespace)).is_some();
    let checked = schedule::check(&trigger, &task, &pipeline).and_then(|cron| {
        match trigger.status.as_ref().and_then(|s| s.webhook_secret.as_deref()) {
            // minitask-hooks, which may read Secrets, says what is wrong.
            Some(problem) if trigger.spec.webhook.is_some() && problem != SECRET_FOUND => Err(problem.to_string()),
            _ => Ok(cron),
        }
    });
    let old = trigger.status.clone().unwrap_or_default();
    let mut status = old.clone();
    status.observed_generation = trigger.metadata.generation;
    status.conditions = vec![ready(&old, checked.as_ref().err())];
    let now = (ctx.clock.now)();
    let mut action = Action::await_change();
    if let (Ok(Some(cron)), Some(spec)) = (&checked, &trigger.spec.schedule) {
        let created = trigger.creation_timestamp().map_or(now, |t| t.0);
        let last = old.last_fire_time.as_ref().map(|t| t.0);
        let running = running(&ctx, &namespace, &name);
        let plan = schedule::plan(&name, cron, spec, last, created, now, &running);
        for run in &plan.cancel {
            cancel(&ctx.client, &namespace, run)
                .await
                .map_err(write("cancelling a run"))?;
        }
        for (reason, count) in &plan.skipped {
            *status.skipped.entry(reason.to_string()).or_default() += count;
        }
        if let Some(at) = plan.fire {
            let run_name = schedule::run_name(&name, at);
            let time = Time(at).0.to_string();
            let fill = |reference: &str| (reference == "schedule.time").then(|| time.clone());
            match triggered_run(&trigger, &run_name, &fill, &[]) {
                Ok(run) => {
                    // An existing run of this name is this fire time's,
                    // created before a crash: started all the same.
                    run.create(&ctx.client).await.map_err(write("starting a run"))?;
                    info!(trigger = %name, %namespace, run = %run_name, fire_time = %at, "started a scheduled run");
                    status.fired += 1;
                    status.last_run = Some(run_name);
                }
                Err(message) => {
                    warn!(trigger = %name, %namespace, %message, "a fire time could not fill its params");
                    *status.skipped.entry("Invalid".into()).or_default() += 1;
                    status.conditions = vec![ready(&old, Some(&message))];
                }
            }
        }
        status.last_fire_time = plan.handled.map(Time).or(status.last_fire_time);
        status.next_fire_time = plan.next.map(Time);
        if let Some(next) = plan.next {
            let simulated = next.duration_since(now).as_secs_f64().max(0.0) / ctx.clock.speed;
            let wait = Duration::try_from_secs_f64(simulated).unwrap_or(ctx.recheck);
            action = Action::requeue(wait.min(ctx.recheck) + Duration::from_millis(5));
        }
    } else {
        status.next_fire_time = None;
    }
    // A missing Task or Pipeline may be created: look again (Tasks do not
    // wake Triggers).
    if checked.is_err() {
        action = Action::requeue(INVALID_RECHECK);
    }
    if status != old {
        write_status(&ctx.client, &trigger, &status)
            .await
            .map_err(write("recording the status"))?;
    }
    Ok(action)
}

pub fn error_policy(trigger: Arc<Trigger>, error: &TriggerError, _: Arc<TriggerContext>) -> Action {
    warn!(trigger = %trigger.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

/// The `Ready` condition, keeping its transition time while it holds.
fn ready(old: &TriggerStatus, problem: Option<&String>) -> Condition {
    let (status, reason, message) = match problem {
        None => ("True", "Ready", "the Trigger can fire".to_string()),
        Some(problem) => ("False", "Invalid", problem.clone()),
    };
    let previous = old.conditions.iter().find(|c| c.type_ == "Ready");
    let since = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)),
    };
    Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time: since,
        observed_generation: None,
    }
}

/// The Trigger's runs that have not ended, from the caches.
fn running(ctx: &TriggerContext, namespace: &str, trigger: &str) -> Vec<Running> {
    let label = label_value(trigger);
    let ours = |labels: &BTreeMap<String, String>| labels.get(LABEL_TRIGGER) == Some(&label);
    let mut found: Vec<Running> = ctx
        .taskruns
        .state()
        .iter()
        .filter(|r| r.namespace().as_deref() == Some(namespace) && ours(r.labels()) && !r.phase().is_terminal())
        .map(|r| Running { name: r.name_any() })
        .collect();
    found.extend(
        ctx.pipelineruns
            .state()
            .iter()
            .filter(|r| r.namespace().as_deref() == Some(namespace) && ours(r.labels()) && !r.phase().is_terminal())
            .map(|r| Running { name: r.name_any() }),
    );
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// Cancels a run of the Trigger, a TaskRun or a PipelineRun.
async fn cancel(client: &Client, namespace: &str, name: &str) -> Result<(), kube::Error> {
    let patch = json!({"spec": {"cancelled": true}});
    let params = PatchParams::default();
    let done = match Api::<TaskRun>::namespaced(client.clone(), namespace)
        .patch(name, &params, &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(e)) if e.code == 404 => Api::<PipelineRun>::namespaced(client.clone(), namespace)
            .patch(name, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ()),
        other => other.map(|_| ()),
    };
    match done {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => {
            info!(run = %name, %namespace, "cancelled a run to replace it");
            other
        }
    }
}

/// Writes the controller's part of the status: for a webhook, only
/// whether it is Ready (minitask-hooks writes what its deliveries did).
async fn write_status(client: &Client, trigger: &Trigger, status: &TriggerStatus) -> Result<(), kube::Error> {
    let api: Api<Trigger> = Api::namespaced(client.clone(), &trigger.namespace().unwrap_or_default());
    let mine = match trigger.spec.schedule {
        Some(_) => TriggerStatus {
            last_delivery: None,
            rejected: BTreeMap::new(),
            ..status.clone()
        },
        None => TriggerStatus {
            conditions: status.conditions.clone(),
            observed_generation: status.observed_generation,
            ..TriggerStatus::default()
        },
    };
    let patch = json!({
        "apiVersion": Trigger::api_version(&()),
        "kind": Trigger::kind(&()),
        "status": mine,
    });
    api.patch_status(
        &trigger.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
}
