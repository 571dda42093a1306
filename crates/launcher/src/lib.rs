//! What the controller and the launcher agree on: where the launcher lives
//! in a pod, the arguments it takes, the record a step leaves in its
//! termination message, and the report of a Task's results.
//!
//! In a launcher pod every step is a regular container, and all of them
//! start together; each runs `minitask-launcher step`, which waits for the
//! step before it to leave its marker, runs its own step, and leaves its
//! marker for the next one. The kubelet never has to notice that a step
//! ended before the next one starts: the hand-off takes the time of a file
//! write, not a kubelet relist (about a second).
//!
//! No step can speak for another: each step's markers live in a volume of
//! its own, writable only in that step's container and read-only in the
//! next one's and the reporter's; the scripts are written by the init
//! container and read-only to every step; ending a debugger's wait is
//! written by the reporter into a volume the steps only read. A step that
//! runs untrusted code can end its own turn early, but cannot start,
//! skip or speak for any other step, and cannot change what another runs.
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
/// The directory under which each step's markers volume is mounted.
pub const RUN_DIR: &str = "/minitask/run";
/// Where the init container writes the step scripts, read-only to steps.
pub const SCRIPTS_VOLUME: &str = "minitask-scripts";
pub const SCRIPTS_DIR: &str = "/minitask/scripts";
/// Where steps write results: `$(results.<name>.path)` is `RESULTS_DIR/<name>`.
pub const RESULTS_VOLUME: &str = "minitask-results";
pub const RESULTS_DIR: &str = "/minitask/results";
/// Where the reporter tells a step waiting for a debugger to go on:
/// writable in the reporter only.
pub const CONTROL_VOLUME: &str = "minitask-control";
pub const CONTROL_DIR: &str = "/minitask/control";
/// Where the kubelet reads a container's termination message.
pub const TERMINATION_LOG: &str = "/dev/termination-log";

/// The volume of step `index`'s markers (writable in its container only).
pub fn run_volume(index: usize) -> String {
    format!("minitask-run-{index}")
}

/// Where step `index`'s markers volume is mounted.
pub fn run_dir(index: usize) -> String {
    format!("{RUN_DIR}/{index}")
}

/// The file step `index` (from 0) leaves when it has ended, holding its
/// state (`record::State::word`).
pub fn marker(index: usize) -> String {
    format!("{RUN_DIR}/{index}/state")
}

/// The file step `index` leaves while it waits for a debugger.
pub fn debug_marker(index: usize) -> String {
    format!("{RUN_DIR}/{index}/debug")
}

/// The file that ends step `index`'s wait for a debugger.
pub fn continue_marker(index: usize) -> String {
    format!("{CONTROL_DIR}/{index}.continue")
}

/// Where the init container writes step `index`'s script.
pub fn script_path(index: usize) -> String {
    format!("{SCRIPTS_DIR}/{index}")
}
