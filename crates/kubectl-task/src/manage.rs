//! `kubectl task cancel` and `kubectl task delete`.

use std::io::{BufRead, Write};

use anyhow::bail;
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use minitask_api::{PipelineRun, TaskRun};
use serde_json::json;

use crate::cluster::Cluster;
use crate::errors;
use crate::list::newest_first;
use crate::output::print;
use crate::refs::Kind;
use crate::resolve::{AnyRun, find_any_run, last_run, pipelineruns, runs};

#[derive(clap::Args)]
pub struct CancelArgs {
    /// The run to cancel (NAME, taskrun/NAME or pipelinerun/NAME).
    #[arg(required_unless_present = "last")]
    run: Option<String>,
    /// The newest TaskRun (of --task when given).
    #[arg(long, conflicts_with = "run")]
    last: bool,
    /// With --last: the newest run of this Task.
    #[arg(long, requires = "last", value_name = "TASK")]
    task: Option<String>,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["runs", "task", "selector", "all"])))]
pub struct DeleteArgs {
    /// The runs to delete (NAME, taskrun/NAME or pipelinerun/NAME).
    runs: Vec<String>,
    /// The finished runs of this Task (all of them, or all but --keep).
    #[arg(long, conflicts_with_all = ["runs", "all"], value_name = "TASK")]
    task: Option<String>,
    /// With --task: keep this many of its newest finished runs.
    #[arg(long, requires = "task", value_name = "N")]
    keep: Option<usize>,
    /// The finished runs with these labels (a label selector).
    #[arg(short = 'l', long, conflicts_with = "runs", value_name = "SELECTOR")]
    selector: Option<String>,
    /// Every finished run in the namespace.
    #[arg(long, conflicts_with = "runs")]
    all: bool,
    /// Delete runs that have not finished too (their pods go with them).
    #[arg(long)]
    force: bool,
    /// Do not ask for confirmation on a terminal.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Print what would be deleted, and delete nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn cancel(cluster: &Cluster, args: CancelArgs) -> anyhow::Result<()> {
    let run = match &args.run {
        Some(name) => match find_any_run(cluster, name).await? {
            AnyRun::Task(run) => *run,
            AnyRun::Pipeline(run) => return cancel_pipelinerun(cluster, *run).await,
        },
        None => last_run(cluster, args.task.as_deref()).await?,
    };
    let name = run.name_any();
    if run.phase().is_terminal() {
        bail!(
            "taskrun {name} has already finished ({:?}); there is nothing to cancel",
            run.phase()
        );
    }
    if run.spec.cancelled {
        print(&format!(
            "{} is already being cancelled\n",
            Kind::TaskRun.qualified(&name)
        ));
        return Ok(());
    }
    let patch = json!({"spec": {"cancelled": true}});
    let doing = format!("cancelling taskrun {name}");
    runs(cluster)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?;
    print(&format!("{} cancelled\n", Kind::TaskRun.qualified(&name)));
    eprintln!(
        "its steps are stopped (a step that ignores SIGTERM is killed after the pod's grace period, 10s by default); the pod and its logs are kept: `kubectl task logs {name}`"
    );
    Ok(())
}

async fn cancel_pipelinerun(cluster: &Cluster, run: PipelineRun) -> anyhow::Result<()> {
    let name = run.name_any();
    if run.phase().is_terminal() {
        bail!(
            "pipelinerun {name} has already finished ({:?}); there is nothing to cancel",
            run.phase()
        );
    }
    if run.spec.cancelled {
        print(&format!(
            "{} is already being cancelled\n",
            Kind::PipelineRun.qualified(&name)
        ));
        return Ok(());
    }
    let patch = json!({"spec": {"cancelled": true}});
    let doing = format!("cancelling pipelinerun {name}");
    pipelineruns(cluster)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?;
    print(&format!("{} cancelled\n", Kind::PipelineRun.qualified(&name)));
    eprintln!(
        "its running TaskRuns are cancelled (their pods and logs are kept), tasks that have not started never start, and its finally tasks still run: `kubectl task logs -f pipelinerun/{name}`"
    );
    Ok(())
}

/// Deletes the named PipelineRuns (with their TaskRuns, pods and claims),
/// never an unfinished one without --force.
async fn delete_pipelineruns(cluster: &Cluster, doomed: Vec<PipelineRun>, args: &DeleteArgs) -> anyhow::Result<()> {
    let running: Vec<String> = doomed
        .iter()
        .filter(|r| !r.phase().is_terminal())
        .map(|r| r.name_any())
        .collect();
    if !args.force && !running.is_empty() {
        bail!(
            "not deleting, these runs have not finished: {}; cancel them first (kubectl task cancel pipelinerun/NAME) or pass --force",
            running.join(", ")
        );
    }
    for run in doomed {
        let name = run.name_any();
        if args.dry_run {
            print(&format!("{} deleted (dry run)\n", Kind::PipelineRun.qualified(&name)));
            continue;
        }
        let doing = format!("deleting pipelinerun {name}");
        match pipelineruns(cluster).delete(&name, &DeleteParams::background()).await {
            Ok(_) => print(&format!("{} deleted\n", Kind::PipelineRun.qualified(&name))),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(errors::api(&e, &doing, &cluster.server)),
        }
    }
    Ok(())
}

pub async fn delete(cluster: &Cluster, args: DeleteArgs) -> anyhow::Result<()> {
    let api = runs(cluster);
    let by_name = !args.runs.is_empty();
    let mut doomed: Vec<TaskRun> = match by_name {
        true => {
            let mut found = Vec::new();
            let mut pipelines = Vec::new();
            for name in &args.runs {
                match find_any_run(cluster, name).await? {
                    AnyRun::Task(run) => found.push(*run),
                    AnyRun::Pipeline(run) => pipelines.push(*run),
                }
            }
            if !pipelines.is_empty() {
                delete_pipelineruns(cluster, pipelines, &args).await?;
                if found.is_empty() {
                    return Ok(());
                }
            }
            found
        }
        false => {
            // The runs `runs --task` lists: by taskRef, whichever way they
            // were created (`kubectl apply` sets no task label).
            let params = args
                .selector
                .as_deref()
                .map_or(ListParams::default(), |s| ListParams::default().labels(s));
            let doing = format!("listing taskruns in namespace {}", cluster.namespace);
            api.list(&params)
                .await
                .map_err(|e| errors::api(&e, &doing, &cluster.server))?
                .items
                .into_iter()
                .filter(|r| args.task.as_deref().is_none_or(|t| r.task_name() == Some(t)))
                .collect()
        }
    };
    let owned = children_of_pipelineruns(cluster, &doomed).await?;
    if by_name {
        let busy: Vec<String> = owned
            .iter()
            .filter(|c| !c.finished)
            .map(|c| format!("{} (of {})", c.run, c.pipeline))
            .collect();
        if !args.force && !busy.is_empty() {
            bail!(
                "not deleting, these TaskRuns belong to PipelineRuns that have not finished and may still need their results: {}; wait for them, or pass --force",
                busy.join(", ")
            );
        }
    } else if !owned.is_empty() {
        // A PipelineRun's TaskRuns are part of its record (its logs, its
        // results): they go with it, `kubectl task delete pipelinerun/NAME`.
        let named: Vec<String> = owned.iter().map(|c| format!("{} (of {})", c.run, c.pipeline)).collect();
        eprintln!(
            "Keeping {} TaskRun{} of PipelineRuns, which go with their PipelineRun: {}",
            owned.len(),
            if owned.len() == 1 { "" } else { "s" },
            named.join(", ")
        );
        doomed.retain(|r| !owned.iter().any(|c| c.run == r.name_any()));
    }
    let running: Vec<String> = doomed
        .iter()
        .filter(|r| !r.phase().is_terminal())
        .map(|r| r.name_any())
        .collect();
    if !args.force {
        if by_name && !running.is_empty() {
            bail!(
                "not deleting, these runs have not finished: {}; cancel them first (kubectl task cancel) or pass --force",
                running.join(", ")
            );
        }
        doomed.retain(|r| r.phase().is_terminal());
    }
    if let Some(keep) = args.keep {
        newest_first(&mut doomed);
        doomed = doomed.into_iter().skip(keep).collect();
    }
    if doomed.is_empty() {
        eprintln!("No TaskRuns to delete in namespace {}.", cluster.namespace);
        return Ok(());
    }
    if !args.yes && !args.dry_run && crate::prompt::interactive() && !confirm(&doomed, &cluster.namespace)? {
        bail!("nothing was deleted");
    }
    for run in doomed {
        let name = run.name_any();
        if args.dry_run {
            print(&format!("{} deleted (dry run)\n", Kind::TaskRun.qualified(&name)));
            continue;
        }
        let doing = format!("deleting taskrun {name}");
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => print(&format!("{} deleted\n", Kind::TaskRun.qualified(&name))),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(errors::api(&e, &doing, &cluster.server)),
        }
    }
    Ok(())
}

/// A TaskRun that a PipelineRun which still exists owns.
struct Owned {
    run: String,
    pipeline: String,
    /// Whether that PipelineRun has finished (its later tasks no longer
    /// read this one's results).
    finished: bool,
}

/// The TaskRuns of `doomed` whose PipelineRun still exists.
async fn children_of_pipelineruns(cluster: &Cluster, doomed: &[TaskRun]) -> anyhow::Result<Vec<Owned>> {
    let parent = |run: &TaskRun| {
        run.owner_references()
            .iter()
            .find(|o| {
                o.controller == Some(true) && o.kind == "PipelineRun" && o.api_version.starts_with("minitask.dev/")
            })
            .map(|o| (o.name.clone(), o.uid.clone()))
    };
    if doomed.iter().all(|r| parent(r).is_none()) {
        return Ok(Vec::new());
    }
    let doing = format!("listing pipelineruns in namespace {}", cluster.namespace);
    let pipelines = pipelineruns(cluster)
        .list(&ListParams::default())
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items;
    Ok(doomed
        .iter()
        .filter_map(|r| {
            let (name, uid) = parent(r)?;
            let owner = pipelines
                .iter()
                .find(|p| p.metadata.uid.as_ref() == Some(&uid) && p.name_any() == name)?;
            Some(Owned {
                run: r.name_any(),
                pipeline: name,
                finished: owner.phase().is_terminal(),
            })
        })
        .collect())
}

/// Asks on the terminal; true for yes.
fn confirm(doomed: &[TaskRun], namespace: &str) -> anyhow::Result<bool> {
    let names: Vec<String> = doomed.iter().take(5).map(|r| r.name_any()).collect();
    let more = match doomed.len() {
        n if n > 5 => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    eprint!(
        "delete {} TaskRun{} in namespace {namespace} ({}{more}) with their pods and logs? [y/N] ",
        doomed.len(),
        if doomed.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        eprintln!();
        return Ok(false);
    }
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
