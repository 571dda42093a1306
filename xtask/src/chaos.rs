//! `cargo xtask chaos`: the release build (`release.rs`: the controller
//! binary the image ships) and the harness (`crates/chaos`) on the pinned
//! etcd + kube-apiserver: faults while runs flow, then every invariant
//! checked.
//! `--fuzz` instead runs every property test for a fixed time budget.

use std::path::Path;
use xshell::{Shell, cmd};

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    if let Some(at) = args.iter().position(|a| a == "--fuzz") {
        let seconds = args
            .get(at + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(crate::fuzz::DEFAULT_BUDGET);
        return crate::fuzz::for_seconds(root, seconds);
    }
    let sh = Shell::new()?;
    sh.change_dir(root);
    let bin = crate::testenv::ensure(root)?;
    sh.set_var("MINITASK_TESTENV_BIN", bin);
    let release = crate::release::build(root)?;
    sh.set_var(crate::release::DIR_ENV, &release);
    let chaos = release.join("minitask-chaos");
    cmd!(sh, "{chaos} {args...}").run()?;
    Ok(())
}
