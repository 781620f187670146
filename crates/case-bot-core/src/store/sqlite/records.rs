//! Versioned records in SQLite: the `records` table, compare-and-set in one statement, with
//! the swap's outbox entries in the same commit.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::{Answer, SqliteStore, rows, unexpected};
use crate::error::Error;
use crate::store::{Record, RecordStore, RecordSwap};

/// A version as SQLite stores it (versions stay far below `i64::MAX`).
fn version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Applies `swap` on `conn`: whether it won. Its entries are enqueued only if it did.
pub(super) fn swap(conn: &Connection, swap: &RecordSwap) -> rusqlite::Result<bool> {
    let changed = match (&swap.value, swap.expected) {
        (Some(value), 0) => conn
            .prepare_cached(
                "INSERT OR IGNORE INTO records (kind, id, version, value) VALUES (?1, ?2, 1, ?3)",
            )?
            .execute(params![swap.kind, swap.id, value])?,
        (Some(value), expected) => conn
            .prepare_cached(
                "UPDATE records SET version = version + 1, value = ?4
                 WHERE kind = ?1 AND id = ?2 AND version = ?3",
            )?
            .execute(params![swap.kind, swap.id, version(expected), value])?,
        (None, 0) => {
            let exists = conn
                .prepare_cached("SELECT 1 FROM records WHERE kind = ?1 AND id = ?2")?
                .exists(params![swap.kind, swap.id])?;
            usize::from(!exists)
        }
        (None, expected) => conn
            .prepare_cached("DELETE FROM records WHERE kind = ?1 AND id = ?2 AND version = ?3")?
            .execute(params![swap.kind, swap.id, version(expected)])?,
    };
    if changed == 0 {
        return Ok(false);
    }
    if !swap.entries.is_empty() {
        rows::enqueue(conn, &swap.entries)?;
    }
    Ok(true)
}

#[async_trait]
impl RecordStore for SqliteStore {
    async fn record(&self, kind: &str, id: &str) -> Result<Option<Record>, Error> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        let answer = self
            .call("records", move |conn| {
                conn.prepare_cached(
                    "SELECT version, value FROM records WHERE kind = ?1 AND id = ?2",
                )?
                .query_row(params![kind, id], |row| {
                    Ok(Record::new(
                        id.clone(),
                        unsigned(row.get(0)?),
                        row.get::<_, String>(1)?,
                    ))
                })
                .optional()
                .map(|found| Answer::Records(found.into_iter().collect()))
            })
            .await?;
        match answer {
            Answer::Records(mut found) => Ok(found.pop()),
            other => Err(unexpected("records", &other)),
        }
    }

    async fn records(&self, kind: &str) -> Result<Vec<Record>, Error> {
        let kind = kind.to_owned();
        let answer = self
            .call("records", move |conn| {
                let mut select = conn.prepare_cached(
                    "SELECT id, version, value FROM records WHERE kind = ?1 ORDER BY id",
                )?;
                let rows = select.query_map(params![kind], |row| {
                    Ok(Record::new(
                        row.get::<_, String>(0)?,
                        unsigned(row.get(1)?),
                        row.get::<_, String>(2)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
                    .map(Answer::Records)
            })
            .await?;
        match answer {
            Answer::Records(found) => Ok(found),
            other => Err(unexpected("records", &other)),
        }
    }

    async fn swap_record(&self, record: &RecordSwap) -> Result<bool, Error> {
        let record = record.clone();
        let answer = self
            .call("records", move |conn| {
                swap(conn, &record).map(|won| Answer::Count(usize::from(won)))
            })
            .await?;
        match answer {
            Answer::Count(won) => Ok(won == 1),
            other => Err(unexpected("records", &other)),
        }
    }
}
