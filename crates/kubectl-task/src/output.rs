//! Printing: tables as kubectl prints them, `-o name|yaml|json|wide|
//! jsonpath=...|custom-columns=...`, ages, and a stdout that a closed pipe
//! (`kubectl task runs | head`) ends quietly instead of with a panic.

use std::io::{self, IsTerminal, Write};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::jsonpath::{Template, show};

/// `-o`: how a command prints objects.
#[derive(Clone, Debug)]
pub enum Format {
    /// `kind.group/name`, one per line.
    Name,
    Yaml,
    Json,
    /// The table with more columns.
    Wide,
    /// A kubectl JSONPath template.
    JsonPath(String),
    /// `HEADER:.path,...`, kubectl's custom columns.
    CustomColumns(Vec<(String, String)>),
}

impl Format {
    /// Reads `-o` as kubectl does.
    pub fn parse(text: &str) -> Result<Format, String> {
        let (kind, rest) = text.split_once('=').unwrap_or((text, ""));
        let format = match kind {
            "name" => Format::Name,
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "wide" => Format::Wide,
            "jsonpath" => {
                Template::parse(rest).map_err(|e| e.to_string())?;
                Format::JsonPath(rest.to_string())
            }
            "custom-columns" => {
                let columns: Vec<(String, String)> = rest
                    .split(',')
                    .map(|c| c.split_once(':').map(|(h, p)| (h.to_string(), p.to_string())))
                    .collect::<Option<_>>()
                    .filter(|c: &Vec<_>| !c.is_empty() && c.iter().all(|(h, _)| !h.is_empty()))
                    .ok_or("custom-columns takes HEADER:.path[,HEADER:.path...], such as NAME:.metadata.name")?;
                for (_, path) in &columns {
                    Template::parse(path).map_err(|e| e.to_string())?;
                }
                Format::CustomColumns(columns)
            }
            _ => {
                return Err(format!(
                    "unknown output format {text:?}: use name, yaml, json, wide, jsonpath=TEMPLATE or custom-columns=SPEC"
                ));
            }
        };
        Ok(format)
    }

    /// True for the formats that print a table.
    pub fn is_table(&self) -> bool {
        matches!(self, Format::Wide)
    }
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

/// An object as a JSON value, without `metadata.managedFields` (noise for
/// people, as `kubectl get -o yaml` hides it by default now).
pub fn plain<T: Serialize>(object: &T) -> anyhow::Result<Value> {
    let mut value = serde_json::to_value(object)?;
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    Ok(value)
}

/// `objects` in `format` (not a table format): one document for a single
/// object, a `List` for several, as kubectl prints them. `names` are the
/// `-o name` lines.
pub fn render<T: Serialize>(objects: &[T], names: &[String], format: &Format, single: bool) -> anyhow::Result<String> {
    let items = objects.iter().map(plain).collect::<anyhow::Result<Vec<_>>>()?;
    let value = match (single, items.first()) {
        (true, Some(first)) => first.clone(),
        _ => serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
    };
    Ok(match format {
        Format::Name => names.iter().map(|n| format!("{n}\n")).collect(),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&value)?),
        Format::Yaml => serde_saphyr::to_string(&value)?,
        Format::JsonPath(template) => Template::parse(template)?.render(&value),
        Format::CustomColumns(columns) => {
            let parsed = columns
                .iter()
                .map(|(_, path)| Template::parse(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| {
                    parsed
                        .iter()
                        .map(|t| {
                            let values: Vec<String> = t.values(item).iter().map(show).collect();
                            if values.is_empty() {
                                "<none>".into()
                            } else {
                                values.join(",")
                            }
                        })
                        .collect()
                })
                .collect();
            let headers: Vec<&str> = columns.iter().map(|(h, _)| h.as_str()).collect();
            table(&headers, &rows)
        }
        Format::Wide => anyhow::bail!("-o wide prints a table"),
    })
}

/// Rows as a kubectl table: upper-case headers, columns three spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    aligned_table(headers, rows, &mut Vec::new())
}

/// `table`, with each column at least as wide as `widths` says (what an
/// earlier table printed), which then holds this table's widths: the rows
/// of a watch stay under the header printed first.
pub fn aligned_table(headers: &[&str], rows: &[Vec<String>], widths: &mut Vec<usize>) -> String {
    widths.resize(headers.len().max(widths.len()), 0);
    for (width, header) in widths.iter_mut().zip(headers) {
        *width = (*width).max(header.len());
    }
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
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
    let Some(time) = time.filter(|t| t.0.as_second() > 0) else {
        return "<unknown>".into();
    };
    let seconds = now.as_second().saturating_sub(time.0.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Colour only for a person at a terminal, never with NO_COLOR set or
/// `--no-color`.
pub fn colour_stdout(disabled: bool) -> bool {
    !disabled && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// `the run fails at 2026-12-03T10:00:00Z` as a person reads it: `the run
/// fails in 4m50s` (the controller writes a fixed time, which costs no
/// status write as it nears).
pub fn deadline_in(message: &str, now: Timestamp) -> String {
    const AT: &str = "the run fails at ";
    let Some(start) = message.find(AT).map(|i| i + AT.len()) else {
        return message.to_string();
    };
    let end = message[start..].find(' ').map_or(message.len(), |i| start + i);
    let Ok(when) = message[start..end].parse::<Timestamp>() else {
        return message.to_string();
    };
    let left = when.as_second().saturating_sub(now.as_second()).max(0);
    let left = minitask_api::format_duration(std::time::Duration::from_secs(left as u64));
    format!(
        "{}the run fails in {left}{}",
        &message[..start - AT.len()],
        &message[end..]
    )
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
        assert_eq!(
            age(Some(&Time(Timestamp::UNIX_EPOCH)), now),
            "<unknown>",
            "1970 is no time"
        );
    }

    #[test]
    fn objects_render_in_every_format_without_managed_fields() {
        let objects = [serde_json::json!({"kind": "TaskRun", "metadata": {"name": "a", "managedFields": [{}]}})];
        let clean = serde_json::json!({"kind": "TaskRun", "metadata": {"name": "a"}});
        let names = ["taskrun.minitask.dev/a".to_string()];
        let out = |format: &str, single| render(&objects, &names, &Format::parse(format).unwrap(), single).unwrap();
        assert_eq!(out("name", true), "taskrun.minitask.dev/a\n");
        let json: Value = serde_json::from_str(&out("json", true)).unwrap();
        assert_eq!(json, clean);
        let back: Value = serde_saphyr::from_str(&out("yaml", false)).unwrap();
        assert_eq!(
            (back["kind"].clone(), back["items"][0].clone()),
            (Value::from("List"), clean)
        );
        assert_eq!(out("jsonpath={.items[*].metadata.name}", false), "a");
        assert_eq!(out("jsonpath={.metadata.name}", true), "a");
        assert_eq!(
            out("custom-columns=N:.metadata.name,K:.kind,X:.nope", false),
            "N   K         X\na   TaskRun   <none>\n"
        );
        for bad in ["table", "custom-columns=", "custom-columns=.a", "jsonpath={.a"] {
            assert!(Format::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_deadline_reads_as_a_time_left() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let at = Timestamp::from_second(1_800_000_290).unwrap();
        let message =
            format!("step \"a\" is waiting: ErrImagePull: nope; the run fails at {at} if it has not started by then");
        assert_eq!(
            deadline_in(&message, now),
            "step \"a\" is waiting: ErrImagePull: nope; the run fails in 4m50s if it has not started by then"
        );
        assert_eq!(deadline_in("no deadline", now), "no deadline");
    }
}
