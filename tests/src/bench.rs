//! The table the benchmark binaries print: one line per measurement, the same
//! columns for every section of `make bench`.

use std::time::Duration;

/// One line of the table.
pub struct Row {
    pub name: String,
    pub count: usize,
    pub secs: f64,
    pub rate: String,
}

impl Row {
    pub fn header() -> String {
        format!(
            "{:<46} {:>10} {:>9} {:>30}",
            "measurement", "count", "seconds", "rate"
        )
    }

    pub fn line(&self) -> String {
        format!(
            "{:<46} {:>10} {:>9.3} {:>30}",
            self.name, self.count, self.secs, self.rate
        )
    }

    /// Throughput: `count` things of `unit` in `took`.
    pub fn per_second(name: impl Into<String>, count: usize, took: Duration, unit: &str) -> Row {
        let secs = took.as_secs_f64();
        let rate = if secs > 0.0 {
            format!("{:.0} {unit}/s", count as f64 / secs)
        } else {
            "-".into()
        };
        Row {
            name: name.into(),
            count,
            secs,
            rate,
        }
    }

    /// Cost of one call (`unit` "µs" for microseconds, else nanoseconds per lookup).
    pub fn per_call(name: impl Into<String>, count: usize, took: Duration, unit: &str) -> Row {
        let secs = took.as_secs_f64();
        let each = if count > 0 {
            let ns = secs * 1e9 / count as f64;
            match unit {
                "µs" => format!("{:.2} µs/call", ns / 1000.0),
                _ => format!("{ns:.0} ns/lookup"),
            }
        } else {
            "-".into()
        };
        Row {
            name: name.into(),
            count,
            secs,
            rate: each,
        }
    }

    /// Latency percentiles of individual calls (sorted in place).
    pub fn latency(name: impl Into<String>, samples: &mut [Duration]) -> Row {
        samples.sort_unstable();
        let total: Duration = samples.iter().sum();
        let pct = |p: f64| {
            let i = ((samples.len() as f64 * p).ceil() as usize).saturating_sub(1);
            samples.get(i).copied().unwrap_or_default()
        };
        let (p50, p99) = (pct(0.5), pct(0.99));
        let rate = if p99 < Duration::from_millis(1) {
            format!("p50 {} µs, p99 {} µs", p50.as_micros(), p99.as_micros())
        } else {
            format!(
                "p50 {:.1} ms, p99 {:.1} ms",
                p50.as_secs_f64() * 1000.0,
                p99.as_secs_f64() * 1000.0
            )
        };
        Row {
            name: name.into(),
            count: samples.len(),
            secs: total.as_secs_f64(),
            rate,
        }
    }
}

/// xorshift64*: reproducible random choices without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    }
}
