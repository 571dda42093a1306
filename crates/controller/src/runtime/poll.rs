//! The seed's first controller, kept as the benchmark's baseline: every
//! interval, list the TaskRuns, the pods and the Tasks, and reconcile each
//! run with the same functions as the event-driven controller. Simple and
//! correct, but every round costs three LISTs however little changed, and a
//! run waits up to a whole interval for its pod. Not the recommended mode.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::ListParams;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use kube::{Client, Resource};
use minitask_api::LABEL_TASKRUN;
use tracing::{info, warn};

use crate::runtime::cache;
use crate::runtime::catalog::Catalog;
use crate::runtime::reconcile::{Context, reconcile};
use crate::runtime::run::{Config, Stopped};

/// Polls every `interval` until `shutdown` completes.
pub async fn run(
    client: Client,
    config: Config,
    interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Stopped> {
    let (runs, tasks, pods) = crate::runtime::run::apis(&client, config.namespace.as_deref());
    let (pod_store, mut pod_writer) = reflector::store();
    let (task_store, mut task_writer) = reflector::store();
    // The baseline resolves Tasks only: its ClusterTask cache stays empty.
    let catalog = Catalog {
        tasks: task_store,
        cluster: reflector::store().0,
    };
    let mut context = Context::new(client.clone(), pod_store, catalog, config.pod_options.clone());
    context.keep_finished_per_task = None;
    let ctx = Arc::new(context);
    info!(?interval, "starting the polling controller (the benchmark's baseline)");
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let round = async {
            let (all, labelled) = (ListParams::default(), ListParams::default().labels(LABEL_TASKRUN));
            let listed = futures::try_join!(runs.list(&all), pods.list(&labelled), tasks.list(&all));
            let (runs, pods, tasks) = match listed {
                Ok(lists) => lists,
                Err(e) => {
                    warn!(%e, "listing for a poll");
                    return;
                }
            };
            replace(&mut pod_writer, pods.items, |_| ());
            replace(&mut task_writer, tasks.items, cache::task);
            // The same reconcile as the event-driven controller, a few at
            // a time.
            futures::stream::iter(runs.items.into_iter().filter(|r| !r.phase().is_terminal()))
                .for_each_concurrent(usize::from(config.workers.max(1)), |run| {
                    let ctx = ctx.clone();
                    async move {
                        if let Err(e) = reconcile(Arc::new(run), ctx).await {
                            warn!(%e, "reconcile failed; the next poll tries again");
                        }
                    }
                })
                .await;
        };
        round.await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = &mut shutdown => break,
        }
    }
    info!("controller stopped");
    Ok(())
}

/// The store's content, replaced by a fresh list, slimmed as the watches
/// slim it.
fn replace<K>(writer: &mut Writer<K>, items: Vec<K>, slim: fn(&mut K))
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    writer.apply_watcher_event(&watcher::Event::Init);
    for mut item in items {
        slim(&mut item);
        writer.apply_watcher_event(&watcher::Event::InitApply(item));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
}
