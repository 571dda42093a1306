//! kill -9 storm: a burst of runs while the controller is killed with
//! SIGKILL again and again at random moments and started again (as the
//! kubelet restarts a crashed container, under the same name).

use std::time::{Duration, Instant};

use super::{Settings, secs};
use crate::replica::{Replica, Spec};
use crate::rng::Rng;
use crate::stage::Stage;
use crate::table::Row;

pub async fn storm(s: &Settings) -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let spec = Spec::new(0, "storm", 1, s.lease);
    stage.members.push(spec.member());
    let mut replica = Replica::start(&stage.plane, &spec).await?;
    let runs = stage.plain(1, s.runs);
    let burst = stage.burst(runs);
    let mut rng = Rng::new(s.seed);
    let mut ready = Duration::ZERO;
    for _ in 0..s.kills {
        tokio::time::sleep(rng.between(Duration::from_millis(300), Duration::from_millis(2000))).await;
        replica.kill().await;
        stage.fault();
        tokio::time::sleep(rng.between(Duration::ZERO, Duration::from_millis(500))).await;
        let started = Instant::now();
        replica = Replica::start(&stage.plane, &spec).await?;
        ready += started.elapsed();
        // Waits are counted from the last restart.
        stage.since = Instant::now();
    }
    burst.await??;
    stage.drain(s.drain).await;
    if s.kills > 0 {
        stage.notes.push(format!(
            "{} kills; a restarted controller was ready (caches full) in {} on average",
            s.kills,
            secs(ready / s.kills as u32)
        ));
    }
    if !replica.alive() {
        stage.problems.push("the last controller exited on its own".into());
    }
    Ok(stage.finish("kill -9 storm"))
}
