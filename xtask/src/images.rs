//! `cargo xtask image`: the images mini-task needs, built without Docker.
//!
//! - the controller: its static binary, the launcher's (which its pods
//!   copy, see `crates/launcher`) and the archive's alone, running as uid 65532, as on
//!   distroless `static-debian12:nonroot` (see the Dockerfile, which builds
//!   the same image with Docker);
//! - `busybox` and the pod sandbox (`pause`) image for the local cluster,
//!   which can pull nothing: both from Debian's busybox-static.

use crate::oci::{self, Config, Entry, Image};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use xshell::{Shell, cmd};

pub const CONTROLLER_IMAGE: &str = "docker.io/library/minitask-controller:dev";
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:latest";
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";
const CONTROLLER_PATH: &str = "/minitask-controller";
/// Where pods find the launcher in the controller's image:
/// `minitask_launcher::IMAGE_LAUNCHER`.
const LAUNCHER_PATH: &str = "/minitask-launcher";
/// The archive runs from the same image (deploy/archive).
const ARCHIVE_PATH: &str = "/minitask-archive";
/// So does the webhook receiver (deploy/hooks).
const HOOKS_PATH: &str = "/minitask-hooks";
const NONROOT: &str = "65532:65532";
const BUSYBOX: &str = "/bin/busybox";

pub fn dir(root: &Path) -> PathBuf {
    root.join("target/images")
}

/// Builds the controller image archive and returns its path.
pub fn controller(root: &Path) -> anyhow::Result<PathBuf> {
    let release = crate::release::build(root)?;
    let binary = |name: &str| read(&release.join(name));
    let mut entries = with_base(Entry::file(
        &CONTROLLER_PATH[1..],
        0o755,
        binary("minitask-controller")?,
    ));
    entries.push(Entry::file(&LAUNCHER_PATH[1..], 0o755, binary("minitask-launcher")?));
    entries.push(Entry::file(&ARCHIVE_PATH[1..], 0o755, binary("minitask-archive")?));
    entries.push(Entry::file(&HOOKS_PATH[1..], 0o755, binary("minitask-hooks")?));
    let image = Image {
        name: CONTROLLER_IMAGE.into(),
        architecture: crate::release::architecture(&crate::release::target()).into(),
        entries,
        config: Config {
            entrypoint: vec![CONTROLLER_PATH.into()],
            cmd: vec![],
            user: NONROOT.into(),
            env: vec![],
        },
    };
    let path = dir(root).join("minitask-controller.tar");
    oci::write(&image, &path)?;
    Ok(path)
}

/// Builds the busybox and pause image archives for the local cluster.
pub fn local(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !Path::new(BUSYBOX).is_file() {
        bail!("{BUSYBOX} is missing: install Debian's busybox-static (cargo xtask local-up does)");
    }
    let sh = Shell::new()?;
    let applets = cmd!(sh, "{BUSYBOX} --list-full").read()?;
    let mut entries = base_entries();
    for dir in ["bin", "sbin", "usr", "usr/bin", "usr/sbin"] {
        entries.push(Entry::dir(dir, 0o755));
    }
    entries.push(Entry::dir("root", 0o700));
    entries.push(Entry::file("bin/busybox", 0o755, read(Path::new(BUSYBOX))?));
    for applet in applets.lines().filter(|a| *a != "bin/busybox" && !a.is_empty()) {
        entries.push(Entry::Symlink {
            path: applet.into(),
            target: "/bin/busybox".into(),
        });
    }
    let busybox = Image {
        architecture: "amd64".into(),
        name: BUSYBOX_IMAGE.into(),
        entries,
        config: Config {
            entrypoint: vec![],
            cmd: vec!["sh".into()],
            user: "0:0".into(),
            env: vec![PATH_ENV.into()],
        },
    };
    // The sandbox only holds the pod's namespaces: any process that sleeps.
    let pause = Image {
        architecture: "amd64".into(),
        name: PAUSE_IMAGE.into(),
        entries: vec![
            Entry::dir("bin", 0o755),
            Entry::file("bin/busybox", 0o755, read(Path::new(BUSYBOX))?),
        ],
        config: Config {
            entrypoint: vec!["/bin/busybox".into(), "sleep".into(), "2147483647".into()],
            cmd: vec![],
            user: "65535:65535".into(),
            env: vec![],
        },
    };
    let paths = vec![dir(root).join("busybox.tar"), dir(root).join("pause.tar")];
    oci::write(&busybox, &paths[0])?;
    oci::write(&pause, &paths[1])?;
    Ok(paths)
}

fn with_base(entry: Entry) -> Vec<Entry> {
    let mut entries = base_entries();
    entries.push(entry);
    entries
}

/// What every image here has: users for `runAsNonRoot` checks and a /tmp.
fn base_entries() -> Vec<Entry> {
    vec![
        Entry::dir("etc", 0o755),
        Entry::file("etc/passwd", 0o644, PASSWD.as_bytes().to_vec()),
        Entry::file("etc/group", 0o644, GROUP.as_bytes().to_vec()),
        Entry::dir("tmp", 0o1777),
    ]
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";
const PATH_ENV: &str = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

pub fn run(root: &Path) -> anyhow::Result<()> {
    let path = controller(root)?;
    println!("{path:?}: {CONTROLLER_IMAGE}");
    println!("load it with: ctr -n k8s.io images import | docker load -i | kind load image-archive");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{DEFAULT_TARGET, PACKAGES, STATIC_RUSTFLAGS, TARGET_ARG};

    /// Docker cannot run here, so hold the Dockerfile to what `xtask image`
    /// builds: the same static build, path, user and entrypoint.
    #[test]
    fn the_dockerfile_describes_the_same_image() {
        let dockerfile = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Dockerfile")).unwrap();
        let packages: Vec<String> = PACKAGES.iter().map(|p| format!("-p {p}")).collect();
        let wants = [
            format!("RUSTFLAGS=\"{STATIC_RUSTFLAGS}\""),
            format!("ARG {TARGET_ARG}={DEFAULT_TARGET}"),
            format!("--target ${{{TARGET_ARG}}} {}", packages.join(" ")),
            format!("/src/target/${{{TARGET_ARG}}}/release/minitask-controller {CONTROLLER_PATH}"),
            format!("/src/target/${{{TARGET_ARG}}}/release/minitask-launcher {LAUNCHER_PATH}"),
            format!("/src/target/${{{TARGET_ARG}}}/release/minitask-archive {ARCHIVE_PATH}"),
            format!("/src/target/${{{TARGET_ARG}}}/release/minitask-hooks {HOOKS_PATH}"),
            format!("USER {NONROOT}"),
            format!("ENTRYPOINT [\"{CONTROLLER_PATH}\"]"),
            "distroless/static".to_string(),
        ];
        for want in wants {
            assert!(dockerfile.contains(&want), "the Dockerfile lacks {want:?}");
        }
    }
}
