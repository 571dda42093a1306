//! Pipelines, pure: the order of a Pipeline's tasks (graph), its checks
//! (validate), what a PipelineRun creates (child, matrix) and the plan of
//! one reconcile (plan), with its deadlines, the variables its tasks see
//! and the messages it writes. No client, no clock, no cache: the shell
//! is runtime/pipelines.rs.

pub(crate) mod child;
pub(crate) mod deadlines;
pub(crate) mod events;
pub(crate) mod finished;
pub(crate) mod graph;
pub(crate) mod matrix;
pub(crate) mod messages;
pub(crate) mod plan;
pub(crate) mod refs;
pub(crate) mod validate;
pub(crate) mod variables;
pub(crate) mod view;
