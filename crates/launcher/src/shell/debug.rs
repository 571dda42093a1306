//! Debugging a failed step: its launcher keeps the container (and so its
//! environment and the workspace) alive until somebody is done looking.
//! `kubectl task debug` opens a shell in it with `kubectl exec`, and runs
//! `minitask-launcher continue` there to end the wait.

use std::time::Instant;

use minitask_launcher::args::StepArgs;
use minitask_launcher::record::Record;
use minitask_launcher::{RUN_DIR, continue_marker, debug_marker};

use crate::shell::step::seconds;
use crate::shell::wait::{self, Waited};
use crate::shell::{at, write_whole};

pub fn wait_for_debugger(step: &StepArgs, record: &Record) {
    let Some(longest) = step.debug else { return };
    let marker = at(&debug_marker(step.index));
    if let Err(why) = write_whole(&marker, b"") {
        eprintln!("minitask: cannot wait for a debugger: {why}");
        return;
    }
    eprintln!(
        "minitask: step {:?} failed with exit code {}; it waits up to {} for `kubectl task debug`",
        step.name,
        record.exit_code,
        seconds(longest)
    );
    match wait::for_file(&at(&continue_marker(step.index)), Some(Instant::now() + longest)) {
        Waited::Found(_) => eprintln!("minitask: debugging is over; the run goes on"),
        Waited::TimedOut => eprintln!(
            "minitask: nobody continued within {}; the run goes on",
            seconds(longest)
        ),
        Waited::Signal => {}
    }
    let _ = std::fs::remove_file(marker);
}

/// The step that waits for a debugger: the one whose own markers volume
/// holds a debug marker. The index comes from where the marker is, never
/// from what a step wrote.
fn waiting_step() -> Option<usize> {
    let dirs = std::fs::read_dir(at(RUN_DIR)).ok()?;
    dirs.filter_map(|d| d.ok()?.file_name().to_str()?.parse::<usize>().ok())
        .filter(|index| std::fs::symlink_metadata(at(&debug_marker(*index))).is_ok())
        .min()
}

/// `probe`: 0 while a step waits for a debugger (the reporter's readiness,
/// which tells the controller).
pub fn probe() -> i32 {
    match waiting_step() {
        Some(_) => 0,
        None => 1,
    }
}

/// `continue`: ends the wait of the step that waits for a debugger.
pub fn release() -> i32 {
    let Some(index) = waiting_step() else {
        eprintln!("minitask: no step waits for a debugger");
        return 1;
    };
    match write_whole(&at(&continue_marker(index)), b"") {
        Ok(()) => 0,
        Err(why) => {
            eprintln!("minitask: cannot end the wait: {why}");
            1
        }
    }
}
