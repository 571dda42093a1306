//! PipelineRuns that flow beside the plain runs: each a small graph
//! (fetch, then build and test side by side, then a finally task) of the
//! plain Task, whose pods the simulated kubelet lets succeed. Every one
//! must end Succeeded: a fault must not fail a task whose TaskRun runs on
//! (a relist after an API server restart once did, as `TaskRunDeleted`).

use std::time::{Duration, Instant};

use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use minitask_api::{LABEL_PIPELINERUN, Phase, PipelineRun, TaskRun};
use minitask_bench::plane::NAMESPACE;
use serde_json::json;

use crate::load::TASK;

/// The name of PipelineRun number `n` (its children's numbers are not
/// numbers, so the kubelet lets them succeed).
fn name(n: usize) -> String {
    format!("pipe-{n}")
}

fn pipelinerun(n: usize) -> PipelineRun {
    let task = |name: &str, after: &[&str]| json!({"name": name, "taskRef": {"name": TASK}, "runAfter": after});
    serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
        "metadata": {"name": name(n), "namespace": NAMESPACE},
        "spec": {"pipelineSpec": {
            "tasks": [task("fetch", &[]), task("build", &["fetch"]), task("test", &["fetch"])],
            "finally": [task("report", &[])],
        }},
    }))
    .expect("a valid PipelineRun")
}

/// Creates `count` PipelineRuns, each tried again until the API server
/// takes it (it may be restarting).
pub async fn create(client: &Client, count: usize) -> anyhow::Result<()> {
    let api: Api<PipelineRun> = Api::namespaced(client.clone(), NAMESPACE);
    for n in 1..=count {
        let run = pipelinerun(n);
        let started = Instant::now();
        loop {
            match api.create(&PostParams::default(), &run).await {
                Ok(_) => break,
                Err(kube::Error::Api(e)) if e.code == 409 => break,
                Err(e) if started.elapsed() > Duration::from_secs(120) => {
                    anyhow::bail!("creating PipelineRun {}: {e}", run.name_any())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
    Ok(())
}

/// Waits (at most `bound`) for the `count` PipelineRuns to end; what is
/// wrong with them: one that did not end, or did not succeed.
pub async fn check(client: &Client, count: usize, bound: Duration) -> Vec<String> {
    let api: Api<PipelineRun> = Api::namespaced(client.clone(), NAMESPACE);
    let deadline = Instant::now() + bound;
    let runs = loop {
        let runs = api
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let ended = runs.iter().filter(|r| r.phase().is_terminal()).count();
        if ended >= count || Instant::now() >= deadline {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut problems = Vec::new();
    for n in 1..=count {
        let Some(run) = runs.iter().find(|r| r.name_any() == name(n)) else {
            problems.push(format!("pipelinerun {} is missing", name(n)));
            continue;
        };
        let status = run.status.clone().unwrap_or_default();
        if status.phase != Some(Phase::Succeeded) {
            problems.push(format!(
                "pipelinerun {} ended {:?} ({}): {}; its TaskRuns: {}",
                name(n),
                status.phase,
                status.reason.unwrap_or_default(),
                status.message.unwrap_or_default(),
                children(client, &name(n)).await
            ));
        }
    }
    problems
}

/// The TaskRuns of PipelineRun `run` and their phases, for a report.
async fn children(client: &Client, run: &str) -> String {
    let api: Api<TaskRun> = Api::namespaced(client.clone(), NAMESPACE);
    let selector = format!("{LABEL_PIPELINERUN}={run}");
    match api.list(&ListParams::default().labels(&selector)).await {
        Ok(list) if list.items.is_empty() => "none".into(),
        Ok(list) => list
            .items
            .iter()
            .map(|c| format!("{} {:?}", c.name_any(), c.status.as_ref().and_then(|s| s.phase)))
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("cannot list them: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipelinerun_is_a_graph_of_the_plain_task_with_a_finally_task() {
        let run = pipelinerun(3);
        assert_eq!(run.name_any(), "pipe-3");
        let spec = run.spec.pipeline_spec.unwrap();
        assert_eq!(spec.tasks.len(), 3);
        assert_eq!(spec.finally.len(), 1);
        assert_eq!(spec.tasks[1].run_after, ["fetch"]);
    }
}
