//! The references a Pipeline's text makes: `$(params.x)`,
//! `$(tasks.t.results.r)`, `$(tasks.t.status)`, `$(tasks.status)`,
//! `$(context...)`. Read once, linearly, for the graph and the checks.

use minitask_api::{Param, ParamValue, PipelineTask};

/// What one reference in a Pipeline names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref<'a> {
    Param(&'a str),
    /// `$(tasks.<task>.results.<result>)`, possibly `[*]`.
    Result {
        task: &'a str,
        result: &'a str,
    },
    /// `$(tasks.<task>.status)`.
    Status(&'a str),
    /// `$(tasks.status)`.
    AllStatus,
    /// `$(context.*)`, and anything not ours.
    Other,
    /// Under `tasks.` but none of the above.
    BadTasks(&'a str),
}

/// Every `$(...)` reference in `text`, in order.
pub fn refs(text: &str) -> Vec<Ref<'_>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        // `$(cmd $(params.x))` in a script: the inner one is the reference.
        if after[..end].contains("$(") {
            rest = after;
            continue;
        }
        found.push(classify(&after[..end]));
        rest = &after[end + 1..];
    }
    found
}

fn classify(inner: &str) -> Ref<'_> {
    let inner_no_star = inner.strip_suffix("[*]").unwrap_or(inner);
    if let Some(name) = inner.strip_prefix("params.") {
        let name = name.split('[').next().unwrap_or(name);
        return Ref::Param(name);
    }
    let Some(tasks) = inner_no_star.strip_prefix("tasks.") else {
        return Ref::Other;
    };
    if tasks == "status" {
        return Ref::AllStatus;
    }
    let mut parts = tasks.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(task), Some("status"), None, None) => Ref::Status(task),
        (Some(task), Some("results"), Some(result), None) => Ref::Result { task, result },
        _ => Ref::BadTasks(inner),
    }
}

/// Every text of a pipeline task that may hold references: its params'
/// values, its matrix's, and its `when` inputs, values and CEL.
pub fn texts(task: &PipelineTask) -> Vec<&str> {
    let mut all = values(&task.params);
    if let Some(matrix) = &task.matrix {
        all.extend(values(&matrix.params));
    }
    for when in &task.when {
        all.push(&when.input);
        all.extend(when.values.iter().map(String::as_str));
        all.extend(when.cel.as_deref());
    }
    all
}

fn values(params: &[Param]) -> Vec<&str> {
    params
        .iter()
        .flat_map(|p| match &p.value {
            ParamValue::String(s) => vec![s.as_str()],
            ParamValue::Array(items) => items.iter().map(String::as_str).collect(),
            ParamValue::Other(_) => Vec::new(),
        })
        .collect()
}

/// The tasks whose results `task` uses, with the result's name.
pub fn result_sources(task: &PipelineTask) -> Vec<(&str, &str)> {
    texts(task)
        .into_iter()
        .flat_map(refs)
        .filter_map(|r| match r {
            Ref::Result { task, result } => Some((task, result)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_from_text() {
        let got = refs(
            "build $(params.image) at $(tasks.fetch.results.commit) [$(tasks.a.status)] $(tasks.status) $(context.pipelineRun.name) $(tasks.x.results) $(date) $(params.files[*]) $(tasks.m.results.r[*])",
        );
        assert_eq!(
            got,
            [
                Ref::Param("image"),
                Ref::Result {
                    task: "fetch",
                    result: "commit"
                },
                Ref::Status("a"),
                Ref::AllStatus,
                Ref::Other,
                Ref::BadTasks("tasks.x.results"),
                Ref::Other,
                Ref::Param("files"),
                Ref::Result { task: "m", result: "r" },
            ]
        );
        assert_eq!(refs("no $(end"), []);
        assert_eq!(refs("$(echo $(params.x))"), [Ref::Param("x")], "the inner one");
    }
}
