//! Hostile and malformed objects under load: while a burst of plain runs
//! flows, runs whose results reporter writes garbage, foreign pods under
//! a run's pod name, runs of missing Tasks (one created later), and runs
//! deleted and created again under the same name. Each must end as
//! documented, and none may disturb the others.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use minitask_api::{LABEL_TASKRUN, Phase, TaskRun};
use minitask_bench::plane::NAMESPACE;
use serde_json::json;

use super::Settings;
use crate::check::Expect;
use crate::load::{self, GARBAGE, REPORTING};
use crate::replica::{Replica, Spec};
use crate::stage::Stage;
use crate::table::Row;

/// How many of each kind of hostile run.
const EACH: usize = 8;

pub async fn hostile(s: &Settings) -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let mut replicas = Vec::new();
    for (i, name) in ["a", "b"].iter().enumerate() {
        let spec = Spec::new(i, name, 4, s.lease);
        stage.members.push(spec.member());
        replicas.push(Replica::start(&stage.plane, &spec).await?);
    }
    let client = stage.plane.client.clone();
    let runs: Api<TaskRun> = Api::namespaced(client.clone(), NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let plain = stage.plain(1, s.runs);
    let burst = stage.burst(plain);

    // Foreign pods first: half labelled as the run's (in the controller's
    // cache), half not (it finds them only by creating its own).
    let mut foreign = Vec::new();
    for i in 1..=EACH {
        let run = format!("foreign-{i}");
        let labels = match i % 2 {
            0 => json!({LABEL_TASKRUN: run}),
            _ => json!({"app": "someone-else"}),
        };
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("{run}-pod"), "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        }))?;
        foreign.push(pods.create(&PostParams::default(), &pod).await?);
        let expect = Expect::new(Phase::Failed, "PodConflict", 0);
        hostile_run(&mut stage, &runs, load::run(&run, load::TASK, 0), expect).await?;
    }
    for i in 1..=EACH {
        let expect = Expect::new(Phase::Failed, "ResultsFailed", 1);
        let run = load::run(&format!("{GARBAGE}{i}"), REPORTING, 0);
        hostile_run(&mut stage, &runs, run, expect).await?;
    }
    for i in 1..=EACH {
        let expect = Expect::new(Phase::Pending, "TaskNotFound", 0);
        hostile_run(
            &mut stage,
            &runs,
            load::run(&format!("orphan-{i}"), "missing", 0),
            expect,
        )
        .await?;
        let (mut late, expect) = load::plain_named(&format!("late-{i}"), i);
        late.spec.task_ref = Some(minitask_api::TaskRef::task("late"));
        hostile_run(&mut stage, &runs, late, expect).await?;
    }
    // Deleted and created again: half before their pod exists, half after.
    for i in 1..=EACH {
        let name = format!("again-{i}");
        let (run, expect) = load::plain_named(&name, i);
        load::create_one(&runs, &run).await?;
        if i % 2 == 0 {
            super::until_pod(&stage, &name, Duration::from_secs(60)).await?;
        }
        runs.delete(&name, &DeleteParams::background()).await?;
        gone(&runs, &name).await?;
        hostile_run(&mut stage, &runs, run, expect).await?;
    }
    // The missing Task of the late runs appears.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let task = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "late"},
        "spec": {"steps": [{"name": "first", "image": "busybox", "script": "true"}, {"name": "second", "image": "busybox", "script": "true"}]},
    }))?;
    Api::<minitask_api::Task>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &task)
        .await?;
    stage.fault();
    burst.await??;
    stage.drain(s.drain).await;
    for pod in foreign {
        let now = pods.get_opt(&pod.name_any()).await?;
        let untouched = now
            .as_ref()
            .is_some_and(|p| p.uid() == pod.uid() && p.spec.as_ref().and_then(|s| s.active_deadline_seconds).is_none());
        if !untouched {
            stage.problems.push(format!(
                "the foreign pod {} was deleted or changed by the controller",
                pod.name_any()
            ));
        }
    }
    for mut replica in replicas {
        if !replica.alive() {
            stage
                .problems
                .push(format!("replica {} exited on its own", replica.spec.identity));
        }
    }
    stage.notes.push(format!(
        "{EACH} each: garbage results reports, foreign pods under a run's pod name, runs of a missing Task, runs whose Task comes later, runs deleted and created again"
    ));
    Ok(stage.finish("hostile objects"))
}

async fn hostile_run(stage: &mut Stage, runs: &Api<TaskRun>, run: TaskRun, expect: Expect) -> anyhow::Result<()> {
    stage.expected.insert(run.name_any(), expect);
    load::create_one(runs, &run).await
}

async fn gone(runs: &Api<TaskRun>, name: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if runs.get_opt(name).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("TaskRun {name} was not deleted within 30s")
}
