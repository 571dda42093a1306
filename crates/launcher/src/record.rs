//! The record a step leaves in its container's termination message: how
//! it ended, its exit code, and when it started and ended (milliseconds
//! since the epoch), then an optional message. One short line, so that it
//! fits the kubelet's budget even in a pod of many containers:
//!
//! ```text
//! minitask-step failed 2 1764620000123 1764620000456
//! cannot run /bin/sh: No such file or directory
//! ```
//!
//! The controller reads it as untrusted input: a step can write anything
//! to its own termination log, and `parse` refuses what is not a record.

const MAGIC: &str = "minitask-step";

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// It exited 0.
    Succeeded,
    /// It failed: the steps after it do not run.
    Failed,
    /// It failed with `onError: continue`: the next step runs.
    Continued,
    /// It went over its own timeout and was stopped.
    TimedOut,
    /// It did not run: an earlier step failed, or the pod was stopped
    /// before its turn.
    Skipped,
    /// It was running when the pod was stopped (cancel, timeout, eviction).
    Stopped,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Succeeded,
        State::Failed,
        State::Continued,
        State::TimedOut,
        State::Skipped,
        State::Stopped,
    ];

    /// The state's word in records and markers.
    pub fn word(self) -> &'static str {
        match self {
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Continued => "continued",
            State::TimedOut => "timed-out",
            State::Skipped => "skipped",
            State::Stopped => "stopped",
        }
    }

    pub fn from_word(word: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.word() == word)
    }

    /// Whether the next step runs after a step that ended so.
    pub fn lets_next_run(self) -> bool {
        matches!(self, State::Succeeded | State::Continued)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub state: State,
    pub exit_code: i32,
    pub started_ms: u64,
    pub finished_ms: u64,
    pub message: String,
}

impl Record {
    /// The record as a termination message of at most `budget` bytes: the
    /// message is cut (on a character boundary) to fit, or dropped.
    pub fn encode(&self, budget: usize) -> String {
        let head = format!(
            "{MAGIC} {} {} {} {}",
            self.state.word(),
            self.exit_code,
            self.started_ms,
            self.finished_ms
        );
        let message = self.message.trim();
        let room = budget.saturating_sub(head.len() + 1);
        if message.is_empty() || room == 0 {
            return head;
        }
        let mut end = message.len().min(room);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        format!("{head}\n{}", &message[..end])
    }

    /// The record in a termination message, or None when it holds none.
    pub fn parse(text: &str) -> Option<Record> {
        let (head, message) = text.split_once('\n').unwrap_or((text, ""));
        let mut words = head.split(' ');
        if words.next()? != MAGIC {
            return None;
        }
        let state = State::from_word(words.next()?)?;
        let exit_code = words.next()?.parse().ok()?;
        let started_ms = words.next()?.parse().ok()?;
        let finished_ms = words.next()?.parse().ok()?;
        if words.next().is_some() || finished_ms < started_ms {
            return None;
        }
        Some(Record {
            state,
            exit_code,
            started_ms,
            finished_ms,
            message: message.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(message: &str) -> Record {
        Record {
            state: State::Failed,
            exit_code: -3,
            started_ms: 1_764_620_000_123,
            finished_ms: 1_764_620_000_456,
            message: message.into(),
        }
    }

    #[test]
    fn records_round_trip_and_fit_their_budget() {
        let short = record("cannot run /bin/sh");
        assert_eq!(Record::parse(&short.encode(4096)), Some(short.clone()));
        let cut = short.encode(60);
        assert!(cut.len() <= 60, "{cut:?}");
        assert_eq!(Record::parse(&cut).unwrap().message, "cannot r");
        // No room for a message: the head alone, still a record.
        let head = short.encode(10);
        assert_eq!(Record::parse(&head).unwrap().message, "");
        let unicode = record("ééééé");
        assert!(Record::parse(&unicode.encode(55)).is_some());
    }

    #[test]
    fn what_is_not_a_record_is_refused() {
        let cases = [
            "",
            "exit 1",
            "minitask-step",
            "minitask-step failed",
            "minitask-step flew 0 1 2",
            "minitask-step failed x 1 2",
            "minitask-step failed 1 1 2 extra",
            "minitask-step failed 1 5 2",
            "minitask-step failed 99999999999 1 2",
            "minitask-step failed 1 -1 2",
        ];
        for text in cases {
            assert_eq!(Record::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn only_success_and_continue_let_the_next_step_run() {
        let next: Vec<_> = State::ALL.into_iter().filter(|s| s.lets_next_run()).collect();
        assert_eq!(next, [State::Succeeded, State::Continued]);
        for state in State::ALL {
            assert_eq!(State::from_word(state.word()), Some(state));
        }
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics(text in any::<String>()) {
            let _ = Record::parse(&text);
        }

        #[test]
        fn any_record_round_trips_within_its_budget(message in any::<String>(), budget in 0usize..600) {
            let mut record = record(&message);
            record.message = record.message.trim().to_string();
            let text = record.encode(budget);
            let read = Record::parse(&text).expect("a record");
            prop_assert!(record.message.starts_with(&read.message));
            prop_assert!(text.len() <= budget.max(text.lines().next().unwrap().len()));
        }
    }
}
