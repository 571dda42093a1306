//! Leader election per shard: every replica competes for the Lease of
//! every shard (`minitask-controller-shard-<i>`) and works only on the runs
//! of the shards it holds.
//!
//! How overlap is bounded: a replica trusts a shard only until
//! `renewal start + lease duration - renew interval`, so it stops working
//! on a shard a full renew interval before another replica may take the
//! expired Lease (clock skew between nodes must stay below that interval).
//! kube-leader-election takes an expired Lease without a resourceVersion
//! precondition, so two replicas racing for it could both be told they won;
//! a freshly won shard is therefore confirmed by a second renewal (which
//! reads the holder back) before work starts. Whatever overlap remains is
//! harmless: pod names are deterministic (AlreadyExists), and every status
//! write carries the resourceVersion it was computed from, so a write from
//! a replica that has lost the shard cannot overwrite a newer status.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::Client;
use kube_leader_election::{LeaseLock, LeaseLockParams, LeaseLockResult};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::shard::lease_name;

/// Where and as whom to take the shard Leases.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// The namespace of the Leases (the controller's own).
    pub namespace: String,
    /// This replica's name in the Leases (its pod name).
    pub identity: String,
    /// How long a Lease lasts without renewal.
    pub duration: Duration,
}

impl LeaseConfig {
    /// A third of the duration, as client-go's defaults have it.
    pub fn renew_interval(&self) -> Duration {
        self.duration / 3
    }
}

/// The shards this replica may work on, shared by the reconciler and the
/// election loop.
#[derive(Clone)]
pub struct Shards {
    count: u32,
    /// For each shard: until when this replica may work on it.
    until: Arc<Mutex<Vec<Option<Instant>>>>,
    /// No election: every shard is ours, for good.
    all: bool,
}

impl Shards {
    /// Every shard, always: a single replica without election.
    pub fn all(count: u32) -> Shards {
        Shards {
            count: count.max(1),
            until: Arc::default(),
            all: true,
        }
    }

    /// None yet: the election loop grants them.
    pub fn elected(count: u32) -> Shards {
        Shards {
            count: count.max(1),
            until: Arc::new(Mutex::new(vec![None; count.max(1) as usize])),
            all: false,
        }
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// True while this replica may work on `shard`.
    pub fn holds(&self, shard: u32) -> bool {
        if self.all {
            return true;
        }
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until
            .get(shard as usize)
            .copied()
            .flatten()
            .is_some_and(|t| Instant::now() < t)
    }

    fn grant(&self, shard: u32, until: Option<Instant>) {
        let mut all = self.until.lock().unwrap_or_else(|e| e.into_inner());
        all[shard as usize] = until;
    }

    fn held(&self) -> Vec<u32> {
        (0..self.count).filter(|s| self.holds(*s)).collect()
    }
}

/// Competes for every shard until `stop` turns true, then releases the
/// shards it holds so that another replica takes them at once. Sends on
/// `won` whenever it starts to hold a shard, so that its runs are looked at.
pub async fn elect(
    client: Client,
    config: LeaseConfig,
    shards: Shards,
    won: mpsc::Sender<()>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let locks: Vec<LeaseLock> = (0..shards.count())
        .map(|shard| {
            let params = LeaseLockParams {
                lease_name: lease_name(shard),
                holder_id: config.identity.clone(),
                lease_ttl: config.duration,
            };
            LeaseLock::new(client.clone(), &config.namespace, params)
        })
        .collect();
    let trust = config.duration.saturating_sub(config.renew_interval());
    loop {
        let mut newly = false;
        for (shard, lock) in (0u32..).zip(&locks) {
            let had = shards.holds(shard);
            let started = Instant::now();
            let mut won_now = acquired(lock.try_acquire_or_renew().await, shard);
            if won_now == Some(true) && !had {
                // Confirm a fresh win: this renewal reads the holder back.
                tokio::time::sleep(Duration::from_millis(200)).await;
                won_now = acquired(lock.try_acquire_or_renew().await, shard);
            }
            match won_now {
                Some(true) => {
                    shards.grant(shard, Some(started + trust));
                    if !had {
                        info!(shard, "took the shard's lease");
                        newly = true;
                    }
                }
                Some(false) => {
                    if had {
                        warn!(shard, "lost the shard's lease");
                    }
                    shards.grant(shard, None);
                }
                // An API error: keep what we have until it runs out.
                None => {}
            }
        }
        metrics.shards_held.set(shards.held().len() as i64);
        if newly {
            let _ = won.try_send(());
        }
        tokio::select! {
            _ = tokio::time::sleep(config.renew_interval()) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
    for shard in shards.held() {
        shards.grant(shard, None);
        match locks[shard as usize].step_down().await {
            Ok(()) => info!(shard, "released the shard's lease"),
            Err(e) => warn!(shard, %e, "releasing the shard's lease"),
        }
    }
    metrics.shards_held.set(0);
}

/// Some(true) when the Lease is ours, Some(false) when another holds it,
/// None when the API could not say.
fn acquired(result: Result<LeaseLockResult, kube_leader_election::Error>, shard: u32) -> Option<bool> {
    match result {
        Ok(LeaseLockResult::Acquired(_)) => Some(true),
        Ok(LeaseLockResult::NotAcquired(_)) => Some(false),
        Err(e) => {
            warn!(shard, %e, "checking the shard's lease");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_election_every_shard_is_held() {
        let shards = Shards::all(4);
        assert!((0..4).all(|s| shards.holds(s)));
    }

    #[test]
    fn an_elected_shard_is_held_until_its_trust_runs_out() {
        let shards = Shards::elected(2);
        assert!(!shards.holds(0) && !shards.holds(1));
        shards.grant(0, Some(Instant::now() + Duration::from_secs(60)));
        shards.grant(1, Some(Instant::now() - Duration::from_millis(1)));
        assert!(shards.holds(0));
        assert!(!shards.holds(1), "a lapsed grant is not held");
        assert_eq!(shards.held(), [0]);
        let config = LeaseConfig {
            namespace: "ns".into(),
            identity: "me".into(),
            duration: Duration::from_secs(15),
        };
        assert_eq!(config.renew_interval(), Duration::from_secs(5));
    }
}
