//! The mini-task archive: every finished TaskRun and PipelineRun, with its
//! steps' logs, kept in object storage after the run and its pod are gone.
//!
//! Pure: `keys` (where things live), `record` (what is kept of a run),
//! `capped` (a log within its cap). Shell: `store`, `archiver` (one run),
//! `follow` (the watch). `api` serves the archive through the Kubernetes
//! API (an aggregated APIService), with the reader's own RBAC.

pub mod api;
pub mod archiver;
pub mod capped;
pub mod follow;
pub mod keys;
pub mod prune;
pub mod record;
pub mod store;
