//! Following a run to its end (`start -f`, `start --wait`, `logs -f`): the
//! outcome, said once on stderr, and as the exit code.

use kube::ResourceExt;
use minitask_api::{Phase, TaskRun};

use crate::cluster::Cluster;
use crate::errors::{EXIT_DELETED, EXIT_FAILED};
use crate::logs::{self, Ended, Options};
use crate::resolve::runs;
use crate::spinner::{Spinner, following};
use crate::watch::{Seen, until};

/// How a command ended, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Succeeded,
    Failed,
    /// The followed run was deleted.
    Deleted,
}

impl Outcome {
    pub fn code(self) -> i32 {
        match self {
            Outcome::Done | Outcome::Succeeded => 0,
            Outcome::Failed => EXIT_FAILED,
            Outcome::Deleted => EXIT_DELETED,
        }
    }
}

/// Streams every step's logs until the run ends.
pub async fn follow(cluster: &Cluster, run: TaskRun, to_stderr: bool) -> anyhow::Result<Outcome> {
    let options = Options {
        follow: true,
        to_stderr,
        ..Options::default()
    };
    follow_with(cluster, run, &options).await
}

/// `follow`, with the logs shown as `options` say.
pub async fn follow_with(cluster: &Cluster, run: TaskRun, options: &Options) -> anyhow::Result<Outcome> {
    let name = run.name_any();
    following(&cluster.namespace, &name);
    Ok(match logs::logs(cluster, run, options).await? {
        Ended::Finished(run) => outcome(&run),
        Ended::Deleted => deleted(&name),
        Ended::Printed | Ended::Lost(_) => Outcome::Done,
    })
}

/// Waits until the run ends, saying what it waits for.
pub async fn wait(cluster: &Cluster, run: TaskRun) -> anyhow::Result<Outcome> {
    let name = run.name_any();
    following(&cluster.namespace, &name);
    let mut spinner = Spinner::new();
    let seen = until(runs(cluster), &name, |run| {
        if run.phase().is_terminal() {
            return Some(run.clone());
        }
        let status = run.status.clone().unwrap_or_default();
        let why = status.message.unwrap_or_else(|| "waiting for the controller".into());
        spinner.show(&format!("{:?}: {why}", run.phase()));
        None
    })
    .await?;
    spinner.clear();
    Ok(match seen {
        Seen::Value(run) => outcome(&run),
        Seen::Deleted | Seen::Missing => deleted(&name),
    })
}

fn deleted(name: &str) -> Outcome {
    eprintln!("taskrun {name} was deleted while it was followed");
    Outcome::Deleted
}

/// The outcome of a finished run, said once on stderr.
fn outcome(run: &TaskRun) -> Outcome {
    let status = run.status.clone().unwrap_or_default();
    let message = status.message.unwrap_or_default();
    let name = run.name_any();
    match (run.phase(), status.reason.as_deref()) {
        (Phase::Succeeded, _) => {
            eprintln!("taskrun {name} succeeded: {message}");
            Outcome::Succeeded
        }
        (_, reason) => {
            eprintln!(
                "taskrun {name} failed ({}): {message}",
                reason.unwrap_or("unknown reason")
            );
            Outcome::Failed
        }
    }
}
