//! State: idempotency keys, which conversation a case belongs to, and the audit trail.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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
///     conversation_id: "cid".into(), command: "create".into(), case_id: None, outcome: "ok".into() };
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
    /// The command (`create`, `resolve`, …).
    pub command: String,
    /// The case concerned.
    pub case_id: Option<String>,
    /// What happened (`ok`, `refused`, an error code, …).
    pub outcome: String,
}

/// Why the store failed.
///
/// ```
/// let err = case_bot_core::StoreError("disk full".into());
/// assert!(err.to_string().contains("disk full"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state store: {0}")]
pub struct StoreError(pub String);

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
    async fn claim(&self, key: &str, ttl_ms: i64) -> Result<bool, StoreError>;
    /// Records which conversation a case belongs to.
    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), StoreError>;
    /// The conversation of a case opened through the bot.
    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, StoreError>;
    /// Appends an audit record.
    async fn audit(&self, record: &AuditRecord) -> Result<(), StoreError>;
    /// The newest `limit` audit records, newest first.
    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
}

/// An in-memory [`Store`] (tests; lost on restart).
///
/// ```
/// let store = case_bot_core::MemoryStore::default();
/// # let _ = store;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    claims: HashMap<String, i64>,
    cases: HashMap<String, CaseLink>,
    audit: Vec<AuditRecord>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn claim(&self, key: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        let now = unix_ms();
        let mut inner = self.lock();
        if inner.claims.len() > 10_000 {
            inner.claims.retain(|_, expires| *expires > now);
        }
        match inner.claims.get(key) {
            Some(expires) if *expires > now => Ok(false),
            _ => {
                inner
                    .claims
                    .insert(key.to_owned(), now.saturating_add(ttl_ms));
                Ok(true)
            }
        }
    }

    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), StoreError> {
        self.lock().cases.insert(case_id.to_owned(), link.clone());
        Ok(())
    }

    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, StoreError> {
        Ok(self.lock().cases.get(case_id).cloned())
    }

    async fn audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.lock().audit.push(record.clone());
        Ok(())
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
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

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

#[cfg(feature = "sqlite")]
mod sqlite {
    //! The embedded store for the hyper adapter: one SQLite file (WAL), so operators can read
    //! the audit trail with the `sqlite3` shell and a restart loses nothing.

    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use rusqlite::{Connection, OptionalExtension, params};

    use super::{AuditRecord, CaseLink, Store, StoreError, unix_ms};

    fn err(e: impl std::fmt::Display) -> StoreError {
        StoreError(e.to_string())
    }

    /// A [`Store`] in one SQLite file.
    ///
    /// ```
    /// use case_bot_core::{SqliteStore, Store};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let dir = std::env::temp_dir().join(format!("casebot-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let store = SqliteStore::open(dir.join("state.db")).unwrap();
    /// assert!(store.claim("k", 1000).await.unwrap());
    /// # }
    /// ```
    #[derive(Debug, Clone)]
    pub struct SqliteStore {
        conn: Arc<Mutex<Connection>>,
    }

    impl SqliteStore {
        /// Opens (or creates) the database file and its tables.
        ///
        /// # Errors
        /// [`StoreError`] if the file cannot be opened or migrated.
        ///
        /// ```no_run
        /// let store = case_bot_core::SqliteStore::open("casebot.db").unwrap();
        /// # let _ = store;
        /// ```
        pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
            let conn = Connection::open(path).map_err(err)?;
            conn.execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=NORMAL;
                 CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS cases (case_id TEXT PRIMARY KEY, link TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
                     sender TEXT NOT NULL, sender_staff_id TEXT, conversation_id TEXT NOT NULL, command TEXT NOT NULL,
                     case_id TEXT, outcome TEXT NOT NULL);",
            )
            .map_err(err)?;
            Ok(Self {
                conn: Arc::new(Mutex::new(conn)),
            })
        }

        async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
        where
            T: Send + 'static,
            F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
        {
            let conn = Arc::clone(&self.conn);
            tokio::task::spawn_blocking(move || {
                let conn = conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                f(&conn).map_err(err)
            })
            .await
            .map_err(err)?
        }
    }

    #[async_trait]
    impl Store for SqliteStore {
        async fn claim(&self, key: &str, ttl_ms: i64) -> Result<bool, StoreError> {
            let key = key.to_owned();
            self.with(move |c| {
                let now = unix_ms();
                // Insert, or take over an expired claim, in one statement: atomic.
                let changed = c.execute(
                    "INSERT INTO claims (key, expires_at_ms) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
                     WHERE claims.expires_at_ms <= ?3",
                    params![key, now.saturating_add(ttl_ms), now],
                )?;
                if changed > 0 && now % 64 == 0 {
                    c.execute("DELETE FROM claims WHERE expires_at_ms <= ?1", params![now])?;
                }
                Ok(changed > 0)
            })
            .await
        }

        async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), StoreError> {
            let case_id = case_id.to_owned();
            let link = serde_json::to_string(link).map_err(err)?;
            self.with(move |c| {
                c.execute(
                    "INSERT INTO cases (case_id, link) VALUES (?1, ?2) ON CONFLICT(case_id) DO UPDATE SET link = excluded.link",
                    params![case_id, link],
                )
                .map(drop)
            })
            .await
        }

        async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, StoreError> {
            let case_id = case_id.to_owned();
            let text: Option<String> = self
                .with(move |c| {
                    c.query_row(
                        "SELECT link FROM cases WHERE case_id = ?1",
                        params![case_id],
                        |row| row.get(0),
                    )
                    .optional()
                })
                .await?;
            text.map(|t| serde_json::from_str(&t).map_err(err))
                .transpose()
        }

        async fn audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
            let r = record.clone();
            self.with(move |c| {
                c.execute(
                    "INSERT INTO audit (at_ms, sender, sender_staff_id, conversation_id, command, case_id, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![r.at_ms, r.sender, r.sender_staff_id, r.conversation_id, r.command, r.case_id, r.outcome],
                )
                .map(drop)
            })
            .await
        }

        async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            self.with(move |c| {
                let mut stmt = c.prepare(
                    "SELECT at_ms, sender, sender_staff_id, conversation_id, command, case_id, outcome
                     FROM audit ORDER BY id DESC LIMIT ?1",
                )?;
                let rows = stmt.query_map(params![limit], |row| {
                    Ok(AuditRecord {
                        at_ms: row.get(0)?,
                        sender: row.get(1)?,
                        sender_staff_id: row.get(2)?,
                        conversation_id: row.get(3)?,
                        command: row.get(4)?,
                        case_id: row.get(5)?,
                        outcome: row.get(6)?,
                    })
                })?;
                rows.collect()
            })
            .await
        }
    }
}
