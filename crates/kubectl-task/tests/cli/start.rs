//! `kubectl task start` and the global flags.

use crate::*;
use minitask_api::{LABEL_TASK, TaskRun};

#[tokio::test]
async fn start_creates_a_run_of_the_task_and_prints_its_name() {
    let (client, ns) = world("start").await;
    create_task(&client, &ns, "hello").await;
    let out = plugin(&["start", "hello", "-n", &ns], &ControlPlane::shared().kubeconfig);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let runs = runs(&client, &ns).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(run.name_any().starts_with("hello-run-"), "{}", run.name_any());
    assert_eq!(
        stdout.trim(),
        format!("taskrun.minitask.dev/{} created", run.name_any())
    );
    assert_eq!(run.task_name(), Some("hello"));
    assert_eq!(run.labels()[LABEL_TASK], "hello");
}

#[tokio::test]
async fn a_missing_task_is_an_error_naming_it_and_its_namespace() {
    let (client, ns) = world("missing").await;
    let out = plugin(&["start", "nope", "-n", &ns], &ControlPlane::shared().kubeconfig);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("Task \"nope\" not found in namespace {ns}")),
        "{stderr}"
    );
    assert!(runs(&client, &ns).await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn the_namespace_defaults_to_the_contexts() {
    let (client, ns) = world("context-ns").await;
    create_task(&client, &ns, "hello").await;
    let out = plugin(&["start", "hello"], &kubeconfig_in(&ns, "ns"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs(&client, &ns).await.len(), 1);
}

#[tokio::test]
async fn kubeconfig_and_context_flags_are_honoured() {
    let (client, ns) = world("flags").await;
    create_task(&client, &ns, "hello").await;
    let kubeconfig = kubeconfig_in(&ns, "flags");
    let bogus = std::env::temp_dir().join("minitask-cli-no-such-kubeconfig");
    let out = Command::new(PLUGIN)
        .args([
            "start",
            "hello",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--context",
            "test",
        ])
        .env("KUBECONFIG", &bogus)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs(&client, &ns).await.len(), 1);

    let out = plugin(&["start", "hello", "--context", "no-such-context"], &kubeconfig);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such-context"), "{}", text(&out.stderr));
    // The namespace exists, so the runs in it are ours to count.
    let _: Namespace = Api::all(client.clone()).get(&ns).await.unwrap();
}

#[tokio::test]
async fn kubectl_finds_the_plugin_on_path() {
    let (client, ns) = world("discovery").await;
    create_task(&client, &ns, "hello").await;
    let bin_dir = Path::new(PLUGIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("kubectl")
        .args(["task", "start", "hello", "-n", &ns])
        .env("PATH", path)
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .output()
        .expect("kubectl runs");
    assert!(out.status.success(), "{} {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("created"), "{}", text(&out.stdout));
    assert_eq!(runs(&client, &ns).await.len(), 1);
}

async fn params_task(client: &Client, ns: &str) {
    let spec = json!({
        "params": [{"name": "who", "default": "world"}, {"name": "files", "type": "array"}, {"name": "tag"}],
        "workspaces": [{"name": "src"}],
        "steps": [{"name": "a", "image": "busybox", "script": "echo hi"}],
    });
    create_task_with(client, ns, "build", spec).await;
}

#[tokio::test]
async fn start_flags_shape_the_run() {
    let (client, ns) = world("start-flags").await;
    params_task(&client, &ns).await;
    crate::create_claim(&client, &ns, "sources").await;
    let out = task_in(
        &ns,
        &[
            "start",
            "build",
            "-p",
            "tag=v1",
            "-p",
            "files=a,b",
            "-w",
            "src=pvc:sources",
            "-l",
            "team=x,tier=ci",
            "--prefix-name",
            "nightly-",
            "--timeout",
            "10m",
            "--serviceaccount",
            "builder",
            "-o",
            "json",
        ],
    );
    let printed: TaskRun = serde_json::from_str(&ok(&out)).expect("-o json is a TaskRun");
    let stored = &runs(&client, &ns).await[0];
    assert_eq!(printed.name_any(), stored.name_any());
    assert!(stored.name_any().starts_with("nightly-"), "{}", stored.name_any());
    let params = serde_json::to_value(&stored.spec.params).unwrap();
    assert_eq!(
        params,
        json!([{"name": "tag", "value": "v1"}, {"name": "files", "value": ["a", "b"]}])
    );
    assert_eq!(
        stored.spec.workspaces[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap()
            .claim_name,
        "sources"
    );
    assert_eq!(
        (stored.labels()["team"].as_str(), stored.labels()["tier"].as_str()),
        ("x", "ci")
    );
    assert_eq!(stored.labels()[LABEL_TASK], "build");
    assert_eq!(stored.spec.timeout, "10m");
    assert_eq!(stored.spec.service_account_name.as_deref(), Some("builder"));

    let out = task_in(
        &ns,
        &[
            "start",
            "build",
            "-p",
            "tag=v2",
            "-p",
            "files=",
            "-w",
            "src=emptyDir",
            "-o",
            "name",
        ],
    );
    let name = ok(&out);
    assert!(
        name.starts_with("taskrun.minitask.dev/build-run-") && name.ends_with('\n'),
        "{name}"
    );
}

#[tokio::test]
async fn missing_params_are_listed_without_a_terminal_and_nothing_is_created() {
    let (client, ns) = world("start-missing").await;
    params_task(&client, &ns).await;
    let out = task_in(&ns, &["start", "build"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: missing required params: files, tag; pass them with -p files=... -p tag=..."
    );
    let out = task_in(&ns, &["start", "build", "-p", "tag=1", "-p", "files=a", "-p", "typo=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown param \"typo\": the Task takes who, files, tag"));
    let out = task_in(
        &ns,
        &["start", "build", "-p", "tag=1", "-p", "files=a", "-w", "src=nfs:x"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected NAME=emptyDir, NAME=pvc:CLAIM"));
    let out = task_in(
        &ns,
        &[
            "start",
            "build",
            "-p",
            "tag=1",
            "-p",
            "files=a",
            "-w",
            "src=emptyDir",
            "--timeout",
            "soon",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--timeout: invalid duration \"soon\""),
        "{}",
        text(&out.stderr)
    );
    assert!(runs(&client, &ns).await.is_empty());
}

#[tokio::test]
async fn dry_run_prints_the_run_and_creates_nothing() {
    let (client, ns) = world("start-dry").await;
    create_task(&client, &ns, "hello").await;
    let yaml = ok(&task_in(&ns, &["start", "hello", "--dry-run"]));
    let run: TaskRun = serde_saphyr::from_str(&yaml).expect("YAML of a TaskRun");
    assert_eq!(run.task_name(), Some("hello"));
    let json = ok(&task_in(&ns, &["start", "hello", "--dry-run", "-o", "json"]));
    let run: TaskRun = serde_json::from_str(&json).expect("JSON of a TaskRun");
    assert_eq!(run.metadata.generate_name.as_deref(), Some("hello-run-"));
    assert!(runs(&client, &ns).await.is_empty());
}

#[tokio::test]
async fn api_validation_errors_are_shown_in_full() {
    let (client, ns) = world("start-invalid").await;
    create_task(&client, &ns, "hello").await;
    let out = task_in(&ns, &["start", "hello", "--prefix-name", "Not_Valid-"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: the API server refused the TaskRun: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("metadata.name") && stderr.contains("RFC 1123"),
        "{stderr}"
    );
}

#[tokio::test]
async fn wait_and_follow_exit_with_the_runs_outcome() {
    let (client, ns) = world("start-wait").await;
    create_task(&client, &ns, "hello").await;
    for (phase, code, flag) in [("Succeeded", 0, "--wait"), ("Failed", 1, "--wait"), ("Failed", 1, "-f")] {
        let child = Command::new(PLUGIN)
            .args(["start", "hello", flag, "-n", &ns])
            .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Play the controller: end the run the plugin just created.
        let run = minitask_testenv::eventually("the run", std::time::Duration::from_secs(20), || {
            let client = client.clone();
            let ns = ns.clone();
            async move { runs(&client, &ns).await.into_iter().find(|r| r.status.is_none()) }
        })
        .await;
        let status = json!({"phase": phase, "reason": "StepFailed", "message": "it ended"});
        set_status(&client, &ns, &run.name_any(), status).await;
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{phase} {flag}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        let said = match phase {
            "Succeeded" => format!("taskrun {} succeeded: it ended", run.name_any()),
            _ => format!("taskrun {} failed (StepFailed): it ended", run.name_any()),
        };
        assert_eq!(stderr.matches(&said).count(), 1, "said once: {stderr}");
    }
}

#[tokio::test]
async fn missing_params_are_asked_for_on_a_terminal() {
    let (client, ns) = world("start-prompt").await;
    params_task(&client, &ns).await;
    // `script` gives the plugin a terminal and types the answers: files,
    // then tag (who keeps its default with --use-param-defaults).
    let out = Command::new("bash")
        .args([
            "-c",
            "printf 'a, b \\nv9\\nemptyDir\\n' | script -qec \"$0 start build -n $1 --use-param-defaults\" /dev/null",
            PLUGIN,
            &ns,
        ])
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown} {}", text(&out.stderr));
    assert!(
        shown.contains("param files (comma-separated): ")
            && shown.contains("param tag: ")
            && shown.contains("workspace src [emptyDir, pvc:CLAIM, configmap:NAME, secret:NAME]: "),
        "{shown}"
    );
    assert!(!shown.contains("param who"), "{shown}");
    let run = &runs(&client, &ns).await[0];
    let params = serde_json::to_value(&run.spec.params).unwrap();
    assert_eq!(
        params,
        json!([{"name": "files", "value": ["a", "b"]}, {"name": "tag", "value": "v9"}])
    );
    assert!(
        run.spec.workspaces[0].empty_dir.is_some(),
        "the workspace was asked for"
    );
}
