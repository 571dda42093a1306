//! Which shards a replica should hold: a pure function of the Leases it
//! read, its own name and shard count, and the time.
//!
//! Every replica keeps a member Lease (`minitask-controller-member-<name>`,
//! or the archive's `minitask-archive-member-<name>`)
//! that says it is alive and how many shards it splits runs into. From the
//! live members each replica computes the same fair share: with R replicas
//! and S shards, the i-th replica by name holds S/R shards, one more when
//! i < S mod R. A replica above its share releases shards, one below it
//! takes free or expired ones, and nobody takes a shard another live
//! replica holds. Replicas whose shard counts differ would split the runs
//! differently (some runs worked twice, others never), so then no replica
//! works on any shard until they agree again.

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;

use crate::shards::{member_prefix, shard_lease};
/// The member Lease annotation that records a replica's `--shards`.
pub const SHARDS_ANNOTATION: &str = "minitask.dev/shards";

/// A Lease, as far as the plan needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaseView {
    pub name: String,
    /// Empty when released.
    pub holder: String,
    /// `renewTime + leaseDurationSeconds`; None when either is missing.
    pub expires: Option<Timestamp>,
    /// A member's shard count.
    pub shards: Option<u32>,
}

impl LeaseView {
    fn live(&self, now: Timestamp) -> bool {
        !self.holder.is_empty() && self.expires.is_some_and(|e| e > now)
    }
}

/// What to do with the shard Leases this round.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Why this replica works on no shard: the replicas disagree on the
    /// shard count.
    pub disagreement: Option<String>,
    /// Shards this replica holds and keeps: renew them.
    pub keep: Vec<u32>,
    /// Free shards to take.
    pub take: Vec<u32>,
    /// Shards this replica holds above its share: release them.
    pub release: Vec<u32>,
}

/// The plan of `component`'s replica `me`, splitting runs into `shards`
/// shards, given the Leases of the lease namespace at `now`.
pub fn plan(component: &str, me: &str, shards: u32, leases: &[LeaseView], now: Timestamp) -> Plan {
    let shard_names: Vec<String> = (0..shards).map(|s| shard_lease(component, s)).collect();
    let member = member_prefix(component);
    let held: Vec<u32> = (0..shards)
        .filter(|&s| {
            leases
                .iter()
                .any(|l| l.name == shard_names[s as usize] && l.holder == me && l.live(now))
        })
        .collect();
    let members: Vec<&LeaseView> = leases
        .iter()
        .filter(|l| l.name.starts_with(&member) && l.live(now) && l.holder != me)
        .collect();
    let disagreeing: Vec<String> = members
        .iter()
        .filter(|m| m.shards.is_some_and(|n| n != shards))
        .map(|m| format!("{} has --shards={}", m.holder, m.shards.unwrap_or_default()))
        .collect();
    if !disagreeing.is_empty() {
        return Plan {
            disagreement: Some(format!(
                "this replica has --shards={shards} but {}: working on no shard until every replica has the same count",
                disagreeing.join(", ")
            )),
            release: held,
            ..Plan::default()
        };
    }
    let names: BTreeSet<&str> = members.iter().map(|m| m.holder.as_str()).chain([me]).collect();
    let rank = names.iter().position(|n| *n == me).unwrap_or_default() as u32;
    let count = names.len() as u32;
    let share = (shards / count + u32::from(rank < shards % count)) as usize;
    if held.len() >= share {
        return Plan {
            keep: held[..share].to_vec(),
            release: held[share..].to_vec(),
            ..Plan::default()
        };
    }
    // Start looking at a different place per replica, so that two
    // replicas short of shards do not race for the same free one.
    let start = rank * shards / count;
    let free = (0..shards)
        .map(|i| (start + i) % shards)
        .filter(|&s| !leases.iter().any(|l| l.name == shard_names[s as usize] && l.live(now)));
    Plan {
        take: free.take(share - held.len()).collect(),
        keep: held,
        ..Plan::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shards::{CONTROLLER, lease_name};

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    fn member(name: &str, shards: u32, expires: i64) -> LeaseView {
        LeaseView {
            name: format!("{}{name}", member_prefix(CONTROLLER)),
            holder: name.into(),
            expires: Some(at(expires)),
            shards: Some(shards),
        }
    }

    fn shard(index: u32, holder: &str, expires: i64) -> LeaseView {
        LeaseView {
            name: lease_name(index),
            holder: holder.into(),
            expires: Some(at(expires)),
            shards: None,
        }
    }

    #[test]
    fn a_lone_replica_takes_every_shard() {
        let got = plan(CONTROLLER, "a", 4, &[], at(0));
        assert_eq!(got.take, [0, 1, 2, 3]);
        assert_eq!((got.keep.len(), got.release.len()), (0, 0));
    }

    #[test]
    fn shares_are_fair_and_add_up() {
        let members = [member("a", 8, 10), member("b", 8, 10), member("c", 8, 10)];
        let shares: Vec<usize> = ["a", "b", "c"]
            .iter()
            .map(|me| plan(CONTROLLER, me, 8, &members, at(0)).take.len())
            .collect();
        assert_eq!(shares, [3, 3, 2]);
        let takes: Vec<Vec<u32>> = ["a", "b", "c"]
            .iter()
            .map(|me| plan(CONTROLLER, me, 8, &members, at(0)).take)
            .collect();
        assert_eq!(takes[0][0], 0);
        assert_eq!(takes[1][0], 2, "b starts looking elsewhere");
    }

    #[test]
    fn a_replica_above_its_share_releases_and_one_below_takes_only_free_shards() {
        let mut leases = vec![member("a", 4, 10), member("b", 4, 10)];
        leases.extend((0..4).map(|i| shard(i, "a", 10)));
        let a = plan(CONTROLLER, "a", 4, &leases, at(0));
        assert_eq!((a.keep, a.release), (vec![0, 1], vec![2, 3]));
        let b = plan(CONTROLLER, "b", 4, &leases, at(0));
        assert!(b.take.is_empty(), "every shard is held by a live replica: {b:?}");
        // Once a has released them, b takes them.
        leases.truncate(2);
        leases.extend([shard(0, "a", 10), shard(1, "a", 10), shard(2, "", 0), shard(3, "a", -1)]);
        assert_eq!(plan(CONTROLLER, "b", 4, &leases, at(0)).take, [2, 3]);
    }

    #[test]
    fn the_shards_of_a_dead_replica_are_taken_once_its_leases_expire() {
        let mut leases = vec![member("a", 2, 10), member("b", 2, 3)];
        leases.extend([shard(0, "a", 10), shard(1, "b", 3)]);
        assert!(plan(CONTROLLER, "a", 2, &leases, at(0)).take.is_empty());
        let later = plan(CONTROLLER, "a", 2, &leases, at(5));
        assert_eq!((later.keep, later.take), (vec![0], vec![1]));
    }

    #[test]
    fn replicas_that_disagree_on_the_count_work_on_nothing() {
        let leases = [
            member("a", 4, 10),
            member("b", 8, 10),
            shard(0, "a", 10),
            shard(1, "a", 10),
        ];
        let got = plan(CONTROLLER, "a", 4, &leases, at(0));
        assert_eq!(got.release, [0, 1]);
        assert!(got.keep.is_empty() && got.take.is_empty());
        assert_eq!(
            got.disagreement.as_deref(),
            Some(
                "this replica has --shards=4 but b has --shards=8: working on no shard until every replica has the same count"
            )
        );
        let expired = [member("a", 4, 10), member("b", 8, -1)];
        assert_eq!(
            plan(CONTROLLER, "a", 4, &expired, at(0)).disagreement,
            None,
            "a dead replica does not count"
        );
    }
}
