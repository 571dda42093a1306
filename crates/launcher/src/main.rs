//! `minitask-launcher`: runs one step of a mini-task pod in its turn (see
//! the library's docs for the protocol). `shell/` does the I/O.

mod shell;

use minitask_launcher::args::{Mode, parse};

fn main() {
    let args: Result<Vec<String>, _> = std::env::args_os().skip(1).map(|a| a.into_string()).collect();
    let mode = args
        .map_err(|bad| format!("an argument is not UTF-8: {bad:?}"))
        .and_then(|args| parse(&args));
    let code = match mode {
        Ok(Mode::Install(install)) => shell::install::run(&install),
        Ok(Mode::Step(step)) => shell::step::run(step),
        Ok(Mode::Report(report)) => shell::report::run(report),
        Ok(Mode::Probe) => shell::debug::probe(),
        Ok(Mode::Continue) => shell::debug::release(),
        Err(why) => {
            eprintln!("minitask-launcher: {why}");
            2
        }
    };
    // The runtime stops reading the container's output when it exits.
    shell::output::drain(&[1, 2], shell::output::DRAIN_LIMIT);
    std::process::exit(code);
}
