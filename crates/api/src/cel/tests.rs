use serde_json::json;

use super::*;

const NAMES: [&str; 3] = ["body", "headers", "event"];

fn run(text: &str, body: serde_json::Value) -> Result<bool, String> {
    let headers = json!({"x-github-event": "push"});
    let event = json!("push");
    compile(text, &NAMES)?.eval_bool(&[("body", &body), ("headers", &headers), ("event", &event)])
}

#[test]
fn filters_a_push_to_main() {
    let push = json!({"ref": "refs/heads/main", "commits": [{"id": "a", "added": ["x.rs"]}], "size": 3});
    for (text, want) in [
        (r#"body.ref == "refs/heads/main""#, true),
        (r#"body.ref == 'refs/heads/dev'"#, false),
        (r#"event == "push" && body.ref.startsWith("refs/heads/")"#, true),
        (r#"headers["x-github-event"] in ["push", "tag"]"#, true),
        ("size(body.commits) == 1 && body.commits[0].id == 'a'", true),
        ("body.commits.exists(c, c.added.exists(f, f.endsWith('.rs')))", true),
        ("body.commits.all(c, c.id != 'a')", false),
        ("body.size > 2 && body.size * 2 == 6 && -body.size < 0", true),
        ("has(body.ref) && !has(body.deleted)", true),
        ("body.ref.matches('^refs/heads/(main|release-.*)$')", true),
        ("body.commits.map(c, c.id) == ['a']", true),
        ("body.commits.filter(c, c.id == 'b').size() == 0", true),
        ("(body.size > 1 ? 'big' : 'small') == 'big'", true),
        ("body.missing == 1 || true", true),
        ("'ref' in body && !('nope' in body)", true),
        ("1.5 < 2 && 'a' < 'b' && 7 % 3 == 1 && 7 / 2 == 3", true),
    ] {
        assert_eq!(run(text, push.clone()), Ok(want), "{text}");
    }
}

#[test]
fn errors_say_what_is_wrong() {
    let body = json!({"a": 1, "s": "x"});
    for (text, want) in [
        ("body.b == 1", "no such key: b"),
        ("body.a", "the expression gave int, not a bool"),
        ("body.a / 0 == 1", "integer overflow or division by zero in /"),
        ("body.s.a == 1", "cannot select field a of string"),
        ("secret == 1", "unknown name secret: use body, headers, event"),
        ("body.a ==", "the expression ends early at 9"),
        ("body.a == 'x", "the string at 10 is not closed"),
        ("body.s.matches('(')", "matches(): bad pattern"),
        ("nope(1)", "no function nope(int)"),
    ] {
        let got = run(text, body.clone()).unwrap_err();
        assert!(got.starts_with(want), "{text}: {got}");
    }
}

#[test]
fn hostile_expressions_end_within_the_budget() {
    let wide = json!({"l": vec![0; 10_000], "s": "x".repeat(100_000)});
    for text in [
        "body.l.all(a, body.l.all(b, body.l.all(c, true)))",
        "body.l.map(a, body.s + body.s + body.s).size() > 0",
        "body.l.exists(a, body == body && false)",
    ] {
        let started = std::time::Instant::now();
        let got = run(text, wide.clone()).unwrap_err();
        assert!(got.contains("too many steps"), "{text}: {got}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{text} took {:?}",
            started.elapsed()
        );
    }
    let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(compile(&deep, &NAMES).unwrap_err().contains("characters long"));
    let deep = format!("{}true{}", "(".repeat(100), ")".repeat(100));
    assert!(compile(&deep, &NAMES).unwrap_err().contains("nests deeper"));
    let chain = vec!["true"; 500].join(" || ");
    assert!(compile(&chain, &NAMES).unwrap_err().contains("nests deeper"));
    assert!(compile(&"!".repeat(3000), &NAMES).unwrap_err().contains("nests deeper"));
}

#[test]
fn no_text_panics() {
    for text in [
        "",
        "(",
        ")",
        "[",
        "{",
        "a.",
        ".a",
        "1e",
        "99999999999999999999",
        "'\\q'",
        "a[",
        "é",
        "\"\\",
        "{1:}",
        "a ? b",
        "x.all(",
        "[,]",
    ] {
        let _ = compile(text, &NAMES);
    }
    let _ = run("body[0] == 1 || body.x[1] == 2", json!([1]));
    let _ = run("-9223372036854775807 - 2 == 0", json!({}));
}

#[test]
fn a_variable_that_is_a_bool_or_a_number_is_one() {
    let program = compile("flag && n > 1", &["flag", "n"]).unwrap();
    assert_eq!(program.eval_bool(&[("flag", &json!(true)), ("n", &json!(2))]), Ok(true));
    assert_eq!(
        compile("flag", &["flag"])
            .unwrap()
            .eval_bool(&[("flag", &json!(false))]),
        Ok(false)
    );
}
