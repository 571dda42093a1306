//! `kubectl task debug`: a shell in the container of a step that failed
//! and waits for a debugger (a run started with `--debug`); when the shell
//! exits (or with `--continue` alone), the wait ends and the run fails. Both go through `kubectl exec`, which the
//! plugin runs beside, so the terminal behaves as users know it.

use std::process::Command;

use anyhow::bail;
use kube::ResourceExt;
use minitask_api::{Reason, TaskRun};

use crate::cluster::{Cluster, Target};
use crate::resolve::{AnyRun, find_any_run, last_run};

/// The container of a debugged run that ends a step's wait (the
/// controller's `REPORTER`), and the launcher in it.
const REPORTER: &str = "minitask-results";
const CONTINUE: [&str; 2] = ["/minitask-launcher", "continue"];

#[derive(clap::Args)]
pub struct Args {
    /// The run whose failed step waits (NAME or taskrun/NAME).
    #[arg(required_unless_present = "last")]
    run: Option<String>,
    /// The newest TaskRun.
    #[arg(long, conflicts_with = "run")]
    last: bool,
    /// Do not open a shell: end the step's wait, so that the run fails.
    #[arg(long = "continue", conflicts_with = "stay")]
    keep_going: bool,
    /// Keep the step waiting after the shell exits (to come back later).
    #[arg(long)]
    stay: bool,
    /// The shell to run in the step's container.
    #[arg(long, default_value = "/bin/sh", value_name = "PATH")]
    shell: String,
}

pub async fn run(cluster: &Cluster, target: &Target, args: Args) -> anyhow::Result<()> {
    let run = match &args.run {
        Some(name) => match find_any_run(cluster, name).await? {
            AnyRun::Task(run) => *run,
            AnyRun::Pipeline(run) => bail!(
                "pipelinerun {} is not debugged itself; debug the TaskRun of its failed task (`kubectl task describe pipelinerun/{}` names it)",
                run.name_any(),
                run.name_any()
            ),
        },
        None => last_run(cluster, None).await?,
    };
    let (pod, step) = waiting_step(&run)?;
    let container = format!("step-{step}");
    if !args.keep_going {
        let after = match args.stay {
            true => format!(
                "the step keeps waiting after it; `kubectl task debug {} --continue` lets the run fail",
                run.name_any()
            ),
            false => "when it exits, the run goes on to fail (--stay keeps it waiting)".to_string(),
        };
        eprintln!("opening {} in step {step:?} (pod {pod}); {after}", args.shell);
        let status = kubectl(target, cluster)
            .args(["exec", "-it", &pod, "-c", &container, "--", &args.shell])
            .status();
        match status {
            // No such shell in the image (kubectl has said so): keep the
            // step waiting, so that the user can try another. Any other
            // exit is the shell's own (its last command's status).
            Ok(exit) if matches!(exit.code(), Some(126 | 127)) => bail!(
                "could not run {} in step {step:?} ({exit}); the step still waits: try `--shell PATH`, or `kubectl task debug {} --continue`",
                args.shell,
                run.name_any()
            ),
            Ok(_) if args.stay => return Ok(()),
            Ok(_) => {}
            Err(e) => bail!("could not run kubectl to open a shell in pod {pod} ({e}); is kubectl on PATH?"),
        }
    }
    let output = kubectl(target, cluster)
        .args(["exec", &pod, "-c", REPORTER, "--"])
        .args(CONTINUE)
        .output();
    match output {
        Ok(out) if out.status.success() => {
            println!("step {step:?} of taskrun {} goes on: the run now fails", run.name_any());
            Ok(())
        }
        Ok(out) => bail!(
            "could not end the wait of step {step:?} in pod {pod}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => bail!("could not run kubectl to reach pod {pod} ({e}); is kubectl on PATH?"),
    }
}

/// The pod and the step of `run` that waits for a debugger, or why there
/// is none.
fn waiting_step(run: &TaskRun) -> anyhow::Result<(String, String)> {
    let name = run.name_any();
    let status = run.status.clone().unwrap_or_default();
    if status.reason.as_deref() == Some(Reason::Debugging.as_str()) {
        let step = status.steps.iter().find(|s| s.running.is_some());
        if let (Some(pod), Some(step)) = (status.pod_name.clone(), step) {
            return Ok((pod, step.name.clone()));
        }
    }
    if run.spec.debug.as_ref().is_none_or(|d| !d.on_failure) {
        bail!(
            "taskrun {name} does not wait for a debugger; start the Task with `kubectl task start TASK --debug` (spec.debug.onFailure) to debug a failed step"
        );
    }
    if run.phase().is_terminal() {
        bail!(
            "taskrun {name} has finished ({}); a step waits for a debugger only while the run runs (see `kubectl task logs {name}`)",
            status.reason.unwrap_or_default()
        );
    }
    bail!(
        "no step of taskrun {name} has failed yet; a failed step waits for you (try again once `kubectl task describe {name}` says Debugging)"
    )
}

/// `kubectl` with the plugin's own global flags, so that it talks to the
/// same cluster, as the same user, in the same namespace.
fn kubectl(target: &Target, cluster: &Cluster) -> Command {
    let mut command = Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()));
    if let Some(path) = &target.kubeconfig {
        command.arg("--kubeconfig").arg(path);
    }
    if let Some(context) = &target.context {
        command.args(["--context", context]);
    }
    if let Some(user) = &target.impersonate {
        command.args(["--as", user]);
    }
    for group in &target.impersonate_groups {
        command.args(["--as-group", group]);
    }
    if let Some(token) = &target.token {
        command.args(["--token", token]);
    }
    command.args(["-n", &cluster.namespace]);
    command
}
