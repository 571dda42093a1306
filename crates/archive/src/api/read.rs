//! Reads from the store for the API: a page of records newest first, the
//! newest record of a name, a run's log. The keys are laid out for these
//! reads (see `keys`): a page walks the newest buckets only.

use object_store::ObjectStoreExt;
use object_store::path::Path;

use super::route::{List, Log};
use super::status::Failure;
use crate::keys::{Kind, names_dir, runs_dir, task_dir};
use crate::record::Record;
use crate::store::{self, Store};

pub struct Page {
    pub records: Vec<Record>,
    /// The last key read, when the page is full (more may follow).
    pub last: Option<String>,
}

fn unavailable(e: impl std::fmt::Display) -> Failure {
    Failure::unavailable(format!("the archive store could not be read: {e}; try again"))
}

/// The children of `dir`, sorted: (sub-directories, objects).
async fn children(store: &Store, dir: &str) -> Result<(Vec<String>, Vec<String>), Failure> {
    store::list_dir(store, dir).await.map_err(unavailable)
}

async fn read_record(store: &Store, key: &str) -> Result<Option<Record>, Failure> {
    let Some(bytes) = store::get(store, key).await.map_err(unavailable)? else {
        return Ok(None);
    };
    let json = store::gunzip(&bytes).map_err(|e| unavailable(format!("{key}: {e}")))?;
    Ok(serde_json::from_slice(&json).ok())
}

/// Whether a bucket holds only keys at or before the continue key.
fn before(after: Option<&str>, bucket: &str) -> bool {
    after.is_some_and(|a| !a.starts_with(&format!("{bucket}/")) && a > bucket)
}

pub async fn list(store: &Store, list: &List) -> Result<Page, Failure> {
    let base = match &list.task {
        Some(task) => task_dir(list.kind, &list.namespace, task),
        None => runs_dir(list.kind, &list.namespace),
    };
    let after = list.after.as_deref();
    if let Some(after) = after
        && !after.starts_with(&format!("{base}/"))
    {
        return Err(Failure::bad_request(
            "continue: the token is of another list; start the list again without it",
        ));
    }
    let mut found: Vec<(String, Record)> = Vec::new();
    // Two levels of buckets, then the keys, all newest first.
    for b1 in children(store, &base).await?.0 {
        if before(after, &b1) {
            continue;
        }
        for b2 in children(store, &b1).await?.0 {
            if before(after, &b2) {
                continue;
            }
            for key in children(store, &b2).await?.1 {
                if after.is_some_and(|a| key.as_str() <= a) {
                    continue;
                }
                if let Some(record) = wanted(store, list, &key).await? {
                    found.push((key, record));
                    if found.len() >= list.limit {
                        let last = found.last().map(|(k, _)| k.clone());
                        return Ok(Page {
                            records: found.into_iter().map(|(_, r)| r).collect(),
                            last,
                        });
                    }
                }
            }
        }
    }
    Ok(Page {
        records: found.into_iter().map(|(_, r)| r).collect(),
        last: None,
    })
}

/// The record at `key` (or that the pointer at `key` names, for a list by
/// Task), if it passes the list's filters.
async fn wanted(store: &Store, list: &List, key: &str) -> Result<Option<Record>, Failure> {
    let target = match list.task {
        Some(_) => match store::get(store, key).await.map_err(unavailable)? {
            Some(target) => String::from_utf8_lossy(&target).into_owned(),
            None => return Ok(None),
        },
        None => key.to_string(),
    };
    let Some(record) = read_record(store, &target).await? else {
        return Ok(None);
    };
    let labels = serde_json::from_value(record.object["metadata"]["labels"].clone()).unwrap_or_default();
    let wanted = list.phase.as_ref().is_none_or(|p| *p == record.phase) && list.selector.matches(&labels);
    Ok(wanted.then_some(record))
}

/// The newest archived run of `name`.
pub async fn newest(store: &Store, kind: Kind, namespace: &str, name: &str) -> Result<Record, Failure> {
    let (_, pointers) = children(store, &names_dir(kind, namespace, name)).await?;
    for pointer in pointers {
        if let Some(target) = store::get(store, &pointer).await.map_err(unavailable)?
            && let Some(record) = read_record(store, &String::from_utf8_lossy(&target)).await?
        {
            return Ok(record);
        }
    }
    Err(Failure::not_found(format!(
        "{}.archive.minitask.dev \"{name}\" not found: the archive holds no {} of that name in namespace {namespace}",
        kind.plural(),
        match kind {
            Kind::TaskRun => "TaskRun",
            Kind::PipelineRun => "PipelineRun",
        }
    )))
}

/// A TaskRun's log: one step's, or every step's in order, of one attempt
/// (the last by default).
pub async fn log(store: &Store, log: &Log) -> Result<Vec<u8>, Failure> {
    let record = newest(store, Kind::TaskRun, &log.namespace, &log.name).await?;
    let last = record.logs.iter().map(|l| l.attempt).max().unwrap_or(1);
    let attempt = log.attempt.unwrap_or(last);
    if attempt > last {
        return Err(Failure::not_found(format!(
            "attempt {attempt}: TaskRun {} had {last} attempt(s)",
            log.name
        )));
    }
    let steps: Vec<_> = record
        .logs
        .iter()
        .filter(|l| l.attempt == attempt && log.step.as_ref().is_none_or(|s| *s == l.step))
        .collect();
    if let Some(step) = &log.step
        && steps.is_empty()
    {
        let names: Vec<_> = record
            .logs
            .iter()
            .filter(|l| l.attempt == attempt)
            .map(|l| l.step.as_str())
            .collect();
        return Err(Failure::not_found(format!(
            "step {step}: TaskRun {} has no such step (its steps: {})",
            log.name,
            names.join(", ")
        )));
    }
    let mut out = Vec::new();
    for step in steps {
        match &step.key {
            Some(key) => {
                let bytes = store.get(&Path::from(key.as_str())).await.map_err(unavailable)?;
                let bytes = bytes.bytes().await.map_err(unavailable)?;
                out.extend(store::gunzip(&bytes).map_err(|e| unavailable(format!("{key}: {e}")))?);
            }
            None if log.step.is_some() => {
                return Err(Failure::not_found(format!(
                    "the log of step {} (attempt {attempt}) of TaskRun {} was not archived: {}",
                    step.step,
                    log.name,
                    step.missing.as_deref().unwrap_or("no reason recorded")
                )));
            }
            None => out.extend(
                format!(
                    "[mini-task archive: step {} has no log: {}]\n",
                    step.step,
                    step.missing.as_deref().unwrap_or("no reason recorded")
                )
                .into_bytes(),
            ),
        }
    }
    Ok(match log.tail_lines {
        Some(n) => tail(&out, n),
        None => out,
    })
}

/// The last `n` lines of `text`.
fn tail(text: &[u8], n: usize) -> Vec<u8> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let starts: Vec<usize> = body
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    let from = match starts.len() + 1 {
        lines if lines <= n => 0,
        _ if n == 0 => text.len(),
        _ => starts[starts.len() - n],
    };
    text[from..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(tail(b"a\nb\nc", 1), b"c");
        assert_eq!(tail(b"a\nb\n", 5), b"a\nb\n");
        assert_eq!(tail(b"a\nb\n", 0), b"");
    }
}
