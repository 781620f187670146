//! Sending messages: replies to a callback's `sessionWebhook` and posts to a custom robot
//! webhook, paced under DingTalk's rate limit and retried when DingTalk throttles anyway.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::inbound::InboundMessage;
use crate::outbound::OutboundMessage;
use crate::secret::{AccessToken, WebhookSecret};
use crate::signature::{now_ms, webhook_sign};

/// DingTalk's API origin, for custom robot webhooks.
///
/// ```
/// assert_eq!(dingtalk_robot::DEFAULT_API_BASE, "https://oapi.dingtalk.com");
/// ```
pub const DEFAULT_API_BASE: &str = "https://oapi.dingtalk.com";

/// DingTalk's errcode for "send too fast, exceed 20 times per minute".
///
/// ```
/// assert_eq!(dingtalk_robot::ERRCODE_RATE_LIMITED, 130_101);
/// ```
pub const ERRCODE_RATE_LIMITED: i64 = 130_101;
/// DingTalk's errcode for a failed keyword, signature, timestamp or IP check.
///
/// ```
/// assert_eq!(dingtalk_robot::ERRCODE_REJECTED, 310_000);
/// ```
pub const ERRCODE_REJECTED: i64 = 310_000;
/// DingTalk's errcode for an unknown access token.
///
/// ```
/// assert_eq!(dingtalk_robot::ERRCODE_TOKEN_NOT_EXIST, 300_001);
/// ```
pub const ERRCODE_TOKEN_NOT_EXIST: i64 = 300_001;
/// DingTalk's errcode for an access token it will not serve (reported for external groups).
///
/// ```
/// assert_eq!(dingtalk_robot::ERRCODE_TOKEN_INVALID, 300_005);
/// ```
pub const ERRCODE_TOKEN_INVALID: i64 = 300_005;

/// How many messages one webhook may take in a time window.
///
/// ```
/// use dingtalk_robot::RateLimit;
/// let limit = RateLimit::default();
/// assert_eq!((limit.max, limit.per.as_secs()), (20, 60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Messages allowed per window.
    pub max: u32,
    /// The sliding window.
    pub per: Duration,
}

impl RateLimit {
    /// A limit of `max` messages per `per`.
    ///
    /// ```
    /// let limit = dingtalk_robot::RateLimit::new(5, std::time::Duration::from_secs(1));
    /// # let _ = limit;
    /// ```
    #[must_use]
    pub fn new(max: u32, per: Duration) -> Self {
        Self {
            max: max.max(1),
            per,
        }
    }
}

impl Default for RateLimit {
    /// DingTalk's documented 20 messages a minute.
    fn default() -> Self {
        Self::new(20, Duration::from_secs(60))
    }
}

/// When and how often a send is tried again.
///
/// ```
/// use dingtalk_robot::RetryPolicy;
/// let policy = RetryPolicy::default();
/// // DingTalk blocks a throttled robot for 10 minutes; the defaults wait that out.
/// assert!(policy.rate_limited_wait * policy.rate_limited_retries >= std::time::Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Wait after an errcode 130101 before trying again.
    pub rate_limited_wait: Duration,
    /// Retries after errcode 130101 before giving up with [`SendError::RateLimited`].
    pub rate_limited_retries: u32,
    /// First wait after a transport error or HTTP 5xx; doubles each time.
    pub transient_backoff: Duration,
    /// Retries after a transport error or HTTP 5xx.
    pub transient_retries: u32,
}

impl RetryPolicy {
    /// A policy with explicit values.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = dingtalk_robot::RetryPolicy::new(Duration::from_millis(50), 3, Duration::from_millis(10), 1);
    /// # let _ = policy;
    /// ```
    #[must_use]
    pub fn new(
        rate_limited_wait: Duration,
        rate_limited_retries: u32,
        transient_backoff: Duration,
        transient_retries: u32,
    ) -> Self {
        Self {
            rate_limited_wait,
            rate_limited_retries,
            transient_backoff,
            transient_retries,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new(Duration::from_secs(60), 11, Duration::from_millis(500), 2)
    }
}

/// A callback's `sessionWebhook`: the reply URL for that conversation, valid until it expires.
///
/// Its `Debug` output hides the `session` query value, which lets anyone post to the group.
///
/// ```
/// use dingtalk_robot::SessionWebhook;
/// let hook = SessionWebhook::new("https://oapi.dingtalk.com/robot/sendBySession?session=abc", Some(1));
/// assert!(!format!("{hook:?}").contains("abc"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionWebhook {
    url: String,
    expires_at_ms: Option<i64>,
}

impl fmt::Debug for SessionWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let without_query = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("SessionWebhook")
            .field("url", &format_args!("{without_query}?…"))
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl SessionWebhook {
    /// A session webhook URL with its expiry (Unix ms; `None` if unknown).
    ///
    /// ```
    /// let hook = dingtalk_robot::SessionWebhook::new("https://oapi.dingtalk.com/robot/sendBySession?session=x", None);
    /// # let _ = hook;
    /// ```
    #[must_use]
    pub fn new(url: impl Into<String>, expires_at_ms: Option<i64>) -> Self {
        Self {
            url: url.into(),
            expires_at_ms,
        }
    }

    /// The reply webhook of a callback, if it carried one.
    ///
    /// ```
    /// # use dingtalk_robot::{InboundMessage, SessionWebhook};
    /// let msg = InboundMessage::from_json(br#"{"sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=x",
    ///     "sessionWebhookExpiredTime":1700005400000}"#).unwrap();
    /// assert_eq!(SessionWebhook::from_message(&msg).unwrap().expires_at_ms(), Some(1_700_005_400_000));
    /// ```
    #[must_use]
    pub fn from_message(msg: &InboundMessage) -> Option<Self> {
        let url = msg.session_webhook.as_deref()?;
        Some(Self::new(url, msg.session_webhook_expired_time))
    }

    /// When the webhook expires, Unix milliseconds.
    ///
    /// ```
    /// let hook = dingtalk_robot::SessionWebhook::new("https://x", Some(5));
    /// assert_eq!(hook.expires_at_ms(), Some(5));
    /// ```
    #[must_use]
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.expires_at_ms
    }
}

/// A custom group robot (自定义机器人): its access token and, with 加签 security, its `SEC…` secret.
///
/// ```
/// use dingtalk_robot::{AccessToken, CustomRobot, WebhookSecret};
/// let robot = CustomRobot::new(AccessToken::new("0123abcd")).with_secret(WebhookSecret::new("SECabc"));
/// let debug = format!("{robot:?}");
/// assert!(!debug.contains("0123abcd") && !debug.contains("SECabc"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRobot {
    access_token: AccessToken,
    secret: Option<WebhookSecret>,
}

impl CustomRobot {
    /// A robot without 加签 security (keyword or IP security only).
    ///
    /// ```
    /// let robot = dingtalk_robot::CustomRobot::new(dingtalk_robot::AccessToken::new("tok"));
    /// # let _ = robot;
    /// ```
    #[must_use]
    pub fn new(access_token: AccessToken) -> Self {
        Self {
            access_token,
            secret: None,
        }
    }

    /// Signs every post with this `SEC…` secret.
    ///
    /// ```
    /// # use dingtalk_robot::{AccessToken, CustomRobot, WebhookSecret};
    /// let robot = CustomRobot::new(AccessToken::new("tok")).with_secret(WebhookSecret::new("SEC1"));
    /// # let _ = robot;
    /// ```
    #[must_use]
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The webhook URL for a post at `now_ms`, signed when the robot has a secret.
    /// Contains the access token: do not log it.
    ///
    /// ```
    /// use dingtalk_robot::{AccessToken, CustomRobot, WebhookSecret};
    /// let robot = CustomRobot::new(AccessToken::new("abc"))
    ///     .with_secret(WebhookSecret::new("SECtest0123456789abcdef"));
    /// assert_eq!(
    ///     robot.url("https://oapi.dingtalk.com", 1_700_000_000_000),
    ///     "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000\
    ///      &sign=%2FlfnxUUu80FwVTsIlv2F1cMGBb%2BPxEKAwYh%2FbsRxXcc%3D",
    /// );
    /// ```
    #[must_use]
    pub fn url(&self, api_base: &str, now_ms: i64) -> String {
        // RFC 3986 unreserved characters stay as they are.
        const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let token =
            percent_encoding::utf8_percent_encode(self.access_token.expose_secret(), QUERY_VALUE);
        let mut url = format!(
            "{}/robot/send?access_token={token}",
            api_base.trim_end_matches('/')
        );
        if let Some(secret) = &self.secret {
            let (timestamp, sign) = webhook_sign(secret, now_ms);
            url.push_str("&timestamp=");
            url.push_str(&timestamp);
            url.push_str("&sign=");
            url.push_str(&sign);
        }
        url
    }
}

/// Where a message goes.
///
/// ```
/// use dingtalk_robot::{AccessToken, CustomRobot, SessionWebhook, Target};
/// let robot: Target = CustomRobot::new(AccessToken::new("tok")).into();
/// let session: Target = SessionWebhook::new("https://oapi.dingtalk.com/robot/sendBySession?session=x", None).into();
/// # let _ = (robot, session);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Reply to a callback's conversation.
    Session(SessionWebhook),
    /// Post through a custom group robot.
    Robot(CustomRobot),
}

impl From<SessionWebhook> for Target {
    fn from(hook: SessionWebhook) -> Self {
        Self::Session(hook)
    }
}

impl From<CustomRobot> for Target {
    fn from(robot: CustomRobot) -> Self {
        Self::Robot(robot)
    }
}

/// Why a message was not delivered. Never contains an access token, secret, signature or
/// session URL.
///
/// ```
/// use dingtalk_robot::SendError;
/// let err = SendError::Api { code: 400105, errmsg: "不支持的消息类型".into() };
/// assert_eq!(err.errcode(), Some(400105));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The sessionWebhook has expired (DingTalk gives 90 minutes): reply another way.
    #[error("the sessionWebhook expired at {expired_at_ms} ms (now {now_ms} ms)")]
    SessionExpired {
        /// Expiry, Unix ms.
        expired_at_ms: i64,
        /// The time of the attempt, Unix ms.
        now_ms: i64,
    },
    /// The sessionWebhook is not a DingTalk URL (nor on the configured API base), so it is not
    /// posted to.
    #[error("the sessionWebhook is not a DingTalk URL")]
    UntrustedWebhook,
    /// DingTalk kept answering errcode 130101 (rate limited) through every retry.
    #[error(
        "DingTalk rate limited the robot (errcode 130101) through {attempts} attempts: {errmsg}"
    )]
    RateLimited {
        /// Attempts made.
        attempts: u32,
        /// DingTalk's last errmsg.
        errmsg: String,
    },
    /// errcode 310000: the keyword, 加签 signature, timestamp or IP allow-list check failed.
    #[error(
        "DingTalk rejected the message (errcode 310000: keyword, signature, timestamp or IP check): {errmsg}"
    )]
    Rejected {
        /// DingTalk's errmsg.
        errmsg: String,
    },
    /// errcode 300001 or 300005: DingTalk does not accept the access token.
    #[error("DingTalk does not accept the access token (errcode {code}): {errmsg}")]
    InvalidToken {
        /// 300001 or 300005.
        code: i64,
        /// DingTalk's errmsg.
        errmsg: String,
    },
    /// Any other non-zero errcode.
    #[error("DingTalk answered errcode {code}: {errmsg}")]
    Api {
        /// DingTalk's errcode.
        code: i64,
        /// DingTalk's errmsg.
        errmsg: String,
    },
    /// DingTalk answered with an HTTP error status (after retries for 5xx).
    #[error("DingTalk answered HTTP {status}")]
    Http {
        /// The status code.
        status: u16,
    },
    /// DingTalk's answer was not `errcode`/`errmsg` JSON.
    #[error("DingTalk's answer (HTTP {status}) is not errcode/errmsg JSON")]
    InvalidResponse {
        /// The status code.
        status: u16,
    },
    /// DingTalk could not be reached (after retries).
    #[error("could not reach DingTalk: {0}")]
    Transport(#[source] reqwest::Error),
    /// A long message was split and one of its parts failed; earlier parts were delivered.
    #[error("delivered {delivered} of {total} parts, then: {source}")]
    Incomplete {
        /// Parts delivered before the failure.
        delivered: usize,
        /// Parts in all.
        total: usize,
        /// Why the next part failed.
        #[source]
        source: Box<SendError>,
    },
}

impl SendError {
    /// The innermost error (looks through [`SendError::Incomplete`]).
    ///
    /// ```
    /// use dingtalk_robot::SendError;
    /// let err = SendError::Incomplete { delivered: 1, total: 2, source: Box::new(SendError::UntrustedWebhook) };
    /// assert!(matches!(err.root(), SendError::UntrustedWebhook));
    /// ```
    #[must_use]
    pub fn root(&self) -> &Self {
        match self {
            Self::Incomplete { source, .. } => source.root(),
            other => other,
        }
    }

    /// DingTalk's errcode, if it answered with one.
    ///
    /// ```
    /// let err = dingtalk_robot::SendError::Rejected { errmsg: "keywords not in content".into() };
    /// assert_eq!(err.errcode(), Some(310000));
    /// ```
    #[must_use]
    pub fn errcode(&self) -> Option<i64> {
        match self.root() {
            Self::RateLimited { .. } => Some(ERRCODE_RATE_LIMITED),
            Self::Rejected { .. } => Some(ERRCODE_REJECTED),
            Self::InvalidToken { code, .. } | Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Maps a DingTalk `errcode`/`errmsg` answer to an error; `None` for errcode 0.
    fn from_errcode(code: i64, errmsg: String, attempts: u32) -> Option<Self> {
        Some(match code {
            0 => return None,
            ERRCODE_RATE_LIMITED => Self::RateLimited { attempts, errmsg },
            ERRCODE_REJECTED => Self::Rejected { errmsg },
            ERRCODE_TOKEN_NOT_EXIST | ERRCODE_TOKEN_INVALID => Self::InvalidToken { code, errmsg },
            code => Self::Api { code, errmsg },
        })
    }
}

/// Why a [`Sender`] could not be built.
///
/// ```
/// let err = dingtalk_robot::Sender::builder().api_base("not a url").build().unwrap_err();
/// assert!(err.to_string().contains("API base"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The API base is not an absolute http(s) URL.
    #[error("the DingTalk API base is not an absolute http(s) URL")]
    InvalidApiBase,
    /// The HTTP client could not be created (TLS initialisation).
    #[error("could not create the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

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
    /// [`BuildError`] if the API base is not an http(s) URL or the HTTP client cannot start.
    ///
    /// ```
    /// let sender = dingtalk_robot::Sender::builder().build().unwrap();
    /// # let _ = sender;
    /// ```
    pub fn build(self) -> Result<Sender, BuildError> {
        let base = url::Url::parse(&self.api_base).map_err(|_| BuildError::InvalidApiBase)?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(BuildError::InvalidApiBase);
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| BuildError::Http(e.without_url()))?;
        Ok(Sender {
            inner: Arc::new(Inner {
                http,
                api_base: self.api_base.trim_end_matches('/').to_owned(),
                base_origin: base.origin(),
                trust_loopback: self.trust_loopback,
                rate_limit: self.rate_limit,
                retry: self.retry,
                limiters: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// Sends messages to DingTalk webhooks.
///
/// - Paces itself per webhook ([`RateLimit`], 20 a minute by default) and sends one message at
///   a time per webhook, so the parts of a long message arrive in order.
/// - Splits long `text`/`markdown` messages ([`OutboundMessage::split`]).
/// - On errcode 130101 waits and retries ([`RetryPolicy`]); transport errors and HTTP 5xx are
///   retried with backoff. A message that still cannot be delivered comes back as a
///   [`SendError`]; nothing is dropped silently.
///
/// Cheap to clone; clones share the limiters and the connection pool.
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
    base_origin: url::Origin,
    trust_loopback: bool,
    rate_limit: RateLimit,
    retry: RetryPolicy,
    limiters: Mutex<HashMap<String, Arc<Limiter>>>,
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

/// Completion times of the recent sends to one webhook; the async lock also serialises sends.
type Limiter = tokio::sync::Mutex<VecDeque<Instant>>;

/// Prune idle limiters once the map grows past this.
const LIMITER_PRUNE_AT: usize = 256;

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
            trust_loopback: false,
            rate_limit: RateLimit::default(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Sends a message (split into parts if long) and returns how many parts were delivered.
    ///
    /// # Errors
    /// [`SendError`]; when a later part of a split message fails, [`SendError::Incomplete`]
    /// says how many parts were delivered first.
    ///
    /// ```no_run
    /// # use dingtalk_robot::{InboundMessage, OutboundMessage, Sender, SessionWebhook};
    /// # async fn run(sender: Sender, callback: InboundMessage) -> Result<(), dingtalk_robot::SendError> {
    /// if let Some(hook) = SessionWebhook::from_message(&callback) {
    ///     sender.send(&hook.into(), OutboundMessage::text("收到")).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send(
        &self,
        target: &Target,
        message: OutboundMessage,
    ) -> Result<usize, SendError> {
        let parts = message.split();
        let total = parts.len();
        for (index, part) in parts.into_iter().enumerate() {
            if let Err(err) = self.send_one(target, &part).await {
                return Err(if index == 0 {
                    err
                } else {
                    SendError::Incomplete {
                        delivered: index,
                        total,
                        source: Box::new(err),
                    }
                });
            }
        }
        Ok(total)
    }

    fn check_session(&self, hook: &SessionWebhook) -> Result<(), SendError> {
        let now = now_ms();
        if let Some(expired_at_ms) = hook.expires_at_ms.filter(|&at| at <= now) {
            return Err(SendError::SessionExpired {
                expired_at_ms,
                now_ms: now,
            });
        }
        let url = url::Url::parse(&hook.url).map_err(|_| SendError::UntrustedWebhook)?;
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
            Err(SendError::UntrustedWebhook)
        }
    }

    fn limiter(&self, key: &str) -> Arc<Limiter> {
        let mut map = self
            .inner
            .limiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map.len() >= LIMITER_PRUNE_AT {
            let per = self.inner.rate_limit.per;
            map.retain(|_, limiter| {
                Arc::strong_count(limiter) > 1
                    || limiter
                        .try_lock()
                        .map_or(true, |sent| sent.back().is_some_and(|t| t.elapsed() < per))
            });
        }
        Arc::clone(map.entry(key.to_owned()).or_default())
    }

    async fn send_one(&self, target: &Target, message: &OutboundMessage) -> Result<(), SendError> {
        let (kind, key) = match target {
            Target::Session(hook) => {
                self.check_session(hook)?;
                ("session", hook.url.clone())
            }
            Target::Robot(robot) => (
                "robot",
                format!("robot:{}", robot.access_token.expose_secret()),
            ),
        };
        let limiter = self.limiter(&key);
        let mut sent = limiter.lock().await;
        let limit = self.inner.rate_limit;
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
            let url = match target {
                Target::Session(hook) => hook.url.clone(),
                Target::Robot(robot) => robot.url(&self.inner.api_base, now_ms()),
            };
            attempts += 1;
            let outcome = self.post(&url, message).await;
            sent.push_back(Instant::now());
            let err = match outcome {
                Ok(()) => {
                    tracing::debug!(kind, attempts, msgtype = message.msgtype(), "delivered");
                    return Ok(());
                }
                Err(err) => err,
            };
            let wait = match &err {
                SendError::RateLimited { .. } if rate_limited < retry.rate_limited_retries => {
                    rate_limited += 1;
                    retry.rate_limited_wait
                }
                SendError::Transport(_) | SendError::Http { status: 500.. }
                    if transient < retry.transient_retries =>
                {
                    transient += 1;
                    retry.transient_backoff * 2_u32.saturating_pow(transient - 1)
                }
                _ => {
                    tracing::warn!(kind, attempts, error = %err, "message not delivered");
                    return Err(match err {
                        SendError::RateLimited { errmsg, .. } => {
                            SendError::RateLimited { attempts, errmsg }
                        }
                        other => other,
                    });
                }
            };
            tracing::info!(kind, attempts, error = %err, wait_ms = wait.as_millis(), "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn post(&self, url: &str, message: &OutboundMessage) -> Result<(), SendError> {
        let response = self
            .inner
            .http
            .post(url)
            .json(message)
            .send()
            .await
            .map_err(|e| SendError::Transport(e.without_url()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| SendError::Transport(e.without_url()))?;
        if status >= 500 {
            // A server fault, whatever the body says: worth a retry.
            return Err(SendError::Http { status });
        }
        match serde_json::from_slice::<Answer>(&body) {
            Ok(answer) => match SendError::from_errcode(answer.errcode, answer.errmsg, 1) {
                None if (200..300).contains(&status) => Ok(()),
                None => Err(SendError::Http { status }),
                Some(err) => Err(err),
            },
            Err(_) if !(200..300).contains(&status) => Err(SendError::Http { status }),
            Err(_) => Err(SendError::InvalidResponse { status }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_map_to_typed_errors_and_keep_unknown_codes() {
        assert!(SendError::from_errcode(0, "ok".into(), 1).is_none());
        assert!(matches!(
            SendError::from_errcode(130_101, "send too fast".into(), 4),
            Some(SendError::RateLimited { attempts: 4, .. })
        ));
        assert!(matches!(
            SendError::from_errcode(310_000, "sign not match".into(), 1),
            Some(SendError::Rejected { .. })
        ));
        for code in [300_001, 300_005] {
            assert!(matches!(
                SendError::from_errcode(code, "token is not exist".into(), 1),
                Some(SendError::InvalidToken { code: c, .. }) if c == code
            ));
        }
        let other = SendError::from_errcode(400_105, "不支持的消息类型".into(), 1);
        assert!(
            matches!(&other, Some(SendError::Api { code: 400_105, errmsg }) if errmsg == "不支持的消息类型")
        );
        assert_eq!(other.map(|e| e.errcode()), Some(Some(400_105)));
    }

    #[test]
    fn custom_robot_url_escapes_only_reserved_characters_in_token() {
        let robot = CustomRobot::new(AccessToken::new("a-b_c.d~e+f/g"));
        assert_eq!(
            robot.url("https://x/", 0),
            "https://x/robot/send?access_token=a-b_c.d~e%2Bf%2Fg"
        );
    }
}
