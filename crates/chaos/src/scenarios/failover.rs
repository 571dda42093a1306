//! Replica failover: three replicas share eight shards; the one holding
//! most is killed mid-burst. Every shard must be held again, and a run of
//! a lost shard make progress, within the Lease duration + one renew
//! interval + 2 s. Then a graceful stop (SIGTERM) must hand its shards
//! over at once, with no wait for the Leases to expire.

use std::time::{Duration, Instant};

use minitask_bench::plane::NAMESPACE;
use minitask_controller::shards::shard_of;

use super::{Settings, secs, until_created};
use crate::audit;
use crate::replica::{Replica, Spec};
use crate::stage::Stage;
use crate::table::Row;

const SHARDS: u32 = 8;

pub async fn failover(s: &Settings) -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let specs: Vec<Spec> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, name)| Spec::new(i, name, SHARDS, s.lease))
        .collect();
    let mut replicas = Vec::new();
    for spec in &specs {
        stage.members.push(spec.member());
        replicas.push(Replica::start(&stage.plane, spec).await?);
    }
    stage
        .balanced(SHARDS, &["a", "b", "c"], Duration::from_secs(90))
        .await?;
    let runs = stage.plain(1, s.runs);
    let burst = stage.burst(runs);
    until_created(&stage, s.runs / 3, Duration::from_secs(60)).await?;

    // kill -9 the replica holding most shards.
    let holders = stage.holders(SHARDS).await?;
    let count = |name: &str| holders.iter().filter(|h| h.as_deref() == Some(name)).count();
    let victim = (0..replicas.len())
        .max_by_key(|&i| count(&replicas[i].spec.identity))
        .unwrap_or(0);
    let identity = replicas[victim].spec.identity.clone();
    let lost: Vec<u32> = (0..SHARDS)
        .filter(|&s| holders[s as usize].as_deref() == Some(identity.as_str()))
        .collect();
    let killed = Instant::now();
    let killed_at = k8s_openapi::jiff::Timestamp::now();
    let victim_uid = replicas[victim].spec.member().uid;
    replicas.remove(victim).kill().await;
    stage.fault();
    let survivors: Vec<String> = replicas.iter().map(|r| r.spec.identity.clone()).collect();
    let names: Vec<&str> = survivors.iter().map(String::as_str).collect();
    let bound = s.failover_bound();
    let held = stage.balanced(SHARDS, &names, bound + Duration::from_secs(30)).await;
    let held = held.map(|_| killed.elapsed());
    // The first write by a survivor on a run of a lost shard, from the
    // audit log (a watch could still show the dead replica's last writes).
    let in_lost = |run: &str| lost.contains(&shard_of(NAMESPACE, run, SHARDS));
    let mut progress = None;
    while progress.is_none() && killed.elapsed() < bound + Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        progress = audit::first_act(&stage.audit(), NAMESPACE, killed_at, &victim_uid, in_lost)
            .and_then(|at| at.duration_since(killed_at).try_into().ok());
    }
    match &held {
        Ok(t) if *t <= bound => {}
        Ok(t) => stage.problems.push(format!(
            "the shards of {identity} were held again only after {}, over {}",
            secs(*t),
            secs(bound)
        )),
        Err(e) => stage.problems.push(format!("after {identity} died: {e}")),
    }
    match progress {
        Some(t) if t <= bound => {}
        Some(t) => stage.problems.push(format!(
            "a run of a lost shard made progress only after {}, over {}",
            secs(t),
            secs(bound)
        )),
        None => stage
            .problems
            .push(format!("no run of the lost shards {lost:?} made progress")),
    }
    stage.notes.push(format!(
        "kill -9 of {identity} (shards {lost:?}): every shard held again after {}, first progress on a lost shard after {} (bound {})",
        held.as_ref().map_or("never".into(), |t| secs(*t)),
        progress.map_or("never".into(), secs),
        secs(bound)
    ));

    // A graceful stop hands over at once.
    let leaving = replicas.remove(0);
    let stays = replicas[0].spec.identity.clone();
    let stopped = Instant::now();
    leaving.stop().await?;
    stage.fault();
    // No wait for the Leases to expire: the stopping replica releases
    // them, and the other takes them on its next round.
    match stage
        .balanced(SHARDS, &[&stays], s.lease + Duration::from_secs(30))
        .await
    {
        Ok(_) => {
            let t = stopped.elapsed();
            stage.notes.push(format!(
                "SIGTERM: every shard held by {stays} {} after the stop began (the in-flight reconciles finish, the Leases are released, the other replica takes them on its next round, at most {} later; an expired Lease would take {})",
                secs(t),
                secs(s.lease / 3),
                secs(s.lease)
            ));
            if t >= s.lease {
                stage.problems.push(format!(
                    "a graceful stop took {} to hand over: as long as a Lease takes to expire ({})",
                    secs(t),
                    secs(s.lease)
                ));
            }
        }
        Err(e) => stage.problems.push(format!("after the graceful stop: {e}")),
    }
    burst.await??;
    stage.drain(s.drain).await;
    Ok(stage.finish("replica failover"))
}
