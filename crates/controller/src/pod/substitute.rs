//! `$(params.x)`, `$(results.x.path)`, `$(workspaces.x.path)` and
//! `$(context.taskRun.name)`: replacing references in step fields with
//! their values. Pure functions; every problem is collected, not just the
//! first, so one failed run names them all.
//!
//! Only references under `params.`, `results.`, `workspaces.` and
//! `context.` are a Task's (`params.`, `context.` and `tasks.` a
//! Pipeline's); anything else, such as a shell's `$(date)`, is left alone.

use std::collections::BTreeMap;

use minitask_api::ParamValue;

use crate::pod::script::escape;

/// The values references resolve to, by their text inside `$( )`.
#[derive(Clone, Debug, PartialEq)]
pub struct Vars {
    pub values: BTreeMap<String, ParamValue>,
    /// Whose references these are: a Task's or a Pipeline's.
    pub scope: Scope,
}

impl Default for Vars {
    fn default() -> Self {
        Vars::new(Scope::Task)
    }
}

/// A text that may name an array as a whole.
pub enum Whole<'a> {
    /// It does not: substitute it as a string.
    No,
    /// The array's items.
    Items(&'a Vec<String>),
    /// It names something that is not an array (a problem is recorded).
    Problem,
}

/// Whose references are substituted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scope {
    /// A Task's steps: params, results, workspaces, context.
    Task,
    /// A Pipeline's task params and conditions: params, context, tasks.
    Pipeline,
}

impl Scope {
    fn prefixes(self) -> &'static [&'static str] {
        match self {
            Scope::Task => &["params.", "results.", "workspaces.", "context."],
            Scope::Pipeline => &["params.", "context.", "tasks."],
        }
    }

    fn declarer(self) -> &'static str {
        match self {
            Scope::Task => "Task",
            Scope::Pipeline => "Pipeline",
        }
    }
}

/// Where a reference sits, which decides what it may expand to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field {
    /// Text handed to a shell or image as is: script, image, workingDir.
    Raw,
    /// command, args and env values, which the kubelet expands again:
    /// inserted values have their `$` doubled so they arrive unchanged.
    Expanded,
}

impl Vars {
    pub fn new(scope: Scope) -> Vars {
        Vars {
            values: BTreeMap::new(),
            scope,
        }
    }

    /// `text` with every reference replaced; `what` names the field in
    /// problems, such as `step "build" script`.
    pub fn string(&self, text: &str, field: Field, what: &str, problems: &mut Vec<String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("$(") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let reference = &after[..end];
            match self.lookup(reference, what) {
                // A shell's `$(ls $(workspaces.data.path))`: the inner
                // reference is still ours to fill.
                Lookup::NotOurs => {
                    out.push_str("$(");
                    rest = after;
                    continue;
                }
                Lookup::Found(value) => out.push_str(&match field {
                    Field::Raw => value,
                    Field::Expanded => escape(&value),
                }),
                Lookup::Problem(problem) => {
                    problems.push(problem);
                    out.push_str(&rest[start..start + 3 + end]);
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// A command or args list: an item that is exactly `$(params.x[*])`
    /// becomes the array's items; other items are substituted as strings.
    pub fn list(&self, items: &[String], what: &str, problems: &mut Vec<String>) -> Vec<String> {
        self.list_in(items, Field::Expanded, what, problems)
    }

    /// `list`, for a field of kind `field`.
    pub fn list_in(&self, items: &[String], field: Field, what: &str, problems: &mut Vec<String>) -> Vec<String> {
        let mut out = Vec::new();
        for item in items {
            match self.whole_array(item, what, problems) {
                Whole::Items(values) => out.extend(values.iter().map(|v| match field {
                    Field::Raw => v.clone(),
                    Field::Expanded => escape(v),
                })),
                Whole::Problem => out.push(item.clone()),
                Whole::No => out.push(self.string(item, field, what, problems)),
            }
        }
        out
    }

    /// What `text` is when it names an array as a whole, `$(<ref>[*])`.
    pub fn whole_array(&self, text: &str, what: &str, problems: &mut Vec<String>) -> Whole<'_> {
        let Some(reference) = text
            .strip_prefix("$(")
            .and_then(|r| r.strip_suffix("[*])"))
            .filter(|r| !r.contains(')'))
        else {
            return Whole::No;
        };
        match self.values.get(reference) {
            Some(ParamValue::Array(values)) => Whole::Items(values),
            Some(ParamValue::String(_) | ParamValue::Other(_)) => {
                let name = reference.strip_prefix("params.").unwrap_or(reference);
                problems.push(format!(
                    "{what}: $({reference}[*]) expands arrays, but {} is a string; use $({reference})",
                    match reference.starts_with("params.") {
                        true => format!("param {name:?}"),
                        false => format!("{reference:?}"),
                    }
                ));
                Whole::Problem
            }
            None => Whole::No,
        }
    }

    fn lookup(&self, reference: &str, what: &str) -> Lookup {
        if !self.scope.prefixes().iter().any(|prefix| reference.starts_with(prefix)) {
            return Lookup::NotOurs;
        }
        if let Some(value) = self.values.get(reference) {
            return match value {
                ParamValue::String(s) => Lookup::Found(s.clone()),
                // resolve() has refused these already.
                ParamValue::Other(v) => Lookup::Found(v.to_string()),
                ParamValue::Array(_) => Lookup::Problem(format!(
                    "{what}: array param {:?} can only be used as a whole item of command or args, as \"$({reference}[*])\"",
                    reference.trim_start_matches("params.")
                )),
            };
        }
        if let Some((name, index)) = indexed(reference) {
            return match self.values.get(&format!("params.{name}")) {
                Some(ParamValue::Array(items)) => match items.get(index) {
                    Some(item) => Lookup::Found(item.clone()),
                    None => Lookup::Problem(format!(
                        "{what}: $({reference}) is out of range: param {name:?} has {} items",
                        items.len()
                    )),
                },
                Some(_) => Lookup::Problem(format!(
                    "{what}: $({reference}) indexes param {name:?}, which is a string"
                )),
                None => Lookup::Problem(format!(
                    "{what}: $({reference}) refers to param {name:?}, which the {} does not declare",
                    self.scope.declarer()
                )),
            };
        }
        if reference.starts_with("params.") && reference.ends_with("[*]") {
            return Lookup::Problem(format!(
                "{what}: $({reference}) must be a whole item of command or args to expand an array"
            ));
        }
        if let Some(name) = reference.strip_prefix("params.") {
            return Lookup::Problem(format!(
                "{what}: $({reference}) refers to param {name:?}, which the {} does not declare",
                self.scope.declarer()
            ));
        }
        Lookup::Problem(format!(
            "{what}: $({reference}) refers to nothing the {} declares",
            self.scope.declarer()
        ))
    }
}

enum Lookup {
    NotOurs,
    Found(String),
    Problem(String),
}

/// `params.name[3]` as ("name", 3).
fn indexed(reference: &str) -> Option<(&str, usize)> {
    let inner = reference.strip_prefix("params.")?.strip_suffix(']')?;
    let (name, index) = inner.split_once('[')?;
    Some((name, index.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut values = BTreeMap::new();
        values.insert("params.who".into(), ParamValue::String("world $(HOME) $$".into()));
        values.insert(
            "params.files".into(),
            ParamValue::Array(vec!["a b".into(), "$c".into()]),
        );
        values.insert(
            "results.digest.path".into(),
            ParamValue::String("/minitask/results/digest".into()),
        );
        Vars {
            values,
            scope: Scope::Task,
        }
    }

    #[test]
    fn strings_are_substituted_and_every_problem_is_reported() {
        struct Case {
            text: &'static str,
            field: Field,
            want: &'static str,
            problems: &'static [&'static str],
        }
        let cases = [
            Case {
                text: "hello $(params.who)!",
                field: Field::Raw,
                want: "hello world $(HOME) $$!",
                problems: &[],
            },
            Case {
                text: "$(params.who)",
                field: Field::Expanded,
                want: "world $$(HOME) $$$$",
                problems: &[],
            },
            Case {
                text: "echo $(date) $(HOME) $( ls ) $(params.who",
                field: Field::Raw,
                want: "echo $(date) $(HOME) $( ls ) $(params.who",
                problems: &[],
            },
            Case {
                text: "n=$(ls -1 $(results.digest.path) | wc -l) $($(params.who))",
                field: Field::Raw,
                want: "n=$(ls -1 /minitask/results/digest | wc -l) $(world $(HOME) $$)",
                problems: &[],
            },
            Case {
                text: "> $(results.digest.path) $(params.files[1])",
                field: Field::Raw,
                want: "> /minitask/results/digest $c",
                problems: &[],
            },
            Case {
                text: "$(params.nope) $(params.files) $(results.x.path) $(params.files[5]) $(params.who[0]) $(params.files[*])",
                field: Field::Raw,
                want: "$(params.nope) $(params.files) $(results.x.path) $(params.files[5]) $(params.who[0]) $(params.files[*])",
                problems: &[
                    "f: $(params.nope) refers to param \"nope\", which the Task does not declare",
                    "f: array param \"files\" can only be used as a whole item of command or args, as \"$(params.files[*])\"",
                    "f: $(results.x.path) refers to nothing the Task declares",
                    "f: $(params.files[5]) is out of range: param \"files\" has 2 items",
                    "f: $(params.who[0]) indexes param \"who\", which is a string",
                    "f: $(params.files[*]) must be a whole item of command or args to expand an array",
                ],
            },
        ];
        for case in cases {
            let mut problems = Vec::new();
            let got = vars().string(case.text, case.field, "f", &mut problems);
            assert_eq!(got, case.want, "{}", case.text);
            assert_eq!(problems, case.problems, "{}", case.text);
        }
    }

    #[test]
    fn arrays_expand_into_whole_list_items() {
        let items: Vec<String> = ["ls", "$(params.files[*])", "--who=$(params.who)"]
            .map(String::from)
            .to_vec();
        let mut problems = Vec::new();
        let got = vars().list(&items, "f", &mut problems);
        assert_eq!(got, ["ls", "a b", "$$c", "--who=world $$(HOME) $$$$"]);
        assert!(problems.is_empty(), "{problems:?}");

        let got = vars().list(&["$(params.who[*])".to_string()], "f", &mut problems);
        assert_eq!(got, ["$(params.who[*])"]);
        assert_eq!(
            problems,
            ["f: $(params.who[*]) expands arrays, but param \"who\" is a string; use $(params.who)"]
        );
    }
}
