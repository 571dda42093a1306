//! Child processes that cannot outlive the test binary.

use anyhow::Context;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;

/// Every child we started, killed when the test binary exits.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Starts `program` with its output in `log`. The kernel kills it if the
/// thread that started it dies (PR_SET_PDEATHSIG), so even a test binary
/// killed by a signal leaves nothing running; callers start children from a
/// thread that lives as long as the process.
pub fn spawn(program: &Path, args: &[String], log: &Path) -> anyhow::Result<Child> {
    // Appended to: a process started again keeps its earlier lines.
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: prctl is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(child.id());
    Ok(child)
}

/// Kills every child; registered with atexit so it runs when the test
/// harness exits normally, panicking tests included.
pub extern "C" fn kill_all() {
    let children = CHILDREN.lock().map(|c| c.clone()).unwrap_or_default();
    for pid in children {
        // SAFETY: plain kill(2) of a pid we started.
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The last lines of a log, for error messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A process of the control plane, with what it takes to start it again.
pub struct Daemon {
    /// Set for the parts a test may stop and start.
    pub component: Option<crate::Component>,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    pub fn new(component: Option<crate::Component>, program: PathBuf, args: &[String], log: PathBuf) -> Daemon {
        Daemon {
            component,
            program,
            args: args.to_vec(),
            log,
            child: None,
        }
    }

    /// Starts it, unless it runs.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_none() {
            self.child = Some(spawn(&self.program, &self.args, &self.log)?);
        }
        Ok(())
    }

    /// Stops it: SIGTERM, then SIGKILL when it has not exited within
    /// `grace` (at once for a zero grace), as the kubelet stops a process.
    pub fn stop(&mut self, grace: std::time::Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if !grace.is_zero() {
            // SAFETY: plain kill(2) of our own child.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = std::time::Instant::now() + grace;
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// How it exited, if it has.
    pub fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        match &mut self.child {
            Some(child) => Ok(child.try_wait()?),
            None => Ok(None),
        }
    }
}
