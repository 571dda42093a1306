//! A run's param values: checked against what the Task declares, with
//! defaults filled in, and handed to every step as environment variables.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::EnvVar;
use minitask_api::{Param, ParamSpec, ParamValue};

use crate::pod::script::escape;

/// The value of every param `declared`, from `given` or the default; or
/// every problem found, each a sentence.
pub fn resolve(declared: &[ParamSpec], given: &[Param]) -> Result<BTreeMap<String, ParamValue>, Vec<String>> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    for param in given {
        if !declared.iter().any(|d| d.name == param.name) {
            let known: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            problems.push(match known.is_empty() {
                true => format!("param {:?} is not declared: the Task takes no params", param.name),
                false => format!(
                    "param {:?} is not declared: the Task takes {}",
                    param.name,
                    known.join(", ")
                ),
            });
        }
    }
    for spec in declared {
        let from_run = given.iter().find(|p| p.name == spec.name).map(|p| &p.value);
        let (value, source) = match (from_run, &spec.default) {
            (Some(value), _) => (value, "value"),
            (None, Some(default)) => (default, "default"),
            (None, None) => {
                problems.push(format!("param {:?} is required: it has no default", spec.name));
                continue;
            }
        };
        let Some(type_) = value.type_() else {
            problems.push(format!(
                "param {:?} must be a string or a list of strings, but its {source} is {}",
                spec.name,
                serde_json::to_string(value).unwrap_or_default()
            ));
            continue;
        };
        if type_ != spec.type_ {
            let (want, got) = (spec.type_.as_str(), type_.as_str());
            problems.push(format!(
                "param {:?} is {} {want}, but its {source} is {} {got}",
                spec.name,
                article(want),
                article(got)
            ));
            continue;
        }
        values.insert(spec.name.clone(), value.clone());
    }
    let mut by_env: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for spec in declared {
        by_env.entry(env_name(&spec.name)).or_default().push(&spec.name);
    }
    for (env, names) in by_env.iter().filter(|(_, names)| names.len() > 1) {
        problems.push(format!(
            "params {} all become the environment variable {env}: rename all but one",
            names.join(", ")
        ));
    }
    if problems.is_empty() { Ok(values) } else { Err(problems) }
}

fn article(word: &str) -> &'static str {
    if word.starts_with('a') { "an" } else { "a" }
}

/// `PARAM_` and the param's name in upper case with '-' as '_':
/// `image-tag` is `PARAM_IMAGE_TAG`.
pub fn env_name(param: &str) -> String {
    format!("PARAM_{}", param.to_ascii_uppercase().replace('-', "_"))
}

/// One environment variable per param; an array's items are joined with
/// newlines. Values are escaped so the kubelet's `$(VAR)` expansion leaves
/// them exactly as given.
pub fn env_vars(values: &BTreeMap<String, ParamValue>) -> Vec<EnvVar> {
    values
        .iter()
        .map(|(name, value)| EnvVar {
            name: env_name(name),
            value: Some(escape(&match value {
                ParamValue::String(s) => s.clone(),
                ParamValue::Array(items) => items.join("\n"),
                ParamValue::Other(other) => other.to_string(),
            })),
            value_from: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use minitask_api::ParamType;

    fn spec(name: &str, type_: ParamType, default: Option<ParamValue>) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            type_,
            description: None,
            default,
        }
    }

    fn s(v: &str) -> ParamValue {
        ParamValue::String(v.into())
    }

    fn a(v: &[&str]) -> ParamValue {
        ParamValue::Array(v.iter().map(|x| x.to_string()).collect())
    }

    fn given(name: &str, value: ParamValue) -> Param {
        Param {
            name: name.into(),
            value,
        }
    }

    #[test]
    fn values_come_from_the_run_then_the_default() {
        let declared = [
            spec("who", ParamType::String, Some(s("world"))),
            spec("greeting", ParamType::String, None),
            spec("files", ParamType::Array, Some(a(&["x"]))),
        ];
        let got = resolve(&declared, &[given("greeting", s("hi")), given("files", a(&[]))]).unwrap();
        let want = BTreeMap::from([
            ("who".to_string(), s("world")),
            ("greeting".to_string(), s("hi")),
            ("files".to_string(), a(&[])),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        struct Case {
            name: &'static str,
            declared: Vec<ParamSpec>,
            given: Vec<Param>,
            want: &'static [&'static str],
        }
        let cases = [
            Case {
                name: "no params declared",
                declared: vec![],
                given: vec![given("x", s("1"))],
                want: &["param \"x\" is not declared: the Task takes no params"],
            },
            Case {
                name: "missing, unknown and mistyped together",
                declared: vec![
                    spec("required", ParamType::String, None),
                    spec("files", ParamType::Array, None),
                    spec("name", ParamType::String, Some(s("n"))),
                ],
                given: vec![
                    given("typo", s("1")),
                    given("files", s("a.txt")),
                    given("name", a(&["n"])),
                ],
                want: &[
                    "param \"typo\" is not declared: the Task takes required, files, name",
                    "param \"required\" is required: it has no default",
                    "param \"files\" is an array, but its value is a string",
                    "param \"name\" is a string, but its value is an array",
                ],
            },
            Case {
                name: "neither a string nor a list of strings",
                declared: vec![spec("n", ParamType::String, None), spec("l", ParamType::Array, None)],
                given: vec![
                    given("n", ParamValue::Other(serde_json::json!(3))),
                    given("l", ParamValue::Other(serde_json::json!([1]))),
                ],
                want: &[
                    "param \"n\" must be a string or a list of strings, but its value is 3",
                    "param \"l\" must be a string or a list of strings, but its value is [1]",
                ],
            },
            Case {
                name: "a default of the wrong type",
                declared: vec![spec("files", ParamType::Array, Some(s("x")))],
                given: vec![],
                want: &["param \"files\" is an array, but its default is a string"],
            },
            Case {
                name: "names that collide as environment variables",
                declared: vec![
                    spec("image-tag", ParamType::String, Some(s("1"))),
                    spec("IMAGE_TAG", ParamType::String, Some(s("2"))),
                ],
                given: vec![],
                want: &[
                    "params image-tag, IMAGE_TAG all become the environment variable PARAM_IMAGE_TAG: rename all but one",
                ],
            },
        ];
        for case in cases {
            let got = resolve(&case.declared, &case.given).unwrap_err();
            assert_eq!(got, case.want, "{}", case.name);
        }
    }

    #[test]
    fn params_become_escaped_environment_variables() {
        let values = BTreeMap::from([
            ("image-tag".to_string(), s("v1 $(HOME)")),
            ("files".to_string(), a(&["a", "b c"])),
        ]);
        let env: Vec<(String, String)> = env_vars(&values)
            .into_iter()
            .map(|e| (e.name, e.value.unwrap()))
            .collect();
        assert_eq!(
            env,
            [
                ("PARAM_FILES".to_string(), "a\nb c".to_string()),
                ("PARAM_IMAGE_TAG".to_string(), "v1 $$(HOME)".to_string()),
            ]
        );
    }
}
