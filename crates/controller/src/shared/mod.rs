//! Pure pieces both kinds of run share: how a message is cut to size and
//! how the `Succeeded` condition follows a run's phase; and the `Valid`
//! condition of Tasks and Pipelines (`valid`).

pub mod valid;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use minitask_api::{CONDITION_SUCCEEDED, Phase};

/// At most `max` bytes of `text`, cut on a character boundary, with
/// "..." after a cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    format!("{}...", prefix(text, max))
}

/// The longest start of `text` of at most `max` bytes, on a character
/// boundary.
pub fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `conditions` with the `Succeeded` condition of a run in `phase` for
/// `reason`: Unknown while it runs, then True or False. Its transition
/// time moves only when its status does.
pub fn set_succeeded(conditions: &mut Vec<Condition>, phase: Phase, reason: &str, message: &str, now: &Time) {
    let status = match phase {
        Phase::Succeeded => "True",
        Phase::Failed => "False",
        Phase::Pending | Phase::Running => "Unknown",
    };
    let transition = match conditions.iter().find(|c| c.type_ == CONDITION_SUCCEEDED) {
        Some(old) if old.status == status => old.last_transition_time.clone(),
        _ => now.clone(),
    };
    conditions.retain(|c| c.type_ != CONDITION_SUCCEEDED);
    conditions.push(Condition {
        type_: CONDITION_SUCCEEDED.into(),
        status: status.into(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: transition,
        observed_generation: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn a_cut_keeps_whole_characters_and_says_it_cut() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("ééé", 3), "é...");
        assert_eq!(prefix("ééé", 3), "é");
    }

    #[test]
    fn the_succeeded_condition_moves_its_time_only_when_its_status_does() {
        let at = |s: i64| Time(Timestamp::from_second(1_800_000_000 + s).unwrap());
        let mut conditions = Vec::new();
        set_succeeded(&mut conditions, Phase::Pending, "Pending", "waiting", &at(0));
        set_succeeded(&mut conditions, Phase::Running, "Running", "running", &at(5));
        assert_eq!(conditions.len(), 1);
        assert_eq!(
            (conditions[0].status.as_str(), &conditions[0].last_transition_time),
            ("Unknown", &at(0))
        );
        set_succeeded(&mut conditions, Phase::Failed, "StepFailed", "it failed", &at(9));
        assert_eq!(
            (conditions[0].status.as_str(), &conditions[0].last_transition_time),
            ("False", &at(9))
        );
        assert_eq!(conditions[0].message, "it failed");
    }
}
