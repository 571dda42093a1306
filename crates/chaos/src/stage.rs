//! What every scenario stands on: a fresh etcd + kube-apiserver auditing
//! the controller (Lease bodies included), the Tasks, the simulated
//! kubelet, the recording watches, and at the end the checks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams};
use minitask_api::TaskRun;
use minitask_bench::kubelet::{self, Pace};
use minitask_bench::plane::{NAMESPACE, Plane};
use minitask_controller::shards::{CONTROLLER, shard_lease};
use minitask_testenv::Options;

use crate::audit::{self, Member};
use crate::check::{Expect, verdict};
use crate::load;
use crate::record::{self, Shared};
use crate::table::Row;

/// Where the Leases live (the deployed namespace).
pub const LEASE_NAMESPACE: &str = "minitask-system";

pub struct Stage {
    pub plane: Plane,
    pub log: Shared,
    watches: Vec<tokio::task::JoinHandle<()>>,
    /// How every run must end, by name.
    pub expected: BTreeMap<String, Expect>,
    /// Every replica that ran, for the audit check.
    pub members: Vec<Member>,
    pub faults: usize,
    /// Times are counted from here: the last fault (or the start).
    pub since: Instant,
    pub notes: Vec<String>,
    pub problems: Vec<String>,
}

impl Stage {
    pub async fn new() -> anyhow::Result<Stage> {
        let plane = Plane::start_with(Options {
            audit_controller: true,
            audit_leases: true,
        })
        .await?;
        load::create_tasks(&plane.client).await?;
        let log = Shared::default();
        let mut watches = record::start(&plane.client, &log);
        let pace = Pace {
            between_writes: Duration::ZERO,
            in_flight: 32,
        };
        let timeline = minitask_bench::observe::Shared::default();
        watches.push(kubelet::start(&plane.client, &timeline, pace, load::fates()));
        Ok(Stage {
            plane,
            log,
            watches,
            expected: BTreeMap::new(),
            members: Vec::new(),
            faults: 0,
            since: Instant::now(),
            notes: Vec::new(),
            problems: Vec::new(),
        })
    }

    /// Plain runs `from..=to`, to be created by `burst`.
    pub fn plain(&mut self, from: usize, to: usize) -> Vec<TaskRun> {
        (from..=to)
            .map(|n| {
                let (run, expect) = load::plain(n);
                self.expected.insert(kube::ResourceExt::name_any(&run), expect);
                run
            })
            .collect()
    }

    /// Creates `runs` in the background, 16 at a time.
    pub fn burst(&self, runs: Vec<TaskRun>) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let client = self.plane.client.clone();
        tokio::spawn(async move { load::create(&client, runs, 16).await })
    }

    /// A fault happened now.
    pub fn fault(&mut self) {
        self.faults += 1;
        self.since = Instant::now();
    }

    /// Waits until every run that must end has ended, for at most `bound`.
    pub async fn drain(&self, bound: Duration) {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            let done = {
                let log = self.log.lock();
                self.expected
                    .iter()
                    .filter(|(_, e)| e.phase.is_terminal())
                    .all(|(name, _)| {
                        log.record
                            .runs
                            .values()
                            .any(|s| &s.name == name && !s.deleted && s.ended.is_some())
                    })
            };
            if done {
                // Late duplicates and regressions would land now.
                tokio::time::sleep(Duration::from_secs(2)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Who holds each of the controller's `shards` shard Leases now (None
    /// while free or expired).
    pub async fn holders(&self, shards: u32) -> anyhow::Result<Vec<Option<String>>> {
        self.holders_of(CONTROLLER, shards).await
    }

    /// The same for `component`'s shard Leases (the archive's).
    pub async fn holders_of(&self, component: &str, shards: u32) -> anyhow::Result<Vec<Option<String>>> {
        let leases: Api<Lease> = Api::namespaced(self.plane.client.clone(), LEASE_NAMESPACE);
        let all = leases.list(&ListParams::default()).await?.items;
        let now = Timestamp::now();
        Ok((0..shards)
            .map(|shard| {
                let spec = all
                    .iter()
                    .find(|l| l.metadata.name.as_deref() == Some(&shard_lease(component, shard)))?
                    .spec
                    .clone()?;
                let holder = spec.holder_identity.filter(|h| !h.is_empty())?;
                let expires = spec
                    .renew_time?
                    .0
                    .checked_add(SignedDuration::from_secs(i64::from(spec.lease_duration_seconds?)))
                    .ok()?;
                (expires > now).then_some(holder)
            })
            .collect())
    }

    /// Waits until every shard is held by one of `among`, each holding its
    /// fair share; returns how long that took.
    pub async fn balanced(&self, shards: u32, among: &[&str], bound: Duration) -> anyhow::Result<Duration> {
        self.balanced_of(CONTROLLER, shards, among, bound).await
    }

    /// The same for `component`'s shards (the archive's).
    pub async fn balanced_of(
        &self,
        component: &str,
        shards: u32,
        among: &[&str],
        bound: Duration,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            let holders = self.holders_of(component, shards).await.unwrap_or_default();
            let share = shards as usize / among.len().max(1);
            let fair = among.iter().all(|r| {
                let held = holders.iter().filter(|h| h.as_deref() == Some(*r)).count();
                held == share || held == share + 1
            });
            if fair
                && holders
                    .iter()
                    .all(|h| h.as_ref().is_some_and(|h| among.contains(&h.as_str())))
            {
                return Ok(started.elapsed());
            }
            anyhow::ensure!(
                started.elapsed() < bound,
                "the {shards} shards were not shared by {among:?} within {bound:?}: {holders:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the API server's audit log holds now.
    pub fn audit(&self) -> Vec<audit::Entry> {
        self.plane
            .control_plane
            .audit_log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
            .lines()
            .filter_map(audit::parse)
            .collect()
    }

    /// The checks, and the row that says what they found.
    pub fn finish(self, scenario: &str) -> Row {
        for watch in &self.watches {
            watch.abort();
        }
        let v = {
            let log = self.log.lock();
            verdict(&self.expected, &log.record, self.since)
        };
        let entries = self.audit();
        let overlaps = audit::overlaps(&entries, NAMESPACE, &self.members);
        let acts = audit::acts(&entries, NAMESPACE).len();
        // Stopping the control plane blocks for a moment.
        let plane = self.plane;
        tokio::task::spawn_blocking(move || drop(plane));
        let mut problems = self.problems;
        problems.extend(v.problems.iter().cloned());
        problems.extend(overlaps.iter().cloned());
        let mut notes = self.notes;
        if !self.expected.is_empty() {
            notes.push(format!(
                "audit log: {acts} writes on runs checked against {} shard Lease writes",
                audit::lease_writes(&entries)
            ));
            if acts == 0 {
                problems.push("the audit log shows no write on a run: nothing to check the replicas against".into());
            }
        }
        Row {
            scenario: scenario.into(),
            runs: v.runs,
            faults: self.faults,
            finished: v.finished,
            duplicates: v.duplicates,
            lost: v.lost,
            regressions: v.regressions,
            overlaps: overlaps.len(),
            drain: v.drain,
            longest_wait: v.longest_wait,
            notes,
            problems,
        }
    }
}
