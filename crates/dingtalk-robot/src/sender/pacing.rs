//! Pacing: the recent sends of each robot in each conversation.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// Completion times of the recent sends to one robot in one conversation; the async lock also
/// serialises the sends, so the parts of a long message arrive in order.
pub(super) type Pacer = tokio::sync::Mutex<VecDeque<Instant>>;

/// The pacer of every robot and conversation sent to lately.
///
/// Idle pacers are dropped when the map has doubled since the last sweep, so a send costs
/// O(1) amortised however many conversations the sender has seen.
#[derive(Debug, Default)]
pub(super) struct Pacers {
    map: HashMap<String, Arc<Pacer>>,
    /// Sweep when the map reaches this size.
    sweep_at: usize,
}

/// The smallest map that is swept.
const PACERS_SWEPT_FROM: usize = 256;

impl Pacers {
    /// The pacer for `key`, made if new.
    pub(super) fn get(&mut self, key: String, window: Duration) -> Arc<Pacer> {
        if self.map.len() >= self.sweep_at.max(PACERS_SWEPT_FROM) {
            // Keep pacers in use, and those with a send inside the window.
            self.map.retain(|_, pacer| {
                Arc::strong_count(pacer) > 1
                    || pacer.try_lock().map_or(true, |sent| {
                        sent.back().is_some_and(|t| t.elapsed() < window)
                    })
            });
            self.sweep_at = self.map.len() * 2;
        }
        Arc::clone(self.map.entry(key).or_default())
    }
}
