//! Leader election per shard: each replica keeps a member Lease, reads all
//! the Leases once per round, and holds its fair share of the shard Leases
//! (`minitask-controller-shard-<i>`, through kube-leader-election; see
//! `balance` for who holds what). It works only on the runs of the shards
//! it holds.
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
//!
//! Every Lease call of a round runs concurrently, each bounded by the renew
//! interval, so 64 shards renew as fast as one.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Client, ResourceExt};
use kube_leader_election::{LeaseLock, LeaseLockParams, LeaseLockResult};
use minitask_api::shorten;
use serde_json::json;
use tokio::sync::{broadcast, watch};
use tracing::{info, warn};

use crate::pod::MANAGER;
use crate::runtime::metrics::Metrics;
use crate::shards::balance::{LeaseView, SHARDS_ANNOTATION, plan};
use crate::shards::{member_prefix, shard_lease};

/// Where and as whom to take the shard Leases.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Whose Leases (`shards::CONTROLLER`, or the archive's): the Lease
    /// names start with it.
    pub component: String,
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

/// A replica's name when none is given: the host name (the pod's), or
/// `<component>-<pid>`.
pub fn default_identity(component: &str) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| format!("{component}-{}", std::process::id()))
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
    /// Why this replica works on no shard, when it cannot (for /readyz).
    problem: Arc<Mutex<Option<String>>>,
}

impl Shards {
    /// Every shard, always: a single replica without election.
    pub fn all(count: u32) -> Shards {
        Shards {
            count: count.max(1),
            until: Arc::default(),
            all: true,
            problem: Arc::default(),
        }
    }

    /// None yet: the election loop grants them.
    pub fn elected(count: u32) -> Shards {
        Shards {
            count: count.max(1),
            until: Arc::new(Mutex::new(vec![None; count.max(1) as usize])),
            all: false,
            problem: Arc::default(),
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

    /// Lets this replica work on `shard` until `until` (None: no more).
    /// True when the shard was not held the instant before: runs turned
    /// away in that gap need a look, even when the gap opened and closed
    /// within one renewal call.
    fn grant(&self, shard: u32, until: Option<Instant>) -> bool {
        let now = Instant::now();
        let mut all = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = all.get_mut(shard as usize) else {
            return false;
        };
        let was_held = slot.is_some_and(|t| now < t);
        *slot = until;
        !was_held
    }

    fn held(&self) -> Vec<u32> {
        (0..self.count).filter(|s| self.holds(*s)).collect()
    }

    /// Why this replica works on no shard, if it cannot.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_problem(&self, problem: Option<String>) {
        *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = problem;
    }
}

/// One replica's side of the election.
struct Election {
    config: LeaseConfig,
    leases: Api<Lease>,
    locks: Vec<LeaseLock>,
    shards: Shards,
    /// How long one Lease call may take.
    call_timeout: Duration,
}

/// Competes for the shards until `stop` turns true, then releases the
/// shards it holds so that another replica takes them at once. Sends on
/// `won` whenever it starts to hold a shard, so that its runs are looked at.
pub async fn elect(
    client: Client,
    config: LeaseConfig,
    shards: Shards,
    won: broadcast::Sender<()>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let locks = (0..shards.count())
        .map(|shard| {
            let params = LeaseLockParams {
                lease_name: shard_lease(&config.component, shard),
                holder_id: config.identity.clone(),
                lease_ttl: config.duration,
            };
            LeaseLock::new(client.clone(), &config.namespace, params)
        })
        .collect();
    let election = Election {
        leases: Api::namespaced(client, &config.namespace),
        call_timeout: config.renew_interval(),
        config,
        locks,
        shards,
    };
    loop {
        if election.round().await {
            let _ = won.send(());
        }
        metrics.shards_held.set(election.shards.held().len() as i64);
        metrics.shards_agree.set(i64::from(election.shards.problem().is_none()));
        tokio::select! {
            _ = tokio::time::sleep(election.config.renew_interval()) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
    election.leave().await;
    metrics.shards_held.set(0);
}

impl Election {
    /// One round: say we are alive, read every Lease, then renew, take and
    /// release shards as the plan says. True when a shard was newly won.
    async fn round(&self) -> bool {
        let started = Instant::now();
        let trust = self.config.duration.saturating_sub(self.config.renew_interval());
        if let Err(e) = self.call(self.write_member()).await {
            warn!(%e, "renewing this replica's member lease");
        }
        let list = match self.call(self.leases.list(&ListParams::default())).await {
            Ok(list) => list.items,
            // Keep what we hold until its trust runs out.
            Err(e) => {
                warn!(%e, "listing the leases");
                return false;
            }
        };
        let now = Timestamp::now();
        self.collect_dead_members(&list, now).await;
        let views: Vec<LeaseView> = list.iter().map(view).collect();
        let plan = plan(
            &self.config.component,
            &self.config.identity,
            self.shards.count(),
            &views,
            now,
        );
        if plan.disagreement != self.shards.problem() {
            match &plan.disagreement {
                Some(problem) => warn!(%problem, "the replicas disagree on the shard count"),
                None => info!("the replicas agree on the shard count"),
            }
            self.shards.set_problem(plan.disagreement.clone());
        }
        // Stop working on a shard before letting it go.
        for &shard in &plan.release {
            self.shards.grant(shard, None);
        }
        let releases = plan.release.iter().map(|&shard| async move {
            match self.call(self.locks[shard as usize].step_down()).await {
                Ok(()) => info!(shard, "released the shard's lease"),
                Err(e) => warn!(shard, %e, "releasing the shard's lease"),
            }
        });
        let renewals = plan.keep.iter().map(|&shard| async move {
            match self.acquire(shard).await {
                // Held on the server but not here (this replica restarted
                // under the same name, or its trust ran out before this
                // renewal came back): its runs need a look.
                Some(true) => self.shards.grant(shard, Some(started + trust)),
                Some(false) => {
                    warn!(shard, "lost the shard's lease");
                    self.shards.grant(shard, None);
                    false
                }
                // An API error: keep what we have until it runs out.
                None => false,
            }
        });
        let takes = plan
            .take
            .iter()
            .map(|&shard| async move { (shard, self.acquire(shard).await) });
        let (_, renewed, taken) = futures::join!(join_all(releases), join_all(renewals), join_all(takes));
        let mut newly = renewed.contains(&true);
        // Confirm fresh wins: this renewal reads the holder back.
        let fresh: Vec<u32> = taken
            .into_iter()
            .filter_map(|(shard, won)| (won == Some(true)).then_some(shard))
            .collect();
        if fresh.is_empty() {
            return newly;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let confirmed = Instant::now();
        let confirms = fresh
            .iter()
            .map(|&shard| async move { (shard, self.acquire(shard).await) });
        for (shard, won) in join_all(confirms).await {
            if won == Some(true) {
                self.shards.grant(shard, Some(confirmed + trust));
                info!(shard, "took the shard's lease");
                newly = true;
            }
        }
        newly
    }

    /// Some(true) when the shard's Lease is ours, Some(false) when another
    /// holds it, None when the API could not say in time.
    async fn acquire(&self, shard: u32) -> Option<bool> {
        match self.call(self.locks[shard as usize].try_acquire_or_renew()).await {
            Ok(LeaseLockResult::Acquired(_)) => Some(true),
            Ok(LeaseLockResult::NotAcquired(_)) => Some(false),
            Err(e) => {
                warn!(shard, %e, "checking the shard's lease");
                None
            }
        }
    }

    /// Runs one Lease call, bounded by the call timeout.
    async fn call<T, E: std::fmt::Display>(&self, call: impl Future<Output = Result<T, E>>) -> Result<T, String> {
        match tokio::time::timeout(self.call_timeout, call).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.call_timeout)),
        }
    }

    /// The member Lease's name: the identity, made a valid object name.
    fn member_name(&self) -> String {
        let safe: String = self
            .config
            .identity
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' })
            .collect();
        let safe = safe.trim_matches(['-', '.']);
        let prefix = member_prefix(&self.config.component);
        format!("{prefix}{}", shorten(safe, "", 253 - prefix.len()))
    }

    /// Writes this replica's member Lease: alive now, with its shard count.
    async fn write_member(&self) -> Result<Lease, kube::Error> {
        let name = self.member_name();
        let now = Timestamp::now();
        let patch = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "annotations": {SHARDS_ANNOTATION: self.shards.count().to_string()},
            },
            "spec": {
                "holderIdentity": self.config.identity,
                "leaseDurationSeconds": self.config.duration.as_secs().max(1),
                "renewTime": format!("{:.6}", now.display_with_offset(k8s_openapi::jiff::tz::Offset::UTC)),
            },
        });
        self.leases
            .patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&patch))
            .await
    }

    /// Deletes member Leases whose replica has been gone for a long time
    /// (a crash leaves them behind); the resourceVersion makes sure a
    /// replica that came back is not removed.
    async fn collect_dead_members(&self, leases: &[Lease], now: Timestamp) {
        let long_ago = SignedDuration::try_from(self.config.duration * 10).unwrap_or(SignedDuration::MAX);
        let prefix = member_prefix(&self.config.component);
        for lease in leases.iter().filter(|l| l.name_any().starts_with(&prefix)) {
            let dead = view(lease)
                .expires
                .and_then(|e| e.checked_add(long_ago).ok())
                .is_some_and(|gone| gone < now);
            if !dead {
                continue;
            }
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: None,
                    resource_version: lease.resource_version(),
                }),
                ..DeleteParams::default()
            };
            if let Err(e) = self.call(self.leases.delete(&lease.name_any(), &params)).await {
                warn!(lease = %lease.name_any(), %e, "removing the member lease of a replica long gone");
            }
        }
    }

    /// Releases every shard and the member Lease, so that the others take
    /// over at once.
    async fn leave(&self) {
        let held = self.shards.held();
        for &shard in &held {
            self.shards.grant(shard, None);
        }
        let releases = held.iter().map(|&shard| async move {
            match self.call(self.locks[shard as usize].step_down()).await {
                Ok(()) => info!(shard, "released the shard's lease"),
                Err(e) => warn!(shard, %e, "releasing the shard's lease"),
            }
        });
        join_all(releases).await;
        let name = self.member_name();
        if let Err(e) = self.call(self.leases.delete(&name, &DeleteParams::default())).await {
            warn!(%e, "removing this replica's member lease");
        }
    }
}

/// What the plan needs of a Lease.
fn view(lease: &Lease) -> LeaseView {
    let spec = lease.spec.clone().unwrap_or_default();
    let expires = match (spec.renew_time, spec.lease_duration_seconds) {
        (Some(renewed), Some(seconds)) => renewed
            .0
            .checked_add(SignedDuration::from_secs(i64::from(seconds)))
            .ok(),
        _ => None,
    };
    LeaseView {
        name: lease.name_any(),
        holder: spec.holder_identity.unwrap_or_default(),
        expires,
        shards: lease.annotations().get(SHARDS_ANNOTATION).and_then(|n| n.parse().ok()),
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
        shards.grant(7, Some(Instant::now()));
        assert!(shards.holds(0));
        assert!(!shards.holds(1), "a lapsed grant is not held");
        assert_eq!(shards.held(), [0]);
        let config = LeaseConfig {
            component: "c".into(),
            namespace: "ns".into(),
            identity: "me".into(),
            duration: Duration::from_secs(15),
        };
        assert_eq!(config.renew_interval(), Duration::from_secs(5));
    }

    #[test]
    fn a_grant_after_a_lapse_says_the_shard_was_not_held() {
        let shards = Shards::elected(1);
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(shards.grant(0, Some(soon)), "never held before");
        assert!(!shards.grant(0, Some(soon)), "renewed while held: no gap");
        // The trust runs out while a renewal is in flight; the renewal then
        // succeeds. Runs turned away meanwhile must be looked at again.
        std::thread::sleep(Duration::from_millis(30));
        assert!(shards.grant(0, Some(Instant::now() + Duration::from_secs(4))));
        assert!(!shards.grant(0, None), "released while held");
        assert!(!shards.grant(3, None), "no such shard");
    }

    #[test]
    fn a_lease_is_read_into_a_view() {
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": "minitask-controller-member-a", "annotations": {SHARDS_ANNOTATION: "4"}},
            "spec": {"holderIdentity": "a", "renewTime": "2027-01-15T08:00:00.000000Z", "leaseDurationSeconds": 15},
        }))
        .unwrap();
        let got = view(&lease);
        assert_eq!((got.holder.as_str(), got.shards), ("a", Some(4)));
        assert_eq!(got.expires.unwrap().to_string(), "2027-01-15T08:00:15Z");
        let bare: Lease = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
        assert_eq!(view(&bare).expires, None);
    }
}
