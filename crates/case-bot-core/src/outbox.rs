//! The courier: the only code that sends to DingTalk. Everything the bot says is an outbox
//! entry first (durable before its first attempt); the courier leases due entries, sends each
//! through the paced [`Sender`], and settles it:
//!
//! - **sent** only on DingTalk's success answer (errcode 0). When the answer is lost (a
//!   timeout after DingTalk took the message), the entry is sent again: delivery is
//!   at-least-once;
//! - **paused**: errcode 130101 pauses the whole robot for the retry wait;
//! - **retried** with exponential backoff after a transport error or an HTTP 5xx, up to a cap;
//! - **undelivered** at once after a permanent refusal (310000 keyword/IP/signature, 300001
//!   token, an expired sessionWebhook with no fallback): an error log line with the case id and
//!   the content, and an `undelivered` audit row.
//!
//! Of each conversation only the oldest pending entry is in flight, so a conversation's
//! messages arrive in order; the [`Sender`] paces each conversation (and each custom robot).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use dingtalk_robot::{
    AppCredentials, CustomRobot, OutboundMessage, RobotGroup, Sender, SessionWebhook, Target,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::Error;
use crate::notify::{NotifyConfig, PushVia};
use crate::secrets::{CachedSecrets, Keys};
use crate::store::{
    AuditRecord, Destination, OutboxEntry, Settlement, Store, UNDELIVERED, unix_ms,
};

/// How the courier retries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retries {
    /// How long errcode 130101 pauses the robot.
    pub(crate) throttled_wait: Duration,
    /// The first backoff after a transport error or a 5xx; doubled per attempt.
    pub(crate) backoff: Duration,
    /// The longest backoff.
    pub(crate) max_backoff: Duration,
    /// Attempts after which a transient failure is given up.
    pub(crate) max_attempts: u32,
    /// How long a leased entry is the courier's before another may take it.
    pub(crate) lease: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            throttled_wait: Duration::from_secs(60),
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            // About an hour of retries at the default backoff.
            max_attempts: 16,
            lease: Duration::from_secs(120),
        }
    }
}

/// What came of one attempt.
enum Failure {
    /// 130101: the robot is throttled.
    Throttled(Error),
    /// Worth another attempt later.
    Transient(Error),
    /// Never deliverable.
    Permanent(Error),
}

/// Entries leased in one round.
const ROUND: usize = 16;
/// How often the courier looks for due entries when nothing wakes it.
const POLL: Duration = Duration::from_millis(500);

/// The courier. Cheap to share.
pub(crate) struct Courier {
    store: Arc<dyn Store>,
    sender: Sender,
    secrets: Arc<CachedSecrets>,
    robot_conversation: Option<String>,
    /// How pushed messages reach their group.
    push: NotifyConfig,
    retries: Retries,
    /// The lease owner: this process.
    owner: String,
    /// Entries being sent by this process (a lease of our own is not a lock against us). A
    /// round holds it from its lease to its check, and a send holds it to settle and remove
    /// its entry, so a round neither sends an entry settled under it nor leaves a lease of its
    /// own on one.
    in_flight: tokio::sync::Mutex<HashSet<String>>,
    sends: TaskTracker,
    wake: Notify,
    /// Until when 130101 paused the robot, Unix ms.
    paused_until_ms: AtomicI64,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("owner", &self.owner)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl Courier {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        sender: Sender,
        secrets: Arc<CachedSecrets>,
        robot_conversation: Option<String>,
        push: NotifyConfig,
        retries: Retries,
    ) -> Self {
        use std::hash::{BuildHasher as _, RandomState};
        let nonce = RandomState::new().hash_one(unix_ms());
        Self {
            store,
            sender,
            secrets,
            robot_conversation,
            push,
            retries,
            owner: format!("{}-{:08x}", std::process::id(), nonce & 0xffff_ffff),
            in_flight: tokio::sync::Mutex::default(),
            sends: TaskTracker::new(),
            wake: Notify::new(),
            paused_until_ms: AtomicI64::new(0),
        }
    }

    /// Something was enqueued: look now rather than at the next poll.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends due entries until `stop` is cancelled. Sends in flight are dropped at a stop:
    /// their entries stay pending and are resumed by the next process (or, on a shared
    /// store, by another once the lease runs out).
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            if let Err(err) = Arc::clone(&self).round().await {
                tracing::error!(error = %err, "outbox: cannot read due entries");
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Sends what is due now and waits for those sends, again until nothing is due or
    /// `deadline` passes (Lambda, before the invocation returns). Returns whether the outbox
    /// has nothing due.
    pub(crate) async fn deliver_due(self: &Arc<Self>, deadline: tokio::time::Instant) -> bool {
        loop {
            let started = match Arc::clone(self).round().await {
                Ok(started) => started,
                Err(err) => {
                    tracing::error!(error = %err, "outbox: cannot read due entries");
                    return false;
                }
            };
            self.sends.close();
            let finished = tokio::time::timeout_at(deadline, self.sends.wait())
                .await
                .is_ok();
            self.sends.reopen();
            if !finished {
                return false;
            }
            if started == 0 {
                return true;
            }
        }
    }

    /// Leases due entries and starts a send for each; how many were started.
    async fn round(self: Arc<Self>) -> Result<usize, Error> {
        let now = unix_ms();
        if self.paused_until_ms.load(Ordering::Relaxed) > now {
            return Ok(0);
        }
        let lease_until = now.saturating_add(millis(self.retries.lease));
        let mut in_flight = self.in_flight.lock().await;
        let due = self
            .store
            .lease_due(now, &self.owner, lease_until, ROUND)
            .await?;
        let mut started = 0;
        for entry in due {
            if in_flight.insert(entry.id.clone()) {
                started += 1;
                let courier = Arc::clone(&self);
                self.sends.spawn(async move { courier.send(entry).await });
            }
        }
        Ok(started)
    }

    /// One attempt at `entry`, settled.
    async fn send(&self, entry: OutboxEntry) {
        let now = unix_ms();
        let settlement = match self.attempt(&entry, now).await {
            Ok(()) => Settlement::Sent,
            Err(Failure::Throttled(err)) => {
                let until = now.saturating_add(millis(self.retries.throttled_wait));
                self.paused_until_ms.fetch_max(until, Ordering::Relaxed);
                tracing::warn!(error = %err, resume_in_ms = millis(self.retries.throttled_wait),
                    "DingTalk throttled the robot (130101): pausing all sends");
                Settlement::Retry {
                    next_attempt_ms: until,
                }
            }
            Err(Failure::Transient(err)) if entry.attempts + 1 < self.retries.max_attempts => {
                let backoff = self.backoff(entry.attempts);
                tracing::info!(error = %err, attempts = entry.attempts + 1, retry_in_ms = backoff,
                    conversation = %entry.conversation, "message not delivered yet");
                Settlement::Retry {
                    next_attempt_ms: now.saturating_add(backoff),
                }
            }
            Err(Failure::Transient(err) | Failure::Permanent(err)) => {
                self.give_up(&entry, &err).await;
                Settlement::Undelivered
            }
        };
        // Settled under the in-flight lock: a round (which holds it from its lease to its
        // check) cannot lease the entry again between this settlement and the removal.
        let mut in_flight = self.in_flight.lock().await;
        if let Err(err) = self.store.settle(&entry.id, settlement).await {
            // The lease runs out and the entry is sent again: at-least-once.
            tracing::error!(error = %err, id = %entry.id, "outbox: cannot settle an entry");
        }
        in_flight.remove(&entry.id);
        drop(in_flight);
        self.wake.notify_one();
    }

    /// The backoff before attempt `attempts + 2`, in ms.
    fn backoff(&self, attempts: u32) -> i64 {
        let doubled = self
            .retries
            .backoff
            .saturating_mul(2_u32.saturating_pow(attempts.min(20)));
        millis(doubled.min(self.retries.max_backoff))
    }

    async fn attempt(&self, entry: &OutboxEntry, now: i64) -> Result<(), Failure> {
        let message: OutboundMessage = serde_json::from_str(&entry.message)
            .map_err(|err| Failure::Permanent(Error::store("outbox message", err)))?;
        let keys = self.secrets.get().await.map_err(Failure::Transient)?;
        let robot = keys.secrets.access_token.clone().map(|token| {
            let robot = CustomRobot::new(token);
            match keys.secrets.webhook_secret.clone() {
                Some(secret) => robot.with_secret(secret),
                None => robot,
            }
        });
        // The custom robot stands in for an expired session only in its own conversation.
        let fallback = robot
            .clone()
            .filter(|_| self.robot_conversation.as_deref() == Some(entry.conversation.as_str()));
        let target: Target = match &entry.destination {
            Destination::Session { url, expires_at_ms } => {
                let expired = expires_at_ms.is_some_and(|at| at <= now);
                match (expired, &fallback) {
                    (false, _) => SessionWebhook::new(url.clone(), *expires_at_ms)
                        .in_conversation(entry.conversation.clone())
                        .into(),
                    (true, Some(robot)) => robot.clone().into(),
                    (true, None) => {
                        return Err(Failure::Permanent(Error::DingTalk(
                            dingtalk_robot::Error::SessionExpired {
                                expired_at_ms: expires_at_ms.unwrap_or_default(),
                                now_ms: now,
                            },
                        )));
                    }
                }
            }
            Destination::Robot => match robot {
                Some(robot) => robot.into(),
                None => return Err(Failure::Permanent(Error::NoReplyTarget)),
            },
            Destination::Group => self.group(&keys, robot, &entry.conversation)?,
        };
        match self.sender.send(&target, message.clone()).await {
            Ok(_) => Ok(()),
            // Expired while waiting for a slot: the fallback, if there is one.
            Err(dingtalk_robot::Error::SessionExpired { .. }) if fallback.is_some() => {
                let robot: Target = fallback
                    .map(Into::into)
                    .ok_or(Failure::Permanent(Error::NoReplyTarget))?;
                self.sender
                    .send(&robot, message)
                    .await
                    .map(drop)
                    .map_err(classify)
            }
            Err(err) => Err(classify(err)),
        }
    }

    /// How a pushed message reaches `conversation`: the robot OpenAPI (with the app key), or
    /// the custom robot of that group.
    fn group(
        &self,
        keys: &Keys,
        robot: Option<CustomRobot>,
        conversation: &str,
    ) -> Result<Target, Failure> {
        let app_key = keys
            .secrets
            .app_key
            .clone()
            .or_else(|| self.push.app_key.clone());
        let via = match self.push.push_via {
            PushVia::Auto if app_key.is_some() => PushVia::OpenApi,
            PushVia::Auto => PushVia::Webhook,
            other => other,
        };
        match (via, app_key, robot) {
            (PushVia::OpenApi, Some(app_key), _) => {
                let code = (keys.secrets.robot_code.clone())
                    .or_else(|| self.push.robot_code.clone())
                    .unwrap_or_else(|| app_key.clone());
                let app = AppCredentials::new(app_key, keys.secrets.app_secret.clone());
                Ok(RobotGroup::new(app, code, conversation).into())
            }
            (PushVia::OpenApi, None, _) => Err(Failure::Permanent(Error::Config {
                setting: "CASE_BOT_PUSH_VIA=openapi",
                value: conversation.to_owned(),
                expected: "an app key (the secret's app_key or DINGTALK_APP_KEY)",
            })),
            // The custom robot posts to its one group: only pushes for that group go there.
            (_, _, Some(robot)) if self.robot_conversation.as_deref() == Some(conversation) => {
                Ok(robot.into())
            }
            _ => Err(Failure::Permanent(Error::Config {
                setting: "CASE_BOT_PUSH_VIA=webhook",
                value: conversation.to_owned(),
                expected: "the custom robot of this group (DINGTALK_ACCESS_TOKEN and CASE_BOT_ROBOT_CONVERSATION), or an app key for the OpenAPI",
            })),
        }
    }

    /// Gives `entry` up where an operator sees it: the error log (with the content) and an
    /// `undelivered` audit row.
    async fn give_up(&self, entry: &OutboxEntry, err: &Error) {
        tracing::error!(
            error = %err,
            case_id = entry.case_id.as_deref().unwrap_or("-"),
            conversation = %entry.conversation,
            command = %entry.command,
            attempts = entry.attempts + 1,
            content = %entry.message,
            "message undelivered"
        );
        // At the entry's time (its claim's, for a reply): given up again after a crash, or
        // another part of the same reply given up, it is the same record.
        let record = AuditRecord {
            at_ms: entry.created_at_ms,
            sender: "casebot".to_owned(),
            sender_staff_id: None,
            conversation_id: entry.conversation.clone(),
            command: Cow::Owned(entry.command.clone()),
            case_id: entry.case_id.clone(),
            outcome: Cow::Borrowed(UNDELIVERED),
            claim_key: entry.claim_key.clone(),
        };
        if let Err(err) = self.store.audit(record).await {
            tracing::error!(error = %err, "cannot audit an undelivered message");
        }
    }
}

/// Which failures are worth another attempt.
fn classify(err: dingtalk_robot::Error) -> Failure {
    use dingtalk_robot::Error as D;
    match err {
        D::RateLimited { .. } => Failure::Throttled(err.into()),
        D::Transport(_) | D::Http { status: 500.. } | D::InvalidResponse { .. } => {
            Failure::Transient(err.into())
        }
        // -1: "系统繁忙" (system busy).
        D::Api { code: -1, .. } => Failure::Transient(err.into()),
        other => Failure::Permanent(other.into()),
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
