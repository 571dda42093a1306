//! `kubectl task cancel` and `kubectl task delete`.

use anyhow::{Context, bail};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use minitask_api::TaskRun;
use serde_json::json;

use crate::client::Target;
use crate::list::newest_first;
use crate::output::print;

#[derive(clap::Args)]
pub struct CancelArgs {
    /// The TaskRun to cancel.
    run: String,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["runs", "task"])))]
pub struct DeleteArgs {
    /// The TaskRuns to delete.
    runs: Vec<String>,
    /// Delete the finished runs of this Task (with --keep).
    #[arg(long, requires = "keep", conflicts_with = "runs")]
    task: Option<String>,
    /// With --task: keep this many of its newest finished runs.
    #[arg(long, requires = "task")]
    keep: Option<usize>,
    /// Delete runs that have not finished too (their pods are deleted with them).
    #[arg(long)]
    force: bool,
}

pub async fn cancel(target: &Target, args: CancelArgs) -> anyhow::Result<()> {
    let (client, namespace) = target.connect().await?;
    let runs: Api<TaskRun> = Api::namespaced(client, &namespace);
    let run = get(&runs, &args.run, &namespace).await?;
    if run.phase().is_terminal() {
        bail!(
            "taskrun {} has already finished ({:?}); there is nothing to cancel",
            args.run,
            run.phase()
        );
    }
    let patch = json!({"spec": {"cancelled": true}});
    runs.patch(&args.run, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("cancelling taskrun {}", args.run))?;
    print(&format!("taskrun.minitask.dev/{} cancelled\n", args.run));
    Ok(())
}

pub async fn delete(target: &Target, args: DeleteArgs) -> anyhow::Result<()> {
    let (client, namespace) = target.connect().await?;
    let api: Api<TaskRun> = Api::namespaced(client, &namespace);
    let doomed: Vec<TaskRun> = match (&args.task, args.keep) {
        (Some(task), Some(keep)) => {
            let mut runs: Vec<TaskRun> = api
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|r| r.task_name() == Some(task.as_str()) && (args.force || r.phase().is_terminal()))
                .collect();
            newest_first(&mut runs);
            runs.into_iter().skip(keep).collect()
        }
        _ => {
            let mut runs = Vec::new();
            for name in &args.runs {
                runs.push(get(&api, name, &namespace).await?);
            }
            let running: Vec<String> = runs
                .iter()
                .filter(|r| !r.phase().is_terminal())
                .map(|r| r.name_any())
                .collect();
            if !running.is_empty() && !args.force {
                bail!(
                    "not deleting, these runs have not finished: {}; cancel them first (kubectl task cancel) or pass --force",
                    running.join(", ")
                );
            }
            runs
        }
    };
    for run in doomed {
        api.delete(&run.name_any(), &DeleteParams::background())
            .await
            .with_context(|| format!("deleting taskrun {}", run.name_any()))?;
        print(&format!("taskrun.minitask.dev/{} deleted\n", run.name_any()));
    }
    Ok(())
}

async fn get(runs: &Api<TaskRun>, name: &str, namespace: &str) -> anyhow::Result<TaskRun> {
    runs.get_opt(name)
        .await
        .with_context(|| format!("reading taskrun {name}"))?
        .with_context(|| format!("taskrun {name:?} not found in namespace {namespace:?}; list runs with `kubectl task runs -n {namespace}`"))
}
