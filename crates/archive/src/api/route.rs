//! What a request asks for, from its path and query alone. Pure: every
//! malformed value is a 400 naming its parameter, before anything is read.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::selector::Selector;
use super::status::Failure;
use crate::keys::{Kind, checked};

pub const GROUP: &str = "archive.minitask.dev";
pub const VERSION: &str = "v1alpha1";
/// The most items one page holds (and what a list without `limit` gets).
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, PartialEq)]
pub enum Route {
    /// `/healthz`, `/readyz`, `/livez`: no authentication (the kubelet).
    Health,
    /// `/apis`, `/apis/{group}`, `/apis/{group}/{version}`.
    Discovery(Discovery),
    List(List),
    Get {
        kind: Kind,
        namespace: String,
        name: String,
    },
    Log(Log),
}

#[derive(Debug, PartialEq)]
pub enum Discovery {
    Groups,
    Group,
    Resources,
}

#[derive(Debug, PartialEq)]
pub struct List {
    pub kind: Kind,
    pub namespace: String,
    pub limit: usize,
    /// The last key of the previous page.
    pub after: Option<String>,
    pub selector: Selector,
    /// Runs of this Task (or Pipeline) only.
    pub task: Option<String>,
    /// Runs that ended so only: Succeeded or Failed.
    pub phase: Option<String>,
}

#[derive(Debug, PartialEq)]
pub struct Log {
    pub namespace: String,
    pub name: String,
    pub step: Option<String>,
    /// 1 for the first; the last attempt when unset.
    pub attempt: Option<u32>,
    pub tail_lines: Option<usize>,
}

/// What an authorizer is asked: may the user do `verb` on this?
#[derive(Debug, PartialEq)]
pub struct Access<'a> {
    pub verb: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    pub namespace: &'a str,
    pub name: Option<&'a str>,
}

impl Route {
    /// What the request needs to be allowed; None for health and discovery.
    pub fn access(&self) -> Option<Access<'_>> {
        let (verb, resource, subresource, namespace, name) = match self {
            Route::List(l) => ("list", l.kind.plural(), None, l.namespace.as_str(), None),
            Route::Get { kind, namespace, name } => {
                ("get", kind.plural(), None, namespace.as_str(), Some(name.as_str()))
            }
            Route::Log(l) => (
                "get",
                "taskruns",
                Some("log"),
                l.namespace.as_str(),
                Some(l.name.as_str()),
            ),
            Route::Health | Route::Discovery(_) => return None,
        };
        Some(Access {
            verb,
            resource,
            subresource,
            namespace,
            name,
        })
    }
}

/// The route of `GET path?query`.
pub fn route(path: &str, query: Option<&str>) -> Result<Route, Failure> {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let params = Params::parse(query.unwrap_or_default())?;
    let not_found = || Failure::not_found(format!("{path} is not served here"));
    match parts.as_slice() {
        ["healthz" | "readyz" | "livez"] => Ok(Route::Health),
        ["apis"] => Ok(Route::Discovery(Discovery::Groups)),
        ["apis", GROUP] => Ok(Route::Discovery(Discovery::Group)),
        ["apis", GROUP, VERSION] => Ok(Route::Discovery(Discovery::Resources)),
        ["apis", GROUP, VERSION, "namespaces", ns, plural] => {
            let kind = Kind::from_plural(plural).ok_or_else(not_found)?;
            if params.get("watch").is_some_and(|w| w == "true" || w == "1") {
                return Err(Failure::method_not_allowed(
                    "the archive holds runs that ended, which never change: it serves no watch",
                ));
            }
            list(kind, ns, &params)
        }
        ["apis", GROUP, VERSION, "namespaces", ns, plural, name] => {
            let kind = Kind::from_plural(plural).ok_or_else(not_found)?;
            Ok(Route::Get {
                kind,
                namespace: name_param("namespace", ns)?,
                name: name_param("name", name)?,
            })
        }
        ["apis", GROUP, VERSION, "namespaces", ns, "taskruns", name, "log"] => Ok(Route::Log(Log {
            namespace: name_param("namespace", ns)?,
            name: name_param("name", name)?,
            step: params.get("step").map(|s| name_param("step", s)).transpose()?,
            attempt: params.number("attempt", 1, u32::MAX as usize)?.map(|n| n as u32),
            tail_lines: params.number("tailLines", 0, usize::MAX)?,
        })),
        _ => Err(not_found()),
    }
}

fn list(kind: Kind, ns: &str, params: &Params) -> Result<Route, Failure> {
    let namespace = name_param("namespace", ns)?;
    let task = params.get("task").map(|t| name_param("task", t)).transpose()?;
    let phase = match params.get("phase") {
        None => None,
        Some(p @ ("Succeeded" | "Failed")) => Some(p.to_string()),
        Some(other) => {
            return Err(Failure::bad_request(format!(
                "phase {other:?}: the archive holds runs that ended, Succeeded or Failed"
            )));
        }
    };
    let after = params
        .get("continue")
        .filter(|c| !c.is_empty())
        .map(token_key)
        .transpose()?;
    Ok(Route::List(List {
        kind,
        namespace,
        limit: params
            .number("limit", 0, usize::MAX)?
            .filter(|n| *n > 0)
            .unwrap_or(MAX_LIMIT)
            .min(MAX_LIMIT),
        after,
        selector: Selector::parse(params.get("labelSelector").unwrap_or_default())?,
        task,
        phase,
    }))
}

fn name_param(field: &'static str, value: &str) -> Result<String, Failure> {
    checked(field, value)
        .map(str::to_string)
        .map_err(|e| Failure::bad_request(e.to_string()))
}

/// The `continue` token of a page that ended at `key`.
pub fn token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The key a `continue` token carries. Whether it belongs to the list it
/// is sent with is checked where the list's keys are known.
fn token_key(token: &str) -> Result<String, Failure> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|k| k.starts_with("v1/") && !k.contains(".."))
        .ok_or_else(|| Failure::bad_request("continue: not a token this server gave; start the list again without it"))
}

/// The query's parameters, percent-decoded.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Result<Params, Failure> {
        let mut out = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode(s)
                    .ok_or_else(|| Failure::bad_request(format!("query parameter {k}: bad percent-encoding")))
            };
            out.push((decode(k)?, decode(v)?));
        }
        Ok(Params(out))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str, min: usize, max: usize) -> Result<Option<usize>, Failure> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Failure::bad_request(format!(
                "{key} {value:?}: a whole number of at least {min} is expected"
            ))),
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/apis/archive.minitask.dev/v1alpha1/namespaces/team-a";

    fn bad(path: &str, query: &str) -> String {
        let failure = route(path, Some(query)).unwrap_err();
        assert_eq!(failure.code, 400, "{path}?{query}: {failure:?}");
        failure.message
    }

    #[test]
    fn lists_gets_and_logs_are_told_apart() {
        let Route::List(list) = route(&format!("{BASE}/taskruns"), Some("limit=20&task=build&phase=Failed")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (list.limit, list.task.as_deref(), list.phase.as_deref()),
            (20, Some("build"), Some("Failed"))
        );
        assert_eq!(
            route(&format!("{BASE}/pipelineruns/ci-1"), None).unwrap(),
            Route::Get {
                kind: Kind::PipelineRun,
                namespace: "team-a".into(),
                name: "ci-1".into()
            }
        );
        let Route::Log(log) = route(
            &format!("{BASE}/taskruns/b-1/log"),
            Some("step=test&attempt=2&tailLines=10"),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (log.step.as_deref(), log.attempt, log.tail_lines),
            (Some("test"), Some(2), Some(10))
        );
        assert_eq!(
            route("/apis/archive.minitask.dev/v1alpha1", None).unwrap(),
            Route::Discovery(Discovery::Resources)
        );
        assert_eq!(route(&format!("{BASE}/pods"), None).unwrap_err().code, 404);
        assert_eq!(
            route(&format!("{BASE}/pipelineruns/x/log"), None).unwrap_err().code,
            404
        );
    }

    #[test]
    fn a_continue_token_round_trips_and_a_forged_one_is_refused() {
        let key = "v1/team-a/taskruns/runs/823599/99/8235999999998-b.u.json.gz";
        let Route::List(list) = route(&format!("{BASE}/taskruns"), Some(&format!("continue={}", token(key)))).unwrap()
        else {
            panic!()
        };
        assert_eq!(list.after.as_deref(), Some(key));
        assert!(bad(&format!("{BASE}/taskruns"), "continue=%%%").starts_with("query parameter continue"));
        assert!(bad(&format!("{BASE}/taskruns"), "continue=bm90LWEta2V5").starts_with("continue: not a token"));
        let climbing = token("v1/team-a/../team-b/taskruns/runs/x");
        assert!(bad(&format!("{BASE}/taskruns"), &format!("continue={climbing}")).starts_with("continue:"));
    }

    #[test]
    fn bad_values_are_refused_naming_their_parameter() {
        let list = format!("{BASE}/taskruns");
        assert!(bad(&list, "limit=-1").starts_with("limit \"-1\""));
        assert!(bad(&list, "phase=Running").starts_with("phase \"Running\""));
        assert!(bad(&list, "task=..%2Fx").starts_with("task \"../x\" is not a Kubernetes name"));
        assert!(bad(&list, "labelSelector=a%3D%3D%3Db").starts_with("labelSelector"));
        assert!(bad(&format!("{BASE}/taskruns/b/log"), "attempt=0").starts_with("attempt \"0\""));
        assert!(bad(&format!("{BASE}/taskruns/b/log"), "step=A").starts_with("step \"A\""));
        assert!(
            bad(
                "/apis/archive.minitask.dev/v1alpha1/namespaces/..%2Fteam-b/taskruns",
                ""
            )
            .starts_with("namespace")
        );
        assert_eq!(route(&list, Some("watch=true")).unwrap_err().code, 405);
    }
}
