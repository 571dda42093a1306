//! `kubectl-task`: the kubectl plugin of mini-task (`kubectl task ...`).

mod client;
mod start;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "kubectl task", version, about = "Run mini-task Tasks on Kubernetes")]
struct Cli {
    #[command(flatten)]
    target: client::Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a Task: create a TaskRun for it and print the run's name.
    Start(start::Args),
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Start(args) => start::run(&cli.target, args).await,
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
