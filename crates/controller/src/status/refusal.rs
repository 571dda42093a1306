//! A pod the API server refuses: whether another try may succeed, and what
//! to tell the person who started the run. Pure functions of the answer.

use std::time::Duration;

/// What the controller does about a refused pod.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// The cause may go away (a missing ServiceAccount, a full quota, a
    /// missing permission): the run stays Pending, says why, and the pod is
    /// tried again with backoff.
    Retry(String),
    /// Another try would be refused the same way (a Pod Security violation,
    /// an invalid or too large pod, a webhook's denial): the run fails.
    Permanent(String),
}

/// How to treat the API server's refusal of pod `pod` in `namespace`
/// (HTTP `code`, its `message`); None for errors that say nothing about the
/// pod (the API server busy or unreachable), which are retried quietly.
pub fn refusal(pod: &str, namespace: &str, code: u16, message: &str) -> Option<Refusal> {
    let pod = Refused {
        kind: "pod",
        resource: "pods",
        name: pod,
        fix: "fix the Task or TaskRun and start a new run",
    };
    refusal_of(&pod, namespace, code, message)
}

/// An object the controller tried to create, for `refusal_of`.
pub struct Refused<'a> {
    /// As people say it: "pod", "TaskRun", "claim".
    pub kind: &'a str,
    /// As RBAC says it: "pods", "taskruns", "persistentvolumeclaims".
    pub resource: &'a str,
    pub name: &'a str,
    /// What to change when another try cannot pass.
    pub fix: &'a str,
}

/// As `refusal`, for any object the controller creates.
pub fn refusal_of(object: &Refused, namespace: &str, code: u16, message: &str) -> Option<Refusal> {
    let Refused {
        kind,
        resource,
        name,
        fix,
    } = object;
    let said = format!("the API server refused {kind} {name}: {message}");
    let lower = message.to_ascii_lowercase();
    Some(match code {
        400 | 422 => Refusal::Permanent(format!("{said}; {fix}")),
        413 => Refusal::Permanent(format!(
            "{said}; the {kind} is too large: keep scripts and param values small and pass large data through a workspace"
        )),
        403 if lower.contains("violates podsecurity") => Refusal::Permanent(format!(
            "{said}; namespace {namespace} enforces Pod Security: set spec.podTemplate.securityContext (runAsNonRoot, seccompProfile) and the Task's stepTemplate.securityContext (allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}})"
        )),
        403 if lower.contains("admission webhook") && lower.contains("denied the request") => Refusal::Permanent(
            format!("{said}; an admission policy of the cluster denies this {kind}: change the run to comply"),
        ),
        403 if lower.contains("serviceaccount") && lower.contains("not found") => Refusal::Retry(format!(
            "{said}; create the ServiceAccount or fix spec.serviceAccountName: the controller keeps trying"
        )),
        403 if lower.contains("exceeded quota") || lower.contains("must specify") => Refusal::Retry(format!(
            "{said}; a ResourceQuota of namespace {namespace} has no room: the run goes on when there is room"
        )),
        403 if lower.contains("cannot create resource") => Refusal::Retry(format!(
            "{said}; the controller's ServiceAccount may not create {resource} here: grant it (deploy/controller/rbac.yaml); the controller keeps trying"
        )),
        429 | 500..=599 => return None,
        _ => Refusal::Retry(format!("{said}; the controller keeps trying")),
    })
}

/// How long to wait before trying again to create the pod of a run that is
/// `age` old: soon at first, then at most once a minute.
pub fn retry_after(age: Duration) -> Duration {
    (age / 4).clamp(Duration::from_secs(5), Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_that_can_go_away_are_retried_and_the_rest_fail() {
        let cases = [
            (
                "a missing ServiceAccount",
                403,
                "pods \"r-pod\" is forbidden: error looking up service account ns/builder: serviceaccount \"builder\" not found",
                Some(true),
                "create the ServiceAccount",
            ),
            (
                "a full quota",
                403,
                "pods \"r-pod\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2",
                Some(true),
                "has no room",
            ),
            (
                "Pod Security",
                403,
                "pods \"r-pod\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false",
                Some(false),
                "enforces Pod Security",
            ),
            (
                "a webhook's denial",
                403,
                "admission webhook \"policy.example.com\" denied the request: no latest tags",
                Some(false),
                "admission policy",
            ),
            (
                "the controller's own RBAC",
                403,
                "pods is forbidden: User \"system:serviceaccount:minitask-system:minitask-controller\" cannot create resource \"pods\"",
                Some(true),
                "grant it",
            ),
            (
                "too large",
                413,
                "Request entity too large: limit is 3145728",
                Some(false),
                "too large",
            ),
            (
                "invalid",
                422,
                "Pod \"r-pod\" is invalid: spec.activeDeadlineSeconds",
                Some(false),
                "fix the Task",
            ),
            ("unknown 403", 403, "something new", Some(true), "keeps trying"),
            ("the API server is busy", 429, "too many requests", None, ""),
            ("a webhook is down", 500, "failed calling webhook", None, ""),
        ];
        for (name, code, message, retry, advice) in cases {
            let got = refusal("r-pod", "ns", code, message);
            let (retried, text) = match &got {
                Some(Refusal::Retry(t)) => (Some(true), t.as_str()),
                Some(Refusal::Permanent(t)) => (Some(false), t.as_str()),
                None => (None, ""),
            };
            assert_eq!(retried, retry, "{name}: {got:?}");
            assert!(text.contains(advice), "{name}: {text}");
            if retry.is_some() {
                assert!(
                    text.starts_with(&format!("the API server refused pod r-pod: {message}")),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn retries_back_off_to_once_a_minute() {
        let secs = |s| retry_after(Duration::from_secs(s)).as_secs();
        assert_eq!((secs(0), secs(40), secs(120), secs(3600)), (5, 10, 30, 60));
    }
}
