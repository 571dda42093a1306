//! `kubectl task version`: the plugin's, the cluster's and the
//! controller's versions, and whether the mini-task API is installed.
//! Fails when the cluster cannot be reached.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;

use crate::cluster::Cluster;
use crate::errors;
use crate::output::print;

/// Where `deploy/` puts the controller.
const CONTROLLER_NAMESPACE: &str = "minitask-system";
const CONTROLLER: &str = "minitask-controller";

pub async fn run(cluster: &anyhow::Result<Cluster>) -> anyhow::Result<()> {
    print(&format!("kubectl-task {}\n", env!("CARGO_PKG_VERSION")));
    let cluster = match cluster {
        Ok(cluster) => cluster,
        Err(e) => anyhow::bail!("{e}"),
    };
    let server = cluster
        .client
        .apiserver_version()
        .await
        .map_err(|e| errors::api(&e, "asking the cluster its version", &cluster.server))?;
    print(&format!("Kubernetes {} at {}\n", server.git_version, cluster.server));
    let api = match cluster.client.list_api_group_resources("minitask.dev/v1alpha1").await {
        Ok(list) => {
            let mut names: Vec<String> = list
                .resources
                .iter()
                .filter(|r| !r.name.contains('/'))
                .map(|r| r.name.clone())
                .collect();
            names.sort();
            format!("installed (minitask.dev/v1alpha1: {})", names.join(", "))
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {
            "not installed: apply the CRDs (kubectl apply -f deploy/crds/)".into()
        }
        Err(e) => errors::describe(&e, "reading the API groups", &cluster.server),
    };
    print(&format!("mini-task API: {api}\n"));
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), CONTROLLER_NAMESPACE);
    let controller = match deployments.get_opt(CONTROLLER).await {
        Ok(Some(d)) => {
            let image = d
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone())
                .unwrap_or_default();
            let status = d.status.unwrap_or_default();
            let wanted = d.spec.and_then(|s| s.replicas).unwrap_or(1);
            format!(
                "{image}, {}/{wanted} replicas ready (deployment {CONTROLLER_NAMESPACE}/{CONTROLLER})",
                status.ready_replicas.unwrap_or(0)
            )
        }
        Ok(None) => format!("not found in namespace {CONTROLLER_NAMESPACE} (kubectl apply -k deploy/)"),
        Err(kube::Error::Api(status)) if status.code == 403 => {
            format!("unknown: you may not read deployments in {CONTROLLER_NAMESPACE}")
        }
        Err(e) => errors::describe(&e, "reading the controller's deployment", &cluster.server),
    };
    print(&format!("controller: {controller}\n"));
    Ok(())
}
