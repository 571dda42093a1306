//! The API server (or etcd) restarted mid-burst: the controller must
//! recover without a restart of its own (its watches list again), and
//! every invariant must hold.

use std::time::{Duration, Instant};

use minitask_testenv::Component;

use super::{Settings, secs, until_created};
use crate::pipelines;
use crate::replica::{Replica, Spec};
use crate::stage::Stage;
use crate::table::Row;

pub async fn restart(s: &Settings, component: Component) -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let spec = Spec::new(0, "steady", 1, s.lease);
    stage.members.push(spec.member());
    let mut replica = Replica::start(&stage.plane, &spec).await?;
    let runs = stage.plain(1, s.runs);
    let burst = stage.burst(runs);
    // PipelineRuns too: their tasks must ride out the relist.
    let pipes = (s.runs / 20).max(3);
    let client = stage.plane.client.clone();
    let pipelines = tokio::spawn(async move { pipelines::create(&client, pipes).await });
    until_created(&stage, s.runs / 3, Duration::from_secs(60)).await?;
    let control_plane = &stage.plane.control_plane;
    // kube-apiserver as on a rollout (SIGTERM, and SIGKILL 5 s later: it
    // stops listening at once but lingers), etcd as on a crash (SIGKILL).
    let grace = match component {
        Component::ApiServer => Duration::from_secs(5),
        Component::Etcd => Duration::ZERO,
    };
    let stopped = Instant::now();
    tokio::task::block_in_place(|| control_plane.stop_component(component, grace))?;
    let stopping = stopped.elapsed();
    tokio::time::sleep(s.outage).await;
    tokio::task::block_in_place(|| control_plane.start_component(component))?;
    ready(&stage).await?;
    let down = stopped.elapsed();
    stage.fault();
    burst.await??;
    pipelines.await??;
    stage.drain(s.drain).await;
    let wrong = pipelines::check(&stage.plane.client, pipes, s.drain).await;
    stage.notes.push(format!(
        "{pipes} PipelineRuns (3 tasks and a finally task each): {} succeeded",
        pipes - wrong.len()
    ));
    stage.problems.extend(wrong);
    stage.notes.push(format!(
        "{component:?} down for {} (stopping took {}, then {}, started, ready)",
        secs(down),
        secs(stopping),
        secs(s.outage)
    ));
    if !replica.alive() {
        stage
            .problems
            .push(format!("the controller exited when {component:?} restarted"));
    }
    let name = match component {
        Component::ApiServer => "kube-apiserver restart",
        Component::Etcd => "etcd restart",
    };
    Ok(stage.finish(name))
}

/// Waits until the API server answers /readyz again.
async fn ready(stage: &Stage) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let request = http::Request::get("/readyz").body(Vec::new())?;
        if let Ok(body) = stage.plane.client.request_text(request).await
            && body.trim() == "ok"
        {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(90),
            "the API server was not ready within 90s of its restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
