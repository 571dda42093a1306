//! kubectl's JSONPath templates, for `-o jsonpath=...` and
//! `-o custom-columns=...`: fields (`.a.b`, `['a.b']`), indexes (`[0]`,
//! `[-1]`), every item (`[*]`), filters (`[?(@.type=="Succeeded")]`),
//! `{range ...}...{end}`, quoted text (`{"\n"}`) and `{@}`.

use serde_json::Value;

/// A parsed template.
#[derive(Debug, PartialEq)]
pub struct Template(Vec<Part>);

#[derive(Debug, PartialEq)]
enum Part {
    Text(String),
    Path(Vec<Step>),
    Range(Vec<Step>, Vec<Part>),
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    Filter(Vec<Step>, bool, Value),
}

impl Template {
    /// Parses a template such as `{.metadata.name}{"\n"}`. A bare path
    /// (`.metadata.name`, as custom-columns take it) is a whole template.
    pub fn parse(text: &str) -> anyhow::Result<Template> {
        let text = text.trim_start();
        if text.starts_with('.') && !text.contains('{') {
            return Ok(Template(vec![Part::Path(path(text)?)]));
        }
        let (parts, rest) = parts(text, false)?;
        anyhow::ensure!(rest.is_empty(), "jsonpath {text:?}: {{end}} without {{range}}");
        Ok(Template(parts))
    }

    /// The template applied to `root`: each expression's values, joined by
    /// spaces, between the literal text.
    pub fn render(&self, root: &Value) -> String {
        let mut out = String::new();
        render(&self.0, root, &mut out);
        out
    }

    /// Every value the template's expressions select (custom-columns).
    pub fn values(&self, root: &Value) -> Vec<Value> {
        self.0
            .iter()
            .flat_map(|part| match part {
                Part::Path(steps) => select(root, steps),
                _ => Vec::new(),
            })
            .collect()
    }
}

fn render(parts: &[Part], current: &Value, out: &mut String) {
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Path(steps) => {
                let values: Vec<String> = select(current, steps).iter().map(show).collect();
                out.push_str(&values.join(" "));
            }
            Part::Range(steps, body) => {
                for item in select(current, steps) {
                    render(body, &item, out);
                }
            }
        }
    }
}

/// A value as kubectl prints it: strings bare, the rest as JSON.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parts up to `{end}` (when `in_range`) or the end of `text`.
fn parts(mut text: &str, in_range: bool) -> anyhow::Result<(Vec<Part>, &str)> {
    let mut parts = Vec::new();
    while !text.is_empty() {
        let Some(open) = text.find('{') else {
            parts.push(Part::Text(text.to_string()));
            text = "";
            break;
        };
        if open > 0 {
            parts.push(Part::Text(text[..open].to_string()));
        }
        let close = closing(text, open).ok_or_else(|| anyhow::anyhow!("jsonpath: unclosed {{ in {text:?}"))?;
        let inner = text[open + 1..close].trim();
        text = &text[close + 1..];
        if inner == "end" {
            anyhow::ensure!(in_range, "jsonpath: {{end}} without {{range}}");
            return Ok((parts, text));
        }
        if let Some(expr) = inner.strip_prefix("range ") {
            let (body, rest) = parts_in_range(text)?;
            parts.push(Part::Range(path(expr.trim())?, body));
            text = rest;
        } else if inner.starts_with('"') {
            parts.push(Part::Text(literal(inner)?));
        } else {
            parts.push(Part::Path(path(inner)?));
        }
    }
    anyhow::ensure!(!in_range, "jsonpath: {{range}} without {{end}}");
    Ok((parts, text))
}

fn parts_in_range(text: &str) -> anyhow::Result<(Vec<Part>, &str)> {
    parts(text, true)
}

/// The `}` that closes the `{` at `open`, skipping quoted text.
fn closing(text: &str, open: usize) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text[open + 1..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(open + 1 + i),
            _ => {}
        }
    }
    None
}

/// `"a\tb\n"` as text.
fn literal(quoted: &str) -> anyhow::Result<String> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .ok_or_else(|| anyhow::anyhow!("jsonpath: unterminated text {quoted}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    Ok(out)
}

/// `.a.b[0][*]['c.d'][?(@.x=="y")]`, or `@`, `$`.
fn path(text: &str) -> anyhow::Result<Vec<Step>> {
    let text = text.trim();
    let mut rest = text
        .strip_prefix('$')
        .or_else(|| text.strip_prefix('@'))
        .unwrap_or(text);
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            anyhow::ensure!(end > 0, "jsonpath {text:?}: empty field name");
            steps.push(Step::Field(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = bracket_end(after).ok_or_else(|| anyhow::anyhow!("jsonpath {text:?}: unclosed ["))?;
            steps.push(bracket(&after[..end], text)?);
            rest = &after[end + 1..];
        } else {
            anyhow::bail!("jsonpath {text:?}: expected .field or [...] at {rest:?}");
        }
    }
    Ok(steps)
}

fn bracket_end(text: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quoted: Option<char> = None;
    for (i, c) in text.char_indices() {
        match (c, quoted) {
            (q, Some(open)) if q == open => quoted = None,
            (_, Some(_)) => {}
            ('"' | '\'', None) => quoted = Some(c),
            ('[', None) => depth += 1,
            (']', None) if depth == 0 => return Some(i),
            (']', None) => depth -= 1,
            _ => {}
        }
    }
    None
}

fn bracket(inner: &str, text: &str) -> anyhow::Result<Step> {
    let inner = inner.trim();
    if inner == "*" {
        return Ok(Step::All);
    }
    if let Ok(index) = inner.parse::<i64>() {
        return Ok(Step::Index(index));
    }
    for quote in ['\'', '"'] {
        if let Some(key) = inner.strip_prefix(quote).and_then(|k| k.strip_suffix(quote)) {
            return Ok(Step::Field(key.to_string()));
        }
    }
    let filter = inner
        .strip_prefix("?(")
        .and_then(|f| f.strip_suffix(')'))
        .ok_or_else(|| anyhow::anyhow!("jsonpath {text:?}: cannot read [{inner}]"))?;
    let (left, equal, right) = match (filter.split_once("=="), filter.split_once("!=")) {
        (Some((l, r)), _) => (l, true, r),
        (None, Some((l, r))) => (l, false, r),
        (None, None) => anyhow::bail!("jsonpath {text:?}: filters compare with == or !="),
    };
    let right = right.trim();
    let value = match right
        .strip_prefix(['"', '\''])
        .and_then(|r| r.strip_suffix(['"', '\'']))
    {
        Some(s) => Value::String(s.to_string()),
        None => serde_json::from_str(right).map_err(|_| anyhow::anyhow!("jsonpath {text:?}: cannot read {right}"))?,
    };
    Ok(Step::Filter(path(left.trim())?, equal, value))
}

fn select(current: &Value, steps: &[Step]) -> Vec<Value> {
    let mut values = vec![current.clone()];
    for step in steps {
        values = values
            .iter()
            .flat_map(|value| match (step, value) {
                (Step::Field(name), Value::Object(map)) => map.get(name).cloned().into_iter().collect(),
                (Step::Index(i), Value::Array(items)) => {
                    let at = if *i < 0 { items.len() as i64 + i } else { *i };
                    usize::try_from(at)
                        .ok()
                        .and_then(|at| items.get(at))
                        .cloned()
                        .into_iter()
                        .collect()
                }
                (Step::All, Value::Array(items)) => items.clone(),
                (Step::All, Value::Object(map)) => map.values().cloned().collect(),
                (Step::Filter(path, equal, wanted), Value::Array(items)) => items
                    .iter()
                    .filter(|item| select(item, path).iter().any(|v| v == wanted) == *equal)
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, value: &Value) -> String {
        Template::parse(template).unwrap().render(value)
    }

    #[test]
    fn templates_select_like_kubectls() {
        let run = json!({
            "metadata": {"name": "r", "labels": {"minitask.dev/task": "hello"}},
            "status": {"phase": "Succeeded", "conditions": [{"type": "Other", "status": "x"}, {"type": "Succeeded", "status": "True"}],
                       "steps": [{"name": "a"}, {"name": "b"}]},
        });
        let list = json!({"kind": "List", "items": [run.clone(), {"metadata": {"name": "s"}}]});
        let cases = [
            ("{.metadata.name}", &run, "r"),
            (".status.phase", &run, "Succeeded"),
            ("{.status.steps[*].name}", &run, "a b"),
            ("{.status.steps[-1].name}", &run, "b"),
            ("{.metadata.labels['minitask.dev/task']}", &run, "hello"),
            ("{.status.conditions[?(@.type==\"Succeeded\")].status}", &run, "True"),
            ("{.items[*].metadata.name}", &list, "r s"),
            ("{range .items[*]}{.metadata.name}{\"\\n\"}{end}", &list, "r\ns\n"),
            ("name={.metadata.name} missing={.nope}", &run, "name=r missing="),
            ("{.status.steps[0]}", &run, "{\"name\":\"a\"}"),
        ];
        for (template, value, want) in cases {
            assert_eq!(render(template, value), want, "{template}");
        }
    }

    #[test]
    fn broken_templates_are_errors_not_panics() {
        for bad in ["{.a", "{range .a}x", "{end}", "{.a[}", "{.a[?(@.b)]}", "{..a}", "{\"x}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
