//! End-to-end: real containers on a real kubelet, with the controller
//! deployed in the cluster from its image. Run by `cargo xtask e2e` (which
//! passes `--ignored`) against $KUBECONFIG; a plain `cargo test` lists these
//! as ignored because they need that cluster.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use minitask_api::{Phase, TaskRun};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

mod archive;
mod cluster_tasks;
mod dashboard;
mod import;
mod launcher;
mod pipelines;
mod sidecars;
mod triggers;

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-task");

/// A namespace for one test, deleted when the test ends.
struct Namespaced {
    client: Client,
    ns: String,
}

impl Namespaced {
    async fn new(name: &str) -> Namespaced {
        Namespaced::with_labels(name, json!({})).await
    }

    /// A namespace with these labels (Pod Security, for one).
    async fn with_labels(name: &str, labels: serde_json::Value) -> Namespaced {
        let client = Client::try_default().await.expect("a cluster in $KUBECONFIG");
        let ns = format!("e2e-{name}-{}", std::process::id());
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns, "labels": labels}})).unwrap();
        Api::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("create namespace");
        // Pods need the namespace's default ServiceAccount, which
        // kube-controller-manager adds a moment after the namespace.
        let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), &ns);
        for _ in 0..100 {
            if accounts.get_opt("default").await.ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Namespaced { client, ns }
    }

    /// `kubectl <args> -n <ns>`, with the plugin on PATH so that kubectl's
    /// plugin discovery finds `kubectl task`.
    fn kubectl(&self, args: &[&str]) -> Output {
        let plugin_dir = Path::new(PLUGIN).parent().unwrap();
        let path = format!("{}:{}", plugin_dir.display(), std::env::var("PATH").unwrap_or_default());
        Command::new("kubectl")
            .args(args)
            .args(["-n", &self.ns])
            .env("PATH", path)
            .output()
            .expect("kubectl runs")
    }

    fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `kubectl exec` of `command` in a container of `pod`.
    fn exec(&self, pod: &str, container: &str, command: &[&str]) -> String {
        let mut args = vec!["exec", pod, "-n", &self.ns, "-c", container, "--"];
        args.extend(command);
        let out = Command::new("kubectl").args(&args).output().expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn apply(&self, yaml: &str) {
        let file = std::env::temp_dir().join(format!("{}-{}.yaml", self.ns, yaml.len()));
        std::fs::write(&file, yaml).unwrap();
        self.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    }

    fn sample(&self, name: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/samples")
            .join(name);
        self.apply(&std::fs::read_to_string(path).unwrap());
    }

    /// `kubectl task start <task>` through kubectl; returns the run's name.
    fn start(&self, task: &str) -> String {
        self.start_with(&[task])
    }

    /// `kubectl task start` with these arguments; returns the run's name.
    fn start_with(&self, args: &[&str]) -> String {
        let mut all = vec!["task", "start"];
        all.extend(args);
        let out = self.kubectl_ok(&all);
        let name = out
            .trim()
            .strip_prefix("taskrun.minitask.dev/")
            .and_then(|s| s.strip_suffix(" created"));
        name.unwrap_or_else(|| panic!("unexpected output {out:?}")).to_string()
    }

    /// Waits (with `kubectl wait`) until the run reaches `phase`.
    async fn finish(&self, run: &str, phase: Phase) -> TaskRun {
        let condition = format!("--for=jsonpath={{.status.phase}}={phase:?}");
        self.kubectl_ok(&["wait", &condition, &format!("taskrun/{run}"), "--timeout=180s"]);
        Api::<TaskRun>::namespaced(self.client.clone(), &self.ns)
            .get(run)
            .await
            .unwrap()
    }

    async fn logs(&self, pod: &str, container: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let params = LogParams {
            container: Some(container.into()),
            ..LogParams::default()
        };
        pods.logs(pod, &params)
            .await
            .unwrap_or_else(|e| panic!("logs of {pod}/{container}: {e}"))
    }

    async fn cleanup(self) {
        let _ = Api::<Namespace>::all(self.client)
            .delete(&self.ns, &DeleteParams::background())
            .await;
    }
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn the_hello_sample_runs_its_steps_in_order_and_shares_files() {
    let t = Namespaced::new("hello").await;
    t.sample("hello.yaml");
    let run = t.start("hello");
    t.kubectl_ok(&[
        "wait",
        "--for=condition=Succeeded",
        &format!("taskrun/{run}"),
        "--timeout=180s",
    ]);
    let done = t.finish(&run, Phase::Succeeded).await;
    let status = done.status.unwrap();
    let pod = status.pod_name.unwrap();

    let first = t.logs(&pod, "step-hello").await;
    let second = t.logs(&pod, "step-goodbye").await;
    assert!(first.starts_with("hello from "), "{first:?}");
    // The second step read the file the first one wrote in /workspace.
    assert_eq!(second, "the first step said: hello\ngoodbye\n");
    let (a, b) = (
        status.steps[0].terminated.clone().unwrap(),
        status.steps[1].terminated.clone().unwrap(),
    );
    assert!(a.finished_at <= b.started_at, "steps ran in order: {a:?} then {b:?}");

    let table = t.kubectl_ok(&["get", "taskruns"]);
    let row = table
        .lines()
        .find(|l| l.starts_with(&run))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("hello") && row.contains("Succeeded"), "{table}");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_failing_step_fails_the_run_and_later_steps_never_run() {
    let t = Namespaced::new("failing").await;
    t.sample("failing.yaml");
    let run = t.start("failing");
    let failed = t.finish(&run, Phase::Failed).await.status.unwrap();
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"));
    assert!(
        failed
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("step \"break\" failed with exit code 3")
    );
    assert_eq!(failed.steps[0].terminated.as_ref().unwrap().exit_code, 0);
    assert_eq!(failed.steps[1].terminated.as_ref().unwrap().exit_code, 3);
    let never = &failed.steps[2];
    assert!(never.terminated.is_none() && never.running.is_none(), "{never:?}");
    assert_eq!(
        t.logs(failed.pod_name.as_deref().unwrap(), "step-break").await,
        "about to fail\n"
    );
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn scripts_reach_the_shell_byte_for_byte() {
    let t = Namespaced::new("script").await;
    // The script prints itself, then runs a quoted heredoc and uses $$: the
    // output is exact only if the shell got every byte as written.
    let script = "#!/bin/sh\ncat \"$0\"\ncat <<'EOF'\nliteral $(HOME) $$ 'single' \"double\" `tick`\nEOF\nprintf '%s\\n' \"pid:$(echo $$ | grep -c '^[0-9][0-9]*$') home:$HOME\"\n";
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "exact"},
        "spec": {"steps": [{"name": "exact", "image": "busybox", "script": script}]}
    });
    t.apply(&task.to_string());
    let run = t.start("exact");
    let done = t.finish(&run, Phase::Succeeded).await.status.unwrap();
    let output = t.logs(done.pod_name.as_deref().unwrap(), "step-exact").await;
    let want = format!("{script}literal $(HOME) $$ 'single' \"double\" `tick`\npid:1 home:/root\n");
    assert_eq!(output, want);
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn the_controller_runs_in_the_cluster_from_its_image() {
    let client = Client::try_default().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "minitask-system");
    let list = pods
        .list(&kube::api::ListParams::default().labels("app.kubernetes.io/name=minitask-controller"))
        .await
        .unwrap();
    let running: Vec<_> = list
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect();
    // Two replicas share the shards; the failover test may be replacing
    // one of them right now, so the Deployment says how many there are.
    assert!(!running.is_empty(), "no controller pod is running");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(Client::try_default().await.unwrap(), "minitask-system");
    let deployment = deployments.get("minitask-controller").await.unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(2));
    let spec = running[0].spec.as_ref().unwrap();
    assert_eq!(spec.service_account_name.as_deref(), Some("minitask-controller"));
    assert_eq!(spec.security_context.as_ref().unwrap().run_as_non_root, Some(true));
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn cancelling_stops_the_steps_and_keeps_the_pod_and_its_logs() {
    let t = Namespaced::new("cancel").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "long"},
        "spec": {"steps": [{"name": "wait", "image": "busybox", "script": "echo started\nsleep 300\necho never"}]}
    });
    t.apply(&task.to_string());
    let run = t.start("long");
    t.finish(&run, Phase::Running).await;
    let pod = format!("{run}-pod");
    // Wait until the step has printed, then cancel.
    for _ in 0..100 {
        if t.logs(&pod, "step-wait").await.contains("started") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let said = t.kubectl_ok(&["task", "cancel", &run]);
    assert_eq!(said, format!("taskrun.minitask.dev/{run} cancelled\n"));
    let cancelled = t.finish(&run, Phase::Failed).await.status.unwrap();
    assert_eq!(cancelled.reason.as_deref(), Some("Cancelled"));
    // The kubelet stops the container; the pod and its log stay.
    t.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Failed",
        &format!("pod/{pod}"),
        "--timeout=60s",
    ]);
    assert_eq!(t.kubectl_ok(&["logs", &pod, "-c", "step-wait"]), "started\n");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_run_that_never_starts_times_out_and_says_why() {
    let t = Namespaced::new("timeout").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "unpullable"},
        "spec": {"steps": [{"name": "a", "image": "registry.invalid/minitask/no-such-image:1", "script": "true"}]}
    });
    t.apply(&task.to_string());
    let run = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": "unpullable-1"},
        "spec": {"taskRef": {"name": "unpullable"}, "timeout": "20s"}
    });
    t.apply(&run.to_string());
    let failed = t.finish("unpullable-1", Phase::Failed).await.status.unwrap();
    assert_eq!(failed.reason.as_deref(), Some("Timeout"));
    let message = failed.message.unwrap_or_default();
    assert!(message.contains("still pending: step \"a\" is waiting:"), "{message}");
    assert!(
        message.contains("ImagePull") || message.contains("ErrImage"),
        "{message}"
    );
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn params_reach_steps_as_data_and_arrays_as_arguments() {
    let t = Namespaced::new("params").await;
    t.sample("params.yaml");
    // The sample's run passes a value that would inject a command if it
    // were pasted into the script; as an environment variable it is data.
    let done = t.finish("greet-team", Phase::Succeeded).await.status.unwrap();
    let pod = done.pod_name.unwrap();
    assert_eq!(t.logs(&pod, "step-greet").await, "hello the team; echo injected\n");
    assert_eq!(
        t.logs(&pod, "step-team").await,
        "member: linus\nmember: margaret hamilton\n"
    );
    // Started without params, the defaults apply.
    let run = t.start("greet");
    let done = t.finish(&run, Phase::Succeeded).await.status.unwrap();
    let pod = done.pod_name.unwrap();
    assert_eq!(t.logs(&pod, "step-greet").await, "hello world\n");
    assert_eq!(t.logs(&pod, "step-team").await, "member: ada\nmember: grace\n");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn results_written_by_steps_are_reported_and_oversized_ones_fail() {
    let t = Namespaced::new("results").await;
    t.sample("results.yaml");
    let run = t.start("build-info");
    let done = t.finish(&run, Phase::Succeeded).await.status.unwrap();
    let results: Vec<(String, String)> = done.results.into_iter().map(|r| (r.name, r.value)).collect();
    assert_eq!(results[0], ("version".to_string(), "1.4.2".to_string()));
    assert_eq!(results[1].0, "checksum");
    assert_eq!(results[1].1.len(), 64, "{results:?}");

    let run = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": "too-large"},
        "spec": {"taskSpec": {
            "results": [{"name": "blob"}],
            "steps": [{"name": "write", "image": "busybox", "script": "head -c 9000 /dev/zero | tr '\\0' x > $(results.blob.path)"}],
        }}
    });
    t.apply(&run.to_string());
    let failed = t.finish("too-large", Phase::Failed).await.status.unwrap();
    assert_eq!(failed.reason.as_deref(), Some("ResultsTooLarge"));
    assert!(failed.message.unwrap().contains("blob is 9000 bytes"));
    assert!(failed.results.is_empty(), "nothing is reported truncated");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn workspaces_bind_a_config_map_and_scratch_space_shared_by_the_steps() {
    let t = Namespaced::new("workspaces").await;
    t.sample("workspaces.yaml");
    let done = t.finish("count-words-example", Phase::Succeeded).await.status.unwrap();
    let pod = done.pod_name.unwrap();
    // The second step counts the file the first copied from the ConfigMap,
    // as the user the pod template asked for.
    assert_eq!(t.logs(&pod, "step-count").await, "running as uid 1000\n5\n");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_step_may_fail_and_continue_and_a_failed_attempt_is_retried() {
    let t = Namespaced::new("retries").await;
    t.sample("retries-and-on-error.yaml");
    let run = t.start("lint-and-test");
    let done = t.finish(&run, Phase::Succeeded).await.status.unwrap();
    let lint = done.steps[0].terminated.clone().unwrap();
    assert_eq!((lint.exit_code, lint.reason.as_deref()), (3, Some("Continued")));
    let pod = done.pod_name.unwrap();
    assert_eq!(t.logs(&pod, "step-lint").await, "lint: 2 warnings\n");
    assert_eq!(t.logs(&pod, "step-test").await, "tests passed\n");

    let flaky = t.finish("flaky-example", Phase::Succeeded).await.status.unwrap();
    assert_eq!(flaky.pod_name.as_deref(), Some("flaky-example-pod-retry1"));
    assert_eq!(flaky.retries_status.len(), 1);
    assert_eq!(flaky.retries_status[0].reason, "StepFailed");
    assert_eq!(
        t.logs("flaky-example-pod", "step-try").await,
        "first attempt: failing\n",
        "the failed attempt's pod and logs are kept"
    );
    assert_eq!(
        t.logs("flaky-example-pod-retry1", "step-try").await,
        "a retry: success\n"
    );
    // `kubectl task logs` shows every attempt, the earlier one labelled.
    let logs = t.kubectl_ok(&["task", "logs", "flaky-example"]);
    assert_eq!(
        logs,
        "--- attempt 1 (pod flaky-example-pod, StepFailed) ---\n[try] first attempt: failing\n--- attempt 2 (pod flaky-example-pod-retry1) ---\n[try] a retry: success\n"
    );
    let only = t.kubectl_ok(&["task", "logs", "flaky-example", "--attempt", "1"]);
    assert_eq!(
        only,
        "--- attempt 1 (pod flaky-example-pod, StepFailed) ---\n[try] first attempt: failing\n"
    );
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn start_follow_streams_every_step_in_order_and_exits_with_the_outcome() {
    let t = Namespaced::new("follow").await;
    t.sample("hello.yaml");
    t.sample("failing.yaml");
    let out = t.kubectl(&["task", "start", "hello", "-f"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout} {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let run = lines[0]
        .strip_prefix("taskrun.minitask.dev/")
        .and_then(|l| l.strip_suffix(" created"))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_string();
    assert!(lines[1].starts_with("[hello] hello from "), "{stdout} {stderr}");
    assert_eq!(
        lines[2..],
        ["[goodbye] the first step said: hello", "[goodbye] goodbye"],
        "{stdout} {stderr}"
    );
    // The same logs, after the run, through `logs`.
    let logs = t.kubectl_ok(&["task", "logs", &run]);
    assert_eq!(logs, lines[1..].join("\n") + "\n");
    let only = t.kubectl_ok(&["task", "logs", &run, "--step", "goodbye"]);
    assert_eq!(only, "[goodbye] the first step said: hello\n[goodbye] goodbye\n");
    let stamped = t.kubectl_ok(&["task", "logs", &run, "--step", "goodbye", "--timestamps", "--tail", "1"]);
    assert!(
        stamped.starts_with("[goodbye] 20") && stamped.ends_with("Z goodbye\n") && stamped.lines().count() == 1,
        "{stamped}"
    );

    let out = t.kubectl(&["task", "start", "failing", "-f"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout} {stderr}");
    assert!(
        stdout.contains("[prepare] preparing\n[break] about to fail\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("[never]"), "{stdout}");
    assert_eq!(stderr.matches("failed (StepFailed)").count(), 1, "said once: {stderr}");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_run_completes_when_the_replica_holding_its_shard_is_deleted() {
    use k8s_openapi::api::coordination::v1::Lease;
    let t = Namespaced::new("failover").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "steady"},
        "spec": {"steps": [{"name": "a", "image": "busybox", "script": "echo begin\nsleep 20\necho end"}]}
    });
    t.apply(&task.to_string());
    let run = t.start("steady");
    t.finish(&run, Phase::Running).await;
    // The deployed controller runs --shards=4 (deploy/controller/deployment.yaml);
    // the run's shard is FNV-1a-64("namespace/name") mod 4.
    let shard = minitask_api::fnv1a(format!("{}/{run}", t.ns).as_bytes()) % 4;
    let leases: Api<Lease> = Api::namespaced(t.client.clone(), "minitask-system");
    let lease = leases.get(&format!("minitask-controller-shard-{shard}")).await.unwrap();
    let holder = lease.spec.unwrap().holder_identity.unwrap();
    let pods: Api<Pod> = Api::namespaced(t.client.clone(), "minitask-system");
    pods.delete(&holder, &DeleteParams::default()).await.unwrap();
    let done = t.finish(&run, Phase::Succeeded).await.status.unwrap();
    let pod = done.pod_name.unwrap();
    assert_eq!(t.logs(&pod, "step-a").await, "begin\nend\n");
    let taken = leases.get(&format!("minitask-controller-shard-{shard}")).await.unwrap();
    assert_ne!(
        taken.spec.unwrap().holder_identity.unwrap(),
        holder,
        "another replica holds the shard"
    );
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_twenty_step_task_reports_four_kib_of_results_byte_for_byte() {
    let t = Namespaced::new("results-20").await;
    // 20 steps and the reporter: the kubelet leaves each container 585
    // bytes of termination message, so the report comes from the log.
    let mut steps: Vec<serde_json::Value> = (1..20)
        .map(|i| json!({"name": format!("s{i}"), "image": "busybox", "script": "true"}))
        .collect();
    steps.push(json!({"name": "write", "image": "busybox",
        "script": "seq 1 2000 | head -c 4096 > $(results.numbers.path)\nprintf 'ok' > $(results.flag.path)"}));
    let run = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": "twenty"},
        "spec": {"taskSpec": {"results": [{"name": "numbers"}, {"name": "flag"}], "steps": steps}}
    });
    t.apply(&run.to_string());
    let done = t.finish("twenty", Phase::Succeeded).await.status.unwrap();
    let want: String = (1..=2000).map(|n| format!("{n}\n")).collect::<String>()[..4096].to_string();
    let results: Vec<(String, String)> = done.results.into_iter().map(|r| (r.name, r.value)).collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0].0, "numbers");
    assert_eq!(results[0].1.len(), 4096);
    assert!(
        results[0].1 == want,
        "the 4 KiB result differs from what the step wrote"
    );
    assert_eq!(results[1], ("flag".to_string(), "ok".to_string()));
    assert_eq!(done.steps.len(), 20);
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_sample_task_succeeds_in_a_namespace_that_enforces_pod_security_restricted() {
    let t = Namespaced::with_labels(
        "restricted",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    )
    .await;
    t.sample("restricted.yaml");
    let done = t.finish("locked-down-example", Phase::Succeeded).await.status.unwrap();
    assert_eq!(done.results[0].value, "1000", "the steps ran as the pod's user");

    // The same Task without the pod's security settings is refused by the
    // API server, and the run says so at once.
    let run = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": "unlocked"},
        "spec": {"taskRef": {"name": "locked-down"}}
    });
    t.apply(&run.to_string());
    let failed = t.finish("unlocked", Phase::Failed).await.status.unwrap();
    assert_eq!(failed.reason.as_deref(), Some("PodCreationFailed"));
    assert!(failed.message.unwrap().contains("violates PodSecurity"));
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn cancelling_a_followed_run_says_what_it_waits_for_and_ends_in_seconds() {
    let t = Namespaced::new("follow-cancel").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "stubborn"},
        "spec": {"steps": [{"name": "wait", "image": "busybox", "script": "echo started\nsleep 300"}, {"name": "after", "image": "busybox", "script": "true"}]}
    });
    t.apply(&task.to_string());
    let plugin_dir = Path::new(PLUGIN).parent().unwrap();
    let path = format!("{}:{}", plugin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let child = Command::new("kubectl")
        .args(["task", "start", "stubborn", "-f", "-n", &t.ns])
        .env("PATH", &path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let runs: Api<TaskRun> = Api::namespaced(t.client.clone(), &t.ns);
    let mut name = String::new();
    for _ in 0..300 {
        let list = runs.list(&Default::default()).await.unwrap().items;
        if let Some(run) = list.first().filter(|r| r.phase() == Phase::Running) {
            name = kube::ResourceExt::name_any(run);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let cancelled = std::time::Instant::now();
    t.kubectl_ok(&["task", "cancel", &name]);
    let out = child.wait_with_output().unwrap();
    let took = cancelled.elapsed();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout} {stderr}");
    assert!(stdout.contains("[wait] started"), "{stdout}");
    assert!(
        stderr
            .contains("cancelling: waiting for step \"wait\" to stop (up to 10s, the pod's termination grace period)"),
        "{stderr}"
    );
    assert!(took < std::time::Duration::from_secs(25), "the cancel took {took:?}");
    // The finished run shows how each step ended.
    let described = t.kubectl_ok(&["task", "describe", &name]);
    let wait = described.lines().find(|l| l.trim_start().starts_with("wait ")).unwrap();
    let after = described
        .lines()
        .find(|l| l.trim_start().starts_with("after "))
        .unwrap();
    assert!(wait.contains("Stopped"), "{described}");
    assert!(after.contains("Not run"), "{described}");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_later_step_that_cannot_pull_is_explained_with_when_the_run_gives_up() {
    let t = Namespaced::new("later-pull").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "two"},
        "spec": {"steps": [{"name": "first", "image": "busybox", "script": "echo one"},
                           {"name": "build", "image": "registry.invalid/minitask/nope:1", "script": "true"}]}
    });
    t.apply(&task.to_string());
    let plugin_dir = Path::new(PLUGIN).parent().unwrap();
    let path = format!("{}:{}", plugin_dir.display(), std::env::var("PATH").unwrap_or_default());
    // Off a terminal: a plain line on each change, never a silent wait.
    let child = Command::new("kubectl")
        .args(["task", "start", "two", "-f", "-n", &t.ns])
        .env("PATH", &path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(25)).await;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(String::from_utf8_lossy(&out.stdout).contains("[first] one"));
    let line = stderr
        .lines()
        .filter(|l| l.starts_with("step \"build\": ") && l.contains("ImagePull"))
        // The first line may come before the controller set the deadline;
        // the plugin turns the message's deadline into the time left.
        .find(|l| l.contains("the run fails in "))
        .unwrap_or_else(|| panic!("no line about the pull with the time left: {stderr}"));
    assert!(line.contains("registry.invalid"), "{line}");
    let runs: Api<TaskRun> = Api::namespaced(t.client.clone(), &t.ns);
    let run = runs.list(&Default::default()).await.unwrap().items.remove(0);
    let message = run.status.unwrap().message.unwrap();
    assert!(message.contains("the run fails at "), "{message}");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_command_that_does_not_exist_is_explained_in_the_runs_words() {
    let t = Namespaced::new("start-error").await;
    let run = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": "nosuch"},
        "spec": {"taskSpec": {"steps": [{"name": "a", "image": "busybox", "command": ["nosuchbinary"]}]}}
    });
    t.apply(&run.to_string());
    let failed = t.finish("nosuch", Phase::Failed).await.status.unwrap();
    let message = failed.message.unwrap();
    // The launcher's words: it could not run the command.
    assert!(
        message.contains("cannot run \"nosuchbinary\": No such file or directory") && message.contains("exit code 127"),
        "{message}"
    );
    let described = t.kubectl_ok(&["task", "describe", "nosuch"]);
    let row = described.lines().find(|l| l.trim_start().starts_with("a ")).unwrap();
    assert!(row.contains("Failed") && row.contains("nosuchbinary"), "{described}");
    assert!(
        !described.contains("1970") && !described.contains("17956"),
        "no 1970 times: {described}"
    );
    // The step's log says it too, in the launcher's words.
    let logs = t.kubectl_ok(&["task", "logs", "nosuch", "--timestamps", "--tail", "1"]);
    assert!(logs.contains("minitask: cannot run \"nosuchbinary\""), "{logs}");
    t.cleanup().await;
}
