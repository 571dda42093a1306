//! Runs first seen in a relist, looked at once the relist is complete.
//!
//! kube-runtime's Controller drops a reconcile request for an object its
//! store does not hold (`Error::ObjectNotFound`), and the store shows a
//! relist's objects only once the relist is complete. A run created while
//! a watch was down is first seen in the relist that follows: the request
//! its InitApply triggers can reach the runner before the store has it,
//! and is dropped, and nothing else wakes a run that has no pod yet.
//! Full-size chaos (kube-apiserver restart): a PipelineRun's TaskRun,
//! created 1 s before the TaskRun watch relisted, never got a pod while 4
//! siblings created in the same 30 ms did.

use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use tokio::sync::mpsc;

/// Follows one watch: the objects of a relist that its store did not
/// hold, sent once the relist is complete.
pub struct Relisted<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    /// Whether the first list is complete: the Controller starts only
    /// then, with every object of that list in its store.
    listed: bool,
    fresh: Vec<ObjectRef<K>>,
    again: mpsc::UnboundedSender<ObjectRef<K>>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Relisted<K> {
    pub fn new(store: Store<K>, again: mpsc::UnboundedSender<ObjectRef<K>>) -> Self {
        Relisted {
            store,
            listed: false,
            fresh: Vec::new(),
            again,
        }
    }

    /// One event of the watch, after the store has seen it.
    pub fn apply(&mut self, event: &watcher::Event<K>) {
        match event {
            watcher::Event::Init => self.fresh.clear(),
            watcher::Event::InitApply(object) if self.listed => {
                let key = ObjectRef::from_obj(object);
                if self.store.get(&key).is_none() {
                    self.fresh.push(key);
                }
            }
            watcher::Event::InitApply(_) => {}
            watcher::Event::InitDone => {
                self.listed = true;
                for key in self.fresh.drain(..) {
                    let _ = self.again.send(key);
                }
            }
            watcher::Event::Apply(_) | watcher::Event::Delete(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector;
    use minitask_api::TaskRun;

    fn run(name: &str) -> TaskRun {
        let mut run = TaskRun::new(name, Default::default());
        run.metadata.namespace = Some("ns".into());
        run
    }

    /// The events go through the store first, as in the watch's stream.
    #[test]
    fn a_run_new_in_a_relist_is_sent_once_the_relist_is_complete() {
        let (store, mut writer) = reflector::store::<TaskRun>();
        let (again, mut sent) = mpsc::unbounded_channel();
        let mut relisted = Relisted::new(store, again);
        let mut feed = |event: watcher::Event<TaskRun>| {
            writer.apply_watcher_event(&event);
            relisted.apply(&event);
        };
        feed(watcher::Event::Init);
        feed(watcher::Event::InitApply(run("old")));
        feed(watcher::Event::InitDone);
        assert!(
            sent.try_recv().is_err(),
            "the first list: the Controller starts after it"
        );
        feed(watcher::Event::Init);
        feed(watcher::Event::InitApply(run("old")));
        feed(watcher::Event::InitApply(run("new")));
        assert!(sent.try_recv().is_err(), "not before the relist is complete");
        feed(watcher::Event::InitDone);
        assert_eq!(sent.try_recv().ok().map(|r| r.name), Some("new".to_string()));
        assert!(sent.try_recv().is_err(), "a run the store held is not sent again");
    }
}
