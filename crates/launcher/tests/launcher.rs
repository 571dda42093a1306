//! The launcher binary, run as a pod would run it: one process per step
//! container, all started together, sharing the markers, scripts and
//! results volumes, each with its own termination log. (Which of them a
//! container may write is the kubelet's business: the e2e tests check it.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use minitask_launcher::args::{InstallArgs, Program, ReportArgs, StepArgs};
use minitask_launcher::record::{Record, State};

const LAUNCHER: &str = env!("CARGO_BIN_EXE_minitask-launcher");

/// A pod's volumes in a temporary directory.
struct Pod {
    dir: PathBuf,
}

impl Pod {
    fn new(name: &str) -> Pod {
        let dir = std::env::temp_dir().join(format!("minitask-launcher-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for volume in VOLUMES {
            std::fs::create_dir_all(dir.join("volumes").join(volume)).unwrap();
        }
        for index in 0..STEPS {
            std::fs::create_dir_all(dir.join("volumes").join(format!("run-{index}"))).unwrap();
        }
        Pod { dir }
    }

    /// The root of container `name`: the shared volumes and its own
    /// termination log.
    fn container(&self, name: &str) -> PathBuf {
        let root = self.dir.join(name);
        if !root.exists() {
            std::fs::create_dir_all(root.join("minitask/run")).unwrap();
            std::fs::create_dir_all(root.join("dev")).unwrap();
            for volume in VOLUMES {
                std::os::unix::fs::symlink(
                    self.dir.join("volumes").join(volume),
                    root.join("minitask").join(volume),
                )
                .unwrap();
            }
            for index in 0..STEPS {
                std::os::unix::fs::symlink(
                    self.dir.join("volumes").join(format!("run-{index}")),
                    root.join("minitask/run").join(index.to_string()),
                )
                .unwrap();
            }
            std::fs::write(root.join("dev/termination-log"), "").unwrap();
        }
        root
    }

    fn start(&self, container: &str, args: Vec<String>) -> Child {
        Command::new(LAUNCHER)
            .args(args)
            .env("MINITASK_LAUNCHER_ROOT", self.container(container))
            .env("OUT", self.dir.join("out"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Starts step `index` running `script`, which the init container
    /// would have written.
    fn step(&self, index: usize, name: &str, script: &str, tweak: impl FnOnce(&mut StepArgs)) -> Child {
        let path = self.dir.join(format!("volumes/scripts/{index}"));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
        let mut args = StepArgs {
            index,
            name: name.into(),
            keep_going: false,
            timeout: None,
            debug: None,
            budget: 585,
            program: Program::Script,
        };
        tweak(&mut args);
        self.start(name, args.to_args())
    }

    /// Starts the reporter of a pod of `steps` steps, for results `names`.
    fn reporter(&self, steps: usize, names: &[&str]) -> Child {
        let report = ReportArgs {
            steps,
            budget: 585,
            max: 8192,
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        self.start("reporter", report.to_args())
    }

    fn record(&self, container: &str) -> Record {
        let text = std::fs::read_to_string(self.container(container).join("dev/termination-log")).unwrap();
        Record::parse(&text).unwrap_or_else(|| panic!("{container} left no record: {text:?}"))
    }

    fn out(&self) -> String {
        std::fs::read_to_string(self.dir.join("out")).unwrap_or_default()
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The shared volumes of the fake pod, besides one markers volume per step.
const VOLUMES: [&str; 3] = ["scripts", "results", "control"];
const STEPS: usize = 5;

/// The exit code and stderr of a launcher.
fn end(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts steps in reverse order, as an unlucky kubelet might: each still
/// waits for the one before.
#[test]
fn steps_run_in_order_whatever_order_they_start_in() {
    let pod = Pod::new("order");
    let children: Vec<(usize, Child)> = (0..5)
        .rev()
        .map(|i| {
            (
                i,
                pod.step(i, &format!("s{i}"), &format!("echo {i} >> \"$OUT\""), |_| {}),
            )
        })
        .collect();
    for (i, child) in children {
        assert_eq!(end(child).0, 0, "step {i}");
        assert_eq!(pod.record(&format!("s{i}")).state, State::Succeeded);
    }
    assert_eq!(pod.out(), "0\n1\n2\n3\n4\n");
}

#[test]
fn a_failed_step_stops_the_later_ones_and_the_results_are_reported_anyway() {
    let pod = Pod::new("fail");
    let steps = [
        pod.step(
            0,
            "write",
            "printf v1 > \"$MINITASK_LAUNCHER_ROOT/minitask/results/version\"",
            |_| {},
        ),
        pod.step(1, "break", "echo broken >&2; exit 3", |_| {}),
        pod.step(2, "never", "echo ran >> \"$OUT\"", |_| {}),
    ];
    let reporter = pod.reporter(3, &["version", "missing"]);
    let codes: Vec<i32> = steps.into_iter().map(|c| end(c).0).collect();
    assert_eq!(codes, [0, 3, 0]);
    let failed = pod.record("break");
    assert_eq!((failed.state, failed.exit_code), (State::Failed, 3));
    assert_eq!(pod.record("never").state, State::Skipped);
    assert_eq!(pod.out(), "", "the step after the failure must not run");
    let out = reporter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "version 2\nv1\n");
    let message = std::fs::read_to_string(pod.container("reporter").join("dev/termination-log")).unwrap();
    assert_eq!(message, "minitask-results ok 13\nversion 2\nv1\n");
}

#[test]
fn a_step_with_on_error_continue_records_its_code_and_lets_the_next_run() {
    let pod = Pod::new("continue");
    let first = pod.step(0, "lint", "", |a| {
        a.program = Program::Command(vec!["/bin/sh".into(), "-c".into(), "exit 4".into()]);
        a.keep_going = true;
    });
    let second = pod.step(1, "test", "echo ran >> \"$OUT\"", |_| {});
    assert_eq!((end(first).0, end(second).0), (0, 0));
    let lint = pod.record("lint");
    assert_eq!((lint.state, lint.exit_code), (State::Continued, 4));
    assert_eq!(pod.out(), "ran\n");
}

#[test]
fn scripts_reach_their_interpreter_byte_for_byte() {
    let pod = Pod::new("bytes");
    let text = "#!/bin/sh\ncat \"$0\" > \"$OUT\"\n# $(HOME) $$ `x` 'q' \"q\" ✓\r\n";
    assert_eq!(end(pod.step(0, "exact", text, |_| {})).0, 0);
    assert_eq!(pod.out(), text);
}

#[test]
fn a_missing_interpreter_fails_the_step_with_a_message_that_says_so() {
    let pod = Pod::new("interpreter");
    let (code, stderr) = end(pod.step(0, "py", "#!/no/such/python\nprint(1)", |_| {}));
    assert_eq!(code, 127);
    let record = pod.record("py");
    assert_eq!((record.state, record.exit_code), (State::Failed, 127));
    assert!(record.message.contains("#!/no/such/python"), "{}", record.message);
    assert!(stderr.contains("cannot run the script's interpreter"), "{stderr}");
}

#[test]
fn a_step_over_its_timeout_is_stopped() {
    let pod = Pod::new("timeout");
    let (code, stderr) = end(pod.step(0, "slow", "sleep 30", |a| {
        a.timeout = Some(Duration::from_millis(300));
    }));
    assert_eq!(code, 143, "SIGTERM ends sh");
    let record = pod.record("slow");
    assert_eq!(record.state, State::TimedOut);
    assert_eq!(record.message, "went over its timeout of 0.3s");
    assert!(
        stderr.contains("went over its timeout of 0.3s; stopping it"),
        "{stderr}"
    );
}

#[test]
fn a_stop_ends_the_running_step_and_the_waiting_ones_do_not_run() {
    let pod = Pod::new("stop");
    let running = pod.step(0, "long", "echo started > \"$OUT\"; sleep 30", |_| {});
    let waiting = pod.step(1, "later", "echo ran >> \"$OUT\"", |_| {});
    // Until the step runs, a SIGTERM would only find the launcher.
    while pod.out().is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    for child in [&running, &waiting] {
        // SAFETY: signals our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    }
    assert_eq!(end(running).0, 143);
    assert_eq!(end(waiting).0, 0);
    assert_eq!(pod.record("long").state, State::Stopped);
    assert_eq!(pod.record("later").state, State::Skipped);
    assert_eq!(pod.out(), "started\n", "the later step must not run");
}

#[test]
fn a_failed_step_waits_for_a_debugger_until_it_is_told_to_go_on() {
    let pod = Pod::new("debug");
    let probe = || {
        Command::new(LAUNCHER)
            .arg("probe")
            .env("MINITASK_LAUNCHER_ROOT", pod.container("reporter"))
            .status()
            .unwrap()
    };
    assert_eq!(probe().code(), Some(1), "nobody waits yet");
    let failing = pod.step(0, "flaky", "echo state > debug-me; exit 1", |a| {
        a.debug = Some(Duration::from_secs(60));
    });
    let marker = pod.dir.join("volumes/run-0/debug");
    while !marker.exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(probe().code(), Some(0), "the step waits for a debugger");
    let release = Command::new(LAUNCHER)
        .arg("continue")
        .env("MINITASK_LAUNCHER_ROOT", pod.container("reporter"))
        .status()
        .unwrap();
    assert!(release.success());
    let (code, stderr) = end(failing);
    assert_eq!(code, 1);
    assert!(stderr.contains("waits up to 1m0s for `kubectl task debug`"), "{stderr}");
    assert_eq!(pod.record("flaky").state, State::Failed);
    assert_eq!(probe().code(), Some(1), "the wait is over");
}

#[test]
fn the_install_copies_the_launcher_and_writes_the_scripts_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let pod = Pod::new("install");
    let dir = pod.dir.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let install = InstallArgs {
        dir: dir.to_str().unwrap().into(),
        scripts: vec![(0, "echo first".into()), (2, "#!/bin/sh\necho third".into())],
    };
    let status = Command::new(LAUNCHER)
        .args(install.to_args())
        .env("MINITASK_LAUNCHER_ROOT", pod.container("prepare"))
        .status()
        .unwrap();
    assert!(status.success());
    for (index, text) in [(0, "echo first"), (2, "#!/bin/sh\necho third")] {
        let path = pod.dir.join(format!("volumes/scripts/{index}"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o555, "nobody may change a script");
    }
    assert!(!pod.dir.join("volumes/scripts/1").exists());
    let copy = dir.join("minitask-launcher");
    let out = Command::new(&copy).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mode given"));
    assert!(!Path::new(&format!("{}.tmp", copy.display())).exists());
}

#[test]
fn results_over_the_limit_are_reported_by_size() {
    let pod = Pod::new("large");
    std::fs::write(pod.dir.join("volumes/results/log"), vec![b'x'; 9000]).unwrap();
    let step = pod.step(0, "only", "true", |_| {});
    let reporter = pod.reporter(1, &["log"]);
    assert_eq!(end(step).0, 0);
    assert_eq!(end(reporter).0, 1);
    let message = std::fs::read_to_string(pod.container("reporter").join("dev/termination-log")).unwrap();
    assert_eq!(message, "minitask-results too-large 9\nlog 9000\n");
}

/// A step owns its markers volume, so it may put anything there: a link
/// to a file that says `succeeded` is not taken for its word.
#[test]
fn a_link_left_as_a_marker_is_not_followed() {
    let pod = Pod::new("link");
    std::fs::write(pod.dir.join("forged"), "succeeded").unwrap();
    let first = pod.step(
        0,
        "sly",
        "ln -s \"$MINITASK_LAUNCHER_ROOT/../forged\" \"$MINITASK_LAUNCHER_ROOT/minitask/run/0/state\"; sleep 30",
        |_| {},
    );
    let second = pod.step(1, "next", "echo ran >> \"$OUT\"", |_| {});
    let (code, _) = end(second);
    assert_eq!(code, 0);
    let record = pod.record("next");
    assert_eq!(record.state, State::Skipped);
    assert!(record.message.contains("unreadable marker"), "{}", record.message);
    assert_eq!(pod.out(), "", "the next step must not run on a linked marker");
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
}

/// The report waits for the last step's own marker: the results are those
/// the steps wrote in order, the last writer winning.
#[test]
fn results_are_read_once_the_last_step_has_ended() {
    let pod = Pod::new("last");
    let results = "\"$MINITASK_LAUNCHER_ROOT/minitask/results/version\"";
    let steps = [
        pod.step(0, "first", &format!("printf fake > {results}"), |_| {}),
        pod.step(1, "slow", "sleep 0.5", |_| {}),
        pod.step(2, "last", &format!("printf real > {results}"), |_| {}),
    ];
    let reporter = pod.reporter(3, &["version"]);
    for step in steps {
        assert_eq!(end(step).0, 0);
    }
    let out = reporter.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "version 4\nreal\n");
}

/// A result that is a link is refused rather than followed: a step could
/// point it at a file of the reporter's own container.
#[test]
fn a_result_that_is_a_link_is_refused() {
    let pod = Pod::new("result-link");
    std::fs::write(pod.dir.join("secret"), "token").unwrap();
    std::os::unix::fs::symlink(pod.dir.join("secret"), pod.dir.join("volumes/results/leak")).unwrap();
    let step = pod.step(0, "only", "true", |_| {});
    let reporter = pod.reporter(1, &["leak"]);
    assert_eq!(end(step).0, 0);
    let out = reporter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let message = std::fs::read_to_string(pod.container("reporter").join("dev/termination-log")).unwrap();
    assert!(
        message.contains("leak: ") && message.contains("is a symbolic link"),
        "{message}"
    );
}
