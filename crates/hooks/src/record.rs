//! What deliveries did, written to each Trigger's status (last delivery,
//! runs started, rejections by reason) and as Events, batched: at most one
//! status write and one Event per reason per Trigger a second, however
//! many deliveries arrive.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Client, ResourceExt};
use minitask_api::{Delivery, SECRET_FOUND, Trigger};
use minitask_controller::Announcement;
use minitask_controller::runtime::publisher::{Publisher, Reporter};
use serde_json::json;
use tracing::warn;

use crate::cache::Cache;

#[derive(Default)]
struct Pending {
    /// A new `status.webhookSecret`.
    secret: Option<String>,
    fired: i64,
    last_run: Option<String>,
    last: Option<Delivery>,
    rejected: BTreeMap<&'static str, (i64, String)>,
}

#[derive(Clone, Default)]
pub struct Recorder {
    pending: Arc<Mutex<HashMap<(String, String), Pending>>>,
}

impl Recorder {
    /// Notes one delivery to `namespace/name`: its outcome, and the run
    /// it started (`started`) or a rejection's reason.
    pub fn note(&self, namespace: &str, name: &str, delivery: Delivery, started: bool, rejected: Option<&'static str>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pending.entry((namespace.into(), name.into())).or_default();
        if started {
            entry.fired += 1;
            entry.last_run = delivery.run.clone();
        }
        if let Some(reason) = rejected {
            let slot = entry.rejected.entry(reason).or_default();
            slot.0 += 1;
            slot.1 = delivery.message.clone().unwrap_or_default();
        }
        entry.last = Some(delivery);
    }

    /// Writes what is pending every second, until the process ends; and
    /// each webhook Trigger's `status.webhookSecret` when it changed.
    pub async fn run(self, client: Client, cache: Cache) {
        let reporter = Reporter {
            controller: "minitask-hooks".into(),
            instance: std::env::var("POD_NAME").unwrap_or_else(|_| "minitask-hooks".into()),
        };
        let (publisher, _publishing) = Publisher::start(client.clone(), reporter);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let mut batch: HashMap<(String, String), Pending> =
                self.pending.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
            if cache.ready() {
                for trigger in cache.triggers.state().iter().filter(|t| t.spec.webhook.is_some()) {
                    let state = cache.secret_state(trigger).err().unwrap_or_else(|| SECRET_FOUND.into());
                    if trigger.status.as_ref().and_then(|s| s.webhook_secret.as_deref()) != Some(state.as_str()) {
                        let key = (trigger.namespace().unwrap_or_default(), trigger.name_any());
                        batch.entry(key).or_default().secret = Some(state);
                    }
                }
            }
            for ((namespace, name), pending) in batch {
                let Some(trigger) = cache.trigger(&namespace, &name) else {
                    continue;
                };
                // Events only once the counts they announce are written
                // (a conflict publishes them at the next tick, once).
                if write(&client, &trigger, &pending).await.is_ok() {
                    for (reason, (count, message)) in &pending.rejected {
                        let note = format!("{count} deliveries rejected: {message}");
                        let announcement = Announcement {
                            type_: EventType::Warning,
                            reason,
                            note,
                        };
                        publisher.publish(trigger.as_ref(), announcement).await;
                    }
                } else {
                    // A conflict: the cache is behind; merge back and try
                    // again at the next tick.
                    warn!(trigger = %name, %namespace, "recording deliveries: the Trigger changed meanwhile; trying again");
                    let mut all = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                    let entry = all.entry((namespace, name)).or_default();
                    entry.fired += pending.fired;
                    entry.last_run = entry.last_run.take().or(pending.last_run);
                    entry.last = entry.last.take().or(pending.last);
                    for (reason, (count, message)) in pending.rejected {
                        let slot = entry.rejected.entry(reason).or_default();
                        slot.0 += count;
                        if slot.1.is_empty() {
                            slot.1 = message;
                        }
                    }
                }
            }
        }
    }
}

/// Adds `pending` to the cached status, refused if the Trigger changed
/// since (its resourceVersion), so no count is lost or counted twice.
async fn write(client: &Client, trigger: &Trigger, pending: &Pending) -> Result<(), kube::Error> {
    let status = trigger.status.clone().unwrap_or_default();
    let mut rejected = status.rejected.clone();
    for (reason, (count, _)) in &pending.rejected {
        *rejected.entry(reason.to_string()).or_default() += count;
    }
    let patch = json!({
        "metadata": {"resourceVersion": trigger.metadata.resource_version},
        "status": {
            "fired": status.fired + pending.fired,
            "lastRun": pending.last_run.clone().or(status.last_run),
            "lastDelivery": pending.last.clone().or(status.last_delivery),
            "webhookSecret": pending.secret.clone().or(status.webhook_secret),
            "rejected": rejected,
        }
    });
    let api: Api<Trigger> = Api::namespaced(
        client.clone(),
        trigger.metadata.namespace.as_deref().unwrap_or_default(),
    );
    api.patch_status(
        trigger.metadata.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}

/// A delivery's record, now.
pub fn delivery(id: Option<String>, outcome: &str, run: Option<String>, message: Option<String>) -> Delivery {
    Delivery {
        id,
        time: Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)),
        outcome: outcome.into(),
        run,
        message,
    }
}
