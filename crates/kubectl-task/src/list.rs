//! `kubectl task list` (Tasks) and `kubectl task runs` (TaskRuns).

use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use minitask_api::{Task, TaskRun};

use crate::client::Target;
use crate::output::{Format, age, print, render, table};

#[derive(clap::Args)]
pub struct ListArgs {
    /// Tasks in every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only Tasks with these labels (a label selector, as in kubectl).
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Print as name, yaml or json instead of a table.
    #[arg(short = 'o', long)]
    output: Option<Format>,
}

#[derive(clap::Args)]
pub struct RunsArgs {
    /// TaskRuns in every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only TaskRuns with these labels (a label selector, as in kubectl).
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Only runs of this Task.
    #[arg(long)]
    task: Option<String>,
    /// At most this many runs, newest first.
    #[arg(long)]
    limit: Option<usize>,
    /// Print as name, yaml or json instead of a table.
    #[arg(short = 'o', long)]
    output: Option<Format>,
}

fn api<K>(client: Client, namespace: &str, all: bool) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match all {
        true => Api::all(client),
        false => Api::namespaced(client, namespace),
    }
}

fn params(selector: &Option<String>) -> ListParams {
    match selector {
        Some(s) => ListParams::default().labels(s),
        None => ListParams::default(),
    }
}

pub async fn list(target: &Target, args: ListArgs) -> anyhow::Result<()> {
    let (client, namespace) = target.connect().await?;
    let tasks: Api<Task> = api(client, &namespace, args.all_namespaces);
    let mut items = tasks.list(&params(&args.selector)).await?.items;
    items.sort_by_key(|t| (t.namespace(), t.name_any()));
    if let Some(format) = args.output {
        let names: Vec<String> = items
            .iter()
            .map(|t| format!("task.minitask.dev/{}", t.name_any()))
            .collect();
        print(&render(&items, &names, format, false)?);
        return Ok(());
    }
    if items.is_empty() {
        eprintln!("{}", nothing_found("Tasks", &namespace, args.all_namespaces));
        return Ok(());
    }
    let now = k8s_openapi::jiff::Timestamp::now();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|t| {
            let params: Vec<&str> = t.spec.params.iter().map(|p| p.name.as_str()).collect();
            let mut row = vec![
                t.name_any(),
                t.spec.steps.len().to_string(),
                if params.is_empty() {
                    "<none>".into()
                } else {
                    params.join(",")
                },
                age(t.metadata.creation_timestamp.as_ref(), now),
            ];
            if args.all_namespaces {
                row.insert(0, t.namespace().unwrap_or_default());
            }
            row
        })
        .collect();
    let mut headers = vec!["NAME", "STEPS", "PARAMS", "AGE"];
    if args.all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    print(&table(&headers, &rows));
    Ok(())
}

pub async fn runs(target: &Target, args: RunsArgs) -> anyhow::Result<()> {
    let (client, namespace) = target.connect().await?;
    let runs: Api<TaskRun> = api(client, &namespace, args.all_namespaces);
    let mut items: Vec<TaskRun> = runs
        .list(&params(&args.selector))
        .await?
        .items
        .into_iter()
        .filter(|r| args.task.as_deref().is_none_or(|t| r.task_name() == Some(t)))
        .collect();
    newest_first(&mut items);
    items.truncate(args.limit.unwrap_or(usize::MAX));
    if let Some(format) = args.output {
        let names: Vec<String> = items
            .iter()
            .map(|r| format!("taskrun.minitask.dev/{}", r.name_any()))
            .collect();
        print(&render(&items, &names, format, false)?);
        return Ok(());
    }
    if items.is_empty() {
        eprintln!("{}", nothing_found("TaskRuns", &namespace, args.all_namespaces));
        return Ok(());
    }
    let now = k8s_openapi::jiff::Timestamp::now();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|r| {
            let status = r.status.clone().unwrap_or_default();
            let mut row = vec![
                r.name_any(),
                r.task_name().unwrap_or("<inline>").to_string(),
                format!("{:?}", r.phase()),
                status.reason.unwrap_or_default(),
                status
                    .start_time
                    .as_ref()
                    .map_or("---".into(), |t| format!("{} ago", age(Some(t), now))),
                status.duration.unwrap_or_else(|| "---".into()),
            ];
            if args.all_namespaces {
                row.insert(0, r.namespace().unwrap_or_default());
            }
            row
        })
        .collect();
    let mut headers = vec!["NAME", "TASK", "STATUS", "REASON", "STARTED", "DURATION"];
    if args.all_namespaces {
        headers.insert(0, "NAMESPACE");
    }
    print(&table(&headers, &rows));
    Ok(())
}

/// Newest first, by creation time, then name.
pub fn newest_first(runs: &mut [TaskRun]) {
    runs.sort_by(|a, b| {
        let key = |r: &TaskRun| (r.metadata.creation_timestamp.clone(), r.name_any());
        key(b).cmp(&key(a))
    });
}

fn nothing_found(what: &str, namespace: &str, all: bool) -> String {
    match all {
        true => format!("No {what} found."),
        false => format!("No {what} found in namespace {namespace}."),
    }
}
