//! `cargo xtask testenv`: builds the pinned upstream Kubernetes, etcd and
//! SeaweedFS (`weed`, the archive's real S3 server) binaries that the
//! integration and e2e tests run, from the Go modules in `xtask/upstream/`, into `target/testenv/<versions>/bin`. Reused when
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

/// Builds whatever is missing and returns the directory, the build's
/// output on this terminal.
pub fn ensure(root: &Path) -> anyhow::Result<PathBuf> {
    build(root, None)
}

/// Starts `ensure` on a thread of its own, its output going to
/// `target/testenv/build.log` (the tail is shown when it fails): CI builds
/// the upstream binaries while cargo builds the Rust code.
pub fn ensure_in_background(root: &Path) -> std::thread::JoinHandle<anyhow::Result<PathBuf>> {
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let log = root.join("target/testenv/build.log");
        build(&root, Some(&log)).map_err(|e| {
            let tail = crate::daemon::tail(&log);
            anyhow::anyhow!("{e:#}; the last lines of {}:\n{tail}", log.display())
        })
    })
}

/// Builds what is missing, printing to `log` when given.
fn build(root: &Path, log: Option<&Path>) -> anyhow::Result<PathBuf> {
    let bin = bin_dir(root);
    let missing: Vec<&str> = KUBE_BINARIES
        .iter()
        .chain(&["etcd", "weed"])
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
        "building {} into {} (first run on this machine: several minutes{})",
        missing.join(", "),
        bin.display(),
        log.map(|l| format!("; output in {}", l.display())).unwrap_or_default()
    );
    // Build into a scratch directory and move in at the end, so that an
    // interrupted build never leaves a half-written binary that looks done.
    let scratch = bin.with_file_name("bin.partial");
    std::fs::create_dir_all(&scratch)?;
    let upstream = root.join("xtask/upstream");
    let go = |dir: &str, args: Vec<String>| -> anyhow::Result<()> {
        let mut command = std::process::Command::new("go");
        command
            .current_dir(upstream.join(dir))
            .arg("build")
            .args(args)
            // Use the Go on this machine and the checked-in go.sum.
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=readonly -trimpath");
        if let Some(log) = log {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
            command.stdout(file.try_clone()?).stderr(file);
        }
        let status = command.status().with_context(|| format!("running go build in {dir}"))?;
        anyhow::ensure!(status.success(), "go build in xtask/upstream/{dir} failed ({status})");
        Ok(())
    };
    if missing.contains(&"etcd") {
        let out = scratch.join("etcd").display().to_string();
        go(
            "etcd",
            vec!["-o".into(), out, "-ldflags".into(), STRIP.into(), ".".into()],
        )
        .context("building etcd")?;
    }
    if missing.contains(&"weed") {
        let out = scratch.join("weed").display().to_string();
        let weed = "github.com/seaweedfs/seaweedfs/weed".to_string();
        go(
            "seaweedfs",
            vec!["-o".into(), out, "-ldflags".into(), STRIP.into(), weed],
        )
        .context("building SeaweedFS")?;
    }
    let kube: Vec<String> = KUBE_BINARIES
        .iter()
        .filter(|b| missing.contains(b))
        .map(|b| format!("k8s.io/kubernetes/cmd/{b}"))
        .collect();
    if !kube.is_empty() {
        let minor = KUBERNETES.split('.').nth(1).unwrap_or_default();
        let ldflags = [
            STRIP.to_string(),
            format!("-X k8s.io/component-base/version.gitVersion={KUBERNETES}"),
            "-X k8s.io/component-base/version.gitMajor=1".to_string(),
            format!("-X k8s.io/component-base/version.gitMinor={minor}"),
            "-X k8s.io/component-base/version.gitTreeState=clean".to_string(),
        ]
        .join(" ");
        let out = format!("{}/", scratch.display());
        let mut args = vec!["-o".into(), out, "-ldflags".into(), ldflags];
        args.extend(kube);
        go("kubernetes", args).context("building the Kubernetes binaries")?;
    }
    std::fs::create_dir_all(&bin)?;
    for entry in std::fs::read_dir(&scratch)? {
        let entry = entry?;
        std::fs::rename(entry.path(), bin.join(entry.file_name()))?;
    }
    std::fs::remove_dir(&scratch)?;
    Ok(bin)
}

/// No symbol table or DWARF: the binaries are run, never debugged here,
/// and the linker has less to write.
const STRIP: &str = "-s -w";

pub fn run(root: &Path) -> anyhow::Result<()> {
    let bin = ensure(root)?;
    crate::packages::ensure(crate::packages::BROWSER)?;
    let sh = Shell::new()?;
    let apiserver = bin.join("kube-apiserver");
    let etcd = bin.join("etcd");
    let version = cmd!(sh, "{apiserver} --version").read()?;
    let etcd_version = cmd!(sh, "{etcd} --version").read()?;
    println!("{version}, {}", etcd_version.lines().next().unwrap_or_default());
    println!("export MINITASK_TESTENV_BIN={}", bin.display());
    Ok(())
}
