//! Records as API objects: the run as it ended, in the archive's group,
//! with what the archive knows of it under `archive`. Pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::route::{GROUP, VERSION, token};
use crate::record::Record;

pub fn item(record: &Record) -> Value {
    let mut object = record.object.clone();
    object["apiVersion"] = json!(format!("{GROUP}/{VERSION}"));
    object["kind"] = json!(record.kind);
    if let Some(meta) = object.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        // Versions of the live object: nothing to compare an archived one to.
        meta.remove("resourceVersion");
    }
    object["archive"] = json!({
        "archivedAt": record.archived_at,
        "logs": record.logs,
        "notes": record.notes,
        "taskRuns": record.task_runs,
    });
    object
}

pub fn list(kind: &str, records: &[Record], last: Option<&str>) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": format!("{kind}List"),
        "metadata": metadata(last),
        "items": records.iter().map(item).collect::<Vec<_>>(),
    })
}

fn metadata(last: Option<&str>) -> Value {
    match last {
        Some(key) => json!({"continue": token(key)}),
        None => json!({}),
    }
}

/// Whether the client asked for a Table (`kubectl get` does).
pub fn wants_table(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.split(',').next().is_some_and(|first| first.contains("as=Table")))
}

/// What `kubectl get taskruns.archive.minitask.dev` prints.
pub fn table(kind: &str, records: &[Record], last: Option<&str>, now: &Time) -> Value {
    let column = |name: &str, format: &str, description: &str| json!({"name": name, "type": "string", "format": format, "description": description, "priority": 0});
    let of = if kind == "PipelineRun" { "Pipeline" } else { "Task" };
    let rows: Vec<Value> = records
        .iter()
        .map(|r| {
            let ended = r.completion_time.as_ref().map_or(String::from("-"), |t| {
                let secs = now.0.as_second().saturating_sub(t.0.as_second()).max(0) as u64;
                format!(
                    "{} ago",
                    minitask_api::format_duration(std::time::Duration::from_secs(secs))
                )
            });
            let lost = r
                .logs
                .iter()
                .filter(|l| l.key.is_none() && l.missing.as_deref() != Some("the step never ran"))
                .count();
            let logs = match (r.kind.as_str(), lost) {
                ("PipelineRun", _) => "-".to_string(),
                (_, 0) => "archived".to_string(),
                (_, n) => format!("{n} lost"),
            };
            json!({
                "cells": [r.name, r.task.clone().unwrap_or_else(|| "-".into()), r.phase,
                          r.reason.clone().unwrap_or_default(), ended, logs],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": r.object["metadata"].clone()},
            })
        })
        .collect();
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata(last),
        "columnDefinitions": [
            column("Name", "name", "The run's name"),
            column(of, "", "What it ran"),
            column("Phase", "", "How it ended"),
            column("Reason", "", "Why"),
            column("Ended", "", "When it ended"),
            column("Logs", "", "Whether every step's log is in the archive"),
        ],
        "rows": rows,
    })
}
