//! Versioned records in DynamoDB: one partition per kind (`pk = rec#<kind>`, `sk = id`), with
//! `version` and `value`. A swap is one transaction: the record's conditional write and the
//! puts of its outbox entries, so the entries exist only if the write won.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::outbox::entry_item;
use super::{DynamoStore, built, get_n, get_s, n, s, sdk_err, transact};
use crate::error::Error;
use crate::store::{Record, RecordStore, RecordSwap};

fn pk(kind: &str) -> String {
    format!("rec#{kind}")
}

fn version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The condition of a swap: absent, or at the expected version.
fn condition(expected: u64) -> &'static str {
    if expected == 0 {
        "attribute_not_exists(pk)"
    } else {
        "version = :expected"
    }
}

#[async_trait]
impl RecordStore for DynamoStore {
    async fn record(&self, kind: &str, id: &str) -> Result<Option<Record>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk(kind)))
            .key("sk", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("records", e))?;
        Ok(output.item().and_then(|item| {
            Some(Record::new(
                id,
                u64::try_from(get_n(item, "version")?).ok()?,
                get_s(item, "value")?,
            ))
        }))
    }

    async fn records(&self, kind: &str) -> Result<Vec<Record>, Error> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk(kind)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_err("records", e))?;
            found.extend(output.items().iter().filter_map(|item| {
                Some(Record::new(
                    get_s(item, "sk")?,
                    u64::try_from(get_n(item, "version")?).ok()?,
                    get_s(item, "value")?,
                ))
            }));
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(found),
            }
        }
    }

    async fn swap_record(&self, swap: &RecordSwap) -> Result<bool, Error> {
        let write = match &swap.value {
            Some(value) => {
                let mut put = Put::builder()
                    .table_name(&self.table)
                    .item("pk", s(pk(&swap.kind)))
                    .item("sk", s(&swap.id))
                    .item("version", n(version(swap.expected + 1)))
                    .item("value", s(value))
                    .condition_expression(condition(swap.expected));
                if swap.expected > 0 {
                    put = put.expression_attribute_values(":expected", n(version(swap.expected)));
                }
                TransactWriteItem::builder()
                    .put(built("records", put.build())?)
                    .build()
            }
            None => {
                let mut delete = Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(pk(&swap.kind)))
                    .key("sk", s(&swap.id));
                if swap.expected > 0 {
                    delete = delete
                        .condition_expression(condition(swap.expected))
                        .expression_attribute_values(":expected", n(version(swap.expected)));
                } else {
                    delete = delete.condition_expression("attribute_not_exists(pk)");
                }
                TransactWriteItem::builder()
                    .delete(built("records", delete.build())?)
                    .build()
            }
        };
        let mut transaction = self.client.transact_write_items().transact_items(write);
        for entry in &swap.entries {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(entry_item(entry)?));
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .put(built("records", put.build())?)
                    .build(),
            );
        }
        transact("records", transaction).await
    }
}
