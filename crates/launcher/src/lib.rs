//! What the controller and the launcher agree on: where the launcher lives
//! in a pod, the arguments it takes, the record a step leaves in its
//! termination message, and the report of a Task's results.
//!
//! In a launcher pod every step is a regular container, and all of them
//! start together; each runs `minitask-launcher step`, which waits for the
//! step before it to leave its marker in a shared volume, runs its own
//! step, and leaves its marker for the next one. The kubelet never has to
//! notice that a step ended before the next one starts: the hand-off takes
//! the time of a file write, not a kubelet relist (about a second).
//!
//! Everything here is pure; `main.rs` and its modules do the I/O.

pub mod args;
pub mod record;
pub mod report;

/// The volume the launcher binary is copied into, and where.
pub const BIN_VOLUME: &str = "minitask-bin";
pub const BIN_DIR: &str = "/minitask/bin";
/// The launcher's path in the step containers.
pub const LAUNCHER: &str = "/minitask/bin/minitask-launcher";
/// The launcher's path in its own image (the controller's).
pub const IMAGE_LAUNCHER: &str = "/minitask-launcher";
/// The volume of the markers the steps leave for each other.
pub const RUN_VOLUME: &str = "minitask-run";
pub const RUN_DIR: &str = "/minitask/run";
/// Where step scripts are written before they run.
pub const SCRIPTS_VOLUME: &str = "minitask-scripts";
pub const SCRIPTS_DIR: &str = "/minitask/scripts";
/// Where steps write results: `$(results.<name>.path)` is `RESULTS_DIR/<name>`.
pub const RESULTS_VOLUME: &str = "minitask-results";
pub const RESULTS_DIR: &str = "/minitask/results";
/// Where the kubelet reads a container's termination message.
pub const TERMINATION_LOG: &str = "/dev/termination-log";

/// The file in `RUN_DIR` that step `index` (from 0) leaves when it has
/// ended, holding its state (`record::State::word`).
pub fn marker(index: usize) -> String {
    format!("{RUN_DIR}/{index}")
}

/// The file a step waiting for a debugger leaves, holding its index.
pub const DEBUG_MARKER: &str = "/minitask/run/debug";

/// The file that ends step `index`'s wait for a debugger.
pub fn continue_marker(index: usize) -> String {
    format!("{RUN_DIR}/{index}.continue")
}
