//! `kubectl task` with Pipelines: start (params, workspaces, a claim
//! template), list, runs, describe, logs, cancel and delete, in kubectl's
//! `kind/name` forms.

use crate::{create_task, error, ok, task_in, text, world};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use minitask_api::{Pipeline, PipelineRun};
use serde_json::{Value, json};

async fn create_pipeline(client: &Client, ns: &str, name: &str, spec: Value) {
    let pipeline: Pipeline = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Pipeline", "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap();
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pipeline)
        .await
        .unwrap();
}

fn ci() -> Value {
    json!({
        "description": "Builds and tests.",
        "params": [{"name": "repo"}, {"name": "ref", "default": "main"}],
        "workspaces": [{"name": "src"}],
        "tasks": [
            {"name": "fetch", "taskRef": {"name": "git"}, "workspaces": [{"name": "out", "workspace": "src"}]},
            {"name": "test", "taskRef": {"name": "t"}, "runAfter": ["fetch"], "when": [{"cel": "'$(params.ref)' != ''"}]},
        ],
        "finally": [{"name": "report", "taskRef": {"name": "t"}, "when": [{"input": "$(tasks.status)", "operator": "notin", "values": ["Failed"]}]}],
    })
}

/// The `ci` Pipeline and the Tasks it names.
async fn create_ci(client: &Client, ns: &str) {
    create_task(client, ns, "git").await;
    create_task(client, ns, "t").await;
    create_pipeline(client, ns, "ci", ci()).await;
}

async fn pipelineruns(client: &Client, ns: &str) -> Vec<PipelineRun> {
    Api::<PipelineRun>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn start_makes_a_pipelinerun_with_params_and_a_claim_template() {
    let (client, ns) = world("cli-pl-start").await;
    create_ci(&client, &ns).await;
    let out = task_in(
        &ns,
        &[
            "start",
            "pipeline/ci",
            "-p",
            "repo=git://x",
            "-w",
            "src=volumeClaimTemplate:2Gi",
            "--timeout",
            "20m",
        ],
    );
    let stdout = ok(&out);
    assert!(stdout.starts_with("pipelinerun.minitask.dev/ci-run-"), "{stdout}");
    assert!(
        text(&out.stderr).contains("kubectl task logs -f pipelinerun/ci-run-"),
        "{}",
        text(&out.stderr)
    );
    let runs = pipelineruns(&client, &ns).await;
    let run = &runs[0];
    assert_eq!(run.spec.pipeline_ref.as_ref().unwrap().name, "ci");
    assert_eq!(run.spec.params[0].name, "repo");
    assert_eq!(run.spec.timeouts.as_ref().unwrap().pipeline.as_deref(), Some("20m"));
    let template = run.spec.workspaces[0].volume_claim_template.as_ref().unwrap();
    let storage = &template.spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"];
    assert_eq!(storage.0, "2Gi");
    assert_eq!(run.metadata.labels.as_ref().unwrap()["minitask.dev/pipeline"], "ci");

    // A bare name that only a Pipeline has starts it too; --dry-run creates nothing.
    let dry = ok(&task_in(
        &ns,
        &["start", "ci", "-p", "repo=r", "-w", "src=pvc:shared", "--dry-run"],
    ));
    assert!(
        dry.contains("kind: PipelineRun") && dry.contains("claimName: shared"),
        "{dry}"
    );
    assert_eq!(pipelineruns(&client, &ns).await.len(), 1);
}

#[tokio::test]
async fn start_refuses_what_the_pipeline_cannot_take() {
    let (client, ns) = world("cli-pl-refuse").await;
    create_ci(&client, &ns).await;
    let stderr = error(&task_in(
        &ns,
        &["start", "pipeline/ci", "-p", "repo=x", "-p", "colour=red"],
    ));
    assert!(stderr.contains("unknown param \"colour\""), "{stderr}");
    let stderr = error(&task_in(&ns, &["start", "pipeline/ci", "-p", "repo=x"]));
    assert!(
        stderr.contains("workspace \"src\" is required: give it with -w src=volumeClaimTemplate:1Gi"),
        "{stderr}"
    );
    let stderr = error(&task_in(
        &ns,
        &[
            "start",
            "pipeline/ci",
            "-p",
            "repo=x",
            "-w",
            "src=emptyDir",
            "--retries",
            "2",
        ],
    ));
    assert!(stderr.contains("--retries applies to Tasks"), "{stderr}");
    let stderr = error(&task_in(&ns, &["start", "pipeline/cj"]));
    assert!(
        stderr.contains("Pipeline \"cj\" not found") && stderr.contains("did you mean \"ci\""),
        "{stderr}"
    );

    // The controller found it invalid: say why, create nothing.
    let status = json!({"status": {"conditions": [{"type": "Valid", "status": "False", "reason": "Invalid",
        "message": "tasks a → b → a form a cycle", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    Api::<Pipeline>::namespaced(client.clone(), &ns)
        .patch_status("ci", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let stderr = error(&task_in(
        &ns,
        &["start", "pipeline/ci", "-p", "repo=x", "-w", "src=emptyDir"],
    ));
    assert!(
        stderr.contains("Pipeline ci cannot run: tasks a → b → a form a cycle"),
        "{stderr}"
    );
    assert!(pipelineruns(&client, &ns).await.is_empty());
}

#[tokio::test]
async fn pipelines_and_their_runs_are_listed_described_cancelled_and_deleted() {
    let (client, ns) = world("cli-pl-show").await;
    create_ci(&client, &ns).await;
    let list = ok(&task_in(&ns, &["list", "pipelines"]));
    let header: Vec<&str> = list.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "TASKS", "PARAMS", "WORKSPACES", "VALID", "AGE", "DESCRIPTION"]
    );
    assert!(
        list.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(4)
            .eq(["ci", "3", "repo,ref", "src"]),
        "{list}"
    );

    let run: PipelineRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun", "metadata": {"name": "ci-1", "labels": {"minitask.dev/pipeline": "ci"}},
        "spec": {"pipelineRef": {"name": "ci"}, "params": [{"name": "repo", "value": "git://x"}], "workspaces": [{"name": "src", "emptyDir": {}}]},
    }))
    .unwrap();
    let api = Api::<PipelineRun>::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &run).await.unwrap();
    let status = json!({"status": {"phase": "Running", "reason": "Running", "message": "running: fetch", "progress": "0/3",
        "pipelineSpec": ci(),
        "tasks": [{"name": "fetch", "taskRuns": ["ci-1-fetch"], "state": "Running"},
                  {"name": "test", "state": "Pending", "message": "waiting for fetch"},
                  {"name": "report", "state": "Pending", "finally": true, "message": "waiting for every task to end"}]}});
    api.patch_status("ci-1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();

    let runs = ok(&task_in(&ns, &["runs", "pipelineruns"]));
    let header: Vec<&str> = runs.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "PIPELINE", "STATUS", "REASON", "TASKS", "STARTED", "DURATION"]
    );
    assert!(
        runs.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(5)
            .eq(["ci-1", "ci", "Running", "Running", "0/3"]),
        "{runs}"
    );
    let names = ok(&task_in(&ns, &["runs", "plr", "-o", "name"]));
    assert_eq!(names.trim(), "pipelinerun.minitask.dev/ci-1");

    let describe = ok(&task_in(&ns, &["describe", "pipelinerun/ci-1"]));
    assert!(describe.contains("Pipeline:  ci"), "{describe}");
    assert!(describe.contains("test     Pending   -          fetch"), "{describe}");
    assert!(
        describe.contains("report   Pending   -          (finally)"),
        "{describe}"
    );
    let same = ok(&task_in(&ns, &["describe", "ci-1"]));
    assert_eq!(
        same.lines().next(),
        describe.lines().next(),
        "a bare name finds the PipelineRun"
    );
    let pipeline = ok(&task_in(&ns, &["describe", "pipeline/ci"]));
    assert!(
        pipeline.contains("Start it with `kubectl task start pipeline/ci`"),
        "{pipeline}"
    );
    assert!(
        pipeline.contains("fetch       '$(params.ref)' != ''"),
        "the when as written: {pipeline}"
    );
    assert!(pipeline.contains("$(tasks.status) notin [Failed]"), "{pipeline}");

    let logs = task_in(&ns, &["logs", "plr/ci-1"]);
    assert!(logs.status.success(), "{}", text(&logs.stderr));
    let sidecar = error(&task_in(&ns, &["logs", "plr/ci-1", "--sidecar", "db"]));
    assert!(
        sidecar.contains("--sidecar reads one TaskRun's sidecar: add --task TASK"),
        "{sidecar}"
    );

    let stderr = error(&task_in(&ns, &["delete", "pipelinerun/ci-1"]));
    assert!(stderr.contains("have not finished: ci-1"), "{stderr}");
    let cancelled = ok(&task_in(&ns, &["cancel", "pipelinerun/ci-1"]));
    assert_eq!(cancelled.trim(), "pipelinerun.minitask.dev/ci-1 cancelled");
    assert!(api.get("ci-1").await.unwrap().spec.cancelled);
    let deleted = ok(&task_in(&ns, &["delete", "pipelinerun/ci-1", "--force"]));
    assert_eq!(deleted.trim(), "pipelinerun.minitask.dev/ci-1 deleted");
}

/// `delete --task clone --keep N` selects the TaskRuns of pipelines too:
/// those whose PipelineRun still runs are kept (a later task may need
/// their results), a name is refused, and once the PipelineRun has ended
/// they go like any other.
#[tokio::test]
async fn delete_keeps_the_taskruns_of_pipelineruns_that_have_not_finished() {
    let (client, ns) = world("cli-pl-delete").await;
    create_ci(&client, &ns).await;
    let api = Api::<PipelineRun>::namespaced(client.clone(), &ns);
    let run: PipelineRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun", "metadata": {"name": "ci-1"},
        "spec": {"pipelineRef": {"name": "ci"}},
    }))
    .unwrap();
    let run = api.create(&PostParams::default(), &run).await.unwrap();
    let running = json!({"status": {"phase": "Running", "reason": "Running"}});
    api.patch_status("ci-1", &PatchParams::default(), &Patch::Merge(&running))
        .await
        .unwrap();
    let owner = json!([{"apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun", "name": "ci-1",
                        "uid": run.metadata.uid.unwrap(), "controller": true}]);
    let taskruns = Api::<minitask_api::TaskRun>::namespaced(client.clone(), &ns);
    for (name, owners) in [("ci-1-fetch", owner.clone()), ("alone", json!([]))] {
        let child: minitask_api::TaskRun = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": name, "labels": {"minitask.dev/task": "git"}, "ownerReferences": owners},
            "spec": {"taskRef": {"name": "git"}},
        }))
        .unwrap();
        taskruns.create(&PostParams::default(), &child).await.unwrap();
        crate::set_status(&client, &ns, name, json!({"phase": "Succeeded", "reason": "Succeeded"})).await;
    }

    let out = task_in(&ns, &["delete", "--task", "git"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "taskrun.minitask.dev/alone deleted\n");
    assert!(
        text(&out.stderr)
            .contains("Keeping 1 TaskRun of PipelineRuns, which go with their PipelineRun: ci-1-fetch (of ci-1)"),
        "{}",
        text(&out.stderr)
    );
    let stderr = error(&task_in(&ns, &["delete", "ci-1-fetch"]));
    assert!(
        stderr.contains("ci-1-fetch (of ci-1)") && stderr.contains("--force"),
        "{stderr}"
    );

    // Ended, the PipelineRun still holds its TaskRuns for bulk deletes
    // (its logs are theirs); by name, one may go; --dry-run deletes nothing.
    let ended = json!({"status": {"phase": "Succeeded", "reason": "Succeeded"}});
    api.patch_status("ci-1", &PatchParams::default(), &Patch::Merge(&ended))
        .await
        .unwrap();
    let out = task_in(&ns, &["delete", "--all"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    assert_eq!(
        ok(&task_in(&ns, &["delete", "ci-1-fetch", "--dry-run"])),
        "taskrun.minitask.dev/ci-1-fetch deleted (dry run)\n"
    );
    assert_eq!(
        ok(&task_in(&ns, &["delete", "ci-1-fetch"])),
        "taskrun.minitask.dev/ci-1-fetch deleted\n"
    );
}

/// What would only fail once running is refused by `start`, before
/// anything is created: a Task the Pipeline names that does not exist, an
/// emptyDir shared by tasks, a ConfigMap, Secret or claim that does not
/// exist; and a namespace that does not exist is named as such.
#[tokio::test]
async fn start_refuses_what_would_only_fail_once_running() {
    let (client, ns) = world("cli-preflight").await;
    create_task(&client, &ns, "hello").await;
    create_pipeline(
        &client,
        &ns,
        "typo",
        json!({"tasks": [{"name": "greet", "taskRef": {"name": "helo"}}]}),
    )
    .await;
    let stderr = error(&task_in(&ns, &["start", "pipeline/typo"]));
    assert!(
        stderr.contains(
            "Pipeline typo cannot run: task \"greet\" names Task \"helo\", which does not exist in namespace"
        ) && stderr.contains("(did you mean \"hello\"?)"),
        "{stderr}"
    );

    create_task_with_workspace(&client, &ns, "t").await;
    create_pipeline(
        &client,
        &ns,
        "build-and-test",
        json!({"workspaces": [{"name": "source"}], "tasks": [
            {"name": "build", "taskRef": {"name": "t"}, "workspaces": [{"name": "src", "workspace": "source"}]},
            {"name": "test", "taskRef": {"name": "t"}, "runAfter": ["build"], "workspaces": [{"name": "src", "workspace": "source"}]},
        ]}),
    )
    .await;
    let stderr = error(&task_in(
        &ns,
        &["start", "pipeline/build-and-test", "-w", "source=emptyDir"],
    ));
    assert!(
        stderr.contains("workspace \"source\" is an emptyDir but 2 tasks use it"),
        "{stderr}"
    );
    let stderr = error(&task_in(
        &ns,
        &["start", "pipeline/build-and-test", "-w", "source=pvc:nope"],
    ));
    assert!(
        stderr.contains("workspace \"source\": PersistentVolumeClaim \"nope\" does not exist in namespace"),
        "{stderr}"
    );
    for (flag, kind) in [("input=configmap:nope", "ConfigMap"), ("input=secret:nope", "Secret")] {
        let stderr = error(&task_in(&ns, &["start", "t", "-w", flag]));
        assert!(
            stderr.contains(&format!(
                "workspace \"input\": {kind} \"nope\" does not exist in namespace {ns}"
            )),
            "{stderr}"
        );
    }
    assert!(pipelineruns(&client, &ns).await.is_empty());
    assert!(crate::runs(&client, &ns).await.is_empty());

    // One that exists is taken.
    let config: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "words"}, "data": {"a": "b"}})).unwrap();
    Api::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &config)
        .await
        .unwrap();
    ok(&task_in(&ns, &["start", "t", "-w", "input=configmap:words"]));

    // A namespace that does not exist is named as such, with where the
    // Task does exist.
    create_task(&client, &ns, "only-here").await;
    let stderr = error(&task_in(&format!("{ns}-nope"), &["start", "only-here"]));
    assert!(
        stderr.contains(&format!(
            "namespace \"{ns}-nope\" does not exist; only-here exists in {ns} (-n {ns})"
        )),
        "{stderr}"
    );
}

async fn create_task_with_workspace(client: &Client, ns: &str, name: &str) {
    crate::create_task_with(
        client,
        ns,
        name,
        json!({"workspaces": [{"name": "src", "optional": true}, {"name": "input", "optional": true}],
               "steps": [{"name": "a", "image": "busybox", "script": "true"}]}),
    )
    .await;
}

/// `start pipeline/X --last` and `--use-pipelinerun RUN` run it again as
/// that run ran; flags given win.
#[tokio::test]
async fn start_repeats_a_pipelinerun() {
    let (client, ns) = world("cli-pl-last").await;
    create_ci(&client, &ns).await;
    let first = ok(&task_in(
        &ns,
        &[
            "start",
            "pipeline/ci",
            "-p",
            "repo=git://a",
            "-p",
            "ref=dev",
            "-w",
            "src=volumeClaimTemplate:2Gi",
            "--timeout",
            "20m",
            "-o",
            "name",
        ],
    ));
    let first = first.trim().rsplit('/').next().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ok(&task_in(&ns, &["start", "pipeline/ci", "--last", "-p", "ref=main"]));
    ok(&task_in(&ns, &["start", "pipeline/ci", "--use-pipelinerun", &first]));
    let runs = pipelineruns(&client, &ns).await;
    assert_eq!(runs.len(), 3);
    let value = |run: &minitask_api::PipelineRun, name: &str| {
        let param = run.spec.params.iter().find(|p| p.name == name).unwrap();
        serde_json::to_value(&param.value).unwrap()
    };
    let mut refs = Vec::new();
    for run in runs
        .iter()
        .filter(|r| r.metadata.name.as_deref() != Some(first.as_str()))
    {
        assert_eq!(value(run, "repo"), json!("git://a"));
        assert!(run.spec.workspaces[0].volume_claim_template.is_some());
        assert_eq!(run.spec.timeouts.as_ref().unwrap().pipeline.as_deref(), Some("20m"));
        refs.push(value(run, "ref"));
    }
    refs.sort_by_key(|r| r.to_string());
    assert_eq!(
        refs,
        [json!("dev"), json!("main")],
        "--use-pipelinerun keeps dev; --last -p ref=main"
    );
    let stderr = error(&task_in(&ns, &["start", "t", "--use-pipelinerun", &first]));
    assert!(stderr.contains("--use-pipelinerun applies to Pipelines"), "{stderr}");
}

/// Creates PipelineRun `name` of `ci`, Running, its status listing tasks.
async fn running_ci(client: &Client, ns: &str, name: &str) {
    let run: PipelineRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun", "metadata": {"name": name},
        "spec": {"pipelineRef": {"name": "ci"}, "params": [{"name": "repo", "value": "git://x"}]},
    }))
    .unwrap();
    let api = Api::<PipelineRun>::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &run).await.unwrap();
    let status = json!({"status": {"phase": "Running", "reason": "Running", "message": "running: fetch", "progress": "0/3",
        "pipelineSpec": ci(), "tasks": [{"name": "fetch", "state": "Pending"}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// tkn's habits for PipelineRuns: `--last --pipeline X` and `pipelinerun
/// --last` pick the newest; `--task` picks a task of a PipelineRun; a flag
/// that does not apply is refused, never ignored; `runs pipelineruns -w`
/// watches, its rows under the header's columns.
#[tokio::test]
async fn pipelineruns_answer_tkn_habits() {
    let (client, ns) = world("cli-pl-habits").await;
    create_ci(&client, &ns).await;
    running_ci(&client, &ns, "ci-1").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    running_ci(&client, &ns, "ci-2").await;
    for args in [
        vec!["describe", "--last", "--pipeline", "ci"],
        vec!["describe", "pipelinerun", "--last"],
    ] {
        let shown = ok(&task_in(&ns, &args));
        assert!(shown.lines().next().unwrap().contains("ci-2"), "{args:?}: {shown}");
    }
    let stderr = error(&task_in(&ns, &["logs", "--last", "--pipeline", "ci", "--task", "fetc"]));
    assert!(
        stderr.contains("pipelinerun ci-2 has no task \"fetc\" (did you mean \"fetch\"?)"),
        "{stderr}"
    );
    ok(&task_in(
        &ns,
        &["logs", "pipelinerun/ci-1", "--task", "fetch", "--step", "a"],
    ));
    for (args, said) in [
        (
            vec!["logs", "plr/ci-1", "--attempt", "1"],
            "--attempt applies to a TaskRun",
        ),
        (vec!["runs", "pipelineruns", "--task", "git"], "--task lists taskruns"),
        (
            vec!["describe", "taskrun", "--last", "--pipeline", "ci"],
            "--pipeline picks a PipelineRun",
        ),
    ] {
        let stderr = error(&task_in(&ns, &args));
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
    crate::create_run(&client, &ns, "git-1", "git").await;
    let stderr = error(&task_in(&ns, &["logs", "git-1", "--task", "fetch"]));
    assert!(stderr.contains("--task applies to PipelineRuns"), "{stderr}");

    // -w: the list, then a row per change, aligned with the header.
    let mut watch = std::process::Command::new(crate::PLUGIN)
        .args(["runs", "pipelineruns", "-w", "-n", &ns])
        .env("KUBECONFIG", &minitask_testenv::ControlPlane::shared().kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (line, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for read in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(read) = read else { break };
            if line.send(read).is_err() {
                break;
            }
        }
    });
    let next = || {
        lines
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("a line within 20s")
    };
    let header = next();
    assert!(header.starts_with("NAME"), "{header}");
    for _ in 0..2 {
        next();
    }
    let done = json!({"status": {"phase": "Succeeded", "reason": "Succeeded", "message": "all 3 tasks succeeded", "progress": "3/3"}});
    Api::<PipelineRun>::namespaced(client.clone(), &ns)
        .patch_status("ci-1", &PatchParams::default(), &Patch::Merge(&done))
        .await
        .unwrap();
    let row = next();
    crate::signal(&watch, "TERM");
    let _ = watch.wait();
    assert!(row.starts_with("ci-1") && row.contains("Succeeded"), "{row}");
    for column in ["PIPELINE", "STATUS", "REASON", "TASKS"] {
        let at = header.find(column).unwrap();
        assert!(
            at > 0 && row.as_bytes()[at - 1] == b' ' && row.as_bytes()[at] != b' ',
            "column {column} at {at}:\n{header}\n{row}"
        );
    }
}
