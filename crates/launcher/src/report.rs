//! The report of a Task's results, which the controller parses
//! (`minitask-controller`'s `pod/results.rs`). The report is, per result
//! the steps wrote, `<name> <size>\n<bytes>\n`; when the values together
//! are over the limit, only `<name> <size>\n` (kind `too-large`). It goes
//! to the reporter's log whole, and to its termination message after a
//! header `minitask-results <kind> <report bytes>\n`: whole when it fits
//! the kubelet's budget, otherwise the header alone (the controller then
//! reads the log).

pub const MAGIC: &str = "minitask-results";

/// What the reporter found of one result.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// Its value, when all values fit the limit.
    Value(Vec<u8>),
    /// Only its size, when they do not.
    Size(u64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// What the reporter prints.
    pub log: Vec<u8>,
    /// Its termination message.
    pub message: Vec<u8>,
    /// False for a report of results over the limit.
    pub ok: bool,
}

/// Whether results of these sizes are more than `max` bytes together.
pub fn too_large(sizes: impl IntoIterator<Item = u64>, max: usize) -> bool {
    sizes.into_iter().fold(0u64, u64::saturating_add) > max as u64
}

/// The report of `found` (the results that exist, in declaration order),
/// its termination message within `budget` bytes.
pub fn render(found: &[(String, Found)], budget: usize) -> Report {
    let ok = found.iter().all(|(_, f)| matches!(f, Found::Value(_)));
    let mut log = Vec::new();
    for (name, found) in found {
        match found {
            Found::Value(value) if ok => {
                log.extend(format!("{name} {}\n", value.len()).into_bytes());
                log.extend(value);
                log.push(b'\n');
            }
            Found::Value(value) => log.extend(format!("{name} {}\n", value.len()).into_bytes()),
            Found::Size(size) => log.extend(format!("{name} {size}\n").into_bytes()),
        }
    }
    let kind = if ok { "ok" } else { "too-large" };
    let mut message = format!("{MAGIC} {kind} {}\n", log.len()).into_bytes();
    if message.len() + log.len() <= budget {
        message.extend(&log);
    }
    Report { log, message, ok }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(name: &str, value: &str) -> (String, Found) {
        (name.into(), Found::Value(value.as_bytes().to_vec()))
    }

    #[test]
    fn a_report_that_fits_goes_whole_into_the_message() {
        let report = render(&[value("digest", "sha:abc"), value("url", "")], 4096);
        assert_eq!(report.log, b"digest 7\nsha:abc\nurl 0\n\n");
        assert_eq!(report.message, b"minitask-results ok 24\ndigest 7\nsha:abc\nurl 0\n\n");
        assert!(report.ok);
    }

    #[test]
    fn a_report_over_the_budget_leaves_the_header_alone() {
        let report = render(&[value("blob", &"x".repeat(600))], 585);
        assert_eq!(report.message, b"minitask-results ok 610\n");
        assert_eq!(report.log.len(), 610);
        // Exactly at the budget still fits.
        let fits = render(&[value("b", "")], 27);
        assert_eq!(fits.message, b"minitask-results ok 5\nb 0\n\n");
    }

    #[test]
    fn results_over_the_limit_report_their_sizes() {
        assert!(too_large([9000, 7], 8192));
        assert!(!too_large([8185, 7], 8192));
        assert!(too_large([u64::MAX, 1], 8192));
        let report = render(
            &[("log".into(), Found::Size(9000)), ("digest".into(), Found::Size(7))],
            4096,
        );
        assert_eq!(report.message, b"minitask-results too-large 18\nlog 9000\ndigest 7\n");
        assert!(!report.ok);
    }

    #[test]
    fn no_results_is_an_empty_report() {
        let report = render(&[], 100);
        assert_eq!((report.message, report.ok), (b"minitask-results ok 0\n".to_vec(), true));
    }
}
