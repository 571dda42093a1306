//! Waiting for a file another container writes into the shared volume.
//!
//! A poll, not inotify: inotify instances are counted per user across the
//! node (128 by default), and step containers often run as root, the same
//! user as the kubelet and the container runtime; twenty waiting steps in
//! a few pods would use them up. The poll starts at 1 ms and backs off to
//! 20 ms, so a hand-off costs at most 20 ms, and a step waiting for a long
//! one wakes 50 times a second (a few microseconds each).

use std::time::{Duration, Instant};

use crate::shell::{read_plain, signals};

const FIRST: Duration = Duration::from_millis(1);
const LONGEST: Duration = Duration::from_millis(20);

/// How a wait ended.
pub enum Waited {
    /// The file exists; its contents.
    Found(String),
    /// A stop signal came first.
    Signal,
    /// The deadline came first.
    TimedOut,
}

/// Markers hold one word.
const MARKER_BYTES: u64 = 64;

/// Waits until `path` exists, a stop signal comes, or `deadline` passes.
/// What is found there is another container's word: only a regular file
/// is read (see `read_plain`), and only its first bytes.
pub fn for_file(path: &str, deadline: Option<Instant>) -> Waited {
    let mut pause = FIRST;
    loop {
        match read_plain(path, MARKER_BYTES) {
            Ok(bytes) => return Waited::Found(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Waited::Found(format!("unreadable: {e}"));
            }
            Err(_) => {}
        }
        if signals::received().is_some() {
            return Waited::Signal;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Waited::TimedOut;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(LONGEST);
    }
}
