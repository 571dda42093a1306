//! `cargo xtask deploy`, `kind-up`, `kind-down`: the controller image and
//! manifests on a cluster whose nodes get images loaded, not pulled.

use crate::{images, local};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use xshell::{Shell, cmd};

const KIND_CLUSTER: &str = "minitask";
/// The Deployments that run the image.
const DEPLOYMENTS: [&str; 3] = ["minitask-controller", "minitask-archive", "minitask-hooks"];

/// Where an image archive goes: the local cluster's containerd, or kind.
pub enum Target {
    Local,
    Kind,
}

impl Target {
    /// The local cluster when it is up (and KUBECONFIG does not point
    /// elsewhere), else kind when the current context is kind's.
    pub fn detect(root: &Path) -> anyhow::Result<Target> {
        let local_kubeconfig = local::kubeconfig(root);
        let env = std::env::var_os("KUBECONFIG").map(PathBuf::from);
        if local::is_up(root) && env.as_ref().is_none_or(|k| *k == local_kubeconfig) {
            return Ok(Target::Local);
        }
        let sh = Shell::new()?;
        let context = cmd!(sh, "kubectl config current-context")
            .quiet()
            .ignore_stderr()
            .read()
            .unwrap_or_default();
        if context == format!("kind-{KIND_CLUSTER}") {
            return Ok(Target::Kind);
        }
        bail!(
            "no cluster to deploy to: run `cargo xtask local-up` or `cargo xtask kind-up` first (current context: {context:?}). \
             For any other cluster, push target/images/minitask-controller.tar to a registry, \
             `kustomize edit set image minitask-controller=<your image>` in deploy/, and `kubectl apply -k deploy/`"
        )
    }

    fn kubeconfig(&self, root: &Path) -> Option<PathBuf> {
        match self {
            Target::Local => Some(local::kubeconfig(root)),
            Target::Kind => None,
        }
    }
}

/// Builds and loads the controller image, applies the manifests and waits
/// for the controller to run the new image.
pub fn deploy(root: &Path) -> anyhow::Result<()> {
    let target = Target::detect(root)?;
    let archive = images::controller(root)?;
    let sh = Shell::new()?;
    sh.change_dir(root);
    match target {
        Target::Local => local::load_image(&archive)?,
        Target::Kind => cmd!(sh, "kind load image-archive {archive} --name {KIND_CLUSTER}").run()?,
    }
    let _kubeconfig = target.kubeconfig(root).map(|k| sh.push_env("KUBECONFIG", k));
    cmd!(sh, "kubectl apply --server-side --force-conflicts -k kind/").run()?;
    // Same tag, new image: restart so the pods run what was just loaded.
    for deployment in DEPLOYMENTS {
        cmd!(sh, "kubectl -n minitask-system rollout restart deployment/{deployment}").run()?;
    }
    for deployment in DEPLOYMENTS {
        cmd!(
            sh,
            "kubectl -n minitask-system rollout status deployment/{deployment} --timeout=180s"
        )
        .run()
        .with_context(|| {
            format!("{deployment} did not become ready; see `kubectl -n minitask-system logs deploy/{deployment}`")
        })?;
    }
    Ok(())
}

pub fn kind_up(root: &Path) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    for (tool, why) in [
        ("docker", "kind runs its nodes in Docker"),
        ("kind", "install it from https://kind.sigs.k8s.io"),
    ] {
        if cmd!(sh, "which {tool}").quiet().ignore_stdout().run().is_err() {
            bail!("`{tool}` is not on PATH ({why}); without Docker use `cargo xtask local-up`");
        }
    }
    if cmd!(sh, "docker info")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        bail!(
            "Docker is installed but its engine does not answer (`docker info` fails); start it, or use `cargo xtask local-up`"
        );
    }
    let clusters = cmd!(sh, "kind get clusters").read()?;
    if !clusters.lines().any(|c| c == KIND_CLUSTER) {
        let config = root.join("kind/cluster.yaml");
        cmd!(sh, "kind create cluster --name {KIND_CLUSTER} --config {config}").run()?;
    }
    deploy(root)
}

pub fn kind_down() -> anyhow::Result<()> {
    let sh = Shell::new()?;
    cmd!(sh, "kind delete cluster --name {KIND_CLUSTER}").run()?;
    Ok(())
}

/// The kubeconfig for the current target: the local cluster's when up.
pub fn kubeconfig(root: &Path) -> anyhow::Result<Option<PathBuf>> {
    Ok(Target::detect(root)?.kubeconfig(root))
}
