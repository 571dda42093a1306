//! Rolling upgrade: three replicas with `--shards 4` are replaced one at a
//! time (SIGTERM, then a new replica) by replicas with `--shards 8`,
//! mid-burst. While their counts disagree no replica works (the rule for
//! disagreeing shard counts); nothing may be lost or done twice.

use std::time::{Duration, Instant};

use super::{Settings, secs, until_created};
use crate::replica::{Replica, Spec};
use crate::stage::Stage;
use crate::table::Row;

pub async fn upgrade(s: &Settings) -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let mut replicas = Vec::new();
    for (i, name) in ["a-old", "b-old", "c-old"].iter().enumerate() {
        let spec = Spec::new(i, name, 4, s.lease);
        stage.members.push(spec.member());
        replicas.push(Replica::start(&stage.plane, &spec).await?);
    }
    stage
        .balanced(4, &["a-old", "b-old", "c-old"], Duration::from_secs(90))
        .await?;
    let runs = stage.plain(1, s.runs);
    let burst = stage.burst(runs);
    until_created(&stage, s.runs / 3, Duration::from_secs(60)).await?;

    let began = Instant::now();
    let mut upgraded = Vec::new();
    for (i, name) in ["a-new", "b-new", "c-new"].iter().enumerate() {
        let old = replicas.remove(0);
        old.stop().await?;
        stage.fault();
        let spec = Spec::new(3 + i, name, 8, s.lease);
        stage.members.push(spec.member());
        upgraded.push(Replica::start(&stage.plane, &spec).await?);
        // A rollout waits a little between pods.
        tokio::time::sleep(s.lease / 3).await;
    }
    stage.fault();
    let last = Instant::now();
    match stage.balanced(8, &["a-new", "b-new", "c-new"], Duration::from_secs(90)).await {
        Ok(t) => stage.notes.push(format!(
            "--shards 4 → 8, one replica at a time: the rollout took {}, the new replicas shared the 8 shards {} after the last one started",
            secs(last - began),
            secs(t)
        )),
        Err(e) => stage.problems.push(format!("after the rollout: {e}")),
    }
    burst.await??;
    stage.drain(s.drain).await;
    Ok(stage.finish("rolling upgrade"))
}
