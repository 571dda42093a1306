//! Several archive replicas share the runs by the controller's shard
//! Leases (under the archive's names): each archives the runs of the
//! shards it holds, and a replica that dies leaves its shards to the
//! others once their Leases lapse.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{World, archived};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};
use minitask_api::TaskRun;
use minitask_archive::follow::Sharding;
use minitask_controller::LeaseConfig;
use minitask_controller::runtime::leases::{Shards, elect};
use minitask_controller::shards::{shard_lease, shard_of};
use minitask_testenv::{ARCHIVE_USER, ControlPlane, eventually};

const SHARDS: u32 = 4;
const LEASE: Duration = Duration::from_secs(3);

/// A replica: its election (as the archive's ServiceAccount, in the
/// namespace its Role covers) and its followers.
async fn replica(w: &World, component: &str, identity: &str) -> Vec<tokio::task::JoinHandle<()>> {
    let client = ControlPlane::shared().client_as(ARCHIVE_USER).await;
    let sharding = Sharding {
        shards: Shards::elected(SHARDS),
        won: tokio::sync::broadcast::channel(4).0,
    };
    let config = LeaseConfig {
        component: component.into(),
        namespace: "minitask-system".into(),
        identity: identity.into(),
        duration: LEASE,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (shards, won) = (sharding.shards.clone(), sharding.won.clone());
    let election = tokio::spawn(async move {
        // Held until the task is aborted: a crash, the Leases left to lapse.
        let _stop = stop;
        elect(client, config, shards, won, Arc::default(), stopped).await;
    });
    vec![election, w.archive_sharded(sharding, &format!("#{identity}")).await]
}

/// Who holds each shard now.
async fn holders(component: &str) -> Vec<String> {
    let leases: Api<Lease> = Api::namespaced(ControlPlane::shared().client().await, "minitask-system");
    let all = leases.list(&ListParams::default()).await.unwrap().items;
    (0..SHARDS)
        .map(|shard| {
            all.iter()
                .find(|l| l.metadata.name.as_deref() == Some(&shard_lease(component, shard)))
                .and_then(|l| l.spec.clone()?.holder_identity)
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn replicas_share_the_runs_by_shard_and_a_dead_one_leaves_its_shards_to_the_other() {
    let w = World::new("archive-shards").await;
    // Names of this test's own: other tests' Leases are not counted.
    let component = format!("minitask-archive-{}", w.ns);
    let a = replica(&w, &component, "a").await;
    let b = replica(&w, &component, "b").await;
    let split = eventually("both replicas to hold shards", Duration::from_secs(30), || async {
        let held = holders(&component).await;
        let (of_a, of_b) = (
            held.iter().filter(|h| *h == "a").count(),
            held.iter().filter(|h| *h == "b").count(),
        );
        (of_a == 2 && of_b == 2).then_some(held)
    })
    .await;
    let runs: Api<TaskRun> = Api::namespaced(w.client.clone(), &w.ns);
    for n in 0..12 {
        w.ended_taskrun(&format!("run-{n}")).await;
    }
    // Each by the replica holding its shard.
    for n in 0..12 {
        let name = format!("run-{n}");
        let said = archived(&runs, &name, "True").await.message;
        let holder = &split[shard_of(&w.ns, &name, SHARDS) as usize];
        assert!(
            said.contains(&format!("#{holder}/")),
            "{name}: {said}, shards held: {split:?}"
        );
    }

    // Replica a dies (no goodbye): its shards lapse and b takes them, and
    // the runs of those shards that end meanwhile are archived by b.
    for task in a {
        task.abort();
    }
    for n in 12..24 {
        w.ended_taskrun(&format!("run-{n}")).await;
    }
    eventually("b to hold every shard", Duration::from_secs(30), || async {
        holders(&component).await.iter().all(|h| h == "b").then_some(())
    })
    .await;
    for n in 12..24 {
        let said = archived(&runs, &format!("run-{n}"), "True").await.message;
        assert!(said.contains("#b/"), "{said}");
    }
    for task in b {
        task.abort();
    }
}
