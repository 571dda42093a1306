//! A run's page, its logs (a tail, the whole text, or followed), and a
//! PipelineRun's logs of every task.

use std::collections::BTreeMap;

use futures::{AsyncBufReadExt, StreamExt};
use hyper::body::Bytes;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, LogParams};
use minitask_api::{LABEL_PIPELINERUN, TaskRun};

use super::{LOG_TAIL, Reply, State, not_found, status_of};
use crate::archive;
use crate::cluster::Cluster;
use crate::dashboard::index::RunKind;
use crate::dashboard::pages::{self, taskrun::Source, taskrun::StepLog};
use crate::dashboard::route::fields;
use crate::errors;
use crate::resolve::{pipelineruns, runs};

/// A TaskRun's or PipelineRun's page, from the cluster or else the archive.
pub async fn run_page(state: &State, path: &str, ns: &str, kind: RunKind, name: &str, fragment: bool) -> Reply {
    let cluster = state.in_ns(ns);
    let now = Timestamp::now();
    let title = format!("{} {name}", kind.word());
    let csrf = &state.session.csrf;
    match kind {
        RunKind::TaskRun => {
            let doing = format!("reading TaskRun {name} in namespace {ns}");
            let (run, source, archived) = match runs(&cluster).get_opt(name).await {
                Ok(Some(run)) => (run, Source::Cluster, None),
                Ok(None) => match archive::taskrun(&cluster, name).await {
                    Ok(Some(a)) => {
                        let source = Source::Archive {
                            archived_at: a.info.archived_at.clone().unwrap_or_default(),
                            notes: a.info.notes.clone(),
                        };
                        (a.run, source, Some(a.info))
                    }
                    _ => return not_found(state, kind, name, ns),
                },
                Err(e) => return state.failure(status_of(&e), &title, &errors::describe(&e, &doing, &cluster.server)),
            };
            let events = match archived {
                None => crate::describe::events(&cluster, "TaskRun", name)
                    .await
                    .unwrap_or_default(),
                Some(_) => Vec::new(),
            };
            let live = pages::taskrun::live(&run, &source, &events, csrf, now);
            let below = match fragment {
                true => None,
                false => {
                    let logs = match &archived {
                        None => step_logs(&cluster, &run).await,
                        Some(info) => archived_logs(&cluster, name, info).await,
                    };
                    let attempts = run.status.as_ref().map_or(0, |s| s.retries_status.len()) + 1;
                    Some(pages::taskrun::logs(ns, name, &logs, attempts))
                }
            };
            state.page(&title, path, fragment, live, below)
        }
        RunKind::PipelineRun => {
            let doing = format!("reading PipelineRun {name} in namespace {ns}");
            let (run, source, children) = match pipelineruns(&cluster).get_opt(name).await {
                Ok(Some(run)) => {
                    let selector = format!("{LABEL_PIPELINERUN}={name}");
                    let children: BTreeMap<String, TaskRun> = runs(&cluster)
                        .list(&ListParams::default().labels(&selector))
                        .await
                        .map(|l| l.items.into_iter().map(|r| (r.name_any(), r)).collect())
                        .unwrap_or_default();
                    (run, Source::Cluster, children)
                }
                Ok(None) => match archive::pipelinerun(&cluster, name).await {
                    Ok(Some(a)) => {
                        let children = archive::children(&cluster, &a.info)
                            .await
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(n, c)| (n, c.run))
                            .collect();
                        let source = Source::Archive {
                            archived_at: a.info.archived_at.clone().unwrap_or_default(),
                            notes: a.info.notes.clone(),
                        };
                        (a.run, source, children)
                    }
                    _ => return not_found(state, kind, name, ns),
                },
                Err(e) => return state.failure(status_of(&e), &title, &errors::describe(&e, &doing, &cluster.server)),
            };
            let events = match source {
                Source::Cluster => crate::describe::events(&cluster, "PipelineRun", name)
                    .await
                    .unwrap_or_default(),
                Source::Archive { .. } => Vec::new(),
            };
            let live = pages::pipelinerun::live(&run, &children, &source, &events, csrf);
            state.page(&title, path, fragment, live, None)
        }
    }
}

/// Each step's log, for every attempt: the tail of what the pod holds;
/// then the sidecars' (`sidecar NAME`, as the archive names them), once a
/// step of that attempt has started (sidecars start before the steps).
async fn step_logs(cluster: &Cluster, run: &TaskRun) -> Vec<StepLog> {
    let Some(status) = run.status.as_ref() else {
        return Vec::new();
    };
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let mut attempts: Vec<(&str, &[minitask_api::StepState])> = status
        .retries_status
        .iter()
        .map(|a| (a.pod_name.as_str(), a.steps.as_slice()))
        .collect();
    if let Some(pod) = &status.pod_name {
        attempts.push((pod.as_str(), status.steps.as_slice()));
    }
    let sidecars: Vec<&str> = status
        .task_spec
        .iter()
        .flat_map(|t| t.sidecars.iter().map(|s| s.name.as_str()))
        .collect();
    let going = !run.phase().is_terminal();
    let last = attempts.len();
    let wanted = attempts.iter().enumerate().flat_map(|(i, (pod, steps))| {
        let started: Vec<(String, String, bool)> = steps
            .iter()
            .filter(|s| s.running.is_some() || s.terminated.is_some())
            .map(|s| (s.name.clone(), s.container.clone(), s.running.is_some()))
            .collect();
        let sidecars = match started.is_empty() {
            true => Vec::new(),
            false => sidecars
                .iter()
                .map(|name| {
                    (
                        format!("sidecar {name}"),
                        format!("sidecar-{name}"),
                        going && i + 1 == last,
                    )
                })
                .collect(),
        };
        started
            .into_iter()
            .chain(sidecars)
            .map(move |(step, container, live)| (i + 1, pod.to_string(), step, container, live))
    });
    let reads = wanted.map(|(attempt, pod, step, container, live)| {
        let pods = pods.clone();
        async move {
            let params = LogParams {
                container: Some(container),
                tail_lines: Some(LOG_TAIL),
                limit_bytes: Some(2 << 20),
                ..LogParams::default()
            };
            let text = pods.logs(&pod, &params).await.map_err(|e| match &e {
                kube::Error::Api(s) if s.code == 404 => format!("pod {pod} is gone, and its log with it"),
                _ => format!("could not read the log: {}", errors::root_cause(&e)),
            });
            StepLog {
                attempt,
                cut: text.as_ref().is_ok_and(|t| t.lines().count() as i64 >= LOG_TAIL),
                live,
                step,
                text,
            }
        }
    });
    futures::future::join_all(reads).await
}

/// A gone run's logs, from the archive.
async fn archived_logs(cluster: &Cluster, name: &str, info: &archive::Info) -> Vec<StepLog> {
    let mut out = Vec::new();
    for log in &info.logs {
        let text = match (&log.key, &log.missing) {
            (Some(_), _) => archive::log_text(cluster, name, &log.step, log.attempt, Some(LOG_TAIL))
                .await
                .map_err(|e| e.to_string())
                .and_then(|t| t.ok_or_else(|| "the archive holds no log of this step".to_string())),
            (None, missing) => Err(format!("no log: {}", missing.as_deref().unwrap_or("not archived"))),
        };
        out.push(StepLog {
            attempt: log.attempt as usize,
            step: log.step.clone(),
            cut: text.as_ref().is_ok_and(|t| t.lines().count() as i64 >= LOG_TAIL),
            text,
            live: false,
        });
    }
    out
}

/// `/ns/NS/taskruns/NAME/log?step=&attempt=`: the whole log as text
/// (`raw=1`), or its lines as they come (`follow=1`, server-sent events).
pub async fn log(state: &State, ns: &str, name: &str, query: &str) -> Reply {
    let f = fields(query);
    let cluster = state.in_ns(ns);
    let step = f.get("step").cloned().unwrap_or_default();
    let attempt: usize = f.get("attempt").and_then(|a| a.parse().ok()).unwrap_or(1);
    let follow = f.get("follow").is_some_and(|v| v == "1");
    let run = match runs(&cluster).get_opt(name).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            // Gone: the archive's copy, whole.
            return match archive::log_text(&cluster, name, &step, attempt as u32, None).await {
                Ok(Some(text)) => Reply::Text(Box::pin(futures::stream::once(async move { Bytes::from(text) }))),
                _ => not_found(state, RunKind::TaskRun, name, ns),
            };
        }
        Err(e) => {
            let doing = format!("reading TaskRun {name} in namespace {ns}");
            return state.failure(status_of(&e), "Log", &errors::describe(&e, &doing, &cluster.server));
        }
    };
    let status = run.status.clone().unwrap_or_default();
    let (pod, steps) = match attempt {
        a if a >= 1 && a <= status.retries_status.len() => {
            let earlier = &status.retries_status[a - 1];
            (Some(earlier.pod_name.clone()), earlier.steps.clone())
        }
        _ => (status.pod_name.clone(), status.steps.clone()),
    };
    // A sidecar's log is asked for as `sidecar NAME`, as the archive has it.
    let sidecar = step.strip_prefix("sidecar ").filter(|wanted| {
        let mut declared = status.task_spec.iter().flat_map(|t| t.sidecars.iter());
        declared.any(|s| s.name == *wanted)
    });
    let container = match sidecar {
        Some(sidecar) => Some(format!("sidecar-{sidecar}")),
        None => steps.iter().find(|s| s.name == step).map(|s| s.container.clone()),
    };
    let (Some(pod), Some(container)) = (pod, container) else {
        return state.failure(
            404,
            "Log",
            &format!("TaskRun {name} has no step {step:?} in attempt {attempt}"),
        );
    };
    let params = LogParams {
        container: Some(container),
        follow,
        tail_lines: follow.then_some(LOG_TAIL),
        ..LogParams::default()
    };
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    let reader = match pods.log_stream(&pod, &params).await {
        Ok(reader) => reader,
        Err(e) => {
            let doing = format!("reading the log of step {step} of TaskRun {name}");
            return state.failure(status_of(&e), "Log", &errors::describe(&e, &doing, &cluster.server));
        }
    };
    let lines = reader
        .lines()
        .take_while(|line| std::future::ready(line.is_ok()))
        .filter_map(|line| std::future::ready(line.ok()));
    match follow {
        false => Reply::Text(Box::pin(lines.map(|l| Bytes::from(format!("{l}\n"))))),
        true => Reply::Events(Box::pin(crate::dashboard::live::log_events(lines))),
    }
}

/// Every task's logs of a PipelineRun (from the cluster, or the archive
/// for TaskRuns gone from it).
pub async fn pipeline_logs(state: &State, ns: &str, name: &str) -> Reply {
    let cluster = state.in_ns(ns);
    let title = format!("Logs of PipelineRun {name}");
    let doing = format!("reading PipelineRun {name} in namespace {ns}");
    let order: Vec<(String, String)> = match pipelineruns(&cluster).get_opt(name).await {
        Ok(Some(run)) => {
            let order: Vec<(String, String)> = run
                .status
                .unwrap_or_default()
                .tasks
                .into_iter()
                .flat_map(|t| t.task_runs.into_iter().map(move |r| (t.name.clone(), r)))
                .collect();
            order
        }
        Ok(None) => match archive::pipelinerun(&cluster, name).await {
            Ok(Some(a)) => a
                .run
                .status
                .unwrap_or_default()
                .tasks
                .into_iter()
                .flat_map(|t| t.task_runs.into_iter().map(move |r| (t.name.clone(), r)))
                .collect(),
            _ => return not_found(state, RunKind::PipelineRun, name, ns),
        },
        Err(e) => return state.failure(status_of(&e), &title, &errors::describe(&e, &doing, &cluster.server)),
    };
    let reads = order.into_iter().map(|(task, run)| {
        let cluster = cluster.clone();
        async move {
            let (logs, attempts) = match runs(&cluster).get_opt(&run).await {
                Ok(Some(taskrun)) => {
                    let attempts = taskrun.status.as_ref().map_or(0, |s| s.retries_status.len()) + 1;
                    (step_logs(&cluster, &taskrun).await, attempts)
                }
                _ => match archive::taskrun(&cluster, &run).await {
                    Ok(Some(a)) => {
                        let attempts = a.info.logs.iter().map(|l| l.attempt as usize).max().unwrap_or(1);
                        (archived_logs(&cluster, &run, &a.info).await, attempts)
                    }
                    _ => (Vec::new(), 1),
                },
            };
            (task, run, logs, attempts)
        }
    });
    let tasks = futures::future::join_all(reads).await;
    Reply::Html(
        200,
        pages::page(&state.frame(&title, None), pages::pipelinerun::logs(ns, name, &tasks)),
    )
}
