//! `kubectl task describe <run>`: everything about one run on one screen.

use anyhow::Context;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use minitask_api::{ParamValue, StepState, TaskRun};

use crate::client::Target;
use crate::output::{Format, age, print, render, table};

#[derive(clap::Args)]
pub struct Args {
    /// The TaskRun's name.
    run: String,
    /// Print the TaskRun as name, yaml or json instead.
    #[arg(short = 'o', long)]
    output: Option<Format>,
}

pub async fn run(target: &Target, args: Args) -> anyhow::Result<()> {
    let (client, namespace) = target.connect().await?;
    let runs: Api<TaskRun> = Api::namespaced(client.clone(), &namespace);
    let run = runs.get_opt(&args.run).await?.with_context(|| {
        format!(
            "taskrun {:?} not found in namespace {namespace:?}; list runs with `kubectl task runs -n {namespace}`",
            args.run
        )
    })?;
    if let Some(format) = args.output {
        let name = format!("taskrun.minitask.dev/{}", run.name_any());
        print(&render(&[&run], &[name], format, true)?);
        return Ok(());
    }
    let events: Api<Event> = Api::namespaced(client, &namespace);
    let selector = format!("involvedObject.kind=TaskRun,involvedObject.name={}", args.run);
    let mut events = events.list(&ListParams::default().fields(&selector)).await?.items;
    events.sort_by_key(|e| e.last_timestamp.clone().or(e.event_time.clone().map(|t| Time(t.0))));
    print(&describe(&run, &events, Timestamp::now()));
    Ok(())
}

/// The description of `run`: a pure function, for tests.
pub fn describe(run: &TaskRun, events: &[Event], now: Timestamp) -> String {
    let status = run.status.clone().unwrap_or_default();
    let mut out = String::new();
    let mut field = |name: &str, value: String| out.push_str(&format!("{:<11}{value}\n", format!("{name}:")));
    field("Name", run.name_any());
    field("Namespace", run.namespace().unwrap_or_default());
    field("Task", run.task_name().unwrap_or("<inline>").to_string());
    field(
        "Status",
        format!("{:?} ({})", run.phase(), status.reason.clone().unwrap_or_default()),
    );
    field("Message", status.message.clone().unwrap_or_default());
    field("Pod", status.pod_name.clone().unwrap_or_else(|| "<none>".into()));
    field(
        "Started",
        status
            .start_time
            .as_ref()
            .map_or("---".into(), |t| format!("{} ago", age(Some(t), now))),
    );
    field("Duration", status.duration.clone().unwrap_or_else(|| "---".into()));
    field("Timeout", run.spec.timeout.clone());

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

    out.push_str("\nResults:\n");
    let rows: Vec<Vec<String>> = status
        .results
        .iter()
        .map(|r| vec![r.name.clone(), r.value.clone()])
        .collect();
    out.push_str(&indented(&["NAME", "VALUE"], &rows));

    out.push_str("\nSteps:\n");
    out.push_str(&indented(
        &["NAME", "STATE", "EXIT", "DURATION", "TIMELINE"],
        &step_rows(&status.steps),
    ));

    if !status.retries_status.is_empty() {
        out.push_str("\nEarlier attempts:\n");
        let rows: Vec<Vec<String>> = status
            .retries_status
            .iter()
            .map(|a| vec![a.pod_name.clone(), a.reason.clone(), a.message.clone()])
            .collect();
        out.push_str(&indented(&["POD", "REASON", "MESSAGE"], &rows));
    }

    out.push_str("\nEvents:\n");
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
    out.push_str(&indented(&["TYPE", "REASON", "AGE", "MESSAGE"], &rows));
    out
}

fn show(value: &ParamValue) -> String {
    match value {
        ParamValue::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A table indented by two spaces, or `  <none>`.
fn indented(headers: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "  <none>\n".into();
    }
    table(headers, rows).lines().map(|l| format!("  {l}\n")).collect()
}

const BAR: usize = 20;

/// One row per step, with a bar that places it on the run's timeline.
fn step_rows(steps: &[StepState]) -> Vec<Vec<String>> {
    let span = |s: &StepState| -> Option<(i64, i64)> {
        let (start, end) = match (&s.running, &s.terminated) {
            (_, Some(t)) => (t.started_at.clone()?, t.finished_at.clone()?),
            (Some(r), None) => (r.started_at.clone()?, Time(Timestamp::now())),
            _ => return None,
        };
        Some((start.0.as_second(), end.0.as_second()))
    };
    let spans: Vec<Option<(i64, i64)>> = steps.iter().map(span).collect();
    let first = spans.iter().flatten().map(|s| s.0).min();
    let last = spans.iter().flatten().map(|s| s.1).max();
    steps
        .iter()
        .zip(&spans)
        .map(|(step, span)| {
            let (state, exit) = match (&step.waiting, &step.running, &step.terminated) {
                (_, _, Some(t)) => (
                    t.reason.clone().unwrap_or_else(|| "Terminated".into()),
                    t.exit_code.to_string(),
                ),
                (_, Some(_), _) => ("Running".into(), "---".into()),
                (Some(w), _, _) => (w.reason.clone().unwrap_or_else(|| "Waiting".into()), "---".into()),
                _ => ("NotStarted".into(), "---".into()),
            };
            let duration = span.map_or("---".into(), |(a, b)| format!("{}s", b - a));
            let timeline = match (span, first, last) {
                (Some((a, b)), Some(first), Some(last)) => bar(a - first, b - first, (last - first).max(1)),
                _ => " ".repeat(BAR),
            };
            vec![step.name.clone(), state, exit, duration, timeline]
        })
        .collect()
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

    #[test]
    fn bars_place_steps_on_the_timeline() {
        assert_eq!(bar(0, 10, 20), format!("{}{}", "█".repeat(10), "·".repeat(10)));
        assert_eq!(bar(10, 20, 20), format!("{}{}", "·".repeat(10), "█".repeat(10)));
        assert_eq!(bar(20, 20, 20).chars().filter(|c| *c == '█').count(), 1, "never empty");
        assert_eq!(bar(0, 0, 1).chars().count(), BAR);
    }
}
