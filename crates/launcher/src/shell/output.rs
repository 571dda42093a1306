//! Leaving only once the container's output is read. The runtime copies a
//! container's stdout and stderr out of pipes, and containerd stops copying
//! when the container exits: what is still in a pipe then is lost. On the
//! local cluster a step that ran `seq 1 200000` and exited kept 187,319
//! lines (a plain pod of busybox loses the same tail), and 198,436 when
//! it only waited for its pipes to be empty. So the launcher waits,
//! bounded, until its pipes are empty and the runtime has had time to
//! write what it read, before it exits.
//!
//! What the runtime read is not written yet: containerd's shim holds up to
//! 32 KiB of it and the FIFO to containerd up to 64 KiB, and the shim gives
//! its copy only 2 s once the container is gone. A fixed pause was not
//! enough on a loaded CI machine (a 200,000-line log lost its last 35 KB),
//! so the launcher measures how fast its pipes were emptied and waits as
//! long as that pace needs for what can still be on the way.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// How long the launcher waits for the runtime to read its output: a
/// step's background process that never stops writing cannot hold the
/// container for longer.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Bytes written to `fd` that its reader has not read yet; None when `fd`
/// is not a pipe (a file, a terminal: nothing to wait for).
fn unread(fd: RawFd) -> Option<usize> {
    let mut bytes: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer it is given.
    let answered = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut bytes) } == 0;
    let is_pipe = {
        // SAFETY: fstat fills the stat buffer it is given.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        let stated = unsafe { libc::fstat(fd, &mut stat) } == 0;
        stated && (stat.st_mode & libc::S_IFMT) == libc::S_IFIFO
    };
    (answered && is_pipe).then_some(bytes.max(0) as usize)
}

/// What can still be on its way to the log once a pipe is empty: the
/// shim's copy buffer (32 KiB) and the FIFO to containerd (64 KiB).
const IN_FLIGHT: f64 = 96.0 * 1024.0;

/// The shortest pause after a pipe the runtime was behind on is empty.
const SETTLE: Duration = Duration::from_millis(100);

/// How long to wait, after the runtime read `read` bytes in `took`, for
/// what it still holds to reach the log: at the pace it read, with
/// `SETTLE` at least.
fn settle(read: usize, took: Duration) -> Duration {
    let per_second = read as f64 / took.as_secs_f64().max(0.001);
    if per_second <= 0.0 {
        return SETTLE;
    }
    Duration::from_secs_f64(IN_FLIGHT / per_second).max(SETTLE)
}

/// Waits until every pipe of `fds` is empty, or `limit` has passed; then,
/// if the runtime was behind, as long as its pace says the rest needs. A
/// step whose output was read as it came costs nothing.
pub fn drain(fds: &[RawFd], limit: Duration) {
    let started = Instant::now();
    let deadline = started + limit;
    let mut read = 0;
    for &fd in fds {
        let mut last = unread(fd).unwrap_or(0);
        while last > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            let now = unread(fd).unwrap_or(0);
            read += last.saturating_sub(now);
            last = now;
        }
    }
    if read > 0 {
        let pause = settle(read, started.elapsed());
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn the_launcher_waits_until_its_output_is_read_and_then_at_its_pace() {
        let (mut reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(&[b'x'; 32 * 1024]).unwrap();
        assert_eq!(unread(writer.as_raw_fd()), Some(32 * 1024));
        let read_late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut buf = vec![0u8; 32 * 1024];
            reader.read_exact(&mut buf).unwrap();
            reader
        });
        let started = Instant::now();
        drain(&[writer.as_raw_fd()], DRAIN_LIMIT);
        // 32 KiB in 0.2 s: the 96 KiB that may still be on the way need 0.6 s.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(700),
            "left {waited:?} after the start: before what the reader read could be written"
        );
        assert_eq!(unread(writer.as_raw_fd()), Some(0));
        let _reader = read_late.join().unwrap();
    }

    #[test]
    fn the_slower_the_runtime_read_the_longer_the_launcher_waits_for_the_rest() {
        // Read fast: the least pause.
        assert_eq!(settle(64 * 1024, Duration::from_millis(10)), SETTLE);
        // 64 KiB in 2 s (32 KiB/s): the 96 KiB still on the way need 3 s.
        let slow = settle(64 * 1024, Duration::from_secs(2));
        assert!((2900..=3100).contains(&slow.as_millis()), "{slow:?}");
        assert_eq!(settle(0, Duration::ZERO), SETTLE);
    }

    #[test]
    fn a_pipe_nobody_reads_holds_it_only_until_the_limit_and_a_file_not_at_all() {
        let (_reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"never read").unwrap();
        let started = Instant::now();
        drain(&[writer.as_raw_fd()], Duration::from_millis(100));
        assert!(started.elapsed() < Duration::from_secs(1));
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(unread(file.as_raw_fd()), None);
    }
}
