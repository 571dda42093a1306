//! `minitask-chaos` (run it with `cargo xtask chaos`): faults injected
//! while runs flow (kill -9, failover, API server and etcd restarts, a
//! network partition, a rolling upgrade, hostile objects), then every
//! invariant checked on what the API server holds, in the style of
//! Jepsen's "checker after the chaos". Also the corpus of bad input. It
//! prints one table and exits non-zero when an invariant breaks.

mod audit;
mod check;
mod corpus;
mod load;
mod pipelines;
mod proxy;
mod record;
mod replica;
mod rng;
mod scenarios;
mod stage;
mod table;

use std::time::Duration;

use clap::Parser;
use minitask_testenv::Component;

use crate::scenarios::Settings;
use crate::table::Row;

#[derive(Parser)]
#[command(about = "Faults while runs flow, then every invariant checked (cargo xtask chaos)")]
struct Args {
    /// A short version for CI: fewer runs, fewer faults, shorter Leases.
    #[arg(long)]
    quick: bool,
    /// Runs per burst (1,000 unless given; 100 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// kill -9 in the storm (10 unless given; 3 with --quick).
    #[arg(long)]
    kills: Option<usize>,
    /// The replicas' --lease-duration (15s, the deployed default, unless
    /// given; 6s with --quick).
    #[arg(long, value_parser = minitask_api::parse_duration)]
    lease_duration: Option<Duration>,
    /// Only the scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// How long the API server (or etcd) stays down in the restart
    /// scenarios, after it has stopped.
    #[arg(long, default_value = "2s", value_parser = minitask_api::parse_duration)]
    outage: Duration,
    /// Run each scenario this many times in a row (rows `name #k`), then
    /// print each scenario's drain over its runs: p50 and p100.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Seed of the random moments (the kills).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The replicas' log filter (their logs are beside the control
    /// plane's, kept with MINITASK_KEEP_TESTENV=1), e.g.
    /// `info,kube_runtime=debug`.
    #[arg(long, default_value = "info")]
    controller_log: String,
}

fn main() {
    let args = Args::parse();
    // SAFETY: no other thread runs yet.
    unsafe { std::env::set_var(replica::LOG_ENV, &args.controller_log) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    runtime.expect("a Tokio runtime").block_on(chaos(args));
}

async fn chaos(args: Args) {
    let settings = Settings {
        runs: args.runs.unwrap_or(if args.quick { 100 } else { 1000 }),
        kills: args.kills.unwrap_or(if args.quick { 3 } else { 10 }),
        lease: args
            .lease_duration
            .unwrap_or(Duration::from_secs(if args.quick { 6 } else { 15 })),
        seed: args.seed,
        drain: Duration::from_secs(180),
        outage: args.outage,
        fire_times: if args.quick { 4 } else { 30 },
    };
    let names = [
        "kill -9 storm",
        "replica failover",
        "kube-apiserver restart",
        "etcd restart",
        "partition",
        "rolling upgrade",
        "hostile objects",
        "archive kill -9",
        "schedule kill -9",
        "bad input",
    ];
    let wanted = |name: &str| args.only.as_ref().is_none_or(|o| name.contains(o.as_str()));
    let mut rows = Vec::new();
    let rounds = |name| (1..=args.repeat).map(move |k| (name, k));
    for (name, k) in names.into_iter().filter(|n| wanted(n)).flat_map(rounds) {
        let label = match args.repeat {
            1 => name.to_string(),
            _ => format!("{name} #{k}"),
        };
        eprintln!("chaos: {label}");
        let result = match name {
            "kill -9 storm" => scenarios::storm(&settings).await,
            "replica failover" => scenarios::failover(&settings).await,
            "kube-apiserver restart" => scenarios::restart(&settings, Component::ApiServer).await,
            "etcd restart" => scenarios::restart(&settings, Component::Etcd).await,
            "partition" => scenarios::partition(&settings).await,
            "rolling upgrade" => scenarios::upgrade(&settings).await,
            "hostile objects" => scenarios::hostile(&settings).await,
            "archive kill -9" => scenarios::archive(&settings).await,
            "schedule kill -9" => scenarios::schedule(&settings).await,
            _ => corpus::run().await,
        };
        let mut row = result.unwrap_or_else(|e| Row {
            problems: vec![format!("the scenario could not run: {e:#}")],
            ..Row::default()
        });
        row.scenario = label;
        rows.push(row);
    }
    print!("{}", table::table(&rows));
    if args.repeat > 1 {
        for name in names.into_iter().filter(|n| wanted(n)) {
            print!("{}", table::drains(name, &rows));
        }
    }
    let broken: usize = rows.iter().map(|r| r.problems.len()).sum();
    if broken > 0 {
        eprintln!("chaos: {broken} invariants broken (see BROKEN above)");
        std::process::exit(1);
    }
    eprintln!("chaos: every invariant held");
}
