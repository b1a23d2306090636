//! The running health checkers: one checkers-crate runner per real server,
//! so a reload can keep, start or stop each independently (a kept runner
//! keeps its verdict: nothing is re-checked from scratch).

use std::collections::HashMap;

use checkers::runner::{Runner, RunnerError, ServerTransition};
use checkers::{RealServerChecks, RealServerId};
use tokio::sync::mpsc::UnboundedSender;

use crate::director::RealServerKey;

pub struct CheckerPool {
    runners: HashMap<RealServerKey, (RealServerId, Runner)>,
    keys: HashMap<RealServerId, RealServerKey>,
    next_id: RealServerId,
    transitions: UnboundedSender<ServerTransition>,
}

impl CheckerPool {
    pub fn new(transitions: UnboundedSender<ServerTransition>) -> Self {
        CheckerPool {
            runners: HashMap::new(),
            keys: HashMap::new(),
            next_id: 1,
            transitions,
        }
    }

    /// Starts checking `key` (replacing a running checker); needs a tokio runtime.
    pub fn start(
        &mut self,
        key: RealServerKey,
        mut checks: RealServerChecks,
    ) -> Result<(), RunnerError> {
        self.stop(&key);
        // A fresh id per start: late transitions of a stopped runner are ignored.
        let id = self.next_id;
        self.next_id += 1;
        checks.id = id;
        let runner = Runner::start(vec![checks], self.transitions.clone())?;
        self.keys.insert(id, key.clone());
        self.runners.insert(key, (id, runner));
        Ok(())
    }

    pub fn stop(&mut self, key: &RealServerKey) {
        if let Some((id, mut runner)) = self.runners.remove(key) {
            runner.stop();
            self.keys.remove(&id);
        }
    }

    /// Makes room for `additional` more runners at once (a start-up with 10k
    /// real servers would otherwise regrow both maps a dozen times).
    pub fn reserve(&mut self, additional: usize) {
        self.runners.reserve(additional);
        self.keys.reserve(additional);
    }

    /// The real server a transition is about, if its checker still runs.
    pub fn key_of(&self, id: RealServerId) -> Option<&RealServerKey> {
        self.keys.get(&id)
    }

    pub fn len(&self) -> usize {
        self.runners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runners.is_empty()
    }
}
