//! Building the Pod that runs a TaskRun: a pure function of its inputs.
//!
//! Every step is a regular container running under the launcher (see
//! `launcher.rs`): all start together, and each waits for the one before
//! to end, so a step hands over in milliseconds instead of the second a
//! kubelet takes to notice that an init container exited. A failing step
//! makes the launchers after it end without running theirs.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, Pod, PodSecurityContext, PodSpec, SeccompProfile,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};
use minitask_api::{
    ANNOTATION_TASK_SPEC, LABEL_TASK, LABEL_TASKRUN, MAX_TIMEOUT, OnError, Step, TaskRun, TaskSpec, label_value,
    parse_duration,
};
use minitask_launcher::args::{Program, ReportArgs, StepArgs};
use minitask_launcher::{LAUNCHER, RESULTS_DIR, RESULTS_VOLUME};

mod error;
pub(crate) mod launcher;
pub(crate) mod names;
pub(crate) mod params;
mod paths;
pub(crate) mod resolve;
pub(crate) mod resources;
pub(crate) mod results;
pub(crate) mod script;
pub(crate) mod sidecars;
pub(crate) mod substitute;
pub(crate) mod template;
pub(crate) mod workspaces;

pub use error::BuildError;
pub use paths::WORKSPACE_DIR;

use crate::pod::launcher::{debug_wait, prepare, reporter, step_mounts};
use crate::pod::names::{pod_name, step_container};
use crate::pod::resolve::{resolve_steps, vars};
use crate::pod::results::{MAX_RESULTS, message_budget};

const WORKSPACE_VOLUME: &str = "workspace";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGER: &str = "minitask-controller";
/// How long the kubelet waits for a step to stop after SIGTERM (cancel,
/// timeout, eviction) before it kills it. The launcher passes SIGTERM on
/// to the step; a step that ignores it is killed after this. Kubernetes'
/// 30 s default made every cancel feel stuck.
/// `podTemplate.terminationGracePeriodSeconds` changes it.
pub const DEFAULT_GRACE_SECONDS: i64 = 10;
/// The image the launcher is copied from, and that reports results, when
/// the controller is not told (`--launcher-image`) and cannot read its own
/// pod: the controller's image as `cargo xtask image` tags it.
pub const DEFAULT_LAUNCHER_IMAGE: &str = "minitask-controller:dev";

/// Cluster-wide choices for the pods the controller builds.
#[derive(Clone, Debug)]
pub struct PodOptions {
    /// `imagePullPolicy` of every container; the Kubernetes default when None.
    pub image_pull_policy: Option<String>,
    /// The image that holds the launcher: the controller's own.
    pub launcher_image: String,
    /// How long an image pull may keep failing before the run fails.
    pub image_pull_grace: Duration,
    /// How long a sidecar may run without getting ready (its readiness
    /// probe) before the run fails.
    pub sidecar_grace: Duration,
}

/// The default of `PodOptions::sidecar_grace`: a database's first start
/// with an image already pulled takes seconds.
pub const DEFAULT_SIDECAR_GRACE: Duration = Duration::from_secs(120);

/// The default of `PodOptions::image_pull_grace`: long enough to ride out
/// a registry hiccup, short enough that a typo does not hang a run.
pub const DEFAULT_IMAGE_PULL_GRACE: Duration = Duration::from_secs(300);

impl Default for PodOptions {
    fn default() -> Self {
        PodOptions {
            image_pull_policy: None,
            launcher_image: DEFAULT_LAUNCHER_IMAGE.into(),
            image_pull_grace: DEFAULT_IMAGE_PULL_GRACE,
            sidecar_grace: DEFAULT_SIDECAR_GRACE,
        }
    }
}

/// The pod that runs `task` for attempt `attempt` (0 for the first) of `run`.
pub fn build_pod(task: &TaskSpec, run: &TaskRun, attempt: usize, options: &PodOptions) -> Result<Pod, BuildError> {
    if task.steps.is_empty() {
        return Err(BuildError::NoSteps);
    }
    let mut seen = HashSet::new();
    for step in &task.steps {
        if !seen.insert(&step.name) {
            return Err(BuildError::DuplicateStep(step.name.clone()));
        }
    }
    let name = run.metadata.name.as_deref().ok_or(BuildError::Metadata("name"))?;
    let namespace = run
        .metadata
        .namespace
        .as_deref()
        .ok_or(BuildError::Metadata("namespace"))?;
    let owner = run.controller_owner_ref(&()).ok_or(BuildError::Metadata("uid"))?;
    let timeout = parse_duration(&run.spec.timeout).map_err(BuildError::Timeout)?;
    if timeout > MAX_TIMEOUT || timeout.is_zero() {
        return Err(BuildError::Timeout(format!(
            "{:?} must be more than 0s and at most 596523h14m7s (2^31-1 seconds)",
            run.spec.timeout
        )));
    }
    let values = params::resolve(&task.params, &run.spec.params).map_err(BuildError::Params)?;
    let workspaces = workspaces::bind(&task.workspaces, &run.spec.workspaces).map_err(BuildError::Workspaces)?;
    let vars = vars(task, run, &values, &workspaces);
    let steps = resolve_steps(task, &vars)?;

    let debug = match &run.spec.debug {
        Some(d) if d.on_failure => Some(debug_wait(d.timeout.as_deref()).map_err(BuildError::Debug)?),
        _ => None,
    };

    let mut mounts = vec![mount(WORKSPACE_VOLUME, WORKSPACE_DIR)];
    let mut volumes = vec![empty_dir(WORKSPACE_VOLUME)];
    volumes.extend(
        launcher::volumes(steps.len(), debug.is_some())
            .iter()
            .map(|v| empty_dir(v)),
    );
    if !task.results.is_empty() {
        mounts.push(mount(RESULTS_VOLUME, RESULTS_DIR));
        volumes.push(empty_dir(RESULTS_VOLUME));
    }
    for (volume, volume_mount) in workspaces.into_iter().filter_map(|w| w.volume) {
        mounts.push(volume_mount);
        volumes.push(volume);
    }
    let template = run.spec.pod_template.clone().unwrap_or_default();
    let added_security = added_container_security(template.security_context.as_ref());
    let has_reporter = !task.results.is_empty() || debug.is_some();
    // The kubelet shares its termination message budget among all of the
    // pod's containers: the steps, the reporter and the init container.
    let budget = message_budget(steps.len() + usize::from(has_reporter) + 1 + task.sidecars.len());
    let param_env = params::env_vars(&values);
    let step = |(index, s): (usize, &Step)| {
        let mut mounts = mounts.clone();
        mounts.extend(step_mounts(index, debug.is_some()));
        container(s, index, budget, debug, options, mounts, &param_env)
    };
    let mut containers = steps.iter().enumerate().map(step).collect::<Result<Vec<_>, _>>()?;
    resources::share_requests(&mut containers);
    if has_reporter {
        let report = ReportArgs {
            steps: steps.len(),
            budget,
            max: MAX_RESULTS,
            names: task.results.iter().map(|r| r.name.clone()).collect(),
        };
        containers.push(reporter(
            report,
            debug.is_some(),
            &options.launcher_image,
            options.image_pull_policy.clone(),
            added_security.clone(),
        ));
    }
    let scripts = steps.iter().enumerate();
    let scripts = scripts
        .filter_map(|(index, s)| Some((index, s.script.clone()?)))
        .collect();
    let init = prepare(
        &options.launcher_image,
        options.image_pull_policy.clone(),
        added_security,
        scripts,
    );
    let mut init_containers = vec![init];
    init_containers.extend(sidecars::containers(
        task,
        &vars,
        &mounts,
        options.image_pull_policy.clone(),
    )?);

    let task_label = run.task_name().unwrap_or(name);
    let labels = BTreeMap::from([
        (LABEL_TASKRUN.to_string(), label_value(name)),
        (LABEL_TASK.to_string(), label_value(task_label)),
        (MANAGED_BY.to_string(), MANAGER.to_string()),
    ]);
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(name, attempt)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                ANNOTATION_TASK_SPEC.to_string(),
                task_spec_json(task),
            )])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            init_containers: Some(init_containers),
            containers,
            volumes: Some(volumes),
            service_account_name: run.spec.service_account_name.clone(),
            // The kubelet stops the pod once the run is over its timeout;
            // rounding up keeps a sub-second timeout from becoming 0.
            active_deadline_seconds: Some(timeout.as_secs_f64().ceil().max(1.0) as i64),
            node_selector: Some(with_platform(template.node_selector)),
            tolerations: template.tolerations,
            affinity: template.affinity,
            security_context: template.security_context,
            image_pull_secrets: template.image_pull_secrets,
            priority_class_name: template.priority_class_name,
            termination_grace_period_seconds: Some(
                template
                    .termination_grace_period_seconds
                    .unwrap_or(DEFAULT_GRACE_SECONDS),
            ),
            ..PodSpec::default()
        }),
        status: None,
    })
}

fn container(
    step: &Step,
    index: usize,
    budget: usize,
    debug: Option<Duration>,
    options: &PodOptions,
    mounts: Vec<VolumeMount>,
    param_env: &[EnvVar],
) -> Result<Container, BuildError> {
    let program = match (&step.script, &step.command) {
        (Some(_), None) => Program::Script,
        (None, Some(command)) => Program::Command(command.iter().chain(step.args.iter().flatten()).cloned().collect()),
        _ => return Err(BuildError::StepCommand(step.name.clone())),
    };
    let timeout = match step.timeout.as_deref() {
        None => None,
        Some(text) => match parse_duration(text) {
            Ok(d) if !d.is_zero() && d <= MAX_TIMEOUT => Some(d),
            Ok(_) => {
                return Err(BuildError::StepTimeout(
                    step.name.clone(),
                    format!("{text:?} must be more than 0s"),
                ));
            }
            Err(why) => return Err(BuildError::StepTimeout(step.name.clone(), why)),
        },
    };
    // A step's own command and args are not escaped: Kubernetes expands
    // `$(VAR)` in them, as in any container.
    let args = StepArgs {
        index,
        name: step.name.clone(),
        keep_going: step.on_error == OnError::Continue,
        timeout,
        debug,
        budget,
        program,
    }
    .to_args();
    // Params first, so the step's own env can use or override them.
    let env: Vec<EnvVar> = param_env.iter().chain(step.env.iter().flatten()).cloned().collect();
    Ok(Container {
        name: step_container(&step.name),
        image: step.image.clone(),
        image_pull_policy: options.image_pull_policy.clone(),
        command: Some(vec![LAUNCHER.into()]),
        args: Some(args),
        env: (!env.is_empty()).then_some(env),
        working_dir: Some(step.working_dir.clone().unwrap_or_else(|| WORKSPACE_DIR.into())),
        resources: step.resources.clone(),
        volume_mounts: Some(mounts),
        security_context: step.security_context.clone(),
        ..Container::default()
    })
}

/// The user that containers the controller adds run as when the pod does
/// not name one: distroless' `nonroot`.
pub const NONROOT_USER: i64 = 65532;

/// The security context of every container the controller adds to a pod:
/// what Pod Security `restricted` asks for, so that runs work in namespaces
/// that enforce it. It runs as the pod's user when the pod template names
/// one (so it can read what the steps wrote), otherwise as a non-root user.
pub fn added_container_security(pod: Option<&PodSecurityContext>) -> SecurityContext {
    let pod_user = pod.and_then(|p| p.run_as_user);
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        run_as_non_root: Some(pod_user != Some(0)),
        run_as_user: pod_user.is_none().then_some(NONROOT_USER),
        read_only_root_filesystem: Some(true),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..SecurityContext::default()
    }
}

fn task_spec_json(task: &TaskSpec) -> String {
    serde_json::to_string(task).expect("a TaskSpec always serializes")
}

/// The TaskSpec a pod was built from (see `ANNOTATION_TASK_SPEC`).
pub fn task_spec_of(pod: &Pod) -> Option<TaskSpec> {
    serde_json::from_str(pod.annotations().get(ANNOTATION_TASK_SPEC)?).ok()
}

/// True when `pod` is controlled by `run` (same UID): a pod with the right
/// name but another owner is never adopted.
pub fn is_owned_by(pod: &Pod, run: &TaskRun) -> bool {
    let uid = run.meta().uid.as_deref();
    uid.is_some()
        && pod
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}

/// True when `pod` belongs to an earlier TaskRun with `run`'s name, one that
/// was deleted (names are unique, so another UID under the same name is an
/// earlier object): its pod lingers until the garbage collector removes it.
pub fn is_left_by_earlier_run(pod: &Pod, run: &TaskRun) -> bool {
    let (Some(uid), Some(name)) = (run.meta().uid.as_deref(), run.meta().name.as_deref()) else {
        return false;
    };
    pod.owner_references().iter().any(|o| {
        o.controller == Some(true)
            && o.kind == TaskRun::kind(&())
            && o.api_version.starts_with(&format!("{}/", TaskRun::group(&())))
            && o.name == name
            && o.uid != uid
    })
}

/// The node labels the kubelet sets for a node's OS and architecture.
pub const LABEL_OS: &str = "kubernetes.io/os";
pub const LABEL_ARCH: &str = "kubernetes.io/arch";

/// The architecture the launcher was built for, in Kubernetes' words: the
/// controller's own (the launcher comes from its image).
pub fn launcher_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `selector` with the launcher's platform (linux and its architecture)
/// unless it names one: a pod on a node of another kind would fail in
/// `minitask-prepare` with "exec format error".
fn with_platform(selector: Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut selector = selector.unwrap_or_default();
    selector.entry(LABEL_OS.into()).or_insert_with(|| "linux".into());
    selector
        .entry(LABEL_ARCH.into())
        .or_insert_with(|| launcher_arch().into());
    selector
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

#[cfg(test)]
mod tests;
