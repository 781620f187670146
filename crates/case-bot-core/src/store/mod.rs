//! State, split by concern: claims (idempotency, with each event's state), case links, the
//! audit trail, and the outbox of messages for DingTalk.
//!
//! Every store is durable when a call returns: there is no write-behind queue. The
//! implementations ([`MemoryStore`], `SqliteStore`, `DynamoStore`) pass one contract suite
//! (`tests/common`).

#[cfg(feature = "dynamodb")]
mod dynamo;
mod memory;
mod records;
#[cfg(feature = "sqlite")]
mod sqlite;
mod versioned;

#[cfg(feature = "dynamodb")]
pub use dynamo::DynamoStore;
pub use memory::MemoryStore;
pub(crate) use records::UNDELIVERED;
pub use records::{
    AuditRecord, CaseLink, Claim, ClaimState, DeliveryState, Destination, Finish, OutboxEntry,
    Settlement,
};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteStore, StateFile};
pub use versioned::{Record, RecordStore, RecordSwap};

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::error::Error;

/// Unix milliseconds now.
pub(crate) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Claims: an event's key, its state, and what is needed to finish it after a crash.
#[async_trait]
pub trait ClaimStore: Send + Sync {
    /// Takes `claim.key` if it is free or its hold has expired (`Ok(None)`); when another
    /// delivery holds it, that claim's state. Atomic, and durable when it returns.
    async fn claim(&self, claim: &Claim) -> Result<Option<ClaimState>, Error>;
    /// Moves the claim of `key` from `from` to `to`, atomically; `false` (and nothing changed)
    /// when it was not in `from`. Only one of two processes racing to start a claim wins.
    async fn advance(&self, key: &str, from: ClaimState, to: ClaimState) -> Result<bool, Error>;
    /// The claims that are not done, oldest first: those a crash interrupted.
    async fn unfinished_claims(&self) -> Result<Vec<Claim>, Error>;
}

/// Case links: which conversation a case was opened from, and by whom.
#[async_trait]
pub trait CaseLinkStore: Send + Sync {
    /// Records which conversation a case belongs to.
    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error>;
    /// The conversation of a case opened through the bot.
    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, Error>;
}

/// The audit trail: one record per message acted on, and one per reply given up.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an audit record, unless one of the same [identity](AuditRecord::identity) (claim,
    /// kind and time) is there already.
    async fn audit(&self, record: AuditRecord) -> Result<(), Error>;
    /// The newest `limit` audit records, newest first.
    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, Error>;
}

/// The outbox: every message for DingTalk, from before its first attempt until it is sent
/// or given up.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Adds `entries`, in order; an entry whose id is there already is left as it is (so a
    /// claim's reply, enqueued again after a crash, goes out once).
    async fn enqueue(&self, entries: &[OutboxEntry]) -> Result<(), Error>;
    /// Leases up to `limit` entries that are due at `now_ms`: of each conversation only its
    /// oldest pending entry, and only if no other worker holds a lease on it. The entries are
    /// `owner`'s until `lease_until_ms` (or until settled).
    async fn lease_due(
        &self,
        now_ms: i64,
        owner: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, Error>;
    /// Records what came of an attempt on entry `id`, and releases its lease.
    async fn settle(&self, id: &str, settlement: Settlement) -> Result<(), Error>;
    /// Pending entries: of `conversation`, or of all when `None`.
    async fn pending(&self, conversation: Option<&str>) -> Result<usize, Error>;
    /// Entries given up and not yet pruned.
    async fn undelivered(&self) -> Result<usize, Error>;
}

/// The bot's state, split by concern. Implementations: [`MemoryStore`], `SqliteStore`
/// (feature `sqlite`), `DynamoStore` (feature `dynamodb`); all pass one contract suite.
///
/// ```
/// use case_bot_core::{Claim, ClaimState, ClaimStore, MemoryStore};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::default();
/// let claim = Claim::new("msg:1", "{}", "t1", 0, i64::MAX / 2);
/// assert_eq!(store.claim(&claim).await.unwrap(), None); // taken
/// assert_eq!(store.claim(&claim).await.unwrap(), Some(ClaimState::Accepted)); // a redelivery
/// # }
/// ```
#[async_trait]
pub trait Store:
    ClaimStore + CaseLinkStore + AuditStore + OutboxStore + RecordStore + std::fmt::Debug
{
    /// Finishes a claim: its audit row, its case link, its reply's outbox entries, and the
    /// claim from `finish.from` to done; with `finish.claim`, takes the claim first, and writes
    /// nothing when its key is held (`Ok(false)`). The default writes them one after the
    /// other, each idempotent, so a crash in between is finished again by the recovery; SQLite
    /// writes them in one commit.
    async fn finish(&self, finish: Finish) -> Result<bool, Error> {
        if let Some(claim) = &finish.claim
            && self.claim(claim).await?.is_some()
        {
            return Ok(false);
        }
        if let Some((case_id, link)) = &finish.case {
            self.put_case(case_id, link).await?;
        }
        self.audit(finish.audit).await?;
        if !finish.entries.is_empty() {
            self.enqueue(&finish.entries).await?;
        }
        for swap in &finish.records {
            self.swap_record(swap).await?;
        }
        self.advance(&finish.key, finish.from, ClaimState::Done)
            .await
            .map(|_| true)
    }
    /// Deletes what is no longer kept: claims done and expired, entries sent before
    /// `sent_before_ms`, and audit records (and entries given up) from before
    /// `audit_before_ms`.
    async fn prune(&self, sent_before_ms: i64, audit_before_ms: i64) -> Result<(), Error>;
    /// A small write, to learn whether writes succeed (again).
    async fn probe(&self) -> Result<(), Error>;
    /// Whether other processes share this store (then another's unfinished claim is taken
    /// over only once it is old, since its owner may still be working on it).
    fn shared(&self) -> bool {
        false
    }
    /// Finishes with the store at a clean stop: for SQLite, the connection is closed, so the
    /// file is checkpointed and a copy of it is whole.
    async fn close(&self) {}
}
