//! Following a run: its steps' logs in order, a spinner while it waits, and
//! its outcome as the exit code.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ContainerState, Pod};
use kube::api::{Api, LogParams};
use kube::{Client, ResourceExt};
use minitask_api::{Phase, TaskRun};

use crate::output::{colour_stdout, print};

/// How a command ended, for the exit code: 0 when done or Succeeded, 1
/// when the followed run Failed. (Errors exit 2, in main.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Succeeded,
    Failed,
}

impl Outcome {
    pub fn code(self) -> i32 {
        match self {
            Outcome::Done | Outcome::Succeeded => 0,
            Outcome::Failed => 1,
        }
    }
}

const POLL: Duration = Duration::from_millis(500);

/// Waits for the run to end, with a spinner on a terminal, and reports how.
pub async fn wait(client: &Client, namespace: &str, name: &str) -> anyhow::Result<Outcome> {
    let runs: Api<TaskRun> = Api::namespaced(client.clone(), namespace);
    let mut spinner = Spinner::new();
    loop {
        let run = get_run(&runs, name, namespace).await?;
        if run.phase().is_terminal() {
            spinner.clear();
            return Ok(outcome(&run));
        }
        let status = run.status.clone().unwrap_or_default();
        spinner.show(&format!(
            "{:?}: {}",
            run.phase(),
            status.message.as_deref().unwrap_or("waiting for the controller")
        ));
        tokio::time::sleep(POLL).await;
    }
}

/// Streams the logs of every step of the run (or only `step`), in order,
/// until the run ends, then reports how it ended.
pub async fn follow(client: &Client, namespace: &str, name: &str, step: Option<&str>) -> anyhow::Result<Outcome> {
    logs(client, namespace, name, step, true).await?;
    wait(client, namespace, name).await
}

/// The logs of the run's steps, in order, each line prefixed with its
/// step's name. With `follow`, waits for steps that have not started and
/// streams them to their end, through retries, until the run ends; without,
/// prints what there is now and says which steps have not run.
pub async fn logs(
    client: &Client,
    namespace: &str,
    name: &str,
    step: Option<&str>,
    follow: bool,
) -> anyhow::Result<()> {
    let runs: Api<TaskRun> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut shown = Vec::new();
    let mut spinner = Spinner::new();
    loop {
        let run = get_run(&runs, name, namespace).await?;
        let status = run.status.clone().unwrap_or_default();
        match status.pod_name.clone().filter(|p| !shown.contains(p)) {
            Some(pod) => {
                spinner.clear();
                pod_logs(&pods, &runs, name, &pod, step, follow).await?;
                shown.push(pod);
            }
            None if run.phase().is_terminal() || !follow => {
                spinner.clear();
                if shown.is_empty() {
                    let why = status.message.unwrap_or_else(|| "it has not started".into());
                    eprintln!("taskrun {name} has no pod: {why}");
                }
                return Ok(());
            }
            None => {
                let why = status.message.unwrap_or_else(|| "waiting for the controller".into());
                spinner.show(&format!("{:?}: {why}", run.phase()));
                tokio::time::sleep(POLL).await;
            }
        }
        if !follow {
            return Ok(());
        }
    }
}

/// The step containers of one pod, in order.
async fn pod_logs(
    pods: &Api<Pod>,
    runs: &Api<TaskRun>,
    run: &str,
    pod_name: &str,
    only: Option<&str>,
    follow: bool,
) -> anyhow::Result<()> {
    let pod = pods
        .get(pod_name)
        .await
        .with_context(|| format!("reading pod {pod_name}"))?;
    let spec = pod.spec.clone().unwrap_or_default();
    let steps: Vec<(usize, String)> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .filter_map(|c| c.name.strip_prefix("step-").map(str::to_string))
        .enumerate()
        .filter(|(_, s)| only.is_none_or(|o| o == s))
        .collect();
    if let Some(wanted) = only.filter(|_| steps.is_empty()) {
        anyhow::bail!("taskrun {run} has no step {wanted:?}");
    }
    let mut spinner = Spinner::new();
    for (index, step) in steps {
        let container = format!("step-{step}");
        loop {
            let pod = pods
                .get(pod_name)
                .await
                .with_context(|| format!("reading pod {pod_name}"))?;
            let state = container_state(&pod, &container);
            if state.running.is_some() || state.terminated.is_some() {
                break;
            }
            let pod_over = matches!(
                pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            );
            let run_over = get_run(runs, run, &pod.namespace().unwrap_or_default())
                .await?
                .phase()
                .is_terminal();
            if !follow || pod_over || run_over {
                spinner.clear();
                let why = if pod_over || run_over {
                    "did not run"
                } else {
                    "has not started yet"
                };
                eprintln!("step {step} {why}");
                break;
            }
            let waiting = state.waiting.and_then(|w| w.reason).unwrap_or_else(|| "waiting".into());
            spinner.show(&format!("step {step}: {waiting}"));
            tokio::time::sleep(POLL).await;
        }
        spinner.clear();
        let state = container_state(&pods.get(pod_name).await?, &container);
        if state.running.is_none() && state.terminated.is_none() {
            continue;
        }
        let params = LogParams {
            container: Some(container),
            follow,
            ..LogParams::default()
        };
        let stream = pods
            .log_stream(pod_name, &params)
            .await
            .with_context(|| format!("reading the logs of step {step}"))?;
        let prefix = prefix(&step, index);
        let mut lines = stream.lines();
        while let Some(line) = lines.try_next().await? {
            print(&format!("{prefix}{line}\n"));
        }
    }
    Ok(())
}

/// `[step] `, coloured on a terminal, a different colour per step.
fn prefix(step: &str, index: usize) -> String {
    const COLOURS: [u8; 5] = [36, 35, 33, 32, 34];
    match colour_stdout() {
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

async fn get_run(runs: &Api<TaskRun>, name: &str, namespace: &str) -> anyhow::Result<TaskRun> {
    runs.get_opt(name)
        .await
        .with_context(|| format!("reading taskrun {name}"))?
        .with_context(|| format!("taskrun {name:?} not found in namespace {namespace:?}; list runs with `kubectl task runs -n {namespace}`"))
}

/// The outcome of a finished run, also said on stderr.
fn outcome(run: &TaskRun) -> Outcome {
    let status = run.status.clone().unwrap_or_default();
    let (reason, message) = (status.reason.unwrap_or_default(), status.message.unwrap_or_default());
    eprintln!("taskrun {} {:?} ({reason}): {message}", run.name_any(), run.phase());
    match run.phase() {
        Phase::Succeeded => Outcome::Succeeded,
        _ => Outcome::Failed,
    }
}

/// A one-line spinner on stderr, only when stderr is a terminal.
struct Spinner {
    enabled: bool,
    frame: usize,
    shown: bool,
}

impl Spinner {
    fn new() -> Spinner {
        Spinner {
            enabled: std::io::stderr().is_terminal(),
            frame: 0,
            shown: false,
        }
    }

    fn show(&mut self, text: &str) {
        if !self.enabled {
            return;
        }
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        self.frame += 1;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{} {text}", FRAMES[self.frame % FRAMES.len()]);
        let _ = err.flush();
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            self.shown = false;
        }
    }
}
