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
    // What a user types: the plugin through kubectl's plugin discovery,
    // following every step's output in order, then the run described.
    println!("\n$ kubectl task start hello -f");
    cmd!(sh, "kubectl task start hello -f").run()?;
    println!("\n$ kubectl task describe --last");
    cmd!(sh, "kubectl task describe --last").run()?;
    let export = kubeconfig
        .map(|k| format!("  export KUBECONFIG={}\n", k.display()))
        .unwrap_or_default();
    let bin = root.join("target/debug");
    println!(
        "\nWhat to try next:\n{export}  export PATH={}:$PATH\n\
         \x20 kubectl task start failing -f        # a run that fails, and why (exit code 1)\n\
         \x20 kubectl task runs -w                 # runs as they change\n\
         \x20 kubectl task logs --last             # the newest run's logs, step by step\n\
         \x20 kubectl apply -f deploy/samples/     # params, results, workspaces, retries...\n\
         \x20 source <(kubectl-task completion bash)   # TAB completion\n\
         \x20 cargo xtask local-down               # remove the local cluster",
        bin.display()
    );
    Ok(())
}
