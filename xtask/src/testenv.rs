//! `cargo xtask testenv`: builds the pinned upstream Kubernetes and etcd
//! binaries that the integration and e2e tests run, from the Go modules in
//! `xtask/upstream/`, into `target/testenv/<versions>/bin`. Reused when
//! present, so only the first run on a machine pays for the build.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use xshell::{Shell, cmd};

pub const KUBERNETES: &str = "v1.35.4";
pub const ETCD: &str = "v3.6.16";
const KUBE_BINARIES: [&str; 4] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"];

/// Where the binaries of the pinned versions live.
pub fn bin_dir(root: &Path) -> PathBuf {
    root.join("target/testenv")
        .join(format!("kubernetes-{KUBERNETES}-etcd-{ETCD}"))
        .join("bin")
}

/// Builds whatever is missing and returns the directory.
pub fn ensure(root: &Path) -> anyhow::Result<PathBuf> {
    let bin = bin_dir(root);
    let missing: Vec<&str> = KUBE_BINARIES
        .iter()
        .chain(&["etcd"])
        .copied()
        .filter(|b| !bin.join(b).is_file())
        .collect();
    if missing.is_empty() {
        return Ok(bin);
    }
    let sh = Shell::new()?;
    if cmd!(sh, "go version").quiet().ignore_stdout().run().is_err() {
        bail!(
            "`go` is not on PATH: the test binaries ({}) are built from their Go modules",
            missing.join(", ")
        );
    }
    eprintln!(
        "building {} into {} (first run on this machine: several minutes)",
        missing.join(", "),
        bin.display()
    );
    // Build into a scratch directory and move in at the end, so that an
    // interrupted build never leaves a half-written binary that looks done.
    let scratch = bin.with_file_name("bin.partial");
    std::fs::create_dir_all(&scratch)?;
    let upstream = root.join("xtask/upstream");
    // Use the Go on this machine and the checked-in go.sum, nothing else.
    let _toolchain = sh.push_env("GOTOOLCHAIN", "local");
    let _flags = sh.push_env("GOFLAGS", "-mod=readonly -trimpath");
    if missing.contains(&"etcd") {
        sh.change_dir(upstream.join("etcd"));
        let out = scratch.join("etcd");
        cmd!(sh, "go build -o {out} .").run().context("building etcd")?;
    }
    let kube: Vec<String> = KUBE_BINARIES
        .iter()
        .filter(|b| missing.contains(b))
        .map(|b| format!("k8s.io/kubernetes/cmd/{b}"))
        .collect();
    if !kube.is_empty() {
        sh.change_dir(upstream.join("kubernetes"));
        let minor = KUBERNETES.split('.').nth(1).unwrap_or_default();
        let ldflags = [
            format!("-X k8s.io/component-base/version.gitVersion={KUBERNETES}"),
            "-X k8s.io/component-base/version.gitMajor=1".to_string(),
            format!("-X k8s.io/component-base/version.gitMinor={minor}"),
            "-X k8s.io/component-base/version.gitTreeState=clean".to_string(),
        ]
        .join(" ");
        let out = format!("{}/", scratch.display());
        cmd!(sh, "go build -o {out} -ldflags {ldflags} {kube...}")
            .run()
            .context("building the Kubernetes binaries")?;
    }
    std::fs::create_dir_all(&bin)?;
    for entry in std::fs::read_dir(&scratch)? {
        let entry = entry?;
        std::fs::rename(entry.path(), bin.join(entry.file_name()))?;
    }
    std::fs::remove_dir(&scratch)?;
    Ok(bin)
}

pub fn run(root: &Path) -> anyhow::Result<()> {
    let bin = ensure(root)?;
    let sh = Shell::new()?;
    let apiserver = bin.join("kube-apiserver");
    let etcd = bin.join("etcd");
    let version = cmd!(sh, "{apiserver} --version").read()?;
    let etcd_version = cmd!(sh, "{etcd} --version").read()?;
    println!("{version}, {}", etcd_version.lines().next().unwrap_or_default());
    println!("export MINITASK_TESTENV_BIN={}", bin.display());
    Ok(())
}
