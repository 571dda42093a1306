//! `Pipeline.status`: the `Valid` condition (what admission cannot check:
//! cycles, references, Tasks that do not exist) and the task count behind `kubectl get pipelines`,
//! written when a Pipeline changes and only if it says something new.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use minitask_api::{Pipeline, PipelineTask};
use serde_json::json;
use tracing::warn;

use crate::pipeline::validate::validity;
use crate::pod::MANAGER;
use crate::runtime::catalog::Catalog;
use crate::runtime::pipelines::{declared_results, missing_task};

/// Writes the Pipeline's status when it changed. Failures are logged: the
/// next event for the Pipeline tries again, and runs check it themselves.
/// Nothing is written before `tasks` holds a complete list: a Task not
/// listed yet is not a missing one (the complete list checks every
/// Pipeline again).
pub async fn record_validity(client: &Client, tasks: &Catalog, tasks_listed: bool, pipeline: &Pipeline) {
    let Some(namespace) = pipeline.namespace() else { return };
    if !tasks_listed {
        return;
    }
    let declared = |task: &PipelineTask| declared_results(task, &namespace, tasks);
    let missing = |task: &PipelineTask| missing_task(task, &namespace, tasks);
    let now = Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH));
    let Some(status) = validity(pipeline, &declared, &missing, &now) else {
        return;
    };
    let api: Api<Pipeline> = Api::namespaced(client.clone(), &namespace);
    let patch = json!({"apiVersion": Pipeline::api_version(&()), "kind": Pipeline::kind(&()), "status": status});
    if let Err(error) = api
        .patch_status(
            &pipeline.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        warn!(pipeline = %pipeline.name_any(), %namespace, %error, "could not record whether the Pipeline is valid");
    }
}
