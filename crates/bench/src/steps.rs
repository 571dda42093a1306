//! `--kubelet`: how long a real kubelet takes to hand over from one step to
//! the next. On the cluster of $KUBECONFIG (the local cluster, with
//! mini-task deployed): 20 steps that each note the time, against one
//! container noting it 20 times. Times come from /proc/uptime, which every
//! container of a node reads alike, to the hundredth of a second.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use kube::{Client, ResourceExt};
use minitask_api::{Phase, TaskRun};
use serde_json::json;

const NOTE: &str = "cut -d' ' -f1 /proc/uptime >> $(workspaces.times.path)/t";
const REPORT: &str = "head -n1 $(workspaces.times.path)/t | tr -d '\\n' > $(results.first.path); tail -n1 $(workspaces.times.path)/t | tr -d '\\n' > $(results.last.path)";

/// Seconds from the first step's note to the last one's: 20 steps (19
/// hand-offs), then one container running the same 20 notes; then, in a
/// plain pod of 20 containers that each note the time as they start, the
/// first start to the last: what the kubelet alone takes to start 20
/// containers (it starts a pod's containers one at a time), the floor of
/// any design with a container per step.
pub async fn handoff() -> anyhow::Result<(f64, f64, f64)> {
    let client = Client::try_default().await?;
    let ns = format!("bench-steps-{}", std::process::id());
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // 20 steps: 19 that note the time, and one that notes it and reports.
    let mut steps: Vec<serde_json::Value> = (1..=19)
        .map(|i| json!({"name": format!("s{i}"), "image": "busybox", "script": NOTE}))
        .collect();
    steps.push(json!({"name": "end", "image": "busybox", "script": format!("{NOTE}\n{REPORT}")}));
    let one: String = std::iter::repeat_n(NOTE, 20).collect::<Vec<_>>().join("\n");
    let single = vec![json!({"name": "all", "image": "busybox", "script": format!("{one}\n{REPORT}")})];
    let mut spans = Vec::new();
    for (name, steps) in [("steps", steps), ("single", single)] {
        let run: TaskRun = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": name},
            "spec": {"taskSpec": {"workspaces": [{"name": "times"}], "results": [{"name": "first"}, {"name": "last"}], "steps": steps},
                     "workspaces": [{"name": "times", "emptyDir": {}}]},
        }))?;
        let runs: Api<TaskRun> = Api::namespaced(client.clone(), &ns);
        runs.create(&PostParams::default(), &run).await?;
        let mut done = None;
        for _ in 0..600 {
            let run = runs.get(name).await?;
            if run.phase().is_terminal() {
                done = Some(run);
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let run = done.ok_or_else(|| anyhow::anyhow!("run {name} did not end within 5 minutes"))?;
        let status = run.status.clone().unwrap_or_default();
        anyhow::ensure!(
            run.phase() == Phase::Succeeded,
            "TaskRun {ns}/{name} failed ({}): {}; see kubectl task describe {name} -n {ns}",
            status.reason.unwrap_or_default(),
            status.message.unwrap_or_default()
        );
        let results = run.status.clone().unwrap_or_default().results;
        let value = |n: &str| -> anyhow::Result<f64> {
            let result = results
                .iter()
                .find(|r| r.name == n)
                .ok_or_else(|| anyhow::anyhow!("no result {n} in {}", run.name_any()))?;
            Ok(result.value.trim().parse()?)
        };
        spans.push(value("last")? - value("first")?);
    }
    let floor = start_spread(&client, &ns).await?;
    let _ = Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::background())
        .await;
    Ok((spans[0], spans[1], floor))
}

/// Seconds between the first and the last start of 20 containers of one
/// plain pod, each printing the node's uptime as it starts.
async fn start_spread(client: &Client, ns: &str) -> anyhow::Result<f64> {
    let containers: Vec<serde_json::Value> = (1..=20)
        .map(|i| {
            json!({"name": format!("c{i}"), "image": "busybox", "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", "cut -d' ' -f1 /proc/uptime"]})
        })
        .collect();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "containers"},
        "spec": {"restartPolicy": "Never", "containers": containers},
    }))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.create(&PostParams::default(), &pod).await?;
    for _ in 0..600 {
        let phase = pods.get("containers").await?.status.and_then(|s| s.phase);
        match phase.as_deref() {
            Some("Succeeded") => break,
            Some("Failed") => anyhow::bail!("pod {ns}/containers failed; see kubectl describe pod containers -n {ns}"),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let mut starts = Vec::new();
    for i in 1..=20 {
        let params = LogParams {
            container: Some(format!("c{i}")),
            ..LogParams::default()
        };
        let log = pods.logs("containers", &params).await?;
        starts.push(log.trim().parse::<f64>()?);
    }
    let (first, last) = starts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), t| (a.min(*t), b.max(*t)));
    Ok(last - first)
}
