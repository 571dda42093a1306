//! The `Valid` condition of a Task or a Pipeline: what the controller
//! found checking it where admission cannot (CEL's cost budget rules out
//! walking every reference).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::shared::cut;

/// The condition type.
pub const CONDITION_VALID: &str = "Valid";

/// The longest message a `Valid` condition carries.
const MAX_MESSAGE: usize = 4096;

/// The `Valid` condition of an object with `problems` (True with `sound`
/// when there are none). Its transition time moves only when its status
/// does.
pub fn valid_condition(
    problems: &[String],
    sound: &str,
    old: &[Condition],
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let (status, reason, message) = match problems.is_empty() {
        true => ("True", "Valid", sound.to_string()),
        false => ("False", "Invalid", cut(&problems.join("; "), MAX_MESSAGE)),
    };
    let transition = match old.iter().find(|c| c.type_ == CONDITION_VALID) {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => now.clone(),
    };
    Condition {
        type_: CONDITION_VALID.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time: transition,
        observed_generation: generation,
    }
}

/// Whether `old` already holds `new` (its time aside): nothing to write.
pub fn already_says(old: &[Condition], new: &Condition) -> bool {
    old.iter().any(|c| {
        c.type_ == new.type_
            && c.status == new.status
            && c.message == new.message
            && c.observed_generation == new.observed_generation
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn the_transition_time_moves_only_with_the_status() {
        let (t1, t2) = (
            Time(Timestamp::from_second(1_800_000_000).unwrap()),
            Time(Timestamp::from_second(1_800_000_100).unwrap()),
        );
        let bad = valid_condition(&["a".into(), "b".into()], "ok", &[], Some(1), &t1);
        assert_eq!((bad.status.as_str(), bad.message.as_str()), ("False", "a; b"));
        let worse = valid_condition(&["c".into()], "ok", std::slice::from_ref(&bad), Some(2), &t2);
        assert_eq!(worse.last_transition_time, t1, "still False");
        assert!(!already_says(std::slice::from_ref(&bad), &worse));
        let good = valid_condition(&[], "ok", &[worse], Some(3), &t2);
        assert_eq!((good.status.as_str(), good.last_transition_time.clone()), ("True", t2));
        assert!(already_says(std::slice::from_ref(&good), &good));
        let long = valid_condition(&["x".repeat(10_000)], "ok", &[], None, &t1);
        assert!(long.message.len() <= MAX_MESSAGE + 3);
    }
}
