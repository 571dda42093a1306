//! Where things live in the store. Pure.
//!
//! ```text
//! v1/{ns}/{kind}/runs/{bucket}/{when}-{name}.{uid}.json.gz   the record
//! v1/{ns}/{kind}/names/{name}/{when}.{uid}                 -> the record's key
//! v1/{ns}/{kind}/by/{task}/{when}-{name}.{uid}             -> the record's key
//! v1/{ns}/taskruns/logs/{uid}/{attempt}/{index}-{step}.log.gz
//! ```
//!
//! `{when}` is the end time inverted (`9999999999999 - ms`), so keys sort
//! newest first in any store; `{bucket}` is its first six digits (about 2.8
//! hours), so the newest page reads one small directory, not every run a namespace ever had. Every part is
//! checked to be a Kubernetes name before it becomes a key: nothing a
//! reader sends can climb out of its namespace.

use std::fmt;

const LATEST: i64 = 9_999_999_999_999;

/// The two kinds of run, as they appear in keys and URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    TaskRun,
    PipelineRun,
}

impl Kind {
    pub fn plural(self) -> &'static str {
        match self {
            Kind::TaskRun => "taskruns",
            Kind::PipelineRun => "pipelineruns",
        }
    }

    pub fn from_plural(plural: &str) -> Option<Kind> {
        match plural {
            "taskruns" => Some(Kind::TaskRun),
            "pipelineruns" => Some(Kind::PipelineRun),
            _ => None,
        }
    }
}

/// A key part that is not a Kubernetes name.
#[derive(Debug, PartialEq)]
pub struct BadName {
    pub field: &'static str,
    pub value: String,
}

impl std::error::Error for BadName {}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} is not a Kubernetes name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)",
            self.field, self.value
        )
    }
}

/// `value` as a key part, if it is a DNS subdomain (names, namespaces,
/// UIDs: all are). No `/`, no leading `.`: no path tricks.
pub fn checked<'a>(field: &'static str, value: &'a str) -> Result<&'a str, BadName> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let ok_end = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !value.is_empty()
        && value.len() <= 253
        && value.chars().all(ok_char)
        && ok_end(value.chars().next())
        && ok_end(value.chars().last())
        && !value.contains("..")
    {
        Ok(value)
    } else {
        Err(BadName {
            field,
            value: value.chars().take(80).collect(),
        })
    }
}

/// One archived run: what its keys are made of.
#[derive(Clone, Debug, PartialEq)]
pub struct RunKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// When it ended, in ms since the epoch.
    pub ended_ms: i64,
}

impl RunKey {
    pub fn new(kind: Kind, namespace: &str, name: &str, uid: &str, ended_ms: i64) -> Result<RunKey, BadName> {
        Ok(RunKey {
            kind,
            namespace: checked("namespace", namespace)?.to_string(),
            name: checked("name", name)?.to_string(),
            uid: checked("uid", uid)?.to_string(),
            ended_ms,
        })
    }

    fn when(&self) -> String {
        format!("{:013}", (LATEST - self.ended_ms.clamp(0, LATEST)))
    }

    /// The run a record's key is of (the inverse of `record`).
    pub fn from_record(kind: Kind, namespace: &str, key: &str) -> Option<RunKey> {
        let file = key.rsplit('/').next()?.strip_suffix(".json.gz")?;
        let (when, rest) = (file.get(..13)?, file.get(14..)?);
        let (name, uid) = rest.rsplit_once('.')?;
        let ended_ms = LATEST - when.parse::<i64>().ok()?;
        RunKey::new(kind, namespace, name, uid, ended_ms).ok()
    }

    /// Whether the run ended before `ms`.
    pub fn ended_before(&self, ms: i64) -> bool {
        self.ended_ms < ms
    }

    /// Every key of the run's logs lives under this.
    pub fn logs_dir(&self) -> String {
        format!("{}/logs/{}", kind_dir(self.kind, &self.namespace), self.uid)
    }

    /// `{b1}/{b2}/{when}`
    fn bucketed(&self) -> String {
        let when = self.when();
        format!("{}/{}/{when}", &when[..6], &when[6..8])
    }

    /// The key of the run's record.
    pub fn record(&self) -> String {
        format!(
            "{}/{}-{}.{}.json.gz",
            runs_dir(self.kind, &self.namespace),
            self.bucketed(),
            self.name,
            self.uid
        )
    }

    /// The pointer that finds the run by name (newest run of a name first).
    pub fn by_name(&self) -> String {
        format!(
            "{}/{}.{}",
            names_dir(self.kind, &self.namespace, &self.name),
            self.when(),
            self.uid
        )
    }

    /// The pointer that finds the run by its Task or Pipeline.
    pub fn by_task(&self, task: &str) -> Result<String, BadName> {
        Ok(format!(
            "{}/{}-{}.{}",
            task_dir(self.kind, &self.namespace, checked("task", task)?),
            self.bucketed(),
            self.name,
            self.uid
        ))
    }

    /// The key of one step's log of one attempt (1 is the first).
    pub fn log(&self, attempt: u32, index: usize, step: &str) -> String {
        format!(
            "{}/logs/{}/{attempt}/{index:02}-{step}.log.gz",
            kind_dir(self.kind, &self.namespace),
            self.uid
        )
    }
}

/// Every run of a kind in a namespace lives under this.
pub fn kind_dir(kind: Kind, namespace: &str) -> String {
    format!("v1/{namespace}/{}", kind.plural())
}

/// Every record of a kind in a namespace, newest first (two levels of
/// buckets, then the records).
pub fn runs_dir(kind: Kind, namespace: &str) -> String {
    format!("{}/runs", kind_dir(kind, namespace))
}

/// The pointers of every run of a Task (or Pipeline), bucketed as `runs_dir`.
pub fn task_dir(kind: Kind, namespace: &str, task: &str) -> String {
    format!("{}/by/{task}", kind_dir(kind, namespace))
}

/// The pointers of every run called `name`, newest first.
pub fn names_dir(kind: Kind, namespace: &str, name: &str) -> String {
    format!("{}/names/{name}", kind_dir(kind, namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ended_ms: i64) -> RunKey {
        RunKey::new(Kind::TaskRun, "team-a", "build-x7k2p", "3f2a-11", ended_ms).unwrap()
    }

    #[test]
    fn newer_runs_sort_first() {
        let older = key(1_764_000_000_000);
        let newer = key(1_764_000_000_001);
        assert!(newer.record() < older.record());
        assert!(newer.by_name() < older.by_name());
        assert_eq!(
            newer.record(),
            "v1/team-a/taskruns/runs/823599/99/8235999999998-build-x7k2p.3f2a-11.json.gz"
        );
        assert_eq!(
            newer.log(2, 3, "test"),
            "v1/team-a/taskruns/logs/3f2a-11/2/03-test.log.gz"
        );
    }

    #[test]
    fn a_record_key_says_whose_it_is() {
        let run = RunKey::new(Kind::PipelineRun, "ns", "nightly.v2", "3f2a-11", 1_764_000_000_123).unwrap();
        assert_eq!(RunKey::from_record(Kind::PipelineRun, "ns", &run.record()), Some(run));
        assert_eq!(
            RunKey::from_record(Kind::TaskRun, "ns", "v1/ns/taskruns/runs/x/y/z.json.gz"),
            None
        );
    }

    #[test]
    fn nothing_but_a_kubernetes_name_becomes_a_key() {
        for bad in [
            "",
            "../team-b",
            "a/b",
            "..",
            ".hidden",
            "A",
            "a..b",
            "a-",
            &"a".repeat(254),
        ] {
            assert!(RunKey::new(Kind::TaskRun, bad, "n", "u", 0).is_err(), "{bad:?}");
            assert!(RunKey::new(Kind::TaskRun, "ns", bad, "u", 0).is_err(), "{bad:?}");
        }
        let err = checked("namespace", "../b").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("namespace \"../b\" is not a Kubernetes name")
        );
    }
}
