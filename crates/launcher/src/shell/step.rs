//! `step`: wait for the step before, run this one, leave its record and
//! marker.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use minitask_launcher::args::{Program, StepArgs};
use minitask_launcher::record::{Record, State};
use minitask_launcher::{TERMINATION_LOG, marker, script_path};

use crate::shell::wait::{self, Waited};
use crate::shell::{at, debug, now_ms, read_plain, signals, write_whole};

/// How long a step that went over its timeout has between SIGTERM and
/// SIGKILL.
const TIMEOUT_GRACE: Duration = Duration::from_secs(5);
/// How often the launcher looks at signals and the clock while its step
/// runs (the step's end itself wakes it at once).
const TICK: Duration = Duration::from_millis(50);

pub fn run(step: StepArgs) -> i32 {
    signals::install();
    let started_ms = now_ms();
    if step.index > 0 {
        let before = at(&marker(step.index - 1));
        match wait::for_file(&before, None) {
            Waited::Found(word) => match State::from_word(word.trim()) {
                Some(state) if state.lets_next_run() => {}
                Some(_) => return end(&step, skipped(started_ms, "")),
                None => {
                    let why = format!("the step before left an unreadable marker {before}");
                    return end(&step, skipped(started_ms, &why));
                }
            },
            Waited::Signal | Waited::TimedOut => {
                return end(
                    &step,
                    skipped(started_ms, "the pod was stopped before this step's turn"),
                );
            }
        }
    }
    let mut record = execute(&step);
    if step.debug.is_some() && matches!(record.state, State::Failed | State::TimedOut) {
        debug::wait_for_debugger(&step, &record);
    }
    if record.message.is_empty() {
        record.message = own_message();
    }
    end(&step, record)
}

fn skipped(at: u64, why: &str) -> Record {
    Record {
        state: State::Skipped,
        exit_code: 0,
        started_ms: at,
        finished_ms: at,
        message: why.into(),
    }
}

/// Leaves the record (for the controller) and the marker (for the next
/// step), and says what the container exits with.
fn end(step: &StepArgs, record: Record) -> i32 {
    if let Err(why) = std::fs::write(at(TERMINATION_LOG), record.encode(step.budget)) {
        eprintln!("minitask: cannot write {TERMINATION_LOG}: {why}");
    }
    if let Err(why) = write_whole(&at(&marker(step.index)), record.state.word().as_bytes()) {
        eprintln!("minitask: cannot tell the next step that this one ended: {why}");
        return 1;
    }
    match record.state {
        State::Succeeded | State::Continued | State::Skipped => 0,
        _ if record.exit_code == 0 => 1,
        _ => record.exit_code,
    }
}

/// What the step wrote to its own termination log, kept as the record's
/// message (the record takes the file's place).
fn own_message() -> String {
    std::fs::read(at(TERMINATION_LOG))
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default()
}

/// Runs the step's program to its end.
fn execute(step: &StepArgs) -> Record {
    let started_ms = now_ms();
    let result = command(step).and_then(|mut c| c.spawn());
    let outcome = match result {
        Ok(child) => supervise(step, child.id() as libc::pid_t),
        Err(why) => {
            let message = cannot_start(step, &why);
            eprintln!("minitask: {message}");
            let code = if why.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            Outcome {
                code,
                timed_out: false,
                stopped: false,
                message,
            }
        }
    };
    let state = match outcome {
        Outcome { stopped: true, .. } => State::Stopped,
        Outcome {
            code: 0,
            timed_out: false,
            ..
        } => State::Succeeded,
        _ if step.keep_going => State::Continued,
        Outcome { timed_out: true, .. } => State::TimedOut,
        _ => State::Failed,
    };
    Record {
        state,
        exit_code: outcome.code,
        started_ms,
        finished_ms: now_ms(),
        message: outcome.message,
    }
}

fn cannot_start(step: &StepArgs, why: &std::io::Error) -> String {
    match &step.program {
        Program::Script => match first_line(&at(&script_path(step.index))) {
            Some(line) if line.starts_with("#!") => format!("cannot run the script's interpreter ({line}): {why}"),
            Some(_) => format!(
                "cannot run the script with /bin/sh: {why}; use an image with a shell, or start the script with a #! line"
            ),
            None => format!(
                "cannot read its script {}: {why}; the pod's init container writes it",
                script_path(step.index)
            ),
        },
        Program::Command(command) => format!("cannot run {:?}: {why}", command[0]),
    }
}

/// The first line of the script at `path` (the interpreter line, if any).
fn first_line(path: &str) -> Option<String> {
    let head = read_plain(path, 256).ok()?;
    let text = String::from_utf8_lossy(&head);
    Some(text.lines().next().unwrap_or_default().to_string())
}

/// The process that runs the step, in its own process group so that a
/// stop reaches whatever it started.
fn command(step: &StepArgs) -> std::io::Result<Command> {
    let mut command = match &step.program {
        Program::Script => {
            // Written by the init container into a volume this step only
            // reads: no step can change another's script.
            let path = at(&script_path(step.index));
            let head = read_plain(&path, 2)?;
            match head.starts_with(b"#!") {
                true => Command::new(&path),
                false => {
                    let mut sh = Command::new("/bin/sh");
                    sh.arg("-e").arg(&path);
                    sh
                }
            }
        }
        Program::Command(argv) => {
            let mut command = Command::new(&argv[0]);
            command.args(&argv[1..]);
            command
        }
    };
    command.process_group(0);
    Ok(command)
}

struct Outcome {
    code: i32,
    timed_out: bool,
    stopped: bool,
    message: String,
}

/// Waits for the step's process, passing stop signals on and enforcing its
/// timeout. As PID 1 the launcher also reaps the orphans the step leaves.
fn supervise(step: &StepArgs, pid: libc::pid_t) -> Outcome {
    let (tx, exited) = mpsc::channel();
    std::thread::spawn(move || tx.send(reap_until(pid)));
    let started = Instant::now();
    let mut outcome = Outcome {
        code: 0,
        timed_out: false,
        stopped: false,
        message: String::new(),
    };
    let mut killed_at: Option<Instant> = None;
    loop {
        if let Ok(code) = exited.recv_timeout(TICK) {
            outcome.code = code;
            return outcome;
        }
        if let Some(signal) = signals::received().filter(|_| !outcome.stopped) {
            outcome.stopped = true;
            // SAFETY: kill has no memory effects.
            unsafe { libc::kill(-pid, signal) };
        }
        if let Some(timeout) = step.timeout.filter(|t| !outcome.timed_out && started.elapsed() >= *t) {
            outcome.timed_out = true;
            outcome.message = format!("went over its timeout of {}", seconds(timeout));
            eprintln!("minitask: step {:?} {}; stopping it", step.name, outcome.message);
            // SAFETY: as above.
            unsafe { libc::kill(-pid, libc::SIGTERM) };
            killed_at = Some(Instant::now());
        }
        if killed_at.is_some_and(|at| at.elapsed() >= TIMEOUT_GRACE) {
            // SAFETY: as above.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            killed_at = None;
        }
    }
}

/// Reaps every child until `pid` exits; its exit code (128 + the signal
/// for a process killed by one, as shells report it).
fn reap_until(pid: libc::pid_t) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only into `status`.
        let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
        if reaped == pid {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            return 128 + libc::WTERMSIG(status);
        }
        if reaped < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 255;
        }
    }
}

/// `1.5s`, `30s`, `2m0s`: as a person wrote it.
pub fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        ms if ms % 1000 != 0 => format!("{}s", ms as f64 / 1000.0),
        ms if ms >= 60_000 => format!("{}m{}s", ms / 60_000, ms % 60_000 / 1000),
        ms => format!("{}s", ms / 1000),
    }
}
