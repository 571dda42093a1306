//! `kubectl task describe`: everything about one run (or one Task) on one
//! screen. The text is built by pure functions, for tests.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use minitask_api::{ParamValue, Reason, StepState, Task, TaskRun};

use crate::cluster::Cluster;
use crate::errors;
use crate::output::{Format, age, print, render, table};
use crate::pipeline_show::{show_pipeline, show_pipelinerun};
use crate::refs::{Kind, parse, run_kind_word};
use crate::resolve::{AnyRun, find_any_run, find_pipeline, find_pipelinerun, find_run, find_task, last_any};

#[derive(clap::Args)]
pub struct Args {
    /// A run (NAME, taskrun/NAME, pipelinerun/NAME), a Task (task/NAME,
    /// or `task NAME`) or a Pipeline (pipeline/NAME).
    #[arg(value_name = "NAME", num_args = 0..=2)]
    names: Vec<String>,
    /// The newest run: a TaskRun (of --task), or a PipelineRun (of
    /// --pipeline, or with `pipelinerun --last`).
    #[arg(long)]
    last: bool,
    /// With --last: the newest run of this Task.
    #[arg(long, requires = "last")]
    task: Option<String>,
    /// With --last: the newest run of this Pipeline.
    #[arg(long, requires = "last", conflicts_with = "task")]
    pipeline: Option<String>,
    /// Print the object as yaml, json, name, jsonpath=... instead.
    #[arg(short = 'o', long, value_parser = Format::parse)]
    output: Option<Format>,
}

pub async fn run(cluster: &Cluster, args: Args) -> anyhow::Result<()> {
    if args.last {
        let kind = match args.names.as_slice() {
            [] => None,
            [word] if run_kind_word(word).is_some() => run_kind_word(word),
            _ => anyhow::bail!("--last picks the run: give no name, or only its kind (`describe pipelinerun --last`)"),
        };
        return match last_any(cluster, kind, args.task.as_deref(), args.pipeline.as_deref()).await? {
            AnyRun::Task(run) => show_run(cluster, *run, args.output).await,
            AnyRun::Pipeline(run) => show_pipelinerun(cluster, *run, args.output).await,
        };
    }
    let trigger = match args.names.as_slice() {
        [one] => one
            .split_once('/')
            .filter(|(k, _)| is_trigger_kind(k))
            .map(|(_, n)| n.to_string()),
        [kind, name] if is_trigger_kind(kind) => Some(name.clone()),
        _ => None,
    };
    if let Some(name) = trigger {
        return crate::triggers::describe(cluster, &name, args.output).await;
    }
    let (kind, name) = match args.names.as_slice() {
        [] => anyhow::bail!("describe what? give a TaskRun, task/NAME, or --last"),
        [one] => parse(one)?,
        [kind, name] => (parse(&format!("{kind}/{name}"))?.0, name.clone()),
        _ => anyhow::bail!("describe takes one name"),
    };
    let found = describe_named(cluster, kind, &name, args.output.clone()).await;
    match found {
        // Gone from the cluster: the archive may hold it.
        Err(not_found) if !matches!(kind, Some(Kind::Task | Kind::ClusterTask | Kind::Pipeline)) => {
            match show_archived(cluster, kind, &name, args.output).await? {
                true => Ok(()),
                false => Err(not_found),
            }
        }
        other => other,
    }
}

fn is_trigger_kind(word: &str) -> bool {
    matches!(
        word.strip_suffix(".minitask.dev").unwrap_or(word),
        "trigger" | "triggers" | "trg"
    )
}

async fn describe_named(
    cluster: &Cluster,
    kind: Option<Kind>,
    name: &str,
    output: Option<Format>,
) -> anyhow::Result<()> {
    let (name, args_output) = (name.to_string(), output);
    match kind {
        Some(Kind::Task) => show_task(cluster, find_task(cluster, &name).await?, args_output).await,
        Some(Kind::ClusterTask) => {
            let task = crate::resolve::find_cluster_task(cluster, &name).await?;
            if let Some(format) = args_output.filter(|f| !f.is_table()) {
                print(&render(&[&task], &[Kind::ClusterTask.qualified(&name)], &format, true)?);
                return Ok(());
            }
            show_task(cluster, crate::resolve::as_task(task), None).await
        }
        Some(Kind::TaskRun) => show_run(cluster, find_run(cluster, &name).await?, args_output).await,
        Some(Kind::Pipeline) => show_pipeline(cluster, find_pipeline(cluster, &name).await?, args_output.clone()).await,
        Some(Kind::PipelineRun) => {
            show_pipelinerun(cluster, find_pipelinerun(cluster, &name).await?, args_output.clone()).await
        }
        // A bare name: a run of that name, else a Task, else a Pipeline.
        None => match find_any_run(cluster, &name).await {
            Ok(AnyRun::Task(run)) => show_run(cluster, *run, args_output.clone()).await,
            Ok(AnyRun::Pipeline(run)) => show_pipelinerun(cluster, *run, args_output.clone()).await,
            Err(not_run) => match find_task(cluster, &name).await {
                Ok(task) => show_task(cluster, task, args_output.clone()).await,
                Err(_) => match find_pipeline(cluster, &name).await {
                    Ok(pipeline) => show_pipeline(cluster, pipeline, args_output.clone()).await,
                    Err(_) => Err(not_run),
                },
            },
        },
    }
}

/// `describe` of a run gone from the cluster, from the archive. False when
/// the archive does not hold it either.
async fn show_archived(
    cluster: &Cluster,
    kind: Option<Kind>,
    name: &str,
    output: Option<Format>,
) -> anyhow::Result<bool> {
    if kind != Some(Kind::PipelineRun)
        && let Some(archived) = crate::archive::taskrun(cluster, name).await?
    {
        crate::archive::note("taskrun", name, &archived.info);
        match output.filter(|f| !f.is_table()) {
            Some(format) => print(&render(
                &[&archived.run],
                &[Kind::TaskRun.qualified(name)],
                &format,
                true,
            )?),
            None => print(&describe_run(&archived.run, &[], None, Timestamp::now())),
        }
        return Ok(true);
    }
    if kind == Some(Kind::TaskRun) {
        return Ok(false);
    }
    let Some(archived) = crate::archive::pipelinerun(cluster, name).await? else {
        return Ok(false);
    };
    crate::archive::note("pipelinerun", name, &archived.info);
    match output.filter(|f| !f.is_table()) {
        Some(format) => print(&render(
            &[&archived.run],
            &[Kind::PipelineRun.qualified(name)],
            &format,
            true,
        )?),
        None => {
            let children = crate::archive::children(cluster, &archived.info)
                .await?
                .into_iter()
                .map(|(name, child)| (name, child.run))
                .collect();
            print(&crate::pipeline_show::describe_pipelinerun(
                &archived.run,
                &children,
                &[],
                Timestamp::now(),
            ));
        }
    }
    Ok(true)
}

async fn show_run(cluster: &Cluster, run: TaskRun, output: Option<Format>) -> anyhow::Result<()> {
    if let Some(format) = output.filter(|f| !f.is_table()) {
        print(&render(
            &[&run],
            &[Kind::TaskRun.qualified(&run.name_any())],
            &format,
            true,
        )?);
        return Ok(());
    }
    let events = events(cluster, "TaskRun", &run.name_any()).await?;
    let status = run.status.clone().unwrap_or_default();
    let debugged = match (debugged_step(&status), &status.pod_name) {
        (Some(index), Some(pod)) => debugged_exit_code(cluster, pod, &status.steps[index].container).await,
        _ => None,
    };
    print(&describe_run(&run, &events, debugged, Timestamp::now()));
    Ok(())
}

async fn show_task(cluster: &Cluster, task: Task, output: Option<Format>) -> anyhow::Result<()> {
    if let Some(format) = output.filter(|f| !f.is_table()) {
        print(&render(
            &[&task],
            &[Kind::Task.qualified(&task.name_any())],
            &format,
            true,
        )?);
        return Ok(());
    }
    let runs: Api<TaskRun> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let selector = format!(
        "{}={}",
        minitask_api::LABEL_TASK,
        minitask_api::label_value(&task.name_any())
    );
    let doing = format!(
        "listing the runs of Task {} in namespace {}",
        task.name_any(),
        cluster.namespace
    );
    let mut recent = runs
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items;
    crate::list::newest_first(&mut recent);
    recent.truncate(5);
    print(&describe_task(&task, &recent, Timestamp::now()));
    Ok(())
}

/// The Events about an object, oldest first (an empty list when they
/// cannot be read: describe shows what it can).
pub async fn events(cluster: &Cluster, kind: &str, name: &str) -> anyhow::Result<Vec<Event>> {
    let api: Api<Event> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let selector = format!("involvedObject.kind={kind},involvedObject.name={name}");
    let mut events = match api.list(&ListParams::default().fields(&selector)).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 403 => Vec::new(),
        Err(e) => {
            let doing = format!("listing the Events of {kind} {name}");
            return Err(errors::api(&e, &doing, &cluster.server));
        }
    };
    events.sort_by_key(|e| e.last_timestamp.clone().or(e.event_time.clone().map(|t| Time(t.0))));
    Ok(events)
}

/// The description of `run`.
/// `debugged_exit`: the exit code of the step that waits for a debugger,
/// when its log says it.
pub fn describe_run(run: &TaskRun, events: &[Event], debugged_exit: Option<i32>, now: Timestamp) -> String {
    let status = run.status.clone().unwrap_or_default();
    let mut out = String::new();
    let mut field = |name: &str, value: String| out.push_str(&format!("{:<11}{value}\n", format!("{name}:")));
    field("Name", run.name_any());
    field("Namespace", run.namespace().unwrap_or_default());
    field(
        "Task",
        match &run.spec.task_ref {
            Some(r) if r.kind == minitask_api::TaskKind::ClusterTask => format!("{} (ClusterTask)", r.name),
            Some(r) => r.name.clone(),
            None => "<inline>".into(),
        },
    );
    let reason = status.reason.clone().unwrap_or_default();
    let phase = format!("{:?}", run.phase());
    field(
        "Status",
        match reason.is_empty() || reason == phase {
            true => phase,
            false => format!("{phase} ({reason})"),
        },
    );
    field(
        "Message",
        crate::output::deadline_in(&status.message.clone().unwrap_or_default(), now),
    );
    field("Pod", status.pod_name.clone().unwrap_or_else(|| "<none>".into()));
    field(
        "Started",
        status
            .start_time
            .as_ref()
            .filter(|t| t.0.as_second() > 0)
            .map_or("---".into(), |t| format!("{} ago", age(Some(t), now))),
    );
    field("Duration", status.duration.clone().unwrap_or_else(|| "---".into()));
    field("Timeout", run.spec.timeout.clone());
    if run.spec.retries > 0 {
        field(
            "Retries",
            format!("{} (attempt {})", run.spec.retries, status.retries_status.len() + 1),
        );
    }

    out.push_str("\nParams:\n");
    let declared = status.task_spec.as_ref().map(|t| t.params.clone()).unwrap_or_default();
    let mut rows = Vec::new();
    for spec in &declared {
        let given = run.spec.params.iter().find(|p| p.name == spec.name).map(|p| &p.value);
        let (value, source) = match (given, &spec.default) {
            (Some(v), _) => (show(v), ""),
            (None, Some(d)) => (show(d), " (default)"),
            (None, None) => ("<missing>".into(), ""),
        };
        rows.push(vec![spec.name.clone(), format!("{value}{source}")]);
    }
    for param in run
        .spec
        .params
        .iter()
        .filter(|p| !declared.iter().any(|d| d.name == p.name))
    {
        rows.push(vec![param.name.clone(), show(&param.value)]);
    }
    out.push_str(&indented(&["NAME", "VALUE"], &rows));

    if !run.spec.workspaces.is_empty() {
        out.push_str("\nWorkspaces:\n");
        let rows: Vec<Vec<String>> = run
            .spec
            .workspaces
            .iter()
            .map(|w| vec![w.name.clone(), crate::inputs::binding_text(w)])
            .collect();
        out.push_str(&indented(&["NAME", "BOUND TO"], &rows));
    }

    out.push_str("\nResults:\n");
    let rows: Vec<Vec<String>> = status
        .results
        .iter()
        .map(|r| vec![r.name.clone(), r.value.clone()])
        .collect();
    out.push_str(&indented(&["NAME", "VALUE"], &rows));

    out.push_str("\nSteps:\n");
    let ended = run
        .phase()
        .is_terminal()
        .then(|| status.completion_time.clone().unwrap_or(Time(now)));
    let mut rows = step_rows(&status.steps, ended.as_ref(), now);
    if let Some(index) = debugged_step(&status) {
        rows[index] = debugging_row(rows[index].clone(), debugged_exit);
    }
    out.push_str(&indented(
        &["NAME", "STATE", "EXIT", "DURATION", "TIMELINE", "MESSAGE"],
        &rows,
    ));

    let sidecars = status
        .task_spec
        .as_ref()
        .map(|t| t.sidecars.as_slice())
        .unwrap_or_default();
    if !sidecars.is_empty() {
        out.push_str("\nSidecars:\n");
        let name = run.name_any();
        let rows: Vec<Vec<String>> = sidecars
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.image.clone(),
                    format!("kubectl task logs {name} --sidecar {}", s.name),
                ]
            })
            .collect();
        out.push_str(&indented(&["NAME", "IMAGE", "LOG"], &rows));
    }

    if !status.retries_status.is_empty() {
        out.push_str("\nEarlier attempts:\n");
        let rows: Vec<Vec<String>> = status
            .retries_status
            .iter()
            .enumerate()
            .map(|(i, a)| {
                vec![
                    (i + 1).to_string(),
                    a.pod_name.clone(),
                    a.reason.clone(),
                    a.message.clone(),
                ]
            })
            .collect();
        out.push_str(&indented(&["ATTEMPT", "POD", "REASON", "MESSAGE"], &rows));
    }

    out.push_str("\nEvents:\n");
    out.push_str(&event_rows(events, now));
    out
}

/// The description of `task`, with its newest runs.
pub fn describe_task(task: &Task, recent: &[TaskRun], now: Timestamp) -> String {
    let spec = &task.spec;
    let mut out = String::new();
    let mut field = |name: &str, value: String| out.push_str(&format!("{:<13}{value}\n", format!("{name}:")));
    field("Name", task.name_any());
    field(
        "Namespace",
        task.namespace()
            .unwrap_or_else(|| "<none>: a ClusterTask, for every namespace".into()),
    );
    field(
        "Description",
        spec.description.clone().unwrap_or_else(|| "<none>".into()),
    );
    field(
        "Created",
        format!("{} ago", age(task.metadata.creation_timestamp.as_ref(), now)),
    );

    out.push_str("\nParams:\n");
    let rows: Vec<Vec<String>> = spec
        .params
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.type_.as_str().to_string(),
                p.default.as_ref().map_or("<required>".into(), show),
                p.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&indented(&["NAME", "TYPE", "DEFAULT", "DESCRIPTION"], &rows));

    out.push_str("\nWorkspaces:\n");
    let rows: Vec<Vec<String>> = spec
        .workspaces
        .iter()
        .map(|w| {
            let path = w.mount_path.clone().unwrap_or_else(|| format!("/workspace/{}", w.name));
            let how = [w.optional.then_some("optional"), w.read_only.then_some("read-only")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            vec![w.name.clone(), path, how, w.description.clone().unwrap_or_default()]
        })
        .collect();
    out.push_str(&indented(&["NAME", "PATH", "", "DESCRIPTION"], &rows));

    out.push_str("\nResults:\n");
    let rows: Vec<Vec<String>> = spec
        .results
        .iter()
        .map(|r| vec![r.name.clone(), r.description.clone().unwrap_or_default()])
        .collect();
    out.push_str(&indented(&["NAME", "DESCRIPTION"], &rows));

    out.push_str("\nSteps:\n");
    let rows: Vec<Vec<String>> = spec
        .steps
        .iter()
        .map(|s| {
            let image = s
                .image
                .clone()
                .or(spec.step_template.as_ref().and_then(|t| t.image.clone()))
                .unwrap_or_default();
            let what = match (&s.script, &s.command) {
                (Some(script), _) => script
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default()
                    .to_string(),
                (None, Some(command)) => command.join(" "),
                _ => String::new(),
            };
            vec![s.name.clone(), image, what]
        })
        .collect();
    out.push_str(&indented(&["NAME", "IMAGE", "RUNS"], &rows));

    if !spec.sidecars.is_empty() {
        out.push_str("\nSidecars (started before the first step, stopped after the last):\n");
        let rows: Vec<Vec<String>> = spec
            .sidecars
            .iter()
            .map(|s| {
                let ready = match &s.readiness_probe {
                    Some(_) => "when its readinessProbe passes",
                    None => "once running",
                };
                vec![s.name.clone(), s.image.clone(), ready.to_string()]
            })
            .collect();
        out.push_str(&indented(&["NAME", "IMAGE", "READY"], &rows));
    }

    out.push_str("\nRecent runs:\n");
    let rows: Vec<Vec<String>> = recent
        .iter()
        .map(|r| {
            let status = r.status.clone().unwrap_or_default();
            vec![
                r.name_any(),
                format!("{:?}", r.phase()),
                status.reason.unwrap_or_default(),
                age(r.metadata.creation_timestamp.as_ref(), now),
            ]
        })
        .collect();
    out.push_str(&indented(&["NAME", "STATUS", "REASON", "AGE"], &rows));
    let name = task.name_any();
    out.push_str(&format!("\nStart it with `kubectl task start {name}`.\n"));
    out
}

pub fn event_rows(events: &[Event], now: Timestamp) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .rev()
        .take(10)
        .rev()
        .map(|e| {
            let when = e.last_timestamp.clone().or(e.event_time.clone().map(|t| Time(t.0)));
            vec![
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                age(when.as_ref(), now),
                e.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    indented(&["TYPE", "REASON", "AGE", "MESSAGE"], &rows)
}

pub fn show(value: &ParamValue) -> String {
    match value {
        ParamValue::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A table indented by two spaces, or `  <none>`.
pub fn indented(headers: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "  <none>\n".into();
    }
    table(headers, rows).lines().map(|l| format!("  {l}\n")).collect()
}

const BAR: usize = 20;

/// The state of a step as a person reads it, and its exit code.
fn state(step: &StepState, run_ended: bool) -> (String, String) {
    match (&step.waiting, &step.running, &step.terminated) {
        (_, _, Some(t)) => {
            let state = match (t.reason.as_deref(), t.exit_code) {
                (Some("Stopped"), _) => "Stopped".to_string(),
                (Some("Continued"), _) => "Failed (continued)".to_string(),
                (_, 0) => "Succeeded".to_string(),
                (Some(reason), _) if reason != "Error" => format!("Failed ({reason})"),
                _ => "Failed".to_string(),
            };
            (state, t.exit_code.to_string())
        }
        (_, Some(_), None) if run_ended => ("Stopped".into(), "---".into()),
        (_, Some(_), None) => ("Running".into(), "---".into()),
        _ if run_ended => ("Not run".into(), "---".into()),
        (Some(w), _, _) => {
            let reason = w
                .reason
                .as_deref()
                .filter(|r| *r != "PodInitializing")
                .unwrap_or("Waiting");
            (format!("Waiting ({reason})"), "---".into())
        }
        _ => ("Pending".into(), "---".into()),
    }
}

/// One row per step, with a bar that places it on the run's timeline. A
/// step still marked running in a run that `ended` stopped then.
fn step_rows(steps: &[StepState], ended: Option<&Time>, now: Timestamp) -> Vec<Vec<String>> {
    let real = |t: &Option<Time>| t.clone().filter(|t| t.0.as_second() > 0);
    let span = |s: &StepState| -> Option<(i64, i64)> {
        let (start, end) = match (&s.running, &s.terminated) {
            (_, Some(t)) => (real(&t.started_at)?, real(&t.finished_at)?),
            (Some(r), None) => (real(&r.started_at)?, ended.cloned().unwrap_or(Time(now))),
            _ => return None,
        };
        Some((start.0.as_second(), end.0.as_second().max(start.0.as_second())))
    };
    let spans: Vec<Option<(i64, i64)>> = steps.iter().map(span).collect();
    let first = spans.iter().flatten().map(|s| s.0).min();
    let last = spans.iter().flatten().map(|s| s.1).max();
    steps
        .iter()
        .zip(&spans)
        .map(|(step, span)| {
            let (state, exit) = state(step, ended.is_some());
            let duration = span.map_or("---".into(), |(a, b)| format!("{}s", b - a));
            let timeline = match (span, first, last) {
                (Some((a, b)), Some(first), Some(last)) => bar(a - first, b - first, (last - first).max(1)),
                _ => " ".repeat(BAR),
            };
            // How it ended, or what kept it from running.
            let message = step
                .terminated
                .as_ref()
                .and_then(|t| t.message.clone())
                .or_else(|| waiting_why(step))
                .map(|m| m.trim().replace('\n', " "))
                .unwrap_or_default();
            vec![step.name.clone(), state, exit, duration, timeline, message]
        })
        .collect()
}

/// The step that failed and waits for a debugger, in a run that says so.
fn debugged_step(status: &minitask_api::TaskRunStatus) -> Option<usize> {
    if status.reason.as_deref() != Some(Reason::Debugging.as_str()) {
        return None;
    }
    status
        .steps
        .iter()
        .position(|s| s.running.is_some() && s.terminated.is_none())
}

/// The row of a step that failed and waits for a debugger: its container
/// still runs (the launcher keeps it for `kubectl task debug`), so say so.
fn debugging_row(mut row: Vec<String>, exit: Option<i32>) -> Vec<String> {
    row[1] = "Failed, waiting for a debugger".into();
    row[2] = exit.map_or("?".into(), |code| code.to_string());
    row[5] = match exit {
        Some(code) => format!("failed (exit {code}), waiting for a debugger; the duration includes the wait"),
        None => "failed, waiting for a debugger; the duration includes the wait".into(),
    };
    row
}

/// The exit code a step waiting for a debugger failed with, from the line
/// its launcher wrote last (one small read of its log).
async fn debugged_exit_code(cluster: &Cluster, pod: &str, container: &str) -> Option<i32> {
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let params = kube::api::LogParams {
        container: Some(container.to_string()),
        tail_lines: Some(5),
        ..Default::default()
    };
    let log = pods.logs(pod, &params).await.ok()?;
    exit_code_in(&log)
}

/// N from the launcher's `failed with exit code N;` line.
fn exit_code_in(log: &str) -> Option<i32> {
    log.lines().rev().find_map(|line| {
        let rest = line.split("failed with exit code ").nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit() && c != '-')
            .next()?
            .parse()
            .ok()
    })
}

/// What a step waits for, when it is not just its turn or its pod: the
/// kubelet's words (an image that does not pull, a missing Secret key).
fn waiting_why(step: &StepState) -> Option<String> {
    let waiting = step.waiting.as_ref()?;
    let reason = waiting
        .reason
        .as_deref()
        .filter(|r| !["PodInitializing", "ContainerCreating", "WaitingForPreviousStep"].contains(r))?;
    Some(match waiting.message.as_deref().filter(|m| !m.is_empty()) {
        Some(detail) => format!("{reason}: {detail}"),
        None => reason.to_string(),
    })
}

/// `start..end` of `total` as a bar of BAR cells, at least one cell wide.
fn bar(start: i64, end: i64, total: i64) -> String {
    let cell = |t: i64| ((t * BAR as i64) / total).clamp(0, BAR as i64) as usize;
    let (from, to) = (cell(start).min(BAR - 1), cell(end).max(cell(start) + 1).min(BAR));
    format!("{}{}{}", "·".repeat(from), "█".repeat(to - from), "·".repeat(BAR - to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting};

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
    }

    fn step(name: &str) -> StepState {
        StepState {
            name: name.into(),
            container: format!("step-{name}"),
            ..StepState::default()
        }
    }

    fn terminated(name: &str, code: i32, reason: &str, from: i64, to: i64) -> StepState {
        StepState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                reason: Some(reason.into()),
                started_at: Some(at(from)),
                finished_at: Some(at(to)),
                ..ContainerStateTerminated::default()
            }),
            ..step(name)
        }
    }

    #[test]
    fn bars_place_steps_on_the_timeline() {
        assert_eq!(bar(0, 10, 20), format!("{}{}", "█".repeat(10), "·".repeat(10)));
        assert_eq!(bar(10, 20, 20), format!("{}{}", "·".repeat(10), "█".repeat(10)));
        assert_eq!(bar(20, 20, 20).chars().filter(|c| *c == '█').count(), 1, "never empty");
        assert_eq!(bar(0, 0, 1).chars().count(), BAR);
    }

    #[test]
    fn every_step_of_a_finished_run_shows_how_it_ended() {
        let running = StepState {
            running: Some(ContainerStateRunning {
                started_at: Some(at(10)),
            }),
            ..step("c")
        };
        let pulling = StepState {
            waiting: Some(ContainerStateWaiting {
                reason: Some("ErrImagePull".into()),
                message: None,
            }),
            ..step("d")
        };
        let mut never_started = terminated("e", 128, "StartError", 0, 0);
        never_started.terminated.as_mut().unwrap().started_at = Some(Time(Timestamp::UNIX_EPOCH));
        never_started.terminated.as_mut().unwrap().message = Some("exec: \"x\": not found".into());
        let steps = [
            terminated("a", 0, "Completed", 0, 5),
            terminated("b", 137, "Stopped", 5, 9),
            running,
            pulling,
            never_started,
            step("f"),
        ];
        let ended = at(20);
        let rows = step_rows(&steps, Some(&ended), Timestamp::from_second(1_800_009_999).unwrap());
        let summary: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r[1].as_str(), r[2].as_str(), r[3].as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("Succeeded", "0", "5s"),
                ("Stopped", "137", "4s"),
                ("Stopped", "---", "10s"),
                ("Not run", "---", "---"),
                ("Failed (StartError)", "128", "---"),
                ("Not run", "---", "---"),
            ]
        );
        assert_eq!(rows[4][5], "exec: \"x\": not found", "the runtime's words");
        assert_eq!(rows[3][5], "ErrImagePull", "why the step did not run");
        assert_eq!(rows[5][5], "", "a step whose turn never came");
        let going = step_rows(&steps[3..4], None, Timestamp::now());
        assert_eq!(going[0][1], "Waiting (ErrImagePull)");
    }

    #[test]
    fn a_step_waiting_for_a_debugger_says_so_with_its_exit_code() {
        let log =
            "building\nminitask: step \"build\" failed with exit code 3; it waits up to 15m for `kubectl task debug`\n";
        assert_eq!(exit_code_in(log), Some(3));
        assert_eq!(exit_code_in("nothing here"), None);
        let row: Vec<String> = ["build", "Running", "---", "40s", "", ""].map(String::from).to_vec();
        let shown = debugging_row(row, Some(3));
        assert_eq!(shown[1], "Failed, waiting for a debugger");
        assert_eq!(shown[2], "3");
        assert_eq!(
            shown[5],
            "failed (exit 3), waiting for a debugger; the duration includes the wait"
        );
    }

    #[test]
    fn sidecars_are_shown_with_how_they_get_ready_and_where_their_logs_are() {
        let task: Task = serde_json::from_value(serde_json::json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "Task",
            "metadata": {"name": "it", "namespace": "ci"},
            "spec": {
                "steps": [{"name": "test", "image": "busybox", "script": "true"}],
                "sidecars": [
                    {"name": "db", "image": "postgres:17", "readinessProbe": {"exec": {"command": ["pg_isready"]}}},
                    {"name": "cache", "image": "redis:8"},
                ],
            },
        }))
        .unwrap();
        // Each line's words, so column widths do not matter.
        let words = |text: &str| -> Vec<String> {
            text.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        };
        let shown = describe_task(&task, &[], Timestamp::now());
        let lines = words(&shown);
        assert!(
            lines.contains(&"db postgres:17 when its readinessProbe passes".into()),
            "{shown}"
        );
        assert!(lines.contains(&"cache redis:8 once running".into()), "{shown}");

        let run: TaskRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": "it-1", "namespace": "ci"},
            "spec": {"taskRef": {"name": "it"}},
            "status": {"taskSpec": task.spec},
        }))
        .unwrap();
        let shown = describe_run(&run, &[], None, Timestamp::now());
        let lines = words(&shown);
        assert!(
            lines.contains(&"db postgres:17 kubectl task logs it-1 --sidecar db".into()),
            "{shown}"
        );
        let plain: TaskRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": "it-2", "namespace": "ci"}, "spec": {"taskRef": {"name": "it"}},
        }))
        .unwrap();
        assert!(!describe_run(&plain, &[], None, Timestamp::now()).contains("Sidecars"));
    }
}
