//! Printing: tables as kubectl prints them, `-o name|yaml|json`, ages, and
//! a stdout that a closed pipe (`kubectl task runs | head`) ends quietly
//! instead of with a panic.

use std::io::{self, IsTerminal, Write};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

/// `-o`: how a command prints objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `kind.group/name`, one per line.
    Name,
    Yaml,
    Json,
}

/// Writes `text` to stdout. When the reader has gone (a closed pipe), the
/// process ends at once with success: nothing more can be shown anyway.
pub fn print(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(2);
    }
}

/// `objects` as a YAML or JSON document (a `List` when there are several,
/// as kubectl prints them), or their names.
pub fn render<T: Serialize>(objects: &[T], names: &[String], format: Format, single: bool) -> anyhow::Result<String> {
    let value = match single {
        true => serde_json::to_value(&objects[0])?,
        false => serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects}),
    };
    Ok(match format {
        Format::Name => names.iter().map(|n| format!("{n}\n")).collect(),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&value)?),
        Format::Yaml => serde_saphyr::to_string(&value)?,
    })
}

/// Rows as a kubectl table: upper-case headers, columns three spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// How long ago `time` was, as kubectl says it: `45s`, `12m`, `3h`, `5d`.
pub fn age(time: Option<&Time>, now: Timestamp) -> String {
    let Some(time) = time else {
        return "<unknown>".into();
    };
    let seconds = (now.as_second() - time.0.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Colour only for a person at a terminal, and never with NO_COLOR set.
pub fn colour_stdout() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_like_kubectl() {
        let rows = vec![
            vec!["hello-run-1".to_string(), "Succeeded".to_string()],
            vec!["x".to_string(), "".to_string()],
        ];
        assert_eq!(
            table(&["NAME", "STATUS"], &rows),
            "NAME          STATUS\nhello-run-1   Succeeded\nx\n"
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let ago = |s: i64| age(Some(&Time(Timestamp::from_second(1_000_000 - s).unwrap())), now);
        assert_eq!(
            [ago(5), ago(119), ago(120), ago(7199), ago(7200), ago(200_000)],
            ["5s", "119s", "2m", "119m", "2h", "2d"]
        );
        assert_eq!(age(None, now), "<unknown>");
    }

    #[test]
    fn objects_render_in_every_format() {
        let objects = [serde_json::json!({"kind": "TaskRun", "metadata": {"name": "a"}})];
        let names = ["taskrun.minitask.dev/a".to_string()];
        assert_eq!(
            render(&objects, &names, Format::Name, true).unwrap(),
            "taskrun.minitask.dev/a\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&objects, &names, Format::Json, true).unwrap()).unwrap();
        assert_eq!(json, objects[0]);
        let yaml = render(&objects, &names, Format::Yaml, false).unwrap();
        let back: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back["kind"], "List");
        assert_eq!(back["items"][0], objects[0]);
    }
}
