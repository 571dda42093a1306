//! What the controller costs to hold finished runs: a cluster with N
//! finished runs and their pods, then an idle controller's memory and CPU.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use minitask_api::TaskRun;
use minitask_controller::{PodOptions, build_pod};
use serde_json::json;

use crate::load;
use crate::plane::{Controller, Mode, NAMESPACE, Plane};
use crate::report::Row;

/// How long the idle controller settles after its lists, then how long its
/// CPU is measured.
#[derive(Clone, Copy, Debug)]
pub struct Idle {
    pub settle: Duration,
    pub measure: Duration,
}

impl Idle {
    pub const FULL: Idle = Idle {
        settle: Duration::from_secs(5),
        measure: Duration::from_secs(10),
    };
    /// `--smoke`: long enough to prove the path works, no more.
    pub const SMOKE: Idle = Idle {
        settle: Duration::from_secs(1),
        measure: Duration::from_secs(2),
    };
}

/// An idle controller (default settings) in a cluster holding `runs`
/// finished runs, each with its pod, as a real run leaves them.
pub async fn idle(runs: usize, empty_kib: Option<u64>, window: Idle) -> anyhow::Result<(Row, u64)> {
    let plane = Plane::start().await?;
    let spec = load::task_spec(3, true);
    load::create_task(&plane.client, "bench", &spec).await?;
    let run_api: Api<TaskRun> = Api::namespaced(plane.client.clone(), NAMESPACE);
    let pod_api: Api<Pod> = Api::namespaced(plane.client.clone(), NAMESPACE);
    let now = k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())?.to_string();
    let made: Vec<anyhow::Result<()>> = futures::stream::iter(1..=runs)
        .map(|i| {
            let (run_api, pod_api, spec, now) = (run_api.clone(), pod_api.clone(), spec.clone(), now.clone());
            async move {
                let created = run_api.create(&PostParams::default(), &load::run("bench", i)).await?;
                let pod = build_pod(&spec, &created, 0, &PodOptions::default())?;
                let pod = pod_api.create(&PostParams::default(), &pod).await?;
                // As a real kubelet writes it: the runtime's IDs, the
                // node's addresses, every condition.
                let container = |name: &str, message: Option<&str>| {
                    let id = format!("containerd://{:064x}", i as u128 * 1000 + name.len() as u128);
                    json!({"name": name, "image": "docker.io/library/busybox:latest",
                           "imageID": format!("docker.io/library/busybox@sha256:{:064x}", 7), "ready": false, "restartCount": 0, "started": false,
                           "containerID": id,
                           "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now, "containerID": id, "message": message}}})
                };
                // Each step's launcher leaves its record, the reporter its report.
                let record = "minitask-step succeeded 0 1800000000000 1800000001000\n";
                let condition = |type_: &str, status: &str| json!({"type": type_, "status": status, "lastProbeTime": null, "lastTransitionTime": now, "reason": "PodCompleted"});
                let mut containers: Vec<_> = spec.steps.iter().map(|s| container(&format!("step-{}", s.name), Some(record))).collect();
                containers.push(container("minitask-results", Some("minitask-results ok 13\nversion 5\n1.0.0\n")));
                let pod_status = json!({"status": {"phase": "Succeeded", "initContainerStatuses": [container("minitask-prepare", None)], "containerStatuses": containers,
                    "hostIP": "10.0.0.2", "hostIPs": [{"ip": "10.0.0.2"}], "podIP": "10.244.0.17", "podIPs": [{"ip": "10.244.0.17"}],
                    "qosClass": "BestEffort", "startTime": now,
                    "conditions": [condition("PodReadyToStartContainers", "False"), condition("Initialized", "True"), condition("Ready", "False"),
                                   condition("ContainersReady", "False"), condition("PodScheduled", "True")]}});
                pod_api
                    .patch_status(&kube::ResourceExt::name_any(&pod), &PatchParams::default(), &Patch::Merge(&pod_status))
                    .await?;
                let step_states: Vec<_> = spec
                    .steps
                    .iter()
                    .map(|s| json!({"name": s.name, "container": format!("step-{}", s.name), "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}))
                    .collect();
                let status = json!({"status": {
                    "phase": "Succeeded", "reason": "Succeeded", "message": "all 3 steps succeeded",
                    "podName": kube::ResourceExt::name_any(&pod), "startTime": now, "completionTime": now, "duration": "1s",
                    "taskSpec": spec, "steps": step_states, "results": [{"name": "version", "value": "1.0.0"}],
                    "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded", "message": "all 3 steps succeeded", "lastTransitionTime": now}],
                }});
                run_api
                    .patch_status(&format!("bench-{i}"), &PatchParams::default(), &Patch::Merge(&status))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    made.into_iter().collect::<anyhow::Result<()>>()?;
    let controller = Controller::start(
        &plane,
        Mode::Event {
            workers: minitask_controller::DEFAULT_WORKERS,
        },
    )
    .await?;
    // It looks at every run once after its lists; then it idles.
    tokio::time::sleep(window.settle).await;
    let before = controller.cpu_seconds();
    tokio::time::sleep(window.measure).await;
    let idle_cpu = controller.cpu_seconds() - before;
    let (peak, rss) = controller.memory_kib();
    let row = Row {
        workload: format!("idle, {runs} finished runs"),
        controller: format!(
            "event ({} workers), {:.1}% CPU idle",
            minitask_controller::DEFAULT_WORKERS,
            idle_cpu * 100.0 / window.measure.as_secs_f64()
        ),
        runs,
        peak_rss_mib: Some(peak as f64 / 1024.0),
        rss_mib: Some(rss as f64 / 1024.0),
        kib_per_run: empty_kib
            .filter(|_| runs > 0)
            .map(|e| rss.saturating_sub(e) as f64 / runs as f64),
        ..Row::default()
    };
    controller.stop().await;
    tokio::task::spawn_blocking(move || drop(plane)).await?;
    Ok((row, rss))
}
