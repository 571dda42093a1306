//! Object names as kubectl writes them (`taskrun/x`, `tr/x`,
//! `taskrun.minitask.dev/x`, `task/x`, `pipeline/x`, `plr/x`...), so that
//! `-o name` output can be piped back in, and "did you mean" for names
//! that are almost right.

/// The kinds of object the plugin takes by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Task,
    ClusterTask,
    TaskRun,
    Pipeline,
    PipelineRun,
}

impl Kind {
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::ClusterTask => "clustertask",
            Kind::TaskRun => "taskrun",
            Kind::Pipeline => "pipeline",
            Kind::PipelineRun => "pipelinerun",
        }
    }

    /// `taskrun.minitask.dev/x`: what `-o name` prints.
    pub fn qualified(self, name: &str) -> String {
        format!("{}.minitask.dev/{name}", self.singular())
    }
}

/// A run kind written alone (`pipelinerun`, `plr`, `taskruns`...), as in
/// `kubectl task logs pipelinerun --last`.
pub fn run_kind_word(text: &str) -> Option<Kind> {
    match text.strip_suffix(".minitask.dev").unwrap_or(text) {
        "taskrun" | "taskruns" | "tr" => Some(Kind::TaskRun),
        "pipelinerun" | "pipelineruns" | "plr" => Some(Kind::PipelineRun),
        _ => None,
    }
}

/// `text` as a kind (when it names one) and a name.
pub fn parse(text: &str) -> anyhow::Result<(Option<Kind>, String)> {
    let Some((kind, name)) = text.split_once('/') else {
        return Ok((None, text.to_string()));
    };
    anyhow::ensure!(
        !name.is_empty() && !name.contains('/'),
        "{text:?} is not a name: use NAME or KIND/NAME"
    );
    let kind = match kind.strip_suffix(".minitask.dev").unwrap_or(kind) {
        "taskrun" | "taskruns" | "tr" => Kind::TaskRun,
        "task" | "tasks" | "tsk" => Kind::Task,
        "clustertask" | "clustertasks" | "ctsk" => Kind::ClusterTask,
        "pipelinerun" | "pipelineruns" | "plr" => Kind::PipelineRun,
        "pipeline" | "pipelines" | "pl" => Kind::Pipeline,
        other => anyhow::bail!(
            "{text:?}: {other:?} is not a kind this plugin knows; use task/, clustertask/, taskrun/, pipeline/ or pipelinerun/NAME"
        ),
    };
    Ok((Some(kind), name.to_string()))
}

/// A TaskRun's name, from `x`, `taskrun/x` or `tr/x`.
pub fn run_name(text: &str) -> anyhow::Result<String> {
    match parse(text)? {
        (None | Some(Kind::TaskRun), name) => Ok(name),
        (Some(Kind::Task | Kind::ClusterTask), name) => anyhow::bail!(
            "{text:?} is a Task; this command takes a TaskRun (list the runs of {name} with `kubectl task runs --task {name}`)"
        ),
        (Some(Kind::Pipeline), name) => anyhow::bail!(
            "{text:?} is a Pipeline; this command takes a run (list the runs of {name} with `kubectl task runs pipelineruns --pipeline {name}`)"
        ),
        (Some(Kind::PipelineRun), _) => anyhow::bail!("{text:?} is a PipelineRun; this command takes a TaskRun"),
    }
}

/// A run named for a command that takes either kind: `x` (whichever
/// exists), `taskrun/x` or `pipelinerun/x`.
pub fn any_run(text: &str) -> anyhow::Result<(Option<Kind>, String)> {
    match parse(text)? {
        (kind @ (None | Some(Kind::TaskRun | Kind::PipelineRun)), name) => Ok((kind, name)),
        (Some(Kind::Task | Kind::ClusterTask), name) => anyhow::bail!(
            "{text:?} is a Task; this command takes a run (list the runs of {name} with `kubectl task runs --task {name}`)"
        ),
        (Some(Kind::Pipeline), name) => anyhow::bail!(
            "{text:?} is a Pipeline; this command takes a run (list its runs with `kubectl task runs pipelineruns --pipeline {name}`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_in_every_form_kubectl_prints() {
        for text in [
            "x",
            "taskrun/x",
            "taskruns/x",
            "tr/x",
            "taskrun.minitask.dev/x",
            "taskruns.minitask.dev/x",
        ] {
            assert_eq!(run_name(text).unwrap(), "x", "{text}");
        }
        assert_eq!(parse("task/hello").unwrap(), (Some(Kind::Task), "hello".into()));
        assert_eq!(parse("tsk/hello").unwrap(), (Some(Kind::Task), "hello".into()));
        assert!(run_name("task/hello").unwrap_err().to_string().contains("is a Task"));
        assert!(
            parse("pod/x")
                .unwrap_err()
                .to_string()
                .contains("not a kind this plugin knows")
        );
        assert!(parse("taskrun/").is_err());
        assert_eq!(Kind::TaskRun.qualified("x"), "taskrun.minitask.dev/x");
        for (text, kind) in [
            ("pipeline/ci", Kind::Pipeline),
            ("pl/ci", Kind::Pipeline),
            ("pipelines.minitask.dev/ci", Kind::Pipeline),
            ("pipelinerun/ci", Kind::PipelineRun),
            ("plr/ci", Kind::PipelineRun),
        ] {
            assert_eq!(parse(text).unwrap(), (Some(kind), "ci".into()), "{text}");
        }
        assert_eq!(any_run("plr/ci-1").unwrap(), (Some(Kind::PipelineRun), "ci-1".into()));
        assert_eq!(any_run("ci-1").unwrap(), (None, "ci-1".into()));
        assert!(
            any_run("pipeline/ci")
                .unwrap_err()
                .to_string()
                .contains("is a Pipeline")
        );
        assert!(run_name("plr/x").unwrap_err().to_string().contains("is a PipelineRun"));
        assert_eq!(Kind::PipelineRun.qualified("x"), "pipelinerun.minitask.dev/x");
    }
}
