//! `install DIR [--script INDEX SCRIPT]...`: the pod's init container
//! copies the launcher from its image into a volume that every step
//! container mounts, and writes the step scripts into a volume that the
//! steps mount read-only, so that no step can change what another runs.

use std::os::unix::fs::PermissionsExt;

use minitask_launcher::args::InstallArgs;
use minitask_launcher::script_path;

use crate::shell::at;

pub fn run(args: &InstallArgs) -> i32 {
    if let Err(why) = install(&args.dir) {
        eprintln!("minitask-launcher: cannot copy itself into {}: {why}", args.dir);
        return 1;
    }
    for (index, script) in &args.scripts {
        let path = at(&script_path(*index));
        if let Err(why) = write_script(&path, script) {
            eprintln!("minitask-launcher: cannot write the script of step {index} to {path}: {why}");
            return 1;
        }
    }
    0
}

fn install(dir: &str) -> std::io::Result<()> {
    let target = format!("{dir}/minitask-launcher");
    let tmp = format!("{target}.tmp");
    std::fs::copy("/proc/self/exe", &tmp)?;
    // Steps run as any user: everyone may run it, nobody may change it.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o555))?;
    std::fs::rename(&tmp, &target)
}

fn write_script(path: &str, script: &str) -> std::io::Result<()> {
    std::fs::write(path, script)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555))
}
