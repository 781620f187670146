//! The in-memory store: for tests and for a Lambda function without a table. Lost on restart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{AuditRecord, CaseLink, Store, unix_ms};
use crate::error::Error;

/// Most idempotency claims kept: past it the oldest are forgotten first. At DingTalk's 20
/// messages a minute per group that is over 16 hours of one group's traffic, far more than any
/// redelivery window seen (about 60 s).
const CLAIMS: usize = 20_000;

/// Most audit records kept; older ones are dropped.
const AUDIT_RECORDS: usize = 10_000;

/// A [`Store`] in memory, bounded: at most 20,000 claims and 10,000 audit records.
///
/// ```
/// use case_bot_core::{MemoryStore, Store};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::default();
/// assert!(store.claim("msg:1", 60_000).await.unwrap());
/// assert!(!store.claim("msg:1", 60_000).await.unwrap(), "a redelivery");
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    /// Claim key → expiry (Unix ms).
    claims: HashMap<String, i64>,
    /// Claims in the order they were taken, to forget the oldest first.
    order: VecDeque<(i64, String)>,
    cases: HashMap<String, CaseLink>,
    audit: VecDeque<AuditRecord>,
}

impl Memory {
    /// Claims `key` until `expires`; `false` if it is held.
    fn claim(&mut self, key: &str, now: i64, expires: i64) -> bool {
        while let Some((until, oldest)) = self.order.front() {
            if *until > now && self.order.len() < CLAIMS {
                break;
            }
            // Only if not claimed again since (a later entry then holds it).
            if self.claims.get(oldest) == Some(until) {
                self.claims.remove(oldest);
            }
            self.order.pop_front();
        }
        if self.claims.get(key).is_some_and(|&until| until > now) {
            return false;
        }
        self.claims.insert(key.to_owned(), expires);
        self.order.push_back((expires, key.to_owned()));
        true
    }
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn claim(&self, key: &str, ttl_ms: i64) -> Result<bool, Error> {
        let now = unix_ms();
        Ok(self.lock().claim(key, now, now.saturating_add(ttl_ms)))
    }

    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error> {
        self.lock().cases.insert(case_id.to_owned(), link.clone());
        Ok(())
    }

    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, Error> {
        Ok(self.lock().cases.get(case_id).cloned())
    }

    async fn audit(&self, record: AuditRecord) -> Result<(), Error> {
        let mut memory = self.lock();
        if memory.audit.len() >= AUDIT_RECORDS {
            memory.audit.pop_front();
        }
        memory.audit.push_back(record);
        Ok(())
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        Ok(self
            .lock()
            .audit
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::{CLAIMS, Memory};

    #[test]
    fn a_claim_is_held_until_it_expires_then_free_again() {
        let mut memory = Memory::default();
        assert!(memory.claim("msg:a", 0, 100));
        assert!(!memory.claim("msg:a", 99, 199), "held");
        assert!(memory.claim("msg:b", 99, 199), "another key is independent");
        assert!(memory.claim("msg:a", 100, 200), "expired at 100");
        // The queue still holds a's first entry; dropping it must not release the new claim.
        assert!(memory.claim("msg:c", 150, 250));
        assert!(
            !memory.claim("msg:a", 199, 299),
            "claimed again, a is held until 200"
        );
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_claims_go_first() {
        let mut memory = Memory::default();
        let far = i64::MAX;
        for i in 0..=CLAIMS {
            assert!(memory.claim(&format!("msg:{i}"), 0, far));
        }
        assert!(memory.claims.len() <= CLAIMS);
        assert!(memory.order.len() <= CLAIMS);
        assert!(memory.claim("msg:0", 0, far), "the oldest was forgotten");
        assert!(
            !memory.claim(&format!("msg:{CLAIMS}"), 0, far),
            "the newest is held"
        );
    }
}
