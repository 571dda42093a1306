//! Everything that holds a client or a cache: the reconcilers (thin shells
//! around the pure decisions of `pod`, `status` and `pipeline`), the
//! watches and their wiring, leader election, Events, metrics and probes.

pub mod allocator;
pub(crate) mod cache;
pub mod catalog;
pub(crate) mod children;
pub(crate) mod expiring;
pub(crate) mod http;
pub mod leases;
pub mod metrics;
#[cfg(test)]
mod permissions;
pub(crate) mod pipeline_status;
pub(crate) mod pipelines;
pub(crate) mod poll;
pub mod publisher;
pub(crate) mod reconcile;
pub(crate) mod relisted;
pub(crate) mod run;
pub(crate) mod shell;
pub(crate) mod task_status;
pub(crate) mod task_users;
pub(crate) mod task_watch;
pub mod triggers;
pub mod watches;
pub(crate) mod writes;
