//! The DynamoDB [`Store`] (feature `dynamodb`), for the Lambda adapter: many concurrent
//! function instances share one table.
//!
//! Single-table design (`pk`, `sk` strings; `expires_at` is the table's TTL attribute, in
//! seconds):
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | idempotency claim | `claim#<key>` | `-` | `expires_at` (s), `expires_at_ms` |
//! | case → conversation | `case#<case id>` | `-` | `link` (JSON of [`CaseLink`]) |
//! | audit record | `audit#<UTC day>` | `<at ms, 16 digits>#<nonce>` | `record` (JSON of [`AuditRecord`]), `expires_at` (400 days) |
//!
//! A claim is a conditional put (`attribute_not_exists(pk) OR expires_at_ms <= :now`): exactly
//! one of any number of concurrent deliveries wins. DynamoDB deletes expired items lazily (and
//! moto never does), so expiry is also compared in the condition itself.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{AuditRecord, CaseLink, Store, unix_ms};
use crate::error::Error;

/// How long audit records are kept (the table's TTL removes them after).
const AUDIT_DAYS: i64 = 400;

/// A [`Store`] in one DynamoDB table.
///
/// ```no_run
/// # async fn run(sdk: aws_config::SdkConfig) {
/// let store = case_bot_core::DynamoStore::new(&sdk, "casebot-state");
/// # let _ = store; }
/// ```
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
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

/// `YYYY-MM-DD` (UTC) of a Unix-ms instant.
fn day(ms: i64) -> String {
    let iso = support_commands::iso8601(u64::try_from(ms).unwrap_or(0));
    iso.get(..10).unwrap_or_default().to_owned()
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
        }
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
impl Store for DynamoStore {
    async fn claim(&self, key: &str, ttl_ms: i64) -> Result<bool, Error> {
        let now = unix_ms();
        let expires = now.saturating_add(ttl_ms);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("claim#{key}")))
            .item("sk", s("-"))
            .item("expires_at_ms", n(expires))
            .item("expires_at", n(expires / 1000 + 1))
            .condition_expression("attribute_not_exists(pk) OR expires_at_ms <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_err("claim", e)),
        }
    }

    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("case#{case_id}")))
            .item("sk", s("-"))
            .item(
                "link",
                s(serde_json::to_string(link).map_err(|e| Error::store("case link", e))?),
            )
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
        match item
            .item()
            .and_then(|i| i.get("link"))
            .and_then(|v| v.as_s().ok())
        {
            Some(json) => serde_json::from_str(json)
                .map(Some)
                .map_err(|e| Error::store("case link", e)),
            None => Ok(None),
        }
    }

    async fn audit(&self, record: AuditRecord) -> Result<(), Error> {
        let nonce = NONCE.fetch_add(1, Ordering::Relaxed);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("audit#{}", day(record.at_ms))))
            .item(
                "sk",
                s(format!(
                    "{:016}#{}-{nonce}",
                    record.at_ms,
                    std::process::id()
                )),
            )
            .item(
                "record",
                s(serde_json::to_string(&record).map_err(|e| Error::store("audit", e))?),
            )
            .item("expires_at", n(record.at_ms / 1000 + AUDIT_DAYS * 86_400))
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
                if let Some(json) = item.get("record").and_then(|v| v.as_s().ok()) {
                    out.push(serde_json::from_str(json).map_err(|e| Error::store("audit", e))?);
                }
            }
            at -= 86_400_000;
        }
        out.truncate(limit);
        Ok(out)
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
