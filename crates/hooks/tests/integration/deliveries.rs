//! What a sender sees and what the cluster gets: one run per delivery id,
//! nothing for a bad signature, the same 404 for any unknown path, 429
//! past the rate, and the Trigger's status and Events saying why.

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use minitask_api::{ParamValue, PipelineRun};
use serde_json::json;

use crate::common::{Hooks, github, refs};

fn push(commit: &str) -> Vec<u8> {
    json!({"ref": "refs/heads/main", "head_commit": {"id": commit}})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn a_signed_delivery_starts_one_run_and_a_redelivery_finds_it() {
    let hooks = Hooks::start("hooks").await;
    hooks
        .trigger(
            "on-push",
            json!({"secretRef": {"name": "hook"}, "provider": "github", "events": ["push"],
                   "filter": "body.ref == 'refs/heads/main'"}),
            json!({"taskRef": {"name": "build"}, "params": [{"name": "commit", "value": "$(body.head_commit.id)"}]}),
        )
        .await;
    let path = hooks.path("on-push");
    let body = push("c0ffee");
    let headers = github(&body, "push", "delivery-1");
    let (code, answer) = hooks.post(&path, &refs(&headers), &body).await;
    assert_eq!(code, 202, "{answer}");
    let started: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let run = started["run"].as_str().unwrap().to_string();
    let runs = hooks.runs("on-push").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].metadata.name.as_deref(), Some(run.as_str()));
    assert_eq!(runs[0].spec.params[0].value, ParamValue::String("c0ffee".into()));

    // The same delivery again: the same run, nothing created.
    let (code, answer) = hooks.post(&path, &refs(&headers), &body).await;
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains(&run), "{answer}");
    // A bad signature: 401, nothing created.
    let mut forged = github(&body, "push", "delivery-2");
    forged[0].1 = minitask_hooks::deliver::sign(b"guess", &body).into_bytes();
    let (code, answer) = hooks.post(&path, &refs(&forged), &body).await;
    assert_eq!(code, 401, "{answer}");
    // Another branch: filtered out, 204; an event not accepted: 204.
    let dev = json!({"ref": "refs/heads/dev", "head_commit": {"id": "x"}})
        .to_string()
        .into_bytes();
    assert_eq!(
        hooks.post(&path, &refs(&github(&dev, "push", "d-3")), &dev).await.0,
        204
    );
    assert_eq!(
        hooks.post(&path, &refs(&github(&body, "issues", "d-4")), &body).await.0,
        204
    );
    assert_eq!(hooks.runs("on-push").await.len(), 1, "one run in all");

    let status = hooks
        .status("on-push", |s| {
            s.fired == 1 && s.rejected.get("BadSignature") == Some(&1)
        })
        .await;
    assert_eq!(status.last_run.as_deref(), Some(run.as_str()));
    let events: Api<Event> = Api::namespaced(hooks.client.clone(), &hooks.ns);
    let found = minitask_testenv::eventually("a BadSignature Event", std::time::Duration::from_secs(20), || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("BadSignature"))
        }
    })
    .await;
    assert_eq!(found.regarding.unwrap().name.as_deref(), Some("on-push"));
    assert!(
        found
            .note
            .unwrap()
            .contains("X-Hub-Signature-256 does not match the body")
    );
}

#[tokio::test]
async fn unknown_paths_get_the_same_404_and_a_flood_gets_429() {
    let hooks = Hooks::start("hooks-limits").await;
    hooks
        .trigger(
            "slow",
            json!({"secretRef": {"name": "hook"}, "rateLimit": 1}),
            json!({"pipelineRef": {"name": "ci"}, "params": [{"name": "sha", "value": "$(body.sha)"}]}),
        )
        .await;
    let unknown_trigger = hooks.post(&hooks.path("nope"), &[], b"{}").await;
    let unknown_namespace = hooks.post("/hooks/no-such-namespace/nope", &[], b"{}").await;
    assert_eq!(unknown_trigger.0, 404);
    assert_eq!(unknown_namespace.0, 404);
    assert_eq!(
        unknown_trigger.1.replace(&hooks.ns, "NS"),
        unknown_namespace.1.replace("no-such-namespace", "NS"),
        "the same answer whether or not the namespace exists"
    );
    // rateLimit 1: a burst of 2, then 429.
    let mut codes = Vec::new();
    for i in 0..4 {
        let body = json!({"sha": format!("s{i}")}).to_string().into_bytes();
        let signature = minitask_hooks::deliver::sign(crate::common::SECRET.as_bytes(), &body);
        let headers = [("X-Signature-256", signature.as_bytes())];
        codes.push(hooks.post(&hooks.path("slow"), &headers, &body).await.0);
    }
    assert_eq!(codes, vec![202, 202, 429, 429]);
    let runs: Api<PipelineRun> = Api::namespaced(hooks.client.clone(), &hooks.ns);
    let list = runs.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 2, "a PipelineRun per accepted delivery");
    hooks
        .status("slow", |s| s.rejected.get("RateLimited") == Some(&2))
        .await;
}

#[tokio::test]
async fn a_missing_secret_is_said_on_the_trigger_until_it_is_there() {
    let hooks = Hooks::start("hooks-secret").await;
    hooks
        .trigger(
            "unsigned",
            json!({"secretRef": {"name": "later", "key": "token"}}),
            json!({"taskRef": {"name": "build"}}),
        )
        .await;
    let missing = hooks.status("unsigned", |s| s.webhook_secret.is_some()).await;
    assert_eq!(
        missing.webhook_secret.as_deref(),
        Some("spec.webhook.secretRef: Secret later is not in namespace {ns} or lacks the label minitask.dev/webhook-secret=true; create it, or `kubectl label secret later minitask.dev/webhook-secret=true`".replace("{ns}", &hooks.ns).as_str())
    );
    let body = b"{}";
    let signature = minitask_hooks::deliver::sign(b"t0ken", body);
    let headers = [("X-Signature-256", signature.as_bytes())];
    let (code, answer) = hooks.post(&hooks.path("unsigned"), &headers, body).await;
    assert_eq!(code, 401, "{answer}");
    // Created unlabelled, then with the wrong key, then right.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(hooks.client.clone(), &hooks.ns);
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "later", "labels": {"minitask.dev/webhook-secret": "true"}},
                        "stringData": {"secret": "t0ken"}});
    secrets
        .create(&Default::default(), &serde_json::from_value(secret).unwrap())
        .await
        .unwrap();
    let no_key = hooks
        .status("unsigned", |s| {
            s.webhook_secret
                .as_deref()
                .is_some_and(|m| m.contains("has no key token"))
        })
        .await;
    assert!(
        no_key
            .webhook_secret
            .unwrap()
            .ends_with("add it, or name the key with secretRef.key")
    );
    let fixed = json!({"stringData": {"token": "t0ken"}});
    secrets
        .patch(
            "later",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&fixed),
        )
        .await
        .unwrap();
    hooks
        .status("unsigned", |s| s.webhook_secret.as_deref() == Some("Found"))
        .await;
    let (code, answer) = hooks.post(&hooks.path("unsigned"), &headers, body).await;
    assert_eq!(code, 202, "{answer}");
}
