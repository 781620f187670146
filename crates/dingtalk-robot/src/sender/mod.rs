//! Sending messages: replies to a callback's `sessionWebhook`, posts to a custom robot
//! webhook and group sends through the robot OpenAPI, paced under DingTalk's rate limit and retried when DingTalk throttles anyway.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

mod group;
mod pacing;
mod policy;

pub use policy::{RateLimit, RetryPolicy};

use self::pacing::Pacers;
use crate::error::Error;
use crate::outbound::OutboundMessage;
use crate::signature::now_ms;
use crate::target::{SessionWebhook, Target};

/// DingTalk's API origin, for custom robot webhooks.
///
/// ```
/// assert_eq!(dingtalk_robot::DEFAULT_API_BASE, "https://oapi.dingtalk.com");
/// ```
pub const DEFAULT_API_BASE: &str = "https://oapi.dingtalk.com";

/// Builds a [`Sender`].
///
/// ```
/// use std::time::Duration;
/// use dingtalk_robot::{RateLimit, Sender};
/// let sender = Sender::builder()
///     .api_base("http://127.0.0.1:9")
///     .rate_limit(RateLimit::new(20, Duration::from_secs(60)))
///     .timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// # let _ = sender;
/// ```
#[derive(Debug, Clone)]
pub struct SenderBuilder {
    api_base: String,
    openapi_base: String,
    trust_loopback: bool,
    rate_limit: RateLimit,
    retry: RetryPolicy,
    timeout: Duration,
}

impl SenderBuilder {
    /// The origin custom robot webhooks are posted to (default [`DEFAULT_API_BASE`]); tests
    /// point it at a fake. Session webhooks on this origin are trusted too.
    ///
    /// ```
    /// let builder = dingtalk_robot::Sender::builder().api_base("http://127.0.0.1:8081");
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into();
        self
    }

    /// The OpenAPI origin, for access tokens and group sends (default
    /// [`DEFAULT_OPENAPI_BASE`](crate::DEFAULT_OPENAPI_BASE); `https://api.dingtalk.io` for
    /// international tenants); tests point it at a fake.
    ///
    /// ```
    /// let builder = dingtalk_robot::Sender::builder().openapi_base("http://127.0.0.1:8081");
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn openapi_base(mut self, base: impl Into<String>) -> Self {
        self.openapi_base = base.into();
        self
    }

    /// Also trusts session webhooks on loopback addresses (`127.0.0.0/8`, `[::1]`,
    /// `localhost`), for local development tools that play DingTalk (off by default).
    ///
    /// ```
    /// let builder = dingtalk_robot::Sender::builder().trust_loopback_session_webhooks(true);
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn trust_loopback_session_webhooks(mut self, trust: bool) -> Self {
        self.trust_loopback = trust;
        self
    }

    /// The pace per webhook (default 20 a minute, DingTalk's limit).
    ///
    /// ```
    /// let builder = dingtalk_robot::Sender::builder().rate_limit(dingtalk_robot::RateLimit::default());
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// The retry policy (see [`RetryPolicy::default`]).
    ///
    /// ```
    /// let builder = dingtalk_robot::Sender::builder().retry(dingtalk_robot::RetryPolicy::default());
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The timeout of one HTTP attempt (default 10 s).
    ///
    /// ```
    /// let builder = dingtalk_robot::Sender::builder().timeout(std::time::Duration::from_secs(3));
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the sender.
    ///
    /// # Errors
    /// [`Error`] if the API base is not an http(s) URL or the HTTP client cannot start.
    ///
    /// ```
    /// let sender = dingtalk_robot::Sender::builder().build().unwrap();
    /// # let _ = sender;
    /// ```
    pub fn build(self) -> Result<Sender, Error> {
        let base = url::Url::parse(&self.api_base).map_err(|_| Error::InvalidApiBase)?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::InvalidApiBase);
        }
        let openapi = url::Url::parse(&self.openapi_base).map_err(|_| Error::InvalidApiBase)?;
        if !matches!(openapi.scheme(), "http" | "https") || openapi.host_str().is_none() {
            return Err(Error::InvalidApiBase);
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| Error::Client(e.without_url()))?;
        Ok(Sender {
            inner: Arc::new(Inner {
                http,
                api_base: self.api_base.trim_end_matches('/').to_owned(),
                openapi_base: self.openapi_base.trim_end_matches('/').to_owned(),
                tokens: group::Tokens::default(),
                base_origin: base.origin(),
                trust_loopback: self.trust_loopback,
                rate_limit: self.rate_limit,
                retry: self.retry,
                pacers: Mutex::new(Pacers::default()),
            }),
        })
    }
}

/// Sends messages to DingTalk webhooks.
///
/// - Paces itself per robot and conversation ([`RateLimit`], 20 a minute by default, as
///   DingTalk limits each robot per group) and sends one message at a time to each, so the
///   parts of a long message arrive in order.
/// - Splits long `text`/`markdown` messages ([`OutboundMessage::split`]).
/// - On errcode 130101 waits and retries ([`RetryPolicy`]); transport errors and HTTP 5xx are
///   retried with backoff. A message that still cannot be delivered comes back as a
///   [`Error`]; nothing is dropped silently.
///
/// Cheap to clone; clones share the pacing and the connection pool.
///
/// ```no_run
/// use dingtalk_robot::{AccessToken, CustomRobot, OutboundMessage, Sender, WebhookSecret};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let sender = Sender::builder().build()?;
/// let robot = CustomRobot::new(AccessToken::new("…")).with_secret(WebhookSecret::new("SEC…"));
/// sender.send(&robot.into(), OutboundMessage::text("AWS 工单 case-123 已更新")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api_base: String,
    openapi_base: String,
    /// OpenAPI access tokens by app key.
    tokens: group::Tokens,
    base_origin: url::Origin,
    trust_loopback: bool,
    rate_limit: RateLimit,
    retry: RetryPolicy,
    pacers: Mutex<Pacers>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("api_base", &self.inner.api_base)
            .field("rate_limit", &self.inner.rate_limit)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Answer {
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

impl Sender {
    /// A builder with DingTalk's defaults.
    ///
    /// ```
    /// let sender = dingtalk_robot::Sender::builder().build().unwrap();
    /// # let _ = sender;
    /// ```
    #[must_use]
    pub fn builder() -> SenderBuilder {
        SenderBuilder {
            api_base: DEFAULT_API_BASE.to_owned(),
            openapi_base: crate::openapi::DEFAULT_OPENAPI_BASE.to_owned(),
            trust_loopback: false,
            rate_limit: RateLimit::default(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Sends a message (split into parts if long) and returns how many parts were delivered.
    ///
    /// # Errors
    /// [`Error`]; when a later part of a split message fails, [`Error::Incomplete`]
    /// says how many parts were delivered first.
    ///
    /// ```no_run
    /// # use dingtalk_robot::{InboundMessage, OutboundMessage, Sender, SessionWebhook};
    /// # async fn run(sender: Sender, callback: InboundMessage) -> Result<(), dingtalk_robot::Error> {
    /// if let Some(hook) = SessionWebhook::from_message(&callback) {
    ///     sender.send(&hook.into(), OutboundMessage::text("收到")).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, target: &Target, message: OutboundMessage) -> Result<usize, Error> {
        let parts = message.split();
        let total = parts.len();
        for (index, part) in parts.into_iter().enumerate() {
            if let Err(err) = self.send_one(target, &part).await {
                return Err(if index == 0 {
                    err
                } else {
                    Error::Incomplete {
                        delivered: index,
                        total,
                        source: Box::new(err),
                    }
                });
            }
        }
        Ok(total)
    }

    /// Whether DingTalk's API origin (the custom robot's and the session webhooks' host)
    /// answers at all: a `GET` of it, whatever the status. Sends nothing.
    ///
    /// # Errors
    /// [`Error::Transport`] when it cannot be reached.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), dingtalk_robot::Error> {
    /// dingtalk_robot::Sender::builder().build()?.check_reachable().await?;
    /// # Ok(()) }
    /// ```
    pub async fn check_reachable(&self) -> Result<(), Error> {
        self.exchange(self.inner.http.get(&self.inner.api_base))
            .await
            .map(drop)
    }

    fn check_session(&self, hook: &SessionWebhook) -> Result<(), Error> {
        let now = now_ms();
        if let Some(expired_at_ms) = hook.expires_at_ms.filter(|&at| at <= now) {
            return Err(Error::SessionExpired {
                expired_at_ms,
                now_ms: now,
            });
        }
        let url = url::Url::parse(&hook.url).map_err(|_| Error::UntrustedWebhook)?;
        let dingtalk_host = url.scheme() == "https"
            && url.host_str().is_some_and(|host| {
                host.ends_with(".dingtalk.com") || host.ends_with(".dingtalk.io")
            });
        let loopback = self.inner.trust_loopback
            && match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(domain)) => domain == "localhost",
                None => false,
            };
        if dingtalk_host || loopback || url.origin() == self.inner.base_origin {
            Ok(())
        } else {
            Err(Error::UntrustedWebhook)
        }
    }

    async fn send_one(&self, target: &Target, message: &OutboundMessage) -> Result<(), Error> {
        if let Target::Session(hook) = target {
            self.check_session(hook)?;
        }
        let kind = target.kind();
        let limit = self.inner.rate_limit;
        let pacer = self
            .inner
            .pacers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(target.pace_key(), limit.per);
        let mut sent = pacer.lock().await;
        let retry = self.inner.retry;
        let mut attempts = 0_u32;
        let mut rate_limited = 0_u32;
        let mut transient = 0_u32;
        loop {
            // Pace: never more than `limit.max` completed sends within `limit.per`.
            while let Some(&oldest) = sent.front() {
                if oldest.elapsed() >= limit.per {
                    sent.pop_front();
                } else if sent.len() >= limit.max as usize {
                    tracing::debug!(kind, "pacing: waiting for a slot under the rate limit");
                    tokio::time::sleep_until(oldest + limit.per).await;
                } else {
                    break;
                }
            }
            if let Target::Session(hook) = target {
                // A long wait may have outlived the session.
                self.check_session(hook)?;
            }
            attempts += 1;
            let outcome = match target {
                Target::Session(hook) => self.post(&hook.url, message).await,
                Target::Robot(robot) => {
                    self.post(&robot.url(&self.inner.api_base, now_ms()), message)
                        .await
                }
                Target::Group(group) => self.post_group(group, message).await,
            };
            sent.push_back(Instant::now());
            let err = match outcome {
                Ok(()) => {
                    tracing::debug!(kind, attempts, msgtype = message.msgtype(), "delivered");
                    return Ok(());
                }
                Err(err) => err,
            };
            let wait = match &err {
                Error::RateLimited { .. } if rate_limited < retry.rate_limited_retries => {
                    rate_limited += 1;
                    retry.rate_limited_wait
                }
                Error::Transport(_) | Error::Http { status: 500.. }
                    if transient < retry.transient_retries =>
                {
                    transient += 1;
                    retry.transient_backoff * 2_u32.saturating_pow(transient - 1)
                }
                _ => {
                    tracing::warn!(kind, attempts, error = %err, "message not delivered");
                    return Err(match err {
                        Error::RateLimited { errmsg, .. } => {
                            Error::RateLimited { attempts, errmsg }
                        }
                        other => other,
                    });
                }
            };
            tracing::info!(kind, attempts, error = %err, wait_ms = wait.as_millis(), "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends `request` and reads the whole answer: its status and body. Transport errors lose
    /// their URL (it may hold a token).
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), Error> {
        let response = request
            .send()
            .await
            .map_err(|e| Error::Transport(e.without_url()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::Transport(e.without_url()))?;
        Ok((status, body.to_vec()))
    }

    async fn post(&self, url: &str, message: &OutboundMessage) -> Result<(), Error> {
        let (status, body) = self
            .exchange(self.inner.http.post(url).json(message))
            .await?;
        if status >= 500 {
            // A server fault, whatever the body says: worth a retry.
            return Err(Error::Http { status });
        }
        match serde_json::from_slice::<Answer>(&body) {
            Ok(answer) => match Error::from_errcode(answer.errcode, answer.errmsg, 1) {
                None if (200..300).contains(&status) => Ok(()),
                None => Err(Error::Http { status }),
                Some(err) => Err(err),
            },
            Err(_) if !(200..300).contains(&status) => Err(Error::Http { status }),
            Err(_) => Err(Error::InvalidResponse { status }),
        }
    }
}
