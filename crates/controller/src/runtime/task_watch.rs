//! What follows each event of the Task and ClusterTask watches: a change
//! records the object's status and checks again the Pipelines that use it
//! (the index says which); a deletion too, as its Pipelines now miss it. A
//! list shows its objects in the store only once complete: then every
//! Pipeline is checked (a Task missing from a list in progress is not
//! missing).

use std::sync::{Arc, Mutex};

use futures::{Stream, TryStreamExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use minitask_api::Pipeline;

use crate::runtime::catalog::Catalog;
use crate::runtime::pipeline_status::record_validity;
use crate::runtime::task_status::{TaskObject, record_task_status};
use crate::runtime::task_users::TaskUsers;

/// Whether this replica holds the shard of (namespace, name).
pub type Holds = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

#[derive(Clone)]
pub struct Wiring {
    pub client: Client,
    pub holds: Holds,
    /// Whether both the Task and the ClusterTask lists are complete.
    pub listed: Arc<dyn Fn() -> bool + Send + Sync>,
    pub users: Arc<Mutex<TaskUsers>>,
    pub pipelines: Store<Pipeline>,
    pub catalog: Catalog,
}

/// The objects of `events` (after their store has them), each once its
/// status and its Pipelines' are recorded.
pub fn follow<K: TaskObject>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    wiring: Wiring,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send {
    events
        .and_then(move |event| {
            let wiring = wiring.clone();
            let pipelines = pipelines_to_check(&event, &wiring);
            let (task, exists) = match event {
                watcher::Event::Apply(task) | watcher::Event::InitApply(task) => (Some(task), true),
                watcher::Event::Delete(task) => (Some(task), false),
                watcher::Event::Init | watcher::Event::InitDone => (None, false),
            };
            async move {
                let holds =
                    |namespace: Option<String>, name: String| (wiring.holds)(&namespace.unwrap_or_default(), &name);
                if let Some(task) = &task
                    && exists
                    && holds(task.namespace(), task.name_any())
                {
                    record_task_status(&wiring.client, task).await;
                }
                for pipeline in pipelines {
                    if holds(pipeline.namespace(), pipeline.name_any()) {
                        record_validity(&wiring.client, &wiring.catalog, (wiring.listed)(), &pipeline).await;
                    }
                }
                Ok(task)
            }
        })
        .try_filter_map(|task| futures::future::ready(Ok(task)))
}

/// Every Pipeline once a list is complete; those that use the object
/// after it changed or went; none while a list is in progress.
fn pipelines_to_check<K: TaskObject>(event: &watcher::Event<K>, wiring: &Wiring) -> Vec<Arc<Pipeline>> {
    match event {
        watcher::Event::InitDone => wiring.pipelines.state(),
        watcher::Event::Apply(task) | watcher::Event::Delete(task) => {
            // A ClusterTask's namespace is empty, as in the index.
            let namespace = task.namespace().unwrap_or_default();
            let users = wiring.users.lock().unwrap_or_else(|e| e.into_inner());
            let find = |(ns, name): &(String, String)| wiring.pipelines.get(&ObjectRef::new(name).within(ns));
            users.of(&namespace, &task.name_any()).iter().filter_map(find).collect()
        }
        watcher::Event::Init | watcher::Event::InitApply(_) => Vec::new(),
    }
}
