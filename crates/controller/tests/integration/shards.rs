//! Several replicas sharing the shards through Leases: each run handled by
//! exactly one holder, takeover after a replica dies, metrics, probes and
//! Events.

use std::time::Duration;

use crate::common::{StepState::*, World};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use minitask_api::Phase;
use minitask_controller::shards::{lease_name, shard_of};
use minitask_controller::{Config, LeaseConfig};
use minitask_testenv::{CONTROLLER_USER, ControlPlane, eventually};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SHARDS: u32 = 4;
const LEASE: Duration = Duration::from_secs(3);

/// Lets the controller's ServiceAccount use Leases in the test namespace,
/// as the RoleBinding in deploy/ does in minitask-system.
async fn grant_leases(w: &World) {
    let binding = serde_json::from_value(json!({
        "metadata": {"name": "minitask-controller-leases", "namespace": w.ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "minitask-controller-leases"},
        "subjects": [{"kind": "ServiceAccount", "name": "minitask-controller", "namespace": "minitask-system"}],
    }))
    .unwrap();
    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(w.client.clone(), &w.ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn replica(w: &World, identity: &str, port: u16) -> crate::common::Running {
    replica_with(w, identity, port, SHARDS).await
}

async fn replica_with(w: &World, identity: &str, port: u16, shards: u32) -> crate::common::Running {
    let client = ControlPlane::shared().client_as(CONTROLLER_USER).await;
    let config = Config {
        namespace: Some(w.ns.clone()),
        shards,
        lease: Some(LeaseConfig {
            component: minitask_controller::shards::CONTROLLER.into(),
            namespace: w.ns.clone(),
            identity: identity.into(),
            duration: LEASE,
        }),
        metrics_addr: Some(([127, 0, 0, 1], port).into()),
        identity: identity.into(),
        ..Config::default()
    };
    w.controller_with_config(client, config).await
}

/// The holder of every shard's Lease, once all four are held by `among`
/// and balanced: each holds its fair share.
async fn holders(w: &World, among: &[&str]) -> Vec<String> {
    holders_of(w, among, SHARDS).await
}

async fn holders_of(w: &World, among: &[&str], shards: u32) -> Vec<String> {
    let what = format!("{shards} shards to be held evenly by {among:?}");
    eventually(&what, Duration::from_secs(30), || async {
        let holders = current_holders(w, shards).await?;
        let fair = |name: &&str| {
            let held = holders.iter().filter(|h| h == name).count() as u32;
            let share = shards / among.len() as u32;
            held == share || held == share + 1
        };
        among.iter().all(fair).then_some(holders)
    })
    .await
}

/// Who holds each shard's Lease now; None while one is free.
async fn current_holders(w: &World, shards: u32) -> Option<Vec<String>> {
    let leases: Api<Lease> = Api::namespaced(w.client.clone(), &w.ns);
    let all = leases.list(&ListParams::default()).await.ok()?.items;
    (0..shards)
        .map(|shard| {
            let lease = all
                .iter()
                .find(|l| l.metadata.name.as_deref() == Some(&lease_name(shard)))?;
            let holder = lease.spec.clone()?.holder_identity?;
            (!holder.is_empty()).then_some(holder)
        })
        .collect()
}

/// The lease transitions of every shard.
async fn transitions(w: &World, shards: u32) -> Vec<i32> {
    let leases: Api<Lease> = Api::namespaced(w.client.clone(), &w.ns);
    let all = leases.list(&ListParams::default()).await.unwrap().items;
    (0..shards)
        .map(|shard| {
            let lease = all
                .iter()
                .find(|l| l.metadata.name.as_deref() == Some(&lease_name(shard)));
            lease.and_then(|l| l.spec.clone()?.lease_transitions).unwrap_or(-1)
        })
        .collect()
}

async fn get(port: u16, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// Runs `names` to success, playing the kubelet, and returns who started each.
async fn run_all(w: &World, names: &[String]) -> Vec<String> {
    for name in names {
        w.create_run(name, "t").await;
    }
    let mut starters = Vec::new();
    for name in names {
        let pod = w.pod(name).await;
        w.kubelet(&pod, "Succeeded", &[Exited(0)]).await;
        w.phase(name, Phase::Succeeded).await;
        starters.push(ended_by(w, name).await);
    }
    starters
}

/// The replica that reported the run's end (its Succeeded Event).
async fn ended_by(w: &World, run: &str) -> String {
    let events: Api<Event> = Api::namespaced(w.client.clone(), &w.ns);
    let run = run.to_string();
    eventually("a Succeeded event", Duration::from_secs(20), || {
        let (events, run) = (events.clone(), run.clone());
        async move {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .into_iter()
                .find(|e| {
                    let regarding = e.regarding.as_ref().and_then(|r| r.name.as_deref());
                    e.reason.as_deref() == Some("Succeeded") && regarding == Some(run.as_str())
                })
                .and_then(|e| e.reporting_instance)
        }
    })
    .await
}

#[tokio::test]
async fn replicas_share_the_shards_and_take_over_from_a_dead_one() {
    let w = World::new("shards").await;
    grant_leases(&w).await;
    w.create_task("t", &[("a", "true")]).await;
    let ports = [free_port(), free_port(), free_port()];
    let a = replica(&w, "a", ports[0]).await;
    let b = replica(&w, "b", ports[1]).await;
    let c = replica(&w, "c", ports[2]).await;
    let before = holders(&w, &["a", "b", "c"]).await;

    // Each run is started by the holder of its shard, and only by it.
    let names: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
    let starters = run_all(&w, &names).await;
    // A replica starved of CPU past its 3 s Lease (a loaded machine) loses
    // its shards, as it must: a run may then be ended by the shard's next
    // holder, never by a replica that held it at no time.
    let after = current_holders(&w, SHARDS).await.unwrap_or_default();
    for (name, starter) in names.iter().zip(&starters) {
        let shard = shard_of(&w.ns, name, SHARDS) as usize;
        let held = [Some(&before[shard]), after.get(shard)];
        assert!(
            held.contains(&Some(starter)),
            "{name} is in shard {shard}, held by {} and then {:?}, but {starter} ended it",
            before[shard],
            after.get(shard)
        );
    }
    assert_eq!(w.pod_count().await, 12);

    // Probes and metrics of a replica.
    let ready = get(ports[0], "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(get(ports[0], "/healthz").await.starts_with("HTTP/1.1 200"));
    let metrics = get(ports[0], "/metrics").await;
    for series in [
        "minitask_reconciles_total{result=\"ok\"}",
        "minitask_reconcile_duration_seconds_bucket",
        "minitask_taskrun_duration_seconds_count",
        "minitask_taskrun_pod_creation_seconds_count",
        "minitask_shards_held",
    ] {
        assert!(metrics.contains(series), "{series} not in\n{metrics}");
    }
    let finished: u32 = (0..3)
        .map(|i| ports[i])
        .map(|p| async move { get(p, "/metrics").await })
        .collect::<futures::future::JoinAll<_>>()
        .await
        .iter()
        .filter_map(|m| {
            let line = m
                .lines()
                .find(|l| l.starts_with("minitask_taskruns_finished_total{reason=\"Succeeded\"}"))?;
            line.rsplit(' ').next()?.parse::<u32>().ok()
        })
        .sum();
    assert_eq!(finished, 12, "each end is counted once, by the replica that wrote it");

    // Kill a replica that holds a shard (no goodbye: its Leases just
    // expire) and start runs in its shards.
    let victim = before[0].clone();
    let survivors: Vec<&str> = ["a", "b", "c"].into_iter().filter(|r| *r != victim).collect();
    let mut replicas = vec![("a", a), ("b", b), ("c", c)];
    let index = replicas.iter().position(|(id, _)| *id == victim).unwrap();
    drop(replicas.remove(index));
    let orphans: Vec<String> = (100..400)
        .map(|i| format!("r{i}"))
        .filter(|n| before[shard_of(&w.ns, n, SHARDS) as usize] == victim)
        .take(3)
        .collect();
    let killed_at = std::time::Instant::now();
    let starters = run_all(&w, &orphans).await;
    let after = holders(&w, &survivors).await;
    assert!(
        killed_at.elapsed() < LEASE * 5,
        "taken over in {:?}",
        killed_at.elapsed()
    );
    for (name, starter) in orphans.iter().zip(&starters) {
        assert!(survivors.contains(&starter.as_str()), "{name} started by {starter}");
        assert_eq!(starter, &after[shard_of(&w.ns, name, SHARDS) as usize]);
    }
    assert_eq!(w.pod_count().await, 15, "no run got a second pod");

    // A graceful stop hands the shards over at once.
    let (leaving, running) = replicas.remove(0);
    running.stop().await;
    let stayed = replicas[0].0;
    let all = holders(&w, &[stayed]).await;
    assert!(all.iter().all(|h| h == stayed), "{leaving} left, {all:?}");
}

#[tokio::test]
async fn sixty_four_shards_are_shared_and_stay_held_steadily() {
    let w = World::new("shards-64").await;
    grant_leases(&w).await;
    let ports = [free_port(), free_port()];
    let _a = replica_with(&w, "a", ports[0], 64).await;
    let _b = replica_with(&w, "b", ports[1], 64).await;
    let before = holders_of(&w, &["a", "b"], 64).await;
    let counts = transitions(&w, 64).await;
    // Several renewal rounds (a Lease of 3 s is renewed every second): no
    // shard changes hands, and each replica keeps its 32.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            current_holders(&w, 64).await.as_ref(),
            Some(&before),
            "a shard changed hands"
        );
        for port in ports {
            let metrics = get(port, "/metrics").await;
            assert!(metrics.contains("minitask_shards_held 32"), "{metrics}");
        }
    }
    assert_eq!(transitions(&w, 64).await, counts, "no lease flapped");
}

#[tokio::test]
async fn replicas_that_disagree_on_the_shard_count_work_on_nothing_until_they_agree() {
    let w = World::new("shards-disagree").await;
    grant_leases(&w).await;
    w.create_task("t", &[("a", "true")]).await;
    let ports = [free_port(), free_port()];
    let _a = replica_with(&w, "a", ports[0], 4).await;
    holders_of(&w, &["a"], 4).await;

    // A rollout starts a replica with another count.
    let b = replica_with(&w, "b", ports[1], 8).await;
    eventually("both to stop working", Duration::from_secs(30), || async {
        let free = current_holders(&w, 4).await.is_none();
        let a = get(ports[0], "/metrics").await;
        let b = get(ports[1], "/metrics").await;
        (free && a.contains("minitask_shards_held 0") && b.contains("minitask_shards_held 0")).then_some(())
    })
    .await;
    let ready = get(ports[0], "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "a rollout must go on: {ready}");
    assert!(
        ready.contains("this replica has --shards=4 but b has --shards=8"),
        "{ready}"
    );
    assert!(get(ports[0], "/metrics").await.contains("minitask_shards_agree 0"));
    // No run is worked meanwhile.
    w.create_run("r", "t").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.pod_count().await,
        0,
        "nobody works on a shard while the counts disagree"
    );

    // The other replica leaves: the rest agree again and work.
    b.stop().await;
    holders_of(&w, &["a"], 4).await;
    w.pod("r").await;
}

/// A replica whose shard is taken away while one of its reconciles waits
/// for the API server writes nothing more on that run: the shard's new
/// holder does (seen by `cargo xtask chaos` as a status written by a
/// replica that had just released the shard).
#[tokio::test]
async fn a_reconcile_that_outlives_its_shard_writes_nothing() {
    let w = World::new("outlived").await;
    grant_leases(&w).await;
    // Pod creates answer 3 s late.
    let config = ControlPlane::shared().config(Some(CONTROLLER_USER)).await;
    let slow = |r: &http::Request<kube::client::Body>| r.method() == "POST" && r.uri().path().ends_with("/pods");
    let client = minitask_testenv::requests::slow_client(config, slow, Duration::from_secs(3));
    let port = free_port();
    let replica_config = Config {
        namespace: Some(w.ns.clone()),
        shards: 1,
        lease: Some(LeaseConfig {
            component: minitask_controller::shards::CONTROLLER.into(),
            namespace: w.ns.clone(),
            identity: "slow".into(),
            duration: LEASE,
        }),
        metrics_addr: Some(([127, 0, 0, 1], port).into()),
        identity: "slow".into(),
        ..Config::default()
    };
    let _replica = w.controller_with_config(client, replica_config).await;
    holders_of(&w, &["slow"], 1).await;
    // A pod under the run's name that is not the run's (and not in the
    // controller's cache): the create is refused, late, and the run would
    // fail with PodConflict at once.
    let foreign: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "r-pod"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap();
    w.pods().create(&PostParams::default(), &foreign).await.unwrap();
    w.create_task("t", &[("a", "true")]).await;
    w.create_run("r", "t").await;
    // While the refusal is on its way, another replica takes the shard.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leases: Api<Lease> = Api::namespaced(w.client.clone(), &w.ns);
    let now = k8s_openapi::jiff::Timestamp::now();
    let now = format!("{:.6}", now.display_with_offset(k8s_openapi::jiff::tz::Offset::UTC));
    let taken = json!({"spec": {"holderIdentity": "thief", "renewTime": now, "leaseDurationSeconds": 60}});
    leases
        .patch(
            &lease_name(0),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&taken),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let run = w.runs().get("r").await.unwrap();
    assert_eq!(run.status, None, "a replica that lost the shard wrote the run's status");
}
