//! The public endpoints' budgets: a generic cell rate algorithm (GCRA) per client.
//!
//! A budget of `n` requests a minute lets a client send `n` at once and then one every
//! `60/n` seconds. The state is one time per client — the theoretical arrival time
//! (TAT) — kept in Postgres so every replica spends from the same budget
//! (`store::rate`). This module holds the arithmetic.

use std::time::Duration;

/// A per-client budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub per_minute: u32,
}

impl Budget {
    /// The time one request costs.
    pub fn interval(self) -> Duration {
        Duration::from_micros(60_000_000 / u64::from(self.per_minute.max(1)))
    }

    /// How far ahead of now the TAT may run and a request still pass: a full
    /// minute's burst less one interval.
    pub fn tolerance(self) -> Duration {
        self.interval() * self.per_minute.max(1).saturating_sub(1)
    }

    /// Whole seconds to wait, given how far the TAT runs ahead of now: until it is
    /// back within the tolerance. At least 1.
    pub fn retry_after(self, ahead: Duration) -> u64 {
        let wait = ahead.saturating_sub(self.tolerance());
        (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_of_burst_then_one_per_interval() {
        let b = Budget { per_minute: 60 };
        assert_eq!(b.interval(), Duration::from_secs(1));
        assert_eq!(b.tolerance(), Duration::from_secs(59));
        // Simulate: 60 requests at t=0 pass, the 61st waits a second.
        let mut tat = Duration::ZERO;
        let now = Duration::ZERO;
        let mut passed = 0;
        for _ in 0..100 {
            let start = tat.max(now);
            if start <= now + b.tolerance() {
                tat = start + b.interval();
                passed += 1;
            }
        }
        assert_eq!(passed, 60);
        assert_eq!(b.retry_after(tat - now), 1);
        let b = Budget { per_minute: 2 };
        assert_eq!(b.interval(), Duration::from_secs(30));
        assert_eq!(b.retry_after(Duration::from_secs(60)), 30);
        assert_eq!(b.retry_after(Duration::from_millis(30_001)), 1);
        assert_eq!(b.retry_after(Duration::ZERO), 1, "never 0");
    }
}
