//! `kubectl task start <task>`: create a TaskRun for a Task, and optionally
//! follow its logs or wait for its end.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Error, ResourceExt};
use minitask_api::{
    LABEL_TASK, Param, ParamSpec, ParamValue, Task, TaskRef, TaskRun, TaskRunSpec, label_value, parse_duration,
};

use crate::client::Target;
use crate::follow::{Outcome, follow, wait};
use crate::inputs;
use crate::output::{Format, print, render};

#[derive(clap::Args)]
pub struct Args {
    /// The name of the Task to run.
    task: String,
    /// A param value, NAME=VALUE; an array param takes NAME=a,b,c.
    /// Repeat for each param.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// A workspace binding: NAME=emptyDir, NAME=pvc:CLAIM,
    /// NAME=configmap:NAME or NAME=secret:NAME. Repeat for each workspace.
    #[arg(short = 'w', long = "workspace", value_name = "NAME=SOURCE")]
    workspaces: Vec<String>,
    /// The run's timeout, such as 10m or 1h30m (default 1h).
    #[arg(long)]
    timeout: Option<String>,
    /// The ServiceAccount the run's pod runs as.
    #[arg(long = "serviceaccount", visible_alias = "sa")]
    service_account: Option<String>,
    /// Use the defaults of params not given with -p, without asking.
    #[arg(long)]
    use_param_defaults: bool,
    /// Labels for the TaskRun, KEY=VALUE (comma-separated or repeated).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// The run's name prefix; a random suffix is added (default `<task>-run-`).
    #[arg(long)]
    prefix_name: Option<String>,
    /// Follow the logs of every step, in order, until the run ends; the exit
    /// code is then the run's outcome.
    #[arg(short = 'f', long, conflicts_with_all = ["wait", "dry_run"])]
    follow: bool,
    /// Wait until the run ends, without logs; the exit code is the outcome.
    #[arg(long, conflicts_with = "dry_run")]
    wait: bool,
    /// Print the TaskRun (YAML unless -o says otherwise) instead of creating it.
    #[arg(long)]
    dry_run: bool,
    /// Print the created TaskRun as name, yaml or json.
    #[arg(short = 'o', long)]
    output: Option<Format>,
}

pub async fn run(target: &Target, args: Args) -> anyhow::Result<Outcome> {
    let (client, namespace) = target.connect().await?;
    let tasks: Api<Task> = Api::namespaced(client.clone(), &namespace);
    let task = tasks
        .get_opt(&args.task)
        .await
        .with_context(|| format!("looking up Task {:?} in namespace {namespace:?}", args.task))?;
    let Some(task) = task else {
        bail!(
            "Task {:?} not found in namespace {namespace:?}; list the Tasks there with `kubectl task list -n {namespace}`",
            args.task
        );
    };
    let run = taskrun(&args, &task.spec.params)?;
    if args.dry_run {
        let name = format!(
            "taskrun.minitask.dev/{}",
            run.metadata.generate_name.clone().unwrap_or_default()
        );
        print(&render(&[&run], &[name], args.output.unwrap_or(Format::Yaml), true)?);
        return Ok(Outcome::Done);
    }
    let runs: Api<TaskRun> = Api::namespaced(client.clone(), &namespace);
    let created = runs.create(&PostParams::default(), &run).await.map_err(|e| match e {
        Error::Api(status) => anyhow::anyhow!("the API server refused the TaskRun: {}", status.message),
        other => anyhow::Error::new(other).context("creating the TaskRun"),
    })?;
    let name = format!("taskrun.minitask.dev/{}", created.name_any());
    match args.output {
        Some(format) => print(&render(&[&created], &[name], format, true)?),
        None => print(&format!("{name} created\n")),
    }
    match (args.follow, args.wait) {
        (true, _) => follow(&client, &namespace, &created.name_any(), None).await,
        (_, true) => wait(&client, &namespace, &created.name_any()).await,
        _ => Ok(Outcome::Done),
    }
}

/// The TaskRun that `args` describe, for a Task that declares `declared`.
fn taskrun(args: &Args, declared: &[ParamSpec]) -> anyhow::Result<TaskRun> {
    let given = args
        .params
        .iter()
        .map(|p| inputs::key_value("-p", p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (mut params, missing) = inputs::params(declared, &given)?;
    prompt(declared, &mut params, &missing, args.use_param_defaults)?;
    let workspaces = args
        .workspaces
        .iter()
        .map(|w| inputs::workspace(w))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(timeout) = &args.timeout {
        parse_duration(timeout).map_err(|e| anyhow::anyhow!("--timeout {timeout:?}: {e}"))?;
    }
    let mut labels = inputs::labels(&args.labels)?;
    labels.insert(LABEL_TASK.to_string(), label_value(&args.task));
    let mut run = taskrun_for(&args.task);
    run.metadata.labels = Some(labels);
    if let Some(prefix) = &args.prefix_name {
        run.metadata.generate_name = Some(prefix.clone());
    }
    run.spec.params = params;
    run.spec.workspaces = workspaces;
    run.spec.service_account_name = args.service_account.clone();
    if let Some(timeout) = &args.timeout {
        run.spec.timeout = timeout.clone();
    }
    Ok(run)
}

/// Asks for params on a terminal: the required ones not given, and, unless
/// `use_defaults`, those with a default (Enter keeps it). Without a
/// terminal nothing is asked, and missing required params are an error
/// that lists them all.
fn prompt(
    declared: &[ParamSpec],
    params: &mut Vec<Param>,
    missing: &[String],
    use_defaults: bool,
) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        if !missing.is_empty() {
            let flags: Vec<String> = missing.iter().map(|m| format!("-p {m}=...")).collect();
            bail!(
                "missing required params: {}; pass them with {}",
                missing.join(", "),
                flags.join(" ")
            );
        }
        return Ok(());
    }
    let stdin = std::io::stdin();
    for spec in declared {
        let is_missing = missing.contains(&spec.name);
        let given = params.iter().any(|p| p.name == spec.name);
        if given || (!is_missing && use_defaults) {
            continue;
        }
        // Shown as it would be typed: `world`, or `ada,grace` for an array.
        let default = spec.default.as_ref().map(|d| match d {
            ParamValue::String(s) => s.clone(),
            ParamValue::Array(items) => items.join(","),
            ParamValue::Other(v) => v.to_string(),
        });
        let about = spec
            .description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        loop {
            let hint = default.as_deref().map(|d| format!(" [{d}]")).unwrap_or_default();
            eprint!("param {}{about}{hint}: ", spec.name);
            std::io::stderr().flush()?;
            let mut line = String::new();
            if stdin.lock().read_line(&mut line)? == 0 {
                bail!("no value for param {:?}", spec.name);
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() && default.is_some() {
                break;
            }
            if line.is_empty() {
                continue;
            }
            params.push(Param {
                name: spec.name.clone(),
                value: inputs::typed(spec.type_, line),
            });
            break;
        }
    }
    Ok(())
}

/// A TaskRun of `task` with a generated name such as `hello-run-x7k2p`.
fn taskrun_for(task: &str) -> TaskRun {
    TaskRun {
        metadata: ObjectMeta {
            generate_name: Some(format!("{task}-run-")),
            labels: Some(BTreeMap::from([(LABEL_TASK.to_string(), label_value(task))])),
            ..ObjectMeta::default()
        },
        spec: TaskRunSpec {
            task_ref: Some(TaskRef { name: task.to_string() }),
            ..TaskRunSpec::default()
        },
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_run_refers_to_its_task_and_is_named_after_it() {
        let run = taskrun_for("hello");
        assert_eq!(run.metadata.generate_name.as_deref(), Some("hello-run-"));
        assert_eq!(run.metadata.name, None);
        assert_eq!(run.spec.task_ref, Some(TaskRef { name: "hello".into() }));
        assert_eq!(run.labels()[LABEL_TASK], "hello");
    }
}
