//! `report`: once the steps have ended (the last one, or the first that
//! stopped the others), reads the results they wrote and reports them.
//! It runs after a failed step too, so a failed run keeps what its steps
//! wrote before the failure.
//!
//! The log must hold the report alone (the controller may parse it), so
//! nothing else is printed; a problem goes to the termination message.

use std::io::{Read, Write};

use minitask_launcher::args::ReportArgs;
use minitask_launcher::record::State;
use minitask_launcher::report::{Found, render, too_large};
use minitask_launcher::{RESULTS_DIR, TERMINATION_LOG, marker};

use crate::shell::wait::{self, Waited};
use crate::shell::{at, signals};

pub fn run(args: ReportArgs) -> i32 {
    signals::install();
    for index in 0..args.steps {
        match wait::for_file(&at(&marker(index)), None) {
            Waited::Found(word) if State::from_word(word.trim()).is_some_and(State::lets_next_run) => {}
            Waited::Found(_) => break,
            Waited::Signal | Waited::TimedOut => return 1,
        }
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
    let mut sizes = Vec::new();
    for name in &args.names {
        let path = at(&format!("{RESULTS_DIR}/{name}"));
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => sizes.push((name.clone(), path, meta.len())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("{name}: {e}"))),
        }
    }
    let mut found = Vec::new();
    if too_large(sizes.iter().map(|s| s.2), args.max) {
        found.extend(sizes.into_iter().map(|(name, _, size)| (name, Found::Size(size))));
    } else {
        for (name, path, _) in sizes {
            // Bounded: a file that grew since it was measured cannot make
            // the reporter read without end.
            let mut value = Vec::new();
            std::fs::File::open(&path)?
                .take(args.max as u64 + 1)
                .read_to_end(&mut value)?;
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
