//! A PipelineRun's logs: every task's steps, its TaskRuns in the order
//! they started, each line prefixed `[task/step]`. Following goes on as
//! tasks start, until the run ends; the exit code is then its outcome.

use std::collections::BTreeSet;

use kube::ResourceExt;
use minitask_api::{LABEL_PIPELINE_TASK, Phase, PipelineRun, TaskRun};

use crate::cluster::Cluster;
use crate::errors;
use crate::follow::Outcome;
use crate::logs::{self, Ended, Options};
use crate::resolve::{pipelineruns, runs};
use crate::spinner::{Spinner, following};
use crate::watch::{Seen, until, versions};

/// Prints (or follows, with `options.follow`) every task's logs, or only
/// those of pipeline task `only`.
pub async fn logs(
    cluster: &Cluster,
    run: PipelineRun,
    options: &Options,
    only: Option<&str>,
) -> anyhow::Result<Outcome> {
    let name = run.name_any();
    if let Some(only) = only {
        let spec = run.status.as_ref().and_then(|s| s.pipeline_spec.as_deref());
        let tasks: Vec<&str> = spec
            .map(|s| s.all_tasks().map(|t| t.name.as_str()).collect())
            .unwrap_or_default();
        anyhow::ensure!(
            spec.is_none() || tasks.contains(&only),
            "pipelinerun {name} has no task {only:?}{}; its tasks: {}",
            minitask_api::did_you_mean(&minitask_api::similar(only, tasks.iter().copied())),
            tasks.join(", ")
        );
    }
    following(&cluster.namespace, &format!("pipelinerun/{name}"));
    let mut printed = BTreeSet::new();
    let mut lost: Vec<String> = Vec::new();
    let mut spinner = Spinner::new();
    let mut updates = std::pin::pin!(versions(pipelineruns(cluster), &name));
    let mut current = run;
    loop {
        // The run's TaskRuns not printed yet, in the order they started.
        let mut next: Vec<TaskRun> = Vec::new();
        let names = match only {
            Some(only) => task_run_names_of(&current, only),
            None => task_run_names(&current),
        };
        for child in names.into_iter().filter(|n| !printed.contains(n)) {
            let doing = format!("reading TaskRun {child}");
            if let Some(found) = runs(cluster)
                .get_opt(&child)
                .await
                .map_err(|e| errors::api(&e, &doing, &cluster.server))?
            {
                next.push(found);
            }
        }
        next.sort_by_key(|c| (c.metadata.creation_timestamp.clone(), c.name_any()));
        if let Some(child) = next.into_iter().next() {
            spinner.clear();
            printed.insert(child.name_any());
            let task = task_label(&current, &child);
            let child_options = Options {
                task: Some(task),
                ..options.clone()
            };
            match logs::logs(cluster, child, &child_options).await? {
                Ended::Deleted => eprintln!("a TaskRun of pipelinerun {name} was deleted while it was followed"),
                Ended::Lost(pods) => lost.extend(pods),
                Ended::Finished(_) | Ended::Printed => {}
            }
            continue;
        }
        if !options.follow {
            if printed.is_empty() {
                let why = current.status.as_ref().and_then(|s| s.message.clone());
                eprintln!(
                    "pipelinerun {name} has no TaskRun yet: {}",
                    why.unwrap_or_else(|| "the controller has not seen it yet".into())
                );
            }
            anyhow::ensure!(
                lost.is_empty(),
                "some logs of pipelinerun {name} are lost: pod {} is gone; `kubectl task describe pipelinerun/{name}` still shows how each task ended",
                lost.join(", ")
            );
            return Ok(Outcome::Done);
        }
        if current.phase().is_terminal() {
            return Ok(outcome(&current));
        }
        let why = current
            .status
            .as_ref()
            .and_then(|s| s.message.clone())
            .unwrap_or_else(|| "waiting for the controller".into());
        spinner.show(&format!("{:?}: {why}", current.phase()));
        match futures::StreamExt::next(&mut updates).await {
            Some(Ok(Some(run))) => current = run,
            Some(Ok(None)) | None => {
                spinner.clear();
                eprintln!("pipelinerun {name} was deleted while it was followed");
                return Ok(Outcome::Deleted);
            }
            Some(Err(e)) => return Err(e),
        }
    }
}

/// Streams the logs of every task until the run ends.
pub async fn follow(cluster: &Cluster, run: PipelineRun, to_stderr: bool) -> anyhow::Result<Outcome> {
    let options = Options {
        follow: true,
        to_stderr,
        ..Options::default()
    };
    logs(cluster, run, &options, None).await
}

/// Waits until the run ends, saying what it waits for.
pub async fn wait(cluster: &Cluster, run: PipelineRun) -> anyhow::Result<Outcome> {
    let name = run.name_any();
    following(&cluster.namespace, &format!("pipelinerun/{name}"));
    let mut spinner = Spinner::new();
    let seen = until(pipelineruns(cluster), &name, |run| {
        if run.phase().is_terminal() {
            return Some(run.clone());
        }
        let status = run.status.clone().unwrap_or_default();
        let why = status.message.unwrap_or_else(|| "waiting for the controller".into());
        spinner.show(&format!("{:?}: {why}", run.phase()));
        None
    })
    .await?;
    spinner.clear();
    Ok(match seen {
        Seen::Value(run) => outcome(&run),
        Seen::Deleted | Seen::Missing => {
            eprintln!("pipelinerun {name} was deleted while it was followed");
            Outcome::Deleted
        }
    })
}

/// The TaskRuns the run's status lists.
pub fn task_run_names(run: &PipelineRun) -> Vec<String> {
    run.status
        .iter()
        .flat_map(|s| &s.tasks)
        .flat_map(|t| t.task_runs.clone())
        .collect()
}

/// The TaskRuns the run's status lists for pipeline task `task`.
fn task_run_names_of(run: &PipelineRun, task: &str) -> Vec<String> {
    run.status
        .iter()
        .flat_map(|s| &s.tasks)
        .filter(|t| t.name == task)
        .flat_map(|t| t.task_runs.clone())
        .collect()
}

/// `build` for the TaskRun of task build, `build-2` for a matrix's third.
fn task_label(run: &PipelineRun, child: &TaskRun) -> String {
    let task = child.labels().get(LABEL_PIPELINE_TASK).cloned().unwrap_or_default();
    let prefix = format!("{}-", run.name_any());
    match child.name_any().strip_prefix(&prefix) {
        Some(rest) if rest.starts_with(&task) => rest.to_string(),
        _ => task,
    }
}

/// The outcome of a finished run, said once on stderr.
pub fn outcome(run: &PipelineRun) -> Outcome {
    let status = run.status.clone().unwrap_or_default();
    let message = status.message.unwrap_or_default();
    let name = run.name_any();
    match (run.phase(), status.reason.as_deref()) {
        (Phase::Succeeded, _) => {
            eprintln!("pipelinerun {name} succeeded: {message}");
            Outcome::Succeeded
        }
        (_, reason) => {
            eprintln!(
                "pipelinerun {name} failed ({}): {message}",
                reason.unwrap_or("unknown reason")
            );
            Outcome::Failed
        }
    }
}
