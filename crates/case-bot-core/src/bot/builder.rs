//! [`CaseBotBuilder`]: the bot's parts and settings, and the courier and sender built from them.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

use dingtalk_robot::{RateLimit, RetryPolicy, Sender};
use support_commands::{Cached, SupportApi};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{CaseBot, Inner};
use crate::config::{Config, SupportBackend};
use crate::error::Error;
use crate::outbox::{Courier, Retries};
use crate::policy::Policy;
use crate::secrets::{CachedSecrets, SecretSource};
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
    /// The defaults: a memory store, [`Config::default`], a sender built from the settings.
    pub(super) fn new(support: Arc<dyn SupportApi>, secrets: Arc<dyn SecretSource>) -> Self {
        Self {
            support,
            secrets,
            store: Arc::new(MemoryStore::default()),
            config: Config::default(),
            sender: None,
        }
    }

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
        let config = self.config;
        let sender = match self.sender {
            Some(sender) => sender,
            None => Sender::builder()
                .api_base(&config.dingtalk_api_base)
                .openapi_base(&config.notify.dingtalk_openapi_base)
                // Local tools such as `case-bot say` play DingTalk on loopback: sandbox only.
                .trust_loopback_session_webhooks(config.support == SupportBackend::Sandbox)
                .rate_limit(RateLimit::new(
                    config.messages_per_minute,
                    config.pace_window,
                ))
                // The courier retries, durably; the sender tries once.
                .retry(
                    RetryPolicy::default()
                        .rate_limited_retries(0)
                        .transient_retries(0),
                )
                .build()?,
        };
        let policy = Policy::new(&config);
        if policy.is_open_to_all() {
            tracing::warn!(
                "no conversation allow-list: any DingTalk conversation that can reach the robot may use it"
            );
        }
        let turns = usize::try_from(config.max_commands).unwrap_or(32);
        let secrets = Arc::new(CachedSecrets::new(self.secrets));
        let courier = Arc::new(Courier::new(
            Arc::clone(&self.store),
            sender.clone(),
            Arc::clone(&secrets),
            config.robot_conversation.clone(),
            config.notify.clone(),
            Retries {
                throttled_wait: config.throttled_wait,
                backoff: config.send_backoff,
                ..Retries::default()
            },
        ));
        Ok(CaseBot {
            inner: Arc::new(Inner {
                policy,
                config,
                support: Cached::new(self.support),
                store: self.store,
                secrets,
                sender,
                courier,
                started: AtomicBool::new(false),
                stop: CancellationToken::new(),
                tasks: TaskTracker::new(),
                events: AtomicU64::new(0),
                last_claim_ms: AtomicI64::new(0),
                store_ok: AtomicBool::new(true),
                commands: tokio::sync::Semaphore::new(turns),
                creating: Mutex::default(),
                active: Mutex::default(),
            }),
        })
    }
}
