//! The launcher's I/O: files, processes, signals.

pub mod debug;
pub mod install;
pub mod report;
pub mod signals;
pub mod step;
pub mod wait;

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` so that a reader sees all of them or nothing:
/// into a file beside it, then renamed over it.
pub fn write_whole(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let mut file = std::fs::File::create(&tmp)?;
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
