//! Label selectors, as `kubectl get -l` sends them: `a=b`, `a==b`, `a!=b`,
//! `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, joined by commas. Pure.

use std::collections::BTreeMap;

use super::status::Failure;

#[derive(Debug, PartialEq, Default)]
pub struct Selector(Vec<Requirement>);

#[derive(Debug, PartialEq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, Failure> {
        let bad = |why: &str| Failure::bad_request(format!("labelSelector {text:?}: {why}"));
        let mut out = Vec::new();
        for part in split_top(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let requirement = if let Some(name) = part.strip_prefix('!') {
                Requirement::Absent(key(name.trim()).map_err(|w| bad(&w))?)
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotIn(
                    key(k.trim()).map_err(|w| bad(&w))?,
                    vec![value(v.trim()).map_err(|w| bad(&w))?],
                )
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::In(
                    key(k.trim()).map_err(|w| bad(&w))?,
                    vec![value(v.trim()).map_err(|w| bad(&w))?],
                )
            } else if let Some((k, set)) = part.split_once(" notin ") {
                Requirement::NotIn(key(k.trim()).map_err(|w| bad(&w))?, values(set).map_err(|w| bad(&w))?)
            } else if let Some((k, set)) = part.split_once(" in ") {
                Requirement::In(key(k.trim()).map_err(|w| bad(&w))?, values(set).map_err(|w| bad(&w))?)
            } else {
                Requirement::Exists(key(part).map_err(|w| bad(&w))?)
            };
            out.push(requirement);
        }
        Ok(Selector(out))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::Absent(k) => !labels.contains_key(k),
        })
    }
}

/// Splits at commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn key(k: &str) -> Result<String, String> {
    let name = k.rsplit('/').next().unwrap_or_default();
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    if !k.is_empty() && k.len() <= 317 && !name.is_empty() && name.len() <= 63 && k.chars().all(ok) {
        Ok(k.to_string())
    } else {
        Err(format!("{k:?} is not a label key"))
    }
}

fn value(v: &str) -> Result<String, String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if v.len() <= 63 && v.chars().all(ok) {
        Ok(v.to_string())
    } else {
        Err(format!("{v:?} is not a label value"))
    }
}

fn values(set: &str) -> Result<Vec<String>, String> {
    let inner = set
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("{set:?}: a set is written (a,b)"))?;
    inner.split(',').map(|v| value(v.trim())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn selectors_match_as_kubectl_means_them() {
        let l = labels(&[("team", "a"), ("minitask.dev/task", "build")]);
        for (text, want) in [
            ("", true),
            ("team=a", true),
            ("team==b", false),
            ("team!=b", true),
            ("team,minitask.dev/task=build", true),
            ("!team", false),
            ("!other", true),
            ("team in (a,b)", true),
            ("team notin (a, b)", false),
            ("other", false),
        ] {
            assert_eq!(Selector::parse(text).unwrap().matches(&l), want, "{text}");
        }
    }

    #[test]
    fn a_malformed_selector_names_itself() {
        for text in ["a===b", "a in x", "a=b c", "(=)"] {
            let e = Selector::parse(text).unwrap_err();
            assert!(
                e.message.starts_with(&format!("labelSelector {text:?}")),
                "{}",
                e.message
            );
        }
    }
}
