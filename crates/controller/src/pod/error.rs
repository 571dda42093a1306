//! Why a TaskRun cannot be turned into a pod: a leaf every pod-building
//! module may use.

use minitask_api::Reason;

/// Why a TaskRun cannot be turned into a pod. The admission rules reject
/// most of these; the rest come from objects the rules cannot see.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BuildError {
    #[error("the Task has no steps: add at least one step")]
    NoSteps,
    #[error("step name {0:?} is used twice: give every step a unique name")]
    DuplicateStep(String),
    #[error(
        "step {0:?} needs exactly one of script or command; an image's ENTRYPOINT is not read (the launcher runs the step): give it as command"
    )]
    StepCommand(String),
    #[error("step {0:?} has no image: set its image or stepTemplate.image")]
    NoImage(String),
    #[error("spec.timeout: {0}")]
    Timeout(String),
    #[error("step {0:?}: timeout: {1}")]
    StepTimeout(String, String),
    #[error("{0}")]
    Debug(String),
    #[error("the TaskRun has no {0} yet; it is created by the API server")]
    Metadata(&'static str),
    #[error("{}", .0.join("; "))]
    Params(Vec<String>),
    #[error("{}", .0.join("; "))]
    Workspaces(Vec<String>),
    #[error("{}", .0.join("; "))]
    References(Vec<String>),
}

impl BuildError {
    /// The run's `status.reason` when its pod cannot be built.
    pub fn reason(&self) -> Reason {
        match self {
            BuildError::Params(_) => Reason::InvalidParams,
            BuildError::Workspaces(_) => Reason::InvalidWorkspaces,
            BuildError::References(problems) => {
                let all = |kind: &str| problems.iter().all(|p| p.contains(&format!("$({kind}.")));
                match (all("params"), all("workspaces")) {
                    (true, _) => Reason::InvalidParams,
                    (_, true) => Reason::InvalidWorkspaces,
                    _ => Reason::InvalidTaskSpec,
                }
            }
            _ => Reason::InvalidTaskSpec,
        }
    }
}
