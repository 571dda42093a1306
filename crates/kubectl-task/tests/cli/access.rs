//! The plugin as people with Kubernetes' own roles: `edit` in a namespace
//! is enough to start, cancel and delete runs, `view` to read them
//! (deploy/controller/user-roles.yaml aggregates minitask-edit and
//! minitask-view into them).

use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use kube::api::PostParams;

use crate::*;

pub async fn bind(client: &Client, ns: &str, user: &str, role: &str) {
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": format!("{user}-{role}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

/// Waits until the aggregation controller has folded minitask's rules into
/// Kubernetes' `role`.
pub async fn aggregated(client: &Client, role: &str) {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    minitask_testenv::eventually(&format!("minitask rules in {role}"), Duration::from_secs(30), || {
        let roles = roles.clone();
        async move {
            let rules = roles.get(role).await.ok()?.rules?;
            rules
                .iter()
                .any(|r| r.api_groups.iter().flatten().any(|g| g == "minitask.dev"))
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn a_namespace_editor_uses_the_plugin_and_a_viewer_reads() {
    let (client, ns) = world("access").await;
    aggregated(&client, "edit").await;
    aggregated(&client, "view").await;
    create_task(&client, &ns, "hello").await;
    bind(&client, &ns, "erin", "edit").await;
    bind(&client, &ns, "vic", "view").await;

    let created = ok(&task_as("erin", &ns, &["start", "hello", "-o", "name"]));
    let name = created.trim().rsplit('/').next().unwrap().to_string();
    let runs_table = ok(&task_as("erin", &ns, &["runs"]));
    assert!(runs_table.contains(&name), "{runs_table}");
    ok(&task_as("erin", &ns, &["describe", &name]));
    ok(&task_as("erin", &ns, &["list"]));
    assert_eq!(
        ok(&task_as("erin", &ns, &["cancel", &name])),
        format!("taskrun.minitask.dev/{name} cancelled\n")
    );
    set_status(&client, &ns, &name, json!({"phase": "Failed", "reason": "Cancelled"})).await;

    assert!(ok(&task_as("vic", &ns, &["runs"])).contains(&name));
    ok(&task_as("vic", &ns, &["describe", &name]));
    let stderr = error(&task_as("vic", &ns, &["start", "hello"]));
    assert!(
        stderr.contains("forbidden") && stderr.contains("minitask-edit"),
        "{stderr}"
    );
    let stderr = error(&task_as("vic", &ns, &["delete", &name]));
    assert!(stderr.contains("forbidden"), "{stderr}");

    assert_eq!(
        ok(&task_as("erin", &ns, &["delete", &name])),
        format!("taskrun.minitask.dev/{name} deleted\n")
    );
}
