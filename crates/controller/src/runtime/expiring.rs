//! A map whose entries expire: the controller's short memories (pods it
//! created that the watch has not shown yet, status writes it made). Old
//! entries are swept at most once per lifetime, so that a reconcile costs a
//! lookup, not a scan of every entry.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Expiring<K, V> {
    ttl: Duration,
    entries: HashMap<K, (V, Instant)>,
    swept: Option<Instant>,
}

impl<K: Eq + Hash, V> Expiring<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Expiring {
            ttl,
            entries: HashMap::new(),
            swept: None,
        }
    }

    pub fn insert(&mut self, key: K, value: V, now: Instant) {
        self.sweep(now);
        self.entries.insert(key, (value, now));
    }

    /// The entry and its age, unless it has expired.
    pub fn get(&self, key: &K, now: Instant) -> Option<(&V, Duration)> {
        let (value, at) = self.entries.get(key)?;
        let age = now.saturating_duration_since(*at);
        (age < self.ttl).then_some((value, age))
    }

    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn sweep(&mut self, now: Instant) {
        if self
            .swept
            .is_some_and(|at| now.saturating_duration_since(at) < self.ttl)
        {
            return;
        }
        let ttl = self.ttl;
        self.entries
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
        self.swept = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_swept_once_per_lifetime() {
        let start = Instant::now();
        let s = Duration::from_secs(1);
        let mut map = Expiring::new(10 * s);
        map.insert("a", 1, start);
        assert_eq!(map.get(&"a", start + 3 * s), Some((&1, 3 * s)));
        assert_eq!(map.get(&"a", start + 10 * s), None, "expired, although still stored");
        map.insert("b", 2, start + 5 * s);
        assert_eq!(map.len(), 2, "the first sweep was at the first insert");
        map.insert("c", 3, start + 12 * s);
        assert_eq!(map.len(), 2, "a swept, b and c kept");
        assert_eq!(map.get(&"b", start + 12 * s), Some((&2, 7 * s)));
        map.remove(&"b");
        map.remove(&"c");
        assert!(map.is_empty());
    }
}
