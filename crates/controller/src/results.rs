//! Results: steps write files into a volume shared by the pod; after the
//! last step, one small container (the "reporter") reads them into its
//! termination message, which the kubelet copies into the pod's status,
//! where the controller reads them without any extra API call.
//!
//! The kubelet keeps at most 4096 bytes of a container's termination
//! message, so all of a run's results together, with a short header each,
//! must fit in 4096 bytes. The reporter checks this and fails the run
//! (reason ResultsTooLarge) rather than let the kubelet truncate a value.

use k8s_openapi::api::core::v1::{Container, VolumeMount};
use minitask_api::{Reason, ResultSpec, TaskRunResult};

use crate::script::escape;

/// Where steps write results: `$(results.<name>.path)` is `RESULTS_DIR/<name>`.
pub const RESULTS_DIR: &str = "/minitask/results";
pub const RESULTS_VOLUME: &str = "minitask-results";
/// The reporter's container name; not a step, so not `step-`.
pub const REPORTER: &str = "minitask-results";
/// The kubelet's limit on one container's termination message.
pub const MAX_REPORT: usize = 4096;
const TOO_LARGE: &str = "TOO-LARGE";

/// `$0` = "report", `$1...` = result names. Writes each result that exists
/// as `<name> <size>\n<bytes>\n`; when that is over the limit, writes
/// `TOO-LARGE\n` and `<name> <size>\n` per result instead, and fails.
const REPORT: &str = r#"cd /minitask/results || exit 1
for name in "$@"; do
  [ -f "$name" ] || continue
  printf '%s %s\n' "$name" "$(wc -c < "$name")"
  cat "$name"
  printf '\n'
done > /dev/termination-log
[ "$(wc -c < /dev/termination-log)" -le 4096 ] && exit 0
{
  echo TOO-LARGE
  for name in "$@"; do
    [ -f "$name" ] && printf '%s %s\n' "$name" "$(wc -c < "$name")"
  done
} > /dev/termination-log
exit 1"#;

/// The path a step writes result `name` to.
pub fn result_path(name: &str) -> String {
    format!("{RESULTS_DIR}/{name}")
}

/// The container that reports `results` after the last step.
pub fn reporter(results: &[ResultSpec], shell_image: &str, pull_policy: Option<String>) -> Container {
    let args = std::iter::once("report".to_string())
        .chain(results.iter().map(|r| r.name.clone()))
        .collect();
    Container {
        name: REPORTER.into(),
        image: Some(shell_image.into()),
        image_pull_policy: pull_policy,
        command: Some(vec!["/bin/sh".into(), "-c".into(), escape(REPORT)]),
        args: Some(args),
        volume_mounts: Some(vec![VolumeMount {
            name: RESULTS_VOLUME.into(),
            mount_path: RESULTS_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    }
}

/// The results in a reporter's termination message, or why the run fails.
pub fn parse_report(message: &str) -> Result<Vec<TaskRunResult>, (Reason, String)> {
    read_report(message).map_err(|e| match message.starts_with(TOO_LARGE) {
        true => (Reason::ResultsTooLarge, e),
        false => (Reason::PodFailed, format!("the results could not be read: {e}")),
    })
}

fn read_report(message: &str) -> Result<Vec<TaskRunResult>, String> {
    if let Some(sizes) = message.strip_prefix(TOO_LARGE) {
        let sizes: Vec<String> = sizes
            .lines()
            .filter_map(|line| line.trim().split_once(' '))
            .map(|(name, size)| format!("{name} is {} bytes", size.trim()))
            .collect();
        return Err(format!(
            "the results are larger than the {MAX_REPORT} bytes a run can report ({}); write large data to a workspace and report its path",
            sizes.join(", ")
        ));
    }
    let mut results = Vec::new();
    let mut rest = message.as_bytes();
    while !rest.is_empty() {
        let header_end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("a result header has no end")?;
        let header = String::from_utf8_lossy(&rest[..header_end]);
        let (name, size) = header.trim().split_once(' ').ok_or("a result header has no size")?;
        let size: usize = size
            .trim()
            .parse()
            .map_err(|_| format!("result {name:?} has a bad size"))?;
        let body = &rest[header_end + 1..];
        if body.len() < size + 1 || body[size] != b'\n' {
            return Err(format!("result {name:?} was cut short"));
        }
        results.push(TaskRunResult {
            name: name.to_string(),
            value: String::from_utf8_lossy(&body[..size]).into_owned(),
        });
        rest = &body[size + 1..];
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::kubelet_expand;

    fn result(name: &str, value: &str) -> TaskRunResult {
        TaskRunResult {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn reports_parse_back_byte_for_byte() {
        let cases: [(&str, Result<Vec<TaskRunResult>, String>); 5] = [
            ("", Ok(vec![])),
            (
                "digest 7\nsha:abc\nurl 0\n\n",
                Ok(vec![result("digest", "sha:abc"), result("url", "")]),
            ),
            (
                "lines 13\ntwo\nlines 9 \n\n",
                Ok(vec![result("lines", "two\nlines 9 \n")]),
            ),
            ("digest 70\nsha", Err("result \"digest\" was cut short".into())),
            (
                "TOO-LARGE\nlog 5000\ndigest 7\n",
                Err("the results are larger than the 4096 bytes a run can report (log is 5000 bytes, digest is 7 bytes); write large data to a workspace and report its path".into()),
            ),
        ];
        for (message, want) in cases {
            assert_eq!(read_report(message), want, "{message:?}");
        }
        let too_large = parse_report("TOO-LARGE\nlog 5000\n").unwrap_err();
        assert_eq!(too_large.0, Reason::ResultsTooLarge);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for message in ["no newline", "x y\n", "x 99999999999999999999999\n", "x 1\nab", "\n"] {
            let (reason, text) = parse_report(message).unwrap_err();
            assert_eq!(reason, Reason::PodFailed, "{message:?}");
            assert!(text.starts_with("the results could not be read: "), "{text}");
        }
    }

    #[test]
    fn the_reporter_reads_the_declared_results() {
        let results = [ResultSpec {
            name: "digest".into(),
            description: None,
        }];
        let c = reporter(&results, "busybox:1.37", None);
        assert_eq!(c.args.unwrap(), ["report", "digest"]);
        let command = c.command.unwrap();
        assert_eq!(kubelet_expand(&command[2], |_| None), REPORT);
        assert!(REPORT.contains(RESULTS_DIR) && REPORT.contains(&MAX_REPORT.to_string()));
        assert_eq!(c.volume_mounts.unwrap()[0].read_only, Some(true));
    }
}
