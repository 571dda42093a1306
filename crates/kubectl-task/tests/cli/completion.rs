//! Completion, driven in a real bash: `kubectl-task <TAB>` through our
//! script, and `kubectl task <TAB>` through kubectl's own completion, which
//! asks `kubectl_complete-task` on the PATH.

use crate::*;

/// What bash offers for `line` (the cursor at its end), with our
/// completion script loaded.
fn complete_plugin(ns: &str, line: &str) -> Vec<String> {
    let script = format!(
        r#"source <(kubectl-task completion bash)
COMP_LINE='{line}'
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_kubectl_task
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let out = bash(&script.replace("NS", ns));
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Where the bash-completion package keeps the helpers kubectl's script
/// needs (`cargo xtask ci` installs it).
const BASH_COMPLETION: &str = "/usr/share/bash-completion/bash_completion";

/// What bash offers for `kubectl ...` with kubectl's completion loaded.
fn complete_kubectl(line: &str) -> Vec<String> {
    assert!(
        Path::new(BASH_COMPLETION).exists(),
        "kubectl's completion needs the bash-completion package: apt-get install bash-completion (cargo xtask ci installs it)"
    );
    let script = format!(
        r#"source {BASH_COMPLETION}
source <(kubectl completion bash)
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
__start_kubectl kubectl
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let out = bash(&script);
    text(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Lists each kind completion reads, without completion's time limit.
fn warm(ns: &str) {
    for args in [
        ["list", "tasks"],
        ["list", "pipelines"],
        ["runs", "taskruns"],
        ["runs", "pipelineruns"],
    ] {
        let out = task_in(ns, &args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
}

#[tokio::test]
async fn bash_completes_commands_flags_and_names_from_the_cluster() {
    let (client, ns) = world("complete").await;
    full_task(&client, &ns, "build").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "hello-1", "hello").await;

    let commands = complete_plugin(&ns, "kubectl-task ");
    for c in [
        "start",
        "list",
        "runs",
        "describe",
        "logs",
        "cancel",
        "delete",
        "completion",
        "version",
        "triggers",
        "trigger",
    ] {
        assert!(commands.contains(&c.to_string()), "{c} not in {commands:?}");
    }
    assert!(!commands.contains(&"__complete".to_string()));
    assert_eq!(complete_plugin(&ns, "kubectl-task sta"), ["start"]);
    let flags = complete_plugin(&ns, "kubectl-task start --f");
    assert!(flags.contains(&"--follow".to_string()), "{flags:?}");
    let flags = complete_plugin(&ns, "kubectl-task start --");
    for f in ["--param", "--workspace", "--timeout", "--namespace", "--context"] {
        assert!(flags.contains(&f.to_string()), "{f} not in {flags:?}");
    }
    // Completion gives the cluster one second (it must never hang a
    // shell); the first list of a kind on a freshly booted test control
    // plane can take longer (measured: 1.0 s, then 50 ms). Ordinary calls
    // first, so that the assertions below are about completion, not about
    // a cold API server.
    warm(&ns);
    assert_eq!(
        complete_plugin(&ns, &format!("kubectl-task start -n {ns} b")),
        ["build"]
    );
    assert_eq!(
        complete_plugin(&ns, &format!("kubectl-task logs -n {ns} hel")),
        ["hello-1"]
    );
    assert_eq!(
        complete_plugin(&ns, &format!("kubectl-task -n {ns} start build -p ")),
        ["who=", "files="]
    );
    // `-n NS` wherever it stands: before the Task, before the run.
    assert_eq!(
        complete_plugin(&ns, &format!("kubectl-task start -n {ns} build -p ")),
        ["who=", "files="]
    );
    let spec = json!({"taskSpec": {"steps": [{"name": "compile", "image": "busybox", "script": "true"},
                                                {"name": "push", "image": "busybox", "script": "true"}]}});
    set_status(&client, &ns, "hello-1", spec).await;
    for line in [
        format!("kubectl-task logs -n {ns} hello-1 --step "),
        format!("kubectl-task logs hello-1 -n {ns} --step "),
        format!("kubectl-task -n {ns} logs hello-1 --step "),
    ] {
        assert_eq!(complete_plugin(&ns, &line), ["compile", "push"], "{line}");
    }
    assert_eq!(complete_plugin(&ns, "kubectl-task runs -o js"), ["json", "jsonpath="]);
    assert_eq!(complete_plugin(&ns, "kubectl-task runs --context "), ["test"]);
    let namespaces = complete_plugin(&ns, "kubectl-task runs -n ");
    assert!(namespaces.contains(&ns), "{namespaces:?}");
    assert_eq!(complete_plugin(&ns, "kubectl-task completion z"), ["zsh"]);
    // Triggers: `trigger fire NAME`, `describe trigger/NAME`.
    let trigger = json!({"apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": "nightly"},
                         "spec": {"run": {"taskRef": {"name": "hello"}}, "schedule": {"cron": "@daily"}}});
    kube::Api::<minitask_api::Trigger>::namespaced(client.clone(), &ns)
        .create(&Default::default(), &serde_json::from_value(trigger).unwrap())
        .await
        .unwrap();
    assert_eq!(complete_plugin(&ns, "kubectl-task trigger "), ["fire"]);
    assert_eq!(
        complete_plugin(&ns, &format!("kubectl-task trigger fire -n {ns} ")),
        ["nightly"]
    );
    assert_eq!(
        complete_plugin(&ns, &format!("kubectl-task describe -n {ns} trigger/")),
        ["trigger/nightly"]
    );
}

#[tokio::test]
async fn kubectl_task_tab_completes_through_kubectl_complete_task() {
    let (client, ns) = world("complete-kubectl").await;
    create_task(&client, &ns, "hello").await;
    let commands = complete_kubectl("kubectl task ");
    assert!(
        commands.contains(&"start".to_string()) && commands.contains(&"logs".to_string()),
        "kubectl asks kubectl_complete-task: {commands:?}"
    );
    warm(&ns);
    let mut tasks = complete_kubectl(&format!("kubectl task start -n {ns} "));
    // ClusterTasks other tests publish come after: not this test's.
    tasks.retain(|t| !t.starts_with("clustertask/"));
    assert_eq!(tasks, ["hello"]);
}

#[test]
fn zsh_and_fish_scripts_ask_the_same_program() {
    for shell in ["zsh", "fish"] {
        let script = ok(&plugin(&["completion", shell], &ControlPlane::shared().kubeconfig));
        assert!(script.contains("kubectl-task __complete"), "{shell}: {script}");
    }
    let out = plugin(&["__complete", "sta"], &ControlPlane::shared().kubeconfig);
    assert_eq!(
        text(&out.stdout),
        "start\tStart a Task or a Pipeline (pipeline/NAME): create a run of it (and follow it with -f)\n:4\n"
    );
}
