//! Results: steps write files into a volume shared by the pod; after the
//! last step, one small container (the "reporter") reads them and reports
//! them.
//!
//! Where the report goes. The kubelet keeps at most 12 KiB of termination
//! messages per pod, split evenly between its containers (and at most
//! 4 KiB per container): 20 steps and the reporter leave 585 bytes each, and
//! an admission webhook that injects containers shrinks that further. So
//! the reporter always prints the report on its standard output (its log),
//! and also writes it into its termination message when it fits the budget
//! the controller computed from the pod's container count. The termination
//! message starts with a header that says how long the report is, so a
//! message cut by the kubelet (or one that only holds the header) is seen
//! for what it is, and the controller reads the report from the log
//! instead: one GET, once, only for large reports or pods with many
//! containers. Small reports cost no API call at all.
//!
//! Everything here is parsed as untrusted input: a pod with the run's owner
//! reference can be made by anyone who can create pods in the namespace.

use k8s_openapi::api::core::v1::{Container, SecurityContext, VolumeMount};
use minitask_api::{Reason, ResultSpec, TaskRunResult};

use crate::pod::script::escape;

/// Where steps write results: `$(results.<name>.path)` is `RESULTS_DIR/<name>`.
pub const RESULTS_DIR: &str = "/minitask/results";
pub const RESULTS_VOLUME: &str = "minitask-results";
/// The reporter's container name; not a step, so not `step-`.
pub const REPORTER: &str = "minitask-results";
/// The most a run may report: all result values together, in bytes.
pub const MAX_RESULTS: usize = 8192;
/// What the kubelet keeps of one container's termination message, and of
/// all of a pod's together.
const MAX_MESSAGE: usize = 4096;
const MAX_POD_MESSAGES: usize = 12288;
/// The first word of the reporter's termination message.
const MAGIC: &str = "minitask-results";

/// `$0` = "report", `$1` = the termination message budget, `$2` = the most
/// bytes all results may hold, `$3...` = result names. The report is, per
/// result that exists, `<name> <size>\n<bytes>\n` ("ok"), or when the
/// values are over the limit only `<name> <size>\n` ("too-large", exit 1).
/// It goes to standard output, and after a header `minitask-results <kind>
/// <report bytes>\n` to the termination message, whole if it fits the
/// budget, otherwise the header alone. Names are DNS-safe ASCII, so `${#}`
/// counts bytes. Nothing goes to stderr, which would mix into the log.
const REPORT: &str = r#"exec 2>/dev/null
budget=$1 max=$2
shift 2
cd /minitask/results || exit 1
total=0 ok=0 big=0
for name; do
  [ -f "$name" ] || continue
  size=$(($(wc -c < "$name"))) || exit 1
  total=$((total + size))
  ok=$((ok + ${#name} + ${#size} + size + 3))
  big=$((big + ${#name} + ${#size} + 2))
done
if [ "$total" -le "$max" ]; then
  kind=ok body=$ok
  report() { for name; do [ -f "$name" ] || continue; printf '%s %s\n' "$name" "$(($(wc -c < "$name")))"; cat "$name"; printf '\n'; done; }
else
  kind=too-large body=$big
  report() { for name; do [ -f "$name" ] && printf '%s %s\n' "$name" "$(($(wc -c < "$name")))"; done; }
fi
report "$@"
if [ $((19 + ${#kind} + ${#body} + body)) -le "$budget" ]; then
  { printf 'minitask-results %s %s\n' "$kind" "$body"; report "$@"; } > /dev/termination-log
else
  printf 'minitask-results %s %s\n' "$kind" "$body" > /dev/termination-log
fi
[ "$kind" = ok ]"#;

/// The path a step writes result `name` to.
pub fn result_path(name: &str) -> String {
    format!("{RESULTS_DIR}/{name}")
}

/// The termination message budget of each container of a pod with
/// `containers` containers, as the kubelet computes it.
pub fn message_budget(containers: usize) -> usize {
    (MAX_POD_MESSAGES / containers.max(1)).min(MAX_MESSAGE)
}

/// The container that reports `results` after the last step, in a pod of
/// `containers` containers (itself included).
pub fn reporter(
    results: &[ResultSpec],
    containers: usize,
    shell_image: &str,
    pull_policy: Option<String>,
    security: SecurityContext,
) -> Container {
    let args = [
        "report".to_string(),
        message_budget(containers).to_string(),
        MAX_RESULTS.to_string(),
    ]
    .into_iter()
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
        security_context: Some(security),
        ..Container::default()
    }
}

/// Why results could not be reported: the run's reason and message.
pub type Problem = (Reason, String);

/// What the reporter's termination message says.
#[derive(Debug, PartialEq)]
pub enum Report {
    /// The whole report: the results, or why there are none.
    Read(Result<Vec<TaskRunResult>, Problem>),
    /// Only the header fitted: the report is in the reporter's log.
    InLog(Header),
}

/// The header of a report: what kind it is and how many bytes follow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Header {
    too_large: bool,
    pub bytes: usize,
}

/// Reads the reporter's termination message.
pub fn from_message(message: &str) -> Report {
    let (first, body) = message.split_once('\n').unwrap_or((message, ""));
    let header = match parse_header(first) {
        Ok(header) => header,
        Err(why) => return Report::Read(Err(malformed(why))),
    };
    match body.len() == header.bytes {
        true => Report::Read(parse_body(header, body.as_bytes())),
        // Cut by the kubelet, or never written there: the log has it.
        false => Report::InLog(header),
    }
}

/// Reads the report from the reporter's log, which `header` announced.
pub fn from_log(header: Header, log: &[u8]) -> Result<Vec<TaskRunResult>, Problem> {
    if log.len() != header.bytes {
        return Err(malformed(format!(
            "its log holds {} bytes where {} were announced",
            log.len(),
            header.bytes
        )));
    }
    parse_body(header, log)
}

fn parse_header(line: &str) -> Result<Header, String> {
    let mut words = line.split(' ');
    let (magic, kind, bytes) = (words.next(), words.next(), words.next());
    if magic != Some(MAGIC) || words.next().is_some() {
        return Err("it does not start with a report header".into());
    }
    let too_large = match kind {
        Some("ok") => false,
        Some("too-large") => true,
        other => return Err(format!("unknown report kind {:?}", other.unwrap_or_default())),
    };
    let bytes = bytes
        .and_then(|b| b.parse::<usize>().ok())
        .filter(|b| *b <= MAX_RESULTS * 2 + 4096)
        .ok_or("its header has no valid length")?;
    Ok(Header { too_large, bytes })
}

fn parse_body(header: Header, body: &[u8]) -> Result<Vec<TaskRunResult>, Problem> {
    match header.too_large {
        false => read_results(body).map_err(malformed),
        true => Err(too_large(body)),
    }
}

/// `<name> <size>\n<bytes>\n`, repeated. Sizes are checked against what is
/// there: a size near `usize::MAX` is an error, not an overflow.
fn read_results(body: &[u8]) -> Result<Vec<TaskRunResult>, String> {
    let mut results: Vec<TaskRunResult> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (name, size, after) = header_line(rest)?;
        let end = size.checked_add(1).filter(|end| *end <= after.len());
        let Some(end) = end.filter(|end| after[*end - 1] == b'\n') else {
            return Err(format!("result {name:?} was cut short"));
        };
        if results.iter().any(|r| r.name == name) {
            return Err(format!("result {name:?} is reported twice"));
        }
        results.push(TaskRunResult {
            name,
            value: String::from_utf8_lossy(&after[..size]).into_owned(),
        });
        rest = &after[end..];
    }
    Ok(results)
}

/// `<name> <size>\n` at the start of `bytes`, and what follows it.
fn header_line(bytes: &[u8]) -> Result<(String, usize, &[u8]), String> {
    let end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or("a result header has no end")?;
    let line = String::from_utf8_lossy(&bytes[..end]);
    let (name, size) = line.split_once(' ').ok_or("a result header has no size")?;
    let size = size
        .parse::<usize>()
        .map_err(|_| format!("result {name:?} has a bad size"))?;
    Ok((name.to_string(), size, &bytes[end + 1..]))
}

fn too_large(body: &[u8]) -> Problem {
    let sizes: Vec<String> = String::from_utf8_lossy(body)
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, size)| format!("{name} is {size} bytes"))
        .collect();
    let message = format!(
        "the results are larger than the {MAX_RESULTS} bytes a run can report ({}); write large data to a workspace and report its path",
        sizes.join(", ")
    );
    (Reason::ResultsTooLarge, message)
}

fn malformed(why: impl std::fmt::Display) -> Problem {
    let message = format!("every step succeeded, but the results report of container {REPORTER} is unreadable: {why}");
    (Reason::ResultsFailed, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::script::kubelet_expand;

    fn result(name: &str, value: &str) -> TaskRunResult {
        TaskRunResult {
            name: name.into(),
            value: value.into(),
        }
    }

    fn header(bytes: usize) -> Header {
        Header {
            too_large: false,
            bytes,
        }
    }

    #[test]
    fn reports_in_the_message_parse_back_byte_for_byte() {
        let cases: [(&str, Report); 6] = [
            ("minitask-results ok 0\n", Report::Read(Ok(vec![]))),
            (
                "minitask-results ok 24\ndigest 7\nsha:abc\nurl 0\n\n",
                Report::Read(Ok(vec![result("digest", "sha:abc"), result("url", "")])),
            ),
            (
                "minitask-results ok 23\nlines 13\ntwo\nlines 9 \n\n",
                Report::Read(Ok(vec![result("lines", "two\nlines 9 \n")])),
            ),
            (
                "minitask-results ok 5000\n",
                Report::InLog(header(5000)),
            ),
            (
                "minitask-results ok 24\ndigest 7\nsha:a",
                Report::InLog(header(24)),
            ),
            (
                "minitask-results too-large 18\nlog 9000\ndigest 7\n",
                Report::Read(Err((Reason::ResultsTooLarge, "the results are larger than the 8192 bytes a run can report (log is 9000 bytes, digest is 7 bytes); write large data to a workspace and report its path".into()))),
            ),
        ];
        for (message, want) in cases {
            assert_eq!(from_message(message), want, "{message:?}");
        }
    }

    #[test]
    fn a_report_too_long_for_the_message_is_read_from_the_log() {
        let log = b"blob 3\nabc\n";
        let Report::InLog(h) = from_message("minitask-results ok 11\nblob 3\na") else {
            panic!("the cut message must send us to the log")
        };
        assert_eq!(from_log(h, log), Ok(vec![result("blob", "abc")]));
        let (reason, message) = from_log(h, b"blob 3\nab").unwrap_err();
        assert_eq!(reason, Reason::ResultsFailed);
        assert!(
            message.contains("its log holds 9 bytes where 11 were announced"),
            "{message}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for message in [
            "",
            "no header",
            "minitask-results ok\n",
            "minitask-results maybe 3\nx 1\na\n",
            "minitask-results ok 99999999999999999999999\n",
            "minitask-results ok 6\nx 1\nab",
            "minitask-results ok 26\nx 18446744073709551615\nab\n",
            "minitask-results ok 6\nx y\nz\n",
            "minitask-results ok 12\nx 1\na\nx 1\nb\n",
        ] {
            let got = from_message(message);
            let Report::Read(Err((reason, text))) = got else {
                panic!("{message:?} gave {got:?}")
            };
            assert_eq!(reason, Reason::ResultsFailed, "{message:?}");
            assert!(text.contains("is unreadable: "), "{text}");
        }
    }

    #[test]
    fn the_budget_is_the_kubelets_share_per_container() {
        assert_eq!(message_budget(1), 4096);
        assert_eq!(message_budget(3), 4096);
        assert_eq!(message_budget(4), 3072);
        assert_eq!(message_budget(21), 585);
        assert_eq!(message_budget(0), 4096);
    }

    #[test]
    fn the_reporter_reads_the_declared_results() {
        let results = [ResultSpec {
            name: "digest".into(),
            description: None,
        }];
        let c = reporter(&results, 21, "busybox:1.37", None, SecurityContext::default());
        assert_eq!(c.args.unwrap(), ["report", "585", "8192", "digest"]);
        let command = c.command.unwrap();
        assert_eq!(kubelet_expand(&command[2], |_| None), REPORT);
        assert!(REPORT.contains(RESULTS_DIR) && REPORT.contains(MAGIC));
        assert_eq!(c.volume_mounts.unwrap()[0].read_only, Some(true));
    }
}
