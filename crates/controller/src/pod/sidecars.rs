//! A Task's sidecars as Kubernetes native sidecars: init containers with
//! `restartPolicy: Always` after the launcher's. The kubelet starts them
//! in order once the launcher is installed, starts the steps only once
//! each sidecar's startup probe has passed, and stops them when the last
//! step has ended, so the pod completes (Kubernetes 1.29 and later).

use k8s_openapi::api::core::v1::{Container, Probe, VolumeMount};
use minitask_api::TaskSpec;

use crate::pod::error::BuildError;
use crate::pod::substitute::{Field, Vars};

/// The container of sidecar `name`.
pub const PREFIX: &str = "sidecar-";

pub fn sidecar_container(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// The sidecar a container runs, if it is one.
pub fn sidecar_of_container(container: &str) -> Option<&str> {
    container.strip_prefix(PREFIX)
}

/// Failures of the startup probe the kubelet tolerates: never reached, so
/// the kubelet does not restart a sidecar that is slow to get ready; the
/// controller's sidecar grace period decides when it has waited enough.
const STARTUP_FAILURES: i32 = 1_000_000;

/// The sidecars' containers, with every `$(...)` reference filled in; they
/// see the same workspaces as the steps.
pub fn containers(
    task: &TaskSpec,
    vars: &Vars,
    mounts: &[VolumeMount],
    pull_policy: Option<String>,
) -> Result<Vec<Container>, BuildError> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for sidecar in &task.sidecars {
        let what = |field: &str| format!("sidecar {:?} {field}", sidecar.name);
        let mut list = |items: &Option<Vec<String>>, field: &str| {
            items
                .as_ref()
                .map(|items| vars.list(items, &what(field), &mut problems))
        };
        let (command, args) = match &sidecar.script {
            Some(script) => (
                Some(vec!["/bin/sh".to_string(), "-c".to_string()]),
                Some(vec![vars.string(script, Field::Raw, &what("script"), &mut problems)]),
            ),
            None => (list(&sidecar.command, "command"), list(&sidecar.args, "args")),
        };
        let mut env = sidecar.env.clone().unwrap_or_default();
        for var in &mut env {
            if let Some(value) = &var.value {
                let field = format!("env {}", var.name);
                var.value = Some(vars.string(value, Field::Expanded, &what(&field), &mut problems));
            }
        }
        // The readiness probe doubles as the startup probe: the kubelet
        // starts the steps only once a sidecar's startup probe passed.
        let startup = sidecar.readiness_probe.clone().map(|probe| Probe {
            failure_threshold: Some(STARTUP_FAILURES),
            ..probe
        });
        out.push(Container {
            name: sidecar_container(&sidecar.name),
            image: Some(vars.string(&sidecar.image, Field::Raw, &what("image"), &mut problems)),
            image_pull_policy: pull_policy.clone(),
            command,
            args,
            env: (!env.is_empty()).then_some(env),
            working_dir: sidecar.working_dir.clone(),
            ports: sidecar.ports.clone(),
            readiness_probe: sidecar.readiness_probe.clone(),
            startup_probe: startup,
            resources: sidecar.resources.clone(),
            security_context: sidecar.security_context.clone(),
            volume_mounts: Some(mounts.to_vec()),
            restart_policy: Some("Always".into()),
            ..Container::default()
        });
    }
    match problems.is_empty() {
        true => Ok(out),
        false => Err(BuildError::References(problems)),
    }
}
