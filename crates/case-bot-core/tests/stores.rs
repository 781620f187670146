//! The stores: one contract for memory and SQLite (DynamoDB: `dynamo.rs`), and what the SQLite
//! file keeps across restarts and versions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::take;

use std::sync::Arc;

use case_bot_core::{AuditStore as _, CaseLinkStore as _, MemoryStore, SqliteStore, Store as _};
use casebot_testkit::TempDir;

#[tokio::test]
async fn memory_and_sqlite_stores_keep_the_same_contract() {
    common::store_contract(&MemoryStore::default(), 0).await;
    let dir = TempDir::new("core-store");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    common::store_contract(&store, 0).await;
    // Reopened, the data is still there.
    let reopened = SqliteStore::open(&path).unwrap();
    assert!(reopened.case("case-1").await.unwrap().is_some());
    assert!(!take(&reopened, "msg:a").await);
    let recent: Vec<String> = reopened
        .recent_audit(5)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.command.into_owned())
        .collect();
    assert_eq!(recent, ["c1", "c2", "c1", "c0"]);
}

fn audit_of(claim_key: &str) -> case_bot_core::AuditRecord {
    case_bot_core::AuditRecord {
        at_ms: 1,
        sender: "张三".into(),
        sender_staff_id: None,
        conversation_id: "cid".into(),
        command: "help".into(),
        case_id: None,
        outcome: "help".into(),
        claim_key: Some(claim_key.into()),
    }
}

fn count(path: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn sqlite_writes_are_in_the_file_when_the_call_returns() {
    let dir = TempDir::new("core-durable");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    for i in 0..100 {
        assert!(take(&store, &format!("msg:{i}")).await);
        store.audit(audit_of(&format!("msg:{i}"))).await.unwrap();
    }
    // Another connection sees every claim and row at once: no write-behind queue to flush.
    assert_eq!(count(&path, "SELECT count(*) FROM claims"), 100);
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM audit WHERE claim_key IS NOT NULL"
        ),
        100
    );
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    for i in 0..100 {
        assert!(
            !take(&reopened, &format!("msg:{i}")).await,
            "msg:{i} held after a restart"
        );
    }
    assert!(take(&reopened, "msg:new").await);
    let recent = reopened.recent_audit(200).await.unwrap();
    let keys: Vec<String> = recent
        .iter()
        .rev()
        .filter_map(|r| r.claim_key.clone())
        .collect();
    let expected: Vec<String> = (0..100).map(|i| format!("msg:{i}")).collect();
    assert_eq!(keys, expected, "complete and in order");
}

/// The tables of the first versions: the audit table has `extra_columns` after `outcome`.
fn old_file(path: &std::path::Path, extra_columns: &str, rows: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE claims (key TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE cases (case_id TEXT PRIMARY KEY, link TEXT NOT NULL);
         CREATE TABLE audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
             sender TEXT NOT NULL, sender_staff_id TEXT, conversation_id TEXT NOT NULL, command TEXT NOT NULL,
             case_id TEXT, outcome TEXT NOT NULL{extra_columns});
         {rows}"
    ))
    .unwrap();
}

#[tokio::test]
async fn sqlite_takes_over_claims_an_older_version_kept_in_audit_rows() {
    // Versions before this one kept a fast command's claim in its audit row.
    let dir = TempDir::new("core-legacy-claims");
    let path = dir.path().join("state.db");
    old_file(
        &path,
        ", claim_key TEXT, claim_expires_ms INTEGER",
        "INSERT INTO audit (at_ms, sender, conversation_id, command, outcome, claim_key, claim_expires_ms)
             VALUES (1, '张三', 'cid', 'help', 'help', 'msg:held', 9999999999999),
                    (2, '张三', 'cid', 'help', 'help', 'msg:expired', 1);",
    );
    let store = SqliteStore::open(&path).unwrap();
    assert!(!take(&store, "msg:held").await, "still held");
    assert!(take(&store, "msg:expired").await, "expired, so free");
    assert_eq!(store.recent_audit(5).await.unwrap().len(), 2);
}

#[tokio::test]
async fn sqlite_opens_a_file_from_before_the_claim_columns() {
    let dir = TempDir::new("core-migrate");
    let path = dir.path().join("state.db");
    old_file(
        &path,
        "",
        "INSERT INTO audit (at_ms, sender, conversation_id, command, case_id, outcome)
             VALUES (1, '张三', 'cid', 'create', 'case-1', 'ok');
         INSERT INTO claims VALUES ('msg:old', 9999999999999);",
    );
    let store = SqliteStore::open(&path).unwrap();
    let recent = store.recent_audit(5).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(
        (&*recent[0].command, recent[0].claim_key.as_deref()),
        ("create", None)
    );
    assert!(!take(&store, "msg:old").await, "old claims still held");
    assert!(take(&store, "msg:next").await);
    store.audit(audit_of("msg:next")).await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    assert!(!take(&reopened, "msg:next").await);
}

#[tokio::test]
async fn sqlite_claims_are_atomic_under_concurrency() {
    let dir = TempDir::new("core-claims");
    let path = dir.path().join("state.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let mut handles = Vec::new();
    for _ in 0..32 {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move { take(&*store, "msg:race").await }));
    }
    let mut winners = 0;
    for handle in handles {
        winners += usize::from(handle.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn a_damaged_or_foreign_state_file_is_refused_at_open_with_the_reason() {
    let dir = TempDir::new("core-damaged");
    let foreign = dir.path().join("notes.txt");
    std::fs::write(
        &foreign,
        "these are not the tables you are looking for\n".repeat(200),
    )
    .unwrap();
    let err = SqliteStore::open(&foreign).unwrap_err().to_string();
    assert!(err.contains("not a database"), "{err}");

    let damaged = dir.path().join("state.db");
    {
        let store = SqliteStore::open(&damaged).unwrap();
        for i in 0..2_000 {
            store.audit(audit_of(&format!("msg:{i}"))).await.unwrap();
        }
        store.close().await;
    }
    // Scribble over pages in the middle of the file, as a bad disk or a half copy would.
    let mut bytes = std::fs::read(&damaged).unwrap();
    assert!(bytes.len() > 16 * 4096, "{}", bytes.len());
    for byte in &mut bytes[8 * 4096..12 * 4096] {
        *byte = 0x5a;
    }
    std::fs::write(&damaged, bytes).unwrap();
    let err = SqliteStore::open(&damaged).unwrap_err().to_string();
    assert!(
        err.contains("damaged") || err.contains("malformed"),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_written_by_a_newer_version_is_refused_and_an_older_one_is_brought_up_to_date() {
    let dir = TempDir::new("core-version");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        SqliteStore::SCHEMA_VERSION
    );
    store.close().await;
    let set = |version: i64| {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {version};"))
            .unwrap();
    };
    set(SqliteStore::SCHEMA_VERSION + 1);
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(err.contains("newer than this build's"), "{err}");
    set(0);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        SqliteStore::SCHEMA_VERSION
    );
}

#[tokio::test]
async fn a_clean_close_checkpoints_the_wal_so_the_file_alone_is_whole() {
    let dir = TempDir::new("core-close");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    assert!(take(&store, "msg:before-close").await);
    store.close().await;
    let wal = dir.path().join("state.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the WAL is folded into the file"
    );
    // A copy of the file alone has everything.
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    let reopened = SqliteStore::open(&copy).unwrap();
    assert!(!take(&reopened, "msg:before-close").await);
}
