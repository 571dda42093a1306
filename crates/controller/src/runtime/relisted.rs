//! What a relist changed, said once the relist is complete.
//!
//! A watch that was down (an API server restart, a 410) lists again. Its
//! store shows the relist's objects only once the list is complete, but
//! kube-runtime's Controller acts on each listed object at once: a request
//! for a run the store does not hold yet is dropped (`ObjectNotFound`), and
//! a run woken by its pod's InitApply is reconciled against the pod the
//! store still holds, from before the outage. Either way the reconcile saw
//! the past, and nothing later wakes the run: a run created during the
//! outage never got a pod (full-size chaos, a PipelineRun's TaskRun), and
//! runs whose pods ended during the outage stayed Pending until the 5-minute
//! resync (chaos --quick, kube-apiserver restart: 10 and 13 of 100).
//!
//! So each watch compares the store before and after a relist, and every
//! object that is new, changed (another resourceVersion) or gone is handed
//! on once the store holds the complete list: the run itself, its pod's
//! run, a Task's waiting runs.

use std::collections::HashMap;
use std::sync::Arc;

use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use tokio::sync::mpsc;

/// Follows one watch, after its store has seen each event.
pub struct Relisted<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    /// Whether the first list is complete: the Controller starts only
    /// then, with every object of that list in its store.
    listed: bool,
    /// The store as it was when a relist began.
    before: Option<Vec<Arc<K>>>,
    changed: Box<dyn FnMut(&K) + Send>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Relisted<K> {
    /// `changed` is called, once the store holds a relist, with each object
    /// the relist changed (for a gone object, the last one the store held).
    pub fn new(store: Store<K>, changed: impl FnMut(&K) + Send + 'static) -> Self {
        Relisted {
            store,
            listed: false,
            before: None,
            changed: Box::new(changed),
        }
    }

    /// Sends, for each changed object, the runs `runs_of` names.
    pub fn sending<T: Resource<DynamicType = ()> + 'static>(
        store: Store<K>,
        to: &mpsc::UnboundedSender<ObjectRef<T>>,
        runs_of: impl Fn(&K) -> Vec<ObjectRef<T>> + Send + 'static,
    ) -> Self {
        let to = to.clone();
        Relisted::new(store, move |object: &K| {
            for run in runs_of(object) {
                let _ = to.send(run);
            }
        })
    }

    /// One event of the watch, after the store has seen it.
    pub fn apply(&mut self, event: &watcher::Event<K>) {
        match event {
            // The store still shows the last complete list.
            watcher::Event::Init if self.listed => self.before = Some(self.store.state()),
            watcher::Event::InitDone if !self.listed => self.listed = true,
            watcher::Event::InitDone => {
                let Some(before) = self.before.take() else { return };
                for object in changes(before, self.store.state()) {
                    (self.changed)(&object);
                }
            }
            _ => {}
        }
    }
}

/// The owners of kind `P` that `child` names (a pod's TaskRun, a claim's
/// PipelineRun), as kube-runtime's `owns` finds them.
pub fn controllers_of<C: Resource, P: Resource<DynamicType = ()>>(child: &C) -> Vec<ObjectRef<P>> {
    let (kind, api_version) = (P::kind(&()), P::api_version(&()));
    let namespace = child.meta().namespace.as_deref().unwrap_or_default();
    child
        .meta()
        .owner_references
        .iter()
        .flatten()
        .filter(|owner| owner.kind == kind && owner.api_version == api_version)
        .map(|owner| ObjectRef::new(&owner.name).within(namespace))
        .collect()
}

/// The objects of `after` that `before` lacks or held at another
/// resourceVersion, then those of `before` that `after` lacks.
fn changes<K: Resource<DynamicType = ()>>(before: Vec<Arc<K>>, after: Vec<Arc<K>>) -> Vec<Arc<K>> {
    let mut gone: HashMap<ObjectRef<K>, Arc<K>> = before
        .into_iter()
        .map(|object| (ObjectRef::from_obj(object.as_ref()), object))
        .collect();
    let mut changed = Vec::new();
    for object in after {
        let same = gone.remove(&ObjectRef::from_obj(object.as_ref())).is_some_and(|old| {
            let version = old.meta().resource_version.as_ref();
            version.is_some() && version == object.meta().resource_version.as_ref()
        });
        if !same {
            changed.push(object);
        }
    }
    changed.extend(gone.into_values());
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector;
    use minitask_api::TaskRun;
    use std::sync::Mutex;

    fn run(name: &str, version: &str) -> TaskRun {
        let mut run = TaskRun::new(name, Default::default());
        run.metadata.namespace = Some("ns".into());
        run.metadata.resource_version = Some(version.into());
        run
    }

    /// The events go through the store first, as in the watch's stream.
    #[test]
    fn what_a_relist_changed_is_said_once_the_relist_is_complete() {
        let (store, mut writer) = reflector::store::<TaskRun>();
        let said = Arc::new(Mutex::new(Vec::new()));
        let into = said.clone();
        let mut relisted = Relisted::new(store.clone(), move |run: &TaskRun| {
            let version = run.metadata.resource_version.clone().unwrap_or_default();
            into.lock()
                .unwrap()
                .push(format!("{}@{version}", run.metadata.name.clone().unwrap_or_default()));
        });
        let mut feed = |event: watcher::Event<TaskRun>| {
            writer.apply_watcher_event(&event);
            relisted.apply(&event);
        };
        let taken = || std::mem::take(&mut *said.lock().unwrap());
        feed(watcher::Event::Init);
        for (name, version) in [("same", "1"), ("ended", "2"), ("deleted", "3")] {
            feed(watcher::Event::InitApply(run(name, version)));
        }
        feed(watcher::Event::InitDone);
        assert!(taken().is_empty(), "the first list: the Controller starts after it");
        feed(watcher::Event::Apply(run("ended", "4")));
        assert!(taken().is_empty(), "a watch event is the Controller's own");

        // The watch was down: "ended" changed, "deleted" went, "new" came.
        feed(watcher::Event::Init);
        feed(watcher::Event::InitApply(run("same", "1")));
        feed(watcher::Event::InitApply(run("ended", "7")));
        feed(watcher::Event::InitApply(run("new", "8")));
        assert!(taken().is_empty(), "not before the relist is complete");
        assert_eq!(
            store
                .get(&ObjectRef::new("ended").within("ns"))
                .unwrap()
                .metadata
                .resource_version
                .as_deref(),
            Some("4"),
            "the store still shows the past meanwhile"
        );
        feed(watcher::Event::InitDone);
        let mut said = taken();
        said.sort();
        assert_eq!(said, ["deleted@3", "ended@7", "new@8"]);

        // A relist that changed nothing says nothing.
        feed(watcher::Event::Init);
        for (name, version) in [("same", "1"), ("ended", "7"), ("new", "8")] {
            feed(watcher::Event::InitApply(run(name, version)));
        }
        feed(watcher::Event::InitDone);
        assert!(taken().is_empty());
    }

    #[test]
    fn a_pod_is_traced_to_its_run() {
        use k8s_openapi::api::core::v1::Pod;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
        let owner = |kind: &str, name: &str| OwnerReference {
            api_version: "minitask.dev/v1alpha1".into(),
            kind: kind.into(),
            name: name.into(),
            ..OwnerReference::default()
        };
        let mut pod = Pod::default();
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.owner_references = Some(vec![owner("PipelineRun", "p"), owner("TaskRun", "r")]);
        let runs = controllers_of::<Pod, TaskRun>(&pod);
        assert_eq!(runs, [ObjectRef::new("r").within("ns")]);
        assert!(controllers_of::<Pod, TaskRun>(&Pod::default()).is_empty());
    }

    #[test]
    fn an_object_without_a_resource_version_counts_as_changed() {
        let mut bare = run("bare", "");
        bare.metadata.resource_version = None;
        let bare = Arc::new(bare);
        assert_eq!(changes(vec![bare.clone()], vec![bare]).len(), 1);
    }
}
