//! Finishing what a crash (or a store failure) interrupted, and the store's upkeep.
//!
//! A claim left `accepted` never started: it is run now. A claim left `executing` may have
//! reached AWS, so it is never run blind a second time:
//! - a create or a reply is looked up by the request token in its attribution line; found, it
//!   is reported with its case id; not found, the group is told it is unconfirmed and asked to
//!   check (it is not sent again);
//! - a resolve, which AWS can take twice, and the reads are run again.
//!
//! Every later stage is idempotent (one audit row per claim, outbox ids made from the claim), so
//! a reply that was already in the outbox goes out once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use dingtalk_robot::InboundMessage;
use support_commands::Command;

use super::CaseBot;
use super::flow::{Decided, Plan};
use crate::event::{Event, Message};
use crate::pipeline::execute::{Action, Executed};
use crate::store::{Claim, ClaimState, unix_ms};

/// How old another server's unfinished claim must be before this one takes it over (shared
/// store): longer than any command runs.
const TAKEOVER_AFTER: Duration = Duration::from_secs(600);
/// How often the upkeep runs: readiness probe while failing; retention hourly.
const TICK: Duration = Duration::from_secs(1);
const PRUNE_EVERY: u32 = 3600;
/// How long sent entries are kept (for a look at what went out).
const SENT_KEPT_MS: i64 = 24 * 3600 * 1000;

impl CaseBot {
    /// Finishes the claims no process is working on.
    pub(super) async fn recover(&self) {
        let claims = match self.inner.store.unfinished_claims().await {
            Ok(claims) => claims,
            Err(err) => {
                tracing::error!(error = %err, "cannot read unfinished claims; recovery waits for the store");
                return;
            }
        };
        let now = unix_ms();
        let stale_before = if self.inner.store.shared() {
            now.saturating_sub(i64::try_from(TAKEOVER_AFTER.as_millis()).unwrap_or(i64::MAX))
        } else {
            i64::MAX
        };
        for claim in claims {
            if self.is_active(&claim.key) || claim.claimed_at_ms > stale_before {
                continue;
            }
            tracing::info!(key = %claim.key, state = claim.state.as_str(), "recovering an unfinished claim");
            let bot = self.clone();
            self.inner
                .tasks
                .spawn(async move { bot.resume(claim).await });
        }
    }

    async fn resume(&self, claim: Claim) {
        let msg = match InboundMessage::from_json(claim.event.as_bytes()) {
            Ok(msg) => msg,
            Err(err) => {
                tracing::error!(error = %err, key = %claim.key, "an unfinished claim's event cannot be read; dropped");
                for from in [ClaimState::Accepted, ClaimState::Executing] {
                    let _ = self
                        .inner
                        .store
                        .advance(&claim.key, from, ClaimState::Done)
                        .await;
                }
                return;
            }
        };
        match claim.state {
            ClaimState::Accepted => {
                self.run(Event::Message(msg), claim).await;
            }
            _ => {
                let message = Message::from(msg);
                let _active = self.activate(&claim.key);
                let _turn = self.inner.commands.acquire().await.ok();
                let (command, executed) = self.reconcile(&message, &claim).await;
                self.finish(
                    &message,
                    &claim,
                    command,
                    executed,
                    Some(ClaimState::Executing),
                )
                .await;
            }
        }
    }

    /// What an `executing` claim (always a write) came to, without writing to AWS blind.
    async fn reconcile(&self, message: &Message, claim: &Claim) -> (&'static str, Executed) {
        let (command, plan) = self.plan(message);
        let (actor, request) = match plan {
            Plan::Now(executed) => return (command, executed),
            Plan::Run(actor, request) => (actor, request),
        };
        let lookup = match &request {
            Command::CreateCase(_) => Some((Action::Create, None)),
            Command::Reply { case, .. } => Some((Action::Reply, Some(case.clone()))),
            _ => None,
        };
        let executed = match lookup {
            Some((action, case)) => self
                .look_up(action, &claim.token, case.as_ref())
                .await
                .unwrap_or(Executed::Unconfirmed { action }),
            // A resolve (AWS takes it twice) runs again.
            None => match self.execute(&message.origin, actor, request, claim).await {
                Decided::Now(executed) => executed,
                Decided::Later(action, running) => {
                    running.await.unwrap_or(Executed::Unconfirmed { action })
                }
            },
        };
        (command, executed)
    }

    /// The upkeep loop: while store writes fail, a probe each second (ready again as soon as
    /// one succeeds, and what the failure interrupted is recovered); the retention hourly.
    pub(super) async fn maintain(&self) {
        let mut ticks = 0_u32;
        loop {
            tokio::select! {
                () = self.inner.stop.cancelled() => return,
                () = tokio::time::sleep(TICK) => {}
            }
            if !self.inner.store_ok.load(Ordering::SeqCst) {
                self.probe().await;
            }
            if ticks.is_multiple_of(PRUNE_EVERY) {
                let now = unix_ms();
                let audit_ms = i64::from(self.inner.config.audit_days) * 24 * 3600 * 1000;
                let pruned = self
                    .inner
                    .store
                    .prune(now - SENT_KEPT_MS, now.saturating_sub(audit_ms))
                    .await;
                if let Err(err) = pruned {
                    tracing::warn!(error = %err, "retention: cannot prune the store");
                }
            }
            ticks = ticks.wrapping_add(1);
        }
    }
}
