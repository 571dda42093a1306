//! The shell: watches the runs of one kind and archives each that has
//! ended and does not say it is archived, in the shards this replica
//! holds. Nothing is cached: an event is looked at and dropped, and only
//! runs being archived are held. A restart, or a shard won, lists every
//! run again and finishes what was left; what was stored before is
//! written again under the same keys (two replicas that both think they
//! hold a shard for a moment write the same objects).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use minitask_controller::runtime::leases::Shards;
use minitask_controller::shards::shard_of;
use tokio::sync::{Semaphore, broadcast};
use tracing::{info, warn};

use crate::archiver::{Archiver, Marked, Run};
use crate::record;

/// Tries before a log that cannot be read is recorded as lost.
const TRIES_FOR_LOGS: u32 = 5;

/// The prefix of the archive's Leases.
pub const ARCHIVE: &str = "minitask-archive";

/// Which runs this replica archives: those of the shards it holds, looked
/// at again (a relist) each time it wins a shard.
#[derive(Clone)]
pub struct Sharding {
    pub shards: Shards,
    pub won: broadcast::Sender<()>,
}

impl Sharding {
    /// Every run, alone.
    pub fn alone() -> Sharding {
        Sharding {
            shards: Shards::all(1),
            won: broadcast::channel(1).0,
        }
    }
}

pub async fn follow<K: Run>(archiver: Arc<Archiver>, api: Api<K>, workers: usize, sharding: Sharding) {
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let slots = Arc::new(Semaphore::new(workers.max(1)));
    let mut won = sharding.won.subscribe();
    loop {
        let mut events = watcher(api.clone(), watcher::Config::default())
            .default_backoff()
            .boxed();
        loop {
            let event = tokio::select! {
                event = events.next() => event,
                // A shard won: its runs that ended while nobody held it
                // are in the next list.
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) = won.recv() => break,
            };
            let Some(event) = event else { return };
            let (run, deleted) = match event {
                Ok(watcher::Event::Apply(run) | watcher::Event::InitApply(run)) => (run, false),
                Ok(watcher::Event::Delete(run)) => (run, true),
                Ok(_) => continue,
                Err(e) => {
                    warn!(error = %e, kind = %K::kind(&()), "watch failed; it retries");
                    continue;
                }
            };
            let shard = shard_of(
                &run.namespace().unwrap_or_default(),
                &run.name_any(),
                sharding.shards.count(),
            );
            if !sharding.shards.holds(shard) || !record::wants_archiving(run.ended(), run.conditions()) {
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
