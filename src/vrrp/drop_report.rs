//! Rate-limited reports of VRRP packets dropped before any instance saw
//! them (too short, no VRID, bad IP header): one log line per interface and
//! kind of error per [`DROP_REPORT_INTERVAL`], with how many were dropped
//! since, so a flood is visible at the default log level without writing a
//! line per packet. Pure: time is passed in.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::mem::Discriminant;
use std::time::Instant;

use super::fsm::DROP_REPORT_INTERVAL;
use super::packet::PacketError;

/// Interfaces × kinds of error remembered, at most (interfaces are few; the
/// bound only guards against surprises).
const MAX_KEYS: usize = 1024;

#[derive(Default)]
pub struct DropReporter {
    seen: HashMap<(String, Discriminant<PacketError>), Seen>,
}

struct Seen {
    reported_at: Instant,
    since: u64,
}

impl DropReporter {
    /// One more packet dropped on `interface` for `error`: `Some(n)` when a
    /// line is due, `n` being the drops it reports (this one included).
    pub fn on_drop(&mut self, now: Instant, interface: &str, error: &PacketError) -> Option<u64> {
        let key = (interface.to_string(), std::mem::discriminant(error));
        match self.seen.get_mut(&key) {
            Some(s) => {
                s.since += 1;
                if now.saturating_duration_since(s.reported_at) < DROP_REPORT_INTERVAL {
                    return None;
                }
                let n = s.since;
                s.since = 0;
                s.reported_at = now;
                Some(n)
            }
            None => {
                if self.seen.len() >= MAX_KEYS {
                    self.seen.clear();
                }
                self.seen.insert(
                    key,
                    Seen {
                        reported_at: now,
                        since: 0,
                    },
                );
                Some(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_flood_gives_one_line_per_interval_with_its_count() {
        let t0 = Instant::now();
        let mut r = DropReporter::default();
        let short = PacketError::TooShort { len: 3, need: 8 };
        assert_eq!(r.on_drop(t0, "eth0", &short), Some(1));
        // 85,000 more within the interval: silent.
        for i in 0..85_000u64 {
            let t = t0 + Duration::from_micros(i * 100);
            assert_eq!(r.on_drop(t, "eth0", &short), None);
        }
        // Another interface is reported on its own.
        assert_eq!(r.on_drop(t0, "eth1", &short), Some(1));
        // The next report counts everything since the last.
        assert_eq!(
            r.on_drop(t0 + DROP_REPORT_INTERVAL, "eth0", &short),
            Some(85_001)
        );
    }
}
