//! What the store keeps: claims, case links, audit records and outbox entries.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::unix_ms as unix_now;

/// Where a claimed event stands.
///
/// ```
/// use case_bot_core::ClaimState;
/// assert_eq!(ClaimState::from_name("executing"), Some(ClaimState::Executing));
/// assert_eq!(ClaimState::Done.as_str(), "done");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ClaimState {
    /// Taken and answered; its command has not started.
    Accepted,
    /// Its command is running (or was, when the process died).
    Executing,
    /// Finished: its reply is in the outbox.
    Done,
}

impl ClaimState {
    /// The name stored for it.
    ///
    /// ```
    /// assert_eq!(case_bot_core::ClaimState::Accepted.as_str(), "accepted");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Executing => "executing",
            Self::Done => "done",
        }
    }

    /// The state of a stored name.
    ///
    /// ```
    /// assert_eq!(case_bot_core::ClaimState::from_name("nope"), None);
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "accepted" => Some(Self::Accepted),
            "executing" => Some(Self::Executing),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

/// An event the bot has taken on: durable before the bot answers it, so a redelivery is
/// recognised and a crash can be finished rather than run blind again.
///
/// ```
/// let claim = case_bot_core::Claim::new("msg:m1", r#"{"msgId":"m1"}"#, "cb7f3a9c", 0, 3_600_000);
/// assert_eq!(claim.state, case_bot_core::ClaimState::Accepted);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// The idempotency key: `msg:<msgId>` for a message.
    pub key: String,
    /// Where it stands.
    pub state: ClaimState,
    /// The event as it arrived (a message's JSON), to finish it after a crash.
    pub event: String,
    /// A token of this event's own, written where AWS keeps it (the attribution line of a case
    /// or reply), so a crash's unknown outcome can be looked up.
    pub token: String,
    /// When it was taken, Unix ms.
    pub claimed_at_ms: i64,
    /// Until when the key is held, Unix ms: a redelivery before then is a duplicate.
    pub expires_at_ms: i64,
}

impl Claim {
    /// A new claim, `Accepted`, taken at `now_ms` and held for `ttl_ms`.
    ///
    /// ```
    /// let claim = case_bot_core::Claim::new("msg:m1", "{}", "t", 10, 5);
    /// assert_eq!(claim.expires_at_ms, 15);
    /// ```
    #[must_use]
    pub fn new(
        key: impl Into<String>,
        event: impl Into<String>,
        token: impl Into<String>,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Self {
        Self {
            key: key.into(),
            state: ClaimState::Accepted,
            event: event.into(),
            token: token.into(),
            claimed_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        }
    }
}

/// Where a case was opened from, for follow-ups, permissions and notifications.
///
/// ```
/// let link = case_bot_core::CaseLink { conversation_id: "cid".into(), conversation_title: None,
///     opener_staff_id: Some("staff-1".into()), opener_nick: "张三".into(), created_at_ms: 0 };
/// # let _ = link;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)]
pub struct CaseLink {
    /// The DingTalk conversation.
    pub conversation_id: String,
    /// The group's title, if a group.
    pub conversation_title: Option<String>,
    /// Who opened it (staff id).
    pub opener_staff_id: Option<String>,
    /// Who opened it (nickname).
    pub opener_nick: String,
    /// When, Unix ms.
    pub created_at_ms: i64,
}

/// One command, for the audit trail.
///
/// ```
/// let record = case_bot_core::AuditRecord { at_ms: 0, sender: "张三".into(), sender_staff_id: None,
///     conversation_id: "cid".into(), command: "create".into(), case_id: None, outcome: "ok".into(),
///     claim_key: Some("msg:msgkdBmqTiyz5fVrmCjRfWDGw==".into()) };
/// # let _ = record;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)]
pub struct AuditRecord {
    /// When, Unix ms.
    pub at_ms: i64,
    /// Sender's nickname.
    pub sender: String,
    /// Sender's staff id.
    pub sender_staff_id: Option<String>,
    /// The conversation.
    pub conversation_id: String,
    /// The command (`create`, `resolve`, …).
    pub command: Cow<'static, str>,
    /// The case concerned.
    pub case_id: Option<String>,
    /// What happened (`ok`, `refused-resolve`, an error code, `undelivered`, …).
    pub outcome: Cow<'static, str>,
    /// The idempotency key the message was admitted under (the bot's is `msg:<DingTalk
    /// msgId>`): it ties the record to one delivery.
    #[serde(default)]
    pub claim_key: Option<String>,
}

impl AuditRecord {
    /// What makes a record unique, when it has a claim key: the claim, whether it records a
    /// reply given up (`undelivered`) or the command, and its time. A command's record carries
    /// its claim's time, so writing it again (a claim finished again after a crash) adds
    /// nothing.
    ///
    /// ```
    /// let record = case_bot_core::AuditRecord { at_ms: 7, sender: "张三".into(), sender_staff_id: None,
    ///     conversation_id: "cid".into(), command: "help".into(), case_id: None, outcome: "help".into(),
    ///     claim_key: Some("msg:m1".into()) };
    /// assert_eq!(record.identity(), Some(("msg:m1", false, 7)));
    /// ```
    #[must_use]
    pub fn identity(&self) -> Option<(&str, bool, i64)> {
        self.claim_key
            .as_deref()
            .map(|key| (key, self.outcome == UNDELIVERED, self.at_ms))
    }
}

/// The outcome of an audit record of a reply given up.
pub(crate) const UNDELIVERED: &str = "undelivered";

/// Where an outbox entry goes. The custom robot's token is not stored: it is read from the
/// secrets when the entry is sent.
///
/// ```
/// let to = case_bot_core::Destination::Session { url: "https://oapi.dingtalk.com/robot/sendBySession?session=x".into(), expires_at_ms: Some(1) };
/// # let _ = to;
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Destination {
    /// A callback's sessionWebhook, until it expires.
    Session {
        /// The webhook URL (it lets anyone post to the group: never logged).
        url: String,
        /// When it expires, Unix ms.
        expires_at_ms: Option<i64>,
    },
    /// The custom group robot of the bot's secrets (`access_token`, 加签 `webhook_secret`).
    Robot,
    /// The entry's group itself, for messages nobody is waiting on (pushed updates): through
    /// the robot OpenAPI (`groupMessages/send`) or the custom group robot, as configured
    /// (`--push-via`).
    Group,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Session { expires_at_ms, .. } => f
                .debug_struct("Session")
                .field("expires_at_ms", expires_at_ms)
                .finish_non_exhaustive(),
            Self::Robot => f.write_str("Robot"),
            Self::Group => f.write_str("Group"),
        }
    }
}

/// Where an outbox entry stands.
///
/// ```
/// assert_eq!(case_bot_core::DeliveryState::Pending.as_str(), "pending");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_attempt_ms`.
    Pending,
    /// DingTalk answered errcode 0.
    Sent,
    /// Given up (a permanent refusal, or retries exhausted).
    Undelivered,
}

impl DeliveryState {
    /// The name stored for it.
    ///
    /// ```
    /// assert_eq!(case_bot_core::DeliveryState::Undelivered.as_str(), "undelivered");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Undelivered => "undelivered",
        }
    }

    /// The state of a stored name.
    ///
    /// ```
    /// assert_eq!(case_bot_core::DeliveryState::from_name("sent"), Some(case_bot_core::DeliveryState::Sent));
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "undelivered" => Some(Self::Undelivered),
            _ => None,
        }
    }
}

/// One message for DingTalk, in the outbox until it is sent or given up.
///
/// ```
/// use case_bot_core::{Destination, OutboxEntry};
/// let entry = OutboxEntry::new("cidOps", Destination::Robot, r#"{"msgtype":"text","text":{"content":"AWS"}}"#, 0);
/// assert_eq!(entry.attempts, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxEntry {
    /// Unique, and ordered by when it was made: a conversation's entries go out in `id` order.
    pub id: String,
    /// The conversation it goes to (ordering and pacing are per conversation).
    pub conversation: String,
    /// Where it goes.
    pub destination: Destination,
    /// The DingTalk message, as the JSON that is posted.
    pub message: String,
    /// The command it answers (`create`, …; `notice` for the bot's own), for the audit trail.
    pub command: String,
    /// The case concerned.
    pub case_id: Option<String>,
    /// The claim of the message it answers.
    pub claim_key: Option<String>,
    /// When it was made, Unix ms.
    pub created_at_ms: i64,
    /// Attempts so far.
    pub attempts: u32,
    /// When it may be tried next, Unix ms.
    pub next_attempt_ms: i64,
    /// Where it stands.
    pub state: DeliveryState,
}

impl OutboxEntry {
    /// A pending entry made at `now_ms`, due at once. Its id orders it after every entry made
    /// before it in this process (and, by time, in others).
    ///
    /// ```
    /// use case_bot_core::{Destination, OutboxEntry};
    /// let a = OutboxEntry::new("c", Destination::Robot, "{}", 5);
    /// let b = OutboxEntry::new("c", Destination::Robot, "{}", 5);
    /// assert!(a.id < b.id);
    /// ```
    #[must_use]
    pub fn new(
        conversation: impl Into<String>,
        destination: Destination,
        message: impl Into<String>,
        now_ms: i64,
    ) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        Self {
            // Milliseconds, a per-process sequence and the process id: sortable and unique.
            id: format!("{:013}-{seq:010}-{:08x}", now_ms.max(0), std::process::id()),
            conversation: conversation.into(),
            destination,
            message: message.into(),
            command: String::new(),
            case_id: None,
            claim_key: None,
            created_at_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
            state: DeliveryState::Pending,
        }
    }

    /// Part `part` of the reply to `claim`. The id is made from the claim (when it was taken,
    /// and a digest of its key) and the part, so the same reply enqueued again after a crash
    /// has the same ids and goes out once; a conversation's replies go out in the order the
    /// messages were claimed. It is made at the claim's time too (and due at once), so the
    /// record of a reply given up is one per claim, however many parts and notices it had.
    ///
    /// ```
    /// use case_bot_core::{Claim, Destination, OutboxEntry};
    /// let claim = Claim::new("msg:m1", "{}", "t", 7, 10);
    /// let a = OutboxEntry::for_claim(&claim, 0, "cid", Destination::Robot, "{}");
    /// let b = OutboxEntry::for_claim(&claim, 0, "cid", Destination::Robot, "{}");
    /// assert_eq!(a.id, b.id);
    /// assert_eq!(a.created_at_ms, 7);
    /// ```
    #[must_use]
    pub fn for_claim(
        claim: &Claim,
        part: usize,
        conversation: impl Into<String>,
        destination: Destination,
        message: impl Into<String>,
    ) -> Self {
        use std::hash::{DefaultHasher, Hash as _, Hasher as _};
        let mut digest = DefaultHasher::new();
        claim.key.hash(&mut digest);
        let mut entry = Self::new(conversation, destination, message, unix_now());
        entry.created_at_ms = claim.claimed_at_ms;
        entry.id = format!(
            "{:013}-{:016x}-{part:04}",
            claim.claimed_at_ms.max(0),
            digest.finish()
        );
        entry
    }

    /// Names what the entry answers.
    ///
    /// ```
    /// use case_bot_core::{Destination, OutboxEntry};
    /// let entry = OutboxEntry::new("c", Destination::Robot, "{}", 0).answering("create", Some("case-1".into()), Some("msg:m1".into()));
    /// assert_eq!(entry.case_id.as_deref(), Some("case-1"));
    /// ```
    #[must_use]
    pub fn answering(
        mut self,
        command: impl Into<String>,
        case_id: Option<String>,
        claim_key: Option<String>,
    ) -> Self {
        self.command = command.into();
        self.case_id = case_id;
        self.claim_key = claim_key;
        self
    }
}

/// What came of an attempt to send an outbox entry.
///
/// ```
/// let settled = case_bot_core::Settlement::Retry { next_attempt_ms: 60_000 };
/// # let _ = settled;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settlement {
    /// DingTalk took it.
    Sent,
    /// Given up.
    Undelivered,
    /// Try again then.
    Retry {
        /// When, Unix ms.
        next_attempt_ms: i64,
    },
}

/// Everything finishing a claim writes ([`Store::finish`](super::Store::finish)).
///
/// ```
/// use case_bot_core::{AuditRecord, ClaimState, Finish};
/// let audit = AuditRecord { at_ms: 0, sender: "张三".into(), sender_staff_id: None,
///     conversation_id: "cid".into(), command: "help".into(), case_id: None, outcome: "help".into(),
///     claim_key: Some("msg:m1".into()) };
/// let finish = Finish::new("msg:m1", ClaimState::Accepted, audit);
/// assert!(finish.entries.is_empty());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Finish {
    /// The claim's key.
    pub key: String,
    /// The state it is in (accepted for a read, executing for a write).
    pub from: ClaimState,
    /// Its audit row.
    pub audit: AuditRecord,
    /// The case it opened, and the link to its conversation.
    pub case: Option<(String, CaseLink)>,
    /// Its reply, for the courier.
    pub entries: Vec<OutboxEntry>,
    /// The claim itself, when it is taken only now (a read whose transport answers after it):
    /// if its key is held, nothing is written.
    pub claim: Option<Claim>,
    /// Records written with it (a case opened from a group is followed by it); one that loses
    /// its compare-and-set is left as it is.
    pub records: Vec<super::RecordSwap>,
}

impl Finish {
    /// The end of claim `key` (in state `from`) with its audit row; no case link, no reply.
    ///
    /// ```
    /// # use case_bot_core::{AuditRecord, ClaimState, Finish};
    /// # let audit = AuditRecord { at_ms: 0, sender: "a".into(), sender_staff_id: None, conversation_id: "c".into(), command: "help".into(), case_id: None, outcome: "help".into(), claim_key: None };
    /// let finish = Finish::new("msg:m1", ClaimState::Executing, audit);
    /// assert_eq!(finish.from, ClaimState::Executing);
    /// ```
    #[must_use]
    pub fn new(key: impl Into<String>, from: ClaimState, audit: AuditRecord) -> Self {
        Self {
            key: key.into(),
            from,
            audit,
            case: None,
            entries: Vec::new(),
            claim: None,
            records: Vec::new(),
        }
    }
}
