//! The running health checkers: one checkers-crate runner for the whole pool,
//! with each real server added and removed on its own, so a reload can keep,
//! start or stop each independently (a kept server keeps its verdict:
//! nothing is re-checked from scratch).

use std::collections::HashMap;

use checkers::runner::{Runner, RunnerError, ServerTransition};
use checkers::{RealServerChecks, RealServerId};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::director::RealServerKey;

pub struct CheckerPool {
    runner: Runner,
    ids: HashMap<RealServerKey, RealServerId>,
    keys: HashMap<RealServerId, RealServerKey>,
    next_id: RealServerId,
}

impl CheckerPool {
    /// An empty pool; needs a tokio runtime.
    pub fn new(transitions: UnboundedSender<ServerTransition>) -> Self {
        CheckerPool {
            runner: Runner::new(transitions),
            ids: HashMap::new(),
            keys: HashMap::new(),
            next_id: 1,
        }
    }

    /// Failed checks of `key` since its checkers were (re)started, and
    /// when its last check ended.
    pub fn check_record(&self, key: &RealServerKey) -> super::status::CheckRecord {
        let (failures, last_ms) = self
            .ids
            .get(key)
            .and_then(|id| self.runner.check_record(*id))
            .unwrap_or((0, None));
        super::status::CheckRecord {
            failures,
            last_check: last_ms.map_or(0, |ms| ms / 1000),
        }
    }

    /// The runner's scheduling counters.
    pub fn stats(&self) -> std::sync::Arc<checkers::runner::RunnerStats> {
        self.runner.stats()
    }

    /// Starts checking `key` (replacing a running checker). `now` is read
    /// once by a caller starting many servers at once.
    pub fn start(
        &mut self,
        key: RealServerKey,
        checks: &RealServerChecks,
        now: Instant,
    ) -> Result<(), RunnerError> {
        self.stop(&key);
        // A fresh id per start: late transitions of a stopped checker are ignored.
        let id = self.next_id;
        self.next_id += 1;
        self.runner.add(id, checks, now)?;
        self.keys.insert(id, key.clone());
        self.ids.insert(key, id);
        Ok(())
    }

    pub fn stop(&mut self, key: &RealServerKey) {
        if let Some(id) = self.ids.remove(key) {
            self.runner.remove(id);
            self.keys.remove(&id);
        }
    }

    /// Makes room for `additional` more real servers at once (a start-up with
    /// 10k real servers would otherwise regrow the maps a dozen times).
    pub fn reserve(&mut self, additional: usize) {
        self.runner.reserve(additional);
        self.ids.reserve(additional);
        self.keys.reserve(additional);
    }

    /// The real server a transition is about, if its checker still runs.
    pub fn key_of(&self, id: RealServerId) -> Option<&RealServerKey> {
        self.keys.get(&id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
