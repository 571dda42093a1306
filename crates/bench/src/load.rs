//! The load generator: TaskRuns created as fast as the API server takes
//! them (a burst) or at a steady rate; and, for the ceiling, the pods the
//! controller would create, created directly by the same generator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, PostParams};
use minitask_api::{Step, Task, TaskRun, TaskSpec};
use minitask_controller::{PodOptions, build_pod};
use serde_json::json;

use crate::observe::{Shared, lock};
use crate::plane::NAMESPACE;

/// How runs arrive.
#[derive(Clone, Copy, Debug)]
pub enum Arrival {
    /// All at once, `in_flight` creates at a time.
    Burst { runs: usize, in_flight: usize },
    /// `per_second` runs a second for `seconds`.
    Steady { per_second: usize, seconds: usize },
}

impl Arrival {
    pub fn runs(self) -> usize {
        match self {
            Arrival::Burst { runs, .. } => runs,
            Arrival::Steady { per_second, seconds } => per_second * seconds,
        }
    }
}

/// The Task of a workload: `steps` trivial steps, and one result if asked.
pub fn task_spec(steps: usize, results: bool) -> TaskSpec {
    let mut spec: TaskSpec = serde_json::from_value(json!({"steps": []})).unwrap_or_default();
    spec.steps = (0..steps)
        .map(|i| Step {
            name: format!("s{i}"),
            image: Some("busybox".into()),
            script: Some("true".into()),
            ..Step::default()
        })
        .collect();
    if results {
        spec.results = vec![minitask_api::ResultSpec {
            name: "version".into(),
            description: None,
        }];
    }
    spec
}

pub async fn create_task(client: &Client, name: &str, spec: &TaskSpec) -> anyhow::Result<()> {
    let task = Task::new(name, spec.clone());
    Api::<Task>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &task)
        .await?;
    Ok(())
}

/// The run `bench-<i>` of `task`.
pub fn run(task: &str, i: usize) -> TaskRun {
    serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
        "metadata": {"name": format!("bench-{i}"), "namespace": NAMESPACE},
        "spec": {"taskRef": {"name": task}},
    }))
    .expect("a valid TaskRun")
}

/// Creates the runs as `arrival` says, recording when each was created.
pub async fn runs(client: &Client, task: &str, arrival: Arrival, timeline: &Shared) -> anyhow::Result<()> {
    let api: Api<TaskRun> = Api::namespaced(client.clone(), NAMESPACE);
    let create = |i: usize| {
        let (api, timeline) = (api.clone(), timeline.clone());
        let run = run(task, i);
        async move {
            api.create(&PostParams::default(), &run).await?;
            lock(&timeline).created.insert(format!("bench-{i}"), Instant::now());
            anyhow::Ok(())
        }
    };
    arrive(arrival, create).await
}

/// The ceiling: the pods the controller would create for the runs, made
/// directly by this generator, with the same labels and spec.
pub async fn pods(client: &Client, spec: &TaskSpec, arrival: Arrival, timeline: &Shared) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let spec = Arc::new(spec.clone());
    let create = |i: usize| {
        let (api, timeline, spec) = (api.clone(), timeline.clone(), spec.clone());
        async move {
            let mut run = run("ceiling", i);
            run.metadata.uid = Some(format!("uid-{i}"));
            let mut pod = build_pod(&spec, &run, 0, &PodOptions::default())?;
            pod.metadata.owner_references = None;
            let name = format!("bench-{i}");
            lock(&timeline).created.insert(name, Instant::now());
            api.create(&PostParams::default(), &pod).await?;
            anyhow::Ok(())
        }
    };
    arrive(arrival, create).await
}

/// Calls `create(i)` for every run number as `arrival` says.
async fn arrive<F, Fut>(arrival: Arrival, create: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    match arrival {
        Arrival::Burst { runs, in_flight } => {
            let results: Vec<anyhow::Result<()>> = futures::stream::iter(1..=runs)
                .map(create)
                .buffer_unordered(in_flight)
                .collect()
                .await;
            results.into_iter().collect::<anyhow::Result<()>>()
        }
        Arrival::Steady { per_second, seconds } => {
            let started = Instant::now();
            let mut pending = Vec::new();
            for i in 1..=per_second * seconds {
                let due = started + Duration::from_secs_f64((i - 1) as f64 / per_second as f64);
                tokio::time::sleep_until(due.into()).await;
                pending.push(tokio::spawn(create(i)));
            }
            for handle in pending {
                handle.await??;
            }
            Ok(())
        }
    }
}
