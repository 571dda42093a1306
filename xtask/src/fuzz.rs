//! `cargo xtask fuzz`: the property tests of everything the controller
//! parses from the cluster (termination messages, logs, pod statuses,
//! durations, substitutions, scripts, params), with many more cases than
//! the 256 a plain `cargo test` runs.

use std::path::Path;
use std::time::Instant;
use xshell::{Shell, cmd};

pub fn run(root: &Path, cases: u32) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let _cases = sh.push_env("PROPTEST_CASES", cases.to_string());
    let started = Instant::now();
    let output = cmd!(
        sh,
        "cargo test --locked -p minitask-api -p minitask-controller --lib properties -- --test-threads 2"
    )
    .ignore_status()
    .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    print!("{stdout}");
    let tests = stdout.lines().filter(|l| l.starts_with("test properties::")).count();
    let failed = stdout
        .lines()
        .filter(|l| l.starts_with("test properties::") && l.ends_with("FAILED"))
        .count();
    println!(
        "fuzz: {tests} properties x {cases} cases = {} inputs in {}s; {failed} failed",
        u64::from(cases) * tests as u64,
        started.elapsed().as_secs()
    );
    anyhow::ensure!(output.status.success() && failed == 0, "{failed} properties failed");
    Ok(())
}
