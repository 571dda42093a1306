//! `cargo xtask e2e`: the end-to-end tests, against the cluster that
//! `deploy` targets, with the controller running in it from its image.

use std::path::Path;
use xshell::{Shell, cmd};

pub fn run(root: &Path) -> anyhow::Result<()> {
    let kubeconfig = crate::cluster::kubeconfig(root)?;
    let sh = Shell::new()?;
    sh.change_dir(root);
    let _kubeconfig = kubeconfig.map(|k| sh.push_env("KUBECONFIG", k));
    // kubectl's discovery cache is keyed by host:port, and every local
    // cluster listens on the same one: a cache of an earlier cluster (say,
    // one without the archive's API group) would decide what `taskrun/x`
    // means. The tests see this cluster's discovery, as a new user would.
    let cache = root.join("target/e2e-kube-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let _cache = sh.push_env("KUBECACHEDIR", &cache);
    // The e2e tests are #[ignore]d in a plain `cargo test`: they need a
    // cluster with the controller deployed, which this verb guarantees.
    // `--workspace` (only kubectl-task has an `e2e` test) resolves features
    // as `cargo test --workspace` does, so CI's test build is reused.
    cmd!(sh, "cargo test --workspace --locked --test e2e -- --ignored").run()?;
    Ok(())
}
