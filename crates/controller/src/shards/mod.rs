//! Which shard a TaskRun belongs to: FNV-1a (64-bit) of `namespace/name`,
//! modulo the number of shards. Stable across processes, versions and
//! platforms, so every replica agrees without talking to the others.

pub(crate) mod balance;

use kube::ResourceExt;
use minitask_api::{TaskRun, fnv1a};

/// The shard of the run `namespace/name` among `shards` (at least 1).
pub fn shard_of(namespace: &str, name: &str, shards: u32) -> u32 {
    (fnv1a(format!("{namespace}/{name}").as_bytes()) % u64::from(shards.max(1))) as u32
}

/// The shard of `run`.
pub fn shard_of_run(run: &TaskRun, shards: u32) -> u32 {
    shard_of(&run.namespace().unwrap_or_default(), &run.name_any(), shards)
}

/// Whose Leases: the controller's (the archive shards with its own).
pub const CONTROLLER: &str = "minitask-controller";

/// The Lease that guards the controller's shard `shard`.
pub fn lease_name(shard: u32) -> String {
    shard_lease(CONTROLLER, shard)
}

/// The Lease that guards `component`'s shard `shard`.
pub fn shard_lease(component: &str, shard: u32) -> String {
    format!("{component}-shard-{shard}")
}

/// The prefix of `component`'s member Leases (one per replica).
pub fn member_prefix(component: &str) -> String {
    format!("{component}-member-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_the_hash_of_namespace_and_name_and_spread_evenly() {
        assert_eq!(shard_of("", "a", 1 << 20), (fnv1a(b"/a") % (1 << 20)) as u32);
        assert_eq!(shard_of("foo", "bar", 1000), (fnv1a(b"foo/bar") % 1000) as u32);
        assert_eq!(shard_of("ns", "any", 1), 0);
        assert_eq!(shard_of("ns", "any", 0), 0, "0 shards counts as 1");
        let mut counts = [0; 4];
        for i in 0..4000 {
            counts[shard_of("ns", &format!("run-{i}"), 4) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
        assert_eq!(lease_name(3), "minitask-controller-shard-3");
        assert_eq!(shard_lease("minitask-archive", 0), "minitask-archive-shard-0");
        assert_eq!(member_prefix(CONTROLLER), "minitask-controller-member-");
    }
}
