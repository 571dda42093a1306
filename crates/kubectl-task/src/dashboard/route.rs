//! What a request asks for, from its method, path and query. Pure. Names
//! in paths are checked as Kubernetes names, so nothing else reaches an
//! API path.

use std::collections::HashMap;

use super::index::RunKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Definition {
    Task,
    /// Shown and started in the namespace of the page, like a Task.
    ClusterTask,
    Pipeline,
}

impl Definition {
    pub fn plural(self) -> &'static str {
        match self {
            Definition::Task => "tasks",
            Definition::ClusterTask => "clustertasks",
            Definition::Pipeline => "pipelines",
        }
    }

    /// The kind of run it starts.
    pub fn run_kind(self) -> RunKind {
        match self {
            Definition::Task | Definition::ClusterTask => RunKind::TaskRun,
            Definition::Pipeline => RunKind::PipelineRun,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Cancel,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: to the runs.
    Home,
    /// `/runs?kind=&ns=&owner=&phase=&labels=&page=`
    Runs,
    /// `/archive?ns=&kind=&continue=`: runs read from the archive.
    Archive,
    /// `/ns/NS/taskruns/NAME`, `/ns/NS/pipelineruns/NAME`
    Run {
        ns: String,
        kind: RunKind,
        name: String,
    },
    /// POST `/ns/NS/{taskruns,pipelineruns}/NAME/{cancel,delete}`
    Act {
        ns: String,
        kind: RunKind,
        name: String,
        action: Action,
    },
    /// `/ns/NS/{taskruns,pipelineruns}/NAME/rerun`: the start form, filled in.
    Rerun {
        ns: String,
        kind: RunKind,
        name: String,
    },
    /// `/ns/NS/taskruns/NAME/log?step=&attempt=[&raw=1|&follow=1]`
    Log {
        ns: String,
        name: String,
    },
    /// `/ns/NS/pipelineruns/NAME/logs`: every task's logs.
    PipelineLogs {
        ns: String,
        name: String,
    },
    /// `/ns/NS/{tasks,clustertasks,pipelines}`
    Catalog {
        ns: String,
        of: Definition,
    },
    /// `/ns/NS/{tasks,clustertasks,pipelines}/NAME`
    Show {
        ns: String,
        of: Definition,
        name: String,
    },
    /// GET the form, POST to start: `/ns/NS/{tasks,clustertasks,pipelines}/NAME/start`
    Start {
        ns: String,
        of: Definition,
        name: String,
    },
    /// `/events?view=PATH`: server-sent events when that page changes.
    Events,
    /// `/assets/NAME`
    Asset(String),
    NotFound,
}

/// A Kubernetes object name (DNS subdomain: lowercase letters, digits,
/// `-` and `.`, at most 253).
pub fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !text.starts_with(['-', '.'])
}

pub fn parse(path: &str) -> Route {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let name = |s: &str| is_name(s).then(|| s.to_string());
    let run_kind = RunKind::parse;
    let definition = |s: &str| match s {
        "tasks" => Some(Definition::Task),
        "clustertasks" => Some(Definition::ClusterTask),
        "pipelines" => Some(Definition::Pipeline),
        _ => None,
    };
    let route = match parts.as_slice() {
        [] | [""] => Some(Route::Home),
        ["runs"] => Some(Route::Runs),
        ["archive"] => Some(Route::Archive),
        ["events"] => Some(Route::Events),
        ["assets", asset] => Some(Route::Asset(asset.to_string())),
        ["ns", ns, plural] => definition(plural)
            .zip(name(ns))
            .map(|(of, ns)| Route::Catalog { ns, of }),
        ["ns", ns, plural, n] => match (run_kind(plural), definition(plural)) {
            (Some(kind), _) => name(ns).zip(name(n)).map(|(ns, name)| Route::Run { ns, kind, name }),
            (_, Some(of)) => name(ns).zip(name(n)).map(|(ns, name)| Route::Show { ns, of, name }),
            _ => None,
        },
        ["ns", ns, plural, n, verb] => {
            let (ns, n) = (name(ns), name(n));
            match (run_kind(plural), definition(plural), *verb) {
                (Some(kind), _, "cancel" | "delete") => ns.zip(n).map(|(ns, name)| Route::Act {
                    ns,
                    kind,
                    name,
                    action: if *verb == "cancel" {
                        Action::Cancel
                    } else {
                        Action::Delete
                    },
                }),
                (Some(kind), _, "rerun") => ns.zip(n).map(|(ns, name)| Route::Rerun { ns, kind, name }),
                (Some(RunKind::TaskRun), _, "log") => ns.zip(n).map(|(ns, name)| Route::Log { ns, name }),
                (Some(RunKind::PipelineRun), _, "logs") => ns.zip(n).map(|(ns, name)| Route::PipelineLogs { ns, name }),
                (_, Some(of), "start") => ns.zip(n).map(|(ns, name)| Route::Start { ns, of, name }),
                _ => None,
            }
        }
        _ => None,
    };
    route.unwrap_or(Route::NotFound)
}

/// The query's (or a form's) fields; the last of a repeated one wins.
pub fn fields(query: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// A field's value, percent-encoded for a query.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_pages_and_nothing_else_reaches_the_api() {
        assert_eq!(parse("/"), Route::Home);
        assert_eq!(parse("/runs"), Route::Runs);
        assert_eq!(
            parse("/ns/ci/taskruns/build-1"),
            Route::Run {
                ns: "ci".into(),
                kind: RunKind::TaskRun,
                name: "build-1".into()
            }
        );
        assert_eq!(
            parse("/ns/ci/pipelineruns/p-1/cancel"),
            Route::Act {
                ns: "ci".into(),
                kind: RunKind::PipelineRun,
                name: "p-1".into(),
                action: Action::Cancel
            }
        );
        assert_eq!(
            parse("/ns/ci/pipelines/release/start"),
            Route::Start {
                ns: "ci".into(),
                of: Definition::Pipeline,
                name: "release".into()
            }
        );
        assert_eq!(
            parse("/ns/ci/tasks"),
            Route::Catalog {
                ns: "ci".into(),
                of: Definition::Task
            }
        );
        assert_eq!(
            parse("/ns/ci/clustertasks/git-clone/start"),
            Route::Start {
                ns: "ci".into(),
                of: Definition::ClusterTask,
                name: "git-clone".into()
            }
        );
        // Not names: never sent on.
        assert_eq!(parse("/ns/ci/taskruns/..%2Fsecrets"), Route::NotFound);
        assert_eq!(parse("/ns/CI/taskruns/a"), Route::NotFound);
        assert_eq!(parse("/ns/ci/taskruns/a/exec"), Route::NotFound);
        assert_eq!(parse("/ns/ci/pipelineruns/a/log"), Route::NotFound);
    }

    #[test]
    fn fields_are_decoded_and_values_encoded() {
        let f = fields("a=x%20y&b=%2Fp%3Fq&a=z");
        assert_eq!(f["a"], "z");
        assert_eq!(f["b"], "/p?q");
        assert_eq!(encode("team=a,b c"), "team%3Da%2Cb+c");
    }
}
