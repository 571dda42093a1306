//! The faults, one scenario each: each starts its own control plane,
//! injects its faults while runs flow, then leaves the checking to
//! `Stage::finish`.

mod archive;
mod failover;
mod hostile;
mod partition;
mod restart;
mod schedule;
mod storm;
mod upgrade;

use std::time::{Duration, Instant};

pub use archive::archive;
pub use failover::failover;
pub use hostile::hostile;
pub use partition::partition;
pub use restart::restart;
pub use schedule::schedule;
pub use storm::storm;
pub use upgrade::upgrade;

use crate::stage::Stage;

/// What the scenarios are given.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Runs per burst.
    pub runs: usize,
    /// kill -9 of the storm.
    pub kills: usize,
    /// The replicas' `--lease-duration`.
    pub lease: Duration,
    pub seed: u64,
    /// How long the runs may take to end after the last fault.
    pub drain: Duration,
    /// How long a restarted component stays down after it has stopped.
    pub outage: Duration,
    /// Fire times of the schedule scenario.
    pub fire_times: usize,
}

impl Settings {
    /// The Lease duration plus one renew interval plus 2 s: how long a
    /// shard may go unworked after its holder dies.
    pub fn failover_bound(&self) -> Duration {
        self.lease + self.lease / 3 + Duration::from_secs(2)
    }
}

/// Waits until the watches have seen `count` runs (the burst is under way).
pub async fn until_created(stage: &Stage, count: usize, bound: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    while stage.log.lock().record.runs.len() < count {
        anyhow::ensure!(
            started.elapsed() < bound,
            "only {} of the runs were created within {bound:?}",
            stage.log.lock().record.runs.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A duration for a note: `1.23s`.
pub fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Waits until run `name` has a pod.
pub async fn until_pod(stage: &Stage, name: &str, bound: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let has = {
            let log = stage.log.lock();
            let uids: Vec<&String> = log
                .record
                .runs
                .iter()
                .filter(|(_, s)| s.name == name)
                .map(|(u, _)| u)
                .collect();
            log.record.pods.keys().any(|(owner, _)| uids.contains(&owner))
        };
        if has {
            return Ok(());
        }
        anyhow::ensure!(started.elapsed() < bound, "run {name} got no pod within {bound:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
