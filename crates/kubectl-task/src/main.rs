//! `kubectl-task`: the kubectl plugin of mini-task (`kubectl task ...`).

mod archive;
mod cluster;
mod complete;
mod dashboard;
mod debug;
mod describe;
mod errors;
mod follow;
mod import;
mod inputs;
mod jsonpath;
mod list;
mod logs;
mod manage;
mod output;
mod pipeline_logs;
mod pipeline_show;
mod pipeline_start;
mod preflight;
mod prompt;
mod refs;
mod resolve;
mod spinner;
mod start;
mod triggers;
mod version;
mod watch;

use clap::{Parser, Subcommand};

use crate::cluster::Target;
use crate::errors::{EXIT_ERROR, EXIT_INTERRUPTED};
use crate::follow::Outcome;

const EXIT_CODES: &str = "\
Exit codes:
  0    success (with -f/--wait: the run succeeded)
  1    the run followed with -f/--wait failed
  2    a usage error, or an error from the cluster
  3    the run followed with -f/--wait was deleted
  130  interrupted (Ctrl-C) while following: the run goes on";

#[derive(Parser)]
#[command(
    name = "kubectl task",
    bin_name = "kubectl task",
    version,
    about = "Run and inspect mini-task Tasks on Kubernetes",
    after_help = EXIT_CODES,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a Task or a Pipeline (pipeline/NAME): create a run of it
    /// (and follow it with -f).
    Start(start::Args),
    /// List the Tasks (or `list pipelines`).
    List(list::ListArgs),
    /// List the TaskRuns (or `runs pipelineruns`), newest first (-w to watch them).
    Runs(list::RunsArgs),
    /// Show a run, a Task or a Pipeline: params, results, steps or tasks, events.
    Describe(describe::Args),
    /// Print a run's logs: every attempt, every step in order (of every
    /// task, for pipelinerun/NAME).
    Logs(LogsArgs),
    /// Open a shell in the failed step of a run started with --debug, which
    /// waits for you; --continue lets the run fail.
    Debug(debug::Args),
    /// Cancel a running run; its pods and logs are kept.
    Cancel(manage::CancelArgs),
    /// Delete runs (never an unfinished one without --force).
    Delete(manage::DeleteArgs),
    /// List the Triggers: schedules and webhooks, when each fires next
    /// and what it started last.
    Triggers(triggers::ListArgs),
    /// Act on a Trigger: `trigger fire NAME` starts its run now.
    Trigger(triggers::TriggerArgs),
    /// Convert Tekton Tasks, Pipelines, TaskRuns and PipelineRuns
    /// (tekton.dev/v1, v1beta1) to mini-task's: print them, or --apply;
    /// every field left behind is listed, and fails the command unless
    /// --allow-partial.
    Import(import::Args),
    /// Serve a live web view of runs, logs and pipeline graphs on this
    /// machine, as you (your kubeconfig); until Ctrl-C.
    Dashboard(dashboard::Args),
    /// Print a shell completion script for `kubectl-task`.
    Completion {
        #[arg(value_parser = ["bash", "zsh", "fish"])]
        shell: String,
    },
    /// Print the plugin's, the cluster's and the controller's versions.
    Version,
}

#[derive(clap::Args)]
struct LogsArgs {
    /// The run (NAME, taskrun/NAME or pipelinerun/NAME); with --last, none
    /// or only its kind (`logs pipelinerun --last`).
    #[arg(required_unless_present = "last")]
    run: Option<String>,
    /// Stream the logs until the run ends, waiting for steps to start and
    /// going on through retries.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Only this step.
    #[arg(long, value_name = "STEP")]
    step: Option<String>,
    /// Only this sidecar's log (the Task's `sidecars`), instead of the
    /// steps'.
    #[arg(long, value_name = "NAME", conflicts_with = "step")]
    sidecar: Option<String>,
    /// Only this attempt of a retried run (1 for the first).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    attempt: Option<u64>,
    /// Prefix each line with its time.
    #[arg(long)]
    timestamps: bool,
    /// Only the last N lines of each step.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    tail: Option<i64>,
    /// No colours.
    #[arg(long)]
    no_color: bool,
    /// The newest run: a TaskRun (of --task), or a PipelineRun (of
    /// --pipeline, or with `pipelinerun --last`).
    #[arg(long)]
    last: bool,
    /// With --last: the newest run of this Task. With a PipelineRun: only
    /// the logs of this task of the Pipeline (and --step within it).
    #[arg(long, value_name = "TASK")]
    task: Option<String>,
    /// With --last: the newest run of this Pipeline.
    #[arg(long, requires = "last", value_name = "PIPELINE")]
    pipeline: Option<String>,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__complete") {
        complete::run::<Cli>(&args[2..]).await;
        return;
    }
    let cli = Cli::parse();
    let verbosity = cli.target.verbosity.unwrap_or(0);
    if let Command::Dashboard(_) = &cli.command {
        // It runs until Ctrl-C, which ends it cleanly.
        if let Err(error) = dispatch(cli).await {
            eprintln!("error: {error}");
            std::process::exit(EXIT_ERROR);
        }
        return;
    }
    let result = tokio::select! {
        result = dispatch(cli) => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("{}", spinner::interrupted());
            std::process::exit(EXIT_INTERRUPTED);
        }
    };
    match result {
        Ok(outcome) => std::process::exit(outcome.code()),
        Err(error) => {
            eprintln!("error: {error}");
            if verbosity > 0 {
                for cause in errors::chain(&error).iter().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            std::process::exit(EXIT_ERROR);
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    let target = &cli.target;
    match cli.command {
        Command::Completion { shell } => {
            output::print(complete::script(&shell));
            return Ok(Outcome::Done);
        }
        Command::Version => {
            version::run(&target.connect().await).await?;
            return Ok(Outcome::Done);
        }
        Command::Import(args) => return import::run(target, args).await,
        _ => {}
    }
    let cluster = target.connect().await?;
    match cli.command {
        Command::Start(args) => return start::run(&cluster, args).await,
        Command::List(args) => list::list(&cluster, args).await?,
        Command::Runs(args) => list::runs(&cluster, args).await?,
        Command::Describe(args) => describe::run(&cluster, args).await?,
        Command::Logs(args) => return logs(&cluster, args).await,
        Command::Debug(args) => debug::run(&cluster, target, args).await?,
        Command::Cancel(args) => manage::cancel(&cluster, args).await?,
        Command::Delete(args) => manage::delete(&cluster, args).await?,
        Command::Dashboard(args) => dashboard::run(cluster, args).await?,
        Command::Triggers(args) => triggers::list(&cluster, args).await?,
        Command::Trigger(args) => triggers::run(&cluster, args).await?,
        Command::Completion { .. } | Command::Version | Command::Import(_) => {}
    }
    Ok(Outcome::Done)
}

async fn logs(cluster: &cluster::Cluster, args: LogsArgs) -> anyhow::Result<Outcome> {
    let options = logs::Options {
        step: args.step.clone(),
        follow: args.follow,
        timestamps: args.timestamps,
        tail: args.tail,
        attempt: args.attempt.map(|a| a as usize),
        no_color: args.no_color,
        to_stderr: false,
        task: None,
        sidecar: args.sidecar.clone(),
    };
    let found = match (&args.run, args.last) {
        (Some(text), true) => {
            let kind = refs::run_kind_word(text).ok_or_else(|| {
                anyhow::anyhow!("--last picks the run: give no name, or only its kind (`logs pipelinerun --last`)")
            })?;
            resolve::last_any(cluster, Some(kind), args.task.as_deref(), args.pipeline.as_deref()).await?
        }
        (None, _) => resolve::last_any(cluster, None, args.task.as_deref(), args.pipeline.as_deref()).await?,
        (Some(name), false) => match resolve::find_any_run(cluster, name).await {
            Ok(found) => found,
            // Gone from the cluster: the archive may hold it.
            Err(not_found) => {
                return match archived_logs(cluster, name, &options, &args).await? {
                    true => Ok(Outcome::Done),
                    false => Err(not_found),
                };
            }
        },
    };
    let run = match found {
        resolve::AnyRun::Task(run) => *run,
        resolve::AnyRun::Pipeline(run) => {
            anyhow::ensure!(
                options.attempt.is_none(),
                "--attempt applies to a TaskRun; to see one attempt of a task, give its TaskRun (kubectl task describe pipelinerun/{} lists them)",
                kube::ResourceExt::name_any(run.as_ref())
            );
            anyhow::ensure!(
                options.sidecar.is_none() || args.task.is_some(),
                "--sidecar reads one TaskRun's sidecar: add --task TASK (the pipeline task whose Task has it)"
            );
            return pipeline_logs::logs(cluster, *run, &options, args.task.as_deref()).await;
        }
    };
    anyhow::ensure!(
        args.last || args.task.is_none(),
        "--task applies to PipelineRuns (logs pipelinerun/NAME --task TASK) or with --last (the newest run of a Task)"
    );
    if let Some(attempt) = options.attempt {
        let attempts = run.status.as_ref().map_or(0, |s| s.retries_status.len() + 1);
        anyhow::ensure!(
            attempt <= attempts,
            "taskrun {} has {attempts} attempt{}; --attempt takes 1 to {attempts}",
            kube::ResourceExt::name_any(&run),
            if attempts == 1 { "" } else { "s" }
        );
    }
    if pods_gone_but_archived(cluster, &run).await {
        let name = kube::ResourceExt::name_any(&run);
        if let Some(archived) = archive::taskrun(cluster, &name).await? {
            eprintln!("the pod of taskrun {name} is gone; its logs come from the archive");
            let lost = archive::print_logs(cluster, &name, &archived.info, &options).await?;
            anyhow::ensure!(
                lost == 0,
                "{lost} step log(s) of taskrun {name} are not in the archive (each says why above)"
            );
            return Ok(Outcome::Done);
        }
    }
    match args.follow {
        true => follow::follow_with(cluster, run, &options).await,
        false => {
            let name = kube::ResourceExt::name_any(&run);
            match logs::logs(cluster, run, &options).await? {
                // Scripts must notice that what they read is not all.
                logs::Ended::Lost(pods) => anyhow::bail!(
                    "some logs of taskrun {name} are lost: pod {} is gone; `kubectl task describe {name}` still shows how each step ended",
                    pods.join(", ")
                ),
                _ => Ok(Outcome::Done),
            }
        }
    }
}

/// An ended run the archive holds whose pod is gone (the controller's
/// `--delete-pods-after-archive`, or deleted by hand).
async fn pods_gone_but_archived(cluster: &cluster::Cluster, run: &minitask_api::TaskRun) -> bool {
    let Some(status) = &run.status else {
        return false;
    };
    if !run.phase().is_terminal() || !minitask_api::is_archived(&status.conditions) {
        return false;
    }
    let Some(pod) = &status.pod_name else {
        return false;
    };
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(cluster.client.clone(), &cluster.namespace);
    matches!(pods.get_opt(pod).await, Ok(None))
}

/// `logs` of a run that is no longer in the cluster, from the archive.
/// False when the archive does not hold it either.
async fn archived_logs(
    cluster: &cluster::Cluster,
    text: &str,
    options: &logs::Options,
    args: &LogsArgs,
) -> anyhow::Result<bool> {
    anyhow::ensure!(
        !args.follow,
        "--follow: run {text} has ended and is gone from the cluster; drop -f to read its archived logs"
    );
    let (kind, name) = refs::any_run(text)?;
    let lost = match kind {
        Some(refs::Kind::PipelineRun) => None,
        _ => archive::taskrun(cluster, &name).await?,
    };
    if let Some(run) = lost {
        archive::note("taskrun", &name, &run.info);
        let lost = archive::print_logs(cluster, &name, &run.info, options).await?;
        anyhow::ensure!(
            lost == 0,
            "{lost} step log(s) of taskrun {name} are not in the archive (each says why above)"
        );
        return Ok(true);
    }
    if matches!(kind, Some(refs::Kind::TaskRun)) {
        return Ok(false);
    }
    let Some(run) = archive::pipelinerun(cluster, &name).await? else {
        return Ok(false);
    };
    archive::note("pipelinerun", &name, &run.info);
    let mut lost = 0;
    for (child_name, child) in archive::children(cluster, &run.info).await? {
        let task = child
            .run
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(minitask_api::LABEL_PIPELINE_TASK).cloned())
            .unwrap_or_else(|| child_name.clone());
        if args.task.as_ref().is_some_and(|t| *t != task) {
            continue;
        }
        let child_options = logs::Options {
            task: Some(task),
            ..options.clone()
        };
        lost += archive::print_logs(cluster, &child_name, &child.info, &child_options).await?;
    }
    anyhow::ensure!(
        lost == 0,
        "{lost} step log(s) of pipelinerun {name} are not in the archive (each says why above)"
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
