//! Turning `start`'s `-p`, `-w` and `-l` flags into TaskRun fields: pure
//! functions, so that every mistake is reported before anything is created.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource, SecretVolumeSource,
};
use minitask_api::{Param, ParamSpec, ParamType, ParamValue, WorkspaceBinding, WorkspaceDeclaration};

/// `key=value`, split at the first `=`.
pub fn key_value(flag: &str, text: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => anyhow::bail!("{flag} {text:?}: expected NAME=VALUE"),
    }
}

/// The run's params from `-p name=value` flags, typed by the Task's
/// declarations (an array param's value is split at commas). Returns the
/// params and the names of required params still missing.
pub fn params(declared: &[ParamSpec], given: &[(String, String)]) -> anyhow::Result<(Vec<Param>, Vec<String>)> {
    let mut problems = Vec::new();
    let mut params = Vec::new();
    for (name, value) in given {
        let Some(spec) = declared.iter().find(|d| &d.name == name) else {
            let known: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            let hint = minitask_api::did_you_mean(&minitask_api::similar(name, known.iter().copied()));
            problems.push(match known.is_empty() {
                true => format!("unknown param {name:?}: the Task takes no params"),
                false => format!("unknown param {name:?}{hint}: the Task takes {}", known.join(", ")),
            });
            continue;
        };
        if params.iter().any(|p: &Param| &p.name == name) {
            problems.push(format!("param {name:?} is given twice"));
            continue;
        }
        params.push(Param {
            name: name.clone(),
            value: typed(spec.type_, value),
        });
    }
    anyhow::ensure!(problems.is_empty(), problems.join("; "));
    let missing = declared
        .iter()
        .filter(|d| d.default.is_none() && !params.iter().any(|p| p.name == d.name))
        .map(|d| d.name.clone())
        .collect();
    Ok((params, missing))
}

/// `text` as a value of `type_`: arrays are comma-separated (`a, b`, each
/// item trimmed), and an empty text is an empty array.
pub fn typed(type_: ParamType, text: &str) -> ParamValue {
    match type_ {
        ParamType::String => ParamValue::String(text.into()),
        ParamType::Array if text.trim().is_empty() => ParamValue::Array(vec![]),
        ParamType::Array => ParamValue::Array(text.split(',').map(|i| i.trim().to_string()).collect()),
    }
}

/// What `-w` takes, for messages.
pub const WORKSPACE_SYNTAX: &str = "NAME=emptyDir, NAME=pvc:CLAIM, NAME=configmap:NAME or NAME=secret:NAME";

/// Why `-w flag`, which binds workspace `name`, cannot be taken: `owner`
/// (the Task or the Pipeline) declares no such workspace, or it is `bound`
/// already.
pub fn binding_problem(flag: &str, name: &str, known: &[&str], bound: bool, owner: &str) -> Option<String> {
    if !known.contains(&name) {
        return Some(match known.is_empty() {
            true => format!("-w {flag}: the {owner} declares no workspaces"),
            false => format!(
                "-w {flag}: the {owner} has no workspace {name:?}; it declares {}",
                known.join(", ")
            ),
        });
    }
    bound.then(|| format!("-w {flag}: workspace {name:?} is bound twice"))
}

/// The run's workspaces from `-w` flags, checked against what the Task
/// declares: an unknown name or one bound twice is an error. Returns the
/// bindings and the names of required workspaces still unbound.
pub fn workspaces(
    declared: &[WorkspaceDeclaration],
    flags: &[String],
) -> anyhow::Result<(Vec<WorkspaceBinding>, Vec<String>)> {
    let mut problems = Vec::new();
    let mut bindings: Vec<WorkspaceBinding> = Vec::new();
    let known: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
    for flag in flags {
        let binding = match workspace(flag) {
            Ok(binding) => binding,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let bound = bindings.iter().any(|b| b.name == binding.name);
        match binding_problem(flag, &binding.name, &known, bound, "Task") {
            Some(problem) => problems.push(problem),
            None => bindings.push(binding),
        }
    }
    anyhow::ensure!(problems.is_empty(), problems.join("; "));
    let missing = declared
        .iter()
        .filter(|d| !d.optional && !bindings.iter().any(|b| b.name == d.name))
        .map(|d| d.name.clone())
        .collect();
    Ok((bindings, missing))
}

/// A binding as `-w` writes it: `emptyDir`, `pvc:CLAIM`...
pub fn binding_text(binding: &WorkspaceBinding) -> String {
    let source = if binding.empty_dir.is_some() {
        "emptyDir".to_string()
    } else if let Some(pvc) = &binding.persistent_volume_claim {
        format!("pvc:{}", pvc.claim_name)
    } else if let Some(cm) = &binding.config_map {
        format!("configmap:{}", cm.name)
    } else if let Some(secret) = &binding.secret {
        format!("secret:{}", secret.secret_name.clone().unwrap_or_default())
    } else {
        "?".to_string()
    };
    match &binding.sub_path {
        Some(sub) => format!("{source} (subPath {sub})"),
        None => source,
    }
}

/// `-w name=emptyDir|pvc:<claim>|configmap:<name>|secret:<name>`.
pub fn workspace(text: &str) -> anyhow::Result<WorkspaceBinding> {
    let (name, source) =
        key_value("-w", text).map_err(|_| anyhow::anyhow!("-w {text:?}: expected {WORKSPACE_SYNTAX}"))?;
    let mut binding = WorkspaceBinding {
        name,
        sub_path: None,
        empty_dir: None,
        persistent_volume_claim: None,
        config_map: None,
        secret: None,
    };
    let (kind, target) = match source.split_once(':') {
        Some((kind, target)) => (kind, Some(target)),
        None => (source.as_str(), None),
    };
    match (kind.to_ascii_lowercase().as_str(), target.unwrap_or_default()) {
        ("emptydir", "") if target.is_none() => binding.empty_dir = Some(EmptyDirVolumeSource::default()),
        ("pvc", claim) if !claim.is_empty() => {
            binding.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.into(),
                read_only: None,
            })
        }
        ("configmap", name) if !name.is_empty() => {
            binding.config_map = Some(ConfigMapVolumeSource {
                name: name.into(),
                ..ConfigMapVolumeSource::default()
            })
        }
        ("secret", name) if !name.is_empty() => {
            binding.secret = Some(SecretVolumeSource {
                secret_name: Some(name.into()),
                ..SecretVolumeSource::default()
            })
        }
        _ => anyhow::bail!("-w {text:?}: expected {WORKSPACE_SYNTAX}"),
    }
    Ok(binding)
}

/// `-l a=b,c=d` (repeatable) as labels.
pub fn labels(flags: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for pair in flags.iter().flat_map(|f| f.split(',')).filter(|p| !p.is_empty()) {
        let (key, value) = key_value("-l", pair)?;
        labels.insert(key, value);
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, type_: ParamType, default: Option<&str>) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            type_,
            description: None,
            default: default.map(|d| ParamValue::String(d.into())),
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn params_are_typed_by_the_task_and_missing_ones_listed() {
        let declared = [
            spec("who", ParamType::String, Some("world")),
            spec("files", ParamType::Array, None),
            spec("tag", ParamType::String, None),
        ];
        let (params, missing) = params(&declared, &given(&[("files", "a,b"), ("who", "x=y")])).unwrap();
        assert_eq!(
            params,
            [
                Param {
                    name: "files".into(),
                    value: ParamValue::Array(vec!["a".into(), "b".into()])
                },
                Param {
                    name: "who".into(),
                    value: ParamValue::String("x=y".into())
                },
            ]
        );
        assert_eq!(missing, ["tag"]);
        let error = super::params(&declared, &given(&[("nope", "1"), ("who", "a"), ("who", "b")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown param \"nope\": the Task takes who, files, tag; param \"who\" is given twice"
        );
        assert_eq!(typed(ParamType::Array, ""), ParamValue::Array(vec![]));
    }

    #[test]
    fn workspace_flags_bind_each_kind_of_volume() {
        let pvc = workspace("src=pvc:sources").unwrap();
        assert_eq!(pvc.persistent_volume_claim.unwrap().claim_name, "sources");
        assert!(workspace("tmp=emptyDir").unwrap().empty_dir.is_some());
        assert_eq!(
            workspace("cfg=configmap:settings").unwrap().config_map.unwrap().name,
            "settings"
        );
        assert_eq!(
            workspace("key=secret:token")
                .unwrap()
                .secret
                .unwrap()
                .secret_name
                .as_deref(),
            Some("token")
        );
        for bad in [
            "src",
            "src=pvc",
            "src=pvc:",
            "src=nfs:x",
            "=emptyDir",
            "src=emptyDir:",
            "src=emptyDir:x",
        ] {
            let error = workspace(bad).unwrap_err().to_string();
            assert!(error.contains("NAME=emptyDir, NAME=pvc:CLAIM"), "{bad}: {error}");
        }
    }

    fn declared(name: &str, optional: bool) -> WorkspaceDeclaration {
        WorkspaceDeclaration {
            name: name.into(),
            description: None,
            mount_path: None,
            read_only: false,
            optional,
        }
    }

    #[test]
    fn workspaces_are_checked_against_the_task_before_anything_is_created() {
        let decls = [declared("src", false), declared("cache", true), declared("out", false)];
        let flags = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (bindings, missing) = workspaces(&decls, &flags(&["src=emptyDir"])).unwrap();
        assert_eq!((bindings.len(), missing), (1, vec!["out".to_string()]));
        let error = workspaces(&decls, &flags(&["srcc=emptyDir", "src=emptyDir", "src=pvc:x"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "-w srcc=emptyDir: the Task has no workspace \"srcc\"; it declares src, cache, out; -w src=pvc:x: workspace \"src\" is bound twice"
        );
        assert_eq!(binding_text(&workspace("a=pvc:data").unwrap()), "pvc:data");
        assert_eq!(
            typed(ParamType::Array, " a , b "),
            ParamValue::Array(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn labels_come_comma_separated_or_repeated() {
        let got = labels(&["a=1,b=2".to_string(), "c=3".to_string()]).unwrap();
        assert_eq!(got.len(), 3);
        assert!(labels(&["novalue".to_string()]).is_err());
    }
}
