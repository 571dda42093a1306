//! CEL in a pipeline task's `when`: `'$(params.branch)' == 'main' &&
//! $(tasks.test.results.passed) > 0`. Each `$(…)` reference becomes a
//! variable of the expression before it is parsed, so a value is always a
//! value: a result that holds `' || true || '` compares as that text and
//! cannot change what the expression says (Tekton splices the text in).
//! Inside quotes a reference is spliced as a string (`'v$(params.x)'` is
//! `'v' + x`); outside it is a number, a bool or a string by its text.

use serde_json::Value as Json;

use super::{Program, compile};

/// A parsed `when` expression and the references it reads, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct When {
    program: Program,
    /// Each reference as written (`$(params.branch)`), and whether it sits
    /// inside quotes; `values` of `eval` come in this order.
    pub references: Vec<(String, bool)>,
}

/// Parses a `when` expression; the error says what is wrong with it.
pub fn compile_when(text: &str) -> Result<When, String> {
    let (rewritten, references) = bind(text);
    let names: Vec<String> = (0..references.len()).map(name).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let program = compile(&rewritten, &names).map_err(|e| match e.strip_prefix("unknown name ") {
        Some(rest) => format!(
            "unknown name {}: a when expression has no names of its own; use $(params.<name>) or $(tasks.<task>.results.<result>)",
            rest.split(':').next().unwrap_or(rest)
        ),
        None => e,
    })?;
    Ok(When { program, references })
}

impl When {
    /// Evaluates with `values`, one per reference.
    pub fn eval(&self, values: &[Json]) -> Result<bool, String> {
        let names: Vec<String> = (0..values.len()).map(name).collect();
        let vars: Vec<(&str, &Json)> = names.iter().map(String::as_str).zip(values).collect();
        self.program.eval_bool(&vars)
    }
}

/// The value of a reference outside quotes: its text read as a number or
/// a bool when it is one, else the text.
pub fn typed(text: &str) -> Json {
    if let Ok(n) = text.parse::<i64>() {
        return Json::from(n);
    }
    if let Some(n) = text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        return Json::Number(n);
    }
    match text {
        "true" => Json::Bool(true),
        "false" => Json::Bool(false),
        _ => Json::String(text.to_string()),
    }
}

fn name(i: usize) -> String {
    format!("__ref{i}")
}

/// `text` with each `$(…)` replaced by a variable, and the references.
fn bind(text: &str) -> (String, Vec<(String, bool)>) {
    let mut out = String::with_capacity(text.len());
    let mut references = Vec::new();
    let mut quote = None;
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        let reference = text[at..]
            .starts_with("$(")
            .then(|| text[at..].find(')'))
            .flatten()
            .map(|end| &text[at..at + end + 1]);
        match (quote, reference) {
            (_, Some(reference)) => {
                let var = name(references.len());
                match quote {
                    Some(q) => out.push_str(&format!("{q} + {var} + {q}")),
                    None => out.push_str(&format!(" {var} ")),
                }
                references.push((reference.to_string(), quote.is_some()));
                at += reference.len();
                continue;
            }
            (Some(_), None) if c == '\\' => {
                out.push(c);
                at += 1;
                if let Some(next) = text[at..].chars().next() {
                    out.push(next);
                    at += next.len_utf8();
                }
                continue;
            }
            // Each string in parentheses: `'$(params.b)'.size()` is
            // `('' + __ref0 + '').size()`, not `'' + __ref0 + ''.size()`.
            (Some(q), None) if c == q => {
                quote = None;
                out.push(c);
                out.push(')');
                at += 1;
                continue;
            }
            (None, None) if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push('(');
            }
            _ => {}
        }
        out.push(c);
        at += c.len_utf8();
    }
    (out, references)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_become_values_in_quotes_and_out() {
        let when = compile_when("'$(params.branch)' == 'main' && $(tasks.test.results.passed) > 0").unwrap();
        assert_eq!(
            when.references,
            vec![
                ("$(params.branch)".to_string(), true),
                ("$(tasks.test.results.passed)".to_string(), false)
            ]
        );
        assert!(when.eval(&[json!("main"), typed("3")]).unwrap());
        assert!(!when.eval(&[json!("dev"), typed("3")]).unwrap());
        assert!(!when.eval(&[json!("main"), typed("0")]).unwrap());
        let spliced = compile_when(r#""v$(params.x)-rc" == "v1-rc" && 'it\'s $(params.y)' == "it's ok""#).unwrap();
        assert!(spliced.eval(&[json!("1"), json!("ok")]).unwrap());
        let method = compile_when("'$(params.g)'.startsWith('he') && '$(params.g)x'.size() == 6").unwrap();
        assert!(
            method.eval(&[json!("hello"), json!("hello")]).unwrap(),
            "a method applies to the whole string"
        );
    }

    #[test]
    fn a_value_cannot_change_what_the_expression_says() {
        let when = compile_when("'$(params.branch)' == 'main'").unwrap();
        assert!(!when.eval(&[json!("x' || true || '")]).unwrap());
        let bare = compile_when("$(params.n) == 1").unwrap();
        assert!(!bare.eval(&[typed("0 || true")]).unwrap());
    }

    #[test]
    fn values_outside_quotes_are_typed_by_their_text() {
        assert_eq!(typed("42"), json!(42));
        assert_eq!(typed("1.5"), json!(1.5));
        assert_eq!(typed("true"), json!(true));
        assert_eq!(typed("main"), json!("main"));
        assert_eq!(typed(""), json!(""));
        let when = compile_when("$(params.flag) && $(params.name) == 'x'").unwrap();
        assert!(when.eval(&[typed("true"), typed("x")]).unwrap());
    }

    #[test]
    fn bad_expressions_are_named_plainly() {
        let unknown = compile_when("branch == 'main'").unwrap_err();
        assert!(
            unknown.starts_with("unknown name branch: a when expression has no names"),
            "{unknown}"
        );
        assert!(compile_when("'$(params.a)' ==").is_err());
        assert!(compile_when("'not closed").is_err());
        let not_bool = compile_when("$(params.n) + 1").unwrap();
        let err = not_bool.eval(&[typed("1")]).unwrap_err();
        assert!(err.contains("not a bool"), "{err}");
    }

    #[test]
    fn no_input_makes_the_rewrite_panic() {
        for text in ["$(", "'$(", "\\", "'\\", "$()", "'é$(p)ü'", "$(a)$(b)", "\"'$(x)'\""] {
            let _ = compile_when(text);
        }
    }
}
