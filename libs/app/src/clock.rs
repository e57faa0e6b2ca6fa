use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// The time source of a service. Production uses the system time; tests and the demo
/// shift it (`clock.offset_secs`, or [`Clock::advance`]) to run a year in minutes.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Clock::default()
    }
    pub fn with_offset(offset: Duration) -> Self {
        let c = Clock::default();
        c.offset_ms
            .store(offset.num_milliseconds(), Ordering::SeqCst);
        c
    }
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
    /// Sets this clock so that `now()` returns about `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        let off = at - Utc::now();
        self.offset_ms
            .store(off.num_milliseconds(), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_all_clones() {
        let c = Clock::system();
        let c2 = c.clone();
        let before = c2.now();
        c.advance(Duration::days(365));
        assert!(c2.now() - before >= Duration::days(365));
    }
}
