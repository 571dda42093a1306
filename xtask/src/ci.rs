//! `cargo xtask ci`: exactly what CI runs (`.ci/run` calls this verb).
//!
//! Everything is built first, once: the upstream Go binaries on a thread
//! of their own while cargo builds the Rust code (clippy's check, the
//! tests, and the one release build that the image, bench and chaos
//! share). Only then does anything run, on a machine no build competes
//! with: the tests, the bench and chaos smokes, and the e2e tests on the
//! local cluster. It ends with where the time went.

use std::path::Path;
use std::time::{Duration, Instant};
use xshell::{Shell, cmd};

pub fn run(root: &Path) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let mut clock = Clock::default();
    // The integration tests run a real etcd and kube-apiserver, built from
    // source on a machine's first run.
    let upstream = crate::testenv::ensure_in_background(root);
    cmd!(sh, "cargo fmt --all -- --check").run()?;
    cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?;
    crate::crds::run(root, true)?;
    clock.lap("fmt, clippy, crds");
    cmd!(sh, "cargo test --workspace --locked --no-run").run()?;
    clock.lap("test build");
    let release = crate::release::build(root)?;
    clock.lap("release build");
    // The CLI tests drive completion in a real bash, as users have it.
    crate::packages::ensure(&[
        ("/usr/share/bash-completion/bash_completion", "bash-completion"),
        ("/usr/bin/script", "bsdutils"),
        // The archive's API test calls it directly, bypassing the API server.
        ("/usr/bin/curl", "curl"),
    ])?;
    crate::packages::ensure(crate::packages::BROWSER)?;
    let bin = upstream
        .join()
        .map_err(|_| anyhow::anyhow!("the thread building the upstream binaries panicked"))??;
    clock.lap("waiting for the upstream build");

    let _bin = sh.push_env("MINITASK_TESTENV_BIN", &bin);
    cmd!(sh, "cargo test --workspace --locked").run()?;
    clock.lap("unit and integration tests");
    // The benchmark's smoke version: it proves `cargo xtask bench` works
    // end to end; its numbers mean nothing here.
    crate::bench::run(root, &["--smoke".to_string()])?;
    clock.lap("bench --smoke");
    // The chaos harness's smoke version: every scenario with fewer runs
    // and faults, and every invariant checked (it fails CI when one breaks).
    crate::chaos::run(root, &["--quick".to_string()])?;
    clock.lap("chaos --quick");

    // End to end: the local cluster, the controller deployed from its
    // image (the binary bench and chaos ran), real containers. The cluster
    // goes away whatever happens.
    let e2e = end_to_end(root);
    let down = crate::local::down(root);
    e2e?;
    down?;
    clock.lap("local cluster and e2e");
    eprintln!(
        "ci: all green in {}s (release binaries in {}, upstream ones in {}); where the time went:",
        clock.total(),
        release.display(),
        bin.display()
    );
    eprint!("{}", clock.report());
    Ok(())
}

fn end_to_end(root: &Path) -> anyhow::Result<()> {
    // CI tests the local cluster, whatever cluster the caller's
    // environment points at.
    // SAFETY: xtask is single-threaded here.
    unsafe { std::env::remove_var("KUBECONFIG") };
    crate::local::up(root)?;
    // A second local-up must find the cluster up and change nothing.
    crate::local::up(root)?;
    crate::cluster::deploy(root)?;
    crate::e2e::run(root)
}

/// Where the time went, phase by phase.
struct Clock {
    started: Instant,
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Default for Clock {
    fn default() -> Self {
        let now = Instant::now();
        Clock {
            started: now,
            last: now,
            laps: Vec::new(),
        }
    }
}

impl Clock {
    fn lap(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.laps.push((phase, now - self.last));
        self.last = now;
    }

    fn total(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn report(&self) -> String {
        self.laps
            .iter()
            .map(|(phase, took)| format!("ci:   {:>5}s  {phase}\n", took.as_secs()))
            .collect()
    }
}
