//! Every permission the controller's ClusterRoles grant, with the code
//! that needs it. The test holds `deploy/controller/rbac.yaml` to this
//! list: a verb granted that no code needs fails it, and so does one the
//! code needs that is not granted.

/// (API group, resource, verb, what needs it).
const PERMISSIONS: &[(&str, &str, &str, &str)] = &[
    ("minitask.dev", "taskruns", "list", "run.rs: the TaskRun watch's list"),
    ("minitask.dev", "taskruns", "watch", "run.rs: the TaskRun watch"),
    (
        "minitask.dev",
        "taskruns",
        "delete",
        "reconcile.rs delete_run: retention",
    ),
    ("minitask.dev", "tasks", "list", "run.rs: the Task watch's list"),
    ("minitask.dev", "tasks", "watch", "run.rs: the Task watch"),
    (
        "minitask.dev",
        "clustertasks",
        "list",
        "run.rs: the ClusterTask watch's list",
    ),
    ("minitask.dev", "clustertasks", "watch", "run.rs: the ClusterTask watch"),
    (
        "minitask.dev",
        "clustertasks/status",
        "patch",
        "task_status.rs record_task_status",
    ),
    ("minitask.dev", "taskruns/status", "patch", "reconcile.rs write_status"),
    (
        "minitask.dev",
        "tasks/status",
        "patch",
        "task_status.rs record_task_status",
    ),
    (
        "minitask.dev",
        "taskruns/finalizers",
        "update",
        "pod/mod.rs build_pod: the pod's owner reference sets blockOwnerDeletion, which OwnerReferencesPermissionEnforcement checks",
    ),
    (
        "minitask.dev",
        "taskruns",
        "create",
        "pipelines.rs create_child: a PipelineRun's TaskRuns",
    ),
    (
        "minitask.dev",
        "taskruns",
        "get",
        "pipelines.rs create_child and reconcile: reading back a TaskRun on AlreadyExists, confirming a child the cache lacks",
    ),
    (
        "minitask.dev",
        "taskruns",
        "patch",
        "pipelines.rs cancel_child: spec.cancelled",
    ),
    ("minitask.dev", "pipelines", "list", "run.rs: the Pipeline watch's list"),
    ("minitask.dev", "pipelines", "watch", "run.rs: the Pipeline watch"),
    (
        "minitask.dev",
        "pipelines/status",
        "patch",
        "pipeline_status.rs record_validity: the Valid condition",
    ),
    (
        "minitask.dev",
        "pipelineruns",
        "list",
        "run.rs: the PipelineRun watch's list",
    ),
    ("minitask.dev", "pipelineruns", "watch", "run.rs: the PipelineRun watch"),
    ("minitask.dev", "triggers", "list", "run.rs: the Trigger watch's list"),
    ("minitask.dev", "triggers", "watch", "run.rs: the Trigger watch"),
    (
        "minitask.dev",
        "triggers/status",
        "patch",
        "triggers.rs write_status: Ready and a schedule's fire times",
    ),
    (
        "minitask.dev",
        "pipelineruns",
        "create",
        "triggers.rs create: a schedule's PipelineRun",
    ),
    (
        "minitask.dev",
        "pipelineruns",
        "patch",
        "triggers.rs cancel: Replace cancels the running PipelineRun",
    ),
    (
        "minitask.dev",
        "pipelineruns",
        "delete",
        "pipelines.rs finished: ttlSecondsAfterFinished",
    ),
    (
        "minitask.dev",
        "pipelineruns/status",
        "patch",
        "pipelines.rs write_if_changed",
    ),
    (
        "minitask.dev",
        "pipelineruns/finalizers",
        "update",
        "child.rs: the owner reference of TaskRuns and claims sets blockOwnerDeletion",
    ),
    ("", "persistentvolumeclaims", "list", "run.rs: the claim watch's list"),
    ("", "persistentvolumeclaims", "watch", "run.rs: the claim watch"),
    (
        "",
        "persistentvolumeclaims",
        "create",
        "pipelines.rs create_claim: a volumeClaimTemplate",
    ),
    (
        "",
        "persistentvolumeclaims",
        "delete",
        "pipelines.rs delete_claims: a finished run's claims",
    ),
    (
        "",
        "persistentvolumeclaims",
        "get",
        "pipelines.rs create_claim: whose claim holds the name on AlreadyExists",
    ),
    ("", "pods", "list", "run.rs: the pod watch's list"),
    ("", "pods", "watch", "run.rs: the pod watch"),
    ("", "pods", "create", "reconcile.rs start"),
    (
        "",
        "pods",
        "get",
        "reconcile.rs start (AlreadyExists) and reconcile (a recorded pod not in the cache); main.rs own_image: the launcher image, once at start",
    ),
    ("", "pods", "patch", "reconcile.rs stop_pod: activeDeadlineSeconds"),
    (
        "",
        "pods",
        "delete",
        "reconcile.rs stop_pod (no node took it) and wait_for_stale_pod",
    ),
    (
        "",
        "pods/log",
        "get",
        "reconcile.rs observe: a results report too long for the termination message",
    ),
    ("events.k8s.io", "events", "create", "publisher.rs create"),
    (
        "",
        "events",
        "list",
        "reconcile.rs read_pod_events: why a pod on a node starts nothing",
    ),
    ("coordination.k8s.io", "leases", "list", "leases.rs round"),
    (
        "coordination.k8s.io",
        "leases",
        "get",
        "leases.rs: kube-leader-election reads a shard Lease",
    ),
    (
        "coordination.k8s.io",
        "leases",
        "create",
        "leases.rs: kube-leader-election creates a shard Lease",
    ),
    (
        "coordination.k8s.io",
        "leases",
        "patch",
        "leases.rs: shard Leases and write_member",
    ),
    (
        "coordination.k8s.io",
        "leases",
        "delete",
        "leases.rs leave and collect_dead_members",
    ),
];

#[cfg(test)]
mod tests {
    use super::PERMISSIONS;
    use std::collections::BTreeSet;

    #[test]
    fn the_cluster_roles_grant_exactly_what_the_code_uses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/controller/rbac.yaml");
        let yaml = std::fs::read_to_string(path).unwrap();
        let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
        let mut granted = BTreeSet::new();
        for role in documents.iter().filter(|d| d["kind"] == "ClusterRole") {
            for rule in role["rules"].as_array().unwrap() {
                let strings = |key: &str| -> Vec<String> {
                    rule[key]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect()
                };
                for group in strings("apiGroups") {
                    for resource in strings("resources") {
                        for verb in strings("verbs") {
                            granted.insert((group.clone(), resource.clone(), verb));
                        }
                    }
                }
            }
        }
        let needed: BTreeSet<(String, String, String)> = PERMISSIONS
            .iter()
            .map(|(g, r, v, _)| (g.to_string(), r.to_string(), v.to_string()))
            .collect();
        let unused: Vec<_> = granted.difference(&needed).collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        assert!(unused.is_empty(), "granted, but no code needs it: {unused:?}");
        assert!(missing.is_empty(), "needed, but not granted: {missing:?}");
    }
}
