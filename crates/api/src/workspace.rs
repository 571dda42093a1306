use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource, SecretVolumeSource,
};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A volume a Task's steps use, which each TaskRun binds to real storage.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceDeclaration {
    /// The workspace's name, a DNS label; steps find its path with
    /// `$(workspaces.<name>.path)`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,

    /// What the steps expect to find in it, or leave there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// Where the steps see it; `/workspace/<name>` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("self.startsWith('/') && !self.startsWith('/minitask')")
            .message("mountPath must be an absolute path outside /minitask"),
        validation = Rule::new("self != '/workspace' && self != '/workspace/'")
            .message("mountPath /workspace is the directory every step already shares: choose another, such as /workspace/<name>")
    )]
    pub mount_path: Option<String>,

    /// Mount it read-only in every step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,

    /// A run may leave it unbound: it is then not mounted, and
    /// `$(workspaces.<name>.bound)` is `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// Binds a Task's workspace to a volume for one run: set exactly one of
/// emptyDir, persistentVolumeClaim, configMap or secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("[has(self.emptyDir), has(self.persistentVolumeClaim), has(self.configMap), has(self.secret)].filter(x, x).size() == 1")
        .message("set exactly one of emptyDir, persistentVolumeClaim, configMap or secret"),
)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceBinding {
    /// The name of a workspace the Task declares.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,

    /// Mount only this directory of the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,

    /// A fresh empty directory that lives as long as the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolumeSource>,

    /// An existing PersistentVolumeClaim: what the steps write outlives the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,

    /// A ConfigMap's keys as files (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolumeSource>,

    /// A Secret's keys as files (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
}
