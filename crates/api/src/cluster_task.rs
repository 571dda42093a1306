//! `ClusterTask`: a Task published once for every namespace. Its spec is a
//! Task's; runs name it with `taskRef: {kind: ClusterTask, name: ...}`.

use std::ops::Deref;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{TaskSpec, TaskStatus};

/// A ClusterTask's spec: exactly a Task's.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "minitask.dev",
    version = "v1alpha1",
    kind = "ClusterTask",
    shortname = "ctsk",
    category = "minitask",
    doc = "A ClusterTask is a Task that every namespace may run (`taskRef: {kind: ClusterTask, name: ...}`); who may publish one is decided by RBAC on this cluster-scoped resource.",
    status = "TaskStatus",
    printcolumn(
        name = "Steps",
        type_ = "integer",
        json_path = ".status.steps",
        description = "How many steps the ClusterTask has"
    ),
    printcolumn(
        name = "Valid",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Valid\")].status",
        description = "Whether every reference in the steps names something the ClusterTask declares"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClusterTaskSpec(pub TaskSpec);

impl Deref for ClusterTaskSpec {
    type Target = TaskSpec;

    fn deref(&self) -> &TaskSpec {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;

    use super::*;
    use crate::Task;

    #[test]
    fn a_cluster_task_is_cluster_scoped_with_the_schema_and_rules_of_a_task() {
        let crd = ClusterTask::crd();
        assert_eq!(crd.spec.scope, "Cluster");
        let schema =
            |crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition| {
                let version = &crd.spec.versions[0];
                let props = version.schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
                serde_json::to_value(props.properties.as_ref().unwrap().get("spec").unwrap()).unwrap()
            };
        let (mut cluster, mut task) = (schema(&crd), schema(&Task::crd()));
        for s in [&mut cluster, &mut task] {
            s.as_object_mut().unwrap().remove("description");
        }
        assert_eq!(cluster, task, "a ClusterTask's spec must be a Task's");
        assert!(
            cluster["x-kubernetes-validations"].is_array(),
            "the Task's rules came along"
        );
    }

    #[test]
    fn a_cluster_task_reads_as_a_task() {
        let yaml = "apiVersion: minitask.dev/v1alpha1\nkind: ClusterTask\nmetadata: {name: git-clone}\nspec:\n  steps: [{name: a, image: busybox, script: echo}]\n";
        let task: ClusterTask = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(task.spec.steps[0].name, "a");
    }
}
