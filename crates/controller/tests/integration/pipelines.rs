//! PipelineRuns on a real API server: the test moves each child TaskRun
//! along by writing its status, and checks what the PipelineRun does.

use std::time::Duration;

use crate::common::{WAIT, World};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use minitask_api::{LABEL_PIPELINERUN, Phase, Pipeline, PipelineRun, PipelineRunStatus, TaskState};
use minitask_controller::PodOptions;
use minitask_testenv::requests::RequestLog;
use minitask_testenv::{CONTROLLER_USER, ControlPlane, eventually};
use serde_json::{Value, json};

pub(crate) fn pipelines(w: &World) -> Api<Pipeline> {
    Api::namespaced(w.client.clone(), &w.ns)
}

fn pipelineruns(w: &World) -> Api<PipelineRun> {
    Api::namespaced(w.client.clone(), &w.ns)
}

pub(crate) async fn create_pipeline(w: &World, name: &str, spec: Value) -> Pipeline {
    let pipeline: Pipeline = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Pipeline", "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap();
    pipelines(w).create(&PostParams::default(), &pipeline).await.unwrap()
}

pub(crate) async fn create_run(w: &World, name: &str, spec: Value) -> PipelineRun {
    let run: PipelineRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun", "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap();
    pipelineruns(w).create(&PostParams::default(), &run).await.unwrap()
}

/// Waits until the PipelineRun's status satisfies `check`.
async fn run_status(
    w: &World,
    name: &str,
    what: &str,
    check: impl Fn(&PipelineRunStatus) -> bool,
) -> PipelineRunStatus {
    let api = pipelineruns(w);
    eventually(what, WAIT, || {
        let api = api.clone();
        let check = &check;
        async move { api.get(name).await.ok()?.status.filter(|s| check(s)) }
    })
    .await
}

/// The names of the TaskRuns that exist now.
pub(crate) async fn children(w: &World) -> Vec<String> {
    let mut names: Vec<String> = w
        .runs()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.name_any())
        .collect();
    names.sort();
    names
}

/// Waits until exactly `want` TaskRuns exist.
pub(crate) async fn until_children(w: &World, want: &[&str]) {
    let what = format!("TaskRuns {want:?}");
    eventually(&what, WAIT, || async {
        let have = children(w).await;
        (have == want).then_some(())
    })
    .await;
}

/// Waits until the controller has written Pipeline `name`'s `Valid`
/// condition; its status.
async fn validity(w: &World, name: &str) -> minitask_api::PipelineStatus {
    let pipelines = pipelines(w);
    eventually("the Valid condition", WAIT, || async {
        pipelines
            .get(name)
            .await
            .ok()?
            .status
            .filter(|s| !s.conditions.is_empty())
    })
    .await
}

/// Waits until Pipeline `name`'s `Valid` condition has status `want`.
pub(crate) async fn valid(w: &World, name: &str, want: &str) -> Condition {
    let pipelines = pipelines(w);
    eventually(want, WAIT, || async {
        let condition = pipelines.get(name).await.ok()?.status?.conditions.first()?.clone();
        (condition.status == want).then_some(condition)
    })
    .await
}

/// Waits until TaskRun `name` exists.
async fn child_exists(w: &World, name: &str) {
    let runs = w.runs();
    eventually(name, WAIT, || async { runs.get(name).await.ok() }).await;
}

/// Plays the TaskRun's end: its status says `phase`, with `results`.
async fn end(w: &World, child: &str, phase: Phase, results: &[(&str, &str)]) {
    let results: Vec<Value> = results.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
    let reason = match phase {
        Phase::Succeeded => "Succeeded",
        _ => "StepFailed",
    };
    let status = json!({"status": {"phase": phase, "reason": reason, "message": "played by the test", "results": results,
                       "completionTime": k8s_openapi::jiff::Timestamp::now().to_string()}});
    w.runs()
        .patch_status(child, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// A `volumeClaimTemplate` of 1 GiB.
fn claim_template() -> Value {
    json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
}

fn task(name: &str, after: &[&str]) -> Value {
    json!({"name": name, "taskRef": {"name": "t"}, "runAfter": after})
}

/// The diamond: fetch → (lint ‖ test, which uses fetch's result) → build.
fn diamond() -> Value {
    json!({
        "results": [{"name": "commit", "value": "$(tasks.fetch.results.commit)"}],
        "tasks": [
            task("fetch", &[]),
            task("lint", &["fetch"]),
            {"name": "test", "taskRef": {"name": "t"}, "params": [{"name": "commit", "value": "$(tasks.fetch.results.commit)"}]},
            task("build", &["lint", "test"]),
        ],
        "finally": [{"name": "report", "taskRef": {"name": "t"}, "params": [{"name": "outcome", "value": "$(tasks.status)"}]}],
    })
}

fn state(status: &PipelineRunStatus, task: &str) -> TaskState {
    status
        .tasks
        .iter()
        .find(|t| t.name == task)
        .map(|t| t.state)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_pipeline_runs_its_graph_in_order_with_its_parallelism_and_its_results() {
    let w = World::new("pipeline").await;
    let _controller = w.controller().await;
    let step = json!({"name": "a", "image": "busybox", "script": "true"});
    let params = json!([{"name": "commit", "default": ""}, {"name": "outcome", "default": ""}]);
    w.create_task_with(
        "t",
        json!({"steps": [step], "params": params, "results": [{"name": "commit"}]}),
    )
    .await;
    create_pipeline(&w, "ci", diamond()).await;
    create_run(&w, "ci-1", json!({"pipelineRef": {"name": "ci"}})).await;

    until_children(&w, &["ci-1-fetch"]).await;
    let status = run_status(&w, "ci-1", "running", |s| s.phase == Some(Phase::Running)).await;
    assert_eq!(status.progress.as_deref(), Some("0/5"));
    let fetch = w.runs().get("ci-1-fetch").await.unwrap();
    let owner = &fetch.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("PipelineRun", "ci-1"));
    assert_eq!(fetch.labels()[LABEL_PIPELINERUN], "ci-1");

    end(&w, "ci-1-fetch", Phase::Succeeded, &[("commit", "abc123")]).await;
    until_children(&w, &["ci-1-fetch", "ci-1-lint", "ci-1-test"]).await;
    let test = w.runs().get("ci-1-test").await.unwrap();
    assert_eq!(
        test.spec.params[0].value,
        minitask_api::ParamValue::String("abc123".into())
    );

    end(&w, "ci-1-test", Phase::Succeeded, &[]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(children(&w).await.len(), 3, "build waits for lint");
    end(&w, "ci-1-lint", Phase::Succeeded, &[]).await;
    until_children(&w, &["ci-1-build", "ci-1-fetch", "ci-1-lint", "ci-1-test"]).await;
    end(&w, "ci-1-build", Phase::Succeeded, &[]).await;
    until_children(
        &w,
        &["ci-1-build", "ci-1-fetch", "ci-1-lint", "ci-1-report", "ci-1-test"],
    )
    .await;
    let report = w.runs().get("ci-1-report").await.unwrap();
    assert_eq!(
        report.spec.params[0].value,
        minitask_api::ParamValue::String("Succeeded".into())
    );
    end(&w, "ci-1-report", Phase::Succeeded, &[]).await;

    let done = run_status(&w, "ci-1", "succeeded", |s| s.phase == Some(Phase::Succeeded)).await;
    assert_eq!(done.progress.as_deref(), Some("5/5"));
    assert_eq!(done.results[0].value, "abc123", "the Pipeline's result");
    assert!(done.pipeline_spec.is_some());
    assert!(done.tasks.iter().all(|t| t.task_runs.len() == 1));
    // kubectl wait works as for TaskRuns.
    w.kubectl_ok(&["wait", "--for=condition=Succeeded", "pipelinerun/ci-1", "--timeout=10s"])
        .await;
    let table = w.kubectl_ok(&["get", "plr"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "PIPELINE", "STATUS", "REASON", "TASKS", "STARTED", "DURATION", "AGE"
        ]
    );
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(5)
            .eq(["ci-1", "ci", "Succeeded", "Succeeded", "5/5"]),
        "{table}"
    );
}

#[tokio::test]
async fn a_failure_starts_nothing_new_and_finally_still_runs() {
    let w = World::new("pipeline-fail").await;
    let _controller = w.controller().await;
    create_pipeline(&w, "ci", diamond()).await;
    create_run(&w, "r", json!({"pipelineRef": {"name": "ci"}})).await;
    until_children(&w, &["r-fetch"]).await;
    end(&w, "r-fetch", Phase::Succeeded, &[("commit", "c")]).await;
    until_children(&w, &["r-fetch", "r-lint", "r-test"]).await;
    end(&w, "r-lint", Phase::Failed, &[]).await;
    end(&w, "r-test", Phase::Succeeded, &[]).await;
    until_children(&w, &["r-fetch", "r-lint", "r-report", "r-test"]).await;
    let report = w.runs().get("r-report").await.unwrap();
    assert_eq!(
        report.spec.params[0].value,
        minitask_api::ParamValue::String("Failed".into())
    );
    end(&w, "r-report", Phase::Succeeded, &[]).await;
    let done = run_status(&w, "r", "failed", |s| s.phase == Some(Phase::Failed)).await;
    assert_eq!(done.reason.as_deref(), Some("TaskFailed"));
    assert_eq!(state(&done, "build"), TaskState::Skipped);
    assert_eq!(state(&done, "report"), TaskState::Succeeded);
}

#[tokio::test]
async fn a_restarted_controller_creates_no_second_taskrun_and_a_deleted_one_fails_its_task() {
    let w = World::new("pipeline-restart").await;
    create_pipeline(
        &w,
        "ci",
        json!({"tasks": [task("a", &[]), task("b", &[])], "finally": [task("f", &[])]}),
    )
    .await;
    let controller = w.controller().await;
    create_run(&w, "r", json!({"pipelineRef": {"name": "ci"}})).await;
    until_children(&w, &["r-a", "r-b"]).await;
    controller.stop().await;
    let uid = w.runs().get("r-a").await.unwrap().uid();
    let _again = w.controller().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(children(&w).await, ["r-a", "r-b"], "no second TaskRun");
    assert_eq!(w.runs().get("r-a").await.unwrap().uid(), uid, "the same one");

    w.runs().delete("r-b", &DeleteParams::default()).await.unwrap();
    end(&w, "r-a", Phase::Succeeded, &[]).await;
    until_children(&w, &["r-a", "r-f"]).await;
    let status = run_status(&w, "r", "b failed", |s| state(s, "b") == TaskState::Failed).await;
    let b = status.tasks.iter().find(|t| t.name == "b").unwrap();
    assert_eq!(b.reason.as_deref(), Some("TaskRunDeleted"));
    end(&w, "r-f", Phase::Succeeded, &[]).await;
    run_status(&w, "r", "the end", |s| s.reason.as_deref() == Some("TaskFailed")).await;
}

#[tokio::test]
async fn a_cancel_cancels_the_running_taskruns_and_finally_runs() {
    let w = World::new("pipeline-cancel").await;
    let _controller = w.controller().await;
    create_pipeline(
        &w,
        "ci",
        json!({"tasks": [task("a", &[]), task("b", &["a"])], "finally": [task("clean", &[])]}),
    )
    .await;
    create_run(&w, "r", json!({"pipelineRef": {"name": "ci"}})).await;
    until_children(&w, &["r-a"]).await;
    let patch = json!({"spec": {"cancelled": true}});
    pipelineruns(&w)
        .patch("r", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let a = eventually("r-a to be cancelled", WAIT, || async {
        let a = w.runs().get("r-a").await.ok()?;
        a.spec.cancelled.then_some(a)
    })
    .await;
    assert!(a.spec.cancelled);
    end(&w, "r-a", Phase::Failed, &[]).await;
    until_children(&w, &["r-a", "r-clean"]).await;
    end(&w, "r-clean", Phase::Succeeded, &[]).await;
    let done = run_status(&w, "r", "cancelled", |s| s.phase == Some(Phase::Failed)).await;
    assert_eq!(done.reason.as_deref(), Some("Cancelled"));
    assert_eq!(state(&done, "b"), TaskState::Skipped);
}

#[tokio::test]
async fn a_claim_template_makes_one_claim_that_goes_when_the_run_ends() {
    let w = World::new("pipeline-claims").await;
    let _controller = w.controller().await;
    create_pipeline(
        &w,
        "ci",
        json!({"workspaces": [{"name": "src"}], "tasks": [
            {"name": "a", "taskRef": {"name": "t"}, "workspaces": [{"name": "source", "workspace": "src"}]},
            {"name": "b", "taskRef": {"name": "t"}, "runAfter": ["a"], "workspaces": [{"name": "source", "workspace": "src"}]},
        ]}),
    )
    .await;
    let template = claim_template();
    create_run(
        &w,
        "r",
        json!({"pipelineRef": {"name": "ci"}, "workspaces": [{"name": "src", "volumeClaimTemplate": template}]}),
    )
    .await;
    until_children(&w, &["r-a"]).await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(w.client.clone(), &w.ns);
    let name = minitask_controller::claim_name("r", "src", &Default::default());
    let claim = claims.get(&name).await.expect("the claim exists before the tasks run");
    assert_eq!(claim.owner_references()[0].name, "r");
    let a = w.runs().get("r-a").await.unwrap();
    assert_eq!(
        a.spec.workspaces[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap()
            .claim_name,
        name
    );
    end(&w, "r-a", Phase::Succeeded, &[]).await;
    until_children(&w, &["r-a", "r-b"]).await;
    end(&w, "r-b", Phase::Succeeded, &[]).await;
    run_status(&w, "r", "succeeded", |s| s.phase == Some(Phase::Succeeded)).await;
    eventually("the claim to be deleted", WAIT, || async {
        let claim = claims.get_opt(&name).await.ok()?;
        // No garbage collector here: a deleted claim waits on its finalizer.
        claim
            .is_none_or(|c| c.metadata.deletion_timestamp.is_some())
            .then_some(())
    })
    .await;
}

/// A claim of the run's claim name that the run does not own (a user's,
/// another run's) is never mounted: the run fails with ClaimFailed and
/// says whose name it is.
#[tokio::test]
async fn a_claim_name_taken_by_another_object_fails_the_run() {
    let w = World::new("pipeline-claim-taken").await;
    let _controller = w.controller().await;
    create_pipeline(
        &w,
        "ci",
        json!({"workspaces": [{"name": "src"}], "tasks": [
            {"name": "a", "taskRef": {"name": "t"}, "workspaces": [{"name": "source", "workspace": "src"}]},
        ]}),
    )
    .await;
    let name = minitask_controller::claim_name("r", "src", &Default::default());
    let theirs: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(w.client.clone(), &w.ns);
    claims.create(&Default::default(), &theirs).await.unwrap();
    let template = claim_template();
    create_run(
        &w,
        "r",
        json!({"pipelineRef": {"name": "ci"}, "workspaces": [{"name": "src", "volumeClaimTemplate": template}]}),
    )
    .await;
    let done = run_status(&w, "r", "failed", |s| s.phase == Some(Phase::Failed)).await;
    assert_eq!(done.reason.as_deref(), Some("ClaimFailed"));
    let message = done.message.unwrap_or_default();
    assert!(
        message.contains(&format!(
            "claim {name} already exists and is not owned by PipelineRun r"
        )),
        "{message}"
    );
    assert!(children(&w).await.is_empty(), "no TaskRun mounts another's claim");
    assert!(
        claims.get(&name).await.unwrap().owner_references().is_empty(),
        "their claim is left alone"
    );
}

#[tokio::test]
async fn an_invalid_pipeline_says_why_and_its_runs_fail_at_start() {
    let w = World::new("pipeline-invalid").await;
    let _controller = w.controller().await;
    create_pipeline(&w, "loop", json!({"tasks": [task("a", &["b"]), task("b", &["a"])]})).await;
    let status = validity(&w, "loop").await;
    assert_eq!(status.conditions[0].status, "False");
    assert!(
        status.conditions[0].message.contains("form a cycle"),
        "{}",
        status.conditions[0].message
    );
    assert_eq!(status.tasks, Some(2));
    create_run(&w, "r", json!({"pipelineRef": {"name": "loop"}})).await;
    let done = run_status(&w, "r", "failed", |s| s.phase == Some(Phase::Failed)).await;
    assert_eq!(done.reason.as_deref(), Some("InvalidPipeline"));
    assert!(children(&w).await.is_empty());
    create_run(&w, "nothing", json!({"pipelineRef": {"name": "missing"}})).await;
    let waiting = run_status(&w, "nothing", "pending", |s| s.phase == Some(Phase::Pending)).await;
    assert_eq!(waiting.reason.as_deref(), Some("PipelineNotFound"));
    create_pipeline(&w, "missing", json!({"tasks": [task("a", &[])]})).await;
    until_children(&w, &["nothing-a"]).await;
}

/// A CEL `when` reads a param and a result as values; one that does not
/// parse makes the Pipeline invalid, naming it.
#[tokio::test]
async fn a_cel_when_decides_on_a_result_and_one_that_does_not_parse_is_named() {
    let w = World::new("pipeline-cel").await;
    let _controller = w.controller().await;
    let step = json!({"name": "a", "image": "busybox", "script": "true"});
    w.create_task_with("t", json!({"steps": [step], "results": [{"name": "passed"}]}))
        .await;
    let deploy = |cel: &str| {
        json!({"params": [{"name": "branch"}], "tasks": [
            task("test", &[]),
            {"name": "deploy", "taskRef": {"name": "t"}, "when": [{"cel": cel}]},
        ]})
    };
    create_pipeline(
        &w,
        "cd",
        deploy("'$(params.branch)' == 'main' && $(tasks.test.results.passed) > 0"),
    )
    .await;
    for (run, branch, passed, deployed) in [
        ("yes", "main", "3", true),
        ("none", "main", "0", false),
        ("dev", "dev", "3", false),
    ] {
        create_run(
            &w,
            run,
            json!({"pipelineRef": {"name": "cd"}, "params": [{"name": "branch", "value": branch}]}),
        )
        .await;
        child_exists(&w, &format!("{run}-test")).await;
        end(&w, &format!("{run}-test"), Phase::Succeeded, &[("passed", passed)]).await;
        if deployed {
            child_exists(&w, &format!("{run}-deploy")).await;
        } else {
            let status = run_status(&w, run, "deploy skipped", |s| state(s, "deploy") == TaskState::Skipped).await;
            let message = status
                .tasks
                .iter()
                .find(|t| t.name == "deploy")
                .and_then(|t| t.message.clone())
                .unwrap();
            assert!(
                message.starts_with("its when is false: '$(params.branch)' == 'main'"),
                "{message}"
            );
            assert!(
                message.contains(&format!("$(params.branch) = \"{branch}\"")),
                "{message}"
            );
        }
        for child in children(&w).await {
            if child.starts_with(run) && child != format!("{run}-test") {
                end(&w, &child, Phase::Succeeded, &[]).await;
            }
        }
        let done = run_status(&w, run, "succeeded", |s| s.phase == Some(Phase::Succeeded)).await;
        assert_eq!(done.phase, Some(Phase::Succeeded));
    }

    create_pipeline(&w, "bad", deploy("$(tasks.test.results.passed) >")).await;
    let status = validity(&w, "bad").await;
    assert_eq!(status.conditions[0].status, "False");
    let message = &status.conditions[0].message;
    assert!(
        message.contains("task \"deploy\": when[0].cel \"$(tasks.test.results.passed) >\" is not CEL"),
        "{message}"
    );
}

/// A Pipeline found invalid because of its Task is checked again when the
/// Task changes: fixing the Task makes it Valid, without touching it.
#[tokio::test]
async fn fixing_the_task_a_pipeline_complained_about_makes_it_valid() {
    let w = World::new("pipeline-revalid").await;
    let _controller = w.controller().await;
    w.create_task("build", &[("make", "true")]).await;
    create_pipeline(
        &w,
        "ci",
        json!({"tasks": [
            {"name": "build", "taskRef": {"name": "build"}},
            {"name": "push", "taskRef": {"name": "build"}, "params": [{"name": "d", "value": "$(tasks.build.results.digest)"}]},
        ]}),
    )
    .await;
    let invalid = valid(&w, "ci", "False").await;
    assert!(
        invalid.message.contains("declares no result \"digest\""),
        "{}",
        invalid.message
    );
    let mut task = w.tasks().get("build").await.unwrap();
    task.spec.results = vec![minitask_api::ResultSpec {
        name: "digest".into(),
        description: None,
    }];
    w.tasks().replace("build", &Default::default(), &task).await.unwrap();
    let fixed = valid(&w, "ci", "True").await;
    assert_eq!(fixed.reason, "Valid");
}

/// A `taskRef` to a Task that does not exist makes the Pipeline invalid,
/// with what was probably meant; a run of it says what it waits for at
/// once, and starts when the Task appears; deleting the Task makes the
/// Pipeline invalid again.
#[tokio::test]
async fn a_pipeline_naming_a_task_that_does_not_exist_says_so() {
    let w = World::new("pipeline-missing-task").await;
    let _controller = w.controller().await;
    w.create_task("hello", &[("say", "echo hi")]).await;
    create_pipeline(
        &w,
        "ci",
        json!({"tasks": [{"name": "greet", "taskRef": {"name": "helo"}}]}),
    )
    .await;
    let invalid = valid(&w, "ci", "False").await;
    assert!(
        invalid
            .message
            .contains("task \"greet\": Task \"helo\" not found in namespace")
            && invalid.message.contains("(did you mean \"hello\"?)"),
        "{}",
        invalid.message
    );
    create_run(&w, "r", json!({"pipelineRef": {"name": "ci"}})).await;
    let waiting = run_status(&w, "r", "a message naming the missing Task", |s| {
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("task greet waits: Task \"helo\" not found"))
    })
    .await;
    assert!(
        waiting
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("did you mean \"hello\""),
        "{:?}",
        waiting.message
    );
    w.create_task("helo", &[("say", "echo hi")]).await;
    valid(&w, "ci", "True").await;
    run_status(&w, "r", "the missing Task no longer named", |s| {
        !s.message.as_deref().unwrap_or_default().contains("not found")
    })
    .await;
    w.tasks().delete("helo", &Default::default()).await.unwrap();
    valid(&w, "ci", "False").await;
}

/// A Task whose steps use a param or workspace it does not declare is
/// marked invalid, naming each; fixing it makes it valid.
#[tokio::test]
async fn a_task_using_what_it_does_not_declare_is_marked_invalid() {
    let w = World::new("task-valid").await;
    let _controller = w.controller().await;
    w.create_task("greet", &[("say", "echo $(params.whom) > $(workspaces.src.path)/x")])
        .await;
    let tasks = w.tasks();
    let valid = |want: &'static str| {
        let tasks = tasks.clone();
        eventually(want, WAIT, move || {
            let tasks = tasks.clone();
            async move {
                let status = tasks.get("greet").await.ok()?.status?;
                let condition = status.conditions.first()?.clone();
                (condition.status == want).then_some((condition, status.steps))
            }
        })
    };
    let (invalid, steps) = valid("False").await;
    assert_eq!(steps, Some(1));
    assert!(
        invalid.message.contains("$(params.whom) names no param of the Task")
            && invalid.message.contains("$(workspaces.src) names no workspace"),
        "{}",
        invalid.message
    );
    let mut task = tasks.get("greet").await.unwrap();
    task.spec.params = vec![serde_json::from_value(json!({"name": "whom"})).unwrap()];
    task.spec.workspaces = vec![serde_json::from_value(json!({"name": "src"})).unwrap()];
    tasks.replace("greet", &Default::default(), &task).await.unwrap();
    valid("True").await;
}

#[tokio::test]
async fn a_pipelinerun_costs_its_taskruns_and_a_status_write_per_change_and_no_reads() {
    let w = World::new("pipeline-requests").await;
    let (client, log) = RequestLog::client(ControlPlane::shared().config(Some(CONTROLLER_USER)).await);
    let _controller = w.controller_with(client, PodOptions::default()).await;
    create_pipeline(&w, "ci", json!({"tasks": [task("a", &[]), task("b", &["a"])]})).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    log.take();
    create_run(&w, "r", json!({"pipelineRef": {"name": "ci"}})).await;
    until_children(&w, &["r-a"]).await;
    run_status(&w, "r", "running", |s| s.phase == Some(Phase::Running)).await;
    end(&w, "r-a", Phase::Succeeded, &[]).await;
    until_children(&w, &["r-a", "r-b"]).await;
    end(&w, "r-b", Phase::Succeeded, &[]).await;
    run_status(&w, "r", "succeeded", |s| s.phase == Some(Phase::Succeeded)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = log.take();
    let mine: Vec<_> = requests
        .iter()
        .filter(|r| r.path.contains("/pipelineruns/") || r.path.ends_with("/taskruns"))
        .collect();
    let reads: Vec<_> = mine.iter().filter(|r| r.is_read()).collect();
    assert!(reads.is_empty(), "reads: {reads:?}");
    let creates = mine
        .iter()
        .filter(|r| r.verb == "create" && r.path.ends_with("/taskruns"))
        .count();
    assert_eq!(creates, 2, "one TaskRun per task: {mine:?}");
    let writes = mine
        .iter()
        .filter(|r| r.verb == "patch" && r.path.ends_with("/pipelineruns/r/status") && r.succeeded())
        .count();
    assert!(
        (3..=5).contains(&writes),
        "a status write per change (running, a done, b done...): {writes} in {mine:?}"
    );
}
