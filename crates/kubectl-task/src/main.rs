//! `kubectl-task`: the kubectl plugin of mini-task (`kubectl task ...`).
//!
//! Exit codes: 0 on success (and when a followed run Succeeded), 1 when a
//! run followed with `--follow`/`--wait` Failed, 2 on a usage or API error.

mod client;
mod describe;
mod follow;
mod inputs;
mod list;
mod manage;
mod output;
mod start;

use clap::{CommandFactory, Parser, Subcommand};

use crate::follow::Outcome;

#[derive(Parser)]
#[command(
    name = "kubectl task",
    bin_name = "kubectl-task",
    version,
    about = "Run and inspect mini-task Tasks on Kubernetes",
    after_help = "Exit codes: 0 success; 1 the run followed with --follow/--wait failed; 2 usage or API error."
)]
struct Cli {
    #[command(flatten)]
    target: client::Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a Task: create a TaskRun for it (and follow it with -f).
    Start(start::Args),
    /// List the Tasks.
    List(list::ListArgs),
    /// List the TaskRuns, newest first.
    Runs(list::RunsArgs),
    /// Show a TaskRun: params, results, steps with a timeline, events.
    Describe(describe::Args),
    /// Print a TaskRun's logs, step by step, in order.
    Logs(LogsArgs),
    /// Cancel a running TaskRun; its pod and logs are kept.
    Cancel(manage::CancelArgs),
    /// Delete TaskRuns (never an unfinished one without --force).
    Delete(manage::DeleteArgs),
    /// Print a shell completion script.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the plugin's version and the cluster's.
    Version,
}

#[derive(clap::Args)]
struct LogsArgs {
    /// The TaskRun (not needed with --last).
    #[arg(required_unless_present = "last")]
    run: Option<String>,
    /// Stream the logs until the run ends, waiting for steps to start.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Only this step.
    #[arg(long)]
    step: Option<String>,
    /// The newest TaskRun in the namespace.
    #[arg(long, conflicts_with = "run")]
    last: bool,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = dispatch(cli).await;
    match result {
        Ok(outcome) => std::process::exit(outcome.code()),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2);
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    let target = &cli.target;
    match cli.command {
        Command::Start(args) => return start::run(target, args).await,
        Command::List(args) => list::list(target, args).await?,
        Command::Runs(args) => list::runs(target, args).await?,
        Command::Describe(args) => describe::run(target, args).await?,
        Command::Logs(args) => logs(target, args).await?,
        Command::Cancel(args) => manage::cancel(target, args).await?,
        Command::Delete(args) => manage::delete(target, args).await?,
        Command::Completion { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kubectl-task", &mut out);
            output::print(&String::from_utf8_lossy(&out));
        }
        Command::Version => version(target).await,
    }
    Ok(Outcome::Done)
}

async fn logs(target: &client::Target, args: LogsArgs) -> anyhow::Result<()> {
    let (client, namespace) = target.connect().await?;
    let name = match args.run {
        Some(name) => name,
        None => {
            let api: kube::Api<minitask_api::TaskRun> = kube::Api::namespaced(client.clone(), &namespace);
            let mut runs = api.list(&Default::default()).await?.items;
            list::newest_first(&mut runs);
            let newest = runs.first();
            let newest = newest.ok_or_else(|| anyhow::anyhow!("no TaskRuns in namespace {namespace:?}"))?;
            kube::ResourceExt::name_any(newest)
        }
    };
    follow::logs(&client, &namespace, &name, args.step.as_deref(), args.follow).await
}

async fn version(target: &client::Target) {
    output::print(&format!("kubectl-task {}\n", env!("CARGO_PKG_VERSION")));
    let server = match target.connect().await {
        Ok((client, _)) => client
            .apiserver_version()
            .await
            .map(|v| v.git_version)
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    match server {
        Ok(version) => output::print(&format!("Kubernetes {version}\n")),
        Err(e) => eprintln!("Kubernetes: not reachable: {e:#}"),
    }
}
