//! `cargo xtask bench`: the release build (`release.rs`: the controller
//! binary the image ships) and the benchmark (`crates/bench`) on the
//! pinned etcd + kube-apiserver. It prints numbers; it never fails on a
//! time.

use std::path::Path;
use xshell::{Shell, cmd};

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let kubelet = args.iter().any(|a| a == "--kubelet");
    if !kubelet {
        let bin = crate::testenv::ensure(root)?;
        sh.set_var("MINITASK_TESTENV_BIN", bin);
    } else if let Some(kubeconfig) = crate::cluster::kubeconfig(root)? {
        sh.set_var("KUBECONFIG", kubeconfig);
    }
    let release = crate::release::build(root)?;
    sh.set_var(crate::release::DIR_ENV, &release);
    let bench = release.join("minitask-bench");
    cmd!(sh, "{bench} {args...}").run()?;
    Ok(())
}
