//! A small seeded random number generator (xorshift64*), so that a
//! scenario's "random moments" can be replayed with `--seed`.

use std::time::Duration;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A duration between `low` and `high`.
    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = high.saturating_sub(low).as_millis() as u64;
        low + Duration::from_millis(self.next() % (span + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_moments_within_bounds() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let low = Duration::from_millis(100);
        let high = Duration::from_millis(300);
        for _ in 0..100 {
            let x = a.between(low, high);
            assert_eq!(x, b.between(low, high));
            assert!(x >= low && x <= high);
        }
        assert_ne!(Rng::new(1).next(), Rng::new(2).next());
    }
}
