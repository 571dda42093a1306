//! Errors a person can read: one line, what failed, on what, what to do;
//! never a Rust `Debug` dump. And mistakes refused before anything is
//! created.

use crate::*;

#[tokio::test]
async fn a_user_without_rights_gets_one_line_saying_what_to_ask_for() {
    let (client, ns) = world("forbidden").await;
    create_task(&client, &ns, "hello").await;
    let stderr = error(&task_as("nobody", &ns, &["runs"]));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: listing taskruns in namespace {ns}: forbidden: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains("User \"nobody\" cannot list resource \"taskruns\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("minitask-view") && stderr.contains("minitask-edit"),
        "{stderr}"
    );
    for args in [
        vec!["start", "hello"],
        vec!["describe", "x"],
        vec!["logs", "x"],
        vec!["list"],
    ] {
        let stderr = error(&task_as("nobody", &ns, &args));
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("forbidden"), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn a_bad_label_selector_is_one_readable_line() {
    let (_, ns) = world("selector").await;
    let stderr = error(&task_in(&ns, &["runs", "-l", "a b c"]));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: listing taskruns in namespace"), "{stderr}");
}

#[test]
fn kubeconfig_problems_name_the_file_once() {
    let dir = std::env::temp_dir().join(format!("minitask-cli-kubeconfigs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing");
    let out = plugin(&["runs", "--kubeconfig", missing.to_str().unwrap()], &missing);
    let stderr = error(&out);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: kubeconfig file {} does not exist; pass an existing file with --kubeconfig",
            missing.display()
        )
    );

    let broken = dir.join("broken");
    std::fs::write(&broken, "clusters: [this is: not a kubeconfig").unwrap();
    let stderr = error(&plugin(&["runs"], &broken));
    assert_eq!(stderr.matches(&broken.display().to_string()).count(), 1, "{stderr}");
    assert!(stderr.contains("is not valid"), "{stderr}");

    let stderr = error(&plugin(&["runs"], &missing));
    assert!(stderr.contains("none of the files in $KUBECONFIG"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn an_unknown_context_lists_the_ones_there_are() {
    let kubeconfig = &ControlPlane::shared().kubeconfig;
    let stderr = error(&plugin(&["runs", "--context", "nosuch"], kubeconfig));
    assert_eq!(
        stderr.trim(),
        format!(
            "error: context \"nosuch\" does not exist in $KUBECONFIG ({}); the contexts there are: test",
            kubeconfig.display()
        )
    );
}

#[test]
fn a_dead_server_is_named_with_what_to_check() {
    let dir = std::env::temp_dir().join(format!("minitask-cli-dead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dead = dir.join("kubeconfig");
    let real = std::fs::read_to_string(&ControlPlane::shared().kubeconfig).unwrap();
    let port = real
        .split("127.0.0.1:")
        .nth(1)
        .unwrap()
        .split('\n')
        .next()
        .unwrap()
        .to_string();
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &dead,
        real.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{free}")),
    )
    .unwrap();
    let stderr = error(&plugin(&["runs"], &dead));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the API server at https://127.0.0.1:{free}")),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("refused") && stderr.contains("cluster-info"),
        "{stderr}"
    );
    assert!(!stderr.contains("client error (Connect): client error"), "{stderr}");

    let out = plugin(&["version"], &dead);
    assert_eq!(
        out.status.code(),
        Some(2),
        "version fails when the cluster cannot be reached"
    );
    assert_eq!(
        text(&out.stdout),
        format!("kubectl-task {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = plugin(&["runs", "-v", "6"], &dead);
    assert!(
        text(&out.stderr).contains("caused by"),
        "-v shows the causes: {}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn names_that_are_almost_right_get_suggestions() {
    let (client, ns) = world("typos").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "hello-1", "hello").await;
    let stderr = error(&task_in(&ns, &["start", "helo"]));
    assert!(
        stderr.contains(&format!(
            "Task \"helo\" not found in namespace {ns} (did you mean \"hello\"?)"
        )),
        "{stderr}"
    );
    let stderr = error(&task_in(&ns, &["describe", "hello-2"]));
    assert!(stderr.contains("(did you mean \"hello-1\"?)"), "{stderr}");
    set_status(
        &client,
        &ns,
        "hello-1",
        json!({"phase": "Pending", "podName": "hello-1-pod", "steps": [{"name": "a", "container": "step-a"}]}),
    )
    .await;
    let stderr = error(&task_in(&ns, &["logs", "hello-1", "--step", "nosuch"]));
    assert!(
        stderr.contains("taskrun hello-1 has no step \"nosuch\"; its steps are a"),
        "{stderr}"
    );
}

#[tokio::test]
async fn flags_with_impossible_values_are_refused_clearly() {
    let (client, ns) = world("flag-values").await;
    create_task(&client, &ns, "hello").await;
    let stderr = error(&task_in(&ns, &["runs", "--limit", "0"]));
    assert!(stderr.contains("--limit") && stderr.contains("0"), "{stderr}");
    let stderr = error(&task_in(&ns, &["start", "hello", "--timeout", "0s"]));
    assert!(stderr.contains("--timeout 0s: must be more than 0s"), "{stderr}");
    let stderr = error(&task_in(&ns, &["start", "hello", "--timeout", "-5s"]));
    assert!(
        stderr.contains("--timeout -5s: a duration cannot be negative"),
        "{stderr}"
    );
    assert!(!stderr.contains("-- -5"), "no clap tip: {stderr}");
    let stderr = error(&task_in(&ns, &["start", "hello", "--ttl", "soon"]));
    assert!(stderr.contains("--ttl"), "{stderr}");
    assert!(runs(&client, &ns).await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn workspaces_are_checked_like_params_before_anything_is_created() {
    let (client, ns) = world("start-workspaces").await;
    full_task(&client, &ns, "build").await;
    let base = ["start", "build", "-p", "files=a"];
    let with = |extra: &[&'static str]| {
        let mut args = base.to_vec();
        args.extend(extra);
        error(&task_in(&ns, &args))
    };
    assert!(
        with(&[]).contains(
            "missing workspaces: src; bind them with -w src=emptyDir (or pvc:CLAIM, configmap:NAME, secret:NAME)"
        ),
        "{}",
        with(&[])
    );
    let stderr = with(&["-w", "srcc=emptyDir"]);
    assert!(
        stderr.contains("the Task has no workspace \"srcc\"; it declares src, cache"),
        "{stderr}"
    );
    let stderr = with(&["-w", "src=emptyDir", "-w", "src=pvc:x"]);
    assert!(stderr.contains("workspace \"src\" is bound twice"), "{stderr}");
    let stderr = with(&["-w", "src=emptyDir:"]);
    assert!(
        stderr.contains("-w \"src=emptyDir:\": expected NAME=emptyDir, NAME=pvc:CLAIM"),
        "{stderr}"
    );
    assert!(runs(&client, &ns).await.is_empty(), "nothing was created");
    ok(&task_in(
        &ns,
        &["start", "build", "-p", "files=a", "-w", "src=emptyDir"],
    ));
}

#[tokio::test]
async fn a_task_that_refers_to_what_it_does_not_declare_is_not_started() {
    let (client, ns) = world("undeclared").await;
    let spec = json!({"results": [{"name": "digest"}], "steps": [
        {"name": "a", "image": "busybox", "script": "echo $(params.who) > $(results.dgst.path)"}]});
    create_task_with(&client, &ns, "t", spec).await;
    let stderr = error(&task_in(&ns, &["start", "t"]));
    assert!(
        stderr.contains("step \"a\" script: $(params.who) names no param of the Task")
            && stderr.contains("step \"a\" script: $(results.dgst) names no result of the Task")
            && stderr.contains("kubectl edit task t"),
        "{stderr}"
    );
    assert!(runs(&client, &ns).await.is_empty());
}
