//! Deterministic names for what the controller creates.
//!
//! The pod name is a pure function of the TaskRun's name: a controller with
//! a stale cache, or a new one after a crash, computes the same name, and the
//! API server's AlreadyExists stops it from creating a second pod.

use minitask_api::shorten;

/// The longest pod name we create: the DNS label limit, so that the pod's
/// hostname is its name.
const MAX_POD_NAME: usize = 63;
const STEP_PREFIX: &str = "step-";

/// `<taskrun>-pod` for the first attempt, `<taskrun>-pod-retry<k>` for
/// retry k; shortened with a hash of the run's name when too long.
pub fn pod_name(taskrun: &str, attempt: usize) -> String {
    match attempt {
        0 => shorten(taskrun, "-pod", MAX_POD_NAME),
        k => shorten(taskrun, &format!("-pod-retry{k}"), MAX_POD_NAME),
    }
}

/// The container name of a step.
pub fn step_container(step: &str) -> String {
    format!("{STEP_PREFIX}{step}")
}

/// The step name of a step container, or None for any other container.
pub fn step_of_container(container: &str) -> Option<&str> {
    container.strip_prefix(STEP_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_are_derived_from_the_run() {
        assert_eq!(pod_name("hello-run-x7k2p", 0), "hello-run-x7k2p-pod");
        assert_eq!(pod_name("hello-run-x7k2p", 2), "hello-run-x7k2p-pod-retry2");
        let long = pod_name(&"a".repeat(100), 0);
        assert_eq!((long.len(), long.ends_with("-pod")), (63, true));
        let retry = pod_name(&"a".repeat(100), 10);
        assert_eq!((retry.len(), retry.ends_with("-pod-retry10")), (63, true));
    }

    #[test]
    fn step_containers_round_trip() {
        assert_eq!(step_container("build"), "step-build");
        assert_eq!(step_of_container("step-build"), Some("build"));
        assert_eq!(step_of_container("istio-proxy"), None);
    }
}
