//! A token bucket per Trigger: `rate` deliveries a second, bursts of twice
//! that. Pure: the caller passes the time.

use std::collections::HashMap;
use std::time::Instant;

#[derive(Default)]
pub struct Limits {
    buckets: HashMap<String, (f64, Instant)>,
}

impl Limits {
    /// Takes a token for `key` at `now`; false when none is left.
    pub fn take(&mut self, key: &str, rate: u32, now: Instant) -> bool {
        let rate = f64::from(rate.max(1));
        let burst = rate * 2.0;
        let (tokens, last) = self.buckets.entry(key.to_string()).or_insert((burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * rate;
        *tokens = (*tokens + refill).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets Triggers that are gone.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.buckets.retain(|k, _| keep(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_twice_the_rate_then_the_rate() {
        let mut limits = Limits::default();
        let start = Instant::now();
        let taken = (0..30).filter(|_| limits.take("t", 10, start)).count();
        assert_eq!(taken, 20);
        assert!(!limits.take("t", 10, start + Duration::from_millis(50)));
        assert!(limits.take("t", 10, start + Duration::from_millis(110)));
        assert!(limits.take("other", 10, start), "each Trigger has its own bucket");
    }
}
