//! The archive read through the Kubernetes API: discovery, lists paged
//! newest first, a run and its log, the reader's RBAC, and bad input.

use kube::Client;
use kube::api::{Api, PostParams};
use minitask_api::TaskRun;
use minitask_testenv::{ControlPlane, eventually};
use serde_json::{Value, json};

use crate::common::{WAIT, World, api_port, condition, register_api};

const BASE: &str = "/apis/archive.minitask.dev/v1alpha1/namespaces";

async fn get(client: &Client, path: &str) -> Result<String, (u16, String)> {
    let request = http::Request::get(path).body(Vec::new()).unwrap();
    client.request_text(request).await.map_err(|e| match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => (0, other.to_string()),
    })
}

async fn get_json(client: &Client, path: &str) -> Value {
    let text = get(client, path).await.unwrap_or_else(|e| panic!("GET {path}: {e:?}"));
    serde_json::from_str(&text).unwrap()
}

/// Archives these ended runs of the world's namespace and waits for each.
async fn archived(w: &World, runs: &[TaskRun]) {
    let archive = w.archive().await;
    let api: Api<TaskRun> = Api::namespaced(w.client.clone(), &w.ns);
    for run in runs {
        let name = kube::ResourceExt::name_any(run);
        eventually(&format!("{name} archived"), WAIT, || async {
            let run = api.get(&name).await.ok()?;
            condition(&run.status?.conditions, "Archived")
                .filter(|c| c.status == "True")
                .map(|_| ())
        })
        .await;
    }
    archive.abort();
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn runs_are_read_through_the_api_with_the_readers_own_rbac() {
    let w = World::served("api-rbac").await;
    register_api(&w.client).await;
    let run = w.ended_taskrun("build-1").await;
    archived(&w, &[run]).await;

    let list = get_json(&w.client, &format!("{BASE}/{}/taskruns", w.ns)).await;
    assert_eq!(list["kind"], "TaskRunList");
    assert_eq!(names(&list), ["build-1"]);
    let item = get_json(&w.client, &format!("{BASE}/{}/taskruns/build-1", w.ns)).await;
    assert_eq!(item["apiVersion"], "archive.minitask.dev/v1alpha1");
    assert_eq!(item["status"]["phase"], "Succeeded");
    assert!(item["archive"]["archivedAt"].is_string());
    let log = get(&w.client, &format!("{BASE}/{}/taskruns/build-1/log", w.ns))
        .await
        .unwrap();
    assert!(
        log.contains("[mini-task archive: step compile has no log: pod build-1-pod was gone"),
        "{log}"
    );
    let (code, message) = get(&w.client, &format!("{BASE}/{}/taskruns/build-1/log?step=compile", w.ns))
        .await
        .unwrap_err();
    assert_eq!(code, 404);
    assert!(
        message.contains("the log of step compile (attempt 1) of TaskRun build-1 was not archived"),
        "{message}"
    );

    // Bob has no role: refused, with the API server's words.
    let bob = ControlPlane::shared().client_as("bob").await;
    let (code, message) = get(&bob, &format!("{BASE}/{}/taskruns", w.ns)).await.unwrap_err();
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains("User \"bob\" cannot list resource \"taskruns\" in API group \"archive.minitask.dev\""),
        "{message}"
    );
    // Bound to minitask-view in this namespace, and only here.
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::namespaced(w.client.clone(), &w.ns);
    let binding = serde_json::from_value(json!({
        "metadata": {"name": "bob-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "minitask-view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}],
    }))
    .unwrap();
    bindings.create(&PostParams::default(), &binding).await.unwrap();
    let list = eventually("bob may list", WAIT, || async {
        get(&bob, &format!("{BASE}/{}/taskruns", w.ns)).await.ok()
    })
    .await;
    assert!(list.contains("build-1"));
    get(&bob, &format!("{BASE}/{}/taskruns/build-1/log", w.ns))
        .await
        .unwrap();
    let other = World::served("api-other").await;
    let (code, _) = get(&bob, &format!("{BASE}/{}/taskruns", other.ns)).await.unwrap_err();
    assert_eq!(code, 403, "bob may read only the namespace he is bound in");
    // Nothing of one namespace shows in another's.
    let list = get_json(&w.client, &format!("{BASE}/{}/taskruns", other.ns)).await;
    assert_eq!(names(&list), Vec::<String>::new());
    let (code, _) = get(&w.client, &format!("{BASE}/{}/taskruns/build-1", other.ns))
        .await
        .unwrap_err();
    assert_eq!(code, 404);

    // kubectl prints a table.
    let out = tokio::process::Command::new("kubectl")
        .args(["get", "taskruns.archive.minitask.dev", "-n", &w.ns])
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.contains("NAME") && header.contains("TASK") && header.contains("PHASE") && header.contains("LOGS"),
        "{table}"
    );
    assert!(
        table.contains("build-1") && table.contains("Succeeded") && table.contains("1 lost"),
        "{table}"
    );
    // A bare `taskrun` is still the live run, for a kubectl that reads
    // discovery afresh with both groups in it.
    let cache = std::env::temp_dir().join(format!("{}-kube-cache", w.ns));
    let out = tokio::process::Command::new("kubectl")
        .args(["get", "taskrun/build-1", "-n", &w.ns, "-o", "jsonpath={.apiVersion}"])
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .env("KUBECACHEDIR", &cache)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&cache);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "minitask.dev/v1alpha1");
}

#[tokio::test]
async fn lists_are_newest_first_in_pages_and_filtered() {
    let w = World::served("api-pages").await;
    register_api(&w.client).await;
    let mut runs = Vec::new();
    for (i, (task, phase)) in [
        ("build", "Succeeded"),
        ("test", "Failed"),
        ("build", "Failed"),
        ("build", "Succeeded"),
        ("test", "Succeeded"),
    ]
    .into_iter()
    .enumerate()
    {
        let ended = format!("2026-12-0{}T10:00:0{i}Z", 1 + i % 2);
        let labels = json!({"n": i.to_string()});
        runs.push(
            w.ended_taskrun_with(&format!("run-{i}"), task, phase, &ended, labels)
                .await,
        );
    }
    archived(&w, &runs).await;
    // Ended: run-1 and run-3 on the 2nd (3 newest), then run-4, run-2, run-0.
    let list = format!("{BASE}/{}/taskruns", w.ns);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = get_json(&w.client, &format!("{list}?limit=2&continue={token}")).await;
        assert!(names(&page).len() <= 2);
        seen.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ["run-3", "run-1", "run-4", "run-2", "run-0"]);
    let builds = get_json(&w.client, &format!("{list}?task=build")).await;
    assert_eq!(names(&builds), ["run-3", "run-2", "run-0"]);
    let failed = get_json(&w.client, &format!("{list}?phase=Failed")).await;
    assert_eq!(names(&failed), ["run-1", "run-2"]);
    let selected = get_json(&w.client, &format!("{list}?labelSelector=n%20in%20(0,4)")).await;
    assert_eq!(names(&selected), ["run-4", "run-0"]);

    for (query, parameter) in [
        ("continue=bm9wZQ", "continue"),
        ("labelSelector=a%3D%3D%3Db", "labelSelector"),
        ("limit=x", "limit"),
        ("phase=Running", "phase"),
        ("task=A", "task"),
    ] {
        let (code, message) = get(&w.client, &format!("{list}?{query}")).await.unwrap_err();
        assert_eq!(code, 400, "{query}: {message}");
        assert!(message.starts_with(parameter), "{query}: {message}");
    }
    // A token of another namespace's list does not read that namespace.
    let other = World::served("api-pages-other").await;
    let page = get_json(&w.client, &format!("{list}?limit=1")).await;
    let token = page["metadata"]["continue"].as_str().unwrap();
    let (code, message) = get(&w.client, &format!("{BASE}/{}/taskruns?continue={token}", other.ns))
        .await
        .unwrap_err();
    assert_eq!(code, 400, "{message}");
}

#[tokio::test]
async fn a_request_that_does_not_come_through_the_api_server_is_refused() {
    let w = World::served("api-direct").await;
    register_api(&w.client).await;
    let url = format!("https://127.0.0.1:{}{BASE}/{}/taskruns", api_port(), w.ns);
    let out = tokio::process::Command::new("curl")
        .args([
            "-sk",
            "-H",
            "X-Remote-User: admin",
            "-H",
            "X-Remote-Group: system:masters",
            "-w",
            "\n%{http_code}",
            &url,
        ])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n401"), "{text}");
    assert!(text.contains("must come through the Kubernetes API server"), "{text}");
}
