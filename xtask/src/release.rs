//! The one release build: the static binaries the image ships (the
//! controller and its launcher), and the bench and chaos harnesses, which
//! run that very controller binary. One cargo invocation with one set of
//! flags, so every verb (image, deploy, bench, chaos) shares its output
//! and what is measured is what users run.

use std::path::{Path, PathBuf};
use xshell::{Shell, cmd};

/// The target of the shipped binaries. Naming it keeps the static flag away
/// from build scripts and proc-macros, which run on the host.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";
/// Static glibc: the image holds no libc, like distroless/static. Shared
/// with the Dockerfile, which a test holds to the same values.
pub const STATIC_RUSTFLAGS: &str = "-C target-feature=+crt-static";
/// Built together, always: cargo unifies the features of one invocation,
/// so building fewer would make another controller binary.
pub const PACKAGES: [&str; 4] = [
    "minitask-controller",
    "minitask-launcher",
    "minitask-bench",
    "minitask-chaos",
];
/// Where bench and chaos look for the controller (see
/// `minitask_bench::plane::release_binary`).
pub const DIR_ENV: &str = "MINITASK_RELEASE_DIR";

/// Where the binaries land.
pub fn dir(root: &Path) -> PathBuf {
    root.join("target").join(TARGET).join("release")
}

/// Builds (or finds up to date) the release binaries; returns their folder.
pub fn build(root: &Path) -> anyhow::Result<PathBuf> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let _static = sh.push_env("RUSTFLAGS", STATIC_RUSTFLAGS);
    let packages = PACKAGES.iter().flat_map(|p| ["-p", p]);
    cmd!(sh, "cargo build --release --locked --target {TARGET} {packages...}").run()?;
    Ok(dir(root))
}
