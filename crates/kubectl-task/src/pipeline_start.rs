//! `kubectl task start pipeline/<name>`: create a PipelineRun for a
//! Pipeline (checking its params and workspaces first), and optionally
//! follow every task's logs or wait for its end.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaimSpec, PersistentVolumeClaimTemplate, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, PostParams};
use minitask_api::{
    LABEL_PIPELINE, Pipeline, PipelineRef, PipelineRun, PipelineRunSpec, PipelineWorkspaceBinding,
    PipelineWorkspaceDeclaration, Timeouts, binding_problems, label_value,
};

use crate::cluster::Cluster;
use crate::errors;
use crate::follow::Outcome;
use crate::output::{Format, print, render};
use crate::refs::{Kind, run_name};
use crate::resolve::{find_pipelinerun, last_pipelinerun};
use crate::start::{Args, timeout_flag};
use crate::{inputs, pipeline_logs, preflight, prompt};

pub fn pipelineruns(cluster: &Cluster) -> Api<PipelineRun> {
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

pub async fn run(cluster: &Cluster, args: &Args, pipeline: Pipeline) -> anyhow::Result<Outcome> {
    let name = pipeline.name_any();
    if let Some(why) = invalid(&pipeline) {
        anyhow::bail!(
            "Pipeline {name} cannot run: {why}; fix the Pipeline (kubectl edit pipeline {name} -n {})",
            cluster.namespace
        );
    }
    preflight::pipeline_tasks(cluster, &pipeline).await?;
    for (given, flag) in [
        (args.use_taskrun.is_some(), "--use-taskrun"),
        (args.retries.is_some(), "--retries"),
    ] {
        anyhow::ensure!(
            !given,
            "{flag} applies to Tasks; pipeline/{name} sets retries per task in the Pipeline"
        );
    }
    anyhow::ensure!(
        !args.debug,
        "--debug applies to Tasks; to debug a task of pipeline/{name}, start its Task with `kubectl task start TASK --debug`"
    );
    let source = match (&args.use_pipelinerun, args.last) {
        (Some(name), _) => Some(find_pipelinerun(cluster, &run_name(name)?).await?),
        (None, true) => Some(last_pipelinerun(cluster, Some(&name)).await?),
        (None, false) => None,
    };
    let run = pipelinerun(args, &pipeline, source.as_ref())?;
    let problems = binding_problems(&pipeline.spec, &run.spec.workspaces);
    anyhow::ensure!(
        problems.is_empty(),
        "pipeline/{name} cannot run so: {}",
        problems.join("; ")
    );
    if args.dry_run {
        let shown = Kind::PipelineRun.qualified(&run.metadata.generate_name.clone().unwrap_or_default());
        print(&render(
            &[&run],
            &[shown],
            &args.output.clone().unwrap_or(Format::Yaml),
            true,
        )?);
        return Ok(Outcome::Done);
    }
    preflight::pipeline_sources(cluster, &run.spec.workspaces).await?;
    let doing = format!("creating a PipelineRun of {name} in namespace {}", cluster.namespace);
    let created = pipelineruns(cluster)
        .create(&PostParams::default(), &run)
        .await
        .map_err(|e| match &e {
            kube::Error::Api(status) if status.code == 422 || status.code == 400 => {
                anyhow::anyhow!("the API server refused the PipelineRun: {}", status.message)
            }
            _ => errors::api(&e, &doing, &cluster.server),
        })?;
    let created_name = created.name_any();
    let shown = [Kind::PipelineRun.qualified(&created_name)];
    // With -f or --wait, -o prints the run as it ended.
    let at_end = args.follow || args.wait;
    match &args.output {
        Some(_) if at_end => {}
        Some(format) => print(&render(&[&created], &shown, format, true)?),
        None => print(&format!("{} created\n", shown[0])),
    }
    let outcome = match (args.follow, args.wait) {
        (true, _) => pipeline_logs::follow(cluster, created, args.output.is_some()).await?,
        (_, true) => pipeline_logs::wait(cluster, created).await?,
        _ => {
            eprintln!(
                "follow it with `kubectl task logs -f pipelinerun/{created_name} -n {}`",
                cluster.namespace
            );
            return Ok(Outcome::Done);
        }
    };
    if let Some(format) = &args.output {
        let doing = format!("reading PipelineRun {created_name} in namespace {}", cluster.namespace);
        let ended = pipelineruns(cluster)
            .get_opt(&created_name)
            .await
            .map_err(|e| errors::api(&e, &doing, &cluster.server))?;
        if let Some(ended) = ended {
            print(&render(&[&ended], &shown, format, true)?);
        }
    }
    Ok(outcome)
}

/// Why the controller found the Pipeline invalid, if it did.
pub fn invalid(pipeline: &Pipeline) -> Option<String> {
    let status = pipeline.status.as_ref()?;
    let valid = status.conditions.iter().find(|c| c.type_ == "Valid")?;
    (valid.status == "False").then(|| valid.message.clone())
}

/// The PipelineRun that `args` describe for `pipeline`, starting from
/// `source` (a run to repeat: its params, workspaces, ServiceAccount,
/// timeouts and TTL fill in what the flags do not say).
pub fn pipelinerun(args: &Args, pipeline: &Pipeline, source: Option<&PipelineRun>) -> anyhow::Result<PipelineRun> {
    let spec = &pipeline.spec;
    let given = args
        .params
        .iter()
        .map(|p| inputs::key_value("-p", p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (mut params, mut missing) = inputs::params(&spec.params, &given)?;
    let mut bound = Vec::new();
    if let Some(source) = source {
        for param in &source.spec.params {
            if spec.params.iter().any(|d| d.name == param.name) && !params.iter().any(|p| p.name == param.name) {
                missing.retain(|m| *m != param.name);
                params.push(param.clone());
            }
        }
        let named: Vec<String> = args
            .workspaces
            .iter()
            .filter_map(|w| Some(w.split_once('=')?.0.to_string()))
            .collect();
        bound = source
            .spec
            .workspaces
            .iter()
            .filter(|b| spec.workspaces.iter().any(|d| d.name == b.name) && !named.contains(&b.name))
            .cloned()
            .collect();
    }
    prompt::params(
        &spec.params,
        &mut params,
        &missing,
        args.use_param_defaults || source.is_some(),
    )?;
    let mut workspaces = workspaces(&spec.workspaces, &args.workspaces, &bound)?;
    workspaces.extend(bound);
    let name = pipeline.name_any();
    let mut labels = inputs::labels(&args.labels)?;
    labels.insert(LABEL_PIPELINE.to_string(), label_value(&name));
    let timeouts = match &args.timeout {
        Some(timeout) => Some(Timeouts {
            pipeline: Some(timeout_flag("--timeout", timeout)?.0),
            ..source.and_then(|s| s.spec.timeouts.clone()).unwrap_or_default()
        }),
        None => source.and_then(|s| s.spec.timeouts.clone()),
    };
    let ttl = match &args.ttl {
        Some(ttl) => Some(timeout_flag("--ttl", ttl)?.1.as_secs() as i64),
        None => source.and_then(|s| s.spec.ttl_seconds_after_finished),
    };
    Ok(PipelineRun {
        metadata: ObjectMeta {
            generate_name: Some(args.prefix_name.clone().unwrap_or_else(|| format!("{name}-run-"))),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: PipelineRunSpec {
            pipeline_ref: Some(PipelineRef { name }),
            params,
            workspaces,
            timeouts,
            service_account_name: args
                .service_account
                .clone()
                .or(source.and_then(|s| s.spec.service_account_name.clone())),
            ttl_seconds_after_finished: ttl,
            ..PipelineRunSpec::default()
        },
        status: None,
    })
}

/// What `-w` takes for a Pipeline.
const SYNTAX: &str =
    "NAME=volumeClaimTemplate:SIZE, NAME=pvc:CLAIM, NAME=emptyDir, NAME=configmap:NAME or NAME=secret:NAME";

/// The run's workspaces from `-w` flags: those of a Task's, and
/// `volumeClaimTemplate:SIZE` (a claim of that size, ReadWriteOnce, made
/// by the run and deleted when it ends). Every required one must be given,
/// here or in `bound` (from a run repeated).
pub fn workspaces(
    declared: &[PipelineWorkspaceDeclaration],
    flags: &[String],
    bound: &[PipelineWorkspaceBinding],
) -> anyhow::Result<Vec<PipelineWorkspaceBinding>> {
    let mut problems = Vec::new();
    let mut bindings: Vec<PipelineWorkspaceBinding> = Vec::new();
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
        match crate::inputs::binding_problem(flag, &binding.name, &known, bound, "Pipeline") {
            Some(problem) => problems.push(problem),
            None => bindings.push(binding),
        }
    }
    for d in declared
        .iter()
        .filter(|d| !d.optional && !bindings.iter().chain(bound).any(|b| b.name == d.name))
    {
        problems.push(format!(
            "workspace {:?} is required: give it with -w {}=volumeClaimTemplate:1Gi (or pvc:CLAIM...)",
            d.name, d.name
        ));
    }
    anyhow::ensure!(problems.is_empty(), problems.join("; "));
    Ok(bindings)
}

/// One `-w` flag.
fn workspace(text: &str) -> anyhow::Result<PipelineWorkspaceBinding> {
    let (name, source) =
        inputs::key_value("-w", text).map_err(|_| anyhow::anyhow!("-w {text:?}: expected {SYNTAX}"))?;
    if let Some(size) = source.strip_prefix("volumeClaimTemplate:") {
        anyhow::ensure!(
            !size.is_empty() && size.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "-w {text}: volumeClaimTemplate takes a size, such as volumeClaimTemplate:1Gi"
        );
        let template = PersistentVolumeClaimTemplate {
            metadata: None,
            spec: PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.to_string()))])),
                    ..VolumeResourceRequirements::default()
                }),
                ..PersistentVolumeClaimSpec::default()
            },
        };
        return Ok(PipelineWorkspaceBinding {
            name,
            sub_path: None,
            empty_dir: None,
            persistent_volume_claim: None,
            volume_claim_template: Some(template),
            keep: false,
            config_map: None,
            secret: None,
        });
    }
    let task = inputs::workspace(text)
        .map_err(|e| anyhow::anyhow!("{e} (or NAME=volumeClaimTemplate:SIZE for a Pipeline)"))?;
    Ok(PipelineWorkspaceBinding {
        name: task.name,
        sub_path: task.sub_path,
        empty_dir: task.empty_dir,
        persistent_volume_claim: task.persistent_volume_claim,
        volume_claim_template: None,
        keep: false,
        config_map: task.config_map,
        secret: task.secret,
    })
}

/// A binding as `-w` writes it.
pub fn binding_text(binding: &PipelineWorkspaceBinding) -> String {
    if let Some(template) = &binding.volume_claim_template {
        let size = template
            .spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone())
            .unwrap_or_default();
        return format!(
            "volumeClaimTemplate:{size}{}",
            if binding.keep { " (kept)" } else { "" }
        );
    }
    inputs::binding_text(&binding.to_task_binding())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(name: &str, optional: bool) -> PipelineWorkspaceDeclaration {
        PipelineWorkspaceDeclaration {
            name: name.into(),
            description: None,
            optional,
        }
    }

    #[test]
    fn workspaces_take_a_claim_template_and_every_required_one_is_asked_for() {
        let got = workspaces(
            &[declared("src", false), declared("cache", true)],
            &["src=volumeClaimTemplate:2Gi".into(), "cache=pvc:shared".into()],
            &[],
        )
        .unwrap();
        assert_eq!(binding_text(&got[0]), "volumeClaimTemplate:2Gi");
        assert_eq!(binding_text(&got[1]), "pvc:shared");
        let err = workspaces(&[declared("src", false)], &["other=emptyDir".into()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("the Pipeline has no workspace \"other\""), "{err}");
        assert!(
            err.contains("workspace \"src\" is required: give it with -w src=volumeClaimTemplate:1Gi"),
            "{err}"
        );
        let err = workspaces(&[declared("src", false)], &["src=volumeClaimTemplate:".into()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("takes a size"), "{err}");
    }
}
