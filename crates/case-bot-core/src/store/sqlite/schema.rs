//! The file's tables: made, checked and brought up to date when the file is opened.

use std::time::Duration;

use rusqlite::{Connection, params};

use crate::store::unix_ms;

/// How long a write waits for another process holding the file's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Audit rows of files from before the claims table held every claim: their newest this many
/// are read for claims still valid.
const LEGACY_CLAIM_ROWS: i64 = 20_000;

/// The layout this version writes (`PRAGMA user_version`): 1 added the sandbox's saved cases.
/// Files of earlier versions read 0 and are brought up to date when opened.
pub(super) const SCHEMA_VERSION: i64 = 1;

/// Why a file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unusable {
    /// SQLite could not read or change it.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// SQLite's integrity check found damage.
    #[error("the file is damaged: {0}")]
    Damaged(String),
    /// A newer version of the bot wrote the file: this one would not know its tables.
    #[error(
        "the file has schema version {0}, newer than this build's {SCHEMA_VERSION}: run the newer case-bot, or restore a backup"
    )]
    Newer(i64),
}

/// Checks the file and brings its tables up to date: a new file gets every table; a file of
/// an older version gets the columns and tables it lacks, its rows kept.
pub(super) fn open(conn: &Connection) -> Result<(), Unusable> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A file that is not SQLite fails here; a damaged one is named, not opened.
    let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(Unusable::Damaged(check));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Unusable::Newer(version));
    }
    // WAL with synchronous=FULL: each commit is fsynced before the call returns, so what was
    // acknowledged survives a process crash *and* a power loss. (NORMAL would survive a crash
    // but could lose the last commits on power loss: a claim answered 200, then forgotten.)
    // The cost is one fsync per commit, shared by every write in a group commit.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=FULL;
         CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS cases (case_id TEXT PRIMARY KEY, link TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
             sender TEXT NOT NULL, sender_staff_id TEXT, conversation_id TEXT NOT NULL, command TEXT NOT NULL,
             case_id TEXT, outcome TEXT NOT NULL, claim_key TEXT, claim_expires_ms INTEGER);
         CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, conversation TEXT NOT NULL,
             destination TEXT NOT NULL, message TEXT NOT NULL, command TEXT NOT NULL, case_id TEXT,
             claim_key TEXT, created_at_ms INTEGER NOT NULL, attempts INTEGER NOT NULL,
             next_attempt_ms INTEGER NOT NULL, state TEXT NOT NULL, lease_owner TEXT,
             lease_until_ms INTEGER) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, conversation, id);
         CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY CHECK (id = 1), at_ms INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id TEXT NOT NULL,
             version INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS sandbox (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL,
             saved_at_ms INTEGER NOT NULL);",
    )?;
    add_columns(
        conn,
        "audit",
        &[("claim_key", "TEXT"), ("claim_expires_ms", "INTEGER")],
    )?;
    // Audit rows are found by time, then claim (the index of earlier versions, on the claim
    // alone, is dropped).
    conn.execute_batch(
        "DROP INDEX IF EXISTS audit_claim;
         CREATE INDEX IF NOT EXISTS audit_time ON audit (at_ms, claim_key);",
    )?;
    // Claims of files from before a claim held its state: those rows are done.
    add_columns(
        conn,
        "claims",
        &[
            ("state", "TEXT NOT NULL DEFAULT 'done'"),
            ("event", "TEXT NOT NULL DEFAULT ''"),
            ("token", "TEXT NOT NULL DEFAULT ''"),
            ("claimed_at_ms", "INTEGER NOT NULL DEFAULT 0"),
        ],
    )?;
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
    conn.execute(
        "DELETE FROM claims WHERE state = 'done' AND expires_at_ms <= ?1",
        params![now],
    )?;
    // One process owns a SQLite file: leases of a process that died are void at once (its
    // sends were cut off; they are sent again, at least once).
    conn.execute(
        "UPDATE outbox SET lease_owner = NULL, lease_until_ms = NULL WHERE lease_owner IS NOT NULL",
        [],
    )?;
    conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))?;
    Ok(())
}

/// Adds to `table` the `columns` (name, type) it lacks.
fn add_columns(conn: &Connection, table: &str, columns: &[(&str, &str)]) -> rusqlite::Result<()> {
    for (name, kind) in columns {
        let present = conn
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
            .exists(params![table, name])?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {name} {kind};"))?;
        }
    }
    Ok(())
}
