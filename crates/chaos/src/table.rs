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

/// One line for a scenario run several times: its drain in each run, and
/// their p50 and p100 (a run that never drained counts as infinite).
pub fn drains(scenario: &str, rows: &[Row]) -> String {
    let prefix = format!("{scenario} #");
    let mut drains: Vec<Option<Duration>> = rows
        .iter()
        .filter(|r| r.scenario.starts_with(&prefix))
        .map(|r| r.drain.filter(|_| r.problems.is_empty()))
        .collect();
    if drains.is_empty() {
        return String::new();
    }
    let each: Vec<String> = drains.iter().map(|d| seconds(*d)).collect();
    // None (broken or never drained) sorts last: the worst.
    drains.sort_by_key(|d| d.unwrap_or(Duration::MAX));
    let p50 = drains[(drains.len() - 1) / 2];
    let p100 = drains[drains.len() - 1];
    format!(
        "{scenario}: drain over {} runs: p50 {}, p100 {} (each: {})\n",
        drains.len(),
        seconds(p50),
        seconds(p100),
        each.join(", ")
    )
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

    #[test]
    fn repeated_runs_give_their_drains_with_p50_and_p100() {
        let row = |k: usize, drain: Option<u64>, broken: bool| Row {
            scenario: format!("restart #{k}"),
            drain: drain.map(Duration::from_millis),
            problems: if broken { vec!["x".into()] } else { vec![] },
            ..Row::default()
        };
        let rows = [
            row(1, Some(3000), false),
            row(2, Some(1000), false),
            row(3, Some(2000), false),
        ];
        assert_eq!(
            drains("restart", &rows),
            "restart: drain over 3 runs: p50 2.0s, p100 3.0s (each: 3.0s, 1.0s, 2.0s)\n"
        );
        let rows = [row(1, Some(1000), false), row(2, Some(500), true)];
        assert!(drains("restart", &rows).contains("p100 -"), "a broken run is the worst");
        assert_eq!(drains("other", &rows), "");
    }
}
