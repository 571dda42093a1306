//! Workspaces: each one a Task declares becomes a volume, from the run's
//! binding, mounted in every step at its path.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Volume, VolumeMount};
use minitask_api::{WorkspaceBinding, WorkspaceDeclaration};

use crate::pod::paths::WORKSPACE_DIR;

/// A declared workspace and, when the run binds it, its volume and mount.
#[derive(Clone, Debug, PartialEq)]
pub struct Workspace {
    pub name: String,
    /// `$(workspaces.<name>.path)`: empty for an unbound optional one.
    pub path: String,
    pub volume: Option<(Volume, VolumeMount)>,
}

/// The workspaces of a run, or every problem with its bindings.
pub fn bind(declared: &[WorkspaceDeclaration], bindings: &[WorkspaceBinding]) -> Result<Vec<Workspace>, Vec<String>> {
    let mut problems = Vec::new();
    let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
    for binding in bindings.iter().filter(|b| !names.contains(&b.name.as_str())) {
        problems.push(match names.is_empty() {
            true => format!(
                "workspace {:?} is bound, but the Task declares no workspaces",
                binding.name
            ),
            false => format!(
                "workspace {:?} is bound, but the Task declares only {}",
                binding.name,
                names.join(", ")
            ),
        });
    }
    let mut workspaces = Vec::new();
    let mut paths: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (index, decl) in declared.iter().enumerate() {
        let path = decl
            .mount_path
            .clone()
            .unwrap_or_else(|| format!("{WORKSPACE_DIR}/{}", decl.name));
        let Some(binding) = bindings.iter().find(|b| b.name == decl.name) else {
            if !decl.optional {
                problems.push(format!(
                    "workspace {:?} is not bound: add it to the TaskRun's spec.workspaces, e.g. {{name: {}, emptyDir: {{}}}}",
                    decl.name, decl.name
                ));
            }
            workspaces.push(Workspace {
                name: decl.name.clone(),
                path: String::new(),
                volume: None,
            });
            continue;
        };
        paths.entry(path.clone()).or_default().push(&decl.name);
        let volume_name = format!("ws-{index}");
        let volume = Volume {
            name: volume_name.clone(),
            empty_dir: binding.empty_dir.clone(),
            persistent_volume_claim: binding.persistent_volume_claim.clone(),
            config_map: binding.config_map.clone(),
            secret: binding.secret.clone(),
            ..Volume::default()
        };
        let mount = VolumeMount {
            name: volume_name,
            mount_path: path.clone(),
            read_only: decl.read_only.then_some(true),
            sub_path: binding.sub_path.clone(),
            ..VolumeMount::default()
        };
        workspaces.push(Workspace {
            name: decl.name.clone(),
            path,
            volume: Some((volume, mount)),
        });
    }
    for (path, names) in &paths {
        if names.len() > 1 {
            problems.push(format!(
                "workspaces {} are all mounted at {path}: give them different mountPaths",
                names.join(", ")
            ));
        } else if path == WORKSPACE_DIR {
            problems.push(format!(
                "workspace {:?} is mounted at {WORKSPACE_DIR}, which every step already shares: choose another mountPath",
                names[0]
            ));
        }
    }
    if problems.is_empty() {
        Ok(workspaces)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource};

    fn declared(name: &str, mount_path: Option<&str>, optional: bool) -> WorkspaceDeclaration {
        WorkspaceDeclaration {
            name: name.into(),
            description: None,
            mount_path: mount_path.map(str::to_string),
            read_only: false,
            optional,
        }
    }

    fn empty_dir(name: &str) -> WorkspaceBinding {
        WorkspaceBinding {
            name: name.into(),
            sub_path: None,
            empty_dir: Some(EmptyDirVolumeSource::default()),
            persistent_volume_claim: None,
            config_map: None,
            secret: None,
        }
    }

    #[test]
    fn bound_workspaces_become_volumes_at_their_paths() {
        let mut cache = declared("cache", Some("/cache"), false);
        cache.read_only = true;
        let decls = [declared("src", None, false), cache, declared("extra", None, true)];
        let mut pvc = empty_dir("cache");
        pvc.empty_dir = None;
        pvc.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
            claim_name: "shared".into(),
            read_only: None,
        });
        pvc.sub_path = Some("go".into());
        let got = bind(&decls, &[empty_dir("src"), pvc]).unwrap();
        let summary: Vec<_> = got
            .iter()
            .map(|w| {
                let mount = w.volume.as_ref().map(|(v, m)| {
                    let source = if v.empty_dir.is_some() { "emptyDir" } else { "pvc" };
                    (v.name.clone(), source, m.read_only, m.sub_path.clone())
                });
                (w.name.as_str(), w.path.as_str(), mount)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("src", "/workspace/src", Some(("ws-0".into(), "emptyDir", None, None))),
                (
                    "cache",
                    "/cache",
                    Some(("ws-1".into(), "pvc", Some(true), Some("go".into())))
                ),
                ("extra", "", None),
            ]
        );
    }

    #[test]
    fn every_binding_problem_is_listed() {
        let decls = [
            declared("src", None, false),
            declared("a", Some("/same"), false),
            declared("b", Some("/same"), false),
            declared("root", Some("/workspace"), false),
        ];
        let got = bind(
            &decls,
            &[empty_dir("srcc"), empty_dir("a"), empty_dir("b"), empty_dir("root")],
        )
        .unwrap_err();
        assert_eq!(
            got,
            [
                "workspace \"srcc\" is bound, but the Task declares only src, a, b, root",
                "workspace \"src\" is not bound: add it to the TaskRun's spec.workspaces, e.g. {name: src, emptyDir: {}}",
                "workspaces a, b are all mounted at /same: give them different mountPaths",
                "workspace \"root\" is mounted at /workspace, which every step already shares: choose another mountPath",
            ]
        );
        assert_eq!(
            bind(&[], &[empty_dir("x")]).unwrap_err(),
            ["workspace \"x\" is bound, but the Task declares no workspaces"]
        );
    }
}
