//! Which Kubernetes Events a status change announces: a pure function of
//! the status before and after a write.

use kube::runtime::events::EventType;
use minitask_api::{Phase, Reason, TaskRunStatus};

/// An Event to publish on the TaskRun.
#[derive(Clone, Debug, PartialEq)]
pub struct Announcement {
    pub type_: EventType,
    /// Retrying, PodCreationFailed, Succeeded, Failed, Cancelled or TimedOut.
    pub reason: &'static str,
    pub note: String,
}

/// The Events that going from `before` to `after` announces.
pub fn announcements(before: &TaskRunStatus, after: &TaskRunStatus) -> Vec<Announcement> {
    let mut out = Vec::new();
    // A first pod is no news: the status says so (podName, startTime), and
    // an Event for it would cost a write per run. A retry's new pod is
    // news; the write that records it may be the one that records the
    // failed attempt too, so the status before names the old pod.
    if let (Some(pod), attempt @ 1..) = (&after.pod_name, after.retries_status.len())
        && before.pod_name.as_ref() != Some(pod)
    {
        out.push(Announcement {
            type_: EventType::Normal,
            reason: "Retrying",
            note: format!("created pod {pod} for attempt {}", attempt + 1),
        });
    }
    // A refused pod, while the controller keeps trying: once per cause.
    let refused = Some(Reason::PodCreationFailed.as_str());
    if after.phase == Some(Phase::Pending)
        && after.reason.as_deref() == refused
        && (before.reason.as_deref() != refused || before.message != after.message)
    {
        out.push(Announcement {
            type_: EventType::Warning,
            reason: "PodCreationFailed",
            note: after.message.clone().unwrap_or_default(),
        });
    }
    let ended = !before.phase.is_some_and(Phase::is_terminal) && after.phase.is_some_and(Phase::is_terminal);
    if ended {
        let reason = after.reason.clone().unwrap_or_default();
        let message = after.message.clone().unwrap_or_default();
        let (type_, event) = match (after.phase, reason.as_str()) {
            (Some(Phase::Succeeded), _) => (EventType::Normal, "Succeeded"),
            (_, r) if r == Reason::Cancelled.as_str() => (EventType::Normal, "Cancelled"),
            (_, r) if r == Reason::Timeout.as_str() => (EventType::Warning, "TimedOut"),
            _ => (EventType::Warning, "Failed"),
        };
        let note = match event {
            "Failed" => format!("{reason}: {message}"),
            _ => message,
        };
        out.push(Announcement {
            type_,
            reason: event,
            note,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(phase: Option<Phase>, reason: &str, pod: Option<&str>) -> TaskRunStatus {
        TaskRunStatus {
            phase,
            reason: Some(reason.into()),
            message: Some("why".into()),
            pod_name: pod.map(str::to_string),
            ..TaskRunStatus::default()
        }
    }

    #[test]
    fn each_transition_announces_itself_once() {
        let none = TaskRunStatus::default();
        let pending = status(Some(Phase::Pending), "Pending", Some("p"));
        let running = status(Some(Phase::Running), "Running", Some("p"));
        let reasons = |before: &TaskRunStatus, after: &TaskRunStatus| -> Vec<(&'static str, String)> {
            announcements(before, after)
                .into_iter()
                .map(|a| (a.reason, a.note))
                .collect()
        };
        assert_eq!(
            reasons(&none, &pending),
            [],
            "a first pod is in the status, not worth an Event"
        );
        assert_eq!(reasons(&pending, &running), []);
        let done = status(Some(Phase::Succeeded), "Succeeded", Some("p"));
        assert_eq!(reasons(&running, &done), [("Succeeded", "why".to_string())]);
        assert_eq!(reasons(&done, &done), [], "a finished run announces nothing more");
        let failed = status(Some(Phase::Failed), "StepFailed", Some("p"));
        assert_eq!(reasons(&running, &failed), [("Failed", "StepFailed: why".to_string())]);
        let cancelled = status(Some(Phase::Failed), "Cancelled", Some("p"));
        assert_eq!(reasons(&running, &cancelled)[0].0, "Cancelled");
        let timed_out = status(Some(Phase::Failed), "Timeout", None);
        let got = announcements(&none, &timed_out);
        assert_eq!((got[0].reason, got[0].type_), ("TimedOut", EventType::Warning));
        let mut retry = status(Some(Phase::Pending), "Retrying", Some("p-retry1"));
        retry.retries_status = vec![Default::default()];
        let mut before = running.clone();
        before.pod_name = None;
        assert_eq!(
            reasons(&before, &retry),
            [("Retrying", "created pod p-retry1 for attempt 2".to_string())]
        );
        // One write both ends the first attempt and starts the second: the
        // status before still names the first pod.
        assert_eq!(
            reasons(&running, &retry),
            [("Retrying", "created pod p-retry1 for attempt 2".to_string())]
        );
        assert_eq!(reasons(&retry, &retry), [], "once per attempt");
        let refused = status(Some(Phase::Pending), "PodCreationFailed", None);
        let got = announcements(&none, &refused);
        assert_eq!((got[0].reason, got[0].type_), ("PodCreationFailed", EventType::Warning));
        assert_eq!(reasons(&refused, &refused), [], "once per cause");
        let mut other = refused.clone();
        other.message = Some("another cause".into());
        assert_eq!(reasons(&refused, &other)[0].0, "PodCreationFailed");
    }

    /// Every reason an Event of a TaskRun may have (the README lists them).
    const EVENT_REASONS: [&str; 6] = [
        "Retrying",
        "PodCreationFailed",
        "Succeeded",
        "Failed",
        "Cancelled",
        "TimedOut",
    ];

    #[test]
    fn the_readme_lists_every_event_and_no_other() {
        const README: &str = include_str!("../../../../README.md");
        let at = README
            .find("Events on TaskRuns (and on PipelineRuns")
            .expect("the README's Events paragraph");
        let paragraph = README[at..].split("\n\n").next().unwrap_or_default();
        let listed: std::collections::BTreeSet<&str> = paragraph
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| !w.contains(' '))
            .collect();
        assert_eq!(listed, EVENT_REASONS.into_iter().collect());
    }

    #[test]
    fn every_event_reason_is_a_listed_one() {
        let statuses = [
            status(Some(Phase::Pending), "PodCreationFailed", None),
            status(Some(Phase::Succeeded), "Succeeded", Some("p")),
            status(Some(Phase::Failed), "StepFailed", Some("p")),
            status(Some(Phase::Failed), "Cancelled", Some("p")),
            status(Some(Phase::Failed), "Timeout", Some("p")),
            TaskRunStatus {
                retries_status: vec![Default::default()],
                ..status(Some(Phase::Pending), "Retrying", Some("p-retry1"))
            },
        ];
        let mut seen = std::collections::BTreeSet::new();
        for after in &statuses {
            for a in announcements(&TaskRunStatus::default(), after) {
                assert!(EVENT_REASONS.contains(&a.reason), "{}", a.reason);
                seen.insert(a.reason);
            }
        }
        assert_eq!(seen, EVENT_REASONS.into_iter().collect(), "each is sent somewhere");
    }
}
