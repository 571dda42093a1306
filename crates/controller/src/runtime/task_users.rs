//! Which Pipelines use each Task, kept from the Pipeline watch: when a
//! Task changes, the Pipelines that reference it are checked again (their
//! `Valid` condition may name a result the Task now declares) without a
//! scan of every Pipeline.

use std::collections::{BTreeSet, HashMap};

use kube::ResourceExt;
use kube::runtime::watcher;
use minitask_api::Pipeline;

/// A Task, or a Pipeline, by namespace and name.
type Key = (String, String);

#[derive(Debug, Default)]
pub struct TaskUsers {
    users: HashMap<Key, BTreeSet<String>>,
    /// The Tasks each Pipeline uses, to move it when it changes.
    uses: HashMap<Key, BTreeSet<String>>,
    /// A relist in progress: it replaces the index once complete.
    relist: Option<Box<TaskUsers>>,
}

/// The Tasks `pipeline` names in `taskRef`s.
fn tasks_of(pipeline: &Pipeline) -> BTreeSet<String> {
    let tasks = pipeline.spec.tasks.iter().chain(&pipeline.spec.finally);
    tasks.filter_map(|t| Some(t.task_ref.as_ref()?.name.clone())).collect()
}

impl TaskUsers {
    /// Follows one event of the Pipeline watch.
    pub fn apply(&mut self, event: &watcher::Event<Pipeline>) {
        match event {
            watcher::Event::Init => self.relist = Some(Box::default()),
            watcher::Event::InitApply(p) => self.relist.get_or_insert_default().insert(p),
            watcher::Event::Apply(p) => self.insert(p),
            watcher::Event::Delete(p) => self.remove(&key(p)),
            watcher::Event::InitDone => {
                if let Some(complete) = self.relist.take() {
                    self.users = complete.users;
                    self.uses = complete.uses;
                }
            }
        }
    }

    fn insert(&mut self, pipeline: &Pipeline) {
        let key = key(pipeline);
        self.remove(&key);
        let tasks = tasks_of(pipeline);
        for task in &tasks {
            let users = self.users.entry((key.0.clone(), task.clone())).or_default();
            users.insert(key.1.clone());
        }
        self.uses.insert(key, tasks);
    }

    fn remove(&mut self, pipeline: &Key) {
        for task in self.uses.remove(pipeline).unwrap_or_default() {
            let task = (pipeline.0.clone(), task);
            if let Some(users) = self.users.get_mut(&task) {
                users.remove(&pipeline.1);
                if users.is_empty() {
                    self.users.remove(&task);
                }
            }
        }
    }

    /// The Pipelines of `namespace` that use Task `task`.
    pub fn of(&self, namespace: &str, task: &str) -> Vec<String> {
        let key = (namespace.to_string(), task.to_string());
        self.users
            .get(&key)
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default()
    }
}

fn key(pipeline: &Pipeline) -> Key {
    (pipeline.namespace().unwrap_or_default(), pipeline.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pipeline(name: &str, tasks: &[&str]) -> Pipeline {
        let tasks: Vec<_> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"name": format!("t{i}"), "taskRef": {"name": t}}))
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "Pipeline",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"tasks": tasks},
        }))
        .unwrap()
    }

    #[test]
    fn pipelines_are_found_by_the_tasks_they_use() {
        let mut index = TaskUsers::default();
        index.apply(&watcher::Event::Apply(pipeline("ci", &["git", "build"])));
        index.apply(&watcher::Event::Apply(pipeline("nightly", &["build"])));
        assert_eq!(index.of("ns", "build"), ["ci", "nightly"]);
        assert_eq!(index.of("ns", "git"), ["ci"]);
        assert!(index.of("other", "build").is_empty());
        // ci stops using git; nightly goes.
        index.apply(&watcher::Event::Apply(pipeline("ci", &["build"])));
        index.apply(&watcher::Event::Delete(pipeline("nightly", &["build"])));
        assert!(index.of("ns", "git").is_empty());
        assert_eq!(index.of("ns", "build"), ["ci"]);
        // A relist replaces the index once complete.
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitApply(pipeline("new", &["git"])));
        assert_eq!(index.of("ns", "build"), ["ci"], "still answering during the relist");
        index.apply(&watcher::Event::InitDone);
        assert!(index.of("ns", "build").is_empty());
        assert_eq!(index.of("ns", "git"), ["new"]);
    }
}
