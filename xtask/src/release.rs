//! The one release build: the static binaries the image ships (the
//! controller and its launcher), and the bench and chaos harnesses, which
//! run that very controller binary. One cargo invocation with one set of
//! flags, so every verb (image, deploy, bench, chaos) shares its output
//! and what is measured is what users run.

use std::path::{Path, PathBuf};
use xshell::{Shell, cmd};

/// The target of the shipped binaries, unless `MINITASK_TARGET` names
/// another (`aarch64-unknown-linux-gnu` for an arm64 image, where that
/// target and a linker for it are installed). Naming it keeps the static
/// flag away from build scripts and proc-macros, which run on the host.
pub const DEFAULT_TARGET: &str = "x86_64-unknown-linux-gnu";
pub const TARGET_ENV: &str = "MINITASK_TARGET";
/// The Dockerfile's build argument for the same choice (a test holds the
/// Dockerfile to it).
#[cfg(test)]
pub const TARGET_ARG: &str = "RUST_TARGET";

/// The target to build for.
pub fn target() -> String {
    std::env::var(TARGET_ENV).unwrap_or_else(|_| DEFAULT_TARGET.into())
}

/// The OCI architecture of `target`'s binaries.
pub fn architecture(target: &str) -> &'static str {
    match target.split('-').next() {
        Some("aarch64") => "arm64",
        Some("powerpc64le") => "ppc64le",
        Some("s390x") => "s390x",
        _ => "amd64",
    }
}
/// Static glibc: the image holds no libc, like distroless/static. Shared
/// with the Dockerfile, which a test holds to the same values.
pub const STATIC_RUSTFLAGS: &str = "-C target-feature=+crt-static";
/// Built together, always: cargo unifies the features of one invocation,
/// so building fewer would make another controller binary.
pub const PACKAGES: [&str; 6] = [
    "minitask-controller",
    "minitask-launcher",
    "minitask-archive",
    "minitask-hooks",
    "minitask-bench",
    "minitask-chaos",
];
/// Where bench and chaos look for the controller (see
/// `minitask_bench::plane::release_binary`).
pub const DIR_ENV: &str = "MINITASK_RELEASE_DIR";

/// Where the binaries land.
pub fn dir(root: &Path) -> PathBuf {
    root.join("target").join(target()).join("release")
}

/// Builds (or finds up to date) the release binaries; returns their folder.
pub fn build(root: &Path) -> anyhow::Result<PathBuf> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let _static = sh.push_env("RUSTFLAGS", STATIC_RUSTFLAGS);
    let packages = PACKAGES.iter().flat_map(|p| ["-p", p]);
    let target = target();
    cmd!(sh, "cargo build --release --locked --target {target} {packages...}").run()?;
    Ok(dir(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_architecture_follows_the_target() {
        assert_eq!(architecture(DEFAULT_TARGET), "amd64");
        assert_eq!(architecture("aarch64-unknown-linux-gnu"), "arm64");
    }
}
