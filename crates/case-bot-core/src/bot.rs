//! [`CaseBot`]: events in, the pipeline, outcomes out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dingtalk_robot::{InboundMessage, OutboundMessage, Sender};
use support_commands::{Cached, SupportApi};
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::config::Config;
use crate::error::Error;
use crate::event::{Admission, Admitted, Delivery, Event, Message, Outcome};
use crate::pipeline::claim::{Claim, claim};
use crate::pipeline::deliver::{Route, deliver};
use crate::pipeline::execute::{Deps, Executed, execute};
use crate::pipeline::parse::{Request, parse};
use crate::pipeline::record::record;
use crate::pipeline::{Support, render};
use crate::policy::Policy;
use crate::secrets::{CachedSecrets, Keys, SecretSource};
use crate::store::{MemoryStore, Store};

/// Builds a [`CaseBot`].
///
/// ```
/// use std::sync::Arc;
/// use case_bot_core::{CaseBot, Config, MemoryStore, Secrets, StaticSecrets};
/// let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"dev"}"#).unwrap());
/// let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets))
///     .store(Arc::new(MemoryStore::default()))
///     .config(Config::default())
///     .build()
///     .unwrap();
/// # let _ = bot;
/// ```
#[must_use]
pub struct CaseBotBuilder {
    support: Arc<dyn SupportApi>,
    secrets: Arc<dyn SecretSource>,
    store: Arc<dyn Store>,
    config: Config,
    sender: Option<Sender>,
}

impl std::fmt::Debug for CaseBotBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseBotBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CaseBotBuilder {
    /// The state store (default: in memory).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let b = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// let b = b.store(Arc::new(MemoryStore::default()));
    /// # let _ = b;
    /// ```
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// The settings (default: [`Config::default`]).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let b = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// let b = b.config(Config { lang: support_commands::Lang::En, ..Config::default() });
    /// # let _ = b;
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// A ready sender (pacing and retries of your choice); by default one is built on the
    /// configuration's DingTalk API base.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let b = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// let b = b.sender(dingtalk_robot::Sender::builder().build().unwrap());
    /// # let _ = b;
    /// ```
    pub fn sender(mut self, sender: Sender) -> Self {
        self.sender = Some(sender);
        self
    }

    /// Builds the bot.
    ///
    /// # Errors
    /// [`Error::DingTalk`] if the configuration's DingTalk API base is not a URL.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let b = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// let bad = b.config(Config { dingtalk_api_base: "nope".into(), ..Config::default() });
    /// assert!(bad.build().unwrap_err().to_string().contains("API base"));
    /// ```
    pub fn build(self) -> Result<CaseBot, Error> {
        let sender = match self.sender {
            Some(sender) => sender,
            None => Sender::builder()
                .api_base(&self.config.dingtalk_api_base)
                .build()?,
        };
        let policy = Policy::new(&self.config);
        if policy.is_open_to_all() {
            tracing::warn!(
                "no conversation allow-list: any DingTalk conversation that can reach the robot may use it"
            );
        }
        Ok(CaseBot {
            inner: Arc::new(Inner {
                policy,
                config: self.config,
                support: Cached::new(self.support),
                store: self.store,
                secrets: CachedSecrets::new(self.secrets),
                sender,
                tasks: TaskTracker::new(),
                events: AtomicU64::new(0),
                reply_failures: AtomicU64::new(0),
            }),
        })
    }
}

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
    secrets: CachedSecrets,
    sender: Sender,
    /// Events being processed in the background, for the drain at shutdown.
    tasks: TaskTracker,
    events: AtomicU64,
    reply_failures: AtomicU64,
}

impl std::fmt::Debug for CaseBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseBot")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The bot's counters, for a health check.
///
/// ```
/// # use std::sync::Arc;
/// # use case_bot_core::*;
/// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
/// let health = bot.health();
/// assert_eq!(serde_json::to_value(&health).unwrap()["status"], "ok");
/// ```
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: &'static str,
    /// Events received since start.
    pub requests: u64,
    /// Replies not delivered after retries, since start.
    pub reply_failures: u64,
    /// Events being processed in the background.
    pub replies_in_flight: usize,
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
        CaseBotBuilder {
            support,
            secrets,
            store: Arc::new(MemoryStore::default()),
            config: Config::default(),
            sender: None,
        }
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

    /// The whole pipeline for one event: [`admit`](Self::admit), then
    /// [`process`](Self::process).
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
        match self.admit(event).await {
            Admission::Fresh(admitted) => self.process(admitted).await,
            Admission::Duplicate => Outcome::duplicate(),
        }
    }

    /// The claim stage alone: a transport that must answer before the command has run (an
    /// HTTP callback, a Stream frame to acknowledge) admits the event, answers, then
    /// processes it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let msg = dingtalk_robot::InboundMessage::from_json(br#"{"msgId":"m2"}"#).unwrap();
    /// let Admission::Fresh(admitted) = bot.admit(Event::Message(msg)).await else { panic!() };
    /// bot.spawn(admitted);
    /// assert!(bot.drain(std::time::Duration::from_secs(5)).await);
    /// # }
    /// ```
    pub async fn admit(&self, event: Event) -> Admission {
        self.inner.events.fetch_add(1, Ordering::Relaxed);
        let Event::Message(msg) = &event;
        if let Some(conversation) = &msg.conversation_id {
            tracing::Span::current().record("conversation", conversation.as_str());
        }
        let key = event.claim_key();
        match claim(&*self.inner.store, key, self.inner.config.idempotency_ttl).await {
            Claim::Fresh { key } => Admission::Fresh(Admitted {
                event: Box::new(event),
                claim_key: key,
            }),
            Claim::Duplicate => {
                tracing::Span::current().record("outcome", "duplicate");
                Admission::Duplicate
            }
        }
    }

    /// The stages after the claim: authorize, parse, execute, render, record, deliver.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let msg = dingtalk_robot::InboundMessage::from_json(r#"{"msgId":"m3","msgtype":"text","text":{"content":"严重级别"}}"#.as_bytes()).unwrap();
    /// let Admission::Fresh(admitted) = bot.admit(Event::Message(msg)).await else { panic!() };
    /// assert_eq!(bot.process(admitted).await.command, "severity");
    /// # }
    /// ```
    pub async fn process(&self, admitted: Admitted) -> Outcome {
        let Admitted { event, claim_key } = admitted;
        let Event::Message(msg) = *event;
        let message = Message::from(msg);
        let lang = self.inner.config.lang;
        let (command, executed) = self.decide(&message).await;
        let reply = render::reply(lang, &executed);
        record(
            &*self.inner.store,
            &message.origin,
            claim_key,
            command,
            &executed,
        )
        .await;
        let delivery = self.deliver(&message, reply).await;
        let outcome = Outcome {
            command,
            result: executed.result(),
            case_id: executed.case_id(),
            delivery,
        };
        let span = tracing::Span::current();
        span.record("outcome", &*outcome.result);
        if let Some(case_id) = &outcome.case_id {
            span.record("case_id", case_id.as_str());
        }
        outcome
    }

    /// Authorize, parse and execute: what was asked (the audit trail's name) and what it came
    /// to, within the command deadline.
    async fn decide(&self, message: &Message) -> (&'static str, Executed) {
        let inner = &*self.inner;
        let actor = match inner.policy.authorize(&message.origin) {
            Ok(actor) => actor,
            Err(refusal) => {
                let refused = Executed::Refused {
                    refusal,
                    case_id: None,
                };
                return ("any", refused);
            }
        };
        let request = parse(message);
        let name = request.name();
        tracing::Span::current().record("command", name);
        let executed = match request {
            Request::Command(command) => {
                let deps = Deps {
                    support: &inner.support,
                    store: &*inner.store,
                    policy: &inner.policy,
                    lang: inner.config.lang,
                };
                let run = execute(&deps, &message.origin, &actor, command);
                tokio::time::timeout(inner.config.command_deadline, run)
                    .await
                    .unwrap_or(Executed::TimedOut)
            }
            Request::Unsupported => Executed::Unsupported,
            Request::Invalid(err) => Executed::Invalid(err),
        };
        (name, executed)
    }

    /// The deliver stage, with the route of `message` and the robot's secrets; counts a reply
    /// that did not reach the group.
    async fn deliver(&self, message: &Message, reply: OutboundMessage) -> Delivery {
        let keys = self.keys().await.ok();
        let route = Route {
            mode: self.inner.config.reply,
            session: message.origin.session.as_ref(),
            secrets: keys.as_deref().map(|keys| &keys.secrets),
        };
        let delivery = deliver(&self.inner.sender, route, reply).await;
        if delivery.is_failure() {
            self.inner.reply_failures.fetch_add(1, Ordering::Relaxed);
        }
        delivery
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
    /// if let Admission::Fresh(admitted) = bot.admit(Event::Message(msg)).await {
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
            tracing::info!(latency_ms, "replied");
        };
        self.inner
            .tasks
            .spawn(work.instrument(tracing::Span::current()));
    }

    /// The bot's counters.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// assert_eq!(bot.health().reply_failures, 0);
    /// ```
    #[must_use]
    pub fn health(&self) -> Health {
        Health {
            status: "ok",
            requests: self.inner.events.load(Ordering::Relaxed),
            reply_failures: self.inner.reply_failures.load(Ordering::Relaxed),
            replies_in_flight: self.inner.tasks.len(),
        }
    }

    /// Waits until every event processing in the background has finished, or `timeout`
    /// passes, then flushes the store; returns whether all finished (graceful shutdown).
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
        self.inner.store.flush().await;
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
}
