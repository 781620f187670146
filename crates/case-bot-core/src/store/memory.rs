//! The in-memory store: for tests and for a Lambda function without a table. Lost on restart.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    AuditRecord, AuditStore, CaseLink, CaseLinkStore, Claim, ClaimState, ClaimStore, DeliveryState,
    OutboxEntry, OutboxStore, Record, RecordStore, RecordSwap, Settlement, Store, unix_ms,
};
use crate::error::Error;

/// Most claims kept: past it the oldest done ones are forgotten first. At DingTalk's 20
/// messages a minute per group that is over 16 hours of one group's traffic, far more than any
/// redelivery window seen (about 60 s).
const CLAIMS: usize = 20_000;

/// Most audit records kept; older ones are dropped.
const AUDIT_RECORDS: usize = 10_000;

/// A [`Store`] in memory, bounded: at most 20,000 claims and 10,000 audit records; sent
/// outbox entries go when pruned.
///
/// ```
/// use case_bot_core::{Claim, ClaimStore, MemoryStore};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::default();
/// assert_eq!(store.claim(&Claim::new("msg:1", "{}", "t", 0, i64::MAX / 2)).await.unwrap(), None);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    claims: HashMap<String, Claim>,
    /// Claim keys in the order they were taken, to forget the oldest first.
    order: VecDeque<String>,
    cases: HashMap<String, CaseLink>,
    audit: VecDeque<AuditRecord>,
    /// The identities of the audit records kept, so a record is not written twice.
    audited: std::collections::HashSet<(String, bool, i64)>,
    /// Entries by id (so in order), with the lease on each: owner and until when.
    outbox: BTreeMap<String, (OutboxEntry, Option<(String, i64)>)>,
    /// Versioned records by (kind, id).
    records: BTreeMap<(String, String), (u64, String)>,
}

impl Memory {
    /// Takes `claim` unless its key is held: by an unfinished claim, or a done one not expired.
    fn claim(&mut self, claim: &Claim, now: i64) -> Option<ClaimState> {
        if let Some(held) = self.claims.get(&claim.key)
            && (held.state != ClaimState::Done || held.expires_at_ms > now)
        {
            return Some(held.state);
        }
        while self.claims.len() >= CLAIMS {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.claims.remove(&oldest);
        }
        if self
            .claims
            .insert(claim.key.clone(), claim.clone())
            .is_none()
        {
            self.order.push_back(claim.key.clone());
        }
        None
    }
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl RecordStore for MemoryStore {
    async fn record(&self, kind: &str, id: &str) -> Result<Option<Record>, Error> {
        let memory = self.lock();
        Ok(memory
            .records
            .get(&(kind.to_owned(), id.to_owned()))
            .map(|(version, value)| Record::new(id, *version, value.clone())))
    }

    async fn records(&self, kind: &str) -> Result<Vec<Record>, Error> {
        let memory = self.lock();
        Ok(memory
            .records
            .range((kind.to_owned(), String::new())..)
            .take_while(|((k, _), _)| k == kind)
            .map(|((_, id), (version, value))| Record::new(id.clone(), *version, value.clone()))
            .collect())
    }

    async fn swap_record(&self, swap: &RecordSwap) -> Result<bool, Error> {
        let mut memory = self.lock();
        let key = (swap.kind.clone(), swap.id.clone());
        let current = memory.records.get(&key).map_or(0, |(version, _)| *version);
        if current != swap.expected {
            return Ok(false);
        }
        match &swap.value {
            Some(value) => memory.records.insert(key, (current + 1, value.clone())),
            None => memory.records.remove(&key),
        };
        for entry in &swap.entries {
            memory
                .outbox
                .entry(entry.id.clone())
                .or_insert_with(|| (entry.clone(), None));
        }
        Ok(true)
    }
}

#[async_trait]
impl ClaimStore for MemoryStore {
    async fn claim(&self, claim: &Claim) -> Result<Option<ClaimState>, Error> {
        Ok(self.lock().claim(claim, unix_ms()))
    }

    async fn advance(&self, key: &str, from: ClaimState, to: ClaimState) -> Result<bool, Error> {
        Ok(match self.lock().claims.get_mut(key) {
            Some(claim) if claim.state == from => {
                claim.state = to;
                true
            }
            _ => false,
        })
    }

    async fn unfinished_claims(&self) -> Result<Vec<Claim>, Error> {
        let memory = self.lock();
        let mut unfinished: Vec<Claim> = memory
            .claims
            .values()
            .filter(|c| c.state != ClaimState::Done)
            .cloned()
            .collect();
        unfinished.sort_by_key(|c| c.claimed_at_ms);
        Ok(unfinished)
    }
}

#[async_trait]
impl CaseLinkStore for MemoryStore {
    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error> {
        self.lock().cases.insert(case_id.to_owned(), link.clone());
        Ok(())
    }

    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, Error> {
        Ok(self.lock().cases.get(case_id).cloned())
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn audit(&self, record: AuditRecord) -> Result<(), Error> {
        let mut memory = self.lock();
        if let Some((key, undelivered, at)) = record.identity()
            && !memory.audited.insert((key.to_owned(), undelivered, at))
        {
            return Ok(());
        }
        if memory.audit.len() >= AUDIT_RECORDS
            && let Some(oldest) = memory.audit.pop_front()
            && let Some((key, undelivered, at)) = oldest.identity()
        {
            let forgotten = (key.to_owned(), undelivered, at);
            memory.audited.remove(&forgotten);
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

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn enqueue(&self, entries: &[OutboxEntry]) -> Result<(), Error> {
        let mut memory = self.lock();
        for entry in entries {
            memory
                .outbox
                .entry(entry.id.clone())
                .or_insert_with(|| (entry.clone(), None));
        }
        Ok(())
    }

    async fn lease_due(
        &self,
        now_ms: i64,
        owner: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, Error> {
        let mut memory = self.lock();
        let mut seen = std::collections::HashSet::new();
        let mut leased = Vec::new();
        for (entry, lease) in memory.outbox.values_mut() {
            if leased.len() >= limit {
                break;
            }
            // Only the oldest pending entry of each conversation is a candidate.
            if entry.state != DeliveryState::Pending || !seen.insert(entry.conversation.clone()) {
                continue;
            }
            let held = lease
                .as_ref()
                .is_some_and(|(by, until)| by != owner && *until > now_ms);
            if held || entry.next_attempt_ms > now_ms {
                continue;
            }
            *lease = Some((owner.to_owned(), lease_until_ms));
            leased.push(entry.clone());
        }
        Ok(leased)
    }

    async fn settle(&self, id: &str, settlement: Settlement) -> Result<(), Error> {
        if let Some((entry, lease)) = self.lock().outbox.get_mut(id) {
            *lease = None;
            entry.attempts += 1;
            match settlement {
                Settlement::Sent => entry.state = DeliveryState::Sent,
                Settlement::Undelivered => entry.state = DeliveryState::Undelivered,
                Settlement::Retry { next_attempt_ms } => entry.next_attempt_ms = next_attempt_ms,
            }
        }
        Ok(())
    }

    async fn pending(&self, conversation: Option<&str>) -> Result<usize, Error> {
        Ok(self
            .lock()
            .outbox
            .values()
            .filter(|(e, _)| {
                e.state == DeliveryState::Pending
                    && conversation.is_none_or(|c| c == e.conversation)
            })
            .count())
    }

    async fn undelivered(&self) -> Result<usize, Error> {
        Ok(self
            .lock()
            .outbox
            .values()
            .filter(|(e, _)| e.state == DeliveryState::Undelivered)
            .count())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn prune(&self, sent_before_ms: i64, audit_before_ms: i64) -> Result<(), Error> {
        let now = unix_ms();
        let mut memory = self.lock();
        memory
            .claims
            .retain(|_, c| c.state != ClaimState::Done || c.expires_at_ms > now);
        let Memory { claims, order, .. } = &mut *memory;
        order.retain(|key| claims.contains_key(key));
        memory.outbox.retain(|_, (e, _)| match e.state {
            DeliveryState::Sent => e.created_at_ms >= sent_before_ms,
            DeliveryState::Undelivered => e.created_at_ms >= audit_before_ms,
            DeliveryState::Pending => true,
        });
        memory.audit.retain(|r| r.at_ms >= audit_before_ms);
        let kept: std::collections::HashSet<(String, bool, i64)> = memory
            .audit
            .iter()
            .filter_map(|r| r.identity().map(|(k, u, at)| (k.to_owned(), u, at)))
            .collect();
        memory.audited = kept;
        Ok(())
    }

    async fn probe(&self) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{CLAIMS, Claim, ClaimState, Memory};

    fn claim(key: &str, now: i64, ttl: i64) -> Claim {
        Claim::new(key, "{}", "t", now, ttl)
    }

    #[test]
    fn a_done_claim_is_held_until_it_expires_and_an_unfinished_one_until_it_is_done() {
        let mut memory = Memory::default();
        assert_eq!(memory.claim(&claim("msg:a", 0, 100), 0), None);
        assert_eq!(
            memory.claim(&claim("msg:a", 150, 100), 150),
            Some(ClaimState::Accepted),
            "not done: held even past its expiry"
        );
        if let Some(held) = memory.claims.get_mut("msg:a") {
            held.state = ClaimState::Done;
        }
        assert_eq!(
            memory.claim(&claim("msg:a", 99, 100), 99),
            Some(ClaimState::Done)
        );
        assert_eq!(
            memory.claim(&claim("msg:a", 150, 100), 150),
            None,
            "expired"
        );
        assert_eq!(memory.claim(&claim("msg:b", 150, 100), 150), None);
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_claims_go_first() {
        let mut memory = Memory::default();
        for i in 0..=CLAIMS {
            assert_eq!(
                memory.claim(&claim(&format!("msg:{i}"), 0, i64::MAX / 2), 0),
                None
            );
        }
        assert!(memory.claims.len() <= CLAIMS);
        assert_eq!(
            memory.claim(&claim("msg:0", 0, 1), 0),
            None,
            "the oldest was forgotten"
        );
        assert!(
            memory
                .claim(&claim(&format!("msg:{CLAIMS}"), 0, 1), 0)
                .is_some(),
            "the newest is held"
        );
    }
}
