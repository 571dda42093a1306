//! The runs of the dashboard's scope, kept current by one watch per kind
//! and held as small summaries (not whole objects), so that a namespace of
//! 10,000 runs is listed newest first, filtered and paged from memory.
//! Pure: `Summary`, `Filter`, `select`. Shell: `Index::follow`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use minitask_api::{PipelineRun, TaskRun};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunKind {
    TaskRun,
    PipelineRun,
}

impl RunKind {
    pub fn plural(self) -> &'static str {
        match self {
            RunKind::TaskRun => "taskruns",
            RunKind::PipelineRun => "pipelineruns",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            RunKind::TaskRun => "TaskRun",
            RunKind::PipelineRun => "PipelineRun",
        }
    }

    pub fn parse(text: &str) -> Option<RunKind> {
        match text {
            "taskruns" | "taskrun" => Some(RunKind::TaskRun),
            "pipelineruns" | "pipelinerun" => Some(RunKind::PipelineRun),
            _ => None,
        }
    }
}

/// What the list shows of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub kind: RunKind,
    pub namespace: String,
    pub name: String,
    /// The Task or Pipeline it runs ("" when inline).
    pub owner: String,
    pub phase: String,
    pub reason: String,
    pub created: Option<Time>,
    pub started: Option<Time>,
    pub duration: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl Summary {
    pub fn of_taskrun(run: &TaskRun) -> Summary {
        let status = run.status.as_ref();
        Summary {
            kind: RunKind::TaskRun,
            namespace: run.namespace().unwrap_or_default(),
            name: run.name_any(),
            owner: run.task_name().unwrap_or_default().to_string(),
            phase: format!("{:?}", run.phase()),
            reason: status.and_then(|s| s.reason.clone()).unwrap_or_default(),
            created: run.meta().creation_timestamp.clone(),
            started: status.and_then(|s| s.start_time.clone()),
            duration: status.and_then(|s| s.duration.clone()),
            labels: run.labels().clone(),
        }
    }

    pub fn of_pipelinerun(run: &PipelineRun) -> Summary {
        let status = run.status.as_ref();
        Summary {
            kind: RunKind::PipelineRun,
            namespace: run.namespace().unwrap_or_default(),
            name: run.name_any(),
            owner: run.pipeline_name().unwrap_or_default().to_string(),
            phase: format!("{:?}", run.phase()),
            reason: status.and_then(|s| s.reason.clone()).unwrap_or_default(),
            created: run.meta().creation_timestamp.clone(),
            started: status.and_then(|s| s.start_time.clone()),
            duration: status.and_then(|s| s.duration.clone()),
            labels: run.labels().clone(),
        }
    }

    pub fn key(&self) -> Key {
        (self.kind, self.namespace.clone(), self.name.clone())
    }
}

pub type Key = (RunKind, String, String);

/// What the list page asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub kind: Option<RunKind>,
    pub namespace: Option<String>,
    /// The Task or Pipeline.
    pub owner: Option<String>,
    pub phase: Option<String>,
    /// `key=value` or `key` (exists), all of them.
    pub labels: Vec<(String, Option<String>)>,
}

impl Filter {
    /// `app=web,tier` as a selector; an empty text selects all.
    pub fn parse_labels(text: &str) -> Vec<(String, Option<String>)> {
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| match t.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
                None => (t.to_string(), None),
            })
            .collect()
    }

    pub fn matches(&self, run: &Summary) -> bool {
        self.kind.is_none_or(|k| k == run.kind)
            && self.namespace.as_ref().is_none_or(|n| *n == run.namespace)
            && self.owner.as_ref().is_none_or(|o| *o == run.owner)
            && self.phase.as_ref().is_none_or(|p| *p == run.phase)
            && self.labels.iter().all(|(k, v)| match v {
                Some(v) => run.labels.get(k) == Some(v),
                None => run.labels.contains_key(k),
            })
    }
}

/// One page of the runs that match, newest first (then by name), and how
/// many match in all.
pub fn select<'a>(
    runs: impl Iterator<Item = &'a Summary>,
    filter: &Filter,
    page: usize,
    per_page: usize,
) -> (Vec<&'a Summary>, usize) {
    let mut matching: Vec<&Summary> = runs.filter(|r| filter.matches(r)).collect();
    let total = matching.len();
    let created = |r: &Summary| r.created.as_ref().map(|t| t.0);
    matching.sort_by(|a, b| created(b).cmp(&created(a)).then_with(|| a.name.cmp(&b.name)));
    let page = matching.into_iter().skip(page * per_page).take(per_page).collect();
    (page, total)
}

/// The runs in the scope, with a version that changes with them.
pub struct Index {
    runs: RwLock<BTreeMap<Key, Summary>>,
    /// Bumped on every change the watches see.
    changed: watch::Sender<u64>,
    /// How many kinds were listed (or failed to be) once.
    ready: watch::Sender<usize>,
    /// What the last failed list or watch said, until one succeeds.
    error: RwLock<Option<String>>,
}

impl Index {
    pub fn new() -> Arc<Index> {
        Arc::new(Index {
            runs: RwLock::new(BTreeMap::new()),
            changed: watch::channel(0).0,
            ready: watch::channel(0).0,
            error: RwLock::new(None),
        })
    }

    /// Reads the runs (under a lock: keep `read` short).
    pub fn read<T>(&self, read: impl FnOnce(&BTreeMap<Key, Summary>) -> T) -> T {
        read(&self.runs.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The version of what `read` sees now.
    pub fn version(&self) -> u64 {
        *self.changed.borrow()
    }

    /// Waits until both kinds were listed once (or `limit` passed).
    pub async fn listed(&self, limit: std::time::Duration) {
        let mut ready = self.ready.subscribe();
        let _ = tokio::time::timeout(limit, ready.wait_for(|n| *n >= 2)).await;
    }

    pub fn error(&self) -> Option<String> {
        self.error.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_error(&self, error: Option<String>) {
        *self.error.write().unwrap_or_else(|e| e.into_inner()) = error;
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// Follows TaskRuns and PipelineRuns through `taskruns`/`pipelineruns`
    /// (a namespace's, or all) until the process ends.
    pub fn follow(self: &Arc<Index>, taskruns: Api<TaskRun>, pipelineruns: Api<PipelineRun>, server: String) {
        tokio::spawn(
            self.clone()
                .watch(taskruns, RunKind::TaskRun, Summary::of_taskrun, server.clone()),
        );
        tokio::spawn(
            self.clone()
                .watch(pipelineruns, RunKind::PipelineRun, Summary::of_pipelinerun, server),
        );
    }

    async fn watch<K>(self: Arc<Index>, api: Api<K>, kind: RunKind, summary: fn(&K) -> Summary, server: String)
    where
        K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
    {
        let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
        let mut relist: HashSet<Key> = HashSet::new();
        let mut listed = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => relist.clear(),
                Ok(watcher::Event::InitApply(object)) => {
                    let run = summary(&object);
                    relist.insert(run.key());
                    self.runs
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(run.key(), run);
                }
                Ok(watcher::Event::InitDone) => {
                    self.runs
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|key, _| key.0 != kind || relist.contains(key));
                    relist.clear();
                    self.set_error(None);
                    if !listed {
                        listed = true;
                        self.ready.send_modify(|n| *n += 1);
                    }
                    self.bump();
                }
                Ok(watcher::Event::Apply(object)) => {
                    let run = summary(&object);
                    self.runs
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(run.key(), run);
                    self.bump();
                }
                Ok(watcher::Event::Delete(object)) => {
                    let run = summary(&object);
                    self.runs.write().unwrap_or_else(|e| e.into_inner()).remove(&run.key());
                    self.bump();
                }
                Err(error) => {
                    let text = match &error {
                        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) => {
                            crate::errors::describe(e, &format!("listing {}", kind.plural()), &server)
                        }
                        other => format!("watching {}: {other}", kind.plural()),
                    };
                    self.set_error(Some(text));
                    if !listed {
                        listed = true;
                        self.ready.send_modify(|n| *n += 1);
                    }
                    self.bump();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: RunKind, name: &str, created: i64, phase: &str, labels: &[(&str, &str)]) -> Summary {
        Summary {
            kind,
            namespace: "ci".into(),
            name: name.into(),
            owner: "build".into(),
            phase: phase.into(),
            reason: String::new(),
            created: Some(Time(k8s_openapi::jiff::Timestamp::from_second(created).unwrap())),
            started: None,
            duration: None,
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn runs_are_listed_newest_first_filtered_and_paged() {
        let runs = [
            run(RunKind::TaskRun, "a", 10, "Succeeded", &[("team", "x")]),
            run(RunKind::TaskRun, "b", 30, "Failed", &[("team", "x")]),
            run(RunKind::PipelineRun, "c", 20, "Running", &[]),
            run(RunKind::TaskRun, "d", 40, "Succeeded", &[("team", "y")]),
        ];
        fn names((page, total): (Vec<&Summary>, usize)) -> (String, usize) {
            (
                page.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(" "),
                total,
            )
        }
        assert_eq!(
            names(select(runs.iter(), &Filter::default(), 0, 3)),
            ("d b c".into(), 4)
        );
        assert_eq!(names(select(runs.iter(), &Filter::default(), 1, 3)), ("a".into(), 4));
        let filter = Filter {
            kind: Some(RunKind::TaskRun),
            labels: Filter::parse_labels("team=x"),
            ..Filter::default()
        };
        assert_eq!(names(select(runs.iter(), &filter, 0, 10)), ("b a".into(), 2));
        let filter = Filter {
            phase: Some("Succeeded".into()),
            labels: Filter::parse_labels(" team , "),
            ..Filter::default()
        };
        assert_eq!(names(select(runs.iter(), &filter, 0, 10)), ("d a".into(), 2));
    }
}
