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
    let now = k8s_openapi::jiff::Timestamp::now();
    let shown = Shown {
        kind: "task",
        plural: "Tasks",
        namespace: &namespace,
        all_namespaces: args.all_namespaces,
        output: args.output,
    };
    shown.print(&items, &["NAME", "STEPS", "PARAMS", "AGE"], |t| {
        let params: Vec<&str> = t.spec.params.iter().map(|p| p.name.as_str()).collect();
        vec![
            t.name_any(),
            t.spec.steps.len().to_string(),
            if params.is_empty() {
                "<none>".into()
            } else {
                params.join(",")
            },
            age(t.metadata.creation_timestamp.as_ref(), now),
        ]
    })
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
    let now = k8s_openapi::jiff::Timestamp::now();
    let shown = Shown {
        kind: "taskrun",
        plural: "TaskRuns",
        namespace: &namespace,
        all_namespaces: args.all_namespaces,
        output: args.output,
    };
    let headers = ["NAME", "TASK", "STATUS", "REASON", "STARTED", "DURATION"];
    shown.print(&items, &headers, |r| {
        let status = r.status.clone().unwrap_or_default();
        vec![
            r.name_any(),
            r.task_name().unwrap_or("<inline>").to_string(),
            format!("{:?}", r.phase()),
            status.reason.unwrap_or_default(),
            status
                .start_time
                .as_ref()
                .map_or("---".into(), |t| format!("{} ago", age(Some(t), now))),
            status.duration.unwrap_or_else(|| "---".into()),
        ]
    })
}

/// How a listing command prints its objects: `-o`, or a table with a
/// NAMESPACE column under `-A`, or a note on stderr when there are none.
struct Shown<'a> {
    kind: &'static str,
    plural: &'static str,
    namespace: &'a str,
    all_namespaces: bool,
    output: Option<Format>,
}

impl Shown<'_> {
    fn print<K>(&self, items: &[K], headers: &[&str], row: impl Fn(&K) -> Vec<String>) -> anyhow::Result<()>
    where
        K: kube::Resource + serde::Serialize,
    {
        if let Some(format) = self.output {
            let names: Vec<String> = items
                .iter()
                .map(|i| format!("{}.minitask.dev/{}", self.kind, i.name_any()))
                .collect();
            print(&render(items, &names, format, false)?);
            return Ok(());
        }
        if items.is_empty() {
            match self.all_namespaces {
                true => eprintln!("No {} found.", self.plural),
                false => eprintln!("No {} found in namespace {}.", self.plural, self.namespace),
            }
            return Ok(());
        }
        let mut headers = headers.to_vec();
        if self.all_namespaces {
            headers.insert(0, "NAMESPACE");
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|item| {
                let mut cells = row(item);
                if self.all_namespaces {
                    cells.insert(0, item.namespace().unwrap_or_default());
                }
                cells
            })
            .collect();
        print(&table(&headers, &rows));
        Ok(())
    }
}

/// Newest first, by creation time, then name.
pub fn newest_first(runs: &mut [TaskRun]) {
    runs.sort_by(|a, b| {
        let key = |r: &TaskRun| (r.metadata.creation_timestamp.clone(), r.name_any());
        key(b).cmp(&key(a))
    });
}
