//! The discovery documents the API server reads to mark the APIService
//! Available and kubectl reads to find the resources. Pure.

use serde_json::{Value, json};

use super::route::{GROUP, VERSION};

pub fn groups() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group()]})
}

pub fn group() -> Value {
    let version = json!({"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": [version], "preferredVersion": version})
}

pub fn resources() -> Value {
    let resource = |name: &str, kind: &str, singular: &str| {
        json!({"name": name, "singularName": singular, "namespaced": true, "kind": kind,
               "verbs": ["get", "list"], "categories": ["minitask-archive"]})
    };
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/{VERSION}"),
        "resources": [
            resource("taskruns", "TaskRun", "taskrun"),
            resource("pipelineruns", "PipelineRun", "pipelinerun"),
            {"name": "taskruns/log", "singularName": "", "namespaced": true, "kind": "TaskRun", "verbs": ["get"]},
        ]
    })
}
