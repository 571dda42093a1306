//! Runs gone from the cluster, read back from the archive (deploy/archive)
//! through its API, `archive.minitask.dev`, with the user's own rights:
//! `logs` and `describe` of a deleted run, and `runs --archived`.

use minitask_api::{PipelineRun, TaskRun};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::logs::Options;
use crate::output::{print, table};

const BASE: &str = "/apis/archive.minitask.dev/v1alpha1/namespaces";

/// What the archive knows of a run besides the run itself.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct Info {
    pub archived_at: Option<String>,
    pub logs: Vec<StepLog>,
    pub notes: Vec<String>,
    pub task_runs: Vec<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub struct StepLog {
    pub attempt: u32,
    pub step: String,
    pub key: Option<String>,
    pub missing: Option<String>,
    pub cut_bytes: u64,
}

pub struct Archived<K> {
    pub run: K,
    pub info: Info,
}

/// GET `path` from the archive's API: None when it holds nothing there or
/// is not installed (404), or cannot be read (403: no more to say than the
/// cluster's own "not found").
async fn get(cluster: &Cluster, path: &str, accept: Option<&str>) -> anyhow::Result<Option<String>> {
    let mut request = http::Request::get(path);
    if let Some(accept) = accept {
        request = request.header(http::header::ACCEPT, accept);
    }
    match cluster.client.request_text(request.body(Vec::new())?).await {
        Ok(text) => Ok(Some(text)),
        Err(kube::Error::Api(s)) if matches!(s.code, 403 | 404 | 503) => Ok(None),
        Err(kube::Error::Api(s)) => anyhow::bail!("reading the run archive: {}", s.message),
        Err(e) => anyhow::bail!("reading the run archive: {e}"),
    }
}

/// An archived item as the run it was.
fn decode<K: DeserializeOwned>(mut item: Value) -> Option<Archived<K>> {
    let info = serde_json::from_value(item.get("archive").cloned().unwrap_or_default()).unwrap_or_default();
    item["apiVersion"] = Value::from("minitask.dev/v1alpha1");
    let run = serde_json::from_value(item).ok()?;
    Some(Archived { run, info })
}

pub async fn taskrun(cluster: &Cluster, name: &str) -> anyhow::Result<Option<Archived<TaskRun>>> {
    let path = format!("{BASE}/{}/taskruns/{name}", cluster.namespace);
    Ok(get(cluster, &path, None)
        .await?
        .and_then(|t| serde_json::from_str(&t).ok())
        .and_then(decode))
}

pub async fn pipelinerun(cluster: &Cluster, name: &str) -> anyhow::Result<Option<Archived<PipelineRun>>> {
    let path = format!("{BASE}/{}/pipelineruns/{name}", cluster.namespace);
    Ok(get(cluster, &path, None)
        .await?
        .and_then(|t| serde_json::from_str(&t).ok())
        .and_then(decode))
}

/// Says, on stderr, that what follows comes from the archive.
pub fn note(kind: &str, name: &str, info: &Info) {
    let when = info.archived_at.as_deref().unwrap_or("at an unknown time");
    eprintln!("{kind} {name} is no longer in the cluster; this is its archived record (archived {when})");
    for note in &info.notes {
        eprintln!("note: {note}");
    }
}

/// Prints an archived TaskRun's logs, `[step]` (or `[task/step]`) on each
/// line. Returns how many step logs the archive could not keep.
pub async fn print_logs(cluster: &Cluster, name: &str, info: &Info, options: &Options) -> anyhow::Result<usize> {
    let last = info.logs.iter().map(|l| l.attempt).max().unwrap_or(1);
    let mut lost = 0;
    for attempt in 1..=last {
        if options.attempt.is_some_and(|a| a != attempt as usize) {
            continue;
        }
        if last > 1 {
            println!("--- attempt {attempt} ---");
        }
        let steps = info
            .logs
            .iter()
            .filter(|l| l.attempt == attempt && options.step.as_ref().is_none_or(|s| *s == l.step));
        for step in steps {
            let prefix = match &options.task {
                Some(task) => format!("[{task}/{}]", step.step),
                None => format!("[{}]", step.step),
            };
            if step.key.is_none() {
                let why = step.missing.as_deref().unwrap_or("not archived");
                if why != "the step never ran" {
                    lost += 1;
                }
                eprintln!("{prefix} (no log: {why})");
                continue;
            }
            let mut path = format!(
                "{BASE}/{}/taskruns/{name}/log?step={}&attempt={attempt}",
                cluster.namespace, step.step
            );
            if let Some(tail) = options.tail.filter(|t| *t >= 0) {
                path.push_str(&format!("&tailLines={tail}"));
            }
            let text = get(cluster, &path, None).await?.unwrap_or_default();
            let mut out = String::new();
            for line in text.lines() {
                out.push_str(&format!("{prefix} {line}\n"));
            }
            print(&out);
        }
    }
    Ok(lost)
}

/// The archived TaskRuns of an archived PipelineRun, in its tasks' order.
pub async fn children(cluster: &Cluster, info: &Info) -> anyhow::Result<Vec<(String, Archived<TaskRun>)>> {
    let mut out = Vec::new();
    for name in &info.task_runs {
        if let Some(child) = taskrun(cluster, name).await? {
            out.push((name.clone(), child));
        }
    }
    Ok(out)
}

/// `runs --archived`: the archive's table, newest first.
pub async fn list(
    cluster: &Cluster,
    plural: &str,
    of: Option<&str>,
    selector: Option<&str>,
    limit: Option<u64>,
) -> anyhow::Result<()> {
    let mut query = vec![format!("limit={}", limit.unwrap_or(50).min(500))];
    if let Some(of) = of {
        query.push(format!("task={of}"));
    }
    if let Some(selector) = selector {
        query.push(format!("labelSelector={}", url_encode(selector)));
    }
    let path = format!("{BASE}/{}/{plural}?{}", cluster.namespace, query.join("&"));
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io";
    let request = http::Request::get(&path).header(http::header::ACCEPT, accept);
    let text = match cluster.client.request_text(request.body(Vec::new())?).await {
        Ok(text) => text,
        Err(kube::Error::Api(s)) if s.code == 404 => anyhow::bail!(
            "the run archive is not installed in this cluster (no archive.minitask.dev API): see the README, Run history"
        ),
        Err(kube::Error::Api(s)) => anyhow::bail!(
            "listing archived {plural} in namespace {}: {}",
            cluster.namespace,
            s.message
        ),
        Err(e) => anyhow::bail!("listing archived {plural} in namespace {}: {e}", cluster.namespace),
    };
    let table_json: Value = serde_json::from_str(&text)?;
    let headers: Vec<String> = table_json["columnDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["name"].as_str().unwrap_or_default().to_uppercase())
        .collect();
    let rows: Vec<Vec<String>> = table_json["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r["cells"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string))
                .collect()
        })
        .collect();
    if rows.is_empty() {
        eprintln!("No archived {plural} found in namespace {}.", cluster.namespace);
        return Ok(());
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    print(&table(&headers, &rows));
    if table_json["metadata"]["continue"].is_string() {
        eprintln!("(newest {} shown; --limit shows more, up to 500)", rows.len());
    }
    Ok(())
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One archived step log as text (its last `tail` lines); None when the
/// archive holds none.
pub async fn log_text(
    cluster: &Cluster,
    name: &str,
    step: &str,
    attempt: u32,
    tail: Option<i64>,
) -> anyhow::Result<Option<String>> {
    let mut path = format!(
        "{BASE}/{}/taskruns/{name}/log?step={}&attempt={attempt}",
        cluster.namespace,
        url_encode(step)
    );
    if let Some(tail) = tail {
        path.push_str(&format!("&tailLines={tail}"));
    }
    get(cluster, &path, None).await
}

/// A page of archived runs (as JSON items, newest first) and the token of
/// the next page.
pub async fn page(
    cluster: &Cluster,
    plural: &str,
    limit: u32,
    from: Option<&str>,
) -> anyhow::Result<(Vec<Value>, Option<String>)> {
    let mut path = format!("{BASE}/{}/{plural}?limit={limit}", cluster.namespace);
    if let Some(from) = from {
        path.push_str(&format!("&continue={}", url_encode(from)));
    }
    let request = http::Request::get(&path).body(Vec::new())?;
    let text = match cluster.client.request_text(request).await {
        Ok(text) => text,
        Err(kube::Error::Api(s)) if s.code == 404 => anyhow::bail!(
            "the run archive is not installed in this cluster (no archive.minitask.dev API): see the README, Run history"
        ),
        Err(e) => anyhow::bail!(
            "{}",
            crate::errors::describe(
                &e,
                &format!("listing archived {plural} in namespace {}", cluster.namespace),
                &cluster.server
            )
        ),
    };
    let list: Value = serde_json::from_str(&text)?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let next = list["metadata"]["continue"]
        .as_str()
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let items = items
        .into_iter()
        .map(|mut item| {
            item["apiVersion"] = Value::from("minitask.dev/v1alpha1");
            item
        })
        .collect();
    Ok((items, next))
}
