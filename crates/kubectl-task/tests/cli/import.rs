//! `kubectl task import` over Tekton YAML written as users write it
//! (`tests/tekton/`): each file converts, lists exactly the fields its
//! first line says cannot come along, and what it makes is admitted by the
//! real API server, CRD rules included.

use std::path::{Path, PathBuf};

use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

use crate::{error, ok, task_in, text, world};

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tekton");
    let mut files: Vec<PathBuf> = ["tasks", "pipelines"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The paths the file's `# partial:` line names (none: it converts whole).
fn expected_drops(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let mut paths: Vec<String> = first
        .strip_prefix("# partial:")
        .map(|rest| rest.split(',').map(|p| p.trim().to_string()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

/// The paths under "not carried over" in import's report.
fn listed_drops(stderr: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut dropped = false;
    for line in stderr.lines() {
        if !line.starts_with(' ') {
            dropped = line.ends_with(": not carried over");
        } else if dropped {
            paths.push(line.trim().split(": ").next().unwrap().to_string());
        }
    }
    paths.sort();
    paths
}

#[tokio::test]
async fn every_tekton_file_converts_lists_what_it_leaves_and_is_admitted() {
    let files = corpus();
    let count = |dir: &str| files.iter().filter(|f| f.parent().unwrap().ends_with(dir)).count();
    assert!(count("tasks") >= 15 && count("pipelines") >= 3, "the corpus: {files:?}");
    let (client, ns) = world("cli-import").await;
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for file in &files {
        let path = file.to_str().unwrap();
        let want = expected_drops(file);
        let printed = task_in(&ns, &["import", "-f", path]);
        let stderr = text(&printed.stderr);
        assert_eq!(listed_drops(&stderr), want, "{path}: {stderr}");
        if want.is_empty() {
            let yaml = ok(&printed);
            let objects: Vec<Value> = serde_saphyr::from_multiple(&yaml).unwrap();
            assert!(
                objects.iter().all(|o| o["apiVersion"] == "minitask.dev/v1alpha1"),
                "{yaml}"
            );
        } else {
            let message = error(&printed);
            assert!(message.contains("pass --allow-partial"), "{path}: {message}");
            assert!(printed.stdout.is_empty(), "{path}: nothing printed");
        }
        let applied = ok(&task_in(&ns, &["import", "--allow-partial", "--apply", "-f", path]));
        for line in applied.lines() {
            let kind = line.split('.').next().unwrap().to_string();
            assert!(line.ends_with(" applied") || line.ends_with(" created"), "{line}");
            *kinds.entry(kind).or_default() += 1;
        }
    }
    // Every object is in the API server: the CRDs' schemas and rules took it.
    for (kind, want) in &kinds {
        let kind_name = ["Task", "ClusterTask", "Pipeline", "TaskRun", "PipelineRun"]
            .into_iter()
            .find(|k| k.to_lowercase() == *kind)
            .unwrap();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("minitask.dev", "v1alpha1", kind_name));
        let have = match kind_name {
            // Cluster-scoped: those of the corpus, by name.
            "ClusterTask" => {
                let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
                let all = api.list(&ListParams::default()).await.unwrap().items;
                all.iter().filter(|t| t.name_any().starts_with("hello-cluster")).count()
            }
            _ => {
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
                api.list(&ListParams::default()).await.unwrap().items.len()
            }
        };
        assert_eq!(have, *want, "{kind}");
    }
    assert!(
        kinds["task"] + kinds["clustertask"] >= 15 && kinds["pipeline"] >= 3 && kinds["pipelinerun"] >= 2,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn import_reads_standard_input_prints_json_and_refuses_what_is_not_tekton() {
    let (_client, ns) = world("cli-import-io").await;
    let tekton = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps: [{name: a, image: busybox, script: echo}]\n";
    let out = crate::bash(&format!(
        "printf '%s' '{tekton}' | {} import -f - -o json",
        crate::PLUGIN
    ));
    let list: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["kind"], "Task");
    let dir = tempdir();
    let config = dir.join("cm.yaml");
    std::fs::write(&config, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n").unwrap();
    let refused = error(&task_in(&ns, &["import", "-f", config.to_str().unwrap()]));
    assert!(
        refused.contains("document 1 (ConfigMap \"c\") has apiVersion \"v1\""),
        "{refused}"
    );
    let missing = error(&task_in(&ns, &["import", "-f", "/nonexistent/tekton.yaml"]));
    assert!(missing.contains("could not read /nonexistent/tekton.yaml"), "{missing}");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minitask-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
