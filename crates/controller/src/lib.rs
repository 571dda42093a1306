//! The mini-task controller: runs each TaskRun as one Pod and mirrors the
//! pod's progress into the TaskRun's status.
//!
//! The decisions are pure functions (`pod::build_pod`,
//! `status::project_status`); `reconcile` is the thin shell that reads the
//! caches, creates the pod and writes the status.

pub mod allocator;
pub mod balance;
pub mod cache;
pub mod deadline;
pub mod disruption;
pub mod events;
pub mod expiring;
pub mod http;
pub mod leases;
pub mod metrics;
pub mod names;
pub mod params;
#[cfg(test)]
mod permissions;
pub mod pod;
pub mod poll;
#[cfg(test)]
mod properties;
pub mod publisher;
pub mod reconcile;
pub mod refusal;
pub mod resolve;
pub mod results;
pub mod retention;
pub mod retry;
pub mod run;
pub mod script;
pub mod shard;
pub mod status;
pub mod stop;
pub mod substitute;
pub mod task_status;
pub mod template;
pub mod workspaces;
pub mod writes;

#[cfg(test)]
mod fixtures;

pub use leases::LeaseConfig;
pub use pod::{PodOptions, build_pod};
pub use reconcile::{Context, Error};
pub use run::{Config, run};
pub use status::project_status;
