//! The deliver stage: a reply becomes outbox entries, one per DingTalk message, for the courier
//! to send; with `--reply response` its first message goes back to the transport instead.

use dingtalk_robot::{OutboundMessage, SessionWebhook};

use crate::config::ReplyMode;
use crate::error::Error;
use crate::store::{Claim, Destination, OutboxEntry};

/// Where a reply may go.
#[derive(Debug)]
pub(crate) struct Route<'a> {
    pub(crate) mode: ReplyMode,
    /// The conversation the message came from.
    pub(crate) conversation: &'a str,
    /// The message's session webhook.
    pub(crate) session: Option<&'a SessionWebhook>,
    /// Whether a custom robot (an access token) is configured.
    pub(crate) robot: bool,
    /// The conversation the custom robot posts to, if the operator said so.
    pub(crate) robot_conversation: Option<&'a str>,
}

impl Route<'_> {
    /// The session webhook first (the custom robot first in `webhook` mode). The custom robot
    /// stands in for a missing session webhook only in the conversation it posts to: a reply
    /// never goes to another group.
    pub(crate) fn destination(&self) -> Option<Destination> {
        let session = self.session.map(|hook| Destination::Session {
            url: hook.url().to_owned(),
            expires_at_ms: hook.expires_at_ms(),
        });
        let robot = self.robot.then_some(Destination::Robot);
        match self.mode {
            ReplyMode::Webhook => robot.or(session),
            _ => session
                .or_else(|| robot.filter(|_| self.robot_conversation == Some(self.conversation))),
        }
    }
}

/// The first part of a command's answer; part 0 is for a notice that goes before it.
pub(crate) const ANSWER: usize = 1;

/// A reply, delivered.
#[derive(Debug)]
pub(crate) struct Letters {
    /// For the transport to answer with (`--reply response`).
    pub(crate) inline: Option<OutboundMessage>,
    /// For the outbox, in order.
    pub(crate) entries: Vec<OutboxEntry>,
}

/// The reply to `claim` as outbox entries (and, in `response` mode, its first message for the
/// transport), numbered from `first_part`. Each entry's id is made from the claim and its part,
/// so the same reply enqueued again after a crash is recognised and goes out once. The answer
/// to a command starts at part [`ANSWER`]; a notice before it (AWS is slow) is part 0.
///
/// # Errors
/// [`Error::NoReplyTarget`] when the reply has nowhere to go.
pub(crate) fn letters(
    route: &Route<'_>,
    claim: &Claim,
    reply: OutboundMessage,
    command: &'static str,
    case_id: Option<String>,
    first_part: usize,
) -> Result<Letters, Error> {
    let mut parts = reply.split().into_iter();
    let inline = if route.mode == ReplyMode::Response {
        parts.next()
    } else {
        None
    };
    let parts: Vec<OutboundMessage> = parts.collect();
    if parts.is_empty() {
        return Ok(Letters {
            inline,
            entries: Vec::new(),
        });
    }
    let destination = route.destination().ok_or(Error::NoReplyTarget)?;
    let entries = parts
        .into_iter()
        .enumerate()
        .map(|(part, message)| {
            OutboxEntry::for_claim(
                claim,
                first_part + part,
                route.conversation,
                destination.clone(),
                serde_json::to_string(&message).unwrap_or_default(),
            )
            .answering(command, case_id.clone(), Some(claim.key.clone()))
        })
        .collect();
    Ok(Letters { inline, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route<'a>(
        mode: ReplyMode,
        session: Option<&'a SessionWebhook>,
        robot: bool,
        robot_conversation: Option<&'a str>,
    ) -> Route<'a> {
        Route {
            mode,
            conversation: "cidOps",
            session,
            robot,
            robot_conversation,
        }
    }

    #[test]
    fn the_session_is_preferred_and_the_robot_stands_in_only_for_its_own_conversation() {
        let hook = SessionWebhook::new(
            "https://oapi.dingtalk.com/robot/sendBySession?session=s",
            None,
        );
        let is_session = |d: Option<Destination>| matches!(d, Some(Destination::Session { .. }));
        let is_robot = |d: Option<Destination>| d == Some(Destination::Robot);
        assert!(is_session(
            route(ReplyMode::Session, Some(&hook), true, None).destination()
        ));
        assert!(is_robot(
            route(ReplyMode::Webhook, Some(&hook), true, None).destination()
        ));
        assert!(is_session(
            route(ReplyMode::Webhook, Some(&hook), false, None).destination()
        ));
        assert!(
            route(ReplyMode::Session, None, true, None)
                .destination()
                .is_none(),
            "not to a robot of another group"
        );
        assert!(
            route(ReplyMode::Session, None, true, Some("cidOther"))
                .destination()
                .is_none()
        );
        assert!(is_robot(
            route(ReplyMode::Session, None, true, Some("cidOps")).destination()
        ));
    }

    #[test]
    fn a_long_reply_is_one_entry_per_message_in_order_and_the_same_claim_gives_the_same_ids() {
        let hook = SessionWebhook::new(
            "https://oapi.dingtalk.com/robot/sendBySession?session=s",
            Some(9),
        );
        let claim = Claim::new("msg:m1", "{}", "t", 5, 10);
        let long = OutboundMessage::text("一行\n".repeat(3_000));
        let parts = long.clone().split().len();
        let session = || {
            letters(
                &route(ReplyMode::Session, Some(&hook), false, None),
                &claim,
                long.clone(),
                "view",
                None,
                ANSWER,
            )
            .unwrap()
        };
        let first = session();
        assert!(first.inline.is_none());
        assert_eq!(first.entries.len(), parts);
        assert!(first.entries.windows(2).all(|w| w[0].id < w[1].id));
        // Enqueued again after a crash: the same ids.
        let again = session();
        let ids = |l: &Letters| l.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&first), ids(&again));
        let inline = letters(
            &route(ReplyMode::Response, Some(&hook), false, None),
            &claim,
            long,
            "view",
            None,
            ANSWER,
        )
        .unwrap();
        assert!(inline.inline.is_some());
        assert_eq!(inline.entries.len(), parts - 1);
    }

    #[test]
    fn a_reply_with_nowhere_to_go_is_an_error_unless_it_is_all_inline() {
        let claim = Claim::new("msg:m1", "{}", "t", 5, 10);
        let short = OutboundMessage::text("AWS");
        assert!(matches!(
            letters(
                &route(ReplyMode::Session, None, false, None),
                &claim,
                short.clone(),
                "help",
                None,
                ANSWER
            ),
            Err(Error::NoReplyTarget)
        ));
        let inline = letters(
            &route(ReplyMode::Response, None, false, None),
            &claim,
            short,
            "help",
            None,
            ANSWER,
        )
        .unwrap();
        assert!(inline.inline.is_some() && inline.entries.is_empty());
    }
}
