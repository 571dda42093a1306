//! Property tests of what the API crate parses from objects: any input
//! gives an answer, never a panic. `cargo xtask fuzz` runs them longer.

use proptest::prelude::*;

use crate::{format_duration, label_value, parse_duration, shorten};

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
}
