//! `kubectl_complete-task`: what kubectl (1.26+) runs to complete
//! `kubectl task ...`. It asks `kubectl-task __complete`, found next to
//! this program or on the PATH.

use std::process::Command;

fn main() {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|me| Some(me.parent()?.join("kubectl-task")))
        .filter(|path| path.exists());
    let program = beside.unwrap_or_else(|| "kubectl-task".into());
    let status = Command::new(&program)
        .arg("__complete")
        .args(std::env::args_os().skip(1))
        .status();
    match status {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("kubectl_complete-task: cannot run {}: {e}", program.display());
            std::process::exit(1);
        }
    }
}
