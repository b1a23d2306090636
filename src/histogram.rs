//! A Prometheus-style histogram kept as plain data, so it can travel in the
//! status snapshot (and the VRRP state file) and be encoded at scrape time.
//! One type for the takeover phases, the check durations and the track
//! script durations.

use serde::{Deserialize, Serialize};

/// Upper bounds (seconds) for latencies from a fast netlink write (half a
/// millisecond) to a slow detection or a full table at start-up (10 s).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counts per bucket (not cumulated: the encoder sums them), the last one
/// past the highest bound; and the sum of the observed values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Histogram {
    /// Upper bounds, ascending (seconds, for every histogram lvsd has).
    pub bounds: Vec<f64>,
    /// One count per bound, then the overflow.
    pub counts: Vec<u64>,
    pub sum: f64,
}

impl Histogram {
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    /// From counts made elsewhere (the checker pool's atomics); missing
    /// counts are zero, extra ones are added to the overflow.
    pub fn from_counts(bounds: &[f64], counts: &[u64], sum: f64) -> Histogram {
        let mut h = Histogram::new(bounds);
        for (i, n) in counts.iter().enumerate() {
            let slot = i.min(bounds.len());
            h.counts[slot] += n;
        }
        h.sum = sum;
        h
    }

    pub fn observe(&mut self, value: f64) {
        if self.counts.len() != self.bounds.len() + 1 {
            self.counts.resize(self.bounds.len() + 1, 0);
        }
        let slot = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.counts[slot] += 1;
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// (upper bound, count in that bucket alone) pairs ending with +Inf,
    /// as prometheus-client's encoder takes them (it cumulates).
    pub fn per_bucket(&self) -> Vec<(f64, u64)> {
        self.bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().copied().chain(std::iter::repeat(0)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn values_fall_in_the_first_bucket_that_holds_them() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 3.0] {
            h.observe(v);
        }
        assert_eq!(h.per_bucket(), vec![(0.1, 2), (1.0, 1), (f64::INFINITY, 1)]);
        assert_eq!(h.count(), 4);
        assert!((h.sum - 3.65).abs() < 1e-9);
    }

    #[test]
    fn counts_from_elsewhere_keep_their_overflow() {
        let h = Histogram::from_counts(&[0.1, 1.0], &[1, 2, 3, 4], 9.0);
        assert_eq!(h.counts, vec![1, 2, 7]);
        assert_eq!(h.count(), 10);
    }
}
