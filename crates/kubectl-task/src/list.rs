//! `kubectl task list` (Tasks) and `kubectl task runs` (TaskRuns, and
//! `-w` to watch them change).

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use minitask_api::{ClusterTask, Pipeline, PipelineRun, Task, TaskRun};

use crate::cluster::Cluster;
use crate::errors;
use crate::output::{Format, age, aligned_table, print, render};
use crate::refs::Kind;

#[derive(clap::Args)]
pub struct ListArgs {
    /// What to list: tasks (the default: the namespace's Tasks and the
    /// ClusterTasks every namespace may run) or pipelines.
    #[arg(value_parser = ["tasks", "task", "pipelines", "pipeline", "pl"])]
    kind: Option<String>,
    /// Tasks in every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only Tasks with these labels (a label selector, as in kubectl).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<String>,
    /// Print as wide, name, yaml, json, jsonpath=... or custom-columns=...
    /// instead of a table.
    #[arg(short = 'o', long, value_parser = Format::parse)]
    output: Option<Format>,
}

#[derive(clap::Args)]
pub struct RunsArgs {
    /// What to list: taskruns (the default) or pipelineruns.
    #[arg(value_parser = ["taskruns", "taskrun", "tr", "pipelineruns", "pipelinerun", "plr"])]
    kind: Option<String>,
    /// TaskRuns in every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only TaskRuns with these labels (a label selector, as in kubectl).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<String>,
    /// Only runs of this Task.
    #[arg(long, value_name = "TASK")]
    task: Option<String>,
    /// Only runs of this Pipeline (with pipelineruns).
    #[arg(long, value_name = "PIPELINE")]
    pipeline: Option<String>,
    /// At most this many runs, newest first (1 or more).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// After the list, print each run again whenever it changes.
    #[arg(short = 'w', long)]
    watch: bool,
    /// Runs from the archive (deploy/archive), newest first, including
    /// those deleted from the cluster (at most 500; --limit, default 50).
    #[arg(long, conflicts_with_all = ["watch", "all_namespaces", "output"])]
    archived: bool,
    /// Print as wide, name, yaml, json, jsonpath=... or custom-columns=...
    /// instead of a table.
    #[arg(short = 'o', long, value_parser = Format::parse)]
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

/// Where a listing looked, for messages.
fn scope(cluster: &Cluster, all: bool) -> String {
    match all {
        true => "every namespace".into(),
        false => format!("namespace {}", cluster.namespace),
    }
}

pub async fn list(cluster: &Cluster, args: ListArgs) -> anyhow::Result<()> {
    if matches!(args.kind.as_deref(), Some("pipelines" | "pipeline" | "pl")) {
        return list_pipelines(cluster, args).await;
    }
    let tasks: Api<Task> = api(cluster.client.clone(), &cluster.namespace, args.all_namespaces);
    let doing = format!("listing Tasks in {}", scope(cluster, args.all_namespaces));
    let mut items = tasks
        .list(&params(&args.selector))
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items;
    items.sort_by_key(|t| (t.namespace(), t.name_any()));
    let mut shared = cluster_tasks(cluster, &args.selector).await?;
    shared.sort_by_key(|t| t.name_any());
    if let Some(format) = args.output.as_ref().filter(|f| !f.is_table()) {
        #[derive(serde::Serialize)]
        #[serde(untagged)]
        enum Listed<'a> {
            Task(&'a Task),
            Cluster(&'a ClusterTask),
        }
        let names = items.iter().map(|t| Kind::Task.qualified(&t.name_any()));
        let names = names.chain(shared.iter().map(|t| Kind::ClusterTask.qualified(&t.name_any())));
        let listed = items.iter().map(Listed::Task).chain(shared.iter().map(Listed::Cluster));
        let (names, listed): (Vec<String>, Vec<Listed>) = (names.collect(), listed.collect());
        print(&render(&listed, &names, format, false)?);
        return Ok(());
    }
    // A ClusterTask is shown as a Task without a namespace: KIND tells.
    items.extend(shared.into_iter().map(crate::resolve::as_task));
    let now = Timestamp::now();
    let shown = Shown {
        kind: Kind::Task,
        plural: "Tasks",
        scope: scope(cluster, args.all_namespaces),
        all_namespaces: args.all_namespaces,
        output: args.output,
        widths: Default::default(),
    };
    let headers = [
        "NAME",
        "KIND",
        "STEPS",
        "VALID",
        "PARAMS",
        "WORKSPACES",
        "RESULTS",
        "AGE",
        "DESCRIPTION",
    ];
    let wide = ["IMAGES"];
    shown.print(&items, &headers, &wide, |t| {
        let names = |items: Vec<&str>| match items.is_empty() {
            true => "<none>".to_string(),
            false => items.join(","),
        };
        let spec = &t.spec;
        let mut images: Vec<String> = spec
            .steps
            .iter()
            .filter_map(|s| {
                s.image
                    .clone()
                    .or(spec.step_template.as_ref().and_then(|t| t.image.clone()))
            })
            .collect();
        images.dedup();
        vec![
            t.name_any(),
            match t.namespace() {
                Some(_) => "Task".into(),
                None => "ClusterTask".into(),
            },
            spec.steps.len().to_string(),
            // What `start` and the controller check (a run of it fails).
            match minitask_api::undeclared(spec).is_empty() {
                true => "True".into(),
                false => "False".into(),
            },
            names(spec.params.iter().map(|p| p.name.as_str()).collect()),
            names(spec.workspaces.iter().map(|w| w.name.as_str()).collect()),
            names(spec.results.iter().map(|r| r.name.as_str()).collect()),
            age(t.metadata.creation_timestamp.as_ref(), now),
            spec.description
                .clone()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            images.join(","),
        ]
    })
}

/// The ClusterTasks, which every namespace may run; none, with a note,
/// when this user may not list them.
async fn cluster_tasks(cluster: &Cluster, selector: &Option<String>) -> anyhow::Result<Vec<ClusterTask>> {
    match crate::resolve::cluster_tasks(cluster).list(&params(selector)).await {
        Ok(list) => Ok(list.items),
        Err(kube::Error::Api(status)) if status.code == 403 || status.code == 404 => {
            eprintln!("(ClusterTasks not shown: {})", status.message);
            Ok(Vec::new())
        }
        Err(e) => Err(errors::api(&e, "listing ClusterTasks", &cluster.server)),
    }
}

pub async fn runs(cluster: &Cluster, args: RunsArgs) -> anyhow::Result<()> {
    if args.archived {
        let pipelineruns = matches!(args.kind.as_deref(), Some("pipelineruns" | "pipelinerun" | "plr"));
        let plural = if pipelineruns { "pipelineruns" } else { "taskruns" };
        let of = if pipelineruns {
            args.pipeline.as_deref()
        } else {
            args.task.as_deref()
        };
        return crate::archive::list(cluster, plural, of, args.selector.as_deref(), args.limit).await;
    }
    if matches!(args.kind.as_deref(), Some("pipelineruns" | "pipelinerun" | "plr")) {
        return pipelineruns(cluster, args).await;
    }
    anyhow::ensure!(
        args.pipeline.is_none(),
        "--pipeline lists pipelineruns: `kubectl task runs pipelineruns --pipeline NAME`"
    );
    let runs: Api<TaskRun> = api(cluster.client.clone(), &cluster.namespace, args.all_namespaces);
    let doing = format!("listing taskruns in {}", scope(cluster, args.all_namespaces));
    let selector = params(&args.selector);
    let mut items: Vec<TaskRun> = runs
        .list(&selector)
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items
        .into_iter()
        .filter(|r| args.task.as_deref().is_none_or(|t| r.task_name() == Some(t)))
        .collect();
    newest_first(&mut items);
    items.truncate(args.limit.map_or(usize::MAX, |l| l as usize));
    let shown = Shown {
        kind: Kind::TaskRun,
        plural: "TaskRuns",
        scope: scope(cluster, args.all_namespaces),
        all_namespaces: args.all_namespaces,
        output: args.output.clone(),
        widths: Default::default(),
    };
    let headers = ["NAME", "TASK", "STATUS", "REASON", "STARTED", "DURATION"];
    let wide = ["POD", "ATTEMPT", "MESSAGE"];
    if args.watch {
        shown.reserve(minitask_api::Reason::ALL.iter().map(|r| r.as_str()));
    }
    shown.print(&items, &headers, &wide, run_row)?;
    if !args.watch {
        return Ok(());
    }
    let task = args.task.clone();
    let keep = move |run: &TaskRun| task.as_deref().is_none_or(|t| run.task_name() == Some(t));
    watch_rows(runs, &args.selector, &items, &shown, &headers, &wide, run_row, keep).await
}

/// After the list (`printed`), every change, one row per change, as
/// `kubectl get -w` prints them, under the same columns.
#[allow(clippy::too_many_arguments)]
async fn watch_rows<K>(
    api: Api<K>,
    selector: &Option<String>,
    printed: &[K],
    shown: &Shown,
    headers: &[&str],
    wide: &[&str],
    row: impl Fn(&K) -> Vec<String>,
    keep: impl Fn(&K) -> bool,
) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug + Send + 'static,
{
    let config = match selector {
        Some(s) => watcher::Config::default().labels(s),
        None => watcher::Config::default(),
    };
    // What the list printed, by object and version: the watch's own first
    // list repeats it, but shows what changed in between.
    let version = |o: &K| (o.namespace(), o.name_any(), o.resource_version());
    let seen: std::collections::HashSet<_> = printed.iter().map(version).collect();
    let mut changes = std::pin::pin!(watcher(api, config));
    let mut listed = true;
    while let Some(event) = changes.next().await {
        let object =
            match event.map_err(|e| anyhow::anyhow!("watching {}: {}", shown.plural, errors::root_cause(&e)))? {
                // The first list repeats what is printed already.
                watcher::Event::Init => {
                    listed = true;
                    continue;
                }
                watcher::Event::InitDone => {
                    listed = false;
                    continue;
                }
                watcher::Event::InitApply(o) if listed && seen.contains(&version(&o)) => continue,
                watcher::Event::InitApply(o) | watcher::Event::Apply(o) | watcher::Event::Delete(o) => o,
            };
        if keep(&object) {
            shown.rows(&[object], headers, wide, &row, false)?;
        }
    }
    Ok(())
}

async fn list_pipelines(cluster: &Cluster, args: ListArgs) -> anyhow::Result<()> {
    let pipelines: Api<Pipeline> = api(cluster.client.clone(), &cluster.namespace, args.all_namespaces);
    let doing = format!("listing Pipelines in {}", scope(cluster, args.all_namespaces));
    let mut items = pipelines
        .list(&params(&args.selector))
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items;
    items.sort_by_key(|p| (p.namespace(), p.name_any()));
    let now = Timestamp::now();
    let shown = Shown {
        kind: Kind::Pipeline,
        plural: "Pipelines",
        scope: scope(cluster, args.all_namespaces),
        all_namespaces: args.all_namespaces,
        output: args.output,
        widths: Default::default(),
    };
    let headers = ["NAME", "TASKS", "PARAMS", "WORKSPACES", "VALID", "AGE", "DESCRIPTION"];
    shown.print(&items, &headers, &[], |p| {
        let names = |items: Vec<&str>| match items.is_empty() {
            true => "<none>".to_string(),
            false => items.join(","),
        };
        let spec = &p.spec;
        let valid = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Valid"))
            .map_or("?".to_string(), |c| c.status.clone());
        vec![
            p.name_any(),
            (spec.tasks.len() + spec.finally.len()).to_string(),
            names(spec.params.iter().map(|x| x.name.as_str()).collect()),
            names(spec.workspaces.iter().map(|w| w.name.as_str()).collect()),
            valid,
            age(p.metadata.creation_timestamp.as_ref(), now),
            spec.description
                .clone()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        ]
    })
}

async fn pipelineruns(cluster: &Cluster, args: RunsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.task.is_none(),
        "--task lists taskruns: `kubectl task runs --task NAME` (for pipelineruns, --pipeline NAME)"
    );
    let runs: Api<PipelineRun> = api(cluster.client.clone(), &cluster.namespace, args.all_namespaces);
    let doing = format!("listing pipelineruns in {}", scope(cluster, args.all_namespaces));
    let mut items: Vec<PipelineRun> = runs
        .list(&params(&args.selector))
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items
        .into_iter()
        .filter(|r| args.pipeline.as_deref().is_none_or(|p| r.pipeline_name() == Some(p)))
        .collect();
    newest_first(&mut items);
    items.truncate(args.limit.map_or(usize::MAX, |l| l as usize));
    let shown = Shown {
        kind: Kind::PipelineRun,
        plural: "PipelineRuns",
        scope: scope(cluster, args.all_namespaces),
        all_namespaces: args.all_namespaces,
        output: args.output.clone(),
        widths: Default::default(),
    };
    let headers = ["NAME", "PIPELINE", "STATUS", "REASON", "TASKS", "STARTED", "DURATION"];
    let wide = ["MESSAGE"];
    if args.watch {
        shown.reserve(minitask_api::PipelineReason::ALL.iter().map(|r| r.as_str()));
    }
    shown.print(&items, &headers, &wide, pipelinerun_row)?;
    if !args.watch {
        return Ok(());
    }
    let pipeline = args.pipeline.clone();
    let keep = move |run: &PipelineRun| pipeline.as_deref().is_none_or(|p| run.pipeline_name() == Some(p));
    watch_rows(
        runs,
        &args.selector,
        &items,
        &shown,
        &headers,
        &wide,
        pipelinerun_row,
        keep,
    )
    .await
}

fn pipelinerun_row(r: &PipelineRun) -> Vec<String> {
    let now = Timestamp::now();
    let status = r.status.clone().unwrap_or_default();
    vec![
        r.name_any(),
        r.pipeline_name().unwrap_or("<inline>").to_string(),
        format!("{:?}", r.phase()),
        status.reason.unwrap_or_default(),
        status.progress.unwrap_or_else(|| "---".into()),
        status
            .start_time
            .as_ref()
            .map_or("---".into(), |t| format!("{} ago", age(Some(t), now))),
        status.duration.unwrap_or_else(|| "---".into()),
        status.message.unwrap_or_default(),
    ]
}

fn run_row(r: &TaskRun) -> Vec<String> {
    let now = Timestamp::now();
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
        status.pod_name.unwrap_or_else(|| "<none>".into()),
        (status.retries_status.len() + 1).to_string(),
        status.message.unwrap_or_default(),
    ]
}

/// How a listing command prints its objects: `-o`, or a table (with a
/// NAMESPACE column under `-A`, more columns with `-o wide`), or a note on
/// stderr when there are none.
struct Shown {
    kind: Kind,
    plural: &'static str,
    scope: String,
    all_namespaces: bool,
    output: Option<Format>,
    /// The widths of the columns printed so far.
    widths: std::cell::RefCell<Vec<usize>>,
}

impl Shown {
    /// Room in the STATUS and REASON columns for the longest value a run
    /// can come to show: the rows a watch prints later stay under them.
    fn reserve(&self, reasons: impl Iterator<Item = &'static str>) {
        let longest = reasons.map(str::len).max().unwrap_or(0);
        let mut widths = self.widths.borrow_mut();
        // NAME (and NAMESPACE), then the kind's column, then STATUS, REASON.
        let at = 2 + usize::from(self.all_namespaces);
        widths.resize(at + 2, 0);
        widths[at] = "Succeeded".len();
        widths[at + 1] = longest;
    }

    fn print<K>(
        &self,
        items: &[K],
        headers: &[&str],
        wide: &[&str],
        row: impl Fn(&K) -> Vec<String>,
    ) -> anyhow::Result<()>
    where
        K: kube::Resource + serde::Serialize,
    {
        if let Some(format) = self.output.as_ref().filter(|f| !f.is_table()) {
            let names: Vec<String> = items.iter().map(|i| self.kind.qualified(&i.name_any())).collect();
            print(&render(items, &names, format, false)?);
            return Ok(());
        }
        if items.is_empty() {
            eprintln!("No {} found in {}.", self.plural, self.scope);
            return Ok(());
        }
        self.rows(items, headers, wide, row, true)
    }

    fn rows<K>(
        &self,
        items: &[K],
        headers: &[&str],
        wide: &[&str],
        row: impl Fn(&K) -> Vec<String>,
        with_headers: bool,
    ) -> anyhow::Result<()>
    where
        K: kube::Resource + serde::Serialize,
    {
        let is_wide = self.output.as_ref().is_some_and(Format::is_table);
        let mut headers = headers.to_vec();
        if is_wide {
            headers.extend(wide);
        }
        if self.all_namespaces {
            headers.insert(0, "NAMESPACE");
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|item| {
                let mut cells = row(item);
                cells.truncate(headers.len() - usize::from(self.all_namespaces));
                if self.all_namespaces {
                    cells.insert(0, item.namespace().unwrap_or_default());
                }
                cells
            })
            .collect();
        let text = aligned_table(&headers, &rows, &mut self.widths.borrow_mut());
        match with_headers {
            true => print(&text),
            false => print(&text.lines().skip(1).map(|l| format!("{l}\n")).collect::<String>()),
        }
        Ok(())
    }
}

/// Newest first, by creation time, then name.
pub fn newest_first<K: kube::Resource>(runs: &mut [K]) {
    runs.sort_by(|a, b| {
        let key = |r: &K| (r.meta().creation_timestamp.clone(), r.name_any());
        key(b).cmp(&key(a))
    });
}
