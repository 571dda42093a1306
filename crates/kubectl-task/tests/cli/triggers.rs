//! `kubectl task triggers`, `describe trigger/NAME` and `trigger fire`.

use kube::api::{Api, Patch, PatchParams, PostParams};
use minitask_api::{LABEL_TRIGGER, ParamValue, Trigger};
use serde_json::json;

use crate::{create_task_with, error, ok, runs, task_in, world};

async fn create_trigger(client: &kube::Client, ns: &str, name: &str, spec: serde_json::Value) {
    let trigger: Trigger = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": name}, "spec": spec
    }))
    .unwrap();
    Api::<Trigger>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &trigger)
        .await
        .unwrap();
}

#[tokio::test]
async fn triggers_are_listed_described_and_fired_by_hand() {
    let (client, ns) = world("cli-triggers").await;
    let steps = json!({"params": [{"name": "at"}, {"name": "commit", "default": "none"}],
                       "steps": [{"name": "a", "image": "busybox", "script": "echo $(params.at)"}]});
    create_task_with(&client, &ns, "nightly", steps).await;
    create_trigger(
        &client,
        &ns,
        "nightly",
        json!({"run": {"taskRef": {"name": "nightly"}, "params": [{"name": "at", "value": "$(schedule.time)"}]},
               "schedule": {"cron": "0 3 * * *", "timeZone": "Europe/Berlin", "concurrencyPolicy": "Forbid"}}),
    )
    .await;
    create_trigger(
        &client,
        &ns,
        "on-push",
        json!({"run": {"taskRef": {"name": "nightly"},
                       "params": [{"name": "at", "value": "push"}, {"name": "commit", "value": "$(body.after)"}]},
               "webhook": {"secretRef": {"name": "hook"}, "provider": "github", "events": ["push"]}}),
    )
    .await;
    // The controller's status, as it would write it.
    let status = json!({"status": {"nextFireTime": "2099-01-01T02:00:00Z", "fired": 2, "lastRun": "nightly-1",
                                   "skipped": {"Forbidden": 1},
                                   "conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                                                   "message": "the Trigger can fire", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    Api::<Trigger>::namespaced(client.clone(), &ns)
        .patch_status("nightly", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();

    let list = ok(&task_in(&ns, &["triggers"]));
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("NEXT") && lines[0].contains("LAST RUN"),
        "{list}"
    );
    assert!(
        lines[1].starts_with("nightly ")
            && lines[1].contains("0 3 * * * Europe/Berlin")
            && lines[1].contains("nightly-1")
            && lines[1].contains("True"),
        "{list}"
    );
    assert!(
        lines[2].starts_with("on-push ") && lines[2].contains(&format!("/hooks/{ns}/on-push (github)")),
        "{list}"
    );

    let described = ok(&task_in(&ns, &["describe", "trigger/nightly"]));
    for want in [
        "Starts:     task/nightly",
        "Schedule:   0 3 * * * (Europe/Berlin), concurrency Forbid",
        "Next fire:  2099-01-01T02:00:00Z",
        "Ready:      True (Ready): the Trigger can fire",
        "Skipped:    Forbidden 1",
    ] {
        assert!(described.contains(want), "{want:?} in\n{described}");
    }

    // Fired by hand: the schedule's time is now, params can be given.
    let fired = ok(&task_in(&ns, &["trigger", "fire", "nightly"]));
    assert!(
        fired.starts_with("taskrun.minitask.dev/nightly-manual-") && fired.ends_with(" created\n"),
        "{fired}"
    );
    let all = runs(&client, &ns).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].metadata.labels.as_ref().unwrap()[LABEL_TRIGGER], "nightly");
    let ParamValue::String(at) = &all[0].spec.params[0].value else {
        panic!()
    };
    assert!(at.parse::<k8s_openapi::jiff::Timestamp>().is_ok(), "{at}");
    // A webhook's body is not there by hand: the error says to give it.
    let refused = error(&task_in(&ns, &["trigger", "fire", "on-push"]));
    assert_eq!(
        refused,
        "error: Trigger on-push cannot start by hand: param commit: $(body.after) is not in this delivery; give that param with -p NAME=VALUE\n"
    );
    ok(&task_in(&ns, &["trigger", "fire", "on-push", "-p", "commit=abc"]));
    let all = runs(&client, &ns).await;
    assert_eq!(all.len(), 2);
    let described = ok(&task_in(&ns, &["describe", "trg/on-push"]));
    assert!(
        described.contains("Webhook:    POST /hooks/") && described.contains("Events:     push"),
        "{described}"
    );
    assert!(
        described.contains("taskrun/on-push-manual-"),
        "recent runs: {described}"
    );
    let missing = error(&task_in(&ns, &["trigger", "fire", "nope"]));
    assert!(missing.contains("no Trigger nope in namespace"), "{missing}");
}
