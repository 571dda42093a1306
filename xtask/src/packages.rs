//! Debian packages the tests and the local cluster need, installed with apt
//! when missing (CI runs as root on a fresh machine).

use anyhow::Context;
use std::path::Path;
use xshell::{Shell, cmd};

/// The dashboard's tests drive Debian's Chromium (headless); a font so
/// that its screenshots show text.
pub const BROWSER: &[(&str, &str)] = &[
    ("/usr/bin/chromium", "chromium"),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core"),
];

/// Installs the packages of `needed` (a file each provides, and its
/// package) whose file is missing.
pub fn ensure(needed: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(file, _)| !Path::new(file).exists())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sh = Shell::new()?;
    let _frontend = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    cmd!(sh, "apt-get update -qq").run()?;
    let what = missing.join(", ");
    cmd!(sh, "apt-get install -y -qq --no-install-recommends {missing...}")
        .run()
        .with_context(|| format!("installing {what}"))?;
    Ok(())
}
