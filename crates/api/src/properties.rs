//! Property tests of what the API crate parses from objects: any input
//! gives an answer, never a panic. `cargo xtask fuzz` runs them longer.

use proptest::prelude::*;

use crate::{cel, fill_text, format_duration, json_path_text, label_value, parse_duration, shorten};

/// Any JSON, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("(ref|a|b|l|[a-z]{1,3})", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Expressions from the pieces a filter is made of.
fn expression() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        "(body|headers|event)(\\.(ref|a|b|l|x)){0,3}",
        "-?[0-9]{1,20}",
        "'[a-z/]{0,8}'",
        Just("true".to_string()),
        Just("null".to_string()),
        Just("body.l".to_string()),
    ];
    atom.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                "(==|!=|<|<=|>|>=|&&|\\|\\||\\+|-|\\*|/|%| in )",
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|e| format!("!({e})")),
            inner.clone().prop_map(|e| format!("size({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("body.l.exists(x, x == {a} || {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.startsWith({b})")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("({a}) ? {b} : {c}")),
        ]
    })
}

proptest! {
    #[test]
    fn any_text_parses_to_a_duration_or_an_error(text in ".{0,40}") {
        let _ = parse_duration(&text);
    }

    #[test]
    fn durations_written_as_go_writes_them_parse_back(h in 0u64..100_000, m in 0u64..60, s in 0u64..60) {
        let text = format!("{h}h{m}m{s}s");
        let parsed = parse_duration(&text).unwrap();
        prop_assert_eq!(parsed.as_secs(), h * 3600 + m * 60 + s);
        prop_assert_eq!(parse_duration(&format_duration(parsed)).unwrap(), parsed);
    }

    #[test]
    fn numbers_of_any_size_are_refused_or_parsed(digits in "[0-9]{1,400}(\\.[0-9]{0,20})?", unit in "(ns|us|ms|s|m|h)") {
        let _ = parse_duration(&format!("{digits}{unit}"));
    }

    #[test]
    fn names_are_shortened_to_fit_whatever_they_hold(name in ".{0,300}", suffix in "[a-z0-9-]{0,20}") {
        let short = shorten(&name, &suffix, 63);
        prop_assert!(short.ends_with(&suffix));
        if name.is_ascii() && name.len() + suffix.len() > 63 {
            prop_assert!(short.len() <= 63.max(suffix.len() + 17), "{} is too long", short);
        }
        let _ = label_value(&name);
    }

    #[test]
    fn any_text_compiles_or_is_refused_with_a_reason(text in ".{0,80}") {
        if let Err(e) = cel::compile(&text, &["body", "headers", "event"]) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn any_filter_over_any_body_gives_a_bool_or_an_error(text in expression(), body in json()) {
        if let Ok(program) = cel::compile(&text, &["body", "headers", "event"]) {
            let headers = serde_json::json!({"x-event": "push"});
            let event = serde_json::Value::from("push");
            let _ = program.eval_bool(&[("body", &body), ("headers", &headers), ("event", &event)]);
        }
    }

    #[test]
    fn references_fill_from_any_body_or_say_what_is_missing(body in json(), path in "[a-z0-9.]{0,12}", text in ".{0,40}") {
        let _ = json_path_text(&body, &path);
        let fill = |r: &str| r.strip_prefix("body.").and_then(|p| json_path_text(&body, p));
        if let Err(e) = fill_text(&format!("{text}$(body.{path}){text}"), &fill, "p") {
            prop_assert!(e.starts_with("param p: $(body."), "{}", e);
        }
    }
}
