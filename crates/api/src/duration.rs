//! Durations as Kubernetes and Go write them: `90s`, `1h30m`, `1.5h`.

use std::time::Duration;

/// Parses a Go-style duration (`300ms`, `1.5h`, `2h45m`). Units: ns, us, ms,
/// s, m, h. The CRD schema admits the same shapes, so a stored TaskRun
/// always parses; the error is for hand-made objects and tests.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: use a number and a unit, such as 30s, 10m or 1h30m");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// The longest `TaskRun.spec.timeout`: a pod's `activeDeadlineSeconds`
/// holds at most 2^31-1 seconds (the admission rule says the same).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(i32::MAX as u64);

/// Formats whole seconds as `1h2m3s`, `4m0s` or `5s`: short enough for a
/// `kubectl get` column.
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("1h", 3600.0),
            ("30s", 30.0),
            ("1h30m", 5400.0),
            ("1.5h", 5400.0),
            ("250ms", 0.25),
            ("2m3s", 123.0),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).unwrap().as_secs_f64(), want, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for text in ["", "10", "h", "10x", "1..5s", "-1s", "1h 2m"] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(text), "{text}: {err}");
        }
    }

    #[test]
    fn formats_for_columns() {
        let cases = [(0, "0s"), (5, "5s"), (65, "1m5s"), (240, "4m0s"), (3723, "1h2m3s")];
        for (secs, want) in cases {
            assert_eq!(format_duration(Duration::from_secs(secs)), want);
        }
    }
}
