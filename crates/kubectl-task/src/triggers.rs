//! `kubectl task triggers` (list), `kubectl task describe trigger/NAME`
//! and `kubectl task trigger fire NAME [-p k=v]` (start its run now, as
//! you).

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use minitask_api::{
    LABEL_TRIGGER, Param, ParamValue, PipelineRun, TaskRun, Trigger, label_value, triggered_name, triggered_run,
};

use crate::cluster::Cluster;
use crate::describe::{event_rows, indented, show};
use crate::errors;
use crate::inputs::key_value;
use crate::output::{Format, age, print, render, table};

#[derive(clap::Args)]
pub struct ListArgs {
    /// Triggers in every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Print as wide, name, yaml, json, jsonpath=... or custom-columns=...
    /// instead of a table.
    #[arg(short = 'o', long, value_parser = Format::parse)]
    output: Option<Format>,
}

#[derive(clap::Args)]
pub struct TriggerArgs {
    #[command(subcommand)]
    command: TriggerCommand,
}

#[derive(clap::Subcommand)]
enum TriggerCommand {
    /// Start the Trigger's run now, as you (its schedule or webhook is
    /// untouched): `$(schedule.time)` is now; a param that needs a
    /// delivery's body or headers must be given with -p.
    Fire {
        /// The Trigger.
        name: String,
        /// A param value, NAME=VALUE, over the Trigger's own (repeatable).
        #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
}

fn api(client: Client, namespace: &str, all: bool) -> Api<Trigger> {
    match all {
        true => Api::all(client),
        false => Api::namespaced(client, namespace),
    }
}

pub async fn list(cluster: &Cluster, args: ListArgs) -> anyhow::Result<()> {
    let where_ = match args.all_namespaces {
        true => "every namespace".to_string(),
        false => format!("namespace {}", cluster.namespace),
    };
    let mut triggers = api(cluster.client.clone(), &cluster.namespace, args.all_namespaces)
        .list(&ListParams::default())
        .await
        .map_err(|e| errors::api(&e, &format!("listing Triggers in {where_}"), &cluster.server))?
        .items;
    triggers.sort_by_key(|t| (t.namespace(), t.name_any()));
    if let Some(format) = args.output.as_ref().filter(|f| !f.is_table()) {
        let names: Vec<String> = triggers
            .iter()
            .map(|t| format!("trigger.minitask.dev/{}", t.name_any()))
            .collect();
        print(&render(&triggers, &names, format, false)?);
        return Ok(());
    }
    if triggers.is_empty() {
        eprintln!("No Triggers in {where_}.");
        return Ok(());
    }
    let now = Timestamp::now();
    let mut headers = vec!["NAME", "KIND", "WHEN", "NEXT", "LAST RUN", "OUTCOME", "READY", "AGE"];
    if args.all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    let rows: Vec<Vec<String>> = triggers
        .iter()
        .map(|t| {
            let mut row = row(t, now);
            if args.all_namespaces {
                row.insert(0, t.namespace().unwrap_or_default());
            }
            row
        })
        .collect();
    print(&table(&headers, &rows));
    Ok(())
}

/// One Trigger's line: what it is, when it fires next, what it did last.
fn row(trigger: &Trigger, now: Timestamp) -> Vec<String> {
    let status = trigger.status.clone().unwrap_or_default();
    let (kind, when) = match (&trigger.spec.schedule, &trigger.spec.webhook) {
        (Some(s), _) => {
            let zone = s.time_zone.as_deref().map(|z| format!(" {z}")).unwrap_or_default();
            let suspended = if s.suspend { " (suspended)" } else { "" };
            ("schedule", format!("{}{zone}{suspended}", s.cron))
        }
        (_, Some(h)) => (
            "webhook",
            format!(
                "/hooks/{}/{} ({})",
                trigger.namespace().unwrap_or_default(),
                trigger.name_any(),
                serde_json::to_value(h.provider)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            ),
        ),
        _ => ("?", String::new()),
    };
    let next = match &status.next_fire_time {
        Some(t) if t.0 > now => format!(
            "in {}",
            age(Some(&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)), t.0)
        ),
        Some(_) => "now".into(),
        None => "-".into(),
    };
    let outcome = match &status.last_delivery {
        Some(d) => d.outcome.clone(),
        None if status.fired > 0 => "Started".into(),
        None => "-".into(),
    };
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map_or("Unknown".to_string(), |c| c.status.clone());
    vec![
        trigger.name_any(),
        kind.into(),
        when,
        next,
        status.last_run.unwrap_or_else(|| "-".into()),
        outcome,
        ready,
        age(trigger.creation_timestamp().as_ref(), now),
    ]
}

/// `describe trigger/NAME`.
pub async fn describe(cluster: &Cluster, name: &str, output: Option<Format>) -> anyhow::Result<()> {
    let trigger = find(cluster, name).await?;
    if let Some(format) = output.filter(|f| !f.is_table()) {
        print(&render(
            &[&trigger],
            &[format!("trigger.minitask.dev/{name}")],
            &format,
            true,
        )?);
        return Ok(());
    }
    let selector = format!("{LABEL_TRIGGER}={}", label_value(name));
    let params = ListParams::default().labels(&selector);
    let mut recent: Vec<(
        String,
        Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
        String,
    )> = Vec::new();
    let taskruns: Api<TaskRun> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let doing = format!("listing the runs of Trigger {name}");
    for run in taskruns
        .list(&params)
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items
    {
        recent.push((
            format!("taskrun/{}", run.name_any()),
            run.creation_timestamp(),
            format!("{:?}", run.phase()),
        ));
    }
    let pipelineruns: Api<PipelineRun> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    for run in pipelineruns
        .list(&params)
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items
    {
        recent.push((
            format!("pipelinerun/{}", run.name_any()),
            run.creation_timestamp(),
            format!("{:?}", run.phase()),
        ));
    }
    recent.sort_by(|a, b| {
        b.1.as_ref()
            .map(|t| t.0)
            .cmp(&a.1.as_ref().map(|t| t.0))
            .then(a.0.cmp(&b.0))
    });
    recent.truncate(10);
    let events = crate::describe::events(cluster, "Trigger", name)
        .await
        .unwrap_or_default();
    print(&describe_text(&trigger, &recent, &events, Timestamp::now()));
    Ok(())
}

fn describe_text(
    trigger: &Trigger,
    recent: &[(
        String,
        Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
        String,
    )],
    events: &[Event],
    now: Timestamp,
) -> String {
    let status = trigger.status.clone().unwrap_or_default();
    let mut out = format!(
        "Name:       {}\nNamespace:  {}\n",
        trigger.name_any(),
        trigger.namespace().unwrap_or_default()
    );
    let run = &trigger.spec.run;
    let target = match (&run.task_ref, &run.pipeline_ref) {
        (Some(t), _) => format!("task/{}", t.name),
        (_, Some(p)) => format!("pipeline/{}", p.name),
        _ => "-".into(),
    };
    out.push_str(&format!("Starts:     {target}\n"));
    if let Some(s) = &trigger.spec.schedule {
        out.push_str(&format!(
            "Schedule:   {} ({}), concurrency {:?}{}{}\n",
            s.cron,
            s.time_zone.as_deref().unwrap_or("UTC"),
            s.concurrency_policy,
            s.starting_deadline_seconds
                .map(|d| format!(", deadline {d}s"))
                .unwrap_or_default(),
            if s.suspend { ", suspended" } else { "" },
        ));
        let time = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
            t.as_ref().map_or("-".to_string(), |t| t.0.to_string())
        };
        out.push_str(&format!(
            "Last fire:  {}\nNext fire:  {}\n",
            time(&status.last_fire_time),
            time(&status.next_fire_time)
        ));
    }
    if let Some(h) = &trigger.spec.webhook {
        let (secret, key) = trigger.secret_key().unwrap_or_default();
        out.push_str(&format!(
            "Webhook:    POST /hooks/{}/{} ({:?}, Secret {secret} key {key})\n",
            trigger.namespace().unwrap_or_default(),
            trigger.name_any(),
            h.provider
        ));
        if !h.events.is_empty() {
            out.push_str(&format!("Events:     {}\n", h.events.join(", ")));
        }
        if let Some(filter) = &h.filter {
            out.push_str(&format!("Filter:     {filter}\n"));
        }
    }
    for c in status.conditions.iter().filter(|c| c.type_ == "Ready") {
        out.push_str(&format!("Ready:      {} ({}): {}\n", c.status, c.reason, c.message));
    }
    let counts = |map: &std::collections::BTreeMap<String, i64>| {
        map.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!("Fired:      {}\n", status.fired));
    if !status.skipped.is_empty() {
        out.push_str(&format!("Skipped:    {}\n", counts(&status.skipped)));
    }
    if !status.rejected.is_empty() {
        out.push_str(&format!("Rejected:   {}\n", counts(&status.rejected)));
    }
    if let Some(d) = &status.last_delivery {
        out.push_str(&format!(
            "Last delivery: {} {} at {}{}{}\n",
            d.id.as_deref().unwrap_or("-"),
            d.outcome,
            d.time.0,
            d.run.as_ref().map(|r| format!(", run {r}")).unwrap_or_default(),
            d.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default(),
        ));
    }
    if !run.params.is_empty() {
        out.push_str("\nParams:\n");
        let rows: Vec<Vec<String>> = run
            .params
            .iter()
            .map(|p| vec![p.name.clone(), show(&p.value)])
            .collect();
        out.push_str(&indented(&["NAME", "VALUE"], &rows));
    }
    out.push_str("\nRecent runs:\n");
    if recent.is_empty() {
        out.push_str("  none\n");
    } else {
        let rows: Vec<Vec<String>> = recent
            .iter()
            .map(|(name, created, phase)| vec![name.clone(), phase.clone(), age(created.as_ref(), now)])
            .collect();
        out.push_str(&indented(&["RUN", "STATUS", "AGE"], &rows));
    }
    if !events.is_empty() {
        out.push_str("\nEvents:\n");
        out.push_str(&event_rows(events, now));
    }
    out
}

async fn find(cluster: &Cluster, name: &str) -> anyhow::Result<Trigger> {
    let doing = format!("reading Trigger {name} in namespace {}", cluster.namespace);
    Api::<Trigger>::namespaced(cluster.client.clone(), &cluster.namespace)
        .get_opt(name)
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no Trigger {name} in namespace {}; list them with `kubectl task triggers`",
                cluster.namespace
            )
        })
}

pub async fn run(cluster: &Cluster, args: TriggerArgs) -> anyhow::Result<()> {
    let TriggerCommand::Fire { name, params } = args.command;
    let trigger = find(cluster, &name).await?;
    let overrides = overrides(&trigger, &params)?;
    let now = Timestamp::now();
    let run_name = triggered_name(&name, &format!("manual-{:x}", now.as_millisecond()));
    let time = Timestamp::from_second(now.as_second()).unwrap_or(now).to_string();
    let fill = |reference: &str| (reference == "schedule.time").then(|| time.clone());
    let run = triggered_run(&trigger, &run_name, &fill, &overrides)
        .map_err(|e| anyhow::anyhow!("Trigger {name} cannot start by hand: {e}; give that param with -p NAME=VALUE"))?;
    let doing = format!(
        "creating a {} of Trigger {name} in namespace {}",
        run.kind(),
        cluster.namespace
    );
    run.create(&cluster.client)
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?;
    let created = format!("{}.minitask.dev/{}", run.kind().to_ascii_lowercase(), run.name());
    print(&format!("{created} created\n"));
    eprintln!(
        "follow it with `kubectl task logs -f {} -n {}`",
        created.rsplit('/').next().unwrap_or_default(),
        cluster.namespace
    );
    Ok(())
}

/// `-p` flags as params, typed like the Trigger's own param of that name.
fn overrides(trigger: &Trigger, flags: &[String]) -> anyhow::Result<Vec<Param>> {
    let mut params: Vec<Param> = Vec::new();
    for flag in flags {
        let (name, value) = key_value("-p", flag)?;
        anyhow::ensure!(!params.iter().any(|p| p.name == name), "param {name:?} is given twice");
        let array = trigger
            .spec
            .run
            .params
            .iter()
            .any(|p| p.name == name && matches!(p.value, ParamValue::Array(_)));
        let value = match array {
            true => ParamValue::Array(value.split(',').map(|s| s.trim().to_string()).collect()),
            false => ParamValue::String(value),
        };
        params.push(Param { name, value });
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minitask_api::{Schedule, TaskRef, TriggerRun, TriggerSpec, TriggerStatus};

    #[test]
    fn a_row_says_when_it_fires_and_what_it_did() {
        let now: Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
        let mut t = Trigger::new(
            "nightly",
            TriggerSpec {
                run: TriggerRun {
                    task_ref: Some(TaskRef::task("build")),
                    ..TriggerRun::default()
                },
                schedule: Some(Schedule {
                    cron: "0 3 * * *".into(),
                    time_zone: Some("Europe/Berlin".into()),
                    ..Schedule::default()
                }),
                webhook: None,
            },
        );
        t.status = Some(TriggerStatus {
            next_fire_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-12-04T02:00:00Z".parse().unwrap(),
            )),
            last_run: Some("nightly-29000000".into()),
            fired: 3,
            ..TriggerStatus::default()
        });
        let row = row(&t, now);
        assert_eq!(
            &row[..7],
            [
                "nightly",
                "schedule",
                "0 3 * * * Europe/Berlin",
                "in 16h",
                "nightly-29000000",
                "Started",
                "Unknown"
            ]
        );
    }
}
