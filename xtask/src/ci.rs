//! `cargo xtask ci`: exactly what CI runs (`.ci/run` calls this verb).

use std::path::Path;
use std::time::Instant;
use xshell::{Shell, cmd};

pub fn run(root: &Path) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let started = Instant::now();
    cmd!(sh, "cargo fmt --all -- --check").run()?;
    cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?;
    crate::crds::run(root, true)?;
    // The integration tests run a real etcd and kube-apiserver, built from
    // source on a machine's first run.
    let bin = crate::testenv::ensure(root)?;
    // The CLI tests drive completion in a real bash, as users have it.
    crate::packages::ensure(&[
        ("/usr/share/bash-completion/bash_completion", "bash-completion"),
        ("/usr/bin/script", "bsdutils"),
    ])?;
    let _bin = sh.push_env("MINITASK_TESTENV_BIN", &bin);
    cmd!(sh, "cargo test --workspace --locked").run()?;
    eprintln!(
        "ci: unit and integration tests green after {}s",
        started.elapsed().as_secs()
    );

    // The benchmark's smoke version: it proves `cargo xtask bench` works
    // end to end (few runs, short phases); its numbers mean nothing here.
    crate::bench::run(root, &["--quick".to_string()])?;
    // The chaos harness's smoke version: every scenario with fewer runs
    // and faults, and every invariant checked (it fails CI when one breaks).
    crate::chaos::run(root, &["--quick".to_string()])?;

    // End to end: the local cluster, the controller deployed from its
    // image, real containers. The cluster goes away whatever happens.
    let e2e = end_to_end(root);
    let down = crate::local::down(root);
    e2e?;
    down?;
    eprintln!("ci: all green in {}s", started.elapsed().as_secs());
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
