//! A schedule's cron fields in its time zone.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use minitask_api::Schedule;

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Cron {
    cron: croner::Cron,
    zone: TimeZone,
}

/// Parses `schedule`; the error says which field is wrong and how.
pub fn parse(schedule: &Schedule) -> Result<Cron, String> {
    let text = schedule.cron.trim();
    let fields = text.split_whitespace().count();
    if !text.starts_with('@') && fields != 5 {
        return Err(format!(
            "spec.schedule.cron {text:?} has {fields} fields; give five (minute hour day-of-month month day-of-week), e.g. \"0 3 * * *\", or a macro such as @daily"
        ));
    }
    let cron = croner::Cron::from_str(text)
        .map_err(|e| format!("spec.schedule.cron {text:?} is not a valid cron schedule: {e}"))?;
    let zone = match schedule.time_zone.as_deref() {
        None | Some("") | Some("UTC") => TimeZone::UTC,
        Some(name) => TimeZone::get(name).map_err(|_| {
            format!(
                "spec.schedule.timeZone {name:?} is not a known IANA time zone; use a name such as Europe/Berlin or UTC"
            )
        })?,
    };
    Ok(Cron { cron, zone })
}

impl Cron {
    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let zoned = t.to_zoned(self.zone.clone());
        self.cron
            .find_next_occurrence(&zoned, false)
            .ok()
            .map(|z| z.timestamp())
    }

    /// The last fire time at or before `t`.
    pub fn last_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        let zoned = t.to_zoned(self.zone.clone());
        self.cron
            .find_previous_occurrence(&zoned, true)
            .ok()
            .map(|z| z.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(cron: &str, zone: Option<&str>) -> Schedule {
        Schedule {
            cron: cron.into(),
            time_zone: zone.map(String::from),
            ..Schedule::default()
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn fire_times_follow_the_fields_and_the_zone() {
        let every_minute = parse(&schedule("* * * * *", None)).unwrap();
        assert_eq!(
            every_minute.next_after(at("2026-12-03T10:00:30Z")),
            Some(at("2026-12-03T10:01:00Z"))
        );
        assert_eq!(
            every_minute.next_after(at("2026-12-03T10:01:00Z")),
            Some(at("2026-12-03T10:02:00Z"))
        );
        assert_eq!(
            every_minute.last_at_or_before(at("2026-12-03T10:01:00Z")),
            Some(at("2026-12-03T10:01:00Z"))
        );
        let berlin = parse(&schedule("0 3 * * *", Some("Europe/Berlin"))).unwrap();
        assert_eq!(
            berlin.next_after(at("2026-12-03T00:00:00Z")),
            Some(at("2026-12-03T02:00:00Z"))
        );
        assert_eq!(
            berlin.next_after(at("2026-07-03T00:00:00Z")),
            Some(at("2026-07-03T01:00:00Z"))
        );
        let daily = parse(&schedule("@daily", None)).unwrap();
        assert_eq!(
            daily.next_after(at("2026-12-03T10:00:00Z")),
            Some(at("2026-12-04T00:00:00Z"))
        );
        let weekdays = parse(&schedule("30 9 * * MON-FRI", None)).unwrap();
        assert_eq!(
            weekdays.next_after(at("2026-12-04T10:00:00Z")),
            Some(at("2026-12-07T09:30:00Z"))
        );
    }

    #[test]
    fn bad_schedules_say_which_field() {
        let err = parse(&schedule("* * * *", None)).unwrap_err();
        assert!(err.contains("has 4 fields"), "{err}");
        let err = parse(&schedule("61 * * * *", None)).unwrap_err();
        assert!(
            err.starts_with("spec.schedule.cron \"61 * * * *\" is not a valid cron schedule"),
            "{err}"
        );
        let err = parse(&schedule("* * * * *", Some("Mars/Olympus"))).unwrap_err();
        assert!(err.contains("spec.schedule.timeZone \"Mars/Olympus\""), "{err}");
    }
}
