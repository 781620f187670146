//! Versioned records: small JSON values under a kind and an id, written with compare-and-set.
//! Follows, group settings and the watcher's cursors live in these.

use async_trait::async_trait;

use super::OutboxEntry;
use crate::error::Error;

/// One record and its version (1 for a new record, one more on each write).
///
/// ```
/// let record = case_bot_core::Record::new("cid1 case-1", 1, "{}");
/// assert_eq!(record.version, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// Its id within its kind.
    pub id: String,
    /// Its version.
    pub version: u64,
    /// Its value (JSON).
    pub value: String,
}

impl Record {
    /// A record.
    ///
    /// ```
    /// let record = case_bot_core::Record::new("id", 3, "{}");
    /// # let _ = record;
    /// ```
    #[must_use]
    pub fn new(id: impl Into<String>, version: u64, value: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            version,
            value: value.into(),
        }
    }
}

/// A compare-and-set write of one record: it is written (or, with no value, removed) only if
/// its version is still `expected` (0: absent). The `entries` are enqueued in the outbox in the
/// same atomic step, and only if the write wins: so of two processes that saw the same update,
/// one tells the group.
///
/// ```
/// let swap = case_bot_core::RecordSwap::put("cursor", "case-1", 0, "{}");
/// assert_eq!(swap.expected, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordSwap {
    /// The record's kind (`follow`, `group`, `cursor`, …).
    pub kind: String,
    /// Its id.
    pub id: String,
    /// The version it must have (0: it must not exist).
    pub expected: u64,
    /// The new value; `None` removes the record.
    pub value: Option<String>,
    /// Outbox entries enqueued with the write.
    pub entries: Vec<OutboxEntry>,
}

impl RecordSwap {
    /// Writes `value` if the record is at version `expected`.
    ///
    /// ```
    /// let swap = case_bot_core::RecordSwap::put("group", "cid1", 2, r#"{"level":"high"}"#);
    /// # let _ = swap;
    /// ```
    #[must_use]
    pub fn put(
        kind: impl Into<String>,
        id: impl Into<String>,
        expected: u64,
        value: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
            expected,
            value: Some(value.into()),
            entries: Vec::new(),
        }
    }

    /// Removes the record if it is at version `expected`.
    ///
    /// ```
    /// let swap = case_bot_core::RecordSwap::remove("follow", "cid1 case-1", 1);
    /// assert!(swap.value.is_none());
    /// ```
    #[must_use]
    pub fn remove(kind: impl Into<String>, id: impl Into<String>, expected: u64) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
            expected,
            value: None,
            entries: Vec::new(),
        }
    }

    /// Enqueues `entries` with the write.
    ///
    /// ```
    /// let swap = case_bot_core::RecordSwap::put("cursor", "case-1", 1, "{}").with_entries(vec![]);
    /// # let _ = swap;
    /// ```
    #[must_use]
    pub fn with_entries(mut self, entries: Vec<OutboxEntry>) -> Self {
        self.entries = entries;
        self
    }
}

/// Versioned records (see [`RecordSwap`]).
///
/// ```
/// use case_bot_core::{MemoryStore, RecordStore, RecordSwap};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::default();
/// assert!(store.swap_record(&RecordSwap::put("group", "cid1", 0, "{}")).await.unwrap());
/// assert!(!store.swap_record(&RecordSwap::put("group", "cid1", 0, "{}")).await.unwrap());
/// assert_eq!(store.record("group", "cid1").await.unwrap().unwrap().version, 1);
/// # }
/// ```
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// The record `id` of `kind`.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be read.
    ///
    /// ```
    /// # use case_bot_core::{MemoryStore, RecordStore};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// assert!(MemoryStore::default().record("group", "cid1").await.unwrap().is_none());
    /// # }
    /// ```
    async fn record(&self, kind: &str, id: &str) -> Result<Option<Record>, Error>;

    /// Every record of `kind`.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be read.
    ///
    /// ```
    /// # use case_bot_core::{MemoryStore, RecordStore};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// assert!(MemoryStore::default().records("follow").await.unwrap().is_empty());
    /// # }
    /// ```
    async fn records(&self, kind: &str) -> Result<Vec<Record>, Error>;

    /// Applies `swap`; whether it won (the record was at the expected version).
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be written; nothing of it is then written.
    ///
    /// ```
    /// # use case_bot_core::{MemoryStore, RecordStore, RecordSwap};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = MemoryStore::default();
    /// assert!(store.swap_record(&RecordSwap::put("group", "cid1", 0, "{}")).await.unwrap());
    /// # }
    /// ```
    async fn swap_record(&self, swap: &RecordSwap) -> Result<bool, Error>;
}
