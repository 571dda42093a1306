//! The runs that flow while faults are injected, what the simulated
//! kubelet makes of their pods, and how each must end.
//!
//! `run-<n>` runs a two-step Task. Its fate follows its number: every
//! tenth run fails its first step (Failed, StepFailed); every tenth run
//! from the fifth has `retries: 1` and fails only its first attempt
//! (Succeeded, with two pods); the others succeed with one pod. Hostile
//! runs (see the hostile scenario) have fates of their own.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use minitask_api::{Phase, TaskRun};
use minitask_bench::kubelet::{Fate, Fates, run_number};
use minitask_bench::plane::NAMESPACE;
use serde_json::json;
use std::sync::Arc;

use crate::check::Expect;

/// The Task of the plain runs.
pub const TASK: &str = "chaos";
/// A Task with a result, so that its pods have a results reporter.
pub const REPORTING: &str = "reporting";

/// Creates the Tasks the runs use.
pub async fn create_tasks(client: &Client) -> anyhow::Result<()> {
    let api: Api<minitask_api::Task> = Api::namespaced(client.clone(), NAMESPACE);
    let step = |name: &str| json!({"name": name, "image": "busybox", "script": "true"});
    for (name, spec) in [
        (TASK, json!({"steps": [step("first"), step("second")]})),
        (
            REPORTING,
            json!({"steps": [step("only")], "results": [{"name": "version"}]}),
        ),
    ] {
        let task = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "Task",
            "metadata": {"name": name}, "spec": spec,
        }))?;
        api.create(&PostParams::default(), &task).await?;
    }
    Ok(())
}

/// A run of `task` named `name`, with `retries`.
pub fn run(name: &str, task: &str, retries: i32) -> TaskRun {
    serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"taskRef": {"name": task}, "retries": retries},
    }))
    .expect("a valid TaskRun")
}

fn fails(n: usize) -> bool {
    n.is_multiple_of(10)
}

fn flaky(n: usize) -> bool {
    n % 10 == 5
}

/// The plain run number `n`, and how it must end.
pub fn plain(n: usize) -> (TaskRun, Expect) {
    plain_named(&format!("run-{n}"), n)
}

/// A plain run under another name (its number decides its fate).
pub fn plain_named(name: &str, n: usize) -> (TaskRun, Expect) {
    let expect = match (fails(n), flaky(n)) {
        (true, _) => Expect::new(Phase::Failed, "StepFailed", 1),
        (_, true) => Expect::new(Phase::Succeeded, "Succeeded", 2),
        _ => Expect::new(Phase::Succeeded, "Succeeded", 1),
    };
    (run(name, TASK, i32::from(flaky(n))), expect)
}

/// What each pod's steps do, by its run's name and number.
pub fn fates() -> Fates {
    Arc::new(|pod: &Pod| {
        let run = pod
            .labels()
            .get(minitask_api::LABEL_TASKRUN)
            .cloned()
            .unwrap_or_default();
        let n = run_number(pod);
        if run.starts_with(GARBAGE) {
            return Fate::Report(garbage(n));
        }
        let first_attempt = pod.name_any().ends_with("-pod");
        match fails(n) || (flaky(n) && first_attempt) {
            true => Fate::FailFirstStep,
            false => Fate::Succeed,
        }
    })
}

/// The prefix of runs whose results reporter writes garbage.
pub const GARBAGE: &str = "garbage-";

/// A hostile termination message for the results reporter of run `n`.
pub fn garbage(n: usize) -> String {
    let variants = [
        String::new(),
        "no header at all".into(),
        "minitask-results ok 99999999999999999999999\n".into(),
        "minitask-results ok 26\nx 18446744073709551615\nab\n".into(),
        "minitask-results ok 12\nx 1\na\nx 1\nb\n".into(),
        "\u{0}\u{1}\u{7f}\u{fffd}\u{202e}minitask-results".into(),
        "A".repeat(4096),
        "minitask-results ok 6\nx y\nz\n".into(),
    ];
    variants[n % variants.len()].clone()
}

/// Creates `runs`, `in_flight` at a time, each tried again until the API
/// server takes it (it may be restarting): an AlreadyExists after a lost
/// answer counts as created.
pub async fn create(client: &Client, runs: Vec<TaskRun>, in_flight: usize) -> anyhow::Result<()> {
    let api: Api<TaskRun> = Api::namespaced(client.clone(), NAMESPACE);
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(runs)
        .map(|run| {
            let api = api.clone();
            async move { create_one(&api, &run).await }
        })
        .buffer_unordered(in_flight.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

pub async fn create_one(api: &Api<TaskRun>, run: &TaskRun) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        match api.create(&PostParams::default(), run).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => return Ok(()),
            Err(e) if started.elapsed() > Duration::from_secs(120) => {
                anyhow::bail!("creating TaskRun {}: {e}", run.name_any())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_numbers_decide_the_fate_and_the_end() {
        assert_eq!(plain(10).1, Expect::new(Phase::Failed, "StepFailed", 1));
        assert_eq!(plain(15).1, Expect::new(Phase::Succeeded, "Succeeded", 2));
        assert_eq!(plain(15).0.spec.retries, 1);
        assert_eq!(plain(7).1, Expect::new(Phase::Succeeded, "Succeeded", 1));
        let pod = |name: &str, run: &str| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {minitask_api::LABEL_TASKRUN: run}}}))
                .unwrap()
        };
        let fates = fates();
        assert_eq!(fates(&pod("run-15-pod", "run-15")), Fate::FailFirstStep);
        assert_eq!(fates(&pod("run-15-pod-retry1", "run-15")), Fate::Succeed);
        assert_eq!(fates(&pod("run-20-pod-retry1", "run-20")), Fate::FailFirstStep);
        assert_eq!(fates(&pod("run-3-pod", "run-3")), Fate::Succeed);
        assert!(matches!(fates(&pod("garbage-3-pod", "garbage-3")), Fate::Report(_)));
    }
}
