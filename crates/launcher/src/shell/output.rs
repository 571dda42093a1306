//! Leaving only once the container's output is read. The runtime copies a
//! container's stdout and stderr out of pipes, and containerd stops copying
//! when the container exits: what is still in a pipe then is lost. On the
//! local cluster a step that ran `seq 1 200000` and exited kept 187,319
//! lines (a plain pod of busybox loses the same tail), and 198,436 when
//! it only waited for its pipes to be empty. So the launcher waits,
//! bounded, until its pipes are empty and the runtime has had a moment to
//! write what it read, before it exits.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// How long the launcher waits for the runtime to read its output: a
/// step's background process that never stops writing cannot hold the
/// container for longer.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

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

/// How long the runtime is given, once a pipe it was behind on is empty,
/// to write what it read: containerd holds the last chunk in its own
/// buffers, and loses it too when the container exits first.
const SETTLE: Duration = Duration::from_millis(100);

/// Waits until every pipe of `fds` is empty, or `limit` has passed; then,
/// if the runtime was behind, a moment more. A step whose output was read
/// as it came costs nothing.
pub fn drain(fds: &[RawFd], limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut behind = false;
    for &fd in fds {
        while unread(fd).is_some_and(|n| n > 0) && Instant::now() < deadline {
            behind = true;
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    if behind {
        std::thread::sleep(SETTLE.min(deadline.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn the_launcher_waits_until_its_output_is_read() {
        let (mut reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(&[b'x'; 4096]).unwrap();
        assert_eq!(unread(writer.as_raw_fd()), Some(4096));
        let read_late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut buf = vec![0u8; 4096];
            reader.read_exact(&mut buf).unwrap();
            reader
        });
        let started = Instant::now();
        drain(&[writer.as_raw_fd()], DRAIN_LIMIT);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "left before the reader read"
        );
        assert_eq!(unread(writer.as_raw_fd()), Some(0));
        let _reader = read_late.join().unwrap();
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
