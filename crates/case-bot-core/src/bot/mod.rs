//! [`CaseBot`]: events in, the pipeline, outcomes out; the courier sends what it says.

mod builder;
mod doctor;
mod finish;
mod flow;
mod health;
mod recover;
mod watching;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dingtalk_robot::{InboundMessage, Sender, SessionWebhook};
use support_commands::SupportApi;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub use builder::CaseBotBuilder;
pub use health::{Health, Readiness};

use crate::config::Config;
use crate::error::Error;
use crate::event::{Admission, Admitted, Event, Outcome};
use crate::outbox::Courier;
use crate::pipeline::claim::{Claimed, claim};
use crate::pipeline::{Support, notices};
use crate::policy::Policy;
use crate::secrets::{CachedSecrets, Keys, SecretSource};
use crate::store::{Claim, Store, unix_ms};

/// The bot: claims each event, authorises it, parses and runs the command against AWS
/// Support, renders, records and delivers the reply. Transports (the HTTP callback service,
/// Stream mode) only translate into [`Event`]s. Cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use case_bot_core::{CaseBot, Delivery, Secrets, StaticSecrets, Config, ReplyMode};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"dev"}"#).unwrap());
/// let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets))
///     .config(Config { reply: ReplyMode::Response, ..Config::default() })
///     .build()
///     .unwrap();
/// let msg = dingtalk_robot::InboundMessage::from_json(
///     r#"{"msgtype":"text","text":{"content":"查找ServiceCode: ec2"},"msgId":"m1"}"#.as_bytes(),
/// ).unwrap();
/// let outcome = bot.on_message(msg).await;
/// assert_eq!((outcome.command, &*outcome.result), ("lookup", "ok"));
/// let Delivery::Inline { first, .. } = outcome.delivery else { panic!() };
/// assert!(serde_json::to_string(&first).unwrap().contains("amazon-elastic-compute-cloud-linux"));
/// # }
/// ```
#[derive(Clone)]
pub struct CaseBot {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    policy: Policy,
    support: Support,
    store: Arc<dyn Store>,
    secrets: Arc<CachedSecrets>,
    /// For the best-effort "send that again" when the store fails (the outbox cannot).
    sender: Sender,
    courier: Arc<Courier>,
    /// Whether the courier and the maintenance loop run.
    started: AtomicBool,
    stop: CancellationToken,
    /// Commands being processed in the background, for the drain at shutdown.
    tasks: TaskTracker,
    events: AtomicU64,
    /// The time of the last claim, Unix ms.
    last_claim_ms: AtomicI64,
    /// Whether the last store write succeeded (readiness).
    store_ok: AtomicBool,
    /// Turns to run a command (`--max-commands`).
    commands: tokio::sync::Semaphore,
    /// Creates running, by conversation, subject and body: a repeat makes no second case.
    creating: Mutex<HashSet<u64>>,
    /// Claims this process is working on, with how many tasks hold each (a write's late
    /// outcome is finished by a task of its own while the first still holds the claim);
    /// recovery leaves them alone.
    active: Mutex<HashMap<String, usize>>,
}

impl std::fmt::Debug for CaseBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseBot")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl CaseBot {
    /// A builder over a Support backend and a secret source.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// let builder = CaseBot::builder(Arc::new(support_commands::Sandbox::new()),
    ///     Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// # let _ = builder;
    /// ```
    pub fn builder(support: Arc<dyn SupportApi>, secrets: Arc<dyn SecretSource>) -> CaseBotBuilder {
        CaseBotBuilder::new(support, secrets)
    }

    /// The settings the bot runs with.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// assert_eq!(bot.config().reply, ReplyMode::Session);
    /// ```
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Starts the background work: the courier (which sends the outbox), the maintenance
    /// loop (readiness probe after a store failure, retention), and the recovery of claims a
    /// crash left unfinished. Idempotent; [`process`](Self::process) starts it too. Needs a
    /// Tokio runtime.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// bot.start();
    /// assert!(bot.drain(std::time::Duration::from_secs(1)).await);
    /// # }
    /// ```
    pub fn start(&self) {
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let courier = Arc::clone(&self.inner.courier);
        tokio::spawn(courier.run(self.inner.stop.clone()));
        let bot = self.clone();
        tokio::spawn(async move { bot.maintain().await });
        let bot = self.clone();
        tokio::spawn(async move { bot.recover().await });
        if !self.inner.config.notify.watch_interval.is_zero() {
            let bot = self.clone();
            tokio::spawn(async move { bot.watch_loop().await });
        }
    }

    /// The whole pipeline for one chat message, whatever transport brought it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let msg = dingtalk_robot::InboundMessage::from_json(br#"{"msgtype":"text","text":{"content":"ec2"}}"#).unwrap();
    /// let outcome = bot.on_message(msg).await;
    /// assert_eq!((outcome.command, &*outcome.result), ("help", "help-unrecognised"));
    /// // No sessionWebhook and no custom robot: the reply had nowhere to go.
    /// assert!(outcome.delivery.is_failure());
    /// # }
    /// ```
    pub async fn on_message(&self, msg: InboundMessage) -> Outcome {
        self.on_event(Event::Message(msg)).await
    }

    /// The whole pipeline for one event, for a caller that answers only after it: a write is
    /// [`admit`](Self::admit)ted (claimed, durably) and then [`process`](Self::process)ed; a read's
    /// claim is taken with its outcome, in one store call (a read run twice by two deliveries
    /// answers once). When the store cannot take the claim, nothing is done and the outcome
    /// says why.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let msg = dingtalk_robot::InboundMessage::from_json(r#"{"msgId":"m1","msgtype":"text","text":{"content":"帮助"}}"#.as_bytes()).unwrap();
    /// assert_eq!(bot.on_event(Event::Message(msg.clone())).await.command, "help");
    /// assert_eq!(bot.on_event(Event::Message(msg)).await.command, "duplicate");
    /// # }
    /// ```
    pub async fn on_event(&self, event: Event) -> Outcome {
        self.answer(event)
            .await
            .unwrap_or_else(|err| Outcome::unavailable("any", err))
    }

    /// The claim stage alone: the event, its state and a request token are durable in the
    /// store before this returns. A transport that must answer before the command has run (an
    /// HTTP callback, a Stream frame to acknowledge) admits the event, answers, then
    /// processes it.
    ///
    /// # Errors
    /// The store's, when it cannot take the claim (disk full, locked, unreachable): the event
    /// must not be acted on, and the transport answers 503. Where the message has a
    /// sessionWebhook, the group is also asked (best effort) to send it again.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let msg = dingtalk_robot::InboundMessage::from_json(br#"{"msgId":"m2"}"#).unwrap();
    /// let Ok(Admission::Fresh(admitted)) = bot.admit(Event::Message(msg)).await else { panic!() };
    /// bot.spawn(admitted);
    /// assert!(bot.drain(std::time::Duration::from_secs(5)).await);
    /// # }
    /// ```
    pub async fn admit(&self, event: Event) -> Result<Admission, Error> {
        let Event::Message(msg) = &event;
        let new = self.new_claim(&event);
        match claim(&*self.inner.store, new).await {
            Ok(Claimed::Fresh(claim)) => {
                self.store_succeeded();
                Ok(Admission::Fresh(Admitted {
                    event: Box::new(event),
                    claim,
                }))
            }
            Ok(Claimed::Duplicate(state)) => {
                tracing::Span::current().record("outcome", "duplicate");
                tracing::debug!(state = state.as_str(), "a redelivery");
                Ok(Admission::Duplicate)
            }
            Err(err) => {
                self.store_failed(&err);
                self.ask_to_send_again(msg);
                Err(err)
            }
        }
    }

    /// The stages after the claim: authorize, parse, execute, render, record, and the reply
    /// into the outbox (the courier sends it).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let msg = dingtalk_robot::InboundMessage::from_json(r#"{"msgId":"m3","msgtype":"text","text":{"content":"严重级别"}}"#.as_bytes()).unwrap();
    /// let Ok(Admission::Fresh(admitted)) = bot.admit(Event::Message(msg)).await else { panic!() };
    /// assert_eq!(bot.process(admitted).await.command, "severity");
    /// # }
    /// ```
    pub async fn process(&self, admitted: Admitted) -> Outcome {
        self.start();
        let Admitted { event, claim } = admitted;
        let outcome = self.run(*event, claim).await;
        let span = tracing::Span::current();
        span.record("outcome", &*outcome.result);
        if let Some(case_id) = &outcome.case_id {
            span.record("case_id", case_id.as_str());
        }
        outcome
    }

    /// Processes `admitted` in the background, in the current tracing span; [`drain`]
    /// waits for it.
    ///
    /// [`drain`]: Self::drain
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let msg = dingtalk_robot::InboundMessage::from_json(br#"{"msgId":"m4"}"#).unwrap();
    /// if let Ok(Admission::Fresh(admitted)) = bot.admit(Event::Message(msg)).await {
    ///     bot.spawn(admitted);
    /// }
    /// assert!(bot.drain(std::time::Duration::from_secs(5)).await);
    /// # }
    /// ```
    pub fn spawn(&self, admitted: Admitted) {
        let bot = self.clone();
        let work = async move {
            let started = Instant::now();
            bot.process(admitted).await;
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            tracing::info!(latency_ms, "processed");
        };
        self.inner
            .tasks
            .spawn(work.instrument(tracing::Span::current()));
    }

    /// Sends what is due in the outbox and waits for it, until nothing is due or `timeout`
    /// passes; returns whether nothing is left due. For a transport with no life after its
    /// answer (Lambda): entries still pending (throttled, backing off) wait for the next call.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// assert!(bot.deliver_pending(std::time::Duration::from_secs(1)).await);
    /// # }
    /// ```
    pub async fn deliver_pending(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        self.inner.courier.deliver_due(deadline).await
    }

    /// Catches up, for a scheduled call where nothing runs in the background (Lambda): finishes
    /// the claims a crash or a timeout left unfinished (on a shared store, those older than
    /// ten minutes), then sends what is due in the outbox, within `timeout`. Returns whether it
    /// finished.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// assert!(bot.sweep(std::time::Duration::from_secs(5)).await);
    /// # }
    /// ```
    pub async fn sweep(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        self.recover().await;
        let tasks = &self.inner.tasks;
        tasks.close();
        let finished = tokio::time::timeout_at(deadline, tasks.wait())
            .await
            .is_ok();
        tasks.reopen();
        finished && self.inner.courier.deliver_due(deadline).await
    }

    /// Stops: waits until the commands processing in the background have finished (or
    /// `timeout` passes), stops the courier at once (what it had not sent stays in the outbox
    /// for the next start), and closes the store. Returns whether every command finished.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// assert!(bot.drain(std::time::Duration::from_secs(1)).await);
    /// # }
    /// ```
    pub async fn drain(&self, timeout: Duration) -> bool {
        let tasks = &self.inner.tasks;
        tasks.close();
        let finished = tokio::time::timeout(timeout, tasks.wait()).await.is_ok();
        tasks.reopen();
        self.inner.stop.cancel();
        self.inner.store.close().await;
        finished
    }

    /// The secrets and the callback verifier.
    pub(crate) async fn keys(&self) -> Result<Arc<Keys>, Error> {
        self.inner.secrets.get().await
    }

    /// Verifies a callback's `timestamp` and `sign` headers; on a signature mismatch, re-reads
    /// the secret once (it may have rotated) and tries again.
    pub(crate) async fn verify(&self, headers: &http::HeaderMap) -> Result<(), Error> {
        let keys = self.keys().await?;
        let Err(err) = keys.verifier.verify_headers(headers) else {
            return Ok(());
        };
        if matches!(err, dingtalk_robot::Error::SignatureMismatch { .. })
            && let Some(fresh) = self.inner.secrets.refresh().await
        {
            return Ok(fresh.verifier.verify_headers(headers)?);
        }
        Err(err.into())
    }

    /// A new claim for `event` (not yet in the store): its key (`msg:<msgId>`), the event as
    /// JSON (to finish it after a crash), a request token, and a time strictly after this
    /// process's previous claim (the outbox orders a conversation's replies by it, so two
    /// claims in one millisecond must not tie).
    pub(super) fn new_claim(&self, event: &Event) -> Claim {
        self.inner.events.fetch_add(1, Ordering::Relaxed);
        let Event::Message(msg) = event;
        if let Some(conversation) = &msg.conversation_id {
            tracing::Span::current().record("conversation", conversation.as_str());
        }
        let now = unix_ms();
        let now = match self.inner.last_claim_ms.fetch_update(
            Ordering::SeqCst,
            Ordering::SeqCst,
            |last| Some(now.max(last + 1)),
        ) {
            Ok(last) | Err(last) => now.max(last + 1),
        };
        let key = event.claim_key().unwrap_or_else(|| {
            format!(
                "anon:{}",
                digest(&(now, self.inner.events.load(Ordering::Relaxed)))
            )
        });
        // The token's first four hex digits tag the conversation, so the watcher knows this
        // bot's own replies and does not echo them to the group that wrote them.
        let tag =
            crate::notify::watch::group_tag(msg.conversation_id.as_deref().unwrap_or_default());
        let token = format!("{tag:04x}{:06x}", digest(&(key.as_str(), now)) & 0xff_ffff);
        let ttl = i64::try_from(self.inner.config.idempotency_ttl.as_millis()).unwrap_or(i64::MAX);
        let json = serde_json::to_string(msg).unwrap_or_default();
        Claim::new(key, json, token, now, ttl)
    }

    /// A store write succeeded: ready (again); what the failure interrupted is recovered.
    fn store_succeeded(&self) {
        if !self.inner.store_ok.swap(true, Ordering::SeqCst) {
            tracing::info!("state store writes succeed again: ready");
            let bot = self.clone();
            tokio::spawn(async move { bot.recover().await });
        }
    }

    /// A store write failed: not ready until a probe succeeds.
    fn store_failed(&self, err: &Error) {
        tracing::error!(error = %err, "state store write failed: not ready");
        self.inner.store_ok.store(false, Ordering::SeqCst);
    }

    /// Best effort, when the message could not be taken: asks the group to send it again
    /// (DingTalk's redelivery after a 503 is not documented).
    fn ask_to_send_again(&self, msg: &InboundMessage) {
        let Some(hook) = SessionWebhook::from_message(msg) else {
            return;
        };
        let sender = self.inner.sender.clone();
        let notice = notices::send_again(self.inner.config.lang);
        self.inner.tasks.spawn(async move {
            if let Err(err) = sender.send(&hook.into(), notice).await {
                tracing::warn!(error = %err, "could not ask the group to send the message again");
            }
        });
    }

    /// Marks `key` as worked on by this process until the guard drops.
    fn activate(&self, key: &str) -> Active {
        self.inner
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .and_modify(|holders| *holders += 1)
            .or_insert(1);
        Active {
            bot: self.clone(),
            key: key.to_owned(),
        }
    }

    fn is_active(&self, key: &str) -> bool {
        self.inner
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }
}

/// A claim this process works on, until dropped.
struct Active {
    bot: CaseBot,
    key: String,
}

impl Drop for Active {
    fn drop(&mut self) {
        let mut active = self
            .bot
            .inner
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(holders) = active.get_mut(&self.key) {
            *holders -= 1;
            if *holders == 0 {
                active.remove(&self.key);
            }
        }
    }
}

/// A stable 64-bit digest (SipHash with fixed keys).
fn digest(value: &impl std::hash::Hash) -> u64 {
    use std::hash::{DefaultHasher, Hasher as _};
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::CaseBot;
    use crate::{Secrets, StaticSecrets};

    #[test]
    fn a_claim_stays_active_until_its_last_holder_lets_go() {
        let secrets = Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap();
        let bot = CaseBot::builder(
            Arc::new(support_commands::Sandbox::new()),
            Arc::new(StaticSecrets::new(secrets)),
        )
        .build()
        .unwrap();
        // The command's task, then the task that finishes a write's late outcome.
        let first = bot.activate("msg:m1");
        let late = bot.activate("msg:m1");
        drop(first);
        assert!(bot.is_active("msg:m1"), "the late outcome still holds it");
        drop(late);
        assert!(!bot.is_active("msg:m1"));
    }
}
