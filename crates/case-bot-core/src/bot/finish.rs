//! Finishing a command: render its reply, and in one [`Finish`] its audit row, its case link,
//! the reply's outbox entries and its claim done. Each part is idempotent, so finishing again
//! after a crash adds nothing. Notices sent before the answer ("AWS is slow") go into the
//! outbox on their own.

use super::CaseBot;
use crate::config::CrashPoint;
use crate::error::Error;
use crate::event::{Delivery, Message, Origin, Outcome};
use crate::pipeline::deliver::{ANSWER, Route, letters};
use crate::pipeline::execute::Executed;
use crate::pipeline::record::record;
use crate::pipeline::render;
use crate::store::{Claim, ClaimState, Finish, OutboxEntry};

impl CaseBot {
    /// Render, then in one [`Finish`] the record, the reply into the outbox and the claim
    /// (in state `from`) done; with `from` `None`, the claim is taken now, and if another
    /// delivery holds it nothing is written and the outcome is a duplicate. When the store
    /// fails, the claim stays unfinished and is finished by the recovery.
    pub(super) async fn finish(
        &self,
        message: &Message,
        claim: &Claim,
        command: &'static str,
        executed: Executed,
        from: Option<ClaimState>,
    ) -> Outcome {
        let result = executed.result();
        let case_id = executed.case_id();
        self.try_finish(message, claim, command, executed, from)
            .await
            .unwrap_or_else(|err| Outcome {
                command,
                result,
                case_id,
                delivery: Delivery::Failed(err),
            })
    }

    /// [`finish`](Self::finish), with the store's error when it could not write.
    pub(super) async fn try_finish(
        &self,
        message: &Message,
        claim: &Claim,
        command: &'static str,
        executed: Executed,
        from: Option<ClaimState>,
    ) -> Result<Outcome, Error> {
        self.crash_point(CrashPoint::AfterAws);
        let origin = &message.origin;
        let case_id = executed.case_id();
        let outcome = |delivery| Outcome {
            command,
            result: executed.result(),
            case_id: case_id.clone(),
            delivery,
        };
        let (audit, case) = record(origin, claim, command, &executed);
        let mut finish = Finish::new(
            claim.key.clone(),
            from.unwrap_or(ClaimState::Accepted),
            audit,
        );
        finish.records = crate::notify::follows::opened_here(origin, claim, &executed)?;
        finish.case = case;
        finish.claim = from.is_none().then(|| claim.clone());
        // Over the backlog limit only the first refusal is answered: answering every one
        // would grow the queue the answer is about.
        let limit = usize::try_from(self.inner.config.backlog_limit).unwrap_or(usize::MAX);
        let delivery = match &executed {
            Executed::Behind { pending } if *pending > limit => {
                tracing::warn!(
                    pending,
                    "the conversation is behind: command not run, not answered"
                );
                Delivery::Queued { parts: 0 }
            }
            _ => {
                let reply = render::reply(self.inner.config.lang, &executed);
                match self
                    .letters(origin, claim, reply, command, case_id.clone(), ANSWER)
                    .await
                {
                    Ok((entries, delivery)) => {
                        finish.entries = entries;
                        delivery
                    }
                    Err(err) => Delivery::Failed(err),
                }
            }
        };
        let queued = !finish.entries.is_empty();
        match self.inner.store.finish(finish).await {
            Ok(true) => {}
            Ok(false) => return Ok(Outcome::duplicate()),
            Err(err) => {
                self.store_failed(&err);
                return Err(err);
            }
        }
        if queued {
            self.inner.courier.wake();
        }
        self.crash_point(CrashPoint::AfterOutbox);
        Ok(outcome(delivery))
    }

    /// `reply` into the outbox now (a notice before the answer), from part `first_part`.
    pub(super) async fn enqueue(
        &self,
        origin: &Origin,
        claim: &Claim,
        reply: dingtalk_robot::OutboundMessage,
        command: &'static str,
        first_part: usize,
    ) -> Delivery {
        let (entries, delivery) = match self
            .letters(origin, claim, reply, command, None, first_part)
            .await
        {
            Ok(letters) => letters,
            Err(err) => return Delivery::Failed(err),
        };
        if let Err(err) = self.inner.store.enqueue(&entries).await {
            self.store_failed(&err);
            return Delivery::Failed(err);
        }
        self.inner.courier.wake();
        delivery
    }

    /// `reply` as outbox entries from part `first_part`, and what the delivery will be; a reply
    /// with nowhere to go is logged with its content.
    async fn letters(
        &self,
        origin: &Origin,
        claim: &Claim,
        reply: dingtalk_robot::OutboundMessage,
        command: &'static str,
        case_id: Option<String>,
        first_part: usize,
    ) -> Result<(Vec<OutboxEntry>, Delivery), Error> {
        let robot = self
            .keys()
            .await
            .is_ok_and(|keys| keys.secrets.access_token.is_some());
        let route = Route {
            mode: self.inner.config.reply,
            conversation: &origin.conversation_id,
            session: origin.session.as_ref(),
            robot,
            robot_conversation: self.inner.config.robot_conversation.as_deref(),
        };
        // The content is only for the log line of a reply with nowhere to go.
        let content = route
            .destination()
            .is_none()
            .then(|| serde_json::to_string(&reply).unwrap_or_default());
        let letters = letters(&route, claim, reply, command, case_id.clone(), first_part)
            .inspect_err(|err| {
                tracing::error!(error = %err, case_id = case_id.as_deref().unwrap_or("-"),
                    content = content.as_deref().unwrap_or_default(),
                    "reply undelivered: it has nowhere to go");
            })?;
        let parts = letters.entries.len();
        let delivery = match letters.inline {
            Some(first) => Delivery::Inline {
                first,
                rest: Ok(parts),
            },
            None => Delivery::Queued { parts },
        };
        Ok((letters.entries, delivery))
    }
}
