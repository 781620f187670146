//! The embedded store of `case-bot serve`: one SQLite file, one connection owned by one thread.
//! A call sends its statement to that thread and waits for the answer, which comes only after
//! the statement is committed. Calls that arrive while the thread is busy are committed
//! together in the next transaction (group commit): each still returns only once its write is
//! in the file, but a burst costs one commit instead of one per call.
//!
//! (The first version ran each call on tokio's blocking pool, on one connection behind a mutex:
//! under load the pool grew to hundreds of threads waiting on the mutex, and the bot spent two
//! thirds of its time switching between them.)
//!
//! Durability: the file is in WAL mode with `synchronous=NORMAL`. A commit is in the WAL (in
//! the operating system's cache) when the call returns, so it survives the process being
//! killed; a power loss or kernel crash may lose the last commits before the next checkpoint,
//! but never leaves the file inconsistent. `synchronous=FULL` would fsync every commit, which
//! a chat robot's few writes a minute could afford but its load test could not; NORMAL is
//! SQLite's recommended setting for WAL.
//!
//! Operators can read the audit trail with the `sqlite3` shell while the bot runs.

use std::borrow::Cow;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension as _, params};
use tokio::sync::oneshot;

use super::{AuditRecord, CaseLink, Store, unix_ms};
use crate::error::Error;

/// How long a write waits for another process holding the file's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often expired claims are deleted from the file.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Audit rows of files from before the claims table held every claim: their newest this many
/// are read for claims still valid.
const LEGACY_CLAIM_ROWS: i64 = 20_000;

/// Most calls committed in one transaction.
const MOST_PER_COMMIT: usize = 256;

/// A [`Store`] in one SQLite file.
///
/// ```
/// use case_bot_core::{SqliteStore, Store};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = std::env::temp_dir().join(format!("casebot-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let store = SqliteStore::open(dir.join("state.db")).unwrap();
/// assert!(store.claim("msg:1", 60_000).await.unwrap()); // in the file now
/// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
}

/// What a statement gives back.
#[derive(Debug)]
enum Answer {
    Done,
    Claimed(bool),
    Link(Option<String>),
    Audit(Vec<AuditRecord>),
}

/// A statement to run on the connection.
type Statement = Box<dyn FnOnce(&Connection) -> rusqlite::Result<Answer> + Send>;

/// A statement for the database thread, and where its answer goes.
struct Job {
    what: &'static str,
    run: Statement,
    reply: oneshot::Sender<Result<Answer, Error>>,
}

/// The database thread: takes every job waiting, runs them in one transaction, commits, and
/// only then answers each; expired claims are deleted once a minute. Ends when the store is
/// dropped, closing the connection (which checkpoints the WAL into the file).
fn serve(mut conn: Connection, jobs: &mpsc::Receiver<Job>) {
    let mut pruned = Instant::now();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter().take(MOST_PER_COMMIT - 1));
        let tx = match conn.transaction() {
            Ok(tx) => tx,
            Err(err) => {
                for job in batch {
                    let _ = job.reply.send(Err(Error::store(job.what, err.to_string())));
                }
                continue;
            }
        };
        let answers: Vec<_> = batch
            .into_iter()
            .map(|job| {
                let answer = (job.run)(&tx);
                (job.what, job.reply, answer)
            })
            .collect();
        let committed = tx.commit();
        for (what, reply, answer) in answers {
            let _ = reply.send(match (&committed, answer) {
                (Ok(()), Ok(answer)) => Ok(answer),
                (Ok(()), Err(err)) => Err(Error::store(what, err)),
                (Err(err), _) => Err(Error::store(what, err.to_string())),
            });
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = Instant::now();
            if let Err(err) = conn.execute(
                "DELETE FROM claims WHERE expires_at_ms <= ?1",
                params![unix_ms()],
            ) {
                tracing::warn!(error = %err, "expired claims not deleted");
            }
        }
    }
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS cases (case_id TEXT PRIMARY KEY, link TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
             sender TEXT NOT NULL, sender_staff_id TEXT, conversation_id TEXT NOT NULL, command TEXT NOT NULL,
             case_id TEXT, outcome TEXT NOT NULL, claim_key TEXT, claim_expires_ms INTEGER);",
    )?;
    // Files from before the audit rows named their claim.
    let has_claim_columns = conn
        .prepare("SELECT 1 FROM pragma_table_info('audit') WHERE name = 'claim_key'")?
        .exists([])?;
    if !has_claim_columns {
        conn.execute_batch(
            "ALTER TABLE audit ADD COLUMN claim_key TEXT;
             ALTER TABLE audit ADD COLUMN claim_expires_ms INTEGER;",
        )?;
    }
    // Files written by versions that kept a fast command's claim in its audit row: those
    // claims move to the claims table, which alone holds them from now on.
    let now = unix_ms();
    conn.execute(
        "INSERT OR IGNORE INTO claims (key, expires_at_ms)
         SELECT claim_key, claim_expires_ms FROM
             (SELECT claim_key, claim_expires_ms FROM audit ORDER BY id DESC LIMIT ?1)
         WHERE claim_key IS NOT NULL AND claim_expires_ms > ?2",
        params![LEGACY_CLAIM_ROWS, now],
    )?;
    conn.execute("DELETE FROM claims WHERE expires_at_ms <= ?1", params![now])?;
    Ok(())
}

impl SqliteStore {
    /// Opens (or creates) the database file and its tables, and starts the thread that owns
    /// the connection.
    ///
    /// # Errors
    /// [`Error::Store`] if the file cannot be opened or migrated.
    ///
    /// ```no_run
    /// let store = case_bot_core::SqliteStore::open("casebot.db").unwrap();
    /// # let _ = store;
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let conn = Connection::open(path).map_err(|e| Error::store("open", e))?;
        migrate(&conn).map_err(|e| Error::store("migrate", e))?;
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("casebot-sqlite".to_owned())
            .spawn(move || serve(conn, &queue))
            .map_err(|e| Error::store("open", e))?;
        Ok(Self { jobs })
    }

    /// Runs `run` on the database thread; the answer comes once it is committed.
    async fn call<F>(&self, what: &'static str, run: F) -> Result<Answer, Error>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<Answer> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::store(what, "the database thread has stopped");
        self.jobs
            .send(Job {
                what,
                run: Box::new(run),
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The answer was not the kind the statement gives (a bug, reported rather than a panic).
fn unexpected(what: &'static str, answer: &Answer) -> Error {
    Error::store(what, format!("unexpected answer {answer:?}"))
}

fn claim(conn: &Connection, key: &str, now: i64, expires: i64) -> rusqlite::Result<bool> {
    // One statement: a free or expired key is taken, a held one is left alone.
    let changed = conn
        .prepare_cached(
            "INSERT INTO claims (key, expires_at_ms) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
             WHERE claims.expires_at_ms <= ?3",
        )?
        .execute(params![key, expires, now])?;
    Ok(changed == 1)
}

fn read_audit(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<AuditRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at_ms, sender, sender_staff_id, conversation_id, command, case_id, outcome, claim_key
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

#[async_trait]
impl Store for SqliteStore {
    async fn claim(&self, key: &str, ttl_ms: i64) -> Result<bool, Error> {
        let key = key.to_owned();
        let now = unix_ms();
        let expires = now.saturating_add(ttl_ms);
        match self
            .call("claim", move |conn| {
                claim(conn, &key, now, expires).map(Answer::Claimed)
            })
            .await?
        {
            Answer::Claimed(fresh) => Ok(fresh),
            other => Err(unexpected("claim", &other)),
        }
    }

    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error> {
        let json = serde_json::to_string(link).map_err(|e| Error::store("case link", e))?;
        let case_id = case_id.to_owned();
        self.call("case link", move |conn| {
            conn.prepare_cached(
                "INSERT INTO cases (case_id, link) VALUES (?1, ?2)
                 ON CONFLICT(case_id) DO UPDATE SET link = excluded.link",
            )?
            .execute(params![case_id, json])
            .map(|_| Answer::Done)
        })
        .await
        .map(drop)
    }

    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, Error> {
        let case_id = case_id.to_owned();
        let answer = self
            .call("case link", move |conn| {
                conn.prepare_cached("SELECT link FROM cases WHERE case_id = ?1")?
                    .query_row(params![case_id], |row| row.get::<_, String>(0))
                    .optional()
                    .map(Answer::Link)
            })
            .await?;
        let Answer::Link(json) = answer else {
            return Err(unexpected("case link", &answer));
        };
        json.map(|json| serde_json::from_str(&json).map_err(|e| Error::store("case link", e)))
            .transpose()
    }

    async fn audit(&self, record: AuditRecord) -> Result<(), Error> {
        self.call("audit", move |conn| {
            conn.prepare_cached(
                "INSERT INTO audit (at_ms, sender, sender_staff_id, conversation_id, command,
                     case_id, outcome, claim_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                record.at_ms,
                record.sender,
                record.sender_staff_id,
                record.conversation_id,
                record.command,
                record.case_id,
                record.outcome,
                record.claim_key,
            ])
            .map(|_| Answer::Done)
        })
        .await
        .map(drop)
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        match self
            .call("audit", move |conn| {
                read_audit(conn, limit).map(Answer::Audit)
            })
            .await?
        {
            Answer::Audit(records) => Ok(records),
            other => Err(unexpected("audit", &other)),
        }
    }
}
