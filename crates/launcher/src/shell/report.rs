//! `report`: once the steps have ended, reads the results they wrote and
//! reports them. The last step's own marker says so (after a failure the
//! later steps leave `skipped` in turn), and only that step can write it:
//! an earlier step cannot make the report read a value before the steps
//! after it had their turn. It runs after a failed step too, so a failed
//! run keeps what its steps wrote before the failure.
//!
//! The log must hold the report alone (the controller may parse it), so
//! nothing else is printed; a problem goes to the termination message.

use std::io::{Read, Write};

use minitask_launcher::args::ReportArgs;
use minitask_launcher::report::{Found, render, too_large};
use minitask_launcher::{RESULTS_DIR, TERMINATION_LOG, marker};

use crate::shell::wait::{self, Waited};
use crate::shell::{at, open_plain, signals};

pub fn run(args: ReportArgs) -> i32 {
    signals::install();
    let last = args.steps.saturating_sub(1);
    if let Waited::Signal | Waited::TimedOut = wait::for_file(&at(&marker(last)), None) {
        return 1;
    }
    match report(&args) {
        Ok(ok) => i32::from(!ok),
        Err(why) => {
            let _ = std::fs::write(
                at(TERMINATION_LOG),
                format!("cannot read the results in {RESULTS_DIR}: {why}"),
            );
            2
        }
    }
}

fn report(args: &ReportArgs) -> std::io::Result<bool> {
    // A result is a regular file the steps wrote: a link is not followed
    // (a step could point it at a file of the reporter's container).
    let mut files = Vec::new();
    for name in &args.names {
        match open_plain(&at(&format!("{RESULTS_DIR}/{name}"))) {
            Ok((file, size)) => files.push((name.clone(), file, size)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("{name}: {e}"))),
        }
    }
    let mut found = Vec::new();
    if too_large(files.iter().map(|s| s.2), args.max) {
        found.extend(files.into_iter().map(|(name, _, size)| (name, Found::Size(size))));
    } else {
        for (name, file, _) in files {
            // Bounded: a file that grew since it was measured cannot make
            // the reporter read without end.
            let mut value = Vec::new();
            file.take(args.max as u64 + 1).read_to_end(&mut value)?;
            found.push((name, Found::Value(value)));
        }
        let total: u64 = found
            .iter()
            .map(|(_, f)| if let Found::Value(v) = f { v.len() as u64 } else { 0 })
            .sum();
        if total > args.max as u64 {
            found = found
                .into_iter()
                .map(|(name, f)| match f {
                    Found::Value(v) => (name, Found::Size(v.len() as u64)),
                    size => (name, size),
                })
                .collect();
        }
    }
    let report = render(&found, args.budget);
    std::io::stdout().write_all(&report.log)?;
    std::io::stdout().flush()?;
    std::fs::write(at(TERMINATION_LOG), &report.message)?;
    Ok(report.ok)
}
