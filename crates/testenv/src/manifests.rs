//! Applying YAML manifests (as `kubectl apply --server-side` would).

use anyhow::{Context, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, ResourceExt};
use std::time::Duration;

/// Server-side applies every document of a multi-document YAML file.
pub async fn apply_yaml(client: &Client, yaml: &str) -> anyhow::Result<()> {
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).context("parsing YAML")?;
    for document in documents.into_iter().filter(|d| !d.is_null()) {
        let object: DynamicObject = serde_json::from_value(document).context("not a Kubernetes object")?;
        let Some(types) = &object.types else {
            bail!("{} has no apiVersion/kind", object.name_any())
        };
        let (group, version) = types.api_version.split_once('/').unwrap_or(("", &types.api_version));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &types.kind));
        let api: Api<DynamicObject> = match object.namespace() {
            Some(ns) => Api::namespaced_with(client.clone(), &ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let params = PatchParams::apply("minitask-testenv").force();
        api.patch(&object.name_any(), &params, &Patch::Apply(&object))
            .await
            .with_context(|| format!("applying {} {}", types.kind, object.name_any()))?;
    }
    Ok(())
}

/// Waits until the API server serves the named CRDs.
pub async fn wait_crds_established(client: &Client, names: &[&str]) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in names {
        let established = await_condition(crds.clone(), name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(30), established)
            .await
            .with_context(|| format!("CRD {name} not established within 30s"))??;
    }
    Ok(())
}
