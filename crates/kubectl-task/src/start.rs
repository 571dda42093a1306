//! `kubectl task start <task>`: create a TaskRun for a Task.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Error, ResourceExt};
use minitask_api::{LABEL_TASK, Task, TaskRef, TaskRun, TaskRunSpec, label_value};

use crate::client::Target;

#[derive(clap::Args)]
pub struct Args {
    /// The name of the Task to run.
    task: String,
}

pub async fn run(target: &Target, args: Args) -> anyhow::Result<()> {
    let (client, namespace) = target.connect().await?;
    let tasks: Api<Task> = Api::namespaced(client.clone(), &namespace);
    match tasks
        .get_opt(&args.task)
        .await
        .with_context(|| format!("looking up Task {:?} in namespace {namespace:?}", args.task))?
    {
        Some(_) => {}
        None => bail!(
            "Task {:?} not found in namespace {namespace:?}; list the Tasks there with `kubectl get tasks -n {namespace}`",
            args.task
        ),
    }
    let runs: Api<TaskRun> = Api::namespaced(client, &namespace);
    let created = runs
        .create(&PostParams::default(), &taskrun_for(&args.task))
        .await
        .map_err(|e| match e {
            Error::Api(status) => {
                anyhow::anyhow!("the API server refused the TaskRun: {}", status.message)
            }
            other => anyhow::Error::new(other).context("creating the TaskRun"),
        })?;
    println!("taskrun.minitask.dev/{} created", created.name_any());
    Ok(())
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
            task_ref: Some(TaskRef { name: task.to_string() }),
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
        assert_eq!(run.spec.task_ref, Some(TaskRef { name: "hello".into() }));
        assert_eq!(run.labels()[LABEL_TASK], "hello");
    }
}
