//! The launcher's command line: built by the controller (`to_args`), read
//! by the launcher (`parse`). Both sides live here so they cannot drift.

use std::time::Duration;

/// What the launcher is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Copy itself into a directory and write the step scripts (the pod's
    /// init container).
    Install(InstallArgs),
    /// Run one step in its turn.
    Step(StepArgs),
    /// Report the Task's results once the steps have ended.
    Report(ReportArgs),
    /// Exit 0 when a step waits for a debugger (a readiness probe).
    Probe,
    /// End the wait of the step that waits for a debugger.
    Continue,
}

/// How to run one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepArgs {
    /// The step's place in the Task, from 0: it waits for step `index - 1`.
    pub index: usize,
    pub name: String,
    /// `onError: continue`: a failure lets the next step run.
    pub keep_going: bool,
    /// The step's own timeout.
    pub timeout: Option<Duration>,
    /// On failure, wait this long for a debugger before ending.
    pub debug: Option<Duration>,
    /// The most bytes the kubelet keeps of this container's termination
    /// message.
    pub budget: usize,
    pub program: Program,
}

/// What the init container prepares.
#[derive(Clone, Debug, PartialEq)]
pub struct InstallArgs {
    /// Where the launcher copies itself.
    pub dir: String,
    /// The scripts of the steps that have one, by step index: written to
    /// `script_path(index)`, a directory the steps only read.
    pub scripts: Vec<(usize, String)>,
}

/// What a step runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Program {
    /// The script the init container wrote for this step, run by its `#!`
    /// line or `/bin/sh -e`.
    Script,
    /// A command and its arguments, run as they are.
    Command(Vec<String>),
}

/// How to report results.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportArgs {
    /// How many steps the Task has: the report waits for their end.
    pub steps: usize,
    /// The termination message budget of the reporter's container.
    pub budget: usize,
    /// The most bytes all results may hold together.
    pub max: usize,
    pub names: Vec<String>,
}

impl StepArgs {
    /// The launcher's arguments (after its path). A script is passed as it
    /// is: escaping it for the kubelet is the pod builder's business.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "step".to_string(),
            "--index".into(),
            self.index.to_string(),
            "--name".into(),
            self.name.clone(),
            "--budget".into(),
            self.budget.to_string(),
        ];
        if self.keep_going {
            args.push("--continue".into());
        }
        if let Some(timeout) = self.timeout {
            args.extend(["--timeout-ms".into(), timeout.as_millis().to_string()]);
        }
        if let Some(debug) = self.debug {
            args.extend(["--debug-ms".into(), debug.as_millis().to_string()]);
        }
        match &self.program {
            Program::Script => args.push("--script".into()),
            Program::Command(command) => {
                args.push("--".into());
                args.extend(command.iter().cloned());
            }
        }
        args
    }
}

impl InstallArgs {
    /// The launcher's arguments. The scripts are passed as they are:
    /// escaping them for the kubelet is the pod builder's business.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["install".to_string(), self.dir.clone()];
        for (index, script) in &self.scripts {
            args.extend(["--script".into(), index.to_string(), script.clone()]);
        }
        args
    }
}

impl ReportArgs {
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "report".to_string(),
            "--steps".into(),
            self.steps.to_string(),
            "--budget".into(),
            self.budget.to_string(),
            "--max".into(),
            self.max.to_string(),
        ];
        if !self.names.is_empty() {
            args.push("--".into());
            args.extend(self.names.iter().cloned());
        }
        args
    }
}

/// Reads the launcher's arguments (without its own path).
pub fn parse(args: &[String]) -> Result<Mode, String> {
    let (mode, rest) = args
        .split_first()
        .ok_or("no mode given: install, step, report, probe or continue")?;
    match mode.as_str() {
        "install" => install(rest).map(Mode::Install),
        "step" => step(rest).map(Mode::Step),
        "report" => report(rest).map(Mode::Report),
        "probe" if rest.is_empty() => Ok(Mode::Probe),
        "continue" if rest.is_empty() => Ok(Mode::Continue),
        other => Err(format!("unknown mode {other:?}, or arguments it does not take")),
    }
}

fn step(mut rest: &[String]) -> Result<StepArgs, String> {
    let (mut index, mut name, mut budget) = (None, None, None);
    let mut step = StepArgs {
        index: 0,
        name: String::new(),
        keep_going: false,
        timeout: None,
        debug: None,
        budget: 0,
        program: Program::Command(Vec::new()),
    };
    loop {
        let Some((flag, after)) = rest.split_first() else {
            return Err("step needs --script or -- COMMAND...".into());
        };
        rest = after;
        match flag.as_str() {
            "--continue" => step.keep_going = true,
            "--" if rest.is_empty() => return Err("step needs a command after --".into()),
            "--" => {
                step.program = Program::Command(rest.to_vec());
                break;
            }
            "--script" if rest.is_empty() => {
                step.program = Program::Script;
                break;
            }
            "--script" => return Err("--script comes last".into()),
            "--index" | "--name" | "--budget" | "--timeout-ms" | "--debug-ms" => {
                let (value, after) = rest.split_first().ok_or(format!("{flag} needs a value"))?;
                rest = after;
                let number = || {
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("{flag} takes a number, not {value:?}"))
                };
                match flag.as_str() {
                    "--index" => index = Some(number()? as usize),
                    "--name" => name = Some(value.clone()),
                    "--budget" => budget = Some(number()? as usize),
                    "--timeout-ms" => step.timeout = Some(Duration::from_millis(number()?)),
                    _ => step.debug = Some(Duration::from_millis(number()?)),
                }
            }
            other => return Err(format!("step does not take {other:?}")),
        }
    }
    step.index = index.ok_or("step needs --index")?;
    step.name = name.ok_or("step needs --name")?;
    step.budget = budget.ok_or("step needs --budget")?;
    Ok(step)
}

fn install(rest: &[String]) -> Result<InstallArgs, String> {
    let (dir, mut rest) = rest.split_first().ok_or("install takes a directory")?;
    let mut scripts = Vec::new();
    while !rest.is_empty() {
        match rest {
            [flag, index, script, after @ ..] if flag == "--script" => {
                let index = index
                    .parse()
                    .map_err(|_| format!("--script takes a step number, not {index:?}"))?;
                scripts.push((index, script.clone()));
                rest = after;
            }
            _ => return Err("install takes a directory, then --script INDEX SCRIPT for each script".into()),
        }
    }
    Ok(InstallArgs {
        dir: dir.clone(),
        scripts,
    })
}

fn report(rest: &[String]) -> Result<ReportArgs, String> {
    let (flags, names) = match rest.iter().position(|a| a == "--") {
        Some(at) => (&rest[..at], rest[at + 1..].to_vec()),
        None => (rest, Vec::new()),
    };
    let value = |flag: &str| -> Result<usize, String> {
        let at = flags
            .iter()
            .position(|a| a == flag)
            .ok_or(format!("report needs {flag}"))?;
        let value = flags.get(at + 1).ok_or(format!("{flag} needs a value"))?;
        value
            .parse()
            .map_err(|_| format!("{flag} takes a number, not {value:?}"))
    };
    if flags.len() != 6 {
        return Err("report takes --steps, --budget and --max, then -- and the result names".into());
    }
    Ok(ReportArgs {
        steps: value("--steps")?,
        budget: value("--budget")?,
        max: value("--max")?,
        names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    fn step_args(program: Program) -> StepArgs {
        StepArgs {
            index: 3,
            name: "build".into(),
            keep_going: true,
            timeout: Some(Duration::from_millis(1500)),
            debug: Some(Duration::from_secs(60)),
            budget: 512,
            program,
        }
    }

    #[test]
    fn step_arguments_round_trip() {
        for program in [Program::Script, Program::Command(strings(&["--", "--script", "-x"]))] {
            let args = step_args(program);
            assert_eq!(parse(&args.to_args()), Ok(Mode::Step(args)));
        }
    }

    #[test]
    fn install_arguments_round_trip() {
        for scripts in [
            vec![],
            vec![(0, "echo $(HOME) -- --script".to_string()), (3, String::new())],
        ] {
            let args = InstallArgs {
                dir: "/minitask/bin".into(),
                scripts,
            };
            assert_eq!(parse(&args.to_args()), Ok(Mode::Install(args)));
        }
    }

    #[test]
    fn report_arguments_round_trip() {
        for names in [vec![], strings(&["a", "--", "b"])] {
            let args = ReportArgs {
                steps: 20,
                budget: 585,
                max: 8192,
                names,
            };
            assert_eq!(parse(&args.to_args()), Ok(Mode::Report(args)));
        }
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let cases: [(&[&str], &str); 11] = [
            (&[], "no mode given"),
            (&["run"], "unknown mode \"run\""),
            (&["install"], "install takes a directory"),
            (&["install", "/d", "--script", "x", "s"], "takes a step number"),
            (&["install", "/d", "--script", "1"], "--script INDEX SCRIPT"),
            (
                &["step", "--index", "0", "--name", "a", "--budget", "1", "--script", "s"],
                "--script comes last",
            ),
            (
                &["step", "--index", "1", "--name", "a", "--budget", "9"],
                "needs --script",
            ),
            (
                &["step", "--index", "x", "--name", "a", "--script"],
                "--index takes a number",
            ),
            (
                &["step", "--name", "a", "--budget", "1", "--script"],
                "step needs --index",
            ),
            (
                &["step", "--index", "0", "--name", "a", "--budget", "1", "--"],
                "a command after --",
            ),
            (&["report", "--steps", "1"], "report takes --steps"),
        ];
        for (args, want) in cases {
            let err = parse(&strings(args)).unwrap_err();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    proptest! {
        #[test]
        fn any_script_or_command_round_trips(script in any::<String>(), command in proptest::collection::vec(any::<String>(), 1..5), index in 0usize..100) {
            for program in [Program::Script, Program::Command(command.clone())] {
                let args = StepArgs { index, program, ..step_args(Program::Command(vec![])) };
                prop_assert_eq!(parse(&args.to_args()), Ok(Mode::Step(args)));
            }
            let install = InstallArgs { dir: "/b".into(), scripts: vec![(index, script)] };
            prop_assert_eq!(parse(&install.to_args()), Ok(Mode::Install(install)));
        }
    }
}
