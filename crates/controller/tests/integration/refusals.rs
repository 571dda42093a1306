//! Pods the API server refuses: the run says why at once, keeps trying
//! while the cause may go away, and fails when it cannot. Runs work in
//! namespaces that enforce Pod Security `restricted`.

use std::time::Duration;

use crate::common::World;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use minitask_api::Phase;
use minitask_testenv::eventually;
use serde_json::json;

#[tokio::test]
async fn a_missing_service_account_is_explained_and_the_run_starts_once_it_exists() {
    let w = World::new("refused-sa").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "true")]).await;
    w.create_run_with("r", json!({"taskRef": {"name": "t"}, "serviceAccountName": "builder"}))
        .await;
    let refused = w
        .run_status("r", "the refusal to show", |s| {
            s.reason.as_deref() == Some("PodCreationFailed")
        })
        .await;
    assert_eq!(refused.phase, Some(Phase::Pending), "the cause may go away");
    let message = refused.message.unwrap();
    assert!(
        message.starts_with("the API server refused pod r-pod: ")
            && message.contains("serviceaccount \"builder\" not found")
            && message.contains("create the ServiceAccount"),
        "{message}"
    );
    let events: Api<Event> = Api::namespaced(w.client.clone(), &w.ns);
    let warning = eventually("a Warning Event", Duration::from_secs(10), || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("PodCreationFailed"))
        }
    })
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));

    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "builder"}})).unwrap();
    Api::<ServiceAccount>::namespaced(w.client.clone(), &w.ns)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    // The first retries come within seconds.
    let pod = w.pod("r").await;
    assert_eq!(pod.spec.unwrap().service_account_name.as_deref(), Some("builder"));
    let started = w.run_status("r", "the run to start", |s| s.pod_name.is_some()).await;
    assert_eq!(started.reason.as_deref(), Some("Pending"));
}

async fn enforce_restricted(w: &World) {
    let patch = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    Api::<Namespace>::all(w.client.clone())
        .patch(&w.ns, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn pod_security_restricted_fails_a_non_compliant_run_at_once_and_admits_a_compliant_one() {
    let w = World::new("restricted").await;
    enforce_restricted(&w).await;
    let _controller = w.controller().await;
    let locked = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
    w.create_task_with(
        "t",
        json!({
            "results": [{"name": "digest"}],
            "stepTemplate": {"securityContext": locked},
            "steps": [{"name": "a", "image": "busybox", "script": "true"}, {"name": "b", "image": "busybox", "script": "true"}],
        }),
    )
    .await;

    w.create_run("plain", "t").await;
    let failed = w.phase("plain", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("PodCreationFailed"));
    let message = failed.message.unwrap();
    assert!(
        message.contains("violates PodSecurity") && message.contains("enforces Pod Security"),
        "{message}"
    );

    let pod_security = json!({"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}});
    w.create_run_with(
        "compliant",
        json!({"taskRef": {"name": "t"}, "podTemplate": {"securityContext": pod_security}}),
    )
    .await;
    let pod = w.pod("compliant").await;
    let reporter = pod.spec.unwrap().containers[2].clone();
    assert_eq!(reporter.name, "minitask-results");
    assert_eq!(
        reporter.security_context.unwrap().allow_privilege_escalation,
        Some(false)
    );
}
