//! Deterministic names for what the controller creates.
//!
//! The pod name is a pure function of the TaskRun's name: a controller with
//! a stale cache, or a new one after a crash, computes the same name, and the
//! API server's AlreadyExists stops it from creating a second pod.

/// The longest pod name we create: the DNS label limit, so the pod's
/// hostname is its name.
const MAX_POD_NAME: usize = 63;
/// Label values are at most 63 characters.
const MAX_LABEL_VALUE: usize = 63;

/// `<taskrun>-pod`, shortened with a hash of the full name when too long.
pub fn pod_name(taskrun: &str) -> String {
    shorten(taskrun, "-pod", MAX_POD_NAME)
}

/// A label value that identifies `name`: the name itself when it fits.
pub fn label_value(name: &str) -> String {
    shorten(name, "", MAX_LABEL_VALUE)
}

/// The container name of a step.
pub fn step_container(step: &str) -> String {
    format!("{STEP_PREFIX}{step}")
}

/// The step name of a step container, or None for any other container.
pub fn step_of_container(container: &str) -> Option<&str> {
    container.strip_prefix(STEP_PREFIX)
}

const STEP_PREFIX: &str = "step-";

/// `name + suffix` when it fits in `max`; otherwise a prefix of `name`, a
/// hash of the whole name (so two long names never collide on a shared
/// prefix), then the suffix.
fn shorten(name: &str, suffix: &str, max: usize) -> String {
    if name.len() + suffix.len() <= max {
        return format!("{name}{suffix}");
    }
    let hash = format!("{:016x}", fnv1a(name.as_bytes()));
    let keep = max - suffix.len() - hash.len() - 1;
    // Names are ASCII (DNS subdomains), so any byte index is a char boundary;
    // trim so the prefix ends in an alphanumeric, as DNS labels must.
    let prefix = name[..keep].trim_end_matches(['-', '.']);
    format!("{prefix}-{hash}{suffix}")
}

/// FNV-1a, 64 bits: stable across releases and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(pod_name("hello-run-x7k2p"), "hello-run-x7k2p-pod");
        assert_eq!(label_value("hello"), "hello");
    }

    #[test]
    fn long_names_are_hashed_to_fit() {
        let long = format!("{}-run", "a".repeat(100));
        let name = pod_name(&long);
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-pod"));
        assert_eq!(name, pod_name(&long), "the name is deterministic");
        let other = format!("{}-run2", "a".repeat(100));
        assert_ne!(name, pod_name(&other), "a shared prefix does not collide");
        assert_eq!(label_value(&long).len(), 63);
    }

    #[test]
    fn a_name_that_just_fits_is_not_hashed() {
        let name = "b".repeat(59);
        assert_eq!(pod_name(&name), format!("{name}-pod"));
        assert_ne!(pod_name(&"b".repeat(60)), format!("{}-pod", "b".repeat(60)));
    }

    #[test]
    fn shortened_prefix_never_ends_in_a_separator() {
        let name = format!("{}.-{}", "c".repeat(40), "d".repeat(40));
        let short = pod_name(&name);
        assert!(!short.contains(".-") && !short.contains("--"), "{short}");
    }

    #[test]
    fn step_containers_round_trip() {
        assert_eq!(step_container("build"), "step-build");
        assert_eq!(step_of_container("step-build"), Some("build"));
        assert_eq!(step_of_container("istio-proxy"), None);
    }
}
