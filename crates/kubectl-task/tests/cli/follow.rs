//! Following a run: a deleted run, Ctrl-C, stdout that stays JSON, and
//! prompts that say why an answer is needed. (Logs with content need a
//! kubelet: the e2e suite streams them.)

use std::process::Stdio;
use std::time::Duration;

use crate::*;

fn spawn(ns: &str, args: &[&str]) -> std::process::Child {
    std::process::Command::new(PLUGIN)
        .args(args)
        .args(["-n", ns])
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn a_run_deleted_while_followed_ends_with_its_own_exit_code() {
    let (client, ns) = world("follow-deleted").await;
    create_task(&client, &ns, "hello").await;
    for args in [vec!["logs", "-f", "r"], vec!["start", "hello", "--wait"]] {
        if args[0] == "logs" {
            create_run(&client, &ns, "r", "hello").await;
        }
        let child = spawn(&ns, &args);
        let run = minitask_testenv::eventually("the run", Duration::from_secs(20), || {
            let (client, ns) = (client.clone(), ns.clone());
            async move { runs(&client, &ns).await.into_iter().next() }
        })
        .await;
        let name = run.name_any();
        set_status(
            &client,
            &ns,
            &name,
            json!({"phase": "Pending", "message": "waiting for pod x-pod to start"}),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        Api::<TaskRun>::namespaced(client.clone(), &ns)
            .delete(&name, &Default::default())
            .await
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("waiting for pod x-pod to start"),
            "it said why it waited: {stderr}"
        );
        assert!(
            stderr.contains(&format!("taskrun {name} was deleted while it was followed")),
            "{stderr}"
        );
        assert!(!stderr.contains("not found"), "{stderr}");
        minitask_testenv::eventually("the run to go", Duration::from_secs(20), || {
            let (client, ns) = (client.clone(), ns.clone());
            async move { runs(&client, &ns).await.is_empty().then_some(()) }
        })
        .await;
    }
}

#[tokio::test]
async fn ctrl_c_while_following_says_how_to_get_back() {
    let (client, ns) = world("follow-interrupt").await;
    create_task(&client, &ns, "hello").await;
    let child = spawn(&ns, &["start", "hello", "-f"]);
    let run = minitask_testenv::eventually("the run", Duration::from_secs(20), || {
        let (client, ns) = (client.clone(), ns.clone());
        async move { runs(&client, &ns).await.into_iter().next() }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let name = run.name_any();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("interrupted; taskrun {name} goes on"))
            && stderr.contains(&format!("kubectl task logs -f {name} -n {ns}"))
            && stderr.contains(&format!("kubectl task cancel {name} -n {ns}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn output_and_follow_together_print_the_ended_run_as_one_json_document() {
    let (client, ns) = world("follow-json").await;
    create_task(&client, &ns, "hello").await;
    let child = spawn(&ns, &["start", "hello", "-f", "-o", "json"]);
    let run = minitask_testenv::eventually("the run", Duration::from_secs(20), || {
        let (client, ns) = (client.clone(), ns.clone());
        async move { runs(&client, &ns).await.into_iter().next() }
    })
    .await;
    set_status(
        &client,
        &ns,
        &run.name_any(),
        json!({"phase": "Succeeded", "reason": "Succeeded", "message": "ok", "results": [{"name": "digest", "value": "sha256:1"}]}),
    )
    .await;
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: TaskRun = serde_json::from_str(&text(&out.stdout)).expect("stdout is one TaskRun");
    assert_eq!(printed.name_any(), run.name_any());
    // The run as it ended: `| jq .status.results` works.
    let results = printed.status.unwrap().results;
    assert_eq!(results[0].value, "sha256:1");
    assert!(text(&out.stderr).contains("succeeded: ok"));
}

#[tokio::test]
async fn prompts_say_why_an_answer_is_needed_and_end_cleanly() {
    let (client, ns) = world("prompts").await;
    full_task(&client, &ns, "build").await;
    // An empty answer for a param without a default is refused, saying so;
    // then Ctrl-D (end of input) ends without creating anything.
    let out = bash(&format!(
        "printf '\\n' | script -qec 'kubectl-task start build -n {ns} --use-param-defaults' /dev/null"
    ));
    let shown = text(&out.stdout);
    assert!(shown.contains("param files (comma-separated): "), "{shown}");
    assert!(shown.contains("param files has no default: type a value"), "{shown}");
    assert!(
        shown.contains("no answer (end of input); nothing was created"),
        "{shown}"
    );
    assert!(runs(&client, &ns).await.is_empty());
}
