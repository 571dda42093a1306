//! `cargo xtask <verb>`: the one entry point for every developer chore.

mod ci;
mod crds;
mod testenv;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Developer chores for mini-task", name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Write deploy/crds/*.yaml from the Rust types.
    Crds {
        /// Fail instead of writing when the files are stale.
        #[arg(long)]
        check: bool,
    },
    /// Build (once) the pinned upstream etcd and Kubernetes binaries the
    /// integration and e2e tests run.
    Testenv,
    /// The CI gate: fmt, clippy (warnings denied), crds --check, every test.
    Ci,
}

fn main() {
    if let Err(error) = run(Cli::parse().verb) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn run(verb: Verb) -> anyhow::Result<()> {
    match verb {
        Verb::Crds { check } => crds::run(&repo_root(), check),
        Verb::Testenv => testenv::run(&repo_root()),
        Verb::Ci => ci::run(&repo_root()),
    }
}

/// The workspace root: xtask lives one level below it.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}
