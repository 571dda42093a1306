//! What a finished PipelineRun still asks for: its TaskRuns that have not
//! ended cancelled (a run that ended by a write elsewhere, or whose cancel
//! was lost), its claims deleted unless kept, and the run itself deleted
//! once `ttlSecondsAfterFinished` has passed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use minitask_api::{PipelineRun, TaskRun};

use crate::pipeline::child::claim_name;
use crate::pipeline::plan::split;

#[derive(Debug, Default, PartialEq)]
pub struct AfterEnd {
    /// The run's own TaskRuns still running, not yet cancelled.
    pub cancel: Vec<String>,
    /// Its claims from templates that it does not keep.
    pub delete_claims: Vec<String>,
    /// When to delete the run: None without a TTL, zero when it is due.
    pub delete_in: Option<Duration>,
}

/// `claims`: the claims the run made that exist.
pub fn after_end(
    run: &PipelineRun,
    children: &BTreeMap<String, TaskRun>,
    claims: &BTreeSet<String>,
    now: &Time,
) -> AfterEnd {
    let (own, _) = split(run, children);
    let cancel = own
        .values()
        .filter(|c| !c.phase().is_terminal() && !c.spec.cancelled)
        .map(|c| c.name_any())
        .collect();
    let delete_claims = run
        .spec
        .workspaces
        .iter()
        .filter(|b| b.volume_claim_template.is_some() && !b.keep)
        .map(|b| claim_name(&run.name_any(), &b.name, claims))
        .collect();
    let ended = run.status.as_ref().and_then(|s| s.completion_time.as_ref());
    let delete_in = match (run.spec.ttl_seconds_after_finished, ended) {
        (Some(ttl), Some(ended)) => {
            let left = ended
                .0
                .as_second()
                .saturating_add(ttl.max(0))
                .saturating_sub(now.0.as_second());
            Some(Duration::from_secs(left.max(0) as u64))
        }
        _ => None,
    };
    AfterEnd {
        cancel,
        delete_claims,
        delete_in,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use minitask_api::{Phase, PipelineRunStatus, TaskRunStatus};
    use serde_json::json;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
    }

    fn child(name: &str, uid: &str, phase: Phase, cancelled: bool) -> TaskRun {
        let mut child: TaskRun = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": name, "namespace": "ns", "ownerReferences": [
                {"apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun", "name": "p", "uid": uid, "controller": true}]},
            "spec": {"taskRef": {"name": "t"}, "cancelled": cancelled},
        }))
        .unwrap();
        child.status = Some(TaskRunStatus {
            phase: Some(phase),
            ..TaskRunStatus::default()
        });
        child
    }

    #[test]
    fn a_finished_run_cancels_its_running_taskruns_drops_its_claims_and_goes_after_its_ttl() {
        let template =
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        let mut run: PipelineRun = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
            "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"pipelineRef": {"name": "ci"}, "ttlSecondsAfterFinished": 60, "workspaces": [
                {"name": "src", "volumeClaimTemplate": template},
                {"name": "out", "volumeClaimTemplate": template, "keep": true},
            ]},
        }))
        .unwrap();
        run.status = Some(PipelineRunStatus {
            completion_time: Some(at(100)),
            ..PipelineRunStatus::default()
        });
        let children: BTreeMap<String, TaskRun> = [
            child("p-a", "u", Phase::Running, false),
            child("p-b", "u", Phase::Running, true),
            child("p-c", "u", Phase::Succeeded, false),
            child("p-old", "another", Phase::Running, false),
        ]
        .into_iter()
        .map(|c| (c.name_any(), c))
        .collect();
        let none = BTreeSet::new();
        let after = after_end(&run, &children, &none, &at(130));
        assert_eq!(after.cancel, ["p-a"], "running, ours, not cancelled yet");
        assert_eq!(after.delete_claims, [claim_name("p", "src", &none)]);
        assert_eq!(after.delete_in, Some(Duration::from_secs(30)));
        assert_eq!(
            after_end(&run, &children, &none, &at(500)).delete_in,
            Some(Duration::ZERO)
        );
        run.spec.ttl_seconds_after_finished = None;
        assert_eq!(after_end(&run, &children, &none, &at(500)).delete_in, None);
    }
}
