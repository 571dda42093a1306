//! A run's logs: every attempt (earlier ones labelled), every step in
//! order, each line prefixed `[step]`. Following waits for steps to start
//! (saying why they wait), resumes a log stream cut before its container
//! ended, says when a cancelled step is being stopped, and goes on through
//! retries until the run ends or is deleted. Waiting is done with watches.

use std::pin::Pin;

use futures::{AsyncBufReadExt, Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ContainerState, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, LogParams};
use minitask_api::{StepState, TaskRun};

use crate::cluster::Cluster;
use crate::errors;
use crate::output::{colour_stdout, print};
use crate::spinner::Spinner;
use crate::watch::versions;

/// What `logs` shows, and how.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only this step.
    pub step: Option<String>,
    /// Wait for steps, stream to the end, go on through retries.
    pub follow: bool,
    /// Prefix each line with its time.
    pub timestamps: bool,
    /// Only the last N lines of each step.
    pub tail: Option<i64>,
    /// Only this attempt (1 for the first).
    pub attempt: Option<usize>,
    pub no_color: bool,
    /// Log lines go to stderr (stdout holds `-o` output).
    pub to_stderr: bool,
    /// The pipeline task the run is of: lines are prefixed `[task/step]`.
    pub task: Option<String>,
    /// Only this sidecar's log, instead of the steps'.
    pub sidecar: Option<String>,
}

/// How following a run ended.
pub enum Ended {
    /// The run has finished.
    Finished(Box<TaskRun>),
    /// The run was deleted while followed.
    Deleted,
    /// Not following: what there was has been printed.
    Printed,
    /// Not following: printed, but these pods were gone with their logs.
    Lost(Vec<String>),
}

type Updates = Pin<Box<dyn Stream<Item = anyhow::Result<Option<TaskRun>>> + Send>>;

/// One attempt of a run: its pod and its steps as the status records them.
struct Attempt {
    pod: String,
    steps: Vec<StepState>,
    /// How it ended, for an earlier attempt.
    ended: Option<String>,
}

struct Follower<'a> {
    cluster: &'a Cluster,
    pods: Api<Pod>,
    name: String,
    options: &'a Options,
    run: TaskRun,
    updates: Updates,
    deleted: bool,
    spinner: Spinner,
    /// Whether the "stopping" note was said for the current pod.
    said_stopping: bool,
    /// Pods found gone, their logs with them.
    lost: Vec<String>,
}

/// Prints (or follows) the logs of run `name`.
pub async fn logs(cluster: &Cluster, run: TaskRun, options: &Options) -> anyhow::Result<Ended> {
    let name = run.name_any();
    let runs: Api<TaskRun> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let mut follower = Follower {
        cluster,
        pods: Api::namespaced(cluster.client.clone(), &cluster.namespace),
        updates: Box::pin(versions(runs, &name)),
        name,
        options,
        run,
        deleted: false,
        spinner: Spinner::new(),
        said_stopping: false,
        lost: Vec::new(),
    };
    follower.all().await
}

impl Follower<'_> {
    async fn all(&mut self) -> anyhow::Result<Ended> {
        let mut shown = 0;
        loop {
            let attempts = self.attempts();
            let several = attempts.len() > 1 || !self.status().retries_status.is_empty();
            for (index, attempt) in attempts.iter().enumerate().skip(shown) {
                let current = index == self.status().retries_status.len();
                shown = index + 1;
                if self.options.attempt.is_some_and(|n| n != index + 1) {
                    continue;
                }
                if several {
                    let ended = attempt.ended.as_deref().map(|e| format!(", {e}")).unwrap_or_default();
                    self.line(&format!("--- attempt {} (pod {}{ended}) ---", index + 1, attempt.pod));
                }
                self.pod(attempt, self.options.follow && current).await?;
                if self.deleted {
                    return Ok(Ended::Deleted);
                }
            }
            if !self.options.follow {
                if attempts.is_empty() {
                    let why = self
                        .status()
                        .message
                        .unwrap_or_else(|| "the controller has not seen it yet".into());
                    eprintln!("taskrun {} has not started: {why}", self.name);
                }
                return Ok(match self.lost.is_empty() {
                    true => Ended::Printed,
                    false => Ended::Lost(std::mem::take(&mut self.lost)),
                });
            }
            // Until the run ends, starts its pod, or starts another attempt.
            let known = self.attempts().len();
            while !self.run.phase().is_terminal() && self.attempts().len() == known {
                let why = self
                    .status()
                    .message
                    .unwrap_or_else(|| "waiting for the controller".into());
                self.spinner.show(&format!("{:?}: {why}", self.run.phase()));
                if !self.next_update().await? {
                    return Ok(Ended::Deleted);
                }
            }
            self.spinner.clear();
            if self.run.phase().is_terminal() && self.attempts().len() == shown {
                return Ok(Ended::Finished(Box::new(self.run.clone())));
            }
        }
    }

    fn status(&self) -> minitask_api::TaskRunStatus {
        self.run.status.clone().unwrap_or_default()
    }

    fn attempts(&self) -> Vec<Attempt> {
        let status = self.status();
        let mut attempts: Vec<Attempt> = status
            .retries_status
            .iter()
            .map(|a| Attempt {
                pod: a.pod_name.clone(),
                steps: a.steps.clone(),
                ended: Some(a.reason.clone()),
            })
            .collect();
        if let Some(pod) = status.pod_name {
            attempts.push(Attempt {
                pod,
                steps: status.steps,
                ended: None,
            });
        }
        attempts
    }

    /// Waits for the next version of the run; false once it is deleted.
    async fn next_update(&mut self) -> anyhow::Result<bool> {
        match self.updates.next().await {
            Some(Ok(Some(run))) => {
                self.run = run;
                Ok(true)
            }
            Some(Ok(None)) | None => {
                self.deleted = true;
                Ok(false)
            }
            Some(Err(e)) => Err(e),
        }
    }

    /// The steps of one attempt's pod, in order.
    async fn pod(&mut self, attempt: &Attempt, follow: bool) -> anyhow::Result<()> {
        self.said_stopping = false;
        if let Some(sidecar) = self.options.sidecar.clone() {
            return self.sidecar(attempt, &sidecar, follow).await;
        }
        let mut steps = attempt.steps.clone();
        if steps.is_empty() {
            steps = self.steps_of_pod(&attempt.pod).await?;
        }
        if let Some(wanted) = &self.options.step {
            let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
            if !names.contains(&wanted.as_str()) {
                anyhow::bail!(
                    "taskrun {} has no step {wanted:?}; its steps are {}",
                    self.name,
                    names.join(", ")
                );
            }
        }
        for (index, step) in steps.iter().enumerate() {
            if self.options.step.as_ref().is_some_and(|s| *s != step.name) {
                continue;
            }
            let container = match step.container.is_empty() {
                true => format!("step-{}", step.name),
                false => step.container.clone(),
            };
            if !self.started(&attempt.pod, &step.name, &container, follow).await? {
                if self.deleted {
                    return Ok(());
                }
                continue;
            }
            self.stream(&attempt.pod, &step.name, &container, index, follow).await?;
            if self.deleted {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One sidecar's log in one attempt's pod (a native sidecar: an init
    /// container `sidecar-<name>`).
    async fn sidecar(&mut self, attempt: &Attempt, sidecar: &str, follow: bool) -> anyhow::Result<()> {
        let pod = self.get_pod(&attempt.pod).await?;
        let spec = pod.and_then(|p| p.spec).unwrap_or_default();
        let sidecars: Vec<&str> = spec
            .init_containers
            .iter()
            .flatten()
            .filter_map(|c| c.name.strip_prefix("sidecar-"))
            .collect();
        if !sidecars.contains(&sidecar) {
            anyhow::bail!(
                "taskrun {} has no sidecar {sidecar:?}; {}",
                self.name,
                match sidecars.is_empty() {
                    true => "its Task declares none".to_string(),
                    false => format!("its sidecars are {}", sidecars.join(", ")),
                }
            );
        }
        let container = format!("sidecar-{sidecar}");
        self.stream(&attempt.pod, &format!("sidecar {sidecar}"), &container, 0, follow)
            .await
    }

    /// The step names of a pod whose run recorded none yet.
    async fn steps_of_pod(&self, pod: &str) -> anyhow::Result<Vec<StepState>> {
        let pod = self.get_pod(pod).await?;
        let spec = pod.and_then(|p| p.spec).unwrap_or_default();
        Ok(spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .filter_map(|c| {
                let name = c.name.strip_prefix("step-")?;
                Some(StepState {
                    name: name.to_string(),
                    container: c.name.clone(),
                    ..StepState::default()
                })
            })
            .collect())
    }

    async fn get_pod(&self, pod: &str) -> anyhow::Result<Option<Pod>> {
        self.pods.get_opt(pod).await.map_err(|e| {
            let doing = format!("reading pod {pod} of taskrun {}", self.name);
            errors::api(&e, &doing, &self.cluster.server)
        })
    }

    /// Whether the step's container has started; following, waits for it
    /// (saying why it waits) until it starts or can no longer start.
    async fn started(&mut self, pod: &str, step: &str, container: &str, follow: bool) -> anyhow::Result<bool> {
        let mut pods = Box::pin(versions(self.pods.clone(), pod));
        let mut current: Option<Pod> = None;
        loop {
            // Whatever changes (the pod, or the run's message about it),
            // look again.
            tokio::select! {
                version = pods.next() => {
                    let Some(version) = version else { return Ok(false) };
                    let Some(version) = version? else {
                        self.spinner.clear();
                        eprintln!("pod {pod} is gone: its logs went with it");
                        self.lost.push(pod.to_string());
                        return Ok(false);
                    };
                    current = Some(version);
                }
                updated = self.next_update(), if follow && current.is_some() => {
                    if !updated? {
                        self.spinner.clear();
                        return Ok(false);
                    }
                }
            }
            let Some(current) = &current else { continue };
            let state = container_state(current, container);
            if state.running.is_some() || state.terminated.is_some() {
                self.spinner.clear();
                return Ok(true);
            }
            let pod_over = matches!(
                current.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            );
            if pod_over || self.run.phase().is_terminal() {
                // The run's end can arrive before the pod watch shows the
                // step's start (a fast step): the pod itself decides.
                let fresh = match pod_over {
                    true => None,
                    false => self.get_pod(pod).await?,
                };
                let fresh = fresh.map(|p| container_state(&p, container)).unwrap_or_default();
                self.spinner.clear();
                if fresh.running.is_some() || fresh.terminated.is_some() {
                    return Ok(true);
                }
                eprintln!("step {step:?} did not run");
                return Ok(false);
            }
            let first = self.steps_before(current, container) == 0;
            let why = self.waiting_reason(step, &state, first);
            if !follow {
                eprintln!("step {step:?} has not started yet: {why}");
                return Ok(false);
            }
            self.spinner.show(&format!("step {step:?}: {why}"));
        }
    }

    /// How many step containers run before `container` in `pod`.
    fn steps_before(&self, pod: &Pod, container: &str) -> usize {
        let spec = pod.spec.clone().unwrap_or_default();
        spec.init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .take_while(|c| c.name != container)
            .filter(|c| c.name.starts_with("step-"))
            .count()
    }

    /// Why a step waits: the run's own message when it is about that step
    /// (it says when the controller gives up), else the kubelet's words.
    fn waiting_reason(&self, step: &str, state: &ContainerState, first: bool) -> String {
        let message = crate::output::deadline_in(&self.status().message.unwrap_or_default(), Timestamp::now());
        // The run's message about this step, without its name again (the
        // line says it already).
        if let Some(rest) = message.strip_prefix(&format!("step {step:?} is waiting: ")) {
            return rest.to_string();
        }
        if message.contains(&format!("{step:?}")) && message.contains("waiting") {
            return message;
        }
        match state.waiting.as_ref() {
            Some(w) => {
                let reason = w.reason.clone().unwrap_or_else(|| "waiting".into());
                match w.message.as_deref().filter(|m| !m.is_empty()) {
                    Some(detail) => format!("{reason}: {detail}"),
                    None if reason == "PodInitializing" && !first => "waiting for the steps before it".into(),
                    None if reason == "PodInitializing" => "waiting for its pod to start".into(),
                    None => reason,
                }
            }
            None if message.is_empty() => "waiting for its pod to start".into(),
            None => message,
        }
    }

    /// Streams one container's log. A stream that ends before the container
    /// did (a proxy that cuts idle connections) is opened again from where
    /// it stopped.
    async fn stream(
        &mut self,
        pod: &str,
        step: &str,
        container: &str,
        index: usize,
        follow: bool,
    ) -> anyhow::Result<()> {
        let label = match &self.options.task {
            Some(task) => format!("{task}/{step}"),
            None => step.to_string(),
        };
        let prefix = prefix(&label, index, self.options.no_color || self.options.to_stderr);
        let mut since: Option<Timestamp> = None;
        loop {
            let params = LogParams {
                container: Some(container.to_string()),
                follow,
                timestamps: true,
                since_time: since,
                tail_lines: if since.is_none() { self.options.tail } else { None },
                ..LogParams::default()
            };
            let doing = format!("reading the log of step {step:?} (pod {pod})");
            let stream = self
                .pods
                .log_stream(pod, &params)
                .await
                .map_err(|e| errors::api(&e, &doing, &self.cluster.server))?;
            let mut lines = stream.lines();
            loop {
                let line = tokio::select! {
                    line = lines.try_next() => line,
                    updated = self.next_update(), if follow => {
                        if !updated? {
                            return Ok(());
                        }
                        self.say_stopping(pod, step).await;
                        continue;
                    }
                };
                let Some(line) = line.map_err(|e| anyhow::anyhow!("{doing}: {}", errors::root_cause(&e)))? else {
                    break;
                };
                let (time, text) = split_timestamp(&line);
                if let (Some(time), Some(last)) = (time, since)
                    && time <= last
                {
                    continue;
                }
                since = time.or(since);
                let stamp = match (self.options.timestamps, time) {
                    (true, Some(t)) => format!("{t} "),
                    _ => String::new(),
                };
                self.line(&format!("{prefix}{stamp}{text}"));
            }
            if !follow {
                return Ok(());
            }
            // The stream ended: done, unless the container still runs.
            let Some(current) = self.get_pod(pod).await? else {
                return Ok(());
            };
            if container_state(&current, container).terminated.is_some() || since.is_none() {
                return Ok(());
            }
        }
    }

    /// Once a cancelled or timed-out run's step is being stopped: say so,
    /// and how long the kubelet may take.
    async fn say_stopping(&mut self, pod: &str, step: &str) {
        let status = self.status();
        let stopping = self.run.spec.cancelled || matches!(status.reason.as_deref(), Some("Cancelled" | "Timeout"));
        if !stopping || self.said_stopping {
            return;
        }
        self.said_stopping = true;
        let grace = match self.get_pod(pod).await {
            Ok(Some(p)) => p.spec.and_then(|s| s.termination_grace_period_seconds).unwrap_or(30),
            _ => 30,
        };
        let what = if self.run.spec.cancelled {
            "cancelling"
        } else {
            "timed out"
        };
        eprintln!("{what}: waiting for step {step:?} to stop (up to {grace}s, the pod's termination grace period)");
    }

    fn line(&mut self, text: &str) {
        self.spinner.clear();
        match self.options.to_stderr {
            true => eprintln!("{text}"),
            false => print(&format!("{text}\n")),
        }
    }
}

/// `2026-01-02T03:04:05.123456789Z text` as its time and text.
fn split_timestamp(line: &str) -> (Option<Timestamp>, &str) {
    match line.split_once(' ') {
        Some((time, text)) => match time.parse::<Timestamp>() {
            Ok(time) => (Some(time), text),
            Err(_) => (None, line),
        },
        None => match line.parse::<Timestamp>() {
            Ok(time) => (Some(time), ""),
            Err(_) => (None, line),
        },
    }
}

/// `[step] `, coloured on a terminal, a different colour per step.
fn prefix(step: &str, index: usize, no_color: bool) -> String {
    const COLOURS: [u8; 5] = [36, 35, 33, 32, 34];
    match colour_stdout(no_color) {
        true => format!("\x1b[{}m[{step}]\x1b[0m ", COLOURS[index % COLOURS.len()]),
        false => format!("[{step}] "),
    }
}

fn container_state(pod: &Pod, container: &str) -> ContainerState {
    let status = pod.status.clone().unwrap_or_default();
    status
        .init_container_statuses
        .into_iter()
        .flatten()
        .chain(status.container_statuses.into_iter().flatten())
        .find(|s| s.name == container)
        .and_then(|s| s.state)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_split_into_time_and_text() {
        let (time, text) = split_timestamp("2026-01-02T03:04:05.123456789Z hello world");
        assert_eq!(time.unwrap().to_string(), "2026-01-02T03:04:05.123456789Z");
        assert_eq!(text, "hello world");
        assert_eq!(split_timestamp("no time here"), (None, "no time here"));
        let (time, text) = split_timestamp("2026-01-02T03:04:05Z");
        assert!(time.is_some() && text.is_empty());
    }
}
