//! `cargo xtask ci`: exactly what CI runs (`.ci/run` calls this verb).

use std::path::Path;
use xshell::{Shell, cmd};

pub fn run(root: &Path) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    cmd!(sh, "cargo fmt --all -- --check").run()?;
    cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?;
    crate::crds::run(root, true)?;
    cmd!(sh, "cargo test --workspace --locked").run()?;
    Ok(())
}
