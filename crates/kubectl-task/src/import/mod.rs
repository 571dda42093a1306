//! `kubectl task import -f tekton.yaml`: Tekton Tasks, Pipelines, TaskRuns
//! and PipelineRuns as mini-task objects, printed or applied, with every
//! field that could not come along named on stderr.

mod convert;
mod shape;

use anyhow::{Context, bail};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

use crate::cluster::{Cluster, Target};
use crate::errors;
use crate::follow::Outcome;
use convert::{Converted, Note};

pub use convert::convert;

#[derive(clap::Args)]
pub struct Args {
    /// Tekton YAML (`-` for standard input); a file may hold several
    /// documents, or a List.
    #[arg(short = 'f', long = "filename", required = true, value_name = "FILE")]
    files: Vec<String>,
    /// How to print the mini-task objects.
    #[arg(short = 'o', long, value_parser = ["yaml", "json"], default_value = "yaml")]
    output: String,
    /// Create or update the objects in the cluster instead of printing them.
    #[arg(long)]
    apply: bool,
    /// Convert even when fields are left behind (they are still listed).
    #[arg(long)]
    allow_partial: bool,
}

pub async fn run(target: &Target, args: Args) -> anyhow::Result<Outcome> {
    let mut documents = Vec::new();
    for file in &args.files {
        let text = match file.as_str() {
            "-" => std::io::read_to_string(std::io::stdin()).context("could not read standard input")?,
            path => std::fs::read_to_string(path).with_context(|| format!("could not read {path}"))?,
        };
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| anyhow::anyhow!("{file} is not YAML: {e}"))?;
        documents.extend(docs);
    }
    let converted = convert(&documents).map_err(anyhow::Error::msg)?;
    for object in &converted.objects {
        check(object).map_err(anyhow::Error::msg)?;
    }
    eprint!("{}", report(&converted));
    if !converted.dropped.is_empty() && !args.allow_partial {
        bail!(
            "{} field(s) of the Tekton objects cannot come along (listed above), so nothing was {}: change them, or pass --allow-partial to convert the rest",
            converted.dropped.len(),
            if args.apply { "applied" } else { "printed" }
        );
    }
    if args.apply {
        apply(&target.connect().await?, &converted.objects).await?;
    } else {
        crate::output::print(&print(&converted.objects, &args.output)?);
    }
    Ok(Outcome::Done)
}

/// The notes, grouped by object: what changed, what was dropped.
pub fn report(converted: &Converted) -> String {
    let mut out = String::new();
    let mut section = |title: &str, notes: &[Note]| {
        let mut last = "";
        for note in notes {
            if note.object != last {
                out.push_str(&format!("{}: {title}\n", note.object));
                last = &note.object;
            }
            out.push_str(&format!("  {}: {}\n", note.path, note.why));
        }
    };
    section("changed", &converted.changed);
    section("not carried over", &converted.dropped);
    out
}

/// The converted object must be one mini-task accepts, field by field.
fn check(object: &Value) -> Result<(), String> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"]
        .as_str()
        .or(object["metadata"]["generateName"].as_str())
        .unwrap_or_default();
    let fits = match kind {
        "Task" => serde_json::from_value::<minitask_api::Task>(object.clone()).map(drop),
        "ClusterTask" => serde_json::from_value::<minitask_api::ClusterTask>(object.clone()).map(drop),
        "Pipeline" => serde_json::from_value::<minitask_api::Pipeline>(object.clone()).map(drop),
        "TaskRun" => serde_json::from_value::<minitask_api::TaskRun>(object.clone()).map(drop),
        _ => serde_json::from_value::<minitask_api::PipelineRun>(object.clone()).map(drop),
    };
    fits.map_err(|e| format!("{kind}/{name}: the converted object does not fit mini-task's {kind}: {e}"))
}

fn print(objects: &[Value], format: &str) -> anyhow::Result<String> {
    Ok(match format {
        "json" => {
            serde_json::to_string_pretty(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects}))?
                + "\n"
        }
        _ => {
            let docs: Result<Vec<String>, _> = objects.iter().map(serde_saphyr::to_string).collect();
            docs?.join("---\n")
        }
    })
}

/// Server-side apply of each named object (a run with only a
/// generateName is created), in the order given: Tasks before the runs
/// that use them.
async fn apply(cluster: &Cluster, objects: &[Value]) -> anyhow::Result<()> {
    for object in objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("minitask.dev", "v1alpha1", kind));
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or(&cluster.namespace);
        let (api, namespace): (Api<DynamicObject>, _) = match kind {
            "ClusterTask" => (
                Api::all_with(cluster.client.clone(), &resource),
                "the cluster".to_string(),
            ),
            _ => (
                Api::namespaced_with(cluster.client.clone(), namespace, &resource),
                format!("namespace {namespace}"),
            ),
        };
        let dynamic: DynamicObject = serde_json::from_value(object.clone())?;
        let plural = kind.to_lowercase();
        let done = match object["metadata"]["name"].as_str() {
            Some(name) => {
                api.patch(
                    name,
                    &PatchParams::apply("kubectl-task-import"),
                    &Patch::Apply(&dynamic),
                )
                .await
                .map_err(|e| errors::api(&e, &format!("applying {plural}/{name} in {namespace}"), &cluster.server))?;
                format!("{plural}.minitask.dev/{name} applied")
            }
            None => {
                let made = api
                    .create(&PostParams::default(), &dynamic)
                    .await
                    .map_err(|e| errors::api(&e, &format!("creating a {kind} in {namespace}"), &cluster.server))?;
                format!(
                    "{plural}.minitask.dev/{} created",
                    made.metadata.name.unwrap_or_default()
                )
            }
        };
        crate::output::print(&format!("{done}\n"));
    }
    Ok(())
}
