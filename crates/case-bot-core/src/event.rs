//! What reaches the bot ([`Event`]) and what comes of it ([`Outcome`]).

use std::borrow::Cow;

use dingtalk_robot::{InboundMessage, MessageContent, OutboundMessage, SessionWebhook};

use crate::error::Error;
use crate::store::Claim;

/// Something that reaches the bot. Transports only translate their input into one of these:
/// the HTTP callback and (next) DingTalk Stream mode bring messages; card button clicks and
/// case updates from AWS (the notification watcher, EventBridge) will be variants of their own.
///
/// ```
/// let msg = dingtalk_robot::InboundMessage::from_json(r#"{"msgtype":"text","text":{"content":"帮助"}}"#.as_bytes()).unwrap();
/// let event = case_bot_core::Event::Message(msg);
/// # let _ = event;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A chat message to the robot.
    Message(InboundMessage),
}

impl Event {
    /// The idempotency key of the event: `msg:<msgId>` for a message, whatever transport it
    /// came by, so a redelivery (or a move from HTTP to Stream) is recognised.
    ///
    /// ```
    /// let msg = dingtalk_robot::InboundMessage::from_json(br#"{"msgId":"m1"}"#).unwrap();
    /// assert_eq!(case_bot_core::Event::Message(msg).claim_key().as_deref(), Some("msg:m1"));
    /// ```
    #[must_use]
    pub fn claim_key(&self) -> Option<String> {
        match self {
            Self::Message(msg) => msg.msg_id.as_deref().map(|id| format!("msg:{id}")),
        }
    }
}

/// Whether an event is new (see [`CaseBot::admit`](crate::CaseBot::admit)).
#[derive(Debug)]
#[non_exhaustive]
pub enum Admission {
    /// New: [`CaseBot::process`](crate::CaseBot::process) it, now or in the background ([`CaseBot::spawn`](crate::CaseBot::spawn)).
    Fresh(Admitted),
    /// A redelivery of an event already admitted: nothing to do.
    Duplicate,
}

/// An event that passed the claim stage, waiting for the rest of the pipeline.
#[derive(Debug)]
pub struct Admitted {
    pub(crate) event: Box<Event>,
    pub(crate) claim: Claim,
}

/// Who sent a message, from where, and where a reply may go.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) nick: String,
    pub(crate) staff_id: Option<String>,
    pub(crate) conversation_id: String,
    pub(crate) conversation_title: Option<String>,
    pub(crate) session: Option<SessionWebhook>,
}

/// A message as the pipeline reads it: its origin and what it says.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) origin: Origin,
    /// The command text, if the message has any.
    pub(crate) text: Option<String>,
    /// A message type without text (picture, file, …).
    pub(crate) non_text: bool,
}

impl From<InboundMessage> for Message {
    fn from(msg: InboundMessage) -> Self {
        let text = msg.command_string();
        let non_text = !matches!(
            msg.content(),
            MessageContent::Text { .. }
                | MessageContent::RichText { .. }
                | MessageContent::Audio { .. }
        );
        let session = SessionWebhook::from_message(&msg);
        Self {
            origin: Origin {
                nick: msg.sender_nick.unwrap_or_else(|| "unknown".to_owned()),
                staff_id: msg.sender_staff_id,
                conversation_id: msg.conversation_id.unwrap_or_default(),
                conversation_title: msg.conversation_title,
                session,
            },
            text,
            non_text,
        }
    }
}

/// What happened to the reply.
#[derive(Debug)]
#[non_exhaustive]
pub enum Delivery {
    /// In the outbox, durable: the courier posts it to the group (how many DingTalk messages
    /// it takes; a long reply is split).
    Queued {
        /// Messages queued.
        parts: usize,
    },
    /// For the transport to answer with (`--reply response`): the first DingTalk message of
    /// the reply, and what came of queueing the rest (how many messages).
    Inline {
        /// The first DingTalk message of the reply.
        first: OutboundMessage,
        /// The rest, queued: how many messages, or why not.
        rest: Result<usize, Error>,
    },
    /// Not queued: the reply had nowhere to go (it is in the error log), or the store failed
    /// (the claim is finished when it works again).
    Failed(Error),
    /// A redelivered event: nothing was done.
    Duplicate,
}

impl Delivery {
    /// Whether some of the reply did not reach the group.
    ///
    /// ```
    /// assert!(!case_bot_core::Delivery::Queued { parts: 1 }.is_failure());
    /// ```
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed(_) | Self::Inline { rest: Err(_), .. })
    }
}

/// What came of an event.
///
/// ```
/// use case_bot_core::{Delivery, Outcome};
/// # fn show(outcome: Outcome) {
/// println!("{} → {}", outcome.command, outcome.result);
/// if let Delivery::Failed(err) = &outcome.delivery { eprintln!("{err}"); }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// What was asked, as the audit trail names it: a command (`create`, `lookup`, …),
    /// `help`, `invalid` (not understood), `message` (not text), `any` (refused before
    /// reading), or `duplicate`.
    pub command: &'static str,
    /// What came of it: `ok`, `no-match`, `parse-error`, `refused-conversation`, an AWS error
    /// code (`case-not-found`, `throttled`, …), `timeout`, …
    pub result: Cow<'static, str>,
    /// The case concerned, if any.
    pub case_id: Option<String>,
    /// What happened to the reply.
    pub delivery: Delivery,
}

impl Outcome {
    /// The outcome of an event the bot could not work on (its store failed).
    pub(crate) fn unavailable(command: &'static str, err: Error) -> Self {
        Self {
            command,
            result: Cow::Borrowed("unavailable"),
            case_id: None,
            delivery: Delivery::Failed(err),
        }
    }

    /// The outcome of a redelivered event.
    pub(crate) fn duplicate() -> Self {
        Self {
            command: "duplicate",
            result: Cow::Borrowed("duplicate"),
            case_id: None,
            delivery: Delivery::Duplicate,
        }
    }
}
