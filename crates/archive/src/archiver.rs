//! Archiving one run: its steps' logs first, then its record, then the
//! pointers that find it, then the `Archived` condition. Every key is the
//! same on every try, so a try cut short is simply made again: no
//! duplicate, and a reader finds a record only once its logs are stored.

use std::future::Future;

use futures::AsyncReadExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{LogParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use minitask_api::{PipelineRun, TaskRun};
use serde::de::DeserializeOwned;

use crate::capped::Capped;
use crate::keys::{BadName, RunKey};
use crate::record::{self, ARCHIVED, LogSource, Record, StepLog};
use crate::store::{self, Store};

/// The archive's field manager: it owns the `Archived` condition only.
pub const MANAGER: &str = "minitask-archive";

pub struct Archiver {
    pub client: Client,
    pub store: Store,
    /// The largest log kept whole, in bytes.
    pub log_cap: usize,
    /// How the store is named in the condition's message.
    pub location: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadName(#[from] BadName),
    #[error("the archive store could not write {key}: {source}")]
    Store { key: String, source: object_store::Error },
    #[error("reading the log of step {step} (attempt {attempt}) from pod {pod}: {source}")]
    Log {
        step: String,
        attempt: u32,
        pod: String,
        source: kube::Error,
    },
}

impl Error {
    /// A word for the `Archived` condition's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::BadName(_) => "InvalidName",
            Error::Store { .. } => "StoreUnavailable",
            Error::Log { .. } => "LogUnreadable",
        }
    }
}

/// A kind of run the archive holds.
pub trait Run:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    fn ended(&self) -> bool;
    fn conditions(&self) -> &[Condition];
    /// Archives the run; `deleted` when it is gone from the API server,
    /// `last_try` when a log that cannot be read is to be said lost
    /// rather than tried again. Returns the record's key.
    fn archive(
        &self,
        archiver: &Archiver,
        deleted: bool,
        last_try: bool,
    ) -> impl Future<Output = Result<String, Error>> + Send;
}

const DELETED: &str = "the run was deleted before it was archived: this is the last state the archive saw";

impl Run for TaskRun {
    fn ended(&self) -> bool {
        self.phase().is_terminal()
    }

    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }

    async fn archive(&self, archiver: &Archiver, deleted: bool, last_try: bool) -> Result<String, Error> {
        let key = record::taskrun_key(self)?;
        let pods: Api<Pod> = Api::namespaced(archiver.client.clone(), &key.namespace);
        let mut logs = Vec::new();
        for source in record::log_sources(self) {
            logs.push(archiver.step_log(&pods, &key, &source, last_try).await?);
        }
        let mut notes: Vec<String> = deleted.then(|| DELETED.to_string()).into_iter().collect();
        let lost = logs
            .iter()
            .filter(|l| l.key.is_none() && l.missing.as_deref() != Some(NEVER_RAN))
            .count();
        if lost > 0 {
            notes.push(format!("{lost} step log(s) could not be archived; each says why"));
        }
        let record = record::taskrun_record(self, logs, now(), notes);
        archiver.write_record(&key, &record).await
    }
}

impl Run for PipelineRun {
    fn ended(&self) -> bool {
        self.phase().is_terminal()
    }

    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }

    async fn archive(&self, archiver: &Archiver, deleted: bool, _last_try: bool) -> Result<String, Error> {
        let key = record::pipelinerun_key(self)?;
        let notes = deleted.then(|| DELETED.to_string()).into_iter().collect();
        let record = record::pipelinerun_record(self, now(), notes);
        archiver.write_record(&key, &record).await
    }
}

const NEVER_RAN: &str = "the step never ran";

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

impl Archiver {
    async fn step_log(
        &self,
        pods: &Api<Pod>,
        key: &RunKey,
        source: &LogSource,
        last_try: bool,
    ) -> Result<StepLog, Error> {
        let mut log = StepLog {
            attempt: source.attempt,
            step: source.step.clone(),
            pod: source.pod.clone(),
            container: source.container.clone(),
            key: None,
            bytes: 0,
            cut_bytes: 0,
            missing: None,
        };
        if source.never_ran {
            log.missing = Some(NEVER_RAN.into());
            return Ok(log);
        }
        let capped = match self.read_log(pods, source).await {
            Ok(capped) => capped,
            // The pod is gone (deleted by hand, its node lost): say so.
            Err(kube::Error::Api(e)) if e.code == 404 => {
                log.missing = Some(format!(
                    "pod {} was gone before its logs were read (deleted, or its node lost)",
                    source.pod
                ));
                return Ok(log);
            }
            Err(kube::Error::Api(e)) if e.code == 400 || last_try => {
                log.missing = Some(format!("the API server gave no log: {}", e.message));
                return Ok(log);
            }
            Err(e) if last_try => {
                log.missing = Some(format!("the log could not be read: {e}"));
                return Ok(log);
            }
            Err(source_err) => {
                return Err(Error::Log {
                    step: source.step.clone(),
                    attempt: source.attempt,
                    pod: source.pod.clone(),
                    source: source_err,
                });
            }
        };
        log.bytes = capped.seen();
        let (kept, cut) = capped.finish();
        log.cut_bytes = cut;
        let log_key = key.log(source.attempt, source.index, &source.step);
        store::put(&self.store, &log_key, store::gzip(&kept))
            .await
            .map_err(|e| Error::Store {
                key: log_key.clone(),
                source: e,
            })?;
        log.key = Some(log_key);
        Ok(log)
    }

    /// The container's log, streamed through the cap.
    async fn read_log(&self, pods: &Api<Pod>, source: &LogSource) -> Result<Capped, kube::Error> {
        let params = LogParams {
            container: Some(source.container.clone()),
            ..LogParams::default()
        };
        let mut stream = pods.log_stream(&source.pod, &params).await?;
        let mut capped = Capped::new(self.log_cap);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf).await.map_err(kube::Error::ReadEvents)?;
            if n == 0 {
                return Ok(capped);
            }
            capped.push(&buf[..n]);
        }
    }

    async fn write_record(&self, key: &RunKey, record: &Record) -> Result<String, Error> {
        write_record(&self.store, key, record).await
    }

    /// Adds to a stored record that its run was deleted before the
    /// archive could say it holds it.
    pub async fn note_deleted(&self, key: &str) -> Result<(), Error> {
        let stored = |e| Error::Store {
            key: key.to_string(),
            source: e,
        };
        let Some(bytes) = store::get(&self.store, key).await.map_err(stored)? else {
            return Ok(());
        };
        let Ok(mut record) = store::gunzip(&bytes).and_then(|b| Ok(serde_json::from_slice::<Record>(&b)?)) else {
            return Ok(());
        };
        if !record.notes.iter().any(|n| n == DELETED) {
            record.notes.push(DELETED.to_string());
            let json = serde_json::to_vec(&record).unwrap_or_default();
            store::put(&self.store, key, store::gzip(&json)).await.map_err(stored)?;
        }
        Ok(())
    }

    /// Writes the `Archived` condition: True with where the record is, or
    /// False with why not yet. Only on the run archived: the write names
    /// the resourceVersion of the run just read with the same UID (a UID in
    /// an apply's body is not checked by the API server; a resourceVersion
    /// is), so a run re-created under the name is never marked.
    pub async fn mark<K: Run>(&self, run: &K, outcome: Result<&str, &Error>) -> Result<Marked, kube::Error> {
        let (status, reason, message) = match outcome {
            Ok(key) => (
                "True",
                "Archived".to_string(),
                format!("archived in {}/{key}", self.location),
            ),
            Err(e) => (
                "False",
                e.reason().to_string(),
                format!("not archived yet, retrying: {e}"),
            ),
        };
        let api: Api<K> = Api::namespaced(self.client.clone(), &run.namespace().unwrap_or_default());
        let mut tries = 0;
        loop {
            let Some(current) = api.get_opt(&run.name_any()).await? else {
                return Ok(Marked::Gone);
            };
            if current.uid() != run.uid() {
                return Ok(Marked::Replaced);
            }
            let patch = serde_json::json!({
                "apiVersion": K::api_version(&()),
                "kind": K::kind(&()),
                "metadata": {"resourceVersion": current.resource_version()},
                "status": {"conditions": [{
                    "type": ARCHIVED,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": now(),
                }]},
            });
            let params = PatchParams::apply(MANAGER).force();
            match api.patch_status(&run.name_any(), &params, &Patch::Apply(&patch)).await {
                Ok(_) => return Ok(Marked::Written),
                // Changed since the read (the controller wrote): read again.
                Err(kube::Error::Api(e)) if e.code == 409 && tries < 5 => tries += 1,
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Marked::Gone),
                Err(e) => return Err(e),
            }
        }
    }
}

/// What became of an `Archived` condition write.
#[derive(Debug, PartialEq)]
pub enum Marked {
    Written,
    /// The run is gone from the API server.
    Gone,
    /// Another run holds its name now.
    Replaced,
}

/// Stores a record, then the pointers that find it by name and by Task.
pub async fn write_record(store: &Store, key: &RunKey, record: &Record) -> Result<String, Error> {
    let record_key = key.record();
    let json = serde_json::to_vec(record).unwrap_or_default();
    let stored = |key: &str| {
        let key = key.to_string();
        move |e| Error::Store { key, source: e }
    };
    store::put(store, &record_key, store::gzip(&json))
        .await
        .map_err(stored(&record_key))?;
    let mut pointers = vec![key.by_name()];
    if let Some(task) = &record.task {
        pointers.push(key.by_task(task)?);
    }
    for pointer in pointers {
        store::put(store, &pointer, record_key.clone().into_bytes())
            .await
            .map_err(stored(&pointer))?;
    }
    Ok(record_key)
}
