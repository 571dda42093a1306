//! Long-running processes of the local cluster: started in their own
//! session so they outlive `cargo xtask`, tracked by pid files.

use anyhow::{Context, bail};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Daemons {
    dir: PathBuf,
}

impl Daemons {
    /// Pid files and logs live in `dir`.
    pub fn new(dir: &Path) -> Daemons {
        Daemons { dir: dir.to_path_buf() }
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    fn pid_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pid"))
    }

    /// The pid of `name` when it runs.
    pub fn running(&self, name: &str) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file(name)).ok()?.trim().parse().ok()?;
        (Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)).then_some(pid)
    }

    /// Starts `name` unless it already runs.
    pub fn start(&self, name: &str, program: &Path, args: &[String]) -> anyhow::Result<()> {
        if self.running(name).is_some() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let log = File::create(self.log(name))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: setsid is async-signal-safe, as pre_exec requires.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        std::fs::write(self.pid_file(name), child.id().to_string())?;
        Ok(())
    }

    /// Stops `name`: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&self, name: &str) {
        if let Some(pid) = self.running(name) {
            kill(pid, Duration::from_secs(10));
        }
        let _ = std::fs::remove_file(self.pid_file(name));
    }

    /// Fails with the end of `name`'s log when it is not running.
    pub fn check(&self, name: &str) -> anyhow::Result<()> {
        if self.running(name).is_none() {
            bail!(
                "{name} is not running; the end of {}:\n{}",
                self.log(name).display(),
                tail(&self.log(name))
            );
        }
        Ok(())
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
pub fn kill(pid: i32, grace: Duration) {
    // SAFETY: kill(2) on a pid we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        if is_zombie(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

pub fn is_zombie(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// Polls `check` every half second until it is true, for at most `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !check() {
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}
