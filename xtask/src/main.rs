//! `cargo xtask <verb>`: the one entry point for every developer chore.

mod ci;
mod crds;

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
    /// The CI gate: fmt, clippy (warnings denied), crds --check, every test.
    Ci,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().verb {
        Verb::Crds { check } => crds::run(&repo_root(), check),
        Verb::Ci => ci::run(&repo_root()),
    }
}

/// The workspace root: xtask lives one level below it.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent directory").to_path_buf()
}
