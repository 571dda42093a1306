//! A launcher pod's resource requests. Its step containers all exist at
//! once, so the scheduler would reserve the sum of their requests; but
//! only one step runs at a time, and init-container pods reserved only the
//! largest step's. So each resource is requested once, by the step that
//! asks for the most of it, and explicitly zero by the others (a
//! LimitRange default or a limit would otherwise become a request).
//! Limits stay on every step as written: they are enforced per container.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Moves every resource's request to the step that requests the most of
/// it (the first, on a tie), and requests zero of it elsewhere.
pub fn share_requests(steps: &mut [Container]) {
    let mut largest: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for (i, step) in steps.iter().enumerate() {
        for (name, quantity) in requests(step) {
            let amount = amount(&quantity);
            let entry = largest.entry(name).or_insert((i, amount));
            if amount > entry.1 {
                *entry = (i, amount);
            }
        }
    }
    for (i, step) in steps.iter_mut().enumerate() {
        let resources = step.resources.get_or_insert_with(ResourceRequirements::default);
        let limits = resources.limits.clone().unwrap_or_default();
        let own = resources.requests.get_or_insert_with(BTreeMap::new);
        for (name, (owner, _)) in &largest {
            if *owner != i {
                own.insert(name.clone(), Quantity("0".into()));
            }
        }
        // A limit without a request asks for the limit: the largest step
        // asks for it explicitly, the others for none.
        for (name, limit) in limits {
            let owns = largest.get(&name).is_some_and(|(owner, _)| *owner == i);
            own.entry(name)
                .or_insert_with(|| if owns { limit } else { Quantity("0".into()) });
        }
        if own.is_empty() {
            resources.requests = None;
        }
        if resources.requests.is_none() && resources.limits.is_none() && resources.claims.is_none() {
            step.resources = None;
        }
    }
}

/// A step's requests, with the limit standing in for a missing request
/// (as Kubernetes defaults it).
fn requests(step: &Container) -> BTreeMap<String, Quantity> {
    let Some(resources) = &step.resources else {
        return BTreeMap::new();
    };
    let mut requests = resources.limits.clone().unwrap_or_default();
    requests.extend(resources.requests.clone().unwrap_or_default());
    requests
}

/// A quantity as a number, to compare two of the same resource: `500m`,
/// `2`, `1Gi`, `1G`, `1e3`. An unreadable one counts as 0 (the API server
/// rejects it anyway).
pub fn amount(quantity: &Quantity) -> f64 {
    let text = quantity.0.trim();
    let suffixes: [(&str, f64); 15] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in suffixes {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().map(|n| n * factor).unwrap_or(0.0);
        }
    }
    text.parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        let map = |pairs: &[(&str, &str)]| {
            (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        Container {
            resources: (!requests.is_empty() || !limits.is_empty()).then(|| ResourceRequirements {
                requests: map(requests),
                limits: map(limits),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }

    fn requests_of(steps: &[Container]) -> Vec<Vec<(String, String)>> {
        steps
            .iter()
            .map(|s| {
                s.resources
                    .iter()
                    .flat_map(|r| r.requests.iter().flatten())
                    .map(|(k, v)| (k.clone(), v.0.clone()))
                    .collect()
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn each_resource_is_requested_once_by_the_largest_step() {
        let mut steps = vec![
            step(&[("cpu", "500m"), ("memory", "64Mi")], &[]),
            step(&[("cpu", "2")], &[]),
            step(&[("memory", "1Gi")], &[("memory", "2Gi")]),
        ];
        share_requests(&mut steps);
        assert_eq!(
            requests_of(&steps),
            [
                pairs(&[("cpu", "0"), ("memory", "0")]),
                pairs(&[("cpu", "2"), ("memory", "0")]),
                pairs(&[("cpu", "0"), ("memory", "1Gi")]),
            ]
        );
        // Limits stay where they were.
        let limits = steps[2].resources.as_ref().unwrap().limits.as_ref().unwrap();
        assert_eq!(limits["memory"].0, "2Gi");
    }

    #[test]
    fn a_limit_without_a_request_counts_as_its_request() {
        let mut steps = vec![step(&[], &[("memory", "256Mi")]), step(&[("memory", "128Mi")], &[])];
        share_requests(&mut steps);
        assert_eq!(
            requests_of(&steps),
            [pairs(&[("memory", "256Mi")]), pairs(&[("memory", "0")])]
        );
    }

    #[test]
    fn steps_without_resources_stay_without() {
        let mut steps = vec![step(&[], &[]), step(&[], &[])];
        share_requests(&mut steps);
        assert!(steps.iter().all(|s| s.resources.is_none()));
    }

    #[test]
    fn quantities_compare_by_amount() {
        let q = |s: &str| amount(&Quantity(s.into()));
        assert!(q("1Gi") > q("1G") && q("1G") > q("900Mi"));
        assert!(q("1500m") > q("1") && q("2") > q("1500m"));
        assert_eq!(q("1e3"), 1000.0);
        assert_eq!(q("nonsense"), 0.0);
    }
}
