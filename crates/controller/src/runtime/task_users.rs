//! Which Pipelines use each Task, kept from the Pipeline watch: when a
//! Task changes, the Pipelines that reference it are checked again (their
//! `Valid` condition may name a result the Task now declares) without a
//! scan of every Pipeline.

use std::collections::{BTreeSet, HashMap};

use kube::ResourceExt;
use kube::runtime::watcher;
use minitask_api::{Pipeline, TaskKind};

/// A Task, or a Pipeline, by namespace and name; a ClusterTask's namespace
/// is empty.
type Key = (String, String);

#[derive(Debug, Default)]
pub struct TaskUsers {
    users: HashMap<Key, BTreeSet<Key>>,
    /// The Tasks each Pipeline uses, to move it when it changes.
    uses: HashMap<Key, BTreeSet<Key>>,
    /// A relist in progress: it replaces the index once complete.
    relist: Option<Box<TaskUsers>>,
}

/// The Tasks and ClusterTasks `pipeline` names in `taskRef`s.
fn tasks_of(pipeline: &Pipeline) -> BTreeSet<Key> {
    let namespace = pipeline.namespace().unwrap_or_default();
    let tasks = pipeline.spec.tasks.iter().chain(&pipeline.spec.finally);
    let key = |r: &minitask_api::TaskRef| match r.kind {
        TaskKind::Task => (namespace.clone(), r.name.clone()),
        TaskKind::ClusterTask => (String::new(), r.name.clone()),
    };
    tasks.filter_map(|t| Some(key(t.task_ref.as_ref()?))).collect()
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
            self.users.entry(task.clone()).or_default().insert(key.clone());
        }
        self.uses.insert(key, tasks);
    }

    fn remove(&mut self, pipeline: &Key) {
        for task in self.uses.remove(pipeline).unwrap_or_default() {
            if let Some(users) = self.users.get_mut(&task) {
                users.remove(pipeline);
                if users.is_empty() {
                    self.users.remove(&task);
                }
            }
        }
    }

    /// The Pipelines (namespace, name) that use the Task `task` of
    /// `namespace`, or the ClusterTask `task` when `namespace` is empty.
    pub fn of(&self, namespace: &str, task: &str) -> Vec<Key> {
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

    /// A Pipeline of namespace `ns` using `tasks`; `cluster/x` names the
    /// ClusterTask x.
    fn pipeline(name: &str, tasks: &[&str]) -> Pipeline {
        let reference = |t: &str| match t.strip_prefix("cluster/") {
            Some(name) => json!({"name": name, "kind": "ClusterTask"}),
            None => json!({"name": t}),
        };
        let tasks: Vec<_> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"name": format!("t{i}"), "taskRef": reference(t)}))
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "Pipeline",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"tasks": tasks},
        }))
        .unwrap()
    }

    fn names(keys: Vec<Key>) -> Vec<String> {
        keys.into_iter().map(|(ns, name)| format!("{ns}/{name}")).collect()
    }

    #[test]
    fn pipelines_are_found_by_the_cluster_tasks_they_use() {
        let mut index = TaskUsers::default();
        index.apply(&watcher::Event::Apply(pipeline("ci", &["cluster/git", "build"])));
        assert_eq!(names(index.of("", "git")), ["ns/ci"]);
        assert!(index.of("ns", "git").is_empty(), "a Task git of ns is another Task");
        assert!(index.of("", "build").is_empty());
        index.apply(&watcher::Event::Apply(pipeline("ci", &["git"])));
        assert!(index.of("", "git").is_empty());
        assert_eq!(names(index.of("ns", "git")), ["ns/ci"]);
    }

    #[test]
    fn pipelines_are_found_by_the_tasks_they_use() {
        let mut index = TaskUsers::default();
        index.apply(&watcher::Event::Apply(pipeline("ci", &["git", "build"])));
        index.apply(&watcher::Event::Apply(pipeline("nightly", &["build"])));
        assert_eq!(names(index.of("ns", "build")), ["ns/ci", "ns/nightly"]);
        assert_eq!(names(index.of("ns", "git")), ["ns/ci"]);
        assert!(index.of("other", "build").is_empty());
        // ci stops using git; nightly goes.
        index.apply(&watcher::Event::Apply(pipeline("ci", &["build"])));
        index.apply(&watcher::Event::Delete(pipeline("nightly", &["build"])));
        assert!(index.of("ns", "git").is_empty());
        assert_eq!(names(index.of("ns", "build")), ["ns/ci"]);
        // A relist replaces the index once complete.
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitApply(pipeline("new", &["git"])));
        assert_eq!(
            names(index.of("ns", "build")),
            ["ns/ci"],
            "still answering during the relist"
        );
        index.apply(&watcher::Event::InitDone);
        assert!(index.of("ns", "build").is_empty());
        assert_eq!(names(index.of("ns", "git")), ["ns/new"]);
    }
}
