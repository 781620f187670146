//! The outbox in DynamoDB: one partition (`pk = outbox`), sorted by entry id; an entry is
//! leased by a conditional update, so of several servers sharing the table only one sends it.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::{DynamoStore, get_n, get_s, n, s, sdk_err};
use crate::error::Error;
use crate::store::{DeliveryState, Destination, OutboxEntry, OutboxStore, Settlement, unix_ms};

/// How long a sent entry stays in the table (seconds): a day, for looking into complaints.
const SENT_KEPT_S: i64 = 86_400;

type Item = HashMap<String, AttributeValue>;

fn entry(item: &Item) -> Option<OutboxEntry> {
    Some(OutboxEntry {
        id: get_s(item, "sk")?.to_owned(),
        conversation: get_s(item, "conversation")?.to_owned(),
        destination: serde_json::from_str::<Destination>(get_s(item, "destination")?).ok()?,
        message: get_s(item, "message")?.to_owned(),
        command: get_s(item, "command").unwrap_or_default().to_owned(),
        case_id: get_s(item, "case_id").map(str::to_owned),
        claim_key: get_s(item, "claim_key").map(str::to_owned),
        created_at_ms: get_n(item, "created_at_ms")?,
        attempts: u32::try_from(get_n(item, "attempts")?).ok()?,
        next_attempt_ms: get_n(item, "next_attempt_ms")?,
        state: DeliveryState::from_name(get_s(item, "state")?)?,
    })
}

impl DynamoStore {
    /// A query of the outbox's entries in `state` (optionally of one conversation), from
    /// `start`, in id order.
    fn outbox_query(
        &self,
        state: DeliveryState,
        conversation: Option<&str>,
        start: Option<Item>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pk", s("outbox"))
            .expression_attribute_values(":state", s(state.as_str()))
            .consistent_read(true)
            .set_exclusive_start_key(start);
        match conversation {
            Some(conversation) => query
                .filter_expression("#state = :state AND conversation = :conversation")
                .expression_attribute_values(":conversation", s(conversation)),
            None => query.filter_expression("#state = :state"),
        }
    }

    /// Every item of the outbox in `state` (optionally of one conversation), in id order.
    async fn outbox_items(
        &self,
        state: DeliveryState,
        conversation: Option<&str>,
    ) -> Result<Vec<Item>, Error> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .outbox_query(state, conversation, start)
                .send()
                .await
                .map_err(|e| sdk_err("outbox", e))?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// How many entries are in `state` (optionally of one conversation).
    async fn outbox_count(
        &self,
        state: DeliveryState,
        conversation: Option<&str>,
    ) -> Result<usize, Error> {
        let mut count = 0;
        let mut start = None;
        loop {
            let page = self
                .outbox_query(state, conversation, start)
                .select(Select::Count)
                .send()
                .await
                .map_err(|e| sdk_err("outbox", e))?;
            count += usize::try_from(page.count()).unwrap_or(0);
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(count);
            }
        }
    }
}

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn enqueue(&self, entries: &[OutboxEntry]) -> Result<(), Error> {
        for entry in entries {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(entry_item(entry)?));
            // An entry already there (enqueued again after a crash) is left as it is.
            let put = put.condition_expression("attribute_not_exists(pk)");
            match put.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk_err("outbox", e)),
            }
        }
        Ok(())
    }

    async fn lease_due(
        &self,
        now_ms: i64,
        owner: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, Error> {
        let mut conversations = HashSet::new();
        let mut leased = Vec::new();
        for item in self.outbox_items(DeliveryState::Pending, None).await? {
            if leased.len() >= limit {
                break;
            }
            let Some(candidate) = entry(&item) else {
                continue;
            };
            // Only the oldest pending entry of each conversation is a candidate.
            if !conversations.insert(candidate.conversation.clone())
                || candidate.next_attempt_ms > now_ms
            {
                continue;
            }
            let taken = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s("outbox"))
                .key("sk", s(&candidate.id))
                .update_expression("SET lease_owner = :owner, lease_until_ms = :until")
                .condition_expression(
                    "#state = :pending AND (attribute_not_exists(lease_owner) OR lease_owner = :owner OR lease_until_ms <= :now)",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":owner", s(owner))
                .expression_attribute_values(":until", n(lease_until_ms))
                .expression_attribute_values(":now", n(now_ms))
                .send()
                .await;
            match taken {
                Ok(_) => leased.push(candidate),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(sdk_err("outbox", e)),
            }
        }
        Ok(leased)
    }

    async fn settle(&self, id: &str, settlement: Settlement) -> Result<(), Error> {
        let now = unix_ms();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s("outbox"))
            .key("sk", s(id))
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":one", n(1));
        let update = match settlement {
            Settlement::Sent => update
                .update_expression(
                    "SET #state = :state, attempts = attempts + :one, expires_at = :ttl REMOVE lease_owner, lease_until_ms",
                )
                .expression_attribute_values(":state", s("sent"))
                .expression_attribute_values(":ttl", n(now / 1000 + SENT_KEPT_S)),
            Settlement::Undelivered => update
                .update_expression(
                    "SET #state = :state, attempts = attempts + :one, expires_at = :ttl REMOVE lease_owner, lease_until_ms",
                )
                .expression_attribute_values(":state", s("undelivered"))
                .expression_attribute_values(":ttl", n(now / 1000 + self.audit_days * 86_400)),
            Settlement::Retry { next_attempt_ms } => update
                .update_expression(
                    "SET #state = :state, attempts = attempts + :one, next_attempt_ms = :next REMOVE lease_owner, lease_until_ms",
                )
                .expression_attribute_values(":state", s("pending"))
                .expression_attribute_values(":next", n(next_attempt_ms)),
        };
        update
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_err("outbox", e))
    }

    async fn pending(&self, conversation: Option<&str>) -> Result<usize, Error> {
        self.outbox_count(DeliveryState::Pending, conversation)
            .await
    }

    async fn undelivered(&self) -> Result<usize, Error> {
        self.outbox_count(DeliveryState::Undelivered, None).await
    }
}

/// The item of an outbox entry.
pub(super) fn entry_item(entry: &OutboxEntry) -> Result<HashMap<String, AttributeValue>, Error> {
    let destination =
        serde_json::to_string(&entry.destination).map_err(|e| Error::store("outbox", e))?;
    let mut item = HashMap::from([
        ("pk".to_owned(), s("outbox")),
        ("sk".to_owned(), s(&entry.id)),
        ("conversation".to_owned(), s(&entry.conversation)),
        ("destination".to_owned(), s(destination)),
        ("message".to_owned(), s(&entry.message)),
        ("command".to_owned(), s(&entry.command)),
        ("created_at_ms".to_owned(), n(entry.created_at_ms)),
        ("attempts".to_owned(), n(i64::from(entry.attempts))),
        ("next_attempt_ms".to_owned(), n(entry.next_attempt_ms)),
        ("state".to_owned(), s(entry.state.as_str())),
    ]);
    if let Some(case_id) = &entry.case_id {
        item.insert("case_id".to_owned(), s(case_id));
    }
    if let Some(key) = &entry.claim_key {
        item.insert("claim_key".to_owned(), s(key));
    }
    Ok(item)
}
