//! The Triggers and the Secrets they name, from watches: only Secrets
//! labelled `minitask.dev/webhook-secret=true` are watched and kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{Future, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use minitask_api::{LABEL_WEBHOOK_SECRET, Trigger};

#[derive(Clone)]
pub struct Cache {
    pub triggers: Store<Trigger>,
    pub secrets: Store<Secret>,
    synced: Arc<[AtomicBool; 2]>,
}

impl Cache {
    /// The cache and the future that keeps it (run it until shutdown).
    pub fn start(client: &Client, namespace: Option<&str>) -> (Cache, impl Future<Output = ()> + Send + 'static) {
        let (triggers, secrets): (Api<Trigger>, Api<Secret>) = match namespace {
            Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
            None => (Api::all(client.clone()), Api::all(client.clone())),
        };
        let (trigger_store, trigger_writer) = reflector::store();
        let (secret_store, secret_writer) = reflector::store();
        let synced: Arc<[AtomicBool; 2]> = Arc::default();
        let (a, b) = (synced.clone(), synced.clone());
        let trigger_events = watcher(triggers, watcher::Config::default())
            .default_backoff()
            .modify(|t: &mut Trigger| t.metadata.managed_fields = None)
            .reflect(trigger_writer)
            .inspect(move |e| {
                if let Ok(watcher::Event::InitDone) = e {
                    a[0].store(true, Ordering::SeqCst);
                }
            })
            .for_each(|e| async move {
                if let Err(e) = e {
                    tracing::warn!(%e, "watching Triggers");
                }
            });
        let secret_config = watcher::Config::default().labels(&format!("{LABEL_WEBHOOK_SECRET}=true"));
        let secret_events = watcher(secrets, secret_config)
            .default_backoff()
            .modify(|s: &mut Secret| {
                s.metadata.managed_fields = None;
                s.metadata.annotations = None;
                s.string_data = None;
            })
            .reflect(secret_writer)
            .inspect(move |e| {
                if let Ok(watcher::Event::InitDone) = e {
                    b[1].store(true, Ordering::SeqCst);
                }
            })
            .for_each(|e| async move {
                if let Err(e) = e {
                    tracing::warn!(%e, "watching webhook Secrets");
                }
            });
        let cache = Cache {
            triggers: trigger_store,
            secrets: secret_store,
            synced,
        };
        (cache, async move {
            futures::future::join(trigger_events, secret_events).await;
        })
    }

    pub fn ready(&self) -> bool {
        self.synced.iter().all(|f| f.load(Ordering::SeqCst))
    }

    pub fn trigger(&self, namespace: &str, name: &str) -> Option<Arc<Trigger>> {
        self.triggers.get(&ObjectRef::new(name).within(namespace))
    }

    /// The shared secret of `trigger`, when its Secret is cached.
    pub fn secret(&self, trigger: &Trigger) -> Option<Vec<u8>> {
        self.secret_state(trigger).ok()
    }

    /// The shared secret of `trigger`, or what is wrong with its Secret,
    /// in words (its `status.webhookSecret`).
    pub fn secret_state(&self, trigger: &Trigger) -> Result<Vec<u8>, String> {
        let (name, key) = trigger.secret_key().ok_or("the Trigger has no spec.webhook")?;
        let namespace = trigger.metadata.namespace.as_deref().unwrap_or_default();
        let Some(secret) = self.secrets.get(&ObjectRef::new(name).within(namespace)) else {
            return Err(format!(
                "spec.webhook.secretRef: Secret {name} is not in namespace {namespace} or lacks the label {LABEL_WEBHOOK_SECRET}=true; create it, or `kubectl label secret {name} {LABEL_WEBHOOK_SECRET}=true`"
            ));
        };
        match secret.data.as_ref().and_then(|d| d.get(key)) {
            Some(value) if !value.0.is_empty() => Ok(value.0.clone()),
            Some(_) => Err(format!(
                "spec.webhook.secretRef: key {key} of Secret {name} is empty; put the shared secret there"
            )),
            None => Err(format!(
                "spec.webhook.secretRef: Secret {name} has no key {key}; add it, or name the key with secretRef.key"
            )),
        }
    }
}
