//! The shell: watches the runs of one kind and archives each that has
//! ended and does not say it is archived. Nothing is cached: an event is
//! looked at and dropped, and only runs being archived are held. A restart
//! lists every run again and finishes what was left; what was stored
//! before is written again under the same keys.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::archiver::{Archiver, Marked, Run};
use crate::record;

/// Tries before a log that cannot be read is recorded as lost.
const TRIES_FOR_LOGS: u32 = 5;

pub async fn follow<K: Run>(archiver: Arc<Archiver>, api: Api<K>, workers: usize) {
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let slots = Arc::new(Semaphore::new(workers.max(1)));
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let (run, deleted) = match event {
            Ok(watcher::Event::Apply(run) | watcher::Event::InitApply(run)) => (run, false),
            Ok(watcher::Event::Delete(run)) => (run, true),
            Ok(_) => continue,
            Err(e) => {
                warn!(error = %e, kind = %K::kind(&()), "watch failed; it retries");
                continue;
            }
        };
        if !record::wants_archiving(run.ended(), run.conditions()) {
            continue;
        }
        let uid = run.uid().unwrap_or_default();
        if !busy.lock().unwrap_or_else(|p| p.into_inner()).insert(uid.clone()) {
            continue;
        }
        let (archiver, busy, slots) = (archiver.clone(), busy.clone(), slots.clone());
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            archive_until_done(&archiver, &run, deleted).await;
            busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&uid);
        });
    }
}

/// Archives `run`, retrying with backoff until the store takes it.
async fn archive_until_done<K: Run>(archiver: &Archiver, run: &K, deleted: bool) {
    let mut tries = 0u32;
    let mut said_why = false;
    loop {
        tries += 1;
        let outcome = run.archive(archiver, deleted, tries >= TRIES_FOR_LOGS).await;
        let name = format!("{}/{}", run.namespace().unwrap_or_default(), run.name_any());
        match &outcome {
            Ok(key) => {
                info!(run = %name, kind = %K::kind(&()), %key, "archived");
                if !deleted {
                    match archiver.mark(run, Ok(key)).await {
                        Ok(Marked::Written | Marked::Replaced) => {}
                        // Deleted meanwhile (retention gave up waiting, or
                        // by hand): the record says so.
                        Ok(Marked::Gone) => {
                            if let Err(e) = archiver.note_deleted(key).await {
                                warn!(run = %name, error = %e, "deleted before archived, and the record could not say so");
                            }
                        }
                        Err(e) => {
                            warn!(run = %name, error = %e, "archived, but the Archived condition was not written; trying again");
                            tokio::time::sleep(backoff(tries)).await;
                            continue;
                        }
                    }
                }
                return;
            }
            Err(e) => {
                warn!(run = %name, error = %e, tries, "not archived yet");
                if !deleted && !said_why {
                    said_why = archiver.mark(run, Err(e)).await.is_ok();
                }
            }
        }
        tokio::time::sleep(backoff(tries)).await;
    }
}

/// 1 s doubling to a minute.
fn backoff(tries: u32) -> Duration {
    Duration::from_secs(1u64 << tries.min(6).saturating_sub(1)).min(Duration::from_secs(60))
}
