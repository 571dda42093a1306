//! `install DIR`: the pod's init container copies the launcher from its
//! image into a volume that every step container mounts.

use std::os::unix::fs::PermissionsExt;

pub fn run(dir: &str) -> i32 {
    match install(dir) {
        Ok(()) => 0,
        Err(why) => {
            eprintln!("minitask-launcher: cannot copy itself into {dir}: {why}");
            1
        }
    }
}

fn install(dir: &str) -> std::io::Result<()> {
    let target = format!("{dir}/minitask-launcher");
    let tmp = format!("{target}.tmp");
    std::fs::copy("/proc/self/exe", &tmp)?;
    // Steps run as any user: everyone may run it, nobody may change it.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o555))?;
    std::fs::rename(&tmp, &target)
}
