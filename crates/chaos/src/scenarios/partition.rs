//! Partition: a TCP proxy between one replica and the API server drops
//! all its traffic for longer than the Lease. The cut-off replica must
//! stop working its shards before the other may take them (the audit
//! log shows no two replicas acting on one run), and rejoin cleanly when
//! the partition heals.

use std::time::{Duration, Instant};

use super::{Settings, secs, until_created};
use crate::proxy::Proxy;
use crate::replica::{Replica, Spec};
use crate::stage::Stage;
use crate::table::Row;

const SHARDS: u32 = 4;

pub async fn partition(s: &Settings) -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let proxy = Proxy::start(stage.plane.control_plane.api_port).await?;
    let direct = Spec::new(0, "direct", SHARDS, s.lease);
    let mut cut = Spec::new(1, "cut-off", SHARDS, s.lease);
    cut.via = Some(proxy.port);
    let mut replicas = Vec::new();
    for spec in [&direct, &cut] {
        stage.members.push(spec.member());
        replicas.push(Replica::start(&stage.plane, spec).await?);
    }
    stage
        .balanced(SHARDS, &["direct", "cut-off"], Duration::from_secs(90))
        .await?;
    let runs = stage.plain(1, s.runs);
    let burst = stage.burst(runs);
    until_created(&stage, s.runs / 3, Duration::from_secs(60)).await?;

    proxy.partition();
    let parted = Instant::now();
    stage.fault();
    let bound = s.failover_bound() + Duration::from_secs(30);
    match stage.balanced(SHARDS, &["direct"], bound).await {
        Ok(_) => stage.notes.push(format!(
            "partitioned for longer than the Lease ({}): the other replica held every shard after {}",
            secs(s.lease),
            secs(parted.elapsed())
        )),
        Err(e) => stage.problems.push(format!("during the partition: {e}")),
    }
    // Longer than the Lease, whatever the takeover took.
    let apart = s.lease + s.lease / 3 + Duration::from_secs(1);
    tokio::time::sleep(apart.saturating_sub(parted.elapsed())).await;
    proxy.heal();
    let healed = Instant::now();
    // Waits stay counted from the cut: the heal is a fault, not a new start.
    stage.faults += 1;
    match stage
        .balanced(SHARDS, &["direct", "cut-off"], Duration::from_secs(90))
        .await
    {
        Ok(t) => stage.notes.push(format!(
            "healed after {}: the cut-off replica held its share again after {}",
            secs(healed - parted),
            secs(t)
        )),
        Err(e) => stage.problems.push(format!("after the partition healed: {e}")),
    }
    burst.await??;
    stage.drain(s.drain).await;
    for mut replica in replicas {
        if !replica.alive() {
            stage
                .problems
                .push(format!("replica {} exited on its own", replica.spec.identity));
        }
    }
    Ok(stage.finish("partition"))
}
