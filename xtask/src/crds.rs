//! `cargo xtask crds`: the CRD manifests are generated, never hand-edited.

use anyhow::{Context, bail};
use std::path::Path;

pub fn run(root: &Path, check: bool) -> anyhow::Result<()> {
    let dir = root.join("deploy/crds");
    let files = minitask_api::manifests().map_err(anyhow::Error::msg)?;
    let mut stale = Vec::new();
    for (name, want) in &files {
        let path = dir.join(name);
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have == *want {
            continue;
        }
        if check {
            stale.push(path.display().to_string());
        } else {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&path, want).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        bail!(
            "stale CRD manifests: {}; run `cargo xtask crds` and commit the result",
            stale.join(", ")
        );
    }
    Ok(())
}
