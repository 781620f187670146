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
//! Durability: the file is in WAL mode with `synchronous=FULL`. A commit is fsynced before
//! the call returns, so what the bot acknowledged survives the process being killed and a power
//! loss. `NORMAL` (SQLite's usual setting for WAL) would survive the process being killed but
//! could lose the last commits on a power loss or kernel crash: a claim answered 200, then
//! forgotten. One fsync is shared by every call in a group commit; under `scripts/load` the
//! difference was about 10 µs of CPU per callback, nothing at a chat robot's few writes a
//! minute. [`close`](super::Store::close) (a clean stop) closes the connection, which
//! checkpoints the WAL into the file.
//!
//! Operators can read the audit trail with the `sqlite3` shell while the bot runs.

mod records;
mod rows;
mod state_file;

pub use state_file::StateFile;
mod schema;

use std::path::Path;
use std::sync::mpsc;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{
    AuditRecord, AuditStore, CaseLink, CaseLinkStore, Claim, ClaimState, ClaimStore, DeliveryState,
    Finish, OutboxEntry, OutboxStore, Settlement, Store, unix_ms,
};
use crate::error::Error;

/// Most calls committed in one transaction.
const MOST_PER_COMMIT: usize = 256;

/// A [`Store`] in one SQLite file.
///
/// ```
/// use case_bot_core::{Claim, ClaimStore, SqliteStore};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = std::env::temp_dir().join(format!("casebot-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let store = SqliteStore::open(dir.join("state.db")).unwrap();
/// let claim = Claim::new("msg:1", "{}", "t", 0, i64::MAX / 2);
/// assert_eq!(store.claim(&claim).await.unwrap(), None); // in the file now
/// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    requests: mpsc::Sender<Request>,
}

/// What a statement gives back.
#[derive(Debug)]
enum Answer {
    Done,
    Claimed(Option<ClaimState>),
    Claims(Vec<Claim>),
    Link(Option<String>),
    Audit(Vec<AuditRecord>),
    Entries(Vec<OutboxEntry>),
    Count(usize),
    Records(Vec<super::Record>),
}

/// A statement to run on the connection.
type Statement = Box<dyn FnOnce(&Connection) -> rusqlite::Result<Answer> + Send>;

/// A statement waiting for its commit, and where its answer goes.
type Job = (
    &'static str,
    Statement,
    oneshot::Sender<Result<Answer, Error>>,
);

/// What the database thread is asked to do.
enum Request {
    /// Run a statement, commit, answer.
    Run {
        what: &'static str,
        statement: Statement,
        reply: oneshot::Sender<Result<Answer, Error>>,
    },
    /// Close the connection and stop.
    Close(oneshot::Sender<()>),
}

/// The database thread: takes every statement waiting, runs them in one transaction, commits,
/// and only then answers each. Ends when asked to close or when the store is dropped, closing
/// the connection (which checkpoints the WAL into the file).
fn serve(mut conn: Connection, requests: &mpsc::Receiver<Request>) {
    while let Ok(first) = requests.recv() {
        let mut batch = Vec::new();
        let mut closing = None;
        for request in std::iter::once(first).chain(requests.try_iter().take(MOST_PER_COMMIT - 1)) {
            match request {
                Request::Run {
                    what,
                    statement,
                    reply,
                } => batch.push((what, statement, reply)),
                Request::Close(done) => {
                    closing = Some(done);
                    break;
                }
            }
        }
        run(&mut conn, batch);
        if let Some(done) = closing {
            if let Err((_, err)) = conn.close() {
                tracing::warn!(error = %err, "state file not closed cleanly");
            }
            let _ = done.send(());
            return;
        }
    }
}

/// Runs `batch` in one transaction, each call in a savepoint of its own when there are several
/// (a call that fails leaves nothing behind); each answer is sent once the commit is known.
fn run(conn: &mut Connection, batch: Vec<Job>) {
    if batch.is_empty() {
        return;
    }
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(err) => {
            for (what, _, reply) in batch {
                let _ = reply.send(Err(Error::store(what, err.to_string())));
            }
            return;
        }
    };
    let mut tx = tx;
    // Alone in its transaction, a call is all or nothing without a savepoint of its own.
    let alone = batch.len() == 1;
    let answers: Vec<_> = batch
        .into_iter()
        .map(|(what, statement, reply)| {
            let answer = if alone {
                statement(&tx)
            } else {
                in_savepoint(&mut tx, statement)
            };
            (what, reply, answer)
        })
        .collect();
    let committed = if alone && answers.iter().any(|(_, _, answer)| answer.is_err()) {
        tx.rollback()
    } else {
        tx.commit()
    };
    for (what, reply, answer) in answers {
        let _ = reply.send(match (&committed, answer) {
            (Ok(()), Ok(answer)) => Ok(answer),
            (Ok(()), Err(err)) => Err(Error::store(what, err)),
            (Err(err), _) => Err(Error::store(what, err.to_string())),
        });
    }
}

/// Runs `statement` in a savepoint: all of it, or (on an error) none of it.
fn in_savepoint(
    tx: &mut rusqlite::Transaction<'_>,
    statement: Statement,
) -> rusqlite::Result<Answer> {
    let savepoint = tx.savepoint()?;
    let answer = statement(&savepoint)?;
    savepoint.commit()?;
    Ok(answer)
}

impl SqliteStore {
    /// Opens (or creates) the database file, checks it, brings its tables up to date, and
    /// starts the thread that owns the connection.
    ///
    /// # Errors
    /// [`Error::Store`] if the file cannot be opened, is not a SQLite file, is damaged, or
    /// cannot be migrated.
    ///
    /// ```no_run
    /// let store = case_bot_core::SqliteStore::open("casebot.db").unwrap();
    /// # let _ = store;
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let conn = Connection::open(path).map_err(|e| Error::store("open", e))?;
        schema::open(&conn).map_err(|e| Error::store("open", e))?;
        let (requests, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("casebot-sqlite".to_owned())
            .spawn(move || serve(conn, &queue))
            .map_err(|e| Error::store("open", e))?;
        Ok(Self { requests })
    }

    /// Runs `statement` on the database thread; the answer comes once it is committed.
    async fn call<F>(&self, what: &'static str, statement: F) -> Result<Answer, Error>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<Answer> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::store(what, "the database thread has stopped");
        self.requests
            .send(Request::Run {
                what,
                statement: Box::new(statement),
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

#[async_trait]
impl ClaimStore for SqliteStore {
    async fn claim(&self, claim: &Claim) -> Result<Option<ClaimState>, Error> {
        let claim = claim.clone();
        let now = unix_ms();
        match self
            .call("claim", move |conn| {
                rows::claim(conn, &claim, now).map(Answer::Claimed)
            })
            .await?
        {
            Answer::Claimed(held) => Ok(held),
            other => Err(unexpected("claim", &other)),
        }
    }

    async fn advance(&self, key: &str, from: ClaimState, to: ClaimState) -> Result<bool, Error> {
        let key = key.to_owned();
        match self
            .call("claim state", move |conn| {
                rows::advance(conn, &key, from, to).map(|moved| Answer::Count(usize::from(moved)))
            })
            .await?
        {
            Answer::Count(moved) => Ok(moved == 1),
            other => Err(unexpected("claim state", &other)),
        }
    }

    async fn unfinished_claims(&self) -> Result<Vec<Claim>, Error> {
        match self
            .call("claims", |conn| {
                rows::unfinished_claims(conn).map(Answer::Claims)
            })
            .await?
        {
            Answer::Claims(claims) => Ok(claims),
            other => Err(unexpected("claims", &other)),
        }
    }
}

#[async_trait]
impl CaseLinkStore for SqliteStore {
    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error> {
        let json = serde_json::to_string(link).map_err(|e| Error::store("case link", e))?;
        let case_id = case_id.to_owned();
        self.call("case link", move |conn| {
            rows::put_case(conn, &case_id, &json).map(|()| Answer::Done)
        })
        .await
        .map(drop)
    }

    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, Error> {
        let case_id = case_id.to_owned();
        let answer = self
            .call("case link", move |conn| {
                rows::case(conn, &case_id).map(Answer::Link)
            })
            .await?;
        let Answer::Link(json) = answer else {
            return Err(unexpected("case link", &answer));
        };
        json.map(|json| serde_json::from_str(&json).map_err(|e| Error::store("case link", e)))
            .transpose()
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn audit(&self, record: AuditRecord) -> Result<(), Error> {
        self.call("audit", move |conn| {
            rows::audit(conn, &record).map(|()| Answer::Done)
        })
        .await
        .map(drop)
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        match self
            .call("audit", move |conn| {
                rows::recent_audit(conn, limit).map(Answer::Audit)
            })
            .await?
        {
            Answer::Audit(records) => Ok(records),
            other => Err(unexpected("audit", &other)),
        }
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(&self, entries: &[OutboxEntry]) -> Result<(), Error> {
        let entries = entries.to_vec();
        self.call("outbox", move |conn| {
            rows::enqueue(conn, &entries).map(|()| Answer::Done)
        })
        .await
        .map(drop)
    }

    async fn lease_due(
        &self,
        now_ms: i64,
        owner: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, Error> {
        let owner = owner.to_owned();
        match self
            .call("outbox", move |conn| {
                rows::lease_due(conn, now_ms, &owner, lease_until_ms, limit).map(Answer::Entries)
            })
            .await?
        {
            Answer::Entries(entries) => Ok(entries),
            other => Err(unexpected("outbox", &other)),
        }
    }

    async fn settle(&self, id: &str, settlement: Settlement) -> Result<(), Error> {
        let id = id.to_owned();
        self.call("outbox", move |conn| {
            rows::settle(conn, &id, settlement).map(|()| Answer::Done)
        })
        .await
        .map(drop)
    }

    async fn pending(&self, conversation: Option<&str>) -> Result<usize, Error> {
        let conversation = conversation.map(str::to_owned);
        match self
            .call("outbox", move |conn| {
                rows::count(conn, DeliveryState::Pending, conversation.as_deref())
                    .map(Answer::Count)
            })
            .await?
        {
            Answer::Count(n) => Ok(n),
            other => Err(unexpected("outbox", &other)),
        }
    }

    async fn undelivered(&self) -> Result<usize, Error> {
        match self
            .call("outbox", |conn| {
                rows::count(conn, DeliveryState::Undelivered, None).map(Answer::Count)
            })
            .await?
        {
            Answer::Count(n) => Ok(n),
            other => Err(unexpected("outbox", &other)),
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn finish(&self, finish: Finish) -> Result<bool, Error> {
        let link = match &finish.case {
            Some((case_id, link)) => Some((
                case_id.clone(),
                serde_json::to_string(link).map_err(|e| Error::store("finish", e))?,
            )),
            None => None,
        };
        // One savepoint, one commit: all of it or none of it.
        let answer = self
            .call("finish", move |conn| {
                // The claim first, so that only its winner writes: taken now (and written done
                // at once, without its event: nothing is left to finish), or moved from
                // `finish.from` to done. Otherwise nothing is written.
                let won = match &finish.claim {
                    Some(claim) => {
                        let done = Claim {
                            state: ClaimState::Done,
                            event: String::new(),
                            ..claim.clone()
                        };
                        rows::claim(conn, &done, unix_ms())?.is_none()
                    }
                    None => rows::advance(conn, &finish.key, finish.from, ClaimState::Done)?,
                };
                if !won {
                    return Ok(Answer::Count(0));
                }
                if let Some((case_id, json)) = &link {
                    rows::put_case(conn, case_id, json)?;
                }
                rows::audit(conn, &finish.audit)?;
                if !finish.entries.is_empty() {
                    rows::enqueue(conn, &finish.entries)?;
                }
                for swap in &finish.records {
                    records::swap(conn, swap)?;
                }
                Ok(Answer::Count(1))
            })
            .await?;
        match answer {
            Answer::Count(done) => Ok(done == 1),
            other => Err(unexpected("finish", &other)),
        }
    }

    async fn prune(&self, sent_before_ms: i64, audit_before_ms: i64) -> Result<(), Error> {
        let now = unix_ms();
        self.call("prune", move |conn| {
            rows::prune(conn, now, sent_before_ms, audit_before_ms).map(|()| Answer::Done)
        })
        .await
        .map(drop)
    }

    async fn probe(&self) -> Result<(), Error> {
        let now = unix_ms();
        self.call("probe", move |conn| {
            rows::probe(conn, now).map(|()| Answer::Done)
        })
        .await
        .map(drop)
    }

    async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.requests.send(Request::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }
}
