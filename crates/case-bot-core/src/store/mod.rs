//! State: idempotency keys, which conversation a case belongs to, and the audit trail.
//!
//! Every store is durable when a call returns: there is no write-behind queue. The
//! implementations ([`MemoryStore`], `SqliteStore`, `DynamoStore`) pass one contract suite
//! (`tests/common`).

#[cfg(feature = "dynamodb")]
mod dynamo;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "dynamodb")]
pub use dynamo::DynamoStore;
pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Unix milliseconds now.
pub(crate) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Where a case was opened from, for follow-ups, permissions and notifications.
///
/// ```
/// let link = case_bot_core::CaseLink { conversation_id: "cid".into(), conversation_title: None,
///     opener_staff_id: Some("staff-1".into()), opener_nick: "张三".into(), created_at_ms: 0 };
/// # let _ = link;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)]
pub struct CaseLink {
    /// The DingTalk conversation.
    pub conversation_id: String,
    /// The group's title, if a group.
    pub conversation_title: Option<String>,
    /// Who opened it (staff id).
    pub opener_staff_id: Option<String>,
    /// Who opened it (nickname).
    pub opener_nick: String,
    /// When, Unix ms.
    pub created_at_ms: i64,
}

/// One command, for the audit trail.
///
/// ```
/// let record = case_bot_core::AuditRecord { at_ms: 0, sender: "张三".into(), sender_staff_id: None,
///     conversation_id: "cid".into(), command: "create".into(), case_id: None, outcome: "ok".into(),
///     claim_key: Some("msg:msgkdBmqTiyz5fVrmCjRfWDGw==".into()) };
/// # let _ = record;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)]
pub struct AuditRecord {
    /// When, Unix ms.
    pub at_ms: i64,
    /// Sender's nickname.
    pub sender: String,
    /// Sender's staff id.
    pub sender_staff_id: Option<String>,
    /// The conversation.
    pub conversation_id: String,
    /// The command (`create`, `resolve`, …). A `Cow` so the bot's fixed names cost no
    /// allocation per record.
    pub command: Cow<'static, str>,
    /// The case concerned.
    pub case_id: Option<String>,
    /// What happened (`ok`, `refused`, an error code, …).
    pub outcome: Cow<'static, str>,
    /// The idempotency key the message was admitted under (the bot's is `msg:<DingTalk
    /// msgId>`): it ties the record to one delivery.
    #[serde(default)]
    pub claim_key: Option<String>,
}

/// The bot's state. Implementations: [`MemoryStore`], `SqliteStore` (feature `sqlite`), and
/// DynamoDB in the Lambda adapter.
///
/// ```
/// use case_bot_core::{MemoryStore, Store};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::default();
/// assert!(store.claim("msg:1", 60_000).await.unwrap());
/// assert!(!store.claim("msg:1", 60_000).await.unwrap()); // a duplicate
/// # }
/// ```
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Claims an idempotency key for `ttl_ms`: `true` if it was free (or expired), `false` if
    /// another delivery holds it. Atomic.
    async fn claim(&self, key: &str, ttl_ms: i64) -> Result<bool, Error>;
    /// Records which conversation a case belongs to.
    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error>;
    /// The conversation of a case opened through the bot.
    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, Error>;
    /// Appends an audit record.
    async fn audit(&self, record: AuditRecord) -> Result<(), Error>;
    /// The newest `limit` audit records, newest first.
    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, Error>;
    /// Waits until every change so far is durable; a no-op for the stores here, whose writes
    /// are durable when the call returns. Called at shutdown.
    async fn flush(&self) {}
}
