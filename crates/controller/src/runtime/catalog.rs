//! The Tasks a run may name, from the caches: the Tasks of its namespace
//! and the cluster's ClusterTasks. Never a GET per run.

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use minitask_api::{ClusterTask, Task, TaskKind, TaskRef, TaskSpec};

#[derive(Clone)]
pub struct Catalog {
    pub tasks: Store<Task>,
    pub cluster: Store<ClusterTask>,
}

impl Catalog {
    /// What `f` makes of the spec `reference` names, as seen from
    /// `namespace`; None when the cache lacks it.
    pub fn with<R>(&self, reference: &TaskRef, namespace: &str, f: impl FnOnce(&TaskSpec) -> R) -> Option<R> {
        match reference.kind {
            TaskKind::Task => self
                .tasks
                .get(&ObjectRef::new(&reference.name).within(namespace))
                .map(|t| f(&t.spec)),
            TaskKind::ClusterTask => self.cluster.get(&ObjectRef::new(&reference.name)).map(|t| f(&t.spec)),
        }
    }

    pub fn has(&self, reference: &TaskRef, namespace: &str) -> bool {
        self.with(reference, namespace, |_| ()).is_some()
    }

    /// `Task "x" not found in namespace "ns" (did you mean "y"?)`, or the
    /// same for a ClusterTask, with a hint when the other kind has the name.
    pub fn not_found(&self, reference: &TaskRef, namespace: &str) -> String {
        let name = &reference.name;
        let (place, names, other) = match reference.kind {
            TaskKind::Task => (
                format!("in namespace {namespace:?}"),
                self.task_names(namespace),
                self.cluster.get(&ObjectRef::new(name)).map(|_| TaskKind::ClusterTask),
            ),
            TaskKind::ClusterTask => (
                "in the cluster".to_string(),
                self.cluster.state().iter().map(|t| t.name_any()).collect(),
                self.tasks
                    .get(&ObjectRef::new(name).within(namespace))
                    .map(|_| TaskKind::Task),
            ),
        };
        let hint = match other {
            Some(kind) => format!(
                " (a {} {name:?} exists: set taskRef.kind to {})",
                kind.as_str(),
                kind.as_str()
            ),
            None => minitask_api::did_you_mean(&minitask_api::similar(name, names.iter().map(String::as_str))),
        };
        format!("{} not found {place}{hint}", reference.describe())
    }

    fn task_names(&self, namespace: &str) -> Vec<String> {
        let tasks = self.tasks.state();
        tasks
            .iter()
            .filter(|t| t.namespace().as_deref() == Some(namespace))
            .map(|t| t.name_any())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::{reflector, watcher};
    use minitask_api::ClusterTaskSpec;

    use super::*;
    use crate::fixtures::task;

    fn catalog() -> Catalog {
        let (tasks, mut task_writer) = reflector::store();
        let (cluster, mut cluster_writer) = reflector::store();
        let mut local = Task::new("build", task(&["local"]));
        local.metadata.namespace = Some("ns".into());
        task_writer.apply_watcher_event(&watcher::Event::Apply(local));
        for name in ["git-clone", "build"] {
            let shared = ClusterTask::new(name, ClusterTaskSpec(task(&["shared"])));
            cluster_writer.apply_watcher_event(&watcher::Event::Apply(shared));
        }
        Catalog { tasks, cluster }
    }

    #[test]
    fn a_reference_finds_its_kind_only() {
        let catalog = catalog();
        let step = |r: &TaskRef, ns: &str| catalog.with(r, ns, |s| s.steps[0].name.clone());
        let cluster = |name: &str| TaskRef {
            name: name.into(),
            kind: TaskKind::ClusterTask,
        };
        assert_eq!(step(&TaskRef::task("build"), "ns").as_deref(), Some("local"));
        assert_eq!(step(&cluster("build"), "ns").as_deref(), Some("shared"));
        assert_eq!(
            step(&cluster("git-clone"), "other").as_deref(),
            Some("shared"),
            "from any namespace"
        );
        assert_eq!(
            step(&TaskRef::task("git-clone"), "ns"),
            None,
            "a Task is not a ClusterTask"
        );
        assert_eq!(step(&TaskRef::task("build"), "other"), None);
    }

    #[test]
    fn what_is_missing_says_where_it_looked_and_what_was_meant() {
        let catalog = catalog();
        assert_eq!(
            catalog.not_found(&TaskRef::task("git-clone"), "ns"),
            "Task \"git-clone\" not found in namespace \"ns\" (a ClusterTask \"git-clone\" exists: set taskRef.kind to ClusterTask)"
        );
        let cluster = TaskRef {
            name: "git-clon".into(),
            kind: TaskKind::ClusterTask,
        };
        assert_eq!(
            catalog.not_found(&cluster, "ns"),
            "ClusterTask \"git-clon\" not found in the cluster (did you mean \"git-clone\"?)"
        );
        assert_eq!(
            catalog.not_found(&TaskRef::task("buld"), "ns"),
            "Task \"buld\" not found in namespace \"ns\" (did you mean \"build\"?)"
        );
    }
}
