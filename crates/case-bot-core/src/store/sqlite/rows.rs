//! The statements of each concern, run on the database thread inside its transaction.

use std::borrow::Cow;

use rusqlite::{Connection, OptionalExtension as _, Row, params};

use crate::store::{
    AuditRecord, Claim, ClaimState, DeliveryState, Destination, OutboxEntry, Settlement,
};

/// A stored text that does not name a known value.
fn bad_value(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("not a {what}").into(),
    )
}

/// Takes `claim` unless its key is held; the holder's state if it is.
pub(super) fn claim(
    conn: &Connection,
    claim: &Claim,
    now: i64,
) -> rusqlite::Result<Option<ClaimState>> {
    // One statement: a free key, or a done claim whose hold has expired, is taken; an
    // unfinished claim is held whatever its expiry, until it is finished.
    let taken = conn
        .prepare_cached(
            "INSERT INTO claims (key, expires_at_ms, state, event, token, claimed_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(key) DO UPDATE SET expires_at_ms = excluded.expires_at_ms,
                 state = excluded.state, event = excluded.event, token = excluded.token,
                 claimed_at_ms = excluded.claimed_at_ms
             WHERE claims.state = 'done' AND claims.expires_at_ms <= ?7",
        )?
        .execute(params![
            claim.key,
            claim.expires_at_ms,
            claim.state.as_str(),
            claim.event,
            claim.token,
            claim.claimed_at_ms,
            now
        ])?;
    if taken == 1 {
        return Ok(None);
    }
    let held: String = conn
        .prepare_cached("SELECT state FROM claims WHERE key = ?1")?
        .query_row(params![claim.key], |row| row.get(0))?;
    ClaimState::from_name(&held)
        .map(Some)
        .ok_or_else(|| bad_value(0, "claim state"))
}

pub(super) fn advance(
    conn: &Connection,
    key: &str,
    from: ClaimState,
    to: ClaimState,
) -> rusqlite::Result<bool> {
    conn.prepare_cached("UPDATE claims SET state = ?3 WHERE key = ?1 AND state = ?2")?
        .execute(params![key, from.as_str(), to.as_str()])
        .map(|changed| changed == 1)
}

pub(super) fn unfinished_claims(conn: &Connection) -> rusqlite::Result<Vec<Claim>> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, state, event, token, claimed_at_ms, expires_at_ms FROM claims
         WHERE state <> 'done' ORDER BY claimed_at_ms",
    )?;
    let rows = stmt.query_map([], |row| {
        let state: String = row.get(1)?;
        Ok(Claim {
            key: row.get(0)?,
            state: ClaimState::from_name(&state).ok_or_else(|| bad_value(1, "claim state"))?,
            event: row.get(2)?,
            token: row.get(3)?,
            claimed_at_ms: row.get(4)?,
            expires_at_ms: row.get(5)?,
        })
    })?;
    rows.collect()
}

pub(super) fn put_case(conn: &Connection, case_id: &str, link: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO cases (case_id, link) VALUES (?1, ?2)
         ON CONFLICT(case_id) DO UPDATE SET link = excluded.link",
    )?
    .execute(params![case_id, link])
    .map(drop)
}

pub(super) fn case(conn: &Connection, case_id: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT link FROM cases WHERE case_id = ?1")?
        .query_row(params![case_id], |row| row.get(0))
        .optional()
}

pub(super) fn audit(conn: &Connection, record: &AuditRecord) -> rusqlite::Result<()> {
    // One row per identity and time (see `AuditRecord::identity`), found through the index on
    // the time. The check is a statement of its own: as `INSERT … SELECT … WHERE NOT EXISTS`
    // on the same table, SQLite built a temporary table for every row.
    if let Some((key, undelivered, at_ms)) = record.identity() {
        let there = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM audit WHERE at_ms = ?1 AND claim_key = ?2
                     AND (outcome = 'undelivered') = ?3)",
            )?
            .query_row(params![at_ms, key, undelivered], |row| {
                row.get::<_, bool>(0)
            })?;
        if there {
            return Ok(());
        }
    }
    conn.prepare_cached(
        "INSERT INTO audit (at_ms, sender, sender_staff_id, conversation_id, command, case_id,
             outcome, claim_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
    .map(drop)
}

pub(super) fn recent_audit(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<AuditRecord>> {
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

pub(super) fn enqueue(conn: &Connection, entries: &[OutboxEntry]) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO outbox (id, conversation, destination, message, command, case_id, claim_key,
             created_at_ms, attempts, next_attempt_ms, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for entry in entries {
        let destination = serde_json::to_string(&entry.destination)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        insert.execute(params![
            entry.id,
            entry.conversation,
            destination,
            entry.message,
            entry.command,
            entry.case_id,
            entry.claim_key,
            entry.created_at_ms,
            entry.attempts,
            entry.next_attempt_ms,
            entry.state.as_str(),
        ])?;
    }
    Ok(())
}

fn entry(row: &Row<'_>) -> rusqlite::Result<OutboxEntry> {
    let destination: String = row.get(2)?;
    let state: String = row.get(10)?;
    Ok(OutboxEntry {
        id: row.get(0)?,
        conversation: row.get(1)?,
        destination: serde_json::from_str::<Destination>(&destination)
            .map_err(|_| bad_value(2, "destination"))?,
        message: row.get(3)?,
        command: row.get(4)?,
        case_id: row.get(5)?,
        claim_key: row.get(6)?,
        created_at_ms: row.get(7)?,
        attempts: row.get(8)?,
        next_attempt_ms: row.get(9)?,
        state: DeliveryState::from_name(&state).ok_or_else(|| bad_value(10, "delivery state"))?,
    })
}

pub(super) fn lease_due(
    conn: &Connection,
    now: i64,
    owner: &str,
    lease_until: i64,
    limit: usize,
) -> rusqlite::Result<Vec<OutboxEntry>> {
    // The oldest pending entry of each conversation, if it is due and no other worker holds it.
    let mut select = conn.prepare_cached(
        "SELECT o.id, o.conversation, o.destination, o.message, o.command, o.case_id,
             o.claim_key, o.created_at_ms, o.attempts, o.next_attempt_ms, o.state
         FROM outbox o JOIN (SELECT MIN(id) AS id FROM outbox WHERE state = 'pending'
             GROUP BY conversation) first ON o.id = first.id
         WHERE o.next_attempt_ms <= ?1
             AND (o.lease_owner IS NULL OR o.lease_owner = ?2 OR o.lease_until_ms <= ?1)
         ORDER BY o.id LIMIT ?3",
    )?;
    let due: Vec<OutboxEntry> = select
        .query_map(
            params![now, owner, i64::try_from(limit).unwrap_or(i64::MAX)],
            entry,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut lease = conn
        .prepare_cached("UPDATE outbox SET lease_owner = ?2, lease_until_ms = ?3 WHERE id = ?1")?;
    for entry in &due {
        lease.execute(params![entry.id, owner, lease_until])?;
    }
    Ok(due)
}

pub(super) fn settle(conn: &Connection, id: &str, settlement: Settlement) -> rusqlite::Result<()> {
    let (state, next) = match settlement {
        Settlement::Sent => (DeliveryState::Sent, None),
        Settlement::Undelivered => (DeliveryState::Undelivered, None),
        Settlement::Retry { next_attempt_ms } => (DeliveryState::Pending, Some(next_attempt_ms)),
    };
    conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, state = ?2,
             next_attempt_ms = COALESCE(?3, next_attempt_ms), lease_owner = NULL,
             lease_until_ms = NULL
         WHERE id = ?1",
    )?
    .execute(params![id, state.as_str(), next])
    .map(drop)
}

pub(super) fn count(
    conn: &Connection,
    state: DeliveryState,
    conversation: Option<&str>,
) -> rusqlite::Result<usize> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM outbox WHERE state = ?1 AND (?2 IS NULL OR conversation = ?2)",
        )?
        .query_row(params![state.as_str(), conversation], |row| row.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

pub(super) fn prune(
    conn: &Connection,
    now: i64,
    sent_before: i64,
    audit_before: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM claims WHERE state = 'done' AND expires_at_ms <= ?1")?
        .execute(params![now])?;
    conn.prepare_cached(
        "DELETE FROM outbox WHERE (state = 'sent' AND created_at_ms < ?1)
             OR (state = 'undelivered' AND created_at_ms < ?2)",
    )?
    .execute(params![sent_before, audit_before])?;
    conn.prepare_cached("DELETE FROM audit WHERE at_ms < ?1")?
        .execute(params![audit_before])?;
    Ok(())
}

pub(super) fn probe(conn: &Connection, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO probe (id, at_ms) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET at_ms = ?1",
    )?
    .execute(params![now])
    .map(drop)
}
