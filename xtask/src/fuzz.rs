//! `cargo xtask fuzz` and `cargo xtask chaos --fuzz`: the property tests of
//! everything the controller parses from the cluster (termination
//! messages, logs, pod statuses, durations, substitutions, scripts,
//! params), with many more cases than the 256 a plain `cargo test` runs:
//! a number of cases each, or as many as fit a time budget each.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use xshell::{Shell, cmd};

/// Seconds per property of `chaos --fuzz` unless given.
pub const DEFAULT_BUDGET: u64 = 60;

pub fn run(root: &Path, cases: u32) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let _cases = sh.push_env("PROPTEST_CASES", cases.to_string());
    let started = Instant::now();
    let output = cmd!(
        sh,
        "cargo test --locked -p minitask-api -p minitask-controller -p minitask-hooks --lib properties -- --test-threads 2"
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

/// Every property for about `seconds` each: the cases that fit are
/// measured with a few growing runs, then run in one go.
pub fn for_seconds(root: &Path, seconds: u64) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(root);
    let budget = Duration::from_secs(seconds.max(1));
    let mut total = 0u64;
    let mut failed = Vec::new();
    let started = Instant::now();
    for binary in test_binaries(&sh)? {
        let list = cmd!(sh, "{binary} --list").read()?;
        let properties: Vec<&str> = list
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .filter(|name| name.starts_with("properties::"))
            .collect();
        for property in properties {
            let (cases, took, passed) = fill(&sh, &binary, property, budget)?;
            total += cases;
            println!(
                "{property}: {cases} inputs in {:.1}s, {}",
                took.as_secs_f64(),
                if passed { "no panic, no failure" } else { "FAILED" }
            );
            if !passed {
                failed.push(property.to_string());
            }
        }
    }
    println!(
        "fuzz: {total} inputs in {}s; {} properties failed{}",
        started.elapsed().as_secs(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(": {}", failed.join(", "))
        }
    );
    anyhow::ensure!(failed.is_empty(), "{} properties failed", failed.len());
    Ok(())
}

/// Runs `property` with growing case counts until a run takes a tenth of
/// the budget, then with what fills the rest. (cases run, time, passed).
fn fill(sh: &Shell, binary: &Path, property: &str, budget: Duration) -> anyhow::Result<(u64, Duration, bool)> {
    let mut cases = 256u64;
    let (mut total, mut spent) = (0u64, Duration::ZERO);
    loop {
        let (took, passed) = once(sh, binary, property, cases)?;
        total += cases;
        spent += took;
        if !passed {
            return Ok((total, spent, false));
        }
        if took >= budget / 10 || spent >= budget {
            let per_case = took.as_secs_f64() / cases as f64;
            let left = budget.saturating_sub(spent).as_secs_f64();
            let more = (left / per_case.max(1e-9)) as u64;
            if more == 0 {
                return Ok((total, spent, true));
            }
            let (took, passed) = once(sh, binary, property, more)?;
            return Ok((total + more, spent + took, passed));
        }
        cases *= 4;
    }
}

fn once(sh: &Shell, binary: &Path, property: &str, cases: u64) -> anyhow::Result<(Duration, bool)> {
    let _cases = sh.push_env("PROPTEST_CASES", cases.to_string());
    let started = Instant::now();
    let output = cmd!(sh, "{binary} {property} --exact --quiet")
        .ignore_status()
        .output()?;
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
    }
    Ok((started.elapsed(), output.status.success()))
}

/// The library test binaries of the crates with properties.
fn test_binaries(sh: &Shell) -> anyhow::Result<Vec<PathBuf>> {
    let messages = cmd!(
        sh,
        "cargo test --no-run --locked -p minitask-api -p minitask-controller -p minitask-hooks --lib --message-format=json"
    )
    .read()?;
    let binaries = messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == true)
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .collect();
    Ok(binaries)
}
