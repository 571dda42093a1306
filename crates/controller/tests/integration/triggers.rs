//! Schedules on a real API server with a clock the test moves: one run per
//! fire time through controller crashes, Forbid and Replace, and a Ready
//! condition that says what is wrong.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use minitask_api::{LABEL_TRIGGER, ParamValue, TaskRun, Trigger};
use minitask_controller::Config;
use minitask_controller::runtime::triggers::Clock;
use minitask_testenv::{CONTROLLER_USER, ControlPlane, eventually};
use serde_json::json;

use crate::common::{WAIT, World};

/// A clock the test sets.
#[derive(Clone)]
struct Hands(Arc<Mutex<Timestamp>>);

impl Hands {
    fn new(at: Timestamp) -> Hands {
        Hands(Arc::new(Mutex::new(at)))
    }
    fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap() = at;
    }
    fn clock(&self) -> Clock {
        let hands = self.0.clone();
        Clock {
            now: Arc::new(move || *hands.lock().unwrap()),
            speed: 1.0,
        }
    }
}

async fn controller(w: &World, hands: &Hands) -> crate::common::Running {
    let client = ControlPlane::shared().client_as(CONTROLLER_USER).await;
    let config = Config {
        namespace: Some(w.ns.clone()),
        clock: hands.clock(),
        schedule_recheck: Duration::from_millis(100),
        ..Config::default()
    };
    w.controller_with_config(client, config).await
}

async fn trigger(w: &World, name: &str, schedule: serde_json::Value) -> Trigger {
    let trigger: Trigger = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger",
        "metadata": {"name": name},
        "spec": {
            "run": {"taskRef": {"name": "nightly"}, "params": [{"name": "at", "value": "$(schedule.time)"}]},
            "schedule": schedule,
        }
    }))
    .unwrap();
    let api: Api<Trigger> = Api::namespaced(w.client.clone(), &w.ns);
    api.create(&PostParams::default(), &trigger)
        .await
        .expect("create Trigger")
}

/// The runs of `trigger`, by name.
async fn runs_of(w: &World, trigger: &str) -> Vec<TaskRun> {
    let list = w
        .runs()
        .list(&ListParams::default().labels(&format!("{LABEL_TRIGGER}={trigger}")))
        .await;
    let mut runs = list.expect("list runs").items;
    runs.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    runs
}

async fn wait_runs(w: &World, trigger: &str, count: usize) -> Vec<TaskRun> {
    eventually(&format!("{count} runs of {trigger}"), WAIT, || async move {
        let runs = runs_of(w, trigger).await;
        (runs.len() == count).then_some(runs)
    })
    .await
}

async fn status(
    w: &World,
    name: &str,
    what: &str,
    check: impl Fn(&minitask_api::TriggerStatus) -> bool,
) -> minitask_api::TriggerStatus {
    let api: Api<Trigger> = Api::namespaced(w.client.clone(), &w.ns);
    eventually(what, WAIT, || {
        let api = api.clone();
        let check = &check;
        async move {
            let status = api.get(name).await.ok()?.status?;
            check(&status).then_some(status)
        }
    })
    .await
}

/// The Task the Triggers run: it takes the scheduled time.
async fn nightly(w: &World) {
    let spec = json!({"params": [{"name": "at"}], "steps": [{"name": "report", "image": "busybox", "script": "echo $(params.at)"}]});
    w.create_task_with("nightly", spec).await;
}

fn minute_after(t: Timestamp, minutes: i64) -> Timestamp {
    let start = Timestamp::from_second(t.as_second().div_euclid(60) * 60).unwrap();
    start + SignedDuration::from_secs(minutes * 60)
}

#[tokio::test]
async fn each_fire_time_starts_exactly_one_run_through_controller_crashes() {
    let w = World::new("schedule").await;
    nightly(&w).await;
    let created = trigger(&w, "every-minute", json!({"cron": "* * * * *"})).await;
    let born = created.metadata.creation_timestamp.unwrap().0;
    let hands = Hands::new(born);
    let mut running = Some(controller(&w, &hands).await);
    let ready = status(&w, "every-minute", "Ready and a next fire time", |s| {
        s.next_fire_time.is_some()
    })
    .await;
    assert_eq!(ready.conditions[0].status, "True", "{:?}", ready.conditions);
    assert_eq!(ready.next_fire_time.unwrap().0, minute_after(born, 1));

    // 30 fire times; before some the controller dies (dropped mid-work,
    // as at kill -9) and another starts, sometimes only after the fire
    // time passed.
    let mut expected = Vec::new();
    for minute in 1..=30 {
        let at = minute_after(born, minute);
        if minute % 7 == 0 {
            drop(running.take());
            hands.set(at + SignedDuration::from_secs(20));
            running = Some(controller(&w, &hands).await);
        } else if minute == 10 {
            // A replica died after creating this fire time's run and before
            // recording it: the next must not start a second.
            drop(running.take());
            let name = minitask_controller::schedule::run_name("every-minute", at);
            let mut run = TaskRun::new(&name, Default::default());
            run.spec.task_ref = Some(minitask_api::TaskRef::task("nightly"));
            run.spec.params = vec![minitask_api::Param {
                name: "at".into(),
                value: ParamValue::String(at.to_string()),
            }];
            run.metadata.labels = Some([(LABEL_TRIGGER.to_string(), "every-minute".to_string())].into());
            w.runs()
                .create(&PostParams::default(), &run)
                .await
                .expect("the dead replica's run");
            hands.set(at + SignedDuration::from_secs(2));
            running = Some(controller(&w, &hands).await);
            status(&w, "every-minute", "minute 10 recorded", |s| {
                s.last_fire_time.as_ref().is_some_and(|t| t.0 == at)
            })
            .await;
        } else {
            hands.set(at + SignedDuration::from_secs(1));
        }
        expected.push(minitask_controller::schedule::run_name("every-minute", at));
        let runs = wait_runs(&w, "every-minute", minute as usize).await;
        if minute % 5 == 0 {
            // A replica that restarts now finds the fire time done.
            drop(running.take());
            running = Some(controller(&w, &hands).await);
        }
        let last = runs
            .iter()
            .find(|r| r.metadata.name.as_deref() == expected.last().map(String::as_str));
        let last = last.unwrap_or_else(|| panic!("the run of minute {minute}: {:?} in {runs:?}", expected.last()));
        assert_eq!(
            last.spec.params[0].value,
            ParamValue::String(at.to_string()),
            "the scheduled time is the param"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let names: Vec<String> = runs_of(&w, "every-minute")
        .await
        .into_iter()
        .filter_map(|r| r.metadata.name)
        .collect();
    assert_eq!(names, expected, "exactly one run per fire time");
    let done = status(&w, "every-minute", "30 fired", |s| s.fired >= 30).await;
    assert_eq!(done.last_run.as_deref(), expected.last().map(String::as_str));
    running.unwrap().stop().await;
}

#[tokio::test]
async fn forbid_skips_while_a_run_runs_replace_cancels_it_and_downtime_starts_one_late() {
    let w = World::new("policy").await;
    nightly(&w).await;
    let created = trigger(
        &w,
        "forbid",
        json!({"cron": "* * * * *", "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 30}),
    )
    .await;
    let born = created.metadata.creation_timestamp.unwrap().0;
    let hands = Hands::new(minute_after(born, 1) + SignedDuration::from_secs(1));
    let running = controller(&w, &hands).await;
    let first = wait_runs(&w, "forbid", 1).await;
    // The first run has not ended (no kubelet here): the next fire time is
    // skipped.
    hands.set(minute_after(born, 2) + SignedDuration::from_secs(1));
    let skipped = status(&w, "forbid", "a Forbidden skip", |s| {
        s.skipped.contains_key("Forbidden")
    })
    .await;
    assert_eq!(skipped.skipped["Forbidden"], 1);
    assert_eq!(runs_of(&w, "forbid").await.len(), 1);

    // Replace: the running one is cancelled, then the next starts.
    let api: Api<Trigger> = Api::namespaced(w.client.clone(), &w.ns);
    let replace = json!({"spec": {"schedule": {"concurrencyPolicy": "Replace"}}});
    api.patch("forbid", &PatchParams::default(), &Patch::Merge(&replace))
        .await
        .unwrap();
    hands.set(minute_after(born, 3) + SignedDuration::from_secs(1));
    let runs = wait_runs(&w, "forbid", 2).await;
    let old = w.runs().get(first[0].metadata.name.as_deref().unwrap()).await.unwrap();
    assert!(old.spec.cancelled, "Replace cancels the run still running");
    assert!(!runs[1].spec.cancelled);

    // Down for ten minutes: of the missed fire times only the latest may
    // start, and only within startingDeadlineSeconds (30 s).
    let allow = json!({"spec": {"schedule": {"concurrencyPolicy": "Allow"}}});
    api.patch("forbid", &PatchParams::default(), &Patch::Merge(&allow))
        .await
        .unwrap();
    hands.set(minute_after(born, 13) + SignedDuration::from_secs(45));
    let late = status(&w, "forbid", "missed fire times counted", |s| {
        s.skipped.get("Missed") == Some(&10)
    })
    .await;
    assert_eq!(late.fired, 2, "45 s late is past the deadline: {late:?}");
    hands.set(minute_after(born, 14) + SignedDuration::from_secs(10));
    wait_runs(&w, "forbid", 3).await;
    running.stop().await;
}

#[tokio::test]
async fn ready_says_what_is_wrong_and_a_webhook_needs_a_secret() {
    let w = World::new("trigger-ready").await;
    let hands = Hands::new(Timestamp::now());
    let running = controller(&w, &hands).await;
    trigger(&w, "no-task", json!({"cron": "0 3 * * *", "timeZone": "Europe/Berlin"})).await;
    let missing = status(&w, "no-task", "Ready False", |s| {
        s.conditions.first().is_some_and(|c| c.status == "False")
    })
    .await;
    assert_eq!(
        missing.conditions[0].message,
        "spec.run.taskRef: Task \"nightly\" does not exist in this namespace; create it or fix the name"
    );
    nightly(&w).await;
    let fixed = status(&w, "no-task", "Ready True once the Task exists", |s| {
        s.conditions[0].status == "True"
    })
    .await;
    assert!(fixed.next_fire_time.is_some());

    // Refused at admission: a webhook without a secret, both kinds at once,
    // a cron that is not five fields.
    let no_secret = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": "open"},
        "spec": {"run": {"taskRef": {"name": "nightly"}}, "webhook": {"provider": "github"}}
    });
    let raw: Api<kube::api::DynamicObject> =
        Api::namespaced_with(w.client.clone(), &w.ns, &kube::api::ApiResource::erase::<Trigger>(&()));
    let err = raw
        .create(&PostParams::default(), &serde_json::from_value(no_secret).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.webhook.secretRef: Required value"), "{err}");
    let both = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": "both"},
        "spec": {"run": {"taskRef": {"name": "nightly"}}, "schedule": {"cron": "* * * * *"},
                 "webhook": {"secretRef": {"name": "s"}}}
    });
    let err = raw
        .create(&PostParams::default(), &serde_json::from_value(both).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("set exactly one of schedule"), "{err}");
    let bad_cron = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": "bad"},
        "spec": {"run": {"taskRef": {"name": "nightly"}}, "schedule": {"cron": "every day"}}
    });
    let err = raw
        .create(&PostParams::default(), &serde_json::from_value(bad_cron).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.schedule.cron"), "{err}");

    // A filter that is not CEL: Ready False, naming the field.
    let bad_filter = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": "filtered"},
        "spec": {"run": {"taskRef": {"name": "nightly"}}, "webhook": {"secretRef": {"name": "s"}, "filter": "body.ref =="}}
    });
    raw.create(&PostParams::default(), &serde_json::from_value(bad_filter).unwrap())
        .await
        .unwrap();
    let invalid = status(&w, "filtered", "Ready False", |s| {
        s.conditions.first().is_some_and(|c| c.status == "False")
    })
    .await;
    assert!(
        invalid.conditions[0]
            .message
            .starts_with("spec.webhook.filter is not valid CEL"),
        "{invalid:?}"
    );

    // What minitask-hooks says of the Secret (it alone may read Secrets)
    // is repeated by Ready.
    let webhook = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": "hooked"},
        "spec": {"run": {"taskRef": {"name": "nightly"}}, "webhook": {"secretRef": {"name": "s"}}}
    });
    raw.create(&PostParams::default(), &serde_json::from_value(webhook).unwrap())
        .await
        .unwrap();
    let is = |want: &'static str| {
        move |s: &minitask_api::TriggerStatus| s.conditions.first().is_some_and(|c| c.status == want)
    };
    status(&w, "hooked", "Ready True", is("True")).await;
    let problem = "spec.webhook.secretRef: Secret s has no key secret; add it, or name the key with secretRef.key";
    let api: Api<Trigger> = Api::namespaced(w.client.clone(), &w.ns);
    let said = json!({"status": {"webhookSecret": problem}});
    api.patch_status("hooked", &PatchParams::default(), &Patch::Merge(&said))
        .await
        .unwrap();
    let hooked = status(&w, "hooked", "Ready False", is("False")).await;
    assert_eq!(hooked.conditions[0].message, problem);
    let found = json!({"status": {"webhookSecret": "Found"}});
    api.patch_status("hooked", &PatchParams::default(), &Patch::Merge(&found))
        .await
        .unwrap();
    status(&w, "hooked", "Ready True again", is("True")).await;
    running.stop().await;
}
