//! The Events a PipelineRun's status change announces (a pure function of
//! the status before and after the write): its end, like a TaskRun's.

use kube::runtime::events::EventType;
use minitask_api::{Phase, PipelineReason, PipelineRunStatus};

use crate::status::events::Announcement;

pub fn announcements(before: &PipelineRunStatus, after: &PipelineRunStatus) -> Vec<Announcement> {
    let ended = !before.phase.is_some_and(Phase::is_terminal) && after.phase.is_some_and(Phase::is_terminal);
    if !ended {
        return Vec::new();
    }
    let reason = after.reason.clone().unwrap_or_default();
    let message = after.message.clone().unwrap_or_default();
    let (type_, event) = match (after.phase, reason.as_str()) {
        (Some(Phase::Succeeded), _) => (EventType::Normal, "Succeeded"),
        (_, r) if r == PipelineReason::Cancelled.as_str() => (EventType::Normal, "Cancelled"),
        (_, r) if r == PipelineReason::Timeout.as_str() => (EventType::Warning, "TimedOut"),
        _ => (EventType::Warning, "Failed"),
    };
    let note = match event {
        "Failed" => format!("{reason}: {message}"),
        _ => message,
    };
    vec![Announcement {
        type_,
        reason: event,
        note,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(phase: Option<Phase>, reason: &str) -> PipelineRunStatus {
        PipelineRunStatus {
            phase,
            reason: Some(reason.into()),
            message: Some("why".into()),
            ..PipelineRunStatus::default()
        }
    }

    #[test]
    fn only_the_end_is_announced() {
        let running = status(Some(Phase::Running), "Running");
        assert!(announcements(&status(None, ""), &running).is_empty());
        let failed = announcements(&running, &status(Some(Phase::Failed), "TaskFailed"));
        assert_eq!(
            (failed[0].reason, failed[0].note.as_str()),
            ("Failed", "TaskFailed: why")
        );
        let cancelled = announcements(&running, &status(Some(Phase::Failed), "Cancelled"));
        assert_eq!(cancelled[0].reason, "Cancelled");
        let done = status(Some(Phase::Succeeded), "Succeeded");
        assert_eq!(announcements(&running, &done)[0].reason, "Succeeded");
        assert!(announcements(&done, &done).is_empty(), "once");
    }
}
