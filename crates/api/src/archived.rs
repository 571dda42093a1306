//! The `Archived` condition: written by the archive (deploy/archive) on a
//! run it holds, read by the controller's retention.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// The condition's type.
pub const CONDITION_ARCHIVED: &str = "Archived";

/// Whether the archive holds the run.
pub fn is_archived(conditions: &[Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == CONDITION_ARCHIVED && c.status == "True")
}
