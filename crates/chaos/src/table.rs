//! The one table `cargo xtask chaos` prints, and what each row found.

use std::fmt::Write;
use std::time::Duration;

/// One scenario's figures.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub scenario: String,
    pub runs: usize,
    pub faults: usize,
    pub finished: usize,
    pub duplicates: usize,
    pub lost: usize,
    pub regressions: usize,
    /// Acts on a run by a replica that did not hold it alone (audit log).
    pub overlaps: usize,
    pub drain: Option<Duration>,
    pub longest_wait: Option<Duration>,
    /// Measurements of the scenario's own (failover times...).
    pub notes: Vec<String>,
    /// Every broken invariant, one line each.
    pub problems: Vec<String>,
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1}s", d.as_secs_f64()))
}

/// The table, then each row's notes and problems.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "SCENARIO",
        "RUNS",
        "FAULTS",
        "FINISHED",
        "DUPLICATES",
        "LOST",
        "REGRESSIONS",
        "OVERLAPS",
        "DRAIN",
        "LONGEST WAIT",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.scenario.clone(),
                r.runs.to_string(),
                r.faults.to_string(),
                r.finished.to_string(),
                r.duplicates.to_string(),
                r.lost.to_string(),
                r.regressions.to_string(),
                r.overlaps.to_string(),
                seconds(r.drain),
                seconds(r.longest_wait),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(&mut out, &header.map(String::from));
    for row in &cells {
        line(&mut out, row);
    }
    for row in rows {
        for note in &row.notes {
            let _ = writeln!(out, "{}: {note}", row.scenario);
        }
        for problem in &row.problems {
            let _ = writeln!(out, "{}: BROKEN: {problem}", row.scenario);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_line_up_under_the_header_and_problems_follow() {
        let rows = [Row {
            scenario: "kill -9 storm".into(),
            runs: 1000,
            faults: 10,
            finished: 1000,
            drain: Some(Duration::from_millis(4200)),
            notes: vec!["restarts took 0.4s".into()],
            problems: vec!["run r never ended".into()],
            ..Row::default()
        }];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("SCENARIO       RUNS  FAULTS"), "{text}");
        assert!(lines[1].starts_with("kill -9 storm  1000  10"), "{text}");
        assert!(lines[1].contains("4.2s"), "{text}");
        assert_eq!(lines[2], "kill -9 storm: restarts took 0.4s");
        assert_eq!(lines[3], "kill -9 storm: BROKEN: run r never ended");
    }
}
