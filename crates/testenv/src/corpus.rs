//! The corpus of bad input (`crates/api/tests/corpus/`): objects the API
//! server must refuse at admission with a message that names the field,
//! and objects it accepts whose runs must end with a documented reason and
//! a message that says what to fix. The controller's integration tests and
//! `cargo xtask chaos` both run it.
//!
//! Each file is a YAML list of cases. An admission case:
//!
//! ```yaml
//! - case: what is wrong, in words
//!   field: spec.steps        # the message names this field
//!   message: at least 1      # and says this
//!   object: {kind: Task, spec: {steps: []}}
//!   update: {spec: ...}      # optional: the object is created, then this
//!                            # merge patch must be refused
//! ```
//!
//! A runtime case:
//!
//! ```yaml
//! - case: what is wrong
//!   phase: Failed            # how the run (the last object) ends
//!   reason: InvalidParams
//!   message: ['param "who" is required']   # all of these in its message
//!   labels: {...}            # optional labels of the case's namespace
//!   objects: [...]           # created in order
//! ```
//!
//! `apiVersion` defaults to `minitask.dev/v1alpha1` and `metadata.name` to
//! `bad-<n>`, which keeps the files short.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::Deserialize;
use serde_json::{Value, json};

/// Where the corpus lives.
pub fn dir() -> PathBuf {
    crate::repo_root().join("crates/api/tests/corpus")
}

#[derive(Clone, Debug, Deserialize)]
pub struct AdmissionCase {
    pub case: String,
    pub field: String,
    pub message: String,
    pub object: Value,
    #[serde(default)]
    pub update: Option<Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RuntimeCase {
    pub case: String,
    pub phase: String,
    pub reason: String,
    pub message: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub objects: Vec<Value>,
}

/// Every admission case, from `admission-*.yaml`.
pub fn admission_cases() -> anyhow::Result<Vec<AdmissionCase>> {
    read("admission-")
}

/// Every runtime case, from `runtime*.yaml`.
pub fn runtime_cases() -> anyhow::Result<Vec<RuntimeCase>> {
    read("runtime")
}

fn read<T: for<'de> Deserialize<'de>>(prefix: &str) -> anyhow::Result<Vec<T>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".yaml")
        })
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let mut these: Vec<T> = serde_saphyr::from_str(&text).with_context(|| format!("reading {}", file.display()))?;
        cases.append(&mut these);
    }
    Ok(cases)
}

/// `object` completed with its defaults, named `name` unless it has one.
fn complete(object: &Value, name: &str, namespace: &str) -> Value {
    let mut object = object.clone();
    if object.get("apiVersion").is_none() {
        object["apiVersion"] = json!("minitask.dev/v1alpha1");
    }
    if object["metadata"].get("name").is_none() {
        object["metadata"]["name"] = json!(name);
    }
    object["metadata"]["namespace"] = json!(namespace);
    object
}

fn api_for(client: &Client, object: &Value) -> anyhow::Result<(Api<DynamicObject>, String)> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().context("an object without a kind")?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
    Ok((Api::namespaced_with(client.clone(), namespace, &resource), name))
}

/// Creates `object` as `kubectl apply` (or `create`) does: fields
/// validated strictly, as kubectl asks by default.
async fn create(client: &Client, object: &Value) -> anyhow::Result<Result<(), Box<kube::core::Status>>> {
    let (api, _) = api_for(client, object)?;
    let request =
        kube::core::Request::new(api.resource_url()).create(&PostParams::default(), serde_json::to_vec(object)?)?;
    let (mut parts, body) = request.into_parts();
    let uri = parts.uri.to_string();
    let joiner = if uri.contains('?') { '&' } else { '?' };
    parts.uri = format!("{uri}{joiner}fieldValidation=Strict").parse()?;
    match client
        .request::<DynamicObject>(http::Request::from_parts(parts, body))
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(kube::Error::Api(e)) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

/// Changes `object` by a merge patch, as `kubectl apply` or `kubectl
/// patch` do, with the same strict field validation.
async fn change(client: &Client, object: &Value, patch: &Value) -> anyhow::Result<Result<(), Box<kube::core::Status>>> {
    let (api, name) = api_for(client, object)?;
    let params = PatchParams::default().validation_strict();
    match api.patch(&name, &params, &Patch::Merge(patch)).await {
        Ok(_) => Ok(Ok(())),
        Err(kube::Error::Api(e)) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

/// Checks admission case number `index` in `namespace`: Err says how the
/// API server's answer differs from the case.
pub async fn check_admission(
    client: &Client,
    namespace: &str,
    index: usize,
    case: &AdmissionCase,
) -> Result<(), String> {
    let object = complete(&case.object, &format!("bad-{index}"), namespace);
    let refused = match &case.update {
        None => create(client, &object).await,
        Some(update) => {
            match create(client, &object).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(format!(
                        "{}: the object to update was refused: {}",
                        case.case, e.message
                    ));
                }
                Err(e) => return Err(format!("{}: {e:#}", case.case)),
            }
            change(client, &object, update).await
        }
    };
    match refused {
        Ok(Ok(())) => Err(format!("{}: the API server accepted it", case.case)),
        Ok(Err(e)) if !matches!(e.code, 400 | 422) => Err(format!(
            "{}: refused with {} instead of 400/422: {}",
            case.case, e.code, e.message
        )),
        Ok(Err(e)) if !(e.message.contains(&case.field) && e.message.contains(&case.message)) => Err(format!(
            "{}: the message does not name {:?} and say {:?}: {}",
            case.case, case.field, case.message, e.message
        )),
        Ok(Err(_)) => Ok(()),
        Err(e) => Err(format!("{}: {e:#}", case.case)),
    }
}

/// Creates the namespace of runtime case number `index` (`corpus-<index>`
/// with the case's labels and a default ServiceAccount), then its objects.
pub async fn start_runtime(client: &Client, prefix: &str, index: usize, case: &RuntimeCase) -> anyhow::Result<String> {
    let namespace = format!("{prefix}-{index}");
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace, "labels": case.labels}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "default"}}))?;
    Api::<ServiceAccount>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &account)
        .await?;
    for (i, object) in case.objects.iter().enumerate() {
        let object = complete(object, &format!("bad-{i}"), &namespace);
        create(client, &object)
            .await?
            .map_err(|e| anyhow::anyhow!("{}: object {i} was refused: {}", case.case, e.message))?;
    }
    Ok(namespace)
}

/// Waits (up to `bound`) for the run of runtime case `case`, started in
/// `namespace`, to show the case's phase and reason; Err says what it
/// showed instead, or which words its message lacks.
pub async fn check_runtime(
    client: &Client,
    namespace: &str,
    case: &RuntimeCase,
    bound: Duration,
) -> Result<(), String> {
    let last = case.objects.len().saturating_sub(1);
    let run = complete(&case.objects[last], &format!("bad-{last}"), namespace);
    let (api, name) = api_for(client, &run).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut seen = String::from("no status");
    while started.elapsed() < bound {
        if let Ok(object) = api.get(&name).await {
            let status = &object.data["status"];
            let (phase, reason) = (status["phase"].as_str(), status["reason"].as_str());
            let message = status["message"].as_str().unwrap_or_default();
            seen = format!("{}/{}: {message}", phase.unwrap_or("-"), reason.unwrap_or("-"));
            if phase == Some(case.phase.as_str()) && reason == Some(case.reason.as_str()) {
                let missing: Vec<&String> = case.message.iter().filter(|m| !message.contains(m.as_str())).collect();
                return match missing.is_empty() {
                    true => Ok(()),
                    false => Err(format!("{}: the message lacks {missing:?}: {message}", case.case)),
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "{}: run {namespace}/{} did not end {}/{} within {bound:?}; it showed {seen}",
        case.case,
        run["metadata"]["name"].as_str().unwrap_or_default(),
        case.phase,
        case.reason
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_big_enough_and_every_case_says_what_it_expects() {
        let admission = admission_cases().unwrap();
        let runtime = runtime_cases().unwrap();
        assert!(admission.len() >= 60, "{} admission cases", admission.len());
        assert!(runtime.len() >= 20, "{} runtime cases", runtime.len());
        let mut names: Vec<&str> = admission
            .iter()
            .map(|c| c.case.as_str())
            .chain(runtime.iter().map(|c| c.case.as_str()))
            .collect();
        names.sort();
        let all = names.len();
        names.dedup();
        assert_eq!(names.len(), all, "two cases share a description");
        for case in &admission {
            assert!(
                case.field.starts_with("spec") || case.field.starts_with("metadata"),
                "{}: {:?} is not a field",
                case.case,
                case.field
            );
            assert!(!case.message.is_empty(), "{}", case.case);
        }
        for case in &runtime {
            assert!(["Pending", "Failed"].contains(&case.phase.as_str()), "{}", case.case);
            assert!(!case.message.is_empty() && !case.objects.is_empty(), "{}", case.case);
        }
    }

    #[test]
    fn objects_get_their_defaults() {
        let object = complete(&json!({"kind": "Task", "spec": {}}), "bad-3", "ns");
        assert_eq!(object["apiVersion"], "minitask.dev/v1alpha1");
        assert_eq!(object["metadata"], json!({"name": "bad-3", "namespace": "ns"}));
        let named = complete(&json!({"kind": "Task", "metadata": {"name": "t"}}), "bad-3", "ns");
        assert_eq!(named["metadata"]["name"], "t");
    }
}
