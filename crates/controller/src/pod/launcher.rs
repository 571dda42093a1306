//! The containers of a launcher pod: every step is a regular container,
//! and all of them start together. Each runs `minitask-launcher step`,
//! which waits for the step before it to leave its marker, runs its own
//! step and leaves its marker (see the `minitask-launcher` crate). An init
//! container copies the launcher from its image (the controller's) into a
//! volume and writes the scripts; a last container reports results once
//! the steps have ended.
//!
//! The mounts are the protocol's guard: each step writes only its own
//! markers volume and reads the one of the step before; the scripts, the
//! launcher and the reporter's control volume are read-only to steps.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ExecAction, Probe, SecurityContext, VolumeMount};
use minitask_launcher::args::{InstallArgs, ReportArgs};
use minitask_launcher::{
    BIN_DIR, BIN_VOLUME, CONTROL_DIR, CONTROL_VOLUME, IMAGE_LAUNCHER, RESULTS_DIR, RESULTS_VOLUME, SCRIPTS_DIR,
    SCRIPTS_VOLUME, run_dir, run_volume,
};

use crate::pod::script::escape;

/// The init container that copies the launcher into the pod.
pub const PREPARE: &str = "minitask-prepare";
/// The container that reports results; not a step, so not `step-`.
pub const REPORTER: &str = "minitask-results";

/// The init container that copies the launcher into `BIN_VOLUME` and
/// writes the step scripts into `SCRIPTS_VOLUME`. The scripts are escaped
/// for the kubelet's `$(VAR)` expansion, so that they reach the launcher
/// byte for byte.
pub fn prepare(
    image: &str,
    pull_policy: Option<String>,
    security: SecurityContext,
    scripts: Vec<(usize, String)>,
) -> Container {
    let install = InstallArgs {
        dir: BIN_DIR.into(),
        scripts: scripts.into_iter().map(|(index, s)| (index, escape(&s))).collect(),
    };
    Container {
        name: PREPARE.into(),
        image: Some(image.into()),
        image_pull_policy: pull_policy,
        command: Some(vec![IMAGE_LAUNCHER.into()]),
        args: Some(install.to_args()),
        volume_mounts: Some(vec![
            mount(BIN_VOLUME, BIN_DIR, false),
            mount(SCRIPTS_VOLUME, SCRIPTS_DIR, false),
        ]),
        security_context: Some(security),
        ..Container::default()
    }
}

/// The volumes the launcher needs in a pod of `steps` steps.
pub fn volumes(steps: usize, debug: bool) -> Vec<String> {
    let mut names = vec![BIN_VOLUME.to_string(), SCRIPTS_VOLUME.to_string()];
    names.extend((0..steps).map(run_volume));
    if debug {
        names.push(CONTROL_VOLUME.into());
    }
    names
}

/// The mounts step `index` has besides the Task's own: the launcher and
/// the scripts (read-only), its own markers (writable), the markers of the
/// step before (read-only), and where the reporter ends a debugger's wait
/// (read-only).
pub fn step_mounts(index: usize, debug: bool) -> Vec<VolumeMount> {
    let mut mounts = vec![
        mount(BIN_VOLUME, BIN_DIR, true),
        mount(SCRIPTS_VOLUME, SCRIPTS_DIR, true),
        mount(&run_volume(index), &run_dir(index), false),
    ];
    if let Some(before) = index.checked_sub(1) {
        mounts.push(mount(&run_volume(before), &run_dir(before), true));
    }
    if debug {
        mounts.push(mount(CONTROL_VOLUME, CONTROL_DIR, true));
    }
    mounts
}

/// The container that reports the results once the steps have ended. In a
/// run that waits for a debugger on failure it is there even without
/// results: its readiness says when a step waits, and
/// `kubectl task debug --continue` runs the launcher in it.
pub fn reporter(
    report: ReportArgs,
    debug: bool,
    image: &str,
    pull_policy: Option<String>,
    security: SecurityContext,
) -> Container {
    // The last step's markers say when the steps are over; in a debugged
    // run every step's say which one waits, and the control volume is the
    // reporter's to write.
    let watched = match debug {
        true => 0..report.steps,
        false => report.steps.saturating_sub(1)..report.steps,
    };
    let mut mounts: Vec<VolumeMount> = watched.map(|i| mount(&run_volume(i), &run_dir(i), true)).collect();
    if debug {
        mounts.push(mount(CONTROL_VOLUME, CONTROL_DIR, false));
    }
    if !report.names.is_empty() {
        mounts.push(mount(RESULTS_VOLUME, RESULTS_DIR, true));
    }
    Container {
        name: REPORTER.into(),
        image: Some(image.into()),
        image_pull_policy: pull_policy,
        command: Some(vec![IMAGE_LAUNCHER.into()]),
        args: Some(report.to_args()),
        volume_mounts: Some(mounts),
        security_context: Some(security),
        readiness_probe: debug.then(debugging_probe),
        ..Container::default()
    }
}

/// Ready while a step waits for a debugger.
fn debugging_probe() -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec![IMAGE_LAUNCHER.into(), "probe".into()]),
        }),
        period_seconds: Some(1),
        failure_threshold: Some(1),
        success_threshold: Some(1),
        timeout_seconds: Some(1),
        ..Probe::default()
    }
}

/// Whether `pod` runs its steps under the launcher (every pod this
/// controller builds; pods of earlier versions ran them as init
/// containers).
pub fn is_launcher_pod(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .any(|c| c.name == PREPARE)
}

/// Whether the reporter of `pod` says a step waits for a debugger.
pub fn debugger_awaited(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    let probed = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .any(|c| c.name == REPORTER && c.readiness_probe.is_some());
    probed
        && pod
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
            .any(|s| s.name == REPORTER && s.ready && s.state.as_ref().is_some_and(|s| s.running.is_some()))
}

/// The debug wait of a run: `debug.timeout`, or the default.
pub fn debug_wait(timeout: Option<&str>) -> Result<Duration, String> {
    let text = timeout.unwrap_or(minitask_api::DEFAULT_DEBUG_TIMEOUT);
    match minitask_api::parse_duration(text) {
        Ok(d) if !d.is_zero() && d <= minitask_api::MAX_TIMEOUT => Ok(d),
        Ok(_) => Err(format!("spec.debug.timeout: {text:?} must be more than 0s")),
        Err(why) => Err(format!("spec.debug.timeout: {why}")),
    }
}

fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}
