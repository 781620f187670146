//! The HTTP skin: DingTalk's callback as a `tower::Service`, for any body type, so hyper serves
//! it and so does `lambda_http::run`. It checks, in order, the method, the content type, the
//! body's size, the signature and the body's shape, then hands the message to the pipeline and
//! answers. [`other_route`] answers every other path (the health checks); each adapter routes
//! by path between the two.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dingtalk_robot::InboundMessage;
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use tracing::Instrument as _;

use crate::bot::CaseBot;
use crate::config::ReplyMode;
use crate::error::{BoxError, Error};
use crate::event::{Admission, Delivery, Event};

/// The callback path (the robot's "消息接收地址").
pub const CALLBACK_PATH: &str = "/dingtalk/callback";
/// The liveness check's path: the process answers.
pub const HEALTH_PATH: &str = "/healthz";
/// The readiness check's path: 503 while store writes fail ([`CaseBot::readiness`]).
pub const READY_PATH: &str = "/readyz";

/// A JSON response.
///
/// ```
/// let response = case_bot_core::json_response(http::StatusCode::OK, &serde_json::json!({"status": "ok"}));
/// assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
/// ```
#[must_use]
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A refusal with its reason: `{"error": "…"}`.
///
/// ```
/// let response = case_bot_core::rejection(http::StatusCode::NOT_FOUND, "no such route");
/// assert_eq!(response.status(), 404);
/// ```
#[must_use]
pub fn rejection(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    json_response(status, &serde_json::json!({ "error": reason }))
}

/// The answer to every route but the callback: `GET` [`HEALTH_PATH`] (liveness: the process
/// answers), `GET` [`READY_PATH`] ([`CaseBot::readiness`]: 503 while store writes fail), 405 for
/// another method on those, and 404 with a hint anywhere else. An adapter routes
/// [`CALLBACK_PATH`] to [`CallbackService`] and everything else here.
///
/// ```
/// # use std::sync::Arc;
/// # use case_bot_core::*;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
/// let get = http::Method::GET;
/// assert_eq!(case_bot_core::other_route(&bot, &get, "/readyz").await.status(), 200);
/// assert_eq!(case_bot_core::other_route(&bot, &http::Method::POST, "/healthz").await.status(), 405);
/// assert_eq!(case_bot_core::other_route(&bot, &get, "/").await.status(), 404);
/// # }
/// ```
pub async fn other_route(bot: &CaseBot, method: &Method, path: &str) -> Response<Full<Bytes>> {
    match path {
        HEALTH_PATH if method == Method::GET => json_response(StatusCode::OK, &bot.health()),
        READY_PATH if method == Method::GET => {
            let readiness = bot.readiness().await;
            json_response(readiness.status(), &readiness)
        }
        HEALTH_PATH | READY_PATH => rejection(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
        _ => rejection(
            StatusCode::NOT_FOUND,
            "no such route; DingTalk posts to /dingtalk/callback",
        ),
    }
}

/// The answer for a request `err` ends. The bot's own faults (5xx) are logged and answered
/// with a general reason; the details stay in the log.
fn error_response(err: &Error) -> Response<Full<Bytes>> {
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(error = %err, "callback not handled");
        return rejection(status, "the robot cannot handle callbacks right now");
    }
    rejection(status, &err.to_string())
}

/// How long a transport with no life after its answer sends the outbox before answering.
const DELIVER_BEFORE_RESPONSE: Duration = Duration::from_secs(2);

/// The settings of the skin.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_body_bytes: usize,
    body_timeout: Duration,
    reply_before_response: bool,
}

/// DingTalk's HTTP callback as a [`tower_service::Service`] (`Error = Infallible`: every
/// outcome is an HTTP response).
///
/// | status | when |
/// |---|---|
/// | 200 | handled, including duplicates and refusals (which get a chat reply) |
/// | 400 | the body is not a DingTalk callback, or could not be read |
/// | 401 | missing or bad signature or timestamp (nothing else runs) |
/// | 405 | not a POST |
/// | 408 | the body did not arrive in time |
/// | 413 | the body is over the limit (64 KiB) |
/// | 415 | a declared content type other than JSON (no content type is tolerated) |
/// | 503 | the robot's secret could not be read, or its store cannot take the message (nothing was done; send it again) |
///
/// ```
/// use std::sync::Arc;
/// use case_bot_core::{CallbackService, CaseBot, Secrets, StaticSecrets};
/// use tower::ServiceExt as _;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"dev"}"#).unwrap());
/// let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets)).build().unwrap();
/// let unsigned = http::Request::post("/dingtalk/callback")
///     .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
///     .unwrap();
/// let response = CallbackService::new(bot).oneshot(unsigned).await.unwrap();
/// assert_eq!(response.status(), 401);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CallbackService {
    bot: CaseBot,
    limits: Limits,
    /// Numbers the requests, for the logs.
    requests: Arc<AtomicU64>,
}

impl CallbackService {
    /// The skin over `bot`: bodies up to 64 KiB, read within 10 s; in `session` and `webhook`
    /// reply modes the command runs after the answer.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let service = CallbackService::new(bot);
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn new(bot: CaseBot) -> Self {
        Self {
            bot,
            limits: Limits {
                max_body_bytes: 64 * 1024,
                body_timeout: Duration::from_secs(10),
                reply_before_response: false,
            },
            requests: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The largest body accepted (then 413).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let service = CallbackService::new(bot).max_body_bytes(16 * 1024);
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_body_bytes = bytes;
        self
    }

    /// How long a body may take to arrive (then 408).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let service = CallbackService::new(bot).body_timeout(std::time::Duration::from_secs(2));
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.limits.body_timeout = timeout;
        self
    }

    /// Runs the command and delivers the reply before answering (Lambda: nothing may run
    /// after the response).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let service = CallbackService::new(bot).reply_before_response(true);
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn reply_before_response(mut self, yes: bool) -> Self {
        self.limits.reply_before_response = yes;
        self
    }

    /// Answers one request, in a span of its own that the logs name it by.
    async fn handle<B>(self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let span = tracing::info_span!(
            "request",
            id = self.requests.fetch_add(1, Ordering::Relaxed) + 1,
            command = tracing::field::Empty,
            conversation = tracing::field::Empty,
            case_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty
        );
        let started = Instant::now();
        let response = match self.callback(request).instrument(span.clone()).await {
            Ok(response) => response,
            Err(err) => span.in_scope(|| error_response(&err)),
        };
        span.record("status", response.status().as_u16());
        span.record(
            "latency_ms",
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        span.in_scope(|| tracing::info!("handled"));
        response
    }

    async fn callback<B>(&self, request: Request<B>) -> Result<Response<Full<Bytes>>, Error>
    where
        B: Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        if parts.method != Method::POST {
            return Err(Error::MethodNotAllowed("POST"));
        }
        check_content_type(&parts.headers)?;
        let body = read_body(body, self.limits).await?;
        // The signature first: an unsigned body is not even parsed.
        self.bot.verify(&parts.headers).await?;
        let event = Event::Message(InboundMessage::from_json(&body)?);
        let inline = self.bot.config().reply == ReplyMode::Response;
        if !inline && !self.limits.reply_before_response {
            // Claimed (durably) before the 200; the command runs after it.
            return Ok(match self.bot.admit(event).await? {
                Admission::Fresh(admitted) => {
                    self.bot.spawn(admitted);
                    json_response(StatusCode::OK, &serde_json::json!({}))
                }
                Admission::Duplicate => duplicate(),
            });
        }
        let outcome = self.bot.answer(event).await?;
        if self.limits.reply_before_response {
            // Nothing runs after the answer (Lambda): send what is due now.
            self.bot.deliver_pending(DELIVER_BEFORE_RESPONSE).await;
        }
        Ok(match outcome.delivery {
            Delivery::Inline { first, .. } => json_response(StatusCode::OK, &first),
            Delivery::Duplicate => duplicate(),
            _ => json_response(StatusCode::OK, &serde_json::json!({})),
        })
    }
}

/// The answer to a redelivered callback.
fn duplicate() -> Response<Full<Bytes>> {
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "status": "duplicate" }),
    )
}

/// A declared content type must be JSON (`application/json`, with any parameters); none at
/// all is tolerated, since DingTalk's documentation does not promise one.
fn check_content_type(headers: &http::HeaderMap) -> Result<(), Error> {
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default();
    match text.parse::<mime::Mime>() {
        Ok(media) if media.essence_str() == mime::APPLICATION_JSON.essence_str() => Ok(()),
        _ => Err(Error::UnsupportedMediaType(
            text.chars().take(100).collect(),
        )),
    }
}

/// The whole body, within the size limit and the time limit.
async fn read_body<B>(body: B, limits: Limits) -> Result<Bytes, Error>
where
    B: Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    let max = limits.max_body_bytes;
    // A declared length over the limit is refused before reading anything.
    if body.size_hint().lower() > u64::try_from(max).unwrap_or(u64::MAX) {
        return Err(Error::BodyTooLarge { max });
    }
    match tokio::time::timeout(limits.body_timeout, Limited::new(body, max).collect()).await {
        Err(_) => Err(Error::BodyTimeout),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Error::BodyTooLarge { max })
        }
        Ok(Err(_)) => Err(Error::BodyUnreadable),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

impl<B> tower_service::Service<Request<B>> for CallbackService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move { Ok(service.handle(request).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: Option<&str>) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(http::header::CONTENT_TYPE, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_media_type_is_parsed_not_matched_as_a_prefix() {
        for ok in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("Application/JSON;charset=UTF-8"),
        ] {
            assert!(check_content_type(&headers(ok)).is_ok(), "{ok:?}");
        }
        for refused in [
            "application/jsonx",
            "application/json-seq",
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "",
        ] {
            let err = check_content_type(&headers(Some(refused))).unwrap_err();
            assert_eq!(
                err.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{refused}"
            );
        }
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413_before_or_while_reading() {
        let limits = Limits {
            max_body_bytes: 8,
            body_timeout: Duration::from_secs(1),
            reply_before_response: false,
        };
        let declared = Full::new(Bytes::from_static(b"0123456789"));
        assert!(matches!(
            read_body(declared, limits).await,
            Err(Error::BodyTooLarge { max: 8 })
        ));
        let streamed = Chunks(vec![
            Bytes::from_static(b"01234"),
            Bytes::from_static(b"56789"),
        ]);
        assert!(matches!(
            read_body(streamed, limits).await,
            Err(Error::BodyTooLarge { max: 8 })
        ));
        let fits = Full::new(Bytes::from_static(b"01234567"));
        assert_eq!(&read_body(fits, limits).await.unwrap()[..], b"01234567");
    }

    /// A body that arrives in chunks, without a declared length.
    struct Chunks(Vec<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            if self.0.is_empty() {
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Ok(http_body::Frame::data(self.0.remove(0)))))
        }
    }
}
