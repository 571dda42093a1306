//! Where things are inside a run's pod: a leaf every pod-building module
//! may use.

/// The directory every step shares and starts in.
pub const WORKSPACE_DIR: &str = "/workspace";
