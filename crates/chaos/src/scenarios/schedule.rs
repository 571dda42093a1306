//! Schedules through kill -9: a Trigger firing every (simulated) minute
//! while the replica holding its shard is killed around each fire time and
//! started again, with a second replica ready to take the shard. Every
//! fire time must get exactly one run, named after it, with its time as
//! the param; none twice, none lost.
//!
//! The replicas read a simulated clock that runs faster than the wall
//! clock, the same in both (`--simulated-clock-*`), so that a minute
//! passes in the time a failover takes plus 5 s: a failover then never
//! spans two fire times, and each one missed is started late, once.

use std::time::{Duration, Instant};

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams, PostParams};
use minitask_api::{LABEL_TRIGGER, ParamValue, Phase, TaskRun, Trigger};
use minitask_bench::plane::NAMESPACE;
use minitask_controller::schedule::run_name;
use minitask_controller::shards::shard_of;
use serde_json::json;

use super::{Settings, secs};
use crate::check::Expect;
use crate::replica::{Replica, Spec};
use crate::rng::Rng;
use crate::stage::Stage;
use crate::table::Row;

const SHARDS: u32 = 4;
const TRIGGER: &str = "every-minute";

pub async fn schedule(s: &Settings) -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let minute = s.failover_bound() + Duration::from_secs(5);
    let speed = 60.0 / minute.as_secs_f64();
    let epoch = Timestamp::now().as_second();
    let clock = move |real: Timestamp| -> Timestamp {
        let simulated = real
            .duration_since(Timestamp::from_second(epoch).unwrap())
            .as_secs_f64()
            * speed;
        Timestamp::from_second(epoch).unwrap() + SignedDuration::from_secs_f64(simulated)
    };
    let real_of = move |simulated: Timestamp| -> Timestamp {
        let since = simulated
            .duration_since(Timestamp::from_second(epoch).unwrap())
            .as_secs_f64()
            / speed;
        Timestamp::from_second(epoch).unwrap() + SignedDuration::from_secs_f64(since)
    };
    let specs: Vec<Spec> = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, name)| Spec {
            clock: Some((epoch, speed)),
            ..Spec::new(i, name, SHARDS, s.lease)
        })
        .collect();
    let mut replicas = Vec::new();
    for spec in &specs {
        stage.members.push(spec.member());
        replicas.push(Replica::start(&stage.plane, spec).await?);
    }
    stage.balanced(SHARDS, &["a", "b"], Duration::from_secs(90)).await?;
    create_trigger(&stage).await?;
    let shard = shard_of(NAMESPACE, TRIGGER, SHARDS);
    // The first fire time the controller handles: one that passed since the
    // Trigger was created (the clocks differ) or the next.
    let triggers: Api<Trigger> = Api::namespaced(stage.plane.client.clone(), NAMESPACE);
    let started = Instant::now();
    let first = loop {
        let status = triggers.get(TRIGGER).await?.status.unwrap_or_default();
        if let Some(next) = status.next_fire_time {
            break status.last_fire_time.map_or(next.0, |t| t.0);
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the Trigger never got a next fire time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // kill -9 the holder of the Trigger's shard around each fire time (up
    // to 2 s before or after, in wall time), and start it again at once,
    // as the kubelet restarts a crashed container.
    let mut rng = Rng::new(s.seed);
    let mut kills = 0;
    for k in 0..s.fire_times {
        let fire = first + SignedDuration::from_secs(60 * k as i64);
        let offset = rng.between(Duration::ZERO, Duration::from_secs(4));
        let at = real_of(fire) - SignedDuration::from_secs(2) + SignedDuration::try_from(offset)?;
        sleep_until(at).await;
        let holders = stage.holders(SHARDS).await?;
        let Some(holder) = holders[shard as usize].clone() else {
            continue;
        };
        let Some(i) = replicas.iter().position(|r| r.spec.identity == holder) else {
            continue;
        };
        let replica = replicas.remove(i);
        let spec = replica.spec.clone();
        replica.kill().await;
        stage.fault();
        kills += 1;
        replicas.push(Replica::spawn(&stage.plane, &spec)?);
    }
    // The last fire time handled (late, after a failover at worst).
    let last = first + SignedDuration::from_secs(60 * (s.fire_times as i64 - 1));
    sleep_until(real_of(last) + SignedDuration::try_from(s.failover_bound() + Duration::from_secs(3))?).await;
    let ended = clock(Timestamp::now());

    let runs: Api<TaskRun> = Api::namespaced(stage.plane.client.clone(), NAMESPACE);
    let ours = runs
        .list(&ListParams::default().labels(&format!("{LABEL_TRIGGER}={TRIGGER}")))
        .await?
        .items;
    let trigger = triggers.get(TRIGGER).await?;
    // Every fire time from the first handled up to `last`.
    let mut due = Vec::new();
    let mut fire = first;
    while fire <= last {
        due.push(fire);
        fire += SignedDuration::from_secs(60);
    }
    for fire in &due {
        let name = run_name(TRIGGER, *fire);
        let named: Vec<&TaskRun> = ours
            .iter()
            .filter(|r| r.metadata.name.as_deref() == Some(name.as_str()))
            .collect();
        match named.as_slice() {
            [run] => {
                if run.spec.params.first().map(|p| &p.value) != Some(&ParamValue::String(fire.to_string())) {
                    stage
                        .problems
                        .push(format!("run {name} has the param {:?}, not {fire}", run.spec.params));
                }
                stage.expected.insert(name.clone(), fate(&name));
            }
            [] => stage.problems.push(format!("fire time {fire} has no run")),
            more => stage.problems.push(format!("fire time {fire} has {} runs", more.len())),
        }
    }
    let names: Vec<String> = due.iter().map(|f| run_name(TRIGGER, *f)).collect();
    // Runs of fire times after `last` may have started since; any other
    // run is one too many.
    for run in &ours {
        let name = run.metadata.name.clone().unwrap_or_default();
        let later = run.spec.params.first().and_then(|p| match &p.value {
            ParamValue::String(t) => t.parse::<Timestamp>().ok(),
            _ => None,
        });
        if !names.contains(&name) && later.is_none_or(|t| t <= last || t > ended) {
            stage.problems.push(format!("run {name} belongs to no fire time"));
        }
    }
    stage.notes.push(format!(
        "{} fire times (a simulated minute every {}), {kills} kills of the shard's holder around them: {} runs, {} skipped {:?}",
        due.len(),
        secs(minute),
        ours.len(),
        trigger.status.as_ref().map_or(0, |st| st.skipped.values().sum::<i64>()),
        trigger.status.as_ref().map(|st| st.skipped.clone()).unwrap_or_default(),
    ));
    stage.drain(s.drain).await;
    for mut replica in replicas {
        if !replica.alive() {
            stage
                .problems
                .push(format!("replica {} exited on its own", replica.spec.identity));
        }
    }
    Ok(stage.finish("schedule kill -9"))
}

/// How a run ends, by the simulated kubelet's rule (`load::fates`): its
/// number (the fire minute) decides; triggered runs have no retries.
fn fate(name: &str) -> Expect {
    let n: usize = name.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(1);
    match n.is_multiple_of(5) {
        true => Expect::new(Phase::Failed, "StepFailed", 1),
        false => Expect::new(Phase::Succeeded, "Succeeded", 1),
    }
}

async fn create_trigger(stage: &Stage) -> anyhow::Result<()> {
    let tasks: Api<minitask_api::Task> = Api::namespaced(stage.plane.client.clone(), NAMESPACE);
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "tick"},
        "spec": {"params": [{"name": "at"}], "steps": [{"name": "tick", "image": "busybox", "script": "echo $(params.at)"}]},
    });
    tasks
        .create(&PostParams::default(), &serde_json::from_value(task)?)
        .await?;
    let trigger = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": TRIGGER},
        "spec": {"schedule": {"cron": "* * * * *"},
                 "run": {"taskRef": {"name": "tick"}, "params": [{"name": "at", "value": "$(schedule.time)"}]}},
    });
    let triggers: Api<Trigger> = Api::namespaced(stage.plane.client.clone(), NAMESPACE);
    triggers
        .create(&PostParams::default(), &serde_json::from_value(trigger)?)
        .await?;
    Ok(())
}

async fn sleep_until(at: Timestamp) {
    let wait = at.duration_since(Timestamp::now());
    if let Ok(wait) = Duration::try_from(wait) {
        tokio::time::sleep_until((Instant::now() + wait).into()).await;
    }
}
