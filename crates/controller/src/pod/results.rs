//! Results: steps write files into a volume shared by the pod; once the
//! steps have ended (also after one failed), the launcher's reporter reads
//! them and reports them (see `minitask_launcher::report`).
//!
//! Where the report goes. The kubelet keeps at most 12 KiB of termination
//! messages per pod, split evenly between its containers (and at most
//! 4 KiB per container): 20 steps, the reporter and the init container
//! leave 558 bytes each, and an admission webhook that injects containers
//! shrinks that further. So the reporter always prints the report on its
//! standard output (its log), and also writes it into its termination
//! message when it fits the budget the controller computed from the pod's
//! container count. The termination message starts with a header that
//! says how long the report is, so a message cut by the kubelet (or one
//! that only holds the header) is seen for what it is, and the controller
//! reads the report from the log instead: one GET, once, only for large
//! reports or pods with many containers. Small reports cost no API call.
//!
//! Everything here is parsed as untrusted input: a pod with the run's owner
//! reference can be made by anyone who can create pods in the namespace.

use minitask_api::{Reason, TaskRunResult};
use minitask_launcher::RESULTS_DIR;
use minitask_launcher::report::MAGIC;

pub use crate::pod::launcher::REPORTER;

/// The most a run may report: all result values together, in bytes.
pub const MAX_RESULTS: usize = 8192;
/// What the kubelet keeps of one container's termination message, and of
/// all of a pod's together.
const MAX_MESSAGE: usize = 4096;
const MAX_POD_MESSAGES: usize = 12288;

/// The path a step writes result `name` to.
pub fn result_path(name: &str) -> String {
    format!("{RESULTS_DIR}/{name}")
}

/// The termination message budget of each container of a pod with
/// `containers` containers, as the kubelet computes it.
pub fn message_budget(containers: usize) -> usize {
    (MAX_POD_MESSAGES / containers.max(1)).min(MAX_MESSAGE)
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
    use minitask_launcher::report::{Found, render};

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

    /// What the launcher writes, the controller reads back.
    #[test]
    fn the_launchers_reports_parse_back() {
        let found = [
            ("digest".to_string(), Found::Value(b"sha:abc".to_vec())),
            ("lines".to_string(), Found::Value(b"two\nlines\n".to_vec())),
        ];
        let report = render(&found, 4096);
        let want = vec![result("digest", "sha:abc"), result("lines", "two\nlines\n")];
        assert_eq!(
            from_message(std::str::from_utf8(&report.message).unwrap()),
            Report::Read(Ok(want.clone()))
        );
        let small = render(&found, 30);
        let Report::InLog(header) = from_message(std::str::from_utf8(&small.message).unwrap()) else {
            panic!("a report over the budget is in the log")
        };
        assert_eq!(from_log(header, &small.log), Ok(want));
        let large = render(&[("log".to_string(), Found::Size(9000))], 4096);
        let Report::Read(Err((reason, _))) = from_message(std::str::from_utf8(&large.message).unwrap()) else {
            panic!("too large")
        };
        assert_eq!(reason, Reason::ResultsTooLarge);
    }

    #[test]
    fn the_budget_is_the_kubelets_share_per_container() {
        assert_eq!(message_budget(1), 4096);
        assert_eq!(message_budget(3), 4096);
        assert_eq!(message_budget(4), 3072);
        assert_eq!(message_budget(21), 585);
        assert_eq!(message_budget(0), 4096);
    }
}
