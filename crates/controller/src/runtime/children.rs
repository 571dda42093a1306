//! Which TaskRuns each PipelineRun has, kept from the TaskRun watch: a
//! PipelineRun's reconcile looks its children up here instead of scanning
//! every TaskRun, and a child's change wakes its PipelineRun.

use std::collections::{BTreeSet, HashMap};

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use minitask_api::{PipelineRun, TaskRun};

/// A PipelineRun by namespace and name.
type Parent = (String, String);

#[derive(Debug, Default)]
pub struct Children {
    of: HashMap<Parent, BTreeSet<String>>,
    /// Each child's parent, to move it when it changes.
    parent: HashMap<(String, String), Parent>,
    /// A relist in progress (after a 410, an API server restart): filled
    /// page by page, it replaces the index only once complete, so that a
    /// PipelineRun looked at meanwhile never sees its children missing.
    relist: Option<Box<Children>>,
}

/// The PipelineRun that controls `run`, by its owner reference.
fn parent_of(run: &TaskRun) -> Option<Parent> {
    let owner = run
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "PipelineRun")?;
    Some((run.namespace().unwrap_or_default(), owner.name.clone()))
}

impl Children {
    /// Follows one watch event; returns the PipelineRuns to look at again.
    pub fn apply(&mut self, event: &watcher::Event<TaskRun>) -> Vec<ObjectRef<PipelineRun>> {
        match event {
            watcher::Event::Init => {
                self.relist = Some(Box::default());
                Vec::new()
            }
            watcher::Event::InitApply(run) => {
                self.relist.get_or_insert_default().insert(run);
                Vec::new()
            }
            watcher::Event::Apply(run) => self.insert(run).into_iter().collect(),
            watcher::Event::Delete(run) => self.remove(run).into_iter().collect(),
            watcher::Event::InitDone => {
                let Some(complete) = self.relist.take() else {
                    return Vec::new();
                };
                // Wake every PipelineRun with children, before or after: a
                // child may have been added, gone or ended while the watch
                // was down, and no later event would say so. Once per relist.
                let parents: BTreeSet<&Parent> = self.of.keys().chain(complete.of.keys()).collect();
                let woken = parents
                    .into_iter()
                    .map(|(ns, name)| ObjectRef::new(name).within(ns))
                    .collect();
                self.of = complete.of;
                self.parent = complete.parent;
                woken
            }
        }
    }

    fn insert(&mut self, run: &TaskRun) -> Option<ObjectRef<PipelineRun>> {
        self.remove(run);
        let parent = parent_of(run)?;
        let key = (parent.0.clone(), run.name_any());
        self.of.entry(parent.clone()).or_default().insert(run.name_any());
        self.parent.insert(key, parent.clone());
        Some(ObjectRef::new(&parent.1).within(&parent.0))
    }

    fn remove(&mut self, run: &TaskRun) -> Option<ObjectRef<PipelineRun>> {
        let key = (run.namespace().unwrap_or_default(), run.name_any());
        let parent = self.parent.remove(&key)?;
        if let Some(names) = self.of.get_mut(&parent) {
            names.remove(&key.1);
            if names.is_empty() {
                self.of.remove(&parent);
            }
        }
        Some(ObjectRef::new(&parent.1).within(&parent.0))
    }

    /// The names of the TaskRuns of PipelineRun `namespace/name`.
    pub fn of(&self, namespace: &str, name: &str) -> Vec<String> {
        self.of
            .get(&(namespace.to_string(), name.to_string()))
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn child(name: &str, parent: Option<&str>) -> TaskRun {
        let owners = parent.map(|p| json!([{"apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun", "name": p, "uid": "u", "controller": true}]));
        serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": name, "namespace": "ns", "ownerReferences": owners},
            "spec": {"taskRef": {"name": "t"}},
        }))
        .unwrap()
    }

    #[test]
    fn children_are_found_by_their_parent_and_wake_it() {
        let mut index = Children::default();
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitApply(child("p-a", Some("p"))));
        index.apply(&watcher::Event::InitApply(child("lone", None)));
        index.apply(&watcher::Event::InitDone);
        let woken = index.apply(&watcher::Event::Apply(child("p-b", Some("p"))));
        assert_eq!(woken, [ObjectRef::new("p").within("ns")]);
        assert_eq!(index.of("ns", "p"), ["p-a", "p-b"]);
        assert!(index.apply(&watcher::Event::Apply(child("lone", None))).is_empty());
        assert_eq!(index.apply(&watcher::Event::Delete(child("p-a", Some("p")))).len(), 1);
        assert_eq!(index.of("ns", "p"), ["p-b"]);
        index.apply(&watcher::Event::Delete(child("p-b", Some("p"))));
        assert!(
            index.of("ns", "p").is_empty() && index.of.is_empty(),
            "nothing kept for a run without children"
        );
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitDone);
        assert!(index.parent.is_empty());
    }

    /// A relist (after a 410) comes page by page: until it is complete the
    /// index still answers with what it knew, then it takes the new list
    /// at once and wakes every run with children (any may have changed).
    #[test]
    fn a_relist_replaces_the_index_only_once_complete() {
        let mut index = Children::default();
        for name in ["p-a", "p-b"] {
            index.apply(&watcher::Event::Apply(child(name, Some("p"))));
        }
        index.apply(&watcher::Event::Apply(child("q-a", Some("q"))));
        index.apply(&watcher::Event::Init);
        assert_eq!(index.of("ns", "p"), ["p-a", "p-b"], "not cleared by the relist's start");
        index.apply(&watcher::Event::InitApply(child("p-a", Some("p"))));
        assert_eq!(index.of("ns", "p"), ["p-a", "p-b"], "not half-filled");
        index.apply(&watcher::Event::InitApply(child("q-a", Some("q"))));
        let woken = index.apply(&watcher::Event::InitDone);
        assert_eq!(
            woken,
            [ObjectRef::new("p").within("ns"), ObjectRef::new("q").within("ns")],
            "p-b went, and q-a may have ended, while the watch was down"
        );
        assert_eq!(index.of("ns", "p"), ["p-a"]);
        assert_eq!(index.of("ns", "q"), ["q-a"]);
    }
}
