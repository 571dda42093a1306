use super::*;
use crate::pipeline::child::claim_name;
use k8s_openapi::jiff::Timestamp;
use minitask_api::{Param, TaskRunResult, TaskRunStatus, TaskState::*};
use serde_json::{Value, json};

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
}

fn run_with(spec: Value) -> PipelineRun {
    let mut run: PipelineRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
        "metadata": {"name": "p", "namespace": "ns", "uid": "run-uid", "generation": 1},
        "spec": spec,
    }))
    .unwrap();
    run.metadata.creation_timestamp = Some(at(0));
    run
}

fn run() -> PipelineRun {
    run_with(json!({"pipelineRef": {"name": "ci"}}))
}

fn pipeline(spec: Value) -> PipelineSpec {
    serde_json::from_value(spec).unwrap()
}

fn task(name: &str, after: &[&str]) -> Value {
    json!({"name": name, "taskRef": {"name": "t"}, "runAfter": after})
}

/// A TaskRun of the run for pipeline task `task`, in `phase`, with results.
fn child(name: &str, task: &str, phase: Option<Phase>, results: &[(&str, &str)]) -> TaskRun {
    let mut child: TaskRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
        "metadata": {"name": name, "namespace": "ns", "labels": {minitask_api::LABEL_PIPELINE_TASK: task},
                     "ownerReferences": [{"apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun", "name": "p", "uid": "run-uid", "controller": true}]},
        "spec": {"taskRef": {"name": "t"}},
    }))
    .unwrap();
    child.metadata.creation_timestamp = Some(at(1));
    child.status = phase.map(|phase| TaskRunStatus {
        phase: Some(phase),
        reason: Some(format!("{phase:?}")),
        message: Some("its message".into()),
        results: results
            .iter()
            .map(|(n, v)| TaskRunResult {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        ..TaskRunStatus::default()
    });
    child
}

fn done(name: &str) -> TaskRun {
    child(&format!("p-{name}"), name, Some(Phase::Succeeded), &[])
}

fn failed_child(name: &str) -> TaskRun {
    child(&format!("p-{name}"), name, Some(Phase::Failed), &[])
}

fn running(name: &str) -> TaskRun {
    child(&format!("p-{name}"), name, Some(Phase::Running), &[])
}

fn no_declarations(_: &PipelineTask) -> Option<Vec<String>> {
    None
}

/// Plans `spec` for `run` with `children` at `now`.
fn plan_at(run: &PipelineRun, spec: &PipelineSpec, children: Vec<TaskRun>, now: i64) -> Plan {
    plan_refused(run, spec, children, &[], now)
}

/// As `plan_at`, after the API server refused the creates in `refused`.
fn plan_refused(
    run: &PipelineRun,
    spec: &PipelineSpec,
    children: Vec<TaskRun>,
    refused: &[CreateRefused],
    now: i64,
) -> Plan {
    let children: BTreeMap<String, TaskRun> = children.into_iter().map(|c| (c.name_any(), c)).collect();
    plan(&Inputs {
        run,
        spec,
        children: &children,
        foreign: &[],
        refused,
        declared: &no_declarations,
        claims: &BTreeSet::new(),
        now: &at(now),
    })
}

fn created(plan: &Plan) -> Vec<String> {
    plan.create.iter().map(|c| c.name_any()).collect()
}

fn state(plan: &Plan, task: &str) -> (TaskState, Option<String>) {
    let t = plan.status.tasks.iter().find(|t| t.name == task).unwrap();
    (t.state, t.reason.clone())
}

fn param(child: &TaskRun, name: &str) -> ParamValue {
    child.spec.params.iter().find(|p| p.name == name).unwrap().value.clone()
}

/// fetch → (lint ‖ test) → build
fn diamond() -> PipelineSpec {
    pipeline(json!({"tasks": [
        task("fetch", &[]),
        task("lint", &["fetch"]),
        {"name": "test", "taskRef": {"name": "t"}, "params": [{"name": "commit", "value": "$(tasks.fetch.results.commit)"}]},
        task("build", &["lint", "test"]),
    ]}))
}

#[test]
fn tasks_start_in_the_order_of_the_graph() {
    let spec = diamond();
    let first = plan_at(&run(), &spec, vec![], 1);
    assert_eq!(created(&first), ["p-fetch"], "only the root starts");
    assert_eq!(first.status.phase, Some(Phase::Running));
    assert_eq!(first.status.progress.as_deref(), Some("0/4"));
    assert!(
        first.status.pipeline_spec.is_some(),
        "the Pipeline is recorded at start"
    );

    let fetched = child("p-fetch", "fetch", Some(Phase::Succeeded), &[("commit", "abc123")]);
    let second = plan_at(&run(), &spec, vec![fetched.clone()], 2);
    assert_eq!(created(&second), ["p-lint", "p-test"], "both branches at once");
    let test = second.create.iter().find(|c| c.name_any() == "p-test").unwrap();
    assert_eq!(
        param(test, "commit"),
        ParamValue::String("abc123".into()),
        "the result flows"
    );

    let third = plan_at(&run(), &spec, vec![fetched.clone(), done("lint"), running("test")], 3);
    assert!(created(&third).is_empty(), "build waits for test");
    assert_eq!(third.status.tasks[3].message.as_deref(), Some("waiting for test"));

    let mut started = run();
    started.status = Some(first.status.clone());
    let last = plan_at(
        &started,
        &spec,
        vec![fetched.clone(), done("lint"), done("test"), done("build")],
        4,
    );
    assert_eq!(last.status.phase, Some(Phase::Succeeded), "{:?}", last.status.message);
    assert_eq!(last.status.reason.as_deref(), Some("Succeeded"));
    assert_eq!(last.status.progress.as_deref(), Some("4/4"));
    assert_eq!(last.status.duration.as_deref(), Some("3s"));
}

#[test]
fn a_result_reference_is_an_edge_of_its_own() {
    let spec = pipeline(json!({"tasks": [
        {"name": "use", "taskRef": {"name": "t"}, "params": [{"name": "v", "value": "$(tasks.make.results.v)"}]},
        task("make", &[]),
    ]}));
    assert_eq!(created(&plan_at(&run(), &spec, vec![], 1)), ["p-make"]);
}

#[test]
fn when_guards_only_its_task_and_those_that_need_its_results() {
    let spec = pipeline(json!({
        "params": [{"name": "branch", "default": "dev"}],
        "tasks": [
            {"name": "deploy", "taskRef": {"name": "t"}, "when": [{"input": "$(params.branch)", "operator": "in", "values": ["main"]}]},
            task("after", &["deploy"]),
            {"name": "uses", "taskRef": {"name": "t"}, "params": [{"name": "url", "value": "$(tasks.deploy.results.url)"}]},
        ],
    }));
    let plan = plan_at(&run(), &spec, vec![], 1);
    assert_eq!(state(&plan, "deploy"), (Skipped, Some("WhenFalse".into())));
    assert_eq!(
        plan.status.tasks[0].message.as_deref(),
        Some("its when is false: \"dev\" ($(params.branch)) in [main]"),
        "the values it was judged on"
    );
    assert_eq!(created(&plan), ["p-after"], "runAfter a skipped task still runs");
    assert_eq!(state(&plan, "uses"), (Skipped, Some("ResultMissing".into())));
    let message = plan.status.tasks[2].message.clone().unwrap();
    assert!(message.contains("task \"deploy\" was skipped"), "{message}");

    let main = run_with(json!({"pipelineRef": {"name": "ci"}, "params": [{"name": "branch", "value": "main"}]}));
    assert_eq!(created(&plan_at(&main, &spec, vec![], 1)), ["p-deploy"]);
    let ended = plan_at(&run(), &spec, vec![done("after")], 5);
    assert_eq!(
        ended.status.reason.as_deref(),
        Some("Succeeded"),
        "skipped tasks do not fail a run"
    );
    assert_eq!(ended.status.message.as_deref(), Some("1 tasks succeeded, 2 skipped"));
}

#[test]
fn a_cel_when_reads_params_and_results_as_values() {
    let spec = pipeline(json!({
        "params": [{"name": "branch", "default": "dev"}],
        "tasks": [
            {"name": "test", "taskRef": {"name": "t"}},
            {"name": "deploy", "taskRef": {"name": "t"}, "when": [{"cel": "'$(params.branch)' == 'main' && $(tasks.test.results.passed) > 0"}]},
            {"name": "odd", "taskRef": {"name": "t"}, "runAfter": ["test"], "when": [{"cel": "$(tasks.test.results.passed) + 1"}]},
        ],
    }));
    let passed = |n: &str| vec![child("p-test", "test", Some(Phase::Succeeded), &[("passed", n)])];
    assert_eq!(
        created(&plan_at(&run(), &spec, vec![], 1)),
        ["p-test"],
        "deploy waits for the result it reads"
    );
    let main = run_with(json!({"pipelineRef": {"name": "ci"}, "params": [{"name": "branch", "value": "main"}]}));
    assert_eq!(created(&plan_at(&main, &spec, passed("3"), 2)), ["p-deploy"]);

    let none = plan_at(&main, &spec, passed("0"), 2);
    assert_eq!(state(&none, "deploy"), (Skipped, Some("WhenFalse".into())));
    assert_eq!(
        none.status.tasks[1].message.as_deref(),
        Some(
            "its when is false: '$(params.branch)' == 'main' && $(tasks.test.results.passed) > 0 (with $(params.branch) = \"main\", $(tasks.test.results.passed) = 0) is false"
        )
    );
    // A value is never spliced into the expression.
    let forged =
        run_with(json!({"pipelineRef": {"name": "ci"}, "params": [{"name": "branch", "value": "x' || true || '"}]}));
    assert_eq!(
        state(&plan_at(&forged, &spec, passed("3"), 2), "deploy"),
        (Skipped, Some("WhenFalse".into()))
    );

    let odd = plan_at(&main, &spec, passed("3"), 2);
    assert_eq!(state(&odd, "odd"), (Skipped, Some("WhenError".into())));
    // The first false condition decides: one after it is shown, not judged.
    let first = pipeline(json!({
        "params": [{"name": "branch", "default": "dev"}],
        "tasks": [{"name": "a", "taskRef": {"name": "t"}, "when": [
            {"input": "$(params.branch)", "operator": "in", "values": ["main"]},
            {"cel": "1 + 1"},
        ]}],
    }));
    let plan = plan_at(&run(), &first, vec![], 1);
    assert_eq!(state(&plan, "a"), (Skipped, Some("WhenFalse".into())));
    assert_eq!(
        plan.status.tasks[0].message.as_deref(),
        Some("its when is false: \"dev\" ($(params.branch)) in [main] and 1 + 1")
    );
    let message = odd.status.tasks[2].message.clone().unwrap();
    assert!(
        message.contains("could not be evaluated: the expression gave int, not a bool"),
        "{message}"
    );
}

#[test]
fn a_failure_starts_nothing_new_and_finally_runs_with_the_statuses() {
    let spec = pipeline(json!({
        "tasks": [task("a", &[]), task("b", &[]), task("c", &["a"])],
        "finally": [{"name": "report", "taskRef": {"name": "t"}, "params": [
            {"name": "all", "value": "$(tasks.status)"}, {"name": "a", "value": "$(tasks.a.status)"}, {"name": "c", "value": "$(tasks.c.status)"},
        ]}],
    }));
    let plan = plan_at(&run(), &spec, vec![failed_child("a"), running("b")], 5);
    assert!(created(&plan).is_empty(), "c never starts, finally waits for b");
    assert_eq!(state(&plan, "a"), (Failed, Some("Failed".into())));
    assert_eq!(state(&plan, "c"), (Skipped, Some("Stopped".into())));
    assert_eq!(plan.status.phase, Some(Phase::Running));

    let plan = plan_at(&run(), &spec, vec![failed_child("a"), done("b")], 6);
    assert_eq!(created(&plan), ["p-report"], "finally runs after a failure");
    let report = &plan.create[0];
    assert_eq!(param(report, "all"), ParamValue::String("Failed".into()));
    assert_eq!(param(report, "a"), ParamValue::String("Failed".into()));
    assert_eq!(param(report, "c"), ParamValue::String("None".into()), "never reached");

    let ended = plan_at(&run(), &spec, vec![failed_child("a"), done("b"), done("report")], 7);
    assert_eq!(
        (ended.status.phase, ended.status.reason.as_deref()),
        (Some(Phase::Failed), Some("TaskFailed"))
    );
    assert_eq!(
        ended.status.message.as_deref(),
        Some("task a failed (Failed): TaskRun p-a: its message; see `kubectl task describe` of its TaskRuns")
    );
}

#[test]
fn finally_sees_the_results_that_exist_and_skips_what_needs_missing_ones() {
    let spec = pipeline(json!({
        "tasks": [task("a", &[])],
        "finally": [
            {"name": "uses", "taskRef": {"name": "t"}, "params": [{"name": "v", "value": "$(tasks.a.results.partial)"}]},
            {"name": "needs", "taskRef": {"name": "t"}, "params": [{"name": "v", "value": "$(tasks.a.results.never)"}]},
        ],
    }));
    let a = child(
        "p-a",
        "a",
        Some(Phase::Failed),
        &[("partial", "written before the failure")],
    );
    let plan = plan_at(&run(), &spec, vec![a], 3);
    assert_eq!(created(&plan), ["p-uses"]);
    assert_eq!(
        param(&plan.create[0], "v"),
        ParamValue::String("written before the failure".into())
    );
    assert_eq!(state(&plan, "needs"), (Skipped, Some("ResultMissing".into())));
}

#[test]
fn a_cancel_stops_the_tasks_and_still_runs_finally() {
    let spec = pipeline(json!({"tasks": [task("a", &[]), task("b", &["a"])], "finally": [task("clean", &[])]}));
    let cancelled = run_with(json!({"pipelineRef": {"name": "ci"}, "cancelled": true}));
    let plan = plan_at(&cancelled, &spec, vec![running("a")], 3);
    assert_eq!(plan.cancel, ["p-a"], "the running task is cancelled");
    assert!(created(&plan).is_empty());
    let mut stopped = running("a");
    stopped.spec.cancelled = true;
    assert!(
        plan_at(&cancelled, &spec, vec![stopped], 4).cancel.is_empty(),
        "asked once"
    );

    // b's TaskRun had not started: it is cancelled, so only finally waits.
    let pending_b = child("p-b", "b", Some(Phase::Pending), &[]);
    let plan = plan_at(&cancelled, &spec, vec![failed_child("a"), pending_b], 5);
    assert_eq!(plan.cancel, ["p-b"]);
    assert_eq!(
        plan.status.message.as_deref(),
        Some("waiting: clean; cancelled: no new task starts, then the finally tasks run"),
        "the progress lists only tasks that can still run"
    );

    let plan = plan_at(&cancelled, &spec, vec![failed_child("a")], 5);
    assert_eq!(created(&plan), ["p-clean"], "finally after a cancel");
    assert_eq!(state(&plan, "b"), (Skipped, Some("Stopped".into())));
    let ended = plan_at(&cancelled, &spec, vec![failed_child("a"), done("clean")], 6);
    assert_eq!(ended.status.reason.as_deref(), Some("Cancelled"));
}

#[test]
fn timeouts_bound_each_taskrun_and_end_the_run() {
    let spec = pipeline(
        json!({"tasks": [task("a", &[]), {"name": "b", "taskRef": {"name": "t"}, "runAfter": ["a"], "timeout": "5m"}], "finally": [task("f", &[])]}),
    );
    let timed = run_with(
        json!({"pipelineRef": {"name": "ci"}, "timeouts": {"pipeline": "1h", "tasks": "10m", "finally": "2m"}}),
    );
    let plan = plan_at(&timed, &spec, vec![], 0);
    assert_eq!(plan.create[0].spec.timeout, "10m0s", "what is left of the tasks' time");
    assert_eq!(plan.requeue, Some(Duration::from_secs(600)), "the next deadline");
    let plan = plan_at(&timed, &spec, vec![done("a")], 420);
    assert_eq!(plan.create[0].spec.timeout, "3m0s", "its own 5m, within the 3m left");

    let plan = plan_at(&timed, &spec, vec![done("a"), running("b")], 600);
    assert_eq!(plan.cancel, ["p-b"], "over the tasks' timeout");
    let plan = plan_at(&timed, &spec, vec![done("a"), failed_child("b")], 610);
    assert_eq!(created(&plan), ["p-f"]);
    assert_eq!(plan.create[0].spec.timeout, "2m0s", "finally's own time");
    let ended = plan_at(&timed, &spec, vec![done("a"), failed_child("b"), done("f")], 700);
    assert_eq!(ended.status.reason.as_deref(), Some("Timeout"));

    let mut late = running("f");
    late.metadata.creation_timestamp = Some(at(610));
    let plan = plan_at(&timed, &spec, vec![done("a"), failed_child("b"), late], 3600);
    assert_eq!(plan.cancel, ["p-f"], "the whole run's timeout stops finally too");
}

/// `child` ended at `second`.
fn ended(mut child: TaskRun, second: i64) -> TaskRun {
    child.status.as_mut().unwrap().completion_time = Some(at(second));
    child
}

/// `run` as the status of `plan` left it: the record the next look reads.
fn recorded(run: &PipelineRun, plan: &Plan) -> PipelineRun {
    let mut run = run.clone();
    run.status = Some(plan.status.clone());
    run
}

/// `timeouts.tasks` bounds the tasks, not the finally tasks: tasks that
/// all ended at 9 minutes leave finally running past the tenth, and the
/// run succeeds; nor does a late look at a run that ended in time make it
/// time out.
#[test]
fn the_tasks_timeout_no_longer_applies_once_the_tasks_have_ended() {
    let spec = pipeline(json!({"tasks": [task("a", &[])], "finally": [task("f", &[])]}));
    let timed = run_with(
        json!({"pipelineRef": {"name": "ci"}, "timeouts": {"pipeline": "1h", "tasks": "10m", "finally": "5m"}}),
    );
    let a = ended(done("a"), 540);
    let plan = plan_at(&timed, &spec, vec![a.clone()], 540);
    assert_eq!(created(&plan), ["p-f"]);
    assert_eq!(plan.create[0].spec.timeout, "5m0s");
    assert_eq!(
        plan.status.finally_start_time,
        Some(at(540)),
        "the record of when finally could start"
    );
    let timed = recorded(&timed, &plan);
    let plan = plan_at(&timed, &spec, vec![a.clone(), running("f")], 600);
    assert!(plan.cancel.is_empty(), "finally runs on past the tasks' timeout");
    assert_eq!(plan.status.phase, Some(Phase::Running));
    assert_eq!(plan.requeue, Some(Duration::from_secs(240)), "finally's own deadline");
    let plan = plan_at(&timed, &spec, vec![a.clone(), ended(done("f"), 700)], 700);
    assert_eq!(
        plan.status.reason.as_deref(),
        Some("Succeeded"),
        "{:?}",
        plan.status.message
    );

    // Without the record (a status write lost), the TaskRuns' end times
    // say the same.
    let fresh = run_with(json!({"pipelineRef": {"name": "ci"}, "timeouts": {"tasks": "10m"}}));
    let plan = plan_at(&fresh, &spec, vec![a.clone(), running("f")], 660);
    assert!(plan.cancel.is_empty());
    // A look long after a run that ended within its pipeline timeout.
    let short = run_with(json!({"pipelineRef": {"name": "ci"}, "timeouts": {"pipeline": "10m"}}));
    let plan = plan_at(&short, &spec, vec![a, ended(done("f"), 590)], 900);
    assert_eq!(
        plan.status.reason.as_deref(),
        Some("Succeeded"),
        "{:?}",
        plan.status.message
    );
}

/// As in Tekton, `timeouts.finally` without `timeouts.tasks` keeps its
/// time: the tasks get `pipeline - finally`.
#[test]
fn the_finally_timeout_is_reserved_out_of_the_pipelines() {
    let spec = pipeline(json!({"tasks": [task("a", &[])], "finally": [task("f", &[])]}));
    let timed = run_with(json!({"pipelineRef": {"name": "ci"}, "timeouts": {"pipeline": "1h", "finally": "10m"}}));
    let plan = plan_at(&timed, &spec, vec![], 0);
    assert_eq!(plan.create[0].spec.timeout, "50m0s");
    let plan = plan_at(&timed, &spec, vec![running("a")], 3000);
    assert_eq!(plan.cancel, ["p-a"], "the tasks are stopped with 10m left");
    let a = ended(failed_child("a"), 3005);
    let plan = plan_at(&timed, &spec, vec![a], 3005);
    assert_eq!(created(&plan), ["p-f"], "finally runs in the time kept for it");
    assert_eq!(plan.create[0].spec.timeout, "9m55s");
}

#[test]
fn a_matrix_fans_out_and_its_results_are_lists() {
    let spec = pipeline(json!({"tasks": [
        {"name": "build", "taskRef": {"name": "t"}, "params": [{"name": "v", "value": "1"}],
         "matrix": {"params": [{"name": "os", "value": ["linux", "mac"]}, {"name": "arch", "value": ["amd64", "arm64"]}]}},
        {"name": "publish", "taskRef": {"name": "t"}, "params": [{"name": "digests", "value": "$(tasks.build.results.digest[*])"}]},
    ]}));
    let plan = plan_at(&run(), &spec, vec![], 1);
    assert_eq!(created(&plan), ["p-build-0", "p-build-1", "p-build-2", "p-build-3"]);
    let third = &plan.create[2];
    assert_eq!(param(third, "os"), ParamValue::String("mac".into()));
    assert_eq!(param(third, "arch"), ParamValue::String("amd64".into()));
    assert_eq!(param(third, "v"), ParamValue::String("1".into()));

    let children: Vec<TaskRun> = (0..4)
        .map(|i| {
            child(
                &format!("p-build-{i}"),
                "build",
                Some(Phase::Succeeded),
                &[("digest", &format!("d{i}"))],
            )
        })
        .collect();
    let plan = plan_at(&run(), &spec, children, 2);
    assert_eq!(created(&plan), ["p-publish"]);
    assert_eq!(
        param(&plan.create[0], "digests"),
        ParamValue::Array(vec!["d0".into(), "d1".into(), "d2".into(), "d3".into()])
    );
    assert_eq!(plan.status.tasks[0].task_runs.len(), 4);
}

#[test]
fn max_parallel_bounds_the_taskruns_running_at_once() {
    let spec = pipeline(json!({"maxParallel": 2, "tasks": [
        task("a", &[]), task("b", &[]),
        {"name": "m", "taskRef": {"name": "t"}, "matrix": {"params": [{"name": "x", "value": ["1", "2", "3"]}]}},
    ]}));
    let plan = plan_at(&run(), &spec, vec![], 1);
    assert_eq!(created(&plan), ["p-a", "p-b"]);
    assert_eq!(state(&plan, "m").0, Pending);
    let plan = plan_at(&run(), &spec, vec![done("a"), running("b")], 2);
    assert_eq!(created(&plan), ["p-m-0"], "one slot left");
    let m0 = child("p-m-0", "m", Some(Phase::Succeeded), &[]);
    let plan = plan_at(&run(), &spec, vec![done("a"), done("b"), m0], 3);
    assert_eq!(created(&plan), ["p-m-1", "p-m-2"]);
}

/// Under `maxParallel` a matrix starts a few combinations at a time: once
/// one fails, no more start (of it or of any other task), and the task
/// fails when the running ones end.
#[test]
fn a_failed_combination_stops_the_rest_of_its_matrix() {
    let spec = pipeline(json!({"maxParallel": 2, "tasks": [
        {"name": "m", "taskRef": {"name": "t"}, "matrix": {"params": [{"name": "x", "value": ["1", "2", "3", "4"]}]}},
        task("other", &[]),
    ]}));
    let plan = plan_at(&run(), &spec, vec![], 1);
    assert_eq!(created(&plan), ["p-m-0", "p-m-1"]);
    let m0 = child("p-m-0", "m", Some(Phase::Failed), &[]);
    let m1 = child("p-m-1", "m", Some(Phase::Running), &[]);
    let plan = plan_at(&run(), &spec, vec![m0.clone(), m1], 2);
    assert!(
        plan.create.is_empty(),
        "nothing starts after a failure: {:?}",
        created(&plan)
    );
    assert_eq!(state(&plan, "m").0, Running);
    let m1 = child("p-m-1", "m", Some(Phase::Succeeded), &[]);
    let plan = plan_at(&run(), &spec, vec![m0, m1], 3);
    assert!(plan.create.is_empty());
    assert_eq!(state(&plan, "m").0, Failed);
    let message = plan.status.tasks[0].message.clone().unwrap();
    assert!(message.contains("2 of its 4 TaskRuns did not start"), "{message}");
    assert_eq!(plan.status.reason.as_deref(), Some("TaskFailed"));
}

#[test]
fn a_run_that_cannot_start_fails_saying_why() {
    let invalid = pipeline(json!({"tasks": [task("a", &["b"]), task("b", &["a"])]}));
    let plan = plan_at(&run(), &invalid, vec![], 1);
    assert_eq!(plan.status.reason.as_deref(), Some("InvalidPipeline"));
    assert!(plan.status.message.clone().unwrap().contains("form a cycle"));
    assert!(plan.create.is_empty());

    let spec =
        pipeline(json!({"params": [{"name": "repo"}], "workspaces": [{"name": "src"}], "tasks": [task("a", &[])]}));
    let plan = plan_at(&run(), &spec, vec![], 1);
    assert_eq!(plan.status.reason.as_deref(), Some("InvalidParams"));
    let given = run_with(json!({"pipelineRef": {"name": "ci"}, "params": [{"name": "repo", "value": "x"}]}));
    let plan = plan_at(&given, &spec, vec![], 1);
    assert_eq!(plan.status.reason.as_deref(), Some("InvalidWorkspaces"));
    assert!(
        plan.status
            .message
            .clone()
            .unwrap()
            .contains("workspace \"src\" is not bound")
    );

    let shared = pipeline(json!({"workspaces": [{"name": "w"}], "tasks": [
        {"name": "a", "taskRef": {"name": "t"}, "workspaces": [{"name": "x", "workspace": "w"}]},
        {"name": "b", "taskRef": {"name": "t"}, "workspaces": [{"name": "x", "workspace": "w"}]},
    ]}));
    let empty = run_with(json!({"pipelineRef": {"name": "ci"}, "workspaces": [{"name": "w", "emptyDir": {}}]}));
    let plan = plan_at(&empty, &shared, vec![], 1);
    assert!(
        plan.status
            .message
            .clone()
            .unwrap()
            .contains("is an emptyDir but 2 tasks use it")
    );
}

#[test]
fn claims_come_first_and_go_when_the_run_ends_unless_kept() {
    let spec = pipeline(json!({"workspaces": [{"name": "src"}, {"name": "out"}], "tasks": [
        {"name": "a", "taskRef": {"name": "t"}, "workspaces": [{"name": "s", "workspace": "src"}, {"name": "o", "workspace": "out"}]},
    ]}));
    let template = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    let run = run_with(json!({"pipelineRef": {"name": "ci"}, "workspaces": [
        {"name": "src", "volumeClaimTemplate": template},
        {"name": "out", "volumeClaimTemplate": template, "keep": true},
    ]}));
    let plan = plan_at(&run, &spec, vec![], 1);
    let claims: Vec<String> = plan.claims.iter().map(|c| c.name_any()).collect();
    let none = BTreeSet::new();
    let want = [claim_name("p", "src", &none), claim_name("p", "out", &none)];
    assert_eq!(claims, want);
    let ended = plan_at(&run, &spec, vec![done("a")], 2);
    assert_eq!(ended.status.phase, Some(Phase::Succeeded));
    assert_eq!(ended.delete_claims, [want[0].clone()], "the kept claim stays");
}

#[test]
fn taskruns_of_an_earlier_run_of_the_name_are_deleted_first() {
    let spec = pipeline(json!({"tasks": [task("a", &[])]}));
    let mut old = done("a");
    old.metadata.owner_references.as_mut().unwrap()[0].uid = "an-older-uid".into();
    let plan = plan_at(&run(), &spec, vec![old.clone()], 1);
    assert_eq!(plan.delete_stale.len(), 1);
    assert!(plan.create.is_empty());
    assert_eq!(plan.status.phase, Some(Phase::Pending));

    // A PipelineRun of that name in another API group (Tekton's) is not
    // an earlier run of ours: its TaskRun is left alone.
    old.metadata.owner_references.as_mut().unwrap()[0].api_version = "tekton.dev/v1".into();
    let plan = plan_at(&run(), &spec, vec![old], 1);
    assert!(plan.delete_stale.is_empty());
}

#[test]
fn a_finished_run_changes_nothing() {
    let spec = diamond();
    let mut run = run();
    run.status = Some(PipelineRunStatus {
        phase: Some(Phase::Succeeded),
        ..PipelineRunStatus::default()
    });
    let plan = plan_at(&run, &spec, vec![], 9);
    assert_eq!(plan.status, run.status.clone().unwrap());
    assert!(plan.create.is_empty() && plan.cancel.is_empty());
}

#[test]
fn a_deleted_taskrun_fails_a_running_task_and_changes_nothing_once_it_ended() {
    let spec = pipeline(json!({"tasks": [task("a", &[]), task("b", &[])]}));
    let mut run = run();
    let first = plan_at(&run, &spec, vec![], 1);
    run.status = Some(first.status.clone());
    let second = plan_at(&run, &spec, vec![running("a"), done("b")], 2);
    run.status = Some(second.status.clone());
    // Both TaskRuns are gone: a was running, b had succeeded.
    let plan = plan_at(&run, &spec, vec![], 3);
    assert!(plan.create.is_empty(), "nothing runs a second time");
    assert_eq!(state(&plan, "a"), (Failed, Some("TaskRunDeleted".into())));
    assert_eq!(state(&plan, "b").0, Succeeded, "the record stands");
    assert_eq!(plan.status.reason.as_deref(), Some("TaskFailed"));
}

#[test]
fn a_run_whose_pipeline_never_appears_times_out() {
    let timed = run_with(json!({"pipelineRef": {"name": "ci"}, "timeouts": {"pipeline": "1m"}}));
    let (waiting, left) = not_found(&timed, "Pipeline \"ci\" not found".into(), &at(30));
    assert_eq!(
        (waiting.phase, waiting.reason.as_deref()),
        (Some(Phase::Pending), Some("PipelineNotFound"))
    );
    assert_eq!(left, Some(Duration::from_secs(30)));
    let (over, _) = not_found(&timed, "Pipeline \"ci\" not found".into(), &at(60));
    assert_eq!(
        (over.phase, over.reason.as_deref()),
        (Some(Phase::Failed), Some("Timeout"))
    );
    assert!(
        over.message
            .unwrap()
            .ends_with("it was still pending: Pipeline \"ci\" not found")
    );
}

/// An ended task's results live in the run's status: deleting its TaskRun
/// (`kubectl task delete --keep`, a cleanup job) while the run goes on
/// changes nothing for the tasks after it.
#[test]
fn a_deleted_taskrun_of_an_ended_task_keeps_its_results() {
    let spec = pipeline(json!({"tasks": [
        task("build", &[]),
        {"name": "gate", "taskRef": {"name": "t"}, "runAfter": ["build"]},
        {"name": "push", "taskRef": {"name": "t"}, "runAfter": ["gate"], "params": [{"name": "digest", "value": "$(tasks.build.results.digest)"}]},
    ], "results": [{"name": "digest", "value": "$(tasks.build.results.digest)"}]}));
    let build = child("p-build", "build", Some(Phase::Succeeded), &[("digest", "sha256:1")]);
    let plan = plan_at(&run(), &spec, vec![build], 10);
    assert_eq!(created(&plan), ["p-gate"]);
    let kept = &plan.status.tasks[0].results;
    assert_eq!(
        kept,
        &[Param {
            name: "digest".into(),
            value: ParamValue::String("sha256:1".into())
        }]
    );
    let recorded = recorded(&run(), &plan);

    // The build TaskRun is deleted; the gate ends.
    let plan = plan_at(&recorded, &spec, vec![done("gate")], 20);
    assert_eq!(created(&plan), ["p-push"], "{:?}", plan.status.tasks);
    assert_eq!(param(&plan.create[0], "digest"), ParamValue::String("sha256:1".into()));
    let recorded = self::recorded(&recorded, &plan);
    let plan = plan_at(&recorded, &spec, vec![done("gate"), done("push")], 30);
    assert_eq!(plan.status.reason.as_deref(), Some("Succeeded"));
    assert_eq!(plan.status.results[0].value, "sha256:1");
}

/// Pipeline results built from several task results (or a matrix's list)
/// could outgrow what the API server takes in one status: the run ends
/// with a reason instead of failing its last write forever.
#[test]
fn pipeline_results_over_the_cap_end_the_run_with_a_reason() {
    let spec = pipeline(json!({"tasks": [task("a", &[])], "results": [
        {"name": "x", "value": "$(tasks.a.results.blob)$(tasks.a.results.blob)"},
        {"name": "y", "value": "$(tasks.a.results.blob)"},
    ]}));
    let blob = "x".repeat(50 * 1024);
    let a = child("p-a", "a", Some(Phase::Succeeded), &[("blob", &blob)]);
    let plan = plan_at(&run(), &spec, vec![a], 10);
    assert_eq!(plan.status.phase, Some(Phase::Failed));
    assert_eq!(plan.status.reason.as_deref(), Some("ResultsTooLarge"));
    let message = plan.status.message.clone().unwrap();
    assert!(
        message.contains("153600 bytes") && message.contains("128 KiB") && message.contains("\"x\""),
        "{message}"
    );
    assert!(plan.status.results.is_empty());

    let small = child("p-a", "a", Some(Phase::Succeeded), &[("blob", "ok")]);
    let plan = plan_at(&run(), &spec, vec![small], 10);
    assert_eq!(plan.status.reason.as_deref(), Some("Succeeded"));
}

/// A refused create says the API server's words in the run's message at
/// once: a full quota is tried again with backoff (the refused TaskRun is
/// not listed as the task's), a webhook's denial or a claim name taken by
/// another object fails the run.
#[test]
fn refused_creates_are_shown_at_once_and_retried_or_fail_the_run() {
    let spec = pipeline(json!({"tasks": [task("a", &[]), task("b", &[])]}));
    let quota = CreateRefused {
        name: "p-b".into(),
        claim: false,
        refusal: Refusal::Retry("the API server refused TaskRun p-b: exceeded quota".into()),
    };
    let plan = plan_refused(&run(), &spec, vec![], &[quota], 40);
    assert_eq!(
        created(&plan),
        ["p-a"],
        "the refused one is not planned again in this look"
    );
    assert_eq!(plan.status.phase, Some(Phase::Running));
    let message = plan.status.message.clone().unwrap();
    assert!(
        message.starts_with("the API server refused TaskRun p-b: exceeded quota; "),
        "{message}"
    );
    assert_eq!(plan.requeue, Some(Duration::from_secs(10)), "backoff by the run's age");
    assert_eq!(
        plan.status.tasks[1].task_runs,
        Vec::<String>::new(),
        "never recorded as made"
    );

    let full = CreateRefused {
        name: "p-src".into(),
        claim: true,
        refusal: Refusal::Retry("the API server refused claim p-src: exceeded quota".into()),
    };
    let plan = plan_refused(&run(), &spec, vec![], &[full], 40);
    assert!(plan.create.is_empty(), "nothing starts on a refused claim");
    assert!(plan.status.tasks.iter().all(|t| t.task_runs.is_empty()));

    for (claim, reason) in [(false, "TaskRunRefused"), (true, "ClaimFailed")] {
        let denied = CreateRefused {
            name: "x".into(),
            claim,
            refusal: Refusal::Permanent("the API server refused it: denied".into()),
        };
        let plan = plan_refused(&run(), &spec, vec![running("a")], &[denied], 40);
        assert_eq!(plan.status.phase, Some(Phase::Failed));
        assert_eq!(plan.status.reason.as_deref(), Some(reason));
        assert_eq!(
            plan.status.message.as_deref(),
            Some("the API server refused it: denied")
        );
        assert_eq!(plan.cancel, ["p-a"]);
    }
}

/// A TaskRun of the run that carries another task's label is never
/// adopted (a plain task `t-1` beside a matrix task `t`).
#[test]
fn a_taskrun_of_another_task_under_the_same_name_is_not_adopted() {
    let spec = pipeline(json!({"tasks": [
        {"name": "t", "taskRef": {"name": "t"}, "matrix": {"params": [{"name": "x", "value": ["1", "2"]}]}},
        task("t-1", &[]),
    ]}));
    let refused = plan_at(&run(), &spec, vec![], 5);
    assert_eq!(
        refused.status.reason.as_deref(),
        Some("InvalidPipeline"),
        "refused at start"
    );
    // A run started before that check (its Pipeline recorded) is kept
    // apart all the same.
    let mut started = run();
    started.status = Some(PipelineRunStatus {
        pipeline_spec: Some(Box::new(spec.clone())),
        ..PipelineRunStatus::default()
    });
    let plan = plan_at(
        &started,
        &spec,
        vec![child("p-t-1", "t", Some(Phase::Succeeded), &[("r", "matrix")])],
        5,
    );
    let (state, reason) = state(&plan, "t-1");
    assert_eq!((state, reason.as_deref()), (Failed, Some("TaskRunConflict")));
    let plain = plan.status.tasks.iter().find(|t| t.name == "t-1").unwrap();
    assert!(
        plain
            .message
            .clone()
            .unwrap()
            .contains("TaskRun p-t-1 is the run's TaskRun of task \"t\"")
    );
}
