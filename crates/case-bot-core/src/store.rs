//! State: idempotency keys, which conversation a case belongs to, and the audit trail.

use std::borrow::Cow;
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
    /// msgId>`): it ties the record to one delivery, and lets a store keep the claim in the
    /// same row.
    #[serde(default)]
    pub claim_key: Option<String>,
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
    async fn audit(&self, record: AuditRecord) -> Result<(), StoreError>;
    /// The newest `limit` audit records, newest first.
    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
    /// Waits until every change so far is durable (stores that write behind); called at
    /// shutdown.
    async fn flush(&self) {}
}

/// Idempotency claims in memory: a map for look-ups and a queue in claim order, so expired
/// claims are dropped from the front in O(1) instead of scanning the map. Also bounded: past
/// `CLAIMS_IN_MEMORY` the oldest claims are forgotten first (at DingTalk's 20 messages a minute
/// per robot and group that is over 16 hours of one group's traffic, far more than any
/// redelivery window seen, about 60 s).
///
/// Keys are held as 64-bit fingerprints (SipHash-1-3 under a random per-process key), so the
/// structure is flat and small: no string per claim to allocate, chase or free, and 16 bytes
/// per entry in each of the map and the queue, half of what 128-bit fingerprints took (a full
/// table is about 1 MB; each claim touches it at random, so its size is cache misses).
/// Two different keys share a fingerprint with probability 2^-64 per pair; with the table full,
/// the chance that a new message is taken for a duplicate is about 20,000 × 2^-64 ≈ 10^-15.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    key: std::hash::RandomState,
    map: HashMap<u64, i64, foldhash::fast::RandomState>,
    order: std::collections::VecDeque<(i64, u64)>,
}

/// Most idempotency claims kept in memory.
pub(crate) const CLAIMS_IN_MEMORY: usize = 20_000;

impl Claims {
    fn fingerprint(&self, key: &str) -> u64 {
        use std::hash::BuildHasher as _;
        self.key.hash_one(key)
    }

    /// Claims `key` until `expires`; `false` if it is held.
    pub(crate) fn claim(&mut self, key: &str, now: i64, expires: i64) -> bool {
        use std::collections::hash_map::Entry;
        while let Some(&(until, oldest)) = self.order.front() {
            if until > now && self.order.len() < CLAIMS_IN_MEMORY {
                break;
            }
            // Only if not re-claimed since (a later entry in the queue holds it then).
            if let Entry::Occupied(entry) = self.map.entry(oldest)
                && *entry.get() == until
            {
                entry.remove();
            }
            self.order.pop_front();
        }
        let fingerprint = self.fingerprint(key);
        match self.map.entry(fingerprint) {
            Entry::Occupied(entry) if *entry.get() > now => return false,
            Entry::Occupied(mut entry) => {
                entry.insert(expires);
            }
            Entry::Vacant(entry) => {
                entry.insert(expires);
            }
        }
        self.order.push_back((expires, fingerprint));
        true
    }
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
    claims: Claims,
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
        Ok(self
            .lock()
            .claims
            .claim(key, now, now.saturating_add(ttl_ms)))
    }

    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), StoreError> {
        self.lock().cases.insert(case_id.to_owned(), link.clone());
        Ok(())
    }

    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, StoreError> {
        Ok(self.lock().cases.get(case_id).cloned())
    }

    async fn audit(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.lock().audit.push(record);
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
    //!
    //! Claims and case look-ups are answered from memory (loaded at open), so the request
    //! path never waits for the disk; every change is written behind by one thread that
    //! commits whatever is queued in a single transaction. Audit records are not kept in
    //! memory: [`SqliteStore::recent_audit`] flushes and reads the file.
    //! [`SqliteStore::flush`] waits for the queue (graceful shutdown calls it). A crash can
    //! lose the last [`GATHER`] (10 ms) of writes, never the file's consistency.

    use std::borrow::Cow;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Condvar, LazyLock, Mutex, PoisonError};
    use std::time::{Duration, Instant};

    use async_trait::async_trait;
    use rusqlite::{Connection, params};

    use super::{AuditRecord, CLAIMS_IN_MEMORY, CaseLink, Claims, Store, StoreError, unix_ms};

    fn err(e: impl std::fmt::Display) -> StoreError {
        StoreError(e.to_string())
    }

    enum Op {
        Claim(String, i64),
        Case(String, String),
        Audit(AuditRecord),
        Flush(tokio::sync::oneshot::Sender<()>),
    }

    #[derive(Debug, Default)]
    struct Memory {
        claims: Claims,
        cases: HashMap<String, CaseLink>,
        /// Changes the writer thread has not taken yet. Under the same lock as the rest, so a
        /// request's claim or audit record takes one lock, not one for memory and one for the
        /// queue (each shared lock is a cache line moving between the cores).
        pending: Pending,
    }

    /// Changes waiting for the writer thread.
    #[derive(Default)]
    struct Pending {
        ops: Vec<Op>,
        /// The writer sleeps on an empty queue: the next change must wake it.
        writer_sleeping: bool,
    }

    impl std::fmt::Debug for Pending {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Pending")
                .field("ops", &self.ops.len())
                .finish_non_exhaustive()
        }
    }

    /// A [`Store`] in one SQLite file, written behind.
    ///
    /// ```
    /// use case_bot_core::{SqliteStore, Store};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let dir = std::env::temp_dir().join(format!("casebot-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let store = SqliteStore::open(dir.join("state.db")).unwrap();
    /// assert!(store.claim("k", 1000).await.unwrap());
    /// store.flush().await; // durable now
    /// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
    /// # }
    /// ```
    #[derive(Debug, Clone)]
    pub struct SqliteStore {
        shared: Arc<Shared>,
        /// The file, for reading the audit trail back.
        path: Arc<PathBuf>,
    }

    /// The state and the writer's queue, under one lock. Senders wake the writer only when it
    /// sleeps on an empty queue (or to flush); it then lets changes gather for [`GATHER`] and
    /// takes everything queued, so a burst costs one wake-up and one transaction, not one per
    /// request.
    #[derive(Debug, Default)]
    struct Shared {
        memory: Mutex<Memory>,
        wake: Condvar,
    }

    impl Shared {
        fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
            self.memory.lock().unwrap_or_else(PoisonError::into_inner)
        }

        /// Queues `op` under the caller's lock.
        fn push(&self, memory: &mut Memory, op: Op) {
            let flush = matches!(op, Op::Flush(_));
            memory.pending.ops.push(op);
            if flush || memory.pending.writer_sleeping {
                self.wake.notify_one();
            }
        }

        /// Blocks until something is queued, lets more gather for up to [`GATHER`] (a flush
        /// ends the wait), then swaps everything queued into `batch` (which must be empty; its
        /// capacity is reused, so the queue does not regrow for every batch). Gathering also
        /// puts a fast command's claim and audit record in one batch, so they share one row
        /// (see `write_batch`).
        fn take(&self, batch: &mut Vec<Op>) {
            let mut memory = self.lock();
            while memory.pending.ops.is_empty() {
                memory.pending.writer_sleeping = true;
                memory = self
                    .wake
                    .wait(memory)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            memory.pending.writer_sleeping = false;
            let deadline = Instant::now() + GATHER;
            while !memory
                .pending
                .ops
                .iter()
                .any(|op| matches!(op, Op::Flush(_)))
            {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                memory = self
                    .wake
                    .wait_timeout(memory, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut memory.pending.ops, batch);
        }
    }

    fn migrate(conn: &Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS cases (case_id TEXT PRIMARY KEY, link TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                 sender TEXT NOT NULL, sender_staff_id TEXT, conversation_id TEXT NOT NULL, command TEXT NOT NULL,
                 case_id TEXT, outcome TEXT NOT NULL, claim_key TEXT, claim_expires_ms INTEGER);",
        )?;
        // Files written before the claim columns existed.
        let has_claim_columns = conn
            .prepare("SELECT 1 FROM pragma_table_info('audit') WHERE name = 'claim_key'")?
            .exists([])?;
        if !has_claim_columns {
            conn.execute_batch(
                "ALTER TABLE audit ADD COLUMN claim_key TEXT;
                 ALTER TABLE audit ADD COLUMN claim_expires_ms INTEGER;",
            )?;
        }
        Ok(())
    }

    fn load(conn: &Connection) -> Result<Memory, rusqlite::Error> {
        let now = unix_ms();
        conn.execute("DELETE FROM claims WHERE expires_at_ms <= ?1", params![now])?;
        let mut memory = Memory::default();
        // Claims live in their own table, or in the audit row of their command (see
        // `write_batch`); only the newest `CLAIMS_IN_MEMORY` audit rows can hold one that is
        // still remembered.
        let mut stmt = conn.prepare(
            "SELECT key, expires_at_ms FROM claims
             UNION ALL
             SELECT claim_key, claim_expires_ms FROM
                 (SELECT claim_key, claim_expires_ms FROM audit ORDER BY id DESC LIMIT ?1)
             WHERE claim_key IS NOT NULL AND claim_expires_ms > ?2
             ORDER BY 2",
        )?;
        let rows = stmt.query_map(
            params![i64::try_from(CLAIMS_IN_MEMORY).unwrap_or(i64::MAX), now],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
        )?;
        for row in rows {
            let (key, expires) = row?;
            memory.claims.claim(&key, now, expires);
        }
        let mut stmt = conn.prepare("SELECT case_id, link FROM cases")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (case_id, link) = row?;
            if let Ok(link) = serde_json::from_str(&link) {
                memory.cases.insert(case_id, link);
            }
        }
        Ok(memory)
    }

    /// The newest `limit` audit rows of the file at `path`, newest first, on a connection of
    /// their own (WAL lets it read while the writer writes).
    fn read_audit(path: &Path, limit: usize) -> Result<Vec<AuditRecord>, rusqlite::Error> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt = conn.prepare(
            "SELECT at_ms, sender, sender_staff_id, conversation_id, command, case_id, outcome,
                 claim_key
             FROM audit ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok(AuditRecord {
                at_ms: row.get(0)?,
                sender: row.get(1)?,
                sender_staff_id: row.get(2)?,
                conversation_id: row.get(3)?,
                command: Cow::Owned(row.get(4)?),
                case_id: row.get(5)?,
                outcome: Cow::Owned(row.get(6)?),
                claim_key: row.get(7)?,
            })
        })?;
        rows.collect()
    }

    fn write_batch(conn: &mut Connection, ops: &[Op]) -> Result<(), rusqlite::Error> {
        let tx = conn.transaction()?;
        {
            // Looked up once per batch, not once per row.
            let mut claim = tx.prepare_cached(
                "INSERT INTO claims (key, expires_at_ms) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET expires_at_ms = excluded.expires_at_ms",
            )?;
            let mut case = tx.prepare_cached(
                "INSERT INTO cases (case_id, link) VALUES (?1, ?2)
                 ON CONFLICT(case_id) DO UPDATE SET link = excluded.link",
            )?;
            // A claim whose command's audit record is in the same batch (most commands finish
            // well within GATHER) is kept in that record's row: one insert instead of two, and
            // no row in the claims index. Claims of slower commands get their own row, so a
            // crash while AWS is still answering does not forget them. A command's claim is
            // always queued before its audit record, so one pass pairs them: each claim waits
            // in `unpaired` until its record takes it; those left get their own rows.
            // Sized up front: growing it showed in the writer's profile (about 5 %).
            let mut unpaired: HashMap<&str, i64, foldhash::fast::RandomState> =
                HashMap::with_capacity_and_hasher(
                    ops.len(),
                    foldhash::fast::RandomState::default(),
                );
            let mut audits: Vec<(&AuditRecord, Option<i64>)> = Vec::with_capacity(ops.len());
            for op in ops {
                match op {
                    Op::Claim(key, expires) => {
                        unpaired.insert(key, *expires);
                    }
                    Op::Case(case_id, link) => {
                        case.execute(params![case_id, link])?;
                    }
                    Op::Audit(record) => {
                        let claim_expires = record
                            .claim_key
                            .as_deref()
                            .and_then(|key| unpaired.remove(key));
                        audits.push((record, claim_expires));
                    }
                    Op::Flush(_) => {}
                }
            }
            for (key, expires) in unpaired {
                claim.execute(params![key, expires])?;
            }
            // Audit rows go in statements of many rows: a statement per row was most of the
            // writer's time.
            let mut chunks = audits.chunks_exact(AUDIT_ROWS_PER_INSERT);
            if audits.len() >= AUDIT_ROWS_PER_INSERT {
                static MANY: LazyLock<String> =
                    LazyLock::new(|| audit_insert(AUDIT_ROWS_PER_INSERT));
                let mut many = tx.prepare_cached(&MANY)?;
                for chunk in &mut chunks {
                    many.execute(rusqlite::params_from_iter(
                        chunk.iter().flat_map(audit_values),
                    ))?;
                }
            }
            static ONE: LazyLock<String> = LazyLock::new(|| audit_insert(1));
            let mut one = tx.prepare_cached(&ONE)?;
            for row in chunks.remainder() {
                one.execute(rusqlite::params_from_iter(audit_values(row)))?;
            }
        }
        tx.commit()
    }

    /// Audit rows per multi-row `INSERT` (9 parameters each, far under SQLite's limit).
    const AUDIT_ROWS_PER_INSERT: usize = 32;

    /// `INSERT INTO audit … VALUES (…), (…), …` for `rows` rows.
    fn audit_insert(rows: usize) -> String {
        let mut sql = String::from(
            "INSERT INTO audit (at_ms, sender, sender_staff_id, conversation_id, command, case_id, \
             outcome, claim_key, claim_expires_ms) VALUES ",
        );
        for row in 0..rows {
            if row > 0 {
                sql.push(',');
            }
            sql.push_str("(?,?,?,?,?,?,?,?,?)");
        }
        sql
    }

    /// The parameters of one audit row, in [`audit_insert`]'s column order.
    fn audit_values<'a>(
        (record, claim_expires): &'a (&'a AuditRecord, Option<i64>),
    ) -> [&'a dyn rusqlite::ToSql; 9] {
        [
            &record.at_ms,
            &record.sender,
            &record.sender_staff_id,
            &record.conversation_id,
            &record.command,
            &record.case_id,
            &record.outcome,
            &record.claim_key,
            claim_expires,
        ]
    }

    /// How long the writer lets changes gather into one transaction. Each commit rewrites
    /// whole pages into the WAL, so fewer, larger commits write less: at 70k callbacks a
    /// second, 2 ms meant about 15 MB/s of WAL.
    const GATHER: Duration = Duration::from_millis(10);

    /// How often the writer deletes expired claims from the file.
    const PRUNE_EVERY: Duration = Duration::from_secs(60);

    fn writer_loop(mut conn: Connection, shared: &Shared) {
        let mut pruned = Instant::now();
        let mut batch = Vec::new();
        loop {
            shared.take(&mut batch);
            if let Err(e) = write_batch(&mut conn, &batch) {
                tracing::error!(error = %e, ops = batch.len(), "state store write failed");
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                if let Err(e) = conn.execute(
                    "DELETE FROM claims WHERE expires_at_ms <= ?1",
                    params![unix_ms()],
                ) {
                    tracing::warn!(error = %e, "expired claims not pruned");
                }
            }
            for op in batch.drain(..) {
                if let Op::Flush(done) = op {
                    let _ = done.send(());
                }
            }
        }
    }

    impl SqliteStore {
        /// Opens (or creates) the database file and its tables, loads the current state and
        /// starts the writer thread.
        ///
        /// # Errors
        /// [`StoreError`] if the file cannot be opened, migrated or read.
        ///
        /// ```no_run
        /// let store = case_bot_core::SqliteStore::open("casebot.db").unwrap();
        /// # let _ = store;
        /// ```
        pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
            let path = path.as_ref();
            let conn = Connection::open(path).map_err(err)?;
            // Absolute, so reading the audit trail back does not depend on the working directory.
            let path = Arc::new(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
            migrate(&conn).map_err(err)?;
            let shared = Arc::new(Shared {
                memory: Mutex::new(load(&conn).map_err(err)?),
                wake: Condvar::new(),
            });
            let writer = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("casebot-store".to_owned())
                .spawn(move || writer_loop(conn, &writer))
                .map_err(err)?;
            Ok(Self { shared, path })
        }
    }

    #[async_trait]
    impl Store for SqliteStore {
        async fn claim(&self, key: &str, ttl_ms: i64) -> Result<bool, StoreError> {
            let now = unix_ms();
            let expires = now.saturating_add(ttl_ms);
            // Built before taking the lock, so the lock is not held across an allocation;
            // a duplicate (rare) drops it unused.
            let op = Op::Claim(key.to_owned(), expires);
            let mut memory = self.shared.lock();
            if !memory.claims.claim(key, now, expires) {
                return Ok(false);
            }
            self.shared.push(&mut memory, op);
            Ok(true)
        }

        async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), StoreError> {
            let json = serde_json::to_string(link).map_err(err)?;
            let mut memory = self.shared.lock();
            memory.cases.insert(case_id.to_owned(), link.clone());
            self.shared
                .push(&mut memory, Op::Case(case_id.to_owned(), json));
            Ok(())
        }

        async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, StoreError> {
            Ok(self.shared.lock().cases.get(case_id).cloned())
        }

        async fn audit(&self, record: AuditRecord) -> Result<(), StoreError> {
            let mut memory = self.shared.lock();
            self.shared.push(&mut memory, Op::Audit(record));
            Ok(())
        }

        async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
            self.flush().await;
            let path = Arc::clone(&self.path);
            tokio::task::spawn_blocking(move || read_audit(&path, limit))
                .await
                .map_err(err)?
                .map_err(err)
        }

        async fn flush(&self) {
            let (done, wait) = tokio::sync::oneshot::channel();
            {
                let mut memory = self.shared.lock();
                self.shared.push(&mut memory, Op::Flush(done));
            }
            let _ = wait.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CLAIMS_IN_MEMORY, Claims};

    #[test]
    fn a_claim_is_held_until_it_expires_then_free_again() {
        let mut claims = Claims::default();
        assert!(claims.claim("msg:a", 0, 100));
        assert!(!claims.claim("msg:a", 99, 199), "held");
        assert!(claims.claim("msg:b", 99, 199), "another key is independent");
        assert!(claims.claim("msg:a", 100, 200), "expired at 100");
        // The queue still holds a's first entry; dropping it must not release the new claim.
        assert!(claims.claim("msg:c", 150, 250));
        assert!(
            !claims.claim("msg:a", 199, 299),
            "re-claimed a is held until 200"
        );
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_claims_go_first() {
        let mut claims = Claims::default();
        let far = i64::MAX;
        for i in 0..=CLAIMS_IN_MEMORY {
            assert!(claims.claim(&format!("msg:{i}"), 0, far));
        }
        assert!(claims.map.len() <= CLAIMS_IN_MEMORY);
        assert!(claims.order.len() <= CLAIMS_IN_MEMORY);
        assert!(claims.claim("msg:0", 0, far), "the oldest was forgotten");
        assert!(
            !claims.claim(&format!("msg:{CLAIMS_IN_MEMORY}"), 0, far),
            "the newest is held"
        );
    }

    #[test]
    fn fingerprints_differ_between_keys_and_processes_keys_are_random() {
        let (a, b) = (Claims::default(), Claims::default());
        assert_ne!(a.fingerprint("msg:x"), a.fingerprint("msg:y"));
        assert_eq!(a.fingerprint("msg:x"), a.fingerprint("msg:x"));
        assert_ne!(
            a.fingerprint("msg:x"),
            b.fingerprint("msg:x"),
            "per-instance keys"
        );
    }
}
