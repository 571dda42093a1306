//! `cargo xtask <verb>`: the one entry point for every developer chore.

mod bench;
mod chaos;
mod ci;
mod cluster;
mod crds;
mod daemon;
mod demo;
mod e2e;
mod fuzz;
mod images;
mod local;
mod oci;
mod packages;
mod release;
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
    /// integration and e2e tests run, and install Chromium for the
    /// dashboard's browser tests.
    Testenv,
    /// Write the README's dashboard screenshots (docs/screenshots/) with
    /// the browser tests that check those pages.
    Screenshots,
    /// Build the controller image as an OCI archive in target/images/ (no
    /// Docker needed).
    Image,
    /// Start a real single-node Kubernetes here, without Docker.
    LocalUp,
    /// Stop the local cluster and remove everything it made.
    LocalDown,
    /// Build and load the controller image into the local cluster (or
    /// kind), apply the manifests and wait for the rollout.
    Deploy,
    /// Create a kind cluster (needs Docker and kind) and deploy to it.
    KindUp,
    /// Delete the kind cluster.
    KindDown,
    /// Run the end-to-end tests against the deployed cluster.
    E2e,
    /// One command for newcomers: cluster, deploy, run hello, show its logs.
    Demo,
    /// The CI gate: fmt, clippy (warnings denied), crds --check, every test.
    Ci,
    /// How fast and lean the controller is: a table of numbers against a
    /// ceiling and the polling baseline (see the README's Performance).
    Bench {
        /// Passed to the benchmark: --runs N, --quick, --json, --only NAME,
        /// --sweep-workers, --no-scale, --kubelet (the local cluster), --archive
        /// (the run archive beside the controller).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Faults while runs flow (kill -9, failover, API server and etcd
    /// restarts, a partition, a rolling upgrade, hostile objects) and the
    /// bad-input corpus, then every invariant checked (see the README's
    /// Reliability section).
    Chaos {
        /// Passed to the harness: --quick, --only NAME, --runs N, --kills N,
        /// --lease-duration D, --seed N. Or `--fuzz [SECONDS]`: every
        /// property test for SECONDS (60) each.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// How the archive's reads scale: N archived runs (default 100,000)
    /// in one namespace, then the first page, a later page, a run and its
    /// log, timed (see the README's Run history).
    ArchiveScale {
        /// Runs, then milliseconds between their ends (10: 100 a second).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// How the dashboard holds up: RUNS TaskRuns (10,000) and a PipelineRun
    /// of TASKS tasks (100, and 20 finally) on a control plane of its own, then its pages
    /// timed, in a browser too, and the plugin's memory (see the README's
    /// dashboard section).
    DashboardScale {
        /// RUNS, then TASKS.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The property tests of everything parsed from the cluster, with many
    /// cases (a plain `cargo test` runs 256 of each).
    Fuzz {
        /// Cases per property.
        #[arg(long, default_value_t = 100_000)]
        cases: u32,
    },
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
        Verb::LocalUp => local::up(&repo_root()),
        Verb::LocalDown => local::down(&repo_root()),
        Verb::Deploy => cluster::deploy(&repo_root()),
        Verb::KindUp => cluster::kind_up(&repo_root()),
        Verb::KindDown => cluster::kind_down(),
        Verb::E2e => e2e::run(&repo_root()),
        Verb::Demo => demo::run(&repo_root()),
        Verb::Image => images::run(&repo_root()),
        Verb::Testenv => testenv::run(&repo_root()),
        Verb::Screenshots => {
            let root = repo_root();
            let bin = testenv::ensure(&root)?;
            packages::ensure(packages::BROWSER)?;
            let sh = xshell::Shell::new()?;
            sh.change_dir(&root);
            let _bin = sh.push_env("MINITASK_TESTENV_BIN", &bin);
            let _shots = sh.push_env("MINITASK_SCREENSHOTS", root.join("docs/screenshots"));
            xshell::cmd!(sh, "cargo test --locked -p kubectl-task --test cli dashboard::").run()?;
            Ok(())
        }
        Verb::Ci => ci::run(&repo_root()),
        Verb::Fuzz { cases } => fuzz::run(&repo_root(), cases),
        Verb::Bench { args } => bench::run(&repo_root(), &args),
        Verb::Chaos { args } => chaos::run(&repo_root(), &args),
        Verb::DashboardScale { args } => {
            let root = repo_root();
            let bin = testenv::ensure(&root)?;
            packages::ensure(packages::BROWSER)?;
            let sh = xshell::Shell::new()?;
            sh.change_dir(&root);
            xshell::cmd!(sh, "cargo build --release --locked -p kubectl-task --bin kubectl-task").run()?;
            let _bin = sh.push_env("MINITASK_TESTENV_BIN", &bin);
            let _plugin = sh.push_env("MINITASK_PLUGIN", root.join("target/release/kubectl-task"));
            xshell::cmd!(
                sh,
                "cargo run --release --locked -p kubectl-task --example dashboard_scale -- {args...}"
            )
            .run()?;
            Ok(())
        }
        Verb::ArchiveScale { args } => {
            let sh = xshell::Shell::new()?;
            sh.change_dir(repo_root());
            xshell::cmd!(
                sh,
                "cargo run --release --locked -p minitask-archive --example scale -- {args...}"
            )
            .run()?;
            Ok(())
        }
    }
}

/// The workspace root: xtask lives one level below it.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}
