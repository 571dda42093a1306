//! Turning `start`'s `-p`, `-w` and `-l` flags into TaskRun fields: pure
//! functions, so that every mistake is reported before anything is created.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource, SecretVolumeSource,
};
use minitask_api::{Param, ParamSpec, ParamType, ParamValue, WorkspaceBinding};

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
            problems.push(match known.is_empty() {
                true => format!("unknown param {name:?}: the Task takes no params"),
                false => format!("unknown param {name:?}: the Task takes {}", known.join(", ")),
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

/// `text` as a value of `type_`: arrays are comma-separated (`a,b`), and an
/// empty text is an empty array.
pub fn typed(type_: ParamType, text: &str) -> ParamValue {
    match type_ {
        ParamType::String => ParamValue::String(text.into()),
        ParamType::Array if text.is_empty() => ParamValue::Array(vec![]),
        ParamType::Array => ParamValue::Array(text.split(',').map(str::to_string).collect()),
    }
}

/// `-w name=emptyDir|pvc:<claim>|configmap:<name>|secret:<name>`.
pub fn workspace(text: &str) -> anyhow::Result<WorkspaceBinding> {
    let (name, source) = key_value("-w", text)?;
    let mut binding = WorkspaceBinding {
        name,
        sub_path: None,
        empty_dir: None,
        persistent_volume_claim: None,
        config_map: None,
        secret: None,
    };
    let (kind, target) = source.split_once(':').unwrap_or((source.as_str(), ""));
    match (kind.to_ascii_lowercase().as_str(), target) {
        ("emptydir", "") => binding.empty_dir = Some(EmptyDirVolumeSource::default()),
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
        _ => anyhow::bail!(
            "-w {text:?}: expected NAME=emptyDir, NAME=pvc:CLAIM, NAME=configmap:NAME or NAME=secret:NAME"
        ),
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
        for bad in ["src", "src=pvc", "src=pvc:", "src=nfs:x", "=emptyDir"] {
            assert!(workspace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_come_comma_separated_or_repeated() {
        let got = labels(&["a=1,b=2".to_string(), "c=3".to_string()]).unwrap();
        assert_eq!(got.len(), 3);
        assert!(labels(&["novalue".to_string()]).is_err());
    }
}
