//! The claims in DynamoDB: one item per claim (`claim#<key>`), and an `unfinished` index item
//! per claim not done, written in one transaction with it, so the unfinished are found with one
//! query.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use super::{
    DynamoStore, UNFINISHED_TTL_S, built, get_n, get_s, n, s, sdk_err, transact, unfinished_sk,
};
use crate::error::Error;
use crate::store::{Claim, ClaimState, ClaimStore, unix_ms};

impl DynamoStore {
    /// The state of the claim of `key`, read consistently.
    async fn claim_state(&self, key: &str) -> Result<Option<ClaimState>, Error> {
        Ok(self.read_claim(key).await?.map(|claim| claim.state))
    }

    /// Reads the claim of `key`.
    async fn read_claim(&self, key: &str) -> Result<Option<Claim>, Error> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("claim#{key}")))
            .key("sk", s("-"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("claims", e))?;
        Ok(item.item().map(|item| Claim {
            key: key.to_owned(),
            state: get_s(item, "state")
                .and_then(ClaimState::from_name)
                .unwrap_or(ClaimState::Done),
            event: get_s(item, "event").unwrap_or_default().to_owned(),
            token: get_s(item, "token").unwrap_or_default().to_owned(),
            claimed_at_ms: get_n(item, "claimed_at_ms").unwrap_or_default(),
            expires_at_ms: get_n(item, "expires_at_ms").unwrap_or_default(),
        }))
    }
}

#[async_trait]
impl ClaimStore for DynamoStore {
    async fn claim(&self, claim: &Claim) -> Result<Option<ClaimState>, Error> {
        let now = unix_ms();
        let put_claim = built(
            "claim",
            Put::builder()
                .table_name(&self.table)
                .item("pk", s(format!("claim#{}", claim.key)))
                .item("sk", s("-"))
                .item("state", s(claim.state.as_str()))
                .item("event", s(&claim.event))
                .item("token", s(&claim.token))
                .item("claimed_at_ms", n(claim.claimed_at_ms))
                .item("expires_at_ms", n(claim.expires_at_ms))
                .item("expires_at", n(now / 1000 + UNFINISHED_TTL_S))
                .condition_expression(
                    "attribute_not_exists(pk) OR ((attribute_not_exists(#state) OR #state = :done) AND expires_at_ms <= :now)",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":done", s("done"))
                .expression_attribute_values(":now", n(now))
                .build(),
        )?;
        let put_unfinished = built(
            "claim",
            Put::builder()
                .table_name(&self.table)
                .item("pk", s("unfinished"))
                .item("sk", s(unfinished_sk(claim)))
                .item("key", s(&claim.key))
                .item("expires_at", n(now / 1000 + UNFINISHED_TTL_S))
                .build(),
        )?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_claim).build())
            .transact_items(TransactWriteItem::builder().put(put_unfinished).build())
            .send()
            .await;
        match written {
            Ok(_) => Ok(None),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                // Held by another delivery (or by one racing this one).
                Ok(Some(
                    self.claim_state(&claim.key)
                        .await?
                        .unwrap_or(ClaimState::Accepted),
                ))
            }
            Err(e) => Err(sdk_err("claim", e)),
        }
    }

    async fn advance(&self, key: &str, from: ClaimState, to: ClaimState) -> Result<bool, Error> {
        let Some(claim) = self.read_claim(key).await? else {
            return Ok(false);
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("claim#{key}")))
            .key("sk", s("-"))
            .update_expression("SET #state = :to, expires_at = :ttl")
            .condition_expression("#state = :from")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()));
        update = if to == ClaimState::Done {
            update.expression_attribute_values(":ttl", n(claim.expires_at_ms / 1000 + 1))
        } else {
            update.expression_attribute_values(":ttl", n(unix_ms() / 1000 + UNFINISHED_TTL_S))
        };
        let mut transaction = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .update(built("claim state", update.build())?)
                .build(),
        );
        if to == ClaimState::Done {
            let forget = Delete::builder()
                .table_name(&self.table)
                .key("pk", s("unfinished"))
                .key("sk", s(unfinished_sk(&claim)))
                .build();
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .delete(built("claim state", forget)?)
                    .build(),
            );
        }
        transact("claim state", transaction).await
    }

    async fn unfinished_claims(&self) -> Result<Vec<Claim>, Error> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s("unfinished"))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_err("claims", e))?;
            keys.extend(
                page.items()
                    .iter()
                    .filter_map(|item| get_s(item, "key").map(str::to_owned)),
            );
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        let mut claims = Vec::new();
        for key in keys {
            if let Some(claim) = self.read_claim(&key).await?
                && claim.state != ClaimState::Done
            {
                claims.push(claim);
            }
        }
        Ok(claims)
    }
}
