//! The launcher's I/O: files, processes, signals.

pub mod debug;
pub mod install;
pub mod output;
pub mod report;
pub mod signals;
pub mod step;
pub mod wait;

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `bytes` to `path` so that a reader sees all of them or nothing:
/// into a new file beside it, then renamed over it. The new file is
/// created, never opened: a link a step left in its place is not followed.
pub fn write_whole(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all().ok();
    std::fs::rename(&tmp, Path::new(path))
}

/// `path` (one of the library's absolute paths) where this launcher finds
/// it: under `$MINITASK_LAUNCHER_ROOT` when set, which lets the launcher's
/// tests run it outside a pod.
pub fn at(path: &str) -> String {
    static ROOT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let root = ROOT.get_or_init(|| std::env::var("MINITASK_LAUNCHER_ROOT").unwrap_or_default());
    format!("{root}{path}")
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// At most `limit` bytes of the regular file at `path`, which a step may
/// have written: a symbolic link is not followed and a FIFO or device is
/// not read (it could block the reader or show it another's file).
pub fn read_plain(path: &str, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_plain(path)?.0.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The regular file at `path` and its size, opened as `read_plain` reads.
pub fn open_plain(path: &str) -> std::io::Result<(std::fs::File, u64)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => std::io::Error::new(e.kind(), format!("{path} is a symbolic link")),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{path} is not a regular file"),
        ));
    }
    Ok((file, meta.len()))
}
