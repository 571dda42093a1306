//! Debugging a failed step: its launcher keeps the container (and so its
//! environment and the workspace) alive until somebody is done looking.
//! `kubectl task debug` opens a shell in it with `kubectl exec`, and runs
//! `minitask-launcher continue` there to end the wait.

use std::time::Instant;

use minitask_launcher::args::StepArgs;
use minitask_launcher::record::Record;
use minitask_launcher::{DEBUG_MARKER, continue_marker};

use crate::shell::step::seconds;
use crate::shell::wait::{self, Waited};
use crate::shell::{at, write_whole};

pub fn wait_for_debugger(step: &StepArgs, record: &Record) {
    let Some(longest) = step.debug else { return };
    if let Err(why) = write_whole(&at(DEBUG_MARKER), step.index.to_string().as_bytes()) {
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
    let _ = std::fs::remove_file(at(DEBUG_MARKER));
}

/// `probe`: 0 while a step waits for a debugger (the reporter's readiness,
/// which tells the controller).
pub fn probe() -> i32 {
    match std::path::Path::new(&at(DEBUG_MARKER)).exists() {
        true => 0,
        false => 1,
    }
}

/// `continue`: ends the wait of the step that waits for a debugger.
pub fn release() -> i32 {
    let index = std::fs::read_to_string(at(DEBUG_MARKER))
        .ok()
        .and_then(|i| i.trim().parse::<usize>().ok());
    let Some(index) = index else {
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
