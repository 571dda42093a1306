//! Finding the Task or TaskRun a person named, with "did you mean" when
//! the name is almost right, and the newest run for `--last`.

use kube::ResourceExt;
use kube::api::{Api, ListParams};
use minitask_api::{ClusterTask, Pipeline, PipelineRun, Task, TaskRun, did_you_mean, similar};

use crate::cluster::Cluster;
use crate::errors;
use crate::list::newest_first;

pub fn runs(cluster: &Cluster) -> Api<TaskRun> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

pub fn tasks(cluster: &Cluster) -> Api<Task> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

/// The TaskRun `name`, or an error that says where it looked and what
/// the person may have meant.
pub async fn find_run(cluster: &Cluster, name: &str) -> anyhow::Result<TaskRun> {
    let found = runs(cluster).get_opt(name).await;
    let known = || async { run_names(cluster).await.unwrap_or_default() };
    found_or_suggest(cluster, found, name, "taskrun", "kubectl task runs", known).await
}

/// The Task `name`, or an error that says what the person may have meant.
pub async fn find_task(cluster: &Cluster, name: &str) -> anyhow::Result<Task> {
    let found = tasks(cluster).get_opt(name).await;
    let known = || async { task_names(cluster).await.unwrap_or_default() };
    found_or_suggest(cluster, found, name, "Task", "kubectl task list", known).await
}

pub fn cluster_tasks(cluster: &Cluster) -> Api<ClusterTask> {
    Api::all(cluster.client.clone())
}

/// The ClusterTask `name`, or an error that says what the person may have
/// meant.
pub async fn find_cluster_task(cluster: &Cluster, name: &str) -> anyhow::Result<ClusterTask> {
    let doing = format!("reading ClusterTask {name}");
    let found = cluster_tasks(cluster)
        .get_opt(name)
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?;
    if let Some(task) = found {
        return Ok(task);
    }
    let known = names(cluster_tasks(cluster)).await.unwrap_or_default();
    let hint = did_you_mean(&similar(name, known.iter().map(String::as_str)));
    anyhow::bail!("ClusterTask {name:?} not found{hint}; list them with `kubectl task list`")
}

/// A ClusterTask as a Task without a namespace, for what shows and starts
/// both alike.
pub fn as_task(task: ClusterTask) -> Task {
    Task {
        metadata: task.metadata,
        spec: task.spec.0,
        status: task.status,
    }
}

pub fn pipelines(cluster: &Cluster) -> Api<Pipeline> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

pub fn pipelineruns(cluster: &Cluster) -> Api<PipelineRun> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

/// The Pipeline `name`, or an error that says what the person may have meant.
pub async fn find_pipeline(cluster: &Cluster, name: &str) -> anyhow::Result<Pipeline> {
    let found = pipelines(cluster).get_opt(name).await;
    let known = || async { names(pipelines(cluster)).await.unwrap_or_default() };
    found_or_suggest(cluster, found, name, "Pipeline", "kubectl task list pipelines", known).await
}

/// The PipelineRun `name`, or an error that says what the person may have meant.
pub async fn find_pipelinerun(cluster: &Cluster, name: &str) -> anyhow::Result<PipelineRun> {
    let found = pipelineruns(cluster).get_opt(name).await;
    let known = || async { names(pipelineruns(cluster)).await.unwrap_or_default() };
    found_or_suggest(
        cluster,
        found,
        name,
        "pipelinerun",
        "kubectl task runs pipelineruns",
        known,
    )
    .await
}

/// A run of either kind.
pub enum AnyRun {
    Task(Box<TaskRun>),
    Pipeline(Box<PipelineRun>),
}

/// The run `text` names: `taskrun/x`, `pipelinerun/x`, or `x`, the
/// TaskRun of that name or else the PipelineRun.
pub async fn find_any_run(cluster: &Cluster, text: &str) -> anyhow::Result<AnyRun> {
    use crate::refs::Kind;
    match crate::refs::any_run(text)? {
        (Some(Kind::PipelineRun), name) => Ok(AnyRun::Pipeline(Box::new(find_pipelinerun(cluster, &name).await?))),
        (Some(_), name) => Ok(AnyRun::Task(Box::new(find_run(cluster, &name).await?))),
        (None, name) => match find_run(cluster, &name).await {
            Ok(run) => Ok(AnyRun::Task(Box::new(run))),
            Err(not_taskrun) => match pipelineruns(cluster).get_opt(&name).await {
                Ok(Some(run)) => Ok(AnyRun::Pipeline(Box::new(run))),
                _ => Err(not_taskrun),
            },
        },
    }
}

/// The names of the Pipelines in the namespace.
pub async fn pipeline_names(cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    names(pipelines(cluster)).await
}

/// The names of the PipelineRuns in the namespace.
pub async fn pipelinerun_names(cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    names(pipelineruns(cluster)).await
}

async fn names<K>(api: Api<K>) -> anyhow::Result<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api.list_metadata(&ListParams::default()).await?;
    Ok(list.items.iter().map(|r| r.name_any()).collect())
}

/// `found`, or an error naming the object, the namespace, close names and
/// the command that lists them.
async fn found_or_suggest<K, F, Fut>(
    cluster: &Cluster,
    found: Result<Option<K>, kube::Error>,
    name: &str,
    kind: &str,
    lister: &str,
    known: F,
) -> anyhow::Result<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let doing = format!("reading {kind} {name} in namespace {}", cluster.namespace);
    if let Some(object) = found.map_err(|e| errors::api(&e, &doing, &cluster.server))? {
        return Ok(object);
    }
    let known = known().await;
    let ns = &cluster.namespace;
    if known.is_empty() && !namespace_exists(cluster).await {
        let elsewhere = namespaces_with::<K>(cluster, name).await;
        let there = match elsewhere.as_slice() {
            [] => String::new(),
            [one] => format!("; {name} exists in {one} (-n {one})"),
            many if many.len() <= 5 => format!("; {name} exists in {}", many.join(", ")),
            many => format!(
                "; {name} exists in {} and {} more",
                many[..5].join(", "),
                many.len() - 5
            ),
        };
        anyhow::bail!("namespace {ns:?} does not exist{there}; list the namespaces with `kubectl get namespaces`")
    }
    let hint = did_you_mean(&similar(name, known.iter().map(String::as_str)));
    anyhow::bail!("{kind} {name:?} not found in namespace {ns}{hint}; list them with `{lister} -n {ns}`")
}

/// False only when the API server says the namespace does not exist (not
/// when the user may not read it).
async fn namespace_exists(cluster: &Cluster) -> bool {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
    !matches!(namespaces.get_metadata_opt(&cluster.namespace).await, Ok(None))
}

/// The namespaces that hold an object of kind `K` named `name`, when the
/// user may list them across namespaces (else none).
async fn namespaces_with<K>(cluster: &Cluster, name: &str) -> Vec<String>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::all(cluster.client.clone());
    let params = ListParams::default().fields(&format!("metadata.name={name}"));
    match api.list_metadata(&params).await {
        Ok(list) => list.items.iter().filter_map(|o| o.metadata.namespace.clone()).collect(),
        Err(_) => Vec::new(),
    }
}

/// The newest TaskRun in the namespace, or of `task` (whichever way it
/// was created: the run's taskRef says, as for `runs --task`).
pub async fn last_run(cluster: &Cluster, task: Option<&str>) -> anyhow::Result<TaskRun> {
    let doing = format!("listing taskruns in namespace {}", cluster.namespace);
    let mut items = runs(cluster)
        .list(&ListParams::default())
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items;
    items.retain(|r| task.is_none_or(|t| r.task_name() == Some(t)));
    newest_first(&mut items);
    match (items.into_iter().next(), task) {
        (Some(run), _) => Ok(run),
        (None, Some(task)) => anyhow::bail!(
            "Task {task:?} has no runs in namespace {}; start one with `kubectl task start {task}`",
            cluster.namespace
        ),
        (None, None) => anyhow::bail!(
            "there are no TaskRuns in namespace {}; start one with `kubectl task start TASK`",
            cluster.namespace
        ),
    }
}

/// What `--last` picks: the newest PipelineRun (of `pipeline`) when
/// `pipeline` is given or `kind` is a PipelineRun, else the newest TaskRun
/// (of `task`; for a PipelineRun, `task` is one of its tasks instead).
pub async fn last_any(
    cluster: &Cluster,
    kind: Option<crate::refs::Kind>,
    task: Option<&str>,
    pipeline: Option<&str>,
) -> anyhow::Result<AnyRun> {
    use crate::refs::Kind;
    match (kind, pipeline) {
        (Some(Kind::TaskRun), Some(_)) => {
            anyhow::bail!("--pipeline picks a PipelineRun; for the newest TaskRun of a Task, use --task")
        }
        (Some(Kind::PipelineRun), _) | (_, Some(_)) => {
            Ok(AnyRun::Pipeline(Box::new(last_pipelinerun(cluster, pipeline).await?)))
        }
        _ => Ok(AnyRun::Task(Box::new(last_run(cluster, task).await?))),
    }
}

/// The newest PipelineRun in the namespace, or of `pipeline` (as `runs
/// pipelineruns --pipeline` lists them).
pub async fn last_pipelinerun(cluster: &Cluster, pipeline: Option<&str>) -> anyhow::Result<PipelineRun> {
    let doing = format!("listing pipelineruns in namespace {}", cluster.namespace);
    let mut items = pipelineruns(cluster)
        .list(&ListParams::default())
        .await
        .map_err(|e| errors::api(&e, &doing, &cluster.server))?
        .items;
    items.retain(|r| pipeline.is_none_or(|p| r.pipeline_name() == Some(p)));
    newest_first(&mut items);
    let ns = &cluster.namespace;
    match (items.into_iter().next(), pipeline) {
        (Some(run), _) => Ok(run),
        (None, Some(pipeline)) => anyhow::bail!(
            "Pipeline {pipeline:?} has no runs in namespace {ns}; start one with `kubectl task start pipeline/{pipeline}`"
        ),
        (None, None) => anyhow::bail!(
            "there are no PipelineRuns in namespace {ns}; start one with `kubectl task start pipeline/NAME`"
        ),
    }
}

/// The names of the runs in the namespace.
pub async fn run_names(cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    let list = runs(cluster).list_metadata(&ListParams::default()).await?;
    Ok(list.items.iter().map(|r| r.name_any()).collect())
}

/// The names of the ClusterTasks.
pub async fn cluster_task_names(cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    names(cluster_tasks(cluster)).await
}

/// The names of the Tasks in the namespace.
pub async fn task_names(cluster: &Cluster) -> anyhow::Result<Vec<String>> {
    let list = tasks(cluster).list_metadata(&ListParams::default()).await?;
    Ok(list.items.iter().map(|t| t.name_any()).collect())
}
