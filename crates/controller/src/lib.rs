//! The mini-task controller: runs each TaskRun as one Pod and mirrors the
//! pod's progress into the TaskRun's status.
//!
//! The folders show what is pure and what is not (see the README's code
//! map): `pod` builds a run's pod and `status` projects its status and
//! decides what a reconcile does, `shards` says which replica owns which
//! run; none of them holds a client, a clock or a cache. `runtime` is the
//! shell that does the I/O around them.

pub(crate) mod pipeline;
/// The claim a PipelineRun makes for a `volumeClaimTemplate` workspace.
pub use pipeline::child::claim_name;
pub mod pod;
pub mod runtime;
pub mod schedule;
pub mod shards;
pub(crate) mod shared;
pub(crate) mod status;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod properties;

pub use pod::{DEFAULT_LAUNCHER_IMAGE, PodOptions, build_pod};
pub use runtime::leases::LeaseConfig;
pub use runtime::poll::run as poll;
pub use runtime::reconcile::{Context, reconcile};
pub use runtime::run::{Config, DEFAULT_WORKERS, Stopped, run};
pub use runtime::writes::WINDOW as WRITE_WINDOW;
/// An Event to publish (`runtime::publisher`), for the other components.
pub use status::events::Announcement;
