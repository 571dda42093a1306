use std::fmt;

/// Why a PipelineRun is in its phase: the machine-readable `status.reason`.
/// These strings are API: tools match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelineReason {
    /// Pending: `spec.pipelineRef` names a Pipeline that does not exist (yet).
    PipelineNotFound,
    /// Pending: no task has started yet.
    Pending,
    /// Running: at least one task has started.
    Running,
    /// Succeeded: every task succeeded or was skipped, finally tasks too.
    Succeeded,
    /// Failed: a task (or a finally task) failed.
    TaskFailed,
    /// Failed: `spec.cancelled` was set; the finally tasks ran.
    Cancelled,
    /// Failed: the run went over one of its timeouts.
    Timeout,
    /// Failed: the Pipeline's graph or references are wrong (a cycle, an
    /// unknown task or result): see its `Valid` condition.
    InvalidPipeline,
    /// Failed: the run's params do not fit the Pipeline.
    InvalidParams,
    /// Failed: the run's workspaces do not fit the Pipeline.
    InvalidWorkspaces,
    /// Failed: the API server refused a claim from a volumeClaimTemplate
    /// in a way another try cannot change (a webhook's denial, an invalid
    /// template), or the claim's name is taken by another object.
    ClaimFailed,
    /// Failed: the API server refused one of the run's TaskRuns in a way
    /// another try cannot change (a webhook's denial, an invalid TaskRun).
    TaskRunRefused,
    /// Failed: a TaskRun with the name of one of the run's belongs to
    /// something else.
    TaskRunConflict,
    /// Failed: the Pipeline's results together are larger than a
    /// PipelineRun may hold (`MAX_PIPELINE_RESULTS`).
    ResultsTooLarge,
}

impl PipelineReason {
    /// Every reason, in the order the API documents them.
    pub const ALL: [PipelineReason; 14] = [
        PipelineReason::PipelineNotFound,
        PipelineReason::Pending,
        PipelineReason::Running,
        PipelineReason::Succeeded,
        PipelineReason::TaskFailed,
        PipelineReason::Cancelled,
        PipelineReason::Timeout,
        PipelineReason::InvalidPipeline,
        PipelineReason::InvalidParams,
        PipelineReason::InvalidWorkspaces,
        PipelineReason::ClaimFailed,
        PipelineReason::TaskRunRefused,
        PipelineReason::TaskRunConflict,
        PipelineReason::ResultsTooLarge,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            PipelineReason::PipelineNotFound => "PipelineNotFound",
            PipelineReason::Pending => "Pending",
            PipelineReason::Running => "Running",
            PipelineReason::Succeeded => "Succeeded",
            PipelineReason::TaskFailed => "TaskFailed",
            PipelineReason::Cancelled => "Cancelled",
            PipelineReason::Timeout => "Timeout",
            PipelineReason::InvalidPipeline => "InvalidPipeline",
            PipelineReason::InvalidParams => "InvalidParams",
            PipelineReason::InvalidWorkspaces => "InvalidWorkspaces",
            PipelineReason::ClaimFailed => "ClaimFailed",
            PipelineReason::TaskRunRefused => "TaskRunRefused",
            PipelineReason::TaskRunConflict => "TaskRunConflict",
            PipelineReason::ResultsTooLarge => "ResultsTooLarge",
        }
    }
}

impl fmt::Display for PipelineReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn the_api_documents_every_reason_once() {
        let mut names: Vec<&str> = PipelineReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PipelineReason::ALL.len(), "a reason is listed twice");
        let crd = serde_json::to_value(crate::PipelineRun::crd()).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let text = schema["properties"]["status"]["properties"]["reason"]["description"]
            .as_str()
            .unwrap();
        let words: Vec<&str> = text.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        for reason in PipelineReason::ALL {
            assert!(
                words.contains(&reason.as_str()),
                "{reason} is not in status.reason's description: {text}"
            );
        }
    }
}
