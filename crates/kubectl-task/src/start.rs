//! `kubectl task start <task>`: create a TaskRun for a Task (checking its
//! params and workspaces first), and optionally follow its logs or wait
//! for its end.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::api::{ObjectMeta, PostParams};
use minitask_api::{
    LABEL_TASK, MAX_TIMEOUT, Param, Task, TaskKind, TaskRef, TaskRun, TaskRunSpec, label_value, parse_duration,
};

use crate::cluster::Cluster;
use crate::errors;
use crate::follow::{Outcome, follow, wait};
use crate::output::{Format, print, render};
use crate::refs::{Kind, run_name};
use crate::resolve::{as_task, find_cluster_task, find_pipeline, find_run, find_task, last_run, runs};
use crate::{inputs, pipeline_start, preflight, prompt};

#[derive(clap::Args, Default)]
pub struct Args {
    /// The Task to run (NAME or task/NAME), or a Pipeline (pipeline/NAME,
    /// or a NAME that only a Pipeline has).
    pub task: String,
    /// A param value, NAME=VALUE; an array param takes NAME=a,b,c.
    /// Repeat for each param.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// A workspace binding: NAME=emptyDir, NAME=pvc:CLAIM,
    /// NAME=configmap:NAME or NAME=secret:NAME. Repeat for each workspace.
    #[arg(short = 'w', long = "workspace", value_name = "NAME=SOURCE")]
    pub workspaces: Vec<String>,
    /// The run's timeout, such as 10m or 1h30m (default 1h).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// How many times to run the Task again after a failed attempt (0-10).
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..=10))]
    pub retries: Option<i32>,
    /// Delete the run this long after it finished, such as 1h or 7d... as
    /// a duration (spec.ttlSecondsAfterFinished).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub ttl: Option<String>,
    /// The ServiceAccount the run's pod runs as.
    #[arg(long = "serviceaccount", visible_alias = "sa", value_name = "NAME")]
    pub service_account: Option<String>,
    /// A failed step waits (15m, or --debug-timeout) for `kubectl task
    /// debug RUN` before the run fails (spec.debug.onFailure).
    #[arg(long)]
    pub debug: bool,
    /// With --debug: how long a failed step waits, such as 30m.
    #[arg(long, requires = "debug", value_name = "DURATION", allow_hyphen_values = true)]
    pub debug_timeout: Option<String>,
    /// Use the defaults of params not given with -p, without asking.
    #[arg(long)]
    pub use_param_defaults: bool,
    /// Labels for the TaskRun, KEY=VALUE (comma-separated or repeated).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The run's name prefix; a random suffix is added (default `<task>-run-`).
    #[arg(long, value_name = "PREFIX")]
    pub prefix_name: Option<String>,
    /// Run it again as the newest run of the Task ran: the same params,
    /// workspaces, ServiceAccount and timeout (flags given here win).
    #[arg(long, conflicts_with = "use_taskrun")]
    pub last: bool,
    /// Run it again as this TaskRun ran (as --last, for a named run).
    #[arg(long, value_name = "RUN", conflicts_with = "use_pipelinerun")]
    pub use_taskrun: Option<String>,
    /// For a Pipeline: run it again as this PipelineRun ran (as --last,
    /// for a named run).
    #[arg(long, value_name = "RUN", conflicts_with = "last")]
    pub use_pipelinerun: Option<String>,
    /// Follow the logs of every step, in order, until the run ends; the exit
    /// code is then the run's outcome.
    #[arg(short = 'f', long, visible_alias = "showlog", conflicts_with_all = ["wait", "dry_run"])]
    pub follow: bool,
    /// Wait until the run ends, without logs; the exit code is the outcome.
    #[arg(long, conflicts_with = "dry_run")]
    pub wait: bool,
    /// Print the TaskRun (YAML unless -o says otherwise) instead of creating it.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the created TaskRun as name, yaml, json or jsonpath=...; with
    /// -f the logs then go to stderr, so that stdout stays that document.
    #[arg(short = 'o', long, value_parser = Format::parse)]
    pub output: Option<Format>,
}

pub async fn run(cluster: &Cluster, args: Args) -> anyhow::Result<Outcome> {
    let (task, kind) = match crate::refs::parse(&args.task)? {
        (Some(Kind::Task), name) => (find_task(cluster, &name).await?, TaskKind::Task),
        (Some(Kind::ClusterTask), name) => (as_task(find_cluster_task(cluster, &name).await?), TaskKind::ClusterTask),
        (Some(Kind::Pipeline), name) => {
            return pipeline_start::run(cluster, &args, find_pipeline(cluster, &name).await?).await;
        }
        // A bare name: the Task, else a Pipeline, else a ClusterTask of
        // that name (the namespace's own come first).
        (None, name) => match find_task(cluster, &name).await {
            Ok(task) => (task, TaskKind::Task),
            Err(no_task) => match find_pipeline(cluster, &name).await {
                Ok(pipeline) => return pipeline_start::run(cluster, &args, pipeline).await,
                Err(_) => match find_cluster_task(cluster, &name).await {
                    Ok(task) => (as_task(task), TaskKind::ClusterTask),
                    Err(_) => return Err(no_task),
                },
            },
        },
        (Some(Kind::TaskRun), _) => anyhow::bail!(
            "{:?} is a TaskRun; start takes a Task (to run it again: --use-taskrun {})",
            args.task,
            run_name(&args.task)?
        ),
        (Some(Kind::PipelineRun), name) => anyhow::bail!(
            "{:?} is a PipelineRun; start takes a Task or a Pipeline (pipeline/NAME; see the run's with `kubectl task describe pipelinerun/{name}`)",
            args.task
        ),
    };
    let task_name = task.name_any();
    let problems = minitask_api::undeclared(&task.spec);
    if !problems.is_empty() {
        let edit = match kind {
            TaskKind::Task => format!("kubectl edit task {task_name} -n {}", cluster.namespace),
            TaskKind::ClusterTask => format!("kubectl edit clustertask {task_name}"),
        };
        anyhow::bail!(
            "{} {task_name} cannot run: {}; fix it ({edit})",
            kind.as_str(),
            problems.join("; "),
        );
    }
    let source = match (&args.use_taskrun, args.last) {
        (Some(name), _) => Some(find_run(cluster, &run_name(name)?).await?),
        (None, true) => Some(last_run(cluster, Some(&task_name)).await?),
        (None, false) => None,
    };
    anyhow::ensure!(
        args.use_pipelinerun.is_none(),
        "--use-pipelinerun applies to Pipelines; to repeat a TaskRun of {task_name}, use --use-taskrun RUN or --last"
    );
    let run = taskrun(&args, &task, kind, source.as_ref())?;
    if args.dry_run {
        let name = Kind::TaskRun.qualified(&run.metadata.generate_name.clone().unwrap_or_default());
        print(&render(&[&run], &[name], &args.output.unwrap_or(Format::Yaml), true)?);
        return Ok(Outcome::Done);
    }
    preflight::task_sources(cluster, &run.spec.workspaces).await?;
    let doing = format!("creating a TaskRun of {task_name} in namespace {}", cluster.namespace);
    let created = runs(cluster)
        .create(&PostParams::default(), &run)
        .await
        .map_err(|e| match &e {
            kube::Error::Api(status) if status.code == 422 || status.code == 400 => {
                anyhow::anyhow!("the API server refused the TaskRun: {}", status.message)
            }
            _ => errors::api(&e, &doing, &cluster.server),
        })?;
    let name = created.name_any();
    // With -f or --wait, -o prints the run as it ended (`| jq .status.results`).
    let at_end = args.follow || args.wait;
    match &args.output {
        Some(_) if at_end => {}
        Some(format) => print(&render(&[&created], &[Kind::TaskRun.qualified(&name)], format, true)?),
        None => print(&format!("{} created\n", Kind::TaskRun.qualified(&name))),
    }
    let namespace = &cluster.namespace;
    let outcome = match (args.follow, args.wait) {
        (true, _) => follow(cluster, created, args.output.is_some()).await?,
        (_, true) => wait(cluster, created).await?,
        _ => {
            eprintln!("follow it with `kubectl task logs -f {name} -n {namespace}`");
            return Ok(Outcome::Done);
        }
    };
    if let Some(format) = &args.output {
        let doing = format!("reading TaskRun {name} in namespace {namespace}");
        let ended = runs(cluster)
            .get_opt(&name)
            .await
            .map_err(|e| errors::api(&e, &doing, &cluster.server))?;
        if let Some(ended) = ended {
            print(&render(&[&ended], &[Kind::TaskRun.qualified(&name)], format, true)?);
        }
    }
    Ok(outcome)
}

/// The TaskRun that `args` describe, for `task` (a Task or a ClusterTask:
/// `kind`), starting from `source` (a run to repeat) when given.
pub fn taskrun(args: &Args, task: &Task, kind: TaskKind, source: Option<&TaskRun>) -> anyhow::Result<TaskRun> {
    let spec = &task.spec;
    let given = args
        .params
        .iter()
        .map(|p| inputs::key_value("-p", p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (mut params, _) = inputs::params(&spec.params, &given)?;
    let (mut workspaces, _) = inputs::workspaces(&spec.workspaces, &args.workspaces)?;
    // A repeated run's values fill in what the flags do not say.
    if let Some(source) = source {
        for param in &source.spec.params {
            if spec.params.iter().any(|d| d.name == param.name) && !params.iter().any(|p| p.name == param.name) {
                params.push(param.clone());
            }
        }
        for binding in &source.spec.workspaces {
            if spec.workspaces.iter().any(|d| d.name == binding.name)
                && !workspaces.iter().any(|w| w.name == binding.name)
            {
                workspaces.push(binding.clone());
            }
        }
    }
    let missing_params: Vec<String> = spec
        .params
        .iter()
        .filter(|d| d.default.is_none() && !params.iter().any(|p: &Param| p.name == d.name))
        .map(|d| d.name.clone())
        .collect();
    prompt::params(
        &spec.params,
        &mut params,
        &missing_params,
        args.use_param_defaults || source.is_some(),
    )?;
    let missing_workspaces: Vec<String> = spec
        .workspaces
        .iter()
        .filter(|d| !d.optional && !workspaces.iter().any(|w| w.name == d.name))
        .map(|d| d.name.clone())
        .collect();
    prompt::workspaces(&spec.workspaces, &mut workspaces, &missing_workspaces)?;

    let task_name = task.name_any();
    let mut labels = inputs::labels(&args.labels)?;
    labels.insert(LABEL_TASK.to_string(), label_value(&task_name));
    let mut run = taskrun_for(&task_name);
    run.spec.task_ref = Some(TaskRef { name: task_name, kind });
    run.metadata.labels = Some(labels);
    if let Some(prefix) = &args.prefix_name {
        run.metadata.generate_name = Some(prefix.clone());
    }
    run.spec.params = params;
    run.spec.workspaces = workspaces;
    run.spec.service_account_name = args
        .service_account
        .clone()
        .or(source.and_then(|s| s.spec.service_account_name.clone()));
    if args.debug {
        run.spec.debug = Some(minitask_api::DebugSpec {
            on_failure: true,
            timeout: match &args.debug_timeout {
                Some(t) => Some(timeout_flag("--debug-timeout", t)?.0),
                None => None,
            },
        });
    }
    run.spec.timeout = match (&args.timeout, source) {
        (Some(timeout), _) => timeout_flag("--timeout", timeout)?.0,
        (None, Some(source)) => source.spec.timeout.clone(),
        (None, None) => run.spec.timeout,
    };
    run.spec.retries = args.retries.or(source.map(|s| s.spec.retries)).unwrap_or(0);
    run.spec.pod_template = source.and_then(|s| s.spec.pod_template.clone());
    run.spec.ttl_seconds_after_finished = match &args.ttl {
        Some(ttl) => Some(timeout_flag("--ttl", ttl)?.1.as_secs() as i64),
        None => source.and_then(|s| s.spec.ttl_seconds_after_finished),
    };
    Ok(run)
}

/// A duration flag, checked as the API server will: more than 0s and at
/// most what a pod's deadline holds.
pub fn timeout_flag(flag: &str, text: &str) -> anyhow::Result<(String, std::time::Duration)> {
    if text.starts_with('-') {
        anyhow::bail!("{flag} {text}: a duration cannot be negative; use one such as 30s, 10m or 1h30m");
    }
    let duration = parse_duration(text).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
    if duration.is_zero() {
        anyhow::bail!("{flag} {text}: must be more than 0s, such as 30s, 10m or 1h30m");
    }
    if duration > MAX_TIMEOUT {
        anyhow::bail!("{flag} {text}: must be at most 596523h14m7s");
    }
    Ok((text.to_string(), duration))
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
            task_ref: Some(TaskRef::task(task)),
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
        assert_eq!(run.spec.task_ref, Some(TaskRef::task("hello")));
        assert_eq!(run.labels()[LABEL_TASK], "hello");
    }

    #[test]
    fn durations_are_checked_before_anything_is_created() {
        assert_eq!(timeout_flag("--timeout", "10m").unwrap().1.as_secs(), 600);
        for (bad, why) in [
            ("0s", "more than 0s"),
            ("-5s", "cannot be negative"),
            ("-5", "cannot be negative"),
            ("soon", "invalid duration"),
            ("600000h", "at most"),
        ] {
            let error = timeout_flag("--timeout", bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
