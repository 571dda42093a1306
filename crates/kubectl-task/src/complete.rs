//! Shell completion. `kubectl-task __complete <words...>` answers in
//! Cobra's protocol (one candidate per line, `value<TAB>description`, then
//! `:<directive>`), which kubectl (1.26+) asks of a `kubectl_complete-task`
//! program on the PATH for `kubectl task <TAB>`, and which the bash, zsh and
//! fish scripts of `kubectl-task completion` ask too. Task, run, step,
//! context and namespace names come from the cluster, within a second.

use std::time::Duration;

use clap::{Arg, Command, CommandFactory};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::cluster::Target;
use crate::refs::run_name;
use crate::resolve::{cluster_task_names, find_run, pipeline_names, pipelinerun_names, run_names, task_names};

/// Cobra's directives.
const NO_SPACE: u8 = 2;
const NO_FILES: u8 = 4;

/// How long a completion may wait for the cluster.
const CLUSTER_WAIT: Duration = Duration::from_secs(1);

/// Prints the completions of `words` (the last one is being typed).
pub async fn run<C: CommandFactory>(words: &[String]) {
    let (candidates, directive) = complete(&C::command(), words).await;
    let mut out = String::new();
    for (value, about) in candidates {
        match about.is_empty() {
            true => out.push_str(&format!("{value}\n")),
            false => out.push_str(&format!("{value}\t{about}\n")),
        }
    }
    out.push_str(&format!(":{directive}\n"));
    crate::output::print(&out);
}

/// Candidates (value, description), already filtered by what is typed.
async fn complete(root: &Command, words: &[String]) -> (Vec<(String, String)>, u8) {
    let Some((current, before)) = words.split_last() else {
        return (subcommands(root, ""), NO_FILES);
    };
    let (command, positionals) = walk(root, before);
    let target = target_of(before);
    // --flag=value
    if let Some((flag, value)) = current.strip_prefix("--").and_then(|c| c.split_once('=')) {
        let Some(arg) = find_long(root, command, flag) else {
            return (Vec::new(), NO_FILES);
        };
        let (values, directive) = values(&target, command, arg, value, &positionals).await;
        let prefixed = values.into_iter().map(|(v, a)| (format!("--{flag}={v}"), a)).collect();
        return (prefixed, directive);
    }
    // The value of the flag just before.
    if let Some(previous) = before.last().filter(|p| p.starts_with('-') && !p.contains('='))
        && let Some(arg) = flag_arg(root, command, previous).filter(|a| a.get_action().takes_values())
    {
        return values(&target, command, arg, current, &positionals).await;
    }
    if current.starts_with('-') {
        return (flags(root, command, current), NO_FILES);
    }
    if command.get_name() == root.get_name() {
        return (subcommands(root, current), NO_FILES);
    }
    let names = match command.get_name() {
        "start" if positionals.is_empty() => {
            with_cluster(&target, |t| async move {
                let mut names = task_names(&t).await?;
                names.extend(pipeline_names(&t).await?.into_iter().map(|p| format!("pipeline/{p}")));
                let shared = cluster_task_names(&t).await.unwrap_or_default();
                names.extend(shared.into_iter().map(|c| format!("clustertask/{c}")));
                Ok(names)
            })
            .await
        }
        "trigger" if positionals.is_empty() => vec!["fire".into()],
        "trigger" if positionals.len() == 1 => with_cluster(&target, |t| async move { trigger_names(&t).await }).await,
        "logs" | "describe" | "cancel" | "delete" => {
            let describing = command.get_name() == "describe";
            with_cluster(&target, |t| async move {
                let mut names = run_names(&t).await?;
                if describing {
                    names.extend(trigger_names(&t).await?.into_iter().map(|n| format!("trigger/{n}")));
                }
                names.extend(
                    pipelinerun_names(&t)
                        .await?
                        .into_iter()
                        .map(|p| format!("pipelinerun/{p}")),
                );
                Ok(names)
            })
            .await
        }
        "debug" if positionals.is_empty() => with_cluster(&target, |t| async move { run_names(&t).await }).await,
        "list" if positionals.is_empty() => vec!["tasks".into(), "pipelines".into()],
        "runs" if positionals.is_empty() => vec!["taskruns".into(), "pipelineruns".into()],
        "completion" => vec!["bash".into(), "zsh".into(), "fish".into()],
        _ => Vec::new(),
    };
    (matching(names, current), NO_FILES)
}

/// The Triggers of the namespace.
async fn trigger_names(cluster: &crate::cluster::Cluster) -> anyhow::Result<Vec<String>> {
    let api: Api<minitask_api::Trigger> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|t| t.name_any())
        .collect())
}

/// The subcommand the words name (the root when none), and the positional
/// words that follow it (flag values are not: `-n ns` may stand anywhere).
fn walk<'a>(root: &'a Command, words: &[String]) -> (&'a Command, Vec<String>) {
    let mut command = root;
    let mut positionals = Vec::new();
    let mut skip_value = false;
    for word in words {
        if skip_value {
            skip_value = false;
            continue;
        }
        if word.starts_with('-') {
            skip_value =
                !word.contains('=') && flag_arg(root, command, word).is_some_and(|a| a.get_action().takes_values());
            continue;
        }
        match command.find_subcommand(word) {
            Some(sub) if command.get_name() == root.get_name() => command = sub,
            _ => positionals.push(word.clone()),
        }
    }
    (command, positionals)
}

/// The global flags the words give, so that names come from the cluster
/// and namespace the command would use.
fn target_of(words: &[String]) -> Target {
    let mut target = Target::default();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (word.as_str(), None),
        };
        let slot = match flag {
            "--kubeconfig" => {
                let value = inline.or_else(|| words.next().cloned());
                target.kubeconfig = value.map(Into::into);
                continue;
            }
            "--context" => &mut target.context,
            "-n" | "--namespace" => &mut target.namespace,
            "--as" => &mut target.impersonate,
            "--token" => &mut target.token,
            _ => continue,
        };
        *slot = inline.or_else(|| words.next().cloned());
    }
    target
}

fn find_long<'a>(root: &'a Command, command: &'a Command, name: &str) -> Option<&'a Arg> {
    command
        .get_arguments()
        .chain(root.get_arguments())
        .find(|a| a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name)))
}

fn flag_arg<'a>(root: &'a Command, command: &'a Command, word: &str) -> Option<&'a Arg> {
    if let Some(long) = word.strip_prefix("--") {
        return find_long(root, command, long);
    }
    let short = word.strip_prefix('-')?.chars().next()?;
    command
        .get_arguments()
        .chain(root.get_arguments())
        .find(|a| a.get_short() == Some(short))
}

fn subcommands(root: &Command, typed: &str) -> Vec<(String, String)> {
    root.get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name().starts_with(typed))
        .map(|c| (c.get_name().to_string(), about(c.get_about())))
        .collect()
}

fn flags(root: &Command, command: &Command, typed: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = command
        .get_arguments()
        .chain(root.get_arguments().filter(|a| a.is_global_set()))
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter_map(|a| Some((format!("--{}", a.get_long()?), about(a.get_help()))))
        .filter(|(flag, _)| flag.starts_with(typed))
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn about(text: Option<&clap::builder::StyledStr>) -> String {
    let text = text.map(|t| t.to_string()).unwrap_or_default();
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_string()
}

fn matching(names: Vec<String>, typed: &str) -> Vec<(String, String)> {
    names
        .into_iter()
        .filter(|n| n.starts_with(typed))
        .map(|n| (n, String::new()))
        .collect()
}

/// Values for `arg` of `command`, whose positional words so far are
/// `positionals` (the run or Task the value belongs to).
async fn values(
    target: &Target,
    command: &Command,
    arg: &Arg,
    typed: &str,
    positionals: &[String],
) -> (Vec<(String, String)>, u8) {
    let fixed: Vec<String> = arg
        .get_possible_values()
        .iter()
        .map(|v| v.get_name().to_string())
        .collect();
    if !fixed.is_empty() {
        return (matching(fixed, typed), NO_FILES);
    }
    let names = match (arg.get_id().as_str(), command.get_name()) {
        ("kubeconfig", _) => return (Vec::new(), 0),
        ("output", _) => ["name", "yaml", "json", "wide", "jsonpath=", "custom-columns="]
            .into_iter()
            .map(String::from)
            .collect(),
        ("context", _) => contexts(target),
        ("namespace", _) => with_cluster(target, |t| async move { namespaces(&t).await }).await,
        ("task", _) => with_cluster(target, |t| async move { task_names(&t).await }).await,
        ("use_taskrun", _) => with_cluster(target, |t| async move { run_names(&t).await }).await,
        ("step", _) => {
            let run = positionals.first().cloned();
            with_cluster(target, |t| async move { steps(&t, run).await }).await
        }
        ("params" | "workspaces", "start") => {
            let task = positionals.first().cloned();
            let id = arg.get_id().as_str() == "params";
            let names = with_cluster(target, |t| async move { task_inputs(&t, task, id).await }).await;
            let equals = names.into_iter().map(|n| format!("{n}=")).collect();
            return (matching(equals, typed), NO_SPACE | NO_FILES);
        }
        _ => Vec::new(),
    };
    let directive = if names.iter().any(|n| n.ends_with('=')) {
        NO_SPACE | NO_FILES
    } else {
        NO_FILES
    };
    (matching(names, typed), directive)
}

/// Runs `lookup` against the cluster for at most a second; nothing when it
/// cannot answer in time (completion must never hang a shell).
async fn with_cluster<F, Fut>(target: &Target, lookup: F) -> Vec<String>
where
    F: FnOnce(crate::cluster::Cluster) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<String>>>,
{
    let work = async {
        let cluster = target.connect().await.ok()?;
        lookup(cluster).await.ok()
    };
    tokio::time::timeout(CLUSTER_WAIT, work)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn contexts(target: &Target) -> Vec<String> {
    match target.kubeconfig() {
        Ok(Some((config, _))) => config.contexts.into_iter().map(|c| c.name).collect(),
        _ => Vec::new(),
    }
}

async fn namespaces(cluster: &crate::cluster::Cluster) -> anyhow::Result<Vec<String>> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
    Ok(api
        .list_metadata(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|n| n.name_any())
        .collect())
}

async fn steps(cluster: &crate::cluster::Cluster, run: Option<String>) -> anyhow::Result<Vec<String>> {
    let run = find_run(cluster, &run_name(&run.unwrap_or_default())?).await?;
    let status = run.status.unwrap_or_default();
    let spec = status.task_spec.map(|t| t.steps).unwrap_or_default();
    Ok(spec.into_iter().map(|s| s.name).collect())
}

async fn task_inputs(
    cluster: &crate::cluster::Cluster,
    task: Option<String>,
    params: bool,
) -> anyhow::Result<Vec<String>> {
    let task = crate::resolve::find_task(cluster, &task.unwrap_or_default()).await?;
    Ok(match params {
        true => task.spec.params.into_iter().map(|p| p.name).collect(),
        false => task.spec.workspaces.into_iter().map(|w| w.name).collect(),
    })
}

/// The completion script for `kubectl-task` in `shell`. Each asks
/// `kubectl-task __complete` for the candidates.
pub fn script(shell: &str) -> &'static str {
    match shell {
        "zsh" => ZSH,
        "fish" => FISH,
        _ => BASH,
    }
}

const BASH: &str = r#"# bash completion for kubectl-task; also install kubectl_complete-task on
# your PATH for `kubectl task <TAB>` (kubectl 1.26+).
_kubectl_task() {
    local cur="${COMP_WORDS[COMP_CWORD]}" out directive line
    out=$(kubectl-task __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return
    directive=${out##*:}
    COMPREPLY=()
    while IFS= read -r line; do
        [[ $line == :* || -z $line ]] && continue
        COMPREPLY+=("${line%%$'\t'*}")
    done <<< "$out"
    if [[ ${#COMPREPLY[@]} -eq 0 && $(( directive & 4 )) -eq 0 ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    if (( directive & 2 )); then compopt -o nospace 2>/dev/null; fi
}
complete -F _kubectl_task kubectl-task
"#;

const ZSH: &str = r#"#compdef kubectl-task
# zsh completion for kubectl-task; also install kubectl_complete-task on
# your PATH for `kubectl task <TAB>` (kubectl 1.26+).
_kubectl_task() {
    local -a lines candidates
    lines=("${(@f)$(kubectl-task __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    local directive=${lines[-1]#:}
    local line
    for line in "${(@)lines[1,-2]}"; do
        candidates+=("${${line//:/\\:}/$'\t'/:}")
    done
    if (( directive & 2 )); then
        _describe -t values 'kubectl-task' candidates -S ''
    else
        _describe -t values 'kubectl-task' candidates
    fi
}
compdef _kubectl_task kubectl-task
"#;

const FISH: &str = r#"# fish completion for kubectl-task; also install kubectl_complete-task on
# your PATH for `kubectl task <TAB>` (kubectl 1.26+).
function __kubectl_task_complete
    set -l words (commandline -opc)[2..-1] (commandline -ct)
    kubectl-task __complete $words 2>/dev/null | string match -v -r '^:'
end
complete -c kubectl-task -f -a '(__kubectl_task_complete)'
"#;
