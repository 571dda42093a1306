//! `cargo xtask demo`: from a fresh machine to the hello Task's output in
//! one command.

use std::path::Path;
use xshell::{Shell, cmd};

pub fn run(root: &Path) -> anyhow::Result<()> {
    let kind_ready = crate::cluster::Target::detect(root).is_ok_and(|t| matches!(t, crate::cluster::Target::Kind));
    if !kind_ready {
        crate::local::up(root)?;
    }
    crate::cluster::deploy(root)?;
    let sh = Shell::new()?;
    sh.change_dir(root);
    let kubeconfig = crate::cluster::kubeconfig(root)?;
    let _kubeconfig = kubeconfig.clone().map(|k| sh.push_env("KUBECONFIG", k));
    cmd!(sh, "cargo build --quiet --locked -p kubectl-task").run()?;
    let path = format!(
        "{}:{}",
        root.join("target/debug").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let _path = sh.push_env("PATH", path);
    cmd!(sh, "kubectl apply -f deploy/samples/hello.yaml").run()?;
    let created = cmd!(sh, "kubectl task start hello").read()?;
    println!("{created}");
    let run = created
        .trim()
        .trim_start_matches("taskrun.minitask.dev/")
        .trim_end_matches(" created")
        .to_string();
    cmd!(
        sh,
        "kubectl wait --for=condition=Succeeded taskrun/{run} --timeout=120s"
    )
    .run()?;
    cmd!(sh, "kubectl logs {run}-pod --all-containers --prefix").run()?;
    cmd!(sh, "kubectl get taskruns").run()?;
    let export = kubeconfig
        .map(|k| format!("export KUBECONFIG={}\n", k.display()))
        .unwrap_or_default();
    let bin = root.join("target/debug");
    println!(
        "\nWhat to try next:\n{export}export PATH={}:$PATH\n\
         kubectl task start failing && kubectl get taskruns -w   # a run that fails, and why\n\
         kubectl get taskrun {run} -o yaml   # the full status\n\
         kubectl explain taskrun.spec   # the API, documented\n\
         cargo xtask local-down   # remove the local cluster",
        bin.display()
    );
    Ok(())
}
