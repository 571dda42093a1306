//! Triggers on a real cluster: the controller fires a schedule, and the
//! deployed minitask-hooks takes signed deliveries through its Service
//! (reached through the API server's service proxy, as any in-cluster
//! client would reach the Service).

use std::time::{Duration, Instant};

use http::Request;
use kube::api::{Api, ListParams};
use minitask_api::{LABEL_TRIGGER, ParamValue, PipelineRun, TaskRun};

use super::Namespaced;

const SECRET: &str = "change-me";

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_schedule_fires_within_a_minute_with_its_time_as_a_param() {
    let t = Namespaced::new("schedule").await;
    t.sample("triggers.yaml");
    let runs: Api<TaskRun> = Api::namespaced(t.client.clone(), &t.ns);
    let selector = ListParams::default().labels(&format!("{LABEL_TRIGGER}=every-minute"));
    let started = Instant::now();
    let run = loop {
        let found = runs.list(&selector).await.unwrap().items;
        if let Some(run) = found.into_iter().next() {
            break run;
        }
        assert!(started.elapsed() < Duration::from_secs(70), "no run within 70 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let ParamValue::String(at) = &run.spec.params[0].value else {
        panic!("{run:?}")
    };
    let at: k8s_openapi::jiff::Timestamp = at.parse().expect("an RFC 3339 time");
    assert_eq!(at.as_second() % 60, 0, "a minute's start: {at}");
    let name = run.metadata.name.clone().unwrap();
    let ended = t.finish(&name, minitask_api::Phase::Succeeded).await;
    let pod = ended.status.unwrap().pod_name.unwrap();
    let log = t.logs(&pod, "step-report").await;
    assert!(log.contains(&format!("scheduled for {at}")), "{log}");
    t.cleanup().await;
}

/// POSTs to the Trigger's path on minitask-hooks; the answer's status and body.
async fn deliver(t: &Namespaced, trigger: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    let uri = format!(
        "/api/v1/namespaces/minitask-system/services/minitask-hooks:http/proxy/hooks/{}/{trigger}",
        t.ns
    );
    let mut request = Request::post(uri).header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = t
        .client
        .send(request.body(body.to_vec().into()).unwrap())
        .await
        .expect("a response");
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_signed_push_starts_one_pipelinerun_and_a_bad_signature_none() {
    let t = Namespaced::new("webhook").await;
    t.sample("triggers.yaml");
    let body = br#"{"ref":"refs/heads/main","head_commit":{"id":"9f2c1e7"}}"#;
    let signature = minitask_hooks::deliver::sign(SECRET.as_bytes(), body);
    let headers = [
        ("X-Hub-Signature-256", signature),
        ("X-GitHub-Event", "push".to_string()),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_string()),
    ];
    // Until minitask-hooks' cache has the new Trigger and Secret: 404, then
    // the answer.
    let started = Instant::now();
    let (code, answer) = loop {
        let (code, answer) = deliver(&t, "on-push", &headers, body).await;
        if code != 404 && !answer.contains("is missing") {
            break (code, answer);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never served: {code} {answer}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(code, 202, "{answer}");
    let runs: Api<PipelineRun> = Api::namespaced(t.client.clone(), &t.ns);
    let list = runs.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 1);
    let run = &list[0];
    assert_eq!(run.spec.params[0].value, ParamValue::String("9f2c1e7".into()));
    let name = run.metadata.name.clone().unwrap();
    assert!(answer.contains(&name), "{answer}");

    // The same delivery again: the same run, nothing new.
    let (code, answer) = deliver(&t, "on-push", &headers, body).await;
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains(&name));
    // A bad signature: 401, nothing new.
    let mut forged = headers.clone();
    forged[0].1 = minitask_hooks::deliver::sign(b"not the secret", body);
    forged[2].1 = "another-delivery".into();
    let (code, answer) = deliver(&t, "on-push", &forged, body).await;
    assert_eq!(code, 401, "{answer}");
    assert_eq!(runs.list(&ListParams::default()).await.unwrap().items.len(), 1);
    t.kubectl_ok(&[
        "wait",
        "--for=condition=Succeeded",
        &format!("pipelinerun/{name}"),
        "--timeout=180s",
    ]);
    let triggers = t.kubectl_ok(&["task", "triggers"]);
    let line = triggers.lines().find(|l| l.starts_with("on-push ")).unwrap_or_default();
    assert!(line.contains("webhook") && line.contains(&name), "{triggers}");
    t.cleanup().await;
}
