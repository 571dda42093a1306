//! Pipelines on real containers: the build-and-test sample on a claim made
//! from a volumeClaimTemplate, followed with `kubectl task start -f`.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, ListParams};
use minitask_api::{Phase, PipelineRun, TaskState};

use crate::Namespaced;

/// Starts the sample with `extra` flags and follows it; (exit code, stdout,
/// stderr, the run).
async fn run(t: &Namespaced, extra: &[&str]) -> (Option<i32>, String, String, PipelineRun) {
    let mut args = vec![
        "task",
        "start",
        "pipeline/build-and-test",
        "-w",
        "source=volumeClaimTemplate:64Mi",
        "-f",
    ];
    args.extend(extra);
    let out = t.kubectl(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let name = stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("pipelinerun.minitask.dev/"))
        .and_then(|l| l.strip_suffix(" created"))
        .unwrap_or_else(|| panic!("{stdout} {stderr}"))
        .to_string();
    let run = Api::<PipelineRun>::namespaced(t.client.clone(), &t.ns)
        .get(&name)
        .await
        .unwrap();
    (out.status.code(), stdout, stderr, run)
}

fn state(run: &PipelineRun, task: &str) -> (TaskState, Option<String>) {
    let status = run.status.clone().unwrap_or_default();
    let task = status.tasks.iter().find(|t| t.name == task).unwrap();
    (task.state, task.reason.clone())
}

/// Checks the run's claim: deleted when the run ended, it stays (as
/// Kubernetes' pvc-protection keeps any claim a pod still names) while the
/// run's pods are kept for their logs, and is gone once the run is.
async fn claim_released(t: &Namespaced, run: &str) {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(t.client.clone(), &t.ns);
    let deleting = || async {
        let items = claims.list(&ListParams::default()).await.unwrap().items;
        !items.is_empty() && items.iter().all(|c| c.metadata.deletion_timestamp.is_some())
    };
    let mut marked = false;
    for _ in 0..150 {
        if deleting().await {
            marked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(marked, "the run's claim was not deleted within 30s of the run's end");
    t.kubectl_ok(&["delete", &format!("pipelinerun/{run}"), "--wait=true", "--timeout=60s"]);
    for _ in 0..300 {
        if claims.list(&ListParams::default()).await.unwrap().items.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the run's claim is still there a minute after the run and its pods were deleted");
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_pipeline_shares_a_claim_runs_in_parallel_passes_results_and_reports_finally() {
    let t = Namespaced::new("pipeline").await;
    t.sample("build-and-test.yaml");
    let (code, stdout, stderr, run) = run(&t, &[]).await;
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert_eq!(run.phase(), Phase::Succeeded);
    for line in [
        "[build/build] building with 3 warnings, 3 tests passed",
        "[report/report] the run: Succeeded; the tests: Succeeded",
    ] {
        assert!(stdout.contains(line), "{line:?} not in:\n{stdout}\n{stderr}");
    }
    assert!(stderr.contains("succeeded: 5 tasks succeeded, 1 skipped"), "{stderr}");
    assert_eq!(state(&run, "publish"), (TaskState::Skipped, Some("WhenFalse".into())));
    let status = run.status.clone().unwrap();
    assert_eq!(status.results[0].value, "sha256:33", "the Pipeline's result");
    assert_eq!(status.progress.as_deref(), Some("6/6"));
    let describe = t.kubectl_ok(&[
        "task",
        "describe",
        &format!("pipelinerun/{}", kube::ResourceExt::name_any(&run)),
    ]);
    assert!(
        describe.contains("publish  ") && describe.contains("WhenFalse"),
        "{describe}"
    );
    claim_released(&t, &kube::ResourceExt::name_any(&run)).await;
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_failing_pipeline_stops_new_tasks_and_its_finally_still_runs() {
    let t = Namespaced::new("pipeline-fail").await;
    t.sample("build-and-test.yaml");
    let (code, stdout, stderr, run) = run(&t, &["-p", "break-tests=yes"]).await;
    assert_eq!(code, Some(1), "{stdout} {stderr}");
    assert!(
        stdout.contains("[test/test] the tests are broken on purpose"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[report/report] the run: Failed; the tests: Failed"),
        "{stdout}"
    );
    assert!(!stdout.contains("[build/build]"), "{stdout}");
    let status = run.status.clone().unwrap();
    assert_eq!(status.reason.as_deref(), Some("TaskFailed"));
    assert_eq!(state(&run, "build"), (TaskState::Skipped, Some("ResultMissing".into())));
    claim_released(&t, &kube::ResourceExt::name_any(&run)).await;
    t.cleanup().await;
}
