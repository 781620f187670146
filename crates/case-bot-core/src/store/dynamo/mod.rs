//! The DynamoDB [`Store`] (feature `dynamodb`): the Lambda function's, and that of servers
//! that share state (`case-bot serve --state dynamodb:TABLE`). Any number of instances share
//! one table.
//!
//! Single-table design (`pk`, `sk` strings; `expires_at` is the table's TTL attribute, in
//! seconds):
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | claim | `claim#<key>` | `-` | `state`, `event`, `token`, `claimed_at_ms`, `expires_at_ms`; `expires_at` |
//! | unfinished claim | `unfinished` | `<claimed ms, 16 digits>#<key>` | `key` |
//! | case → conversation | `case#<case id>` | `-` | `link` (JSON of [`CaseLink`]) |
//! | audit record | `audit#<UTC day>` | `<at ms, 16 digits>#<nonce>` | `record` (JSON of [`AuditRecord`]); `expires_at` |
//! | outbox entry | `outbox` | its id | the entry's fields, `lease_owner`, `lease_until_ms`; `expires_at` once settled |
//! | probe | `probe` | `-` | `at_ms` |
//! | versioned record (follow, group settings, watch cursor) | `rec#<kind>` | its id | `version`, `value` (JSON) |
//!
//! A claim is a transaction: the conditional put of the claim
//! (`attribute_not_exists(pk) OR (state = done AND expires_at_ms <= :now)`), so exactly one of
//! any number of concurrent deliveries wins, and the put of its `unfinished` item, deleted when
//! the claim is done. DynamoDB deletes expired items lazily (and moto never does), so expiry is
//! also compared in the conditions themselves. An outbox entry is leased by a conditional
//! update: only the holder of an unexpired lease sends it.

mod claims;
mod outbox;
mod records;

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{AuditRecord, AuditStore, CaseLink, CaseLinkStore, Claim, Store, unix_ms};
use crate::error::Error;

/// How long a record is kept by default: audit records and entries given up (the table's
/// TTL removes them after).
const AUDIT_DAYS: i64 = 400;

/// How long an unfinished claim's item lives, whatever happens to the bot (seconds): long
/// enough for any restart to finish it.
const UNFINISHED_TTL_S: i64 = 30 * 86_400;

/// A [`Store`] in one DynamoDB table.
///
/// ```no_run
/// # async fn run(sdk: aws_config::SdkConfig) {
/// let store = case_bot_core::DynamoStore::new(&sdk, "casebot-state").audit_days(90);
/// # let _ = store; }
/// ```
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    audit_days: i64,
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A DynamoDB call's error, with AWS's code and message.
fn sdk_err<E, R>(what: &'static str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    Error::store(
        what,
        aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
    )
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The string attribute `name` of `item`.
fn get_s<'a>(
    item: &'a std::collections::HashMap<String, AttributeValue>,
    name: &str,
) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The number attribute `name` of `item`.
fn get_n(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// `YYYY-MM-DD` (UTC) of a Unix-ms instant.
fn day(ms: i64) -> String {
    let iso = support_commands::iso8601(u64::try_from(ms).unwrap_or(0));
    iso.get(..10).unwrap_or_default().to_owned()
}

/// The sort key of a claim's `unfinished` item.
fn unfinished_sk(claim: &Claim) -> String {
    format!("{:016}#{}", claim.claimed_at_ms.max(0), claim.key)
}

/// Sends a transaction: whether it was applied (`false`: a condition failed and nothing was
/// written).
async fn transact(
    what: &'static str,
    transaction: aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder,
) -> Result<bool, Error> {
    match transaction.send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_transaction_canceled_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_err(what, e)),
    }
}

/// A transaction's building block that failed to build (a bug: every field is set).
fn built<T, E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
    built: Result<T, E>,
) -> Result<T, Error> {
    built.map_err(|e| Error::store(what, e))
}

impl DynamoStore {
    /// A store on `table` with a client built from `sdk`.
    ///
    /// ```no_run
    /// # async fn run(sdk: aws_config::SdkConfig) {
    /// let store = case_bot_core::DynamoStore::new(&sdk, "casebot-state");
    /// # let _ = store; }
    /// ```
    #[must_use]
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table: table.into(),
            audit_days: AUDIT_DAYS,
        }
    }

    /// How many days audit records (and entries given up) are kept; 400 by default.
    ///
    /// ```no_run
    /// # async fn run(sdk: aws_config::SdkConfig) {
    /// let store = case_bot_core::DynamoStore::new(&sdk, "casebot-state").audit_days(30);
    /// # let _ = store; }
    /// ```
    #[must_use]
    pub fn audit_days(mut self, days: u32) -> Self {
        self.audit_days = i64::from(days);
        self
    }

    /// Creates the table (on-demand, TTL on `expires_at`) if it does not exist: for tests and
    /// local runs; the SAM template creates it in AWS.
    ///
    /// # Errors
    /// [`Error`] with DynamoDB's message.
    ///
    /// ```no_run
    /// # async fn run(store: case_bot_core::DynamoStore) {
    /// store.create_table().await.unwrap();
    /// # }
    /// ```
    pub async fn create_table(&self) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
            TimeToLiveSpecification,
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| Error::store("create table", e))
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| Error::store("create table", e))
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .send()
            .await;
        if let Err(e) = created {
            let exists = e
                .as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception());
            if !exists {
                return Err(sdk_err("create table", e));
            }
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .map_err(|e| Error::store("create table", e))?,
            )
            .send()
            .await
            .map_err(|e| sdk_err("create table", e))?;
        Ok(())
    }
}

#[async_trait]
impl CaseLinkStore for DynamoStore {
    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error> {
        let json = serde_json::to_string(link).map_err(|e| Error::store("case link", e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("case#{case_id}")))
            .item("sk", s("-"))
            .item("link", s(json))
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_err("case link", e))
    }

    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, Error> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("case#{case_id}")))
            .key("sk", s("-"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("case link", e))?;
        match item.item().and_then(|i| get_s(i, "link")) {
            Some(json) => serde_json::from_str(json)
                .map(Some)
                .map_err(|e| Error::store("case link", e)),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn audit(&self, record: AuditRecord) -> Result<(), Error> {
        // A record with a claim key has a key of its own identity, so writing it again
        // replaces it rather than adding one; others get a nonce.
        let sk = match record.identity() {
            Some((key, undelivered, at_ms)) => format!(
                "{at_ms:016}#{key}#{}",
                if undelivered {
                    "undelivered"
                } else {
                    "command"
                }
            ),
            None => format!(
                "{:016}#{}-{}",
                record.at_ms,
                std::process::id(),
                NONCE.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let json = serde_json::to_string(&record).map_err(|e| Error::store("audit", e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("audit#{}", day(record.at_ms))))
            .item("sk", s(sk))
            .item("record", s(json))
            .item(
                "expires_at",
                n(record.at_ms / 1000 + self.audit_days * 86_400),
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_err("audit", e))
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        let mut out = Vec::new();
        let mut at = unix_ms();
        // Today first, then earlier days, a week at most.
        for _ in 0..7 {
            if out.len() >= limit {
                break;
            }
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("audit#{}", day(at))))
                .scan_index_forward(false)
                .limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| sdk_err("audit", e))?;
            for item in page.items() {
                if let Some(json) = get_s(item, "record") {
                    out.push(serde_json::from_str(json).map_err(|e| Error::store("audit", e))?);
                }
            }
            at -= 86_400_000;
        }
        out.truncate(limit);
        Ok(out)
    }
}

#[async_trait]
impl Store for DynamoStore {
    /// DynamoDB's TTL deletes expired claims, sent entries and old audit records: nothing to
    /// do here.
    async fn prune(&self, _sent_before_ms: i64, _audit_before_ms: i64) -> Result<(), Error> {
        Ok(())
    }

    fn shared(&self) -> bool {
        true
    }

    async fn probe(&self) -> Result<(), Error> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("probe"))
            .item("sk", s("-"))
            .item("at_ms", n(unix_ms()))
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_err("probe", e))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn day_formats_utc_dates() {
        assert_eq!(super::day(0), "1970-01-01");
        assert_eq!(super::day(1_709_210_096_000), "2024-02-29");
    }
}
