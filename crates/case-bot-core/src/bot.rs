//! [`CaseBot`]: `http::Request<Bytes>` in, `http::Response<Bytes>` out.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dingtalk_robot::{
    CallbackVerifier, CustomRobot, InboundMessage, MessageContent, OutboundMessage, Sender,
    SessionWebhook, Target,
};
use http::{Method, Request, Response, StatusCode};
use support_commands::{
    CaseFilter, CaseId, CaseRef, Command, Lang, MAX_BODY_CHARS, Service, ServiceIndex, SupportApi,
    SupportError, help_text, parse,
};
use tokio::sync::Notify;
use tracing::Instrument as _;

use crate::config::{BotConfig, ReplyMode, ResolvePolicy};
use crate::render;
use crate::secrets::{CachedSecrets, SecretSource, Secrets};
use crate::store::{AuditRecord, CaseLink, MemoryStore, Store, unix_ms};

/// The callback path (the robot's "消息接收地址").
pub const CALLBACK_PATH: &str = "/dingtalk/callback";
/// The health path.
pub const HEALTH_PATH: &str = "/healthz";

/// Who sent a message and from where.
#[derive(Debug, Clone)]
struct Context {
    nick: String,
    staff_id: Option<String>,
    conversation_id: String,
    conversation_title: Option<String>,
    session: Option<SessionWebhook>,
    /// The idempotency key the message was admitted under (`msg:<msgId>`), for the audit.
    claim_key: Option<String>,
}

/// Records `field` on the request's span. With info logging off (as under load with
/// `CASE_BOT_LOG=warn`) the span is disabled, so even looking it up is skipped.
fn record_on_span<V: tracing::Value>(field: &'static str, value: V) {
    if tracing::level_enabled!(tracing::Level::INFO) {
        tracing::Span::current().record(field, value);
    }
}

/// `tokio::time::timeout`, but the timer is only armed if `future` is not ready at its first
/// poll: most commands (help, cached lookups) answer at once, and arming a timer costs a clock
/// read and a reference count on the runtime shared by every worker.
async fn within<F: std::future::Future + Unpin>(
    deadline: Duration,
    mut future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    use std::task::Poll;
    let first = std::future::poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut future).poll(cx)));
    match first.await {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => tokio::time::timeout(deadline, future).await,
    }
}

/// What the bot needs from a callback body. Read in a plain function so the whole
/// `InboundMessage` never sits in the request's future.
struct Message {
    ctx: Context,
    msg_id: Option<String>,
    /// The command text, if the message has any.
    text: Option<String>,
    /// A message type with no text (picture, file, …).
    non_text: bool,
}

impl Message {
    fn read(body: &[u8]) -> Result<Self, dingtalk_robot::Error> {
        let mut msg = InboundMessage::from_json(body)?;
        let text = msg.command_string();
        let non_text = !matches!(
            msg.content(),
            MessageContent::Text { .. }
                | MessageContent::RichText { .. }
                | MessageContent::Audio { .. }
        );
        let msg_id = msg.msg_id.take();
        Ok(Self {
            ctx: Context::from(msg),
            msg_id,
            text,
            non_text,
        })
    }
}

impl From<InboundMessage> for Context {
    fn from(mut msg: InboundMessage) -> Self {
        // The URL is moved, not copied: most replies never use it (`--reply response`).
        let session = msg
            .session_webhook
            .take()
            .map(|url| SessionWebhook::new(url, msg.session_webhook_expired_time));
        Self {
            nick: msg.sender_nick.unwrap_or_else(|| "unknown".to_owned()),
            staff_id: msg.sender_staff_id,
            conversation_id: msg.conversation_id.unwrap_or_default(),
            conversation_title: msg.conversation_title,
            session,
            claim_key: None,
        }
    }
}

impl Context {
    /// The line AWS sees under a case body or reply, since AWS only sees the bot's role.
    fn attribution(&self, lang: Lang) -> String {
        match (&self.conversation_title, lang) {
            (Some(title), Lang::Zh) => format!("\n\n— {} 通过钉钉群「{title}」提交", self.nick),
            (Some(title), _) => format!("\n\n— {} via DingTalk group \"{title}\"", self.nick),
            (None, Lang::Zh) => format!("\n\n— {} 通过钉钉单聊提交", self.nick),
            (None, _) => format!("\n\n— {} via DingTalk", self.nick),
        }
    }
}

/// A reply rendered once and reused (help, lookups): the message, and when it fits one
/// DingTalk message, its JSON ready for the HTTP response (`--reply response`), so a repeated
/// command neither re-renders nor re-serialises it.
#[derive(Debug)]
struct Prepared {
    message: OutboundMessage,
    body: Option<Bytes>,
}

impl Prepared {
    fn new(message: OutboundMessage) -> Arc<Self> {
        let parts = message.clone().split();
        let body = match parts.as_slice() {
            [one] => serde_json::to_vec(one).ok().map(Bytes::from),
            _ => None,
        };
        Arc::new(Self { message, body })
    }
}

/// What a command answers.
enum Reply {
    /// Rendered for this request.
    Fresh(OutboundMessage),
    /// Shared with other requests.
    Prepared(Arc<Prepared>),
}

impl Reply {
    fn into_message(self) -> OutboundMessage {
        match self {
            Self::Fresh(message) => message,
            Self::Prepared(prepared) => prepared.message.clone(),
        }
    }
}

/// The result of one command, for the reply, the audit trail and the logs.
struct Outcome {
    reply: Reply,
    case_id: Option<String>,
    outcome: Cow<'static, str>,
}

impl Outcome {
    fn reply(message: OutboundMessage, outcome: impl Into<Cow<'static, str>>) -> Self {
        Self {
            reply: Reply::Fresh(message),
            case_id: None,
            outcome: outcome.into(),
        }
    }

    fn prepared(prepared: &Arc<Prepared>, outcome: &'static str) -> Self {
        Self {
            reply: Reply::Prepared(Arc::clone(prepared)),
            case_id: None,
            outcome: Cow::Borrowed(outcome),
        }
    }

    fn with_case(mut self, case_id: &str) -> Self {
        self.case_id = Some(case_id.to_owned());
        self
    }
}

fn error_code(err: &SupportError) -> Cow<'static, str> {
    Cow::Borrowed(match err {
        SupportError::CaseNotFound(_) => "case-not-found",
        SupportError::SubscriptionRequired => "subscription-required",
        SupportError::CaseCreationLimitExceeded(_) => "case-limit",
        SupportError::Throttled(_) => "throttled",
        SupportError::InvalidParameter(_) => "invalid-parameter",
        SupportError::AccessDenied(_) => "access-denied",
        SupportError::Timeout => "timeout",
        SupportError::Transport(_) => "unreachable",
        other => return Cow::Owned(format!("error: {other}")),
    })
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn rejection(status: StatusCode, reason: &str) -> Response<Bytes> {
    json_response(status, serde_json::json!({ "error": reason }))
}

/// Builds a [`CaseBot`].
///
/// ```
/// use std::sync::Arc;
/// use case_bot_core::{CaseBot, Secrets, StaticSecrets};
/// let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"dev"}"#).unwrap());
/// let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets)).build().unwrap();
/// # let _ = bot;
/// ```
pub struct CaseBotBuilder {
    support: Arc<dyn SupportApi>,
    secrets: Arc<dyn SecretSource>,
    store: Arc<dyn Store>,
    config: BotConfig,
    sender: Option<Sender>,
    api_base: Option<String>,
}

impl std::fmt::Debug for CaseBotBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseBotBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Why a [`CaseBot`] could not be built.
///
/// ```
/// # use std::sync::Arc;
/// # use case_bot_core::*;
/// let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"dev"}"#).unwrap());
/// let err = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets)).api_base("nope").build().unwrap_err();
/// assert!(err.to_string().contains("DingTalk"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("could not build the DingTalk sender: {0}")]
pub struct BuildError(#[source] dingtalk_robot::Error);

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
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// The settings.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let b = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// let b = b.config(BotConfig::default());
    /// # let _ = b;
    /// ```
    #[must_use]
    pub fn config(mut self, config: BotConfig) -> Self {
        self.config = config;
        self
    }

    /// A ready sender (pacing and retries of your choice); overrides [`api_base`](Self::api_base).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let b = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// let b = b.sender(dingtalk_robot::Sender::builder().build().unwrap());
    /// # let _ = b;
    /// ```
    #[must_use]
    pub fn sender(mut self, sender: Sender) -> Self {
        self.sender = Some(sender);
        self
    }

    /// DingTalk's origin (default `https://oapi.dingtalk.com`; tests point it at the fake).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let b = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// let b = b.api_base("http://127.0.0.1:9000");
    /// # let _ = b;
    /// ```
    #[must_use]
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = Some(base.into());
        self
    }

    /// Builds the bot.
    ///
    /// # Errors
    /// [`BuildError`] if the DingTalk API base is not a URL.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let b = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())));
    /// let bot = b.build().unwrap();
    /// # let _ = bot;
    /// ```
    pub fn build(self) -> Result<CaseBot, BuildError> {
        let sender = match self.sender {
            Some(sender) => sender,
            None => {
                let mut builder = Sender::builder();
                if let Some(base) = self.api_base {
                    builder = builder.api_base(base);
                }
                builder.build().map_err(BuildError)?
            }
        };
        if self.config.allowed_conversations.is_empty() {
            tracing::warn!(
                "no conversation allow-list: any DingTalk conversation that can reach the robot may use it"
            );
        }
        let help = Prepared::new(render::text(help_text(self.config.lang)));
        Ok(CaseBot {
            inner: Arc::new(Inner {
                secrets: CachedSecrets::new(
                    self.secrets,
                    Duration::from_secs(300),
                    Duration::from_secs(30),
                ),
                support: Arc::new(support_commands::Cached::new(self.support)),
                store: self.store,
                config: self.config,
                sender,
                index: Mutex::new(None),
                verifier: Mutex::new(None),
                lookups: Mutex::new(LookupCache::default()),
                help,
                requests: AtomicU64::new(0),
                delivery_failures: AtomicU64::new(0),
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
            }),
        })
    }
}

/// The bot: verifies, de-duplicates, authorises, runs the command against AWS Support and
/// replies. Cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use bytes::Bytes;
/// use case_bot_core::{CaseBot, Secrets, StaticSecrets};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"dev"}"#).unwrap());
/// let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets)).build().unwrap();
/// let unsigned = http::Request::post("/dingtalk/callback").body(Bytes::from_static(b"{}")).unwrap();
/// assert_eq!(bot.handle(unsigned).await.status(), 401);
/// # }
/// ```
#[derive(Clone)]
pub struct CaseBot {
    inner: Arc<Inner>,
}

/// A value derived from a shared one, kept while the source is the same `Arc` (the service
/// index of the cached catalogue, the verifier of the cached secret).
type Derived<S, V> = Mutex<Option<(Arc<S>, Arc<V>)>>;

/// The value derived from `source`, made again only when `source` is another `Arc`.
fn derived<S, V>(slot: &Derived<S, V>, source: &Arc<S>, make: impl FnOnce(&Arc<S>) -> V) -> Arc<V> {
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((cached, value)) = slot.as_ref()
        && Arc::ptr_eq(cached, source)
    {
        return Arc::clone(value);
    }
    let value = Arc::new(make(source));
    *slot = Some((Arc::clone(source), Arc::clone(&value)));
    value
}

/// Lookup replies of one index.
#[derive(Default)]
struct LookupCache {
    index: Option<Arc<ServiceIndex>>,
    replies: std::collections::HashMap<String, (Arc<Prepared>, &'static str)>,
}

/// Most cached lookup replies; the cache starts over when full.
const LOOKUP_CACHE_ENTRIES: usize = 1024;

struct Inner {
    secrets: CachedSecrets,
    support: Arc<dyn SupportApi>,
    store: Arc<dyn Store>,
    config: BotConfig,
    sender: Sender,
    /// The service index, rebuilt only when the (cached) catalogue changes.
    index: Derived<Vec<Service>, ServiceIndex>,
    /// The callback verifier of the current secret value.
    verifier: Derived<Secrets, CallbackVerifier>,
    /// Rendered lookup replies per query, for the current index (lookups repeat a lot).
    lookups: Mutex<LookupCache>,
    /// The help, rendered once.
    help: Arc<Prepared>,
    requests: AtomicU64,
    delivery_failures: AtomicU64,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl std::fmt::Debug for CaseBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseBot")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Decrements the in-flight count when a background reply ends, however it ends.
struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
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
    #[must_use]
    pub fn builder(support: Arc<dyn SupportApi>, secrets: Arc<dyn SecretSource>) -> CaseBotBuilder {
        CaseBotBuilder {
            support,
            secrets,
            store: Arc::new(MemoryStore::default()),
            config: BotConfig::default(),
            sender: None,
            api_base: None,
        }
    }

    /// Replies that could not be delivered after retries, since start.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// assert_eq!(bot.delivery_failures(), 0);
    /// ```
    #[must_use]
    pub fn delivery_failures(&self) -> u64 {
        self.inner.delivery_failures.load(Ordering::SeqCst)
    }

    /// Waits until every background reply has finished, or `timeout` passes, then flushes the
    /// store; returns whether all replies finished (for graceful shutdown).
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
        let deadline = tokio::time::Instant::now() + timeout;
        let finished = loop {
            let idle = self.inner.idle.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                break true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                break self.inner.in_flight.load(Ordering::SeqCst) == 0;
            }
        };
        self.inner.store.flush().await;
        finished
    }

    /// Handles one HTTP request: `POST /dingtalk/callback`, `GET /healthz`.
    ///
    /// Status codes: 200 (handled, including duplicates and refusals, which get a chat
    /// reply), 400 (not a DingTalk callback body), 401 (missing or bad signature or
    /// timestamp), 404, 405, 413 (body over 64 KiB), 415 (a declared content type other than
    /// JSON), 503 (the secret could not be read).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let health = http::Request::get("/healthz").body(bytes::Bytes::new()).unwrap();
    /// assert_eq!(bot.handle(health).await.status(), 200);
    /// # }
    /// ```
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let n = self.inner.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let span = tracing::info_span!(
            "request",
            id = n,
            command = tracing::field::Empty,
            conversation = tracing::field::Empty,
            case_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty
        );
        if span.is_disabled() {
            // Logging below info: no span to fill in, so no clock to read.
            return self.route(request).await;
        }
        let started = Instant::now();
        let response = self.route(request).instrument(span.clone()).await;
        span.record("status", response.status().as_u16());
        span.record(
            "latency_ms",
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        span.in_scope(|| tracing::info!("handled"));
        response
    }

    async fn route(&self, request: Request<Bytes>) -> Response<Bytes> {
        match (request.method(), request.uri().path()) {
            (&Method::GET, HEALTH_PATH) => json_response(
                StatusCode::OK,
                serde_json::json!({
                    "status": "ok",
                    "requests": self.inner.requests.load(Ordering::Relaxed),
                    "reply_failures": self.delivery_failures(),
                    "replies_in_flight": self.inner.in_flight.load(Ordering::SeqCst),
                }),
            ),
            // Boxed: the callback's future is kilobytes; moving it through every layer of
            // futures showed up as memcpy in the load profile.
            (&Method::POST, CALLBACK_PATH) => Box::pin(self.callback(request)).await,
            (_, CALLBACK_PATH) => rejection(StatusCode::METHOD_NOT_ALLOWED, "use POST"),
            (_, HEALTH_PATH) => rejection(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
            _ => rejection(
                StatusCode::NOT_FOUND,
                "no such route; DingTalk posts to /dingtalk/callback",
            ),
        }
    }

    /// The verifier for `secrets`, built once per secret value (it holds the keyed HMAC state).
    fn verifier(&self, secrets: &Arc<Secrets>) -> Arc<CallbackVerifier> {
        derived(&self.inner.verifier, secrets, |secrets| {
            CallbackVerifier::new(secrets.app_secret.clone())
        })
    }

    async fn verify(&self, headers: &http::HeaderMap) -> Result<Arc<Secrets>, Response<Bytes>> {
        let unavailable = || {
            rejection(
                StatusCode::SERVICE_UNAVAILABLE,
                "the robot's secret is unavailable",
            )
        };
        let secrets = self.inner.secrets.get().await.map_err(|err| {
            tracing::error!(error = %err, "cannot read the robot's secret");
            unavailable()
        })?;
        match self.verifier(&secrets).verify_headers(headers) {
            Ok(()) => Ok(secrets),
            Err(dingtalk_robot::Error::SignatureMismatch { .. })
                if self.inner.secrets.refresh().await =>
            {
                // The secret may have rotated: one more try with the fresh value.
                let fresh = self.inner.secrets.get().await.map_err(|_| unavailable())?;
                self.verifier(&fresh)
                    .verify_headers(headers)
                    .map(|()| fresh)
                    .map_err(|err| rejection(StatusCode::UNAUTHORIZED, &err.to_string()))
            }
            Err(err) => Err(rejection(StatusCode::UNAUTHORIZED, &err.to_string())),
        }
    }

    async fn callback(&self, request: Request<Bytes>) -> Response<Bytes> {
        let (parts, body) = request.into_parts();
        let max = self.inner.config.max_body_bytes;
        if body.len() > max {
            return rejection(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {max} bytes"),
            );
        }
        // DingTalk posts JSON; a declared other type is a client error (no type is tolerated).
        if let Some(content_type) = parts.headers.get(http::header::CONTENT_TYPE)
            && !content_type.to_str().is_ok_and(|t| {
                t.trim_start()
                    .get(.."application/json".len())
                    .is_some_and(|p| p.eq_ignore_ascii_case("application/json"))
            })
        {
            return rejection(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be application/json",
            );
        }
        let secrets = match self.verify(&parts.headers).await {
            Ok(secrets) => secrets,
            Err(response) => return response,
        };
        let Message {
            mut ctx,
            msg_id,
            text,
            non_text,
        } = match Message::read(&body) {
            Ok(message) => message,
            Err(err) => return rejection(StatusCode::BAD_REQUEST, &err.to_string()),
        };
        record_on_span("conversation", ctx.conversation_id.as_str());
        if let Some(msg_id) = msg_id {
            let ttl =
                i64::try_from(self.inner.config.idempotency_ttl.as_millis()).unwrap_or(i64::MAX);
            let mut key = String::with_capacity("msg:".len() + msg_id.len());
            key.push_str("msg:");
            key.push_str(&msg_id);
            match self.inner.store.claim(&key, ttl).await {
                Ok(true) => ctx.claim_key = Some(key),
                Ok(false) => {
                    record_on_span("outcome", "duplicate");
                    return json_response(
                        StatusCode::OK,
                        serde_json::json!({ "status": "duplicate" }),
                    );
                }
                // Without the store a duplicate cannot be recognised; answering is better than dropping.
                Err(err) => {
                    tracing::warn!(error = %err, "idempotency check failed; handling the message anyway")
                }
            }
        }

        let bot = self.clone();
        let work = async move {
            let (session, outcome) = bot.run(ctx, text.as_deref(), non_text).await;
            record_on_span("outcome", &*outcome.outcome);
            if let Some(case_id) = &outcome.case_id {
                record_on_span("case_id", case_id.as_str());
            }
            (session, outcome)
        };

        let config = &self.inner.config;
        if config.reply_mode == ReplyMode::Response {
            let (session, outcome) = work.await;
            // The first DingTalk message goes in the response; any further parts are posted.
            let (head, rest) = match outcome.reply {
                Reply::Prepared(prepared) if prepared.body.is_some() => {
                    (prepared.body.clone(), Vec::new())
                }
                reply => {
                    let mut parts = reply.into_message().split().into_iter();
                    let head = parts
                        .next()
                        .and_then(|message| serde_json::to_vec(&message).ok())
                        .map(Bytes::from);
                    (head, parts.collect())
                }
            };
            if !rest.is_empty() {
                Box::pin(self.deliver(
                    session.as_ref(),
                    &secrets,
                    rest,
                    outcome.case_id.as_deref(),
                ))
                .await;
            }
            let mut response = Response::new(head.unwrap_or_else(|| Bytes::from_static(b"{}")));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json; charset=utf-8"),
            );
            return response;
        }
        if config.reply_before_response {
            let (session, outcome) = work.await;
            Box::pin(self.deliver(
                session.as_ref(),
                &secrets,
                vec![outcome.reply.into_message()],
                outcome.case_id.as_deref(),
            ))
            .await;
            return json_response(StatusCode::OK, serde_json::json!({}));
        }
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(Arc::clone(&self.inner));
        let bot = self.clone();
        tokio::spawn(
            async move {
                let _guard = guard;
                let started = Instant::now();
                let (session, outcome) = work.await;
                bot.deliver(
                    session.as_ref(),
                    &secrets,
                    vec![outcome.reply.into_message()],
                    outcome.case_id.as_deref(),
                )
                .await;
                let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                tracing::info!(latency_ms, "replied");
            }
            .instrument(tracing::Span::current()),
        );
        json_response(StatusCode::OK, serde_json::json!({}))
    }

    async fn deliver(
        &self,
        session: Option<&SessionWebhook>,
        secrets: &Secrets,
        messages: Vec<OutboundMessage>,
        case_id: Option<&str>,
    ) {
        let robot = secrets.access_token.clone().map(|token| {
            let robot = CustomRobot::new(token);
            match &secrets.webhook_secret {
                Some(secret) => robot.with_secret(secret.clone()),
                None => robot,
            }
        });
        let target: Option<Target> = match self.inner.config.reply_mode {
            ReplyMode::Webhook => robot
                .map(Target::from)
                .or_else(|| session.cloned().map(Target::from)),
            _ => session
                .cloned()
                .map(Target::from)
                .or_else(|| robot.map(Target::from)),
        };
        let Some(target) = target else {
            self.inner.delivery_failures.fetch_add(1, Ordering::SeqCst);
            let undelivered: Vec<String> = messages
                .iter()
                .filter_map(|m| serde_json::to_string(m).ok())
                .collect();
            tracing::error!(
                case_id,
                reply = ?undelivered,
                "reply not delivered: no sessionWebhook in the callback and no access_token configured"
            );
            return;
        };
        for message in messages {
            // Kept for the log: an undelivered reply must stay visible to an operator.
            let undelivered = serde_json::to_string(&message).unwrap_or_default();
            if let Err(err) = self.inner.sender.send(&target, message).await {
                self.inner.delivery_failures.fetch_add(1, Ordering::SeqCst);
                tracing::error!(case_id, error = %err, reply = %undelivered, "reply not delivered after retries");
            }
        }
    }

    fn lang(&self) -> Lang {
        self.inner.config.lang
    }

    /// Runs the message and writes its audit record: one per admitted message, whatever it was.
    /// Returns the session webhook to reply to; the rest of `ctx` goes into the audit record.
    async fn run(
        &self,
        ctx: Context,
        text: Option<&str>,
        non_text: bool,
    ) -> (Option<SessionWebhook>, Outcome) {
        let (command, outcome) = self.answer(&ctx, text, non_text).await;
        let session = self.audit(ctx, command, &outcome).await;
        (session, outcome)
    }

    /// The audit trail's name for what was asked, and the outcome.
    async fn answer(
        &self,
        ctx: &Context,
        text: Option<&str>,
        non_text: bool,
    ) -> (&'static str, Outcome) {
        let lang = self.lang();
        let config = &self.inner.config;
        if !config.allowed_conversations.is_empty()
            && !config.allowed_conversations.contains(&ctx.conversation_id)
        {
            let why = lang.pick(
                "这个会话不在机器人的允许列表中，请联系管理员把本群加入 --allowed-conversations。",
                "This conversation is not on the robot's allow-list; ask an admin to add it (--allowed-conversations).",
            );
            let outcome = Outcome::reply(render::refused(lang, why), "refused-conversation");
            return ("any", outcome);
        }
        match text {
            None if non_text => (
                "message",
                Outcome::reply(render::unsupported_message(lang), "unsupported-message"),
            ),
            None => ("help", Outcome::prepared(&self.inner.help, "help")),
            Some(text) => match parse(text) {
                Err(err) => (
                    "invalid",
                    Outcome::reply(render::text(err.render(lang)), "parse-error"),
                ),
                Ok(command) => {
                    let kind = command.kind().as_str();
                    record_on_span("command", kind);
                    let outcome = match within(
                        config.command_deadline,
                        // Boxed: the command futures are large, and moving them is most of a small request's cost.
                        Box::pin(self.execute(ctx, command)),
                    )
                    .await
                    {
                        Ok(outcome) => outcome,
                        Err(_) => Outcome::reply(
                            render::failed(lang, "", &SupportError::Timeout),
                            "timeout",
                        ),
                    };
                    (kind, outcome)
                }
            },
        }
    }

    /// Writes the audit record, moving the sender's fields out of `ctx` rather than copying
    /// them; hands back the session webhook.
    async fn audit(
        &self,
        ctx: Context,
        command: &'static str,
        outcome: &Outcome,
    ) -> Option<SessionWebhook> {
        let record = AuditRecord {
            at_ms: unix_ms(),
            sender: ctx.nick,
            sender_staff_id: ctx.staff_id,
            conversation_id: ctx.conversation_id,
            command: Cow::Borrowed(command),
            case_id: outcome.case_id.clone(),
            outcome: outcome.outcome.clone(),
            claim_key: ctx.claim_key,
        };
        if let Err(err) = self.inner.store.audit(record).await {
            tracing::error!(error = %err, command, "audit record not written");
        }
        ctx.session
    }

    async fn index(&self) -> Result<Arc<ServiceIndex>, SupportError> {
        let services = self
            .inner
            .support
            .describe_services(self.language_code())
            .await?;
        Ok(derived(&self.inner.index, &services, |services| {
            ServiceIndex::new(Arc::clone(services))
        }))
    }

    /// The rendered lookup reply, memoised per query for the current index.
    fn lookup_reply(
        &self,
        index: &Arc<ServiceIndex>,
        query: &str,
    ) -> (Arc<Prepared>, &'static str) {
        let mut cache = self
            .inner
            .lookups
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !cache
            .index
            .as_ref()
            .is_some_and(|cached| Arc::ptr_eq(cached, index))
        {
            cache.index = Some(Arc::clone(index));
            cache.replies.clear();
        }
        if let Some(hit) = cache.replies.get(query) {
            return hit.clone();
        }
        drop(cache);
        let matches = index.search(query, support_commands::DEFAULT_MATCHES);
        let outcome = if matches.is_empty() { "no-match" } else { "ok" };
        let reply = Prepared::new(render::lookup(self.lang(), query, &matches));
        let mut cache = self
            .inner
            .lookups
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.replies.len() >= LOOKUP_CACHE_ENTRIES {
            cache.replies.clear();
        }
        if cache
            .index
            .as_ref()
            .is_some_and(|cached| Arc::ptr_eq(cached, index))
        {
            cache
                .replies
                .insert(query.to_owned(), (Arc::clone(&reply), outcome));
        }
        (reply, outcome)
    }

    fn language_code(&self) -> &'static str {
        match self.lang() {
            Lang::En => "en",
            _ => "zh",
        }
    }

    async fn case_id_of(&self, case: &CaseRef) -> Result<CaseId, SupportError> {
        match case {
            CaseRef::CaseId(id) => Ok(id.clone()),
            other => Ok(self
                .inner
                .support
                .describe_case(other, None)
                .await?
                .case
                .case_id),
        }
    }

    /// The body with the sender's signature, or the reply explaining it is too long.
    fn with_attribution(&self, ctx: &Context, body: &str) -> Result<String, String> {
        let footer = ctx.attribution(self.lang());
        let total = body.chars().count() + footer.chars().count();
        if total > MAX_BODY_CHARS {
            let room = MAX_BODY_CHARS.saturating_sub(footer.chars().count());
            return Err(format!(
                "AWS-[{}]\n{}",
                self.lang().pick("内容过长", "too long"),
                self.lang().pick(
                    &format!("加上提交人署名后共 {total} 个字符，AWS 最多接受 {MAX_BODY_CHARS} 个；正文请控制在 {room} 个字符以内。"),
                    &format!("With the sender's signature it is {total} characters; AWS takes {MAX_BODY_CHARS}. Keep the text under {room}."),
                )
            ));
        }
        Ok(format!("{body}{footer}"))
    }

    fn may_resolve(&self, ctx: &Context, link: Option<&CaseLink>) -> bool {
        let admin = ctx
            .staff_id
            .as_ref()
            .is_some_and(|id| self.inner.config.admins.contains(id));
        match self.inner.config.resolve_policy {
            ResolvePolicy::Anyone => true,
            ResolvePolicy::AdminsOnly => admin,
            ResolvePolicy::AdminsOrOpener => {
                admin
                    || link.is_some_and(|l| {
                        l.opener_staff_id.is_some() && l.opener_staff_id == ctx.staff_id
                    })
            }
        }
    }

    async fn execute(&self, ctx: &Context, command: Command) -> Outcome {
        let lang = self.lang();
        let api = &self.inner.support;
        match command {
            Command::Help { unrecognised } => Outcome::prepared(
                &self.inner.help,
                if unrecognised {
                    "help-unrecognised"
                } else {
                    "help"
                },
            ),
            Command::LookupService { query } => match self.index().await {
                Ok(index) => {
                    let (reply, outcome) = self.lookup_reply(&index, &query);
                    Outcome::prepared(&reply, outcome)
                }
                Err(err) => Outcome::reply(
                    render::failed(lang, lang.pick("查找", "lookup "), &err),
                    error_code(&err),
                ),
            },
            Command::CreateCase(mut case) => {
                case.body = match self.with_attribution(ctx, &case.body) {
                    Ok(body) => body,
                    Err(reply) => return Outcome::reply(render::text(reply), "too-long"),
                };
                match api.create_case(&case).await {
                    Ok(id) => {
                        let link = CaseLink {
                            conversation_id: ctx.conversation_id.clone(),
                            conversation_title: ctx.conversation_title.clone(),
                            opener_staff_id: ctx.staff_id.clone(),
                            opener_nick: ctx.nick.clone(),
                            created_at_ms: unix_ms(),
                        };
                        if let Err(err) = self.inner.store.put_case(id.as_str(), &link).await {
                            tracing::error!(case_id = id.as_str(), error = %err, "case mapping not stored");
                        }
                        let display = api
                            .describe_case(&CaseRef::CaseId(id.clone()), None)
                            .await
                            .ok()
                            .and_then(|v| v.case.display_id);
                        Outcome::reply(render::created(lang, id.as_str(), display.as_deref()), "ok")
                            .with_case(id.as_str())
                    }
                    Err(err) => Outcome::reply(render::create_failed(lang, &err), error_code(&err)),
                }
            }
            Command::ViewCase { case } => match api.describe_case(&case, None).await {
                Ok(view) => {
                    let id = view.case.case_id.to_string();
                    Outcome::reply(render::case_view(lang, &view), "ok").with_case(&id)
                }
                Err(err) => Outcome::reply(
                    render::failed(lang, lang.pick("查看工单", "view"), &err),
                    error_code(&err),
                ),
            },
            Command::ListCases { include_resolved } => {
                let filter = CaseFilter {
                    include_resolved,
                    page_size: Some(20),
                };
                match api.list_cases(&filter, None).await {
                    Ok(page) => Outcome::reply(
                        render::case_list(
                            lang,
                            &page.cases,
                            include_resolved,
                            page.next_page.is_some(),
                        ),
                        "ok",
                    ),
                    Err(err) => Outcome::reply(
                        render::failed(lang, lang.pick("工单列表", "list"), &err),
                        error_code(&err),
                    ),
                }
            }
            Command::Reply { case, body, cc } => {
                let body = match self.with_attribution(ctx, &body) {
                    Ok(body) => body,
                    Err(reply) => return Outcome::reply(render::text(reply), "too-long"),
                };
                let result = async {
                    let id = self.case_id_of(&case).await?;
                    let outcome = api.add_communication(&id, &body, &cc).await?;
                    Ok::<_, SupportError>((id, outcome))
                }
                .await;
                match result {
                    Ok((id, outcome)) => Outcome::reply(
                        render::replied(lang, id.as_str(), outcome.reopened),
                        if outcome.reopened { "reopened" } else { "ok" },
                    )
                    .with_case(id.as_str()),
                    Err(err) => Outcome::reply(
                        render::failed(lang, lang.pick("回复", "reply"), &err),
                        error_code(&err),
                    ),
                }
            }
            Command::Resolve { case } => {
                let id = match self.case_id_of(&case).await {
                    Ok(id) => id,
                    Err(err) => {
                        return Outcome::reply(
                            render::resolve_failed(lang, &case.to_string(), &err),
                            error_code(&err),
                        );
                    }
                };
                let link = self.inner.store.case(id.as_str()).await.ok().flatten();
                if link.is_none() && !self.may_resolve(ctx, None) {
                    // Not opened through the bot: say whether it exists before refusing.
                    if let Err(err) = api.describe_case(&CaseRef::CaseId(id.clone()), None).await {
                        return Outcome::reply(
                            render::resolve_failed(lang, id.as_str(), &err),
                            error_code(&err),
                        )
                        .with_case(id.as_str());
                    }
                }
                if !self.may_resolve(ctx, link.as_ref()) {
                    let why = lang.pick(
                        "只有管理员或通过机器人创建该工单的人可以释放它。",
                        "Only an admin or the person who opened the case through the robot may resolve it.",
                    );
                    return Outcome::reply(render::refused(lang, why), "refused-resolve")
                        .with_case(id.as_str());
                }
                match api.resolve_case(&id).await {
                    Ok(_) => Outcome::reply(render::resolved(lang, id.as_str()), "ok")
                        .with_case(id.as_str()),
                    Err(err) => Outcome::reply(
                        render::resolve_failed(lang, id.as_str(), &err),
                        error_code(&err),
                    )
                    .with_case(id.as_str()),
                }
            }
            Command::SeverityLevels => {
                match api.describe_severity_levels(self.language_code()).await {
                    Ok(levels) => Outcome::reply(render::severity_levels(lang, &levels), "ok"),
                    Err(err) => Outcome::reply(
                        render::failed(lang, lang.pick("严重级别", "severity"), &err),
                        error_code(&err),
                    ),
                }
            }
            // `Command` is non-exhaustive: a command this bot does not know yet gets the help.
            _ => Outcome::prepared(&self.inner.help, "help"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::within;

    #[tokio::test]
    async fn within_answers_a_ready_future_and_times_out_a_stuck_one() {
        assert_eq!(
            within(Duration::from_secs(1), std::future::ready(7)).await,
            Ok(7)
        );
        let slow = Box::pin(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            8
        });
        assert_eq!(within(Duration::from_secs(1), slow).await, Ok(8));
        let stuck = Box::pin(std::future::pending::<()>());
        assert!(within(Duration::from_millis(20), stuck).await.is_err());
    }
}
