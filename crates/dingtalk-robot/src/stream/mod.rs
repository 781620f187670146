//! Stream mode (feature `stream`): the robot opens an outbound WebSocket to DingTalk and
//! messages arrive over it, so it needs no public URL, and the connection itself is
//! authenticated with the app key and secret.
//!
//! - **Connect:** `POST {openapi base}/v1.0/gateway/connections/open` with the app key and
//!   secret and the subscriptions gives an endpoint and a single-use ticket; then a WebSocket
//!   to `endpoint?ticket=…`. A new ticket for each connection.
//! - **Frames:** `ping` is answered with its data; robot messages
//!   (`/v1.0/im/bot/messages/get`) are parsed into the same [`InboundMessage`] as HTTP
//!   callbacks and given to the handler, whose [`StreamAck`] says whether to acknowledge;
//!   `disconnect` makes the client open a new connection at once while it drains the old one
//!   until it closes, so nothing is lost.
//! - **Keep-alive:** after `ping_after_idle` without a frame the client pings; no answer within
//!   `pong_timeout` is a dead connection. Lost connections are retried with exponential backoff
//!   and jitter (10 s ×1.6 up to 60 s, ±20 %, as the official Java SDK).
//! - **Shutdown:** when `stop` completes the client takes no more frames, lets the handlers it
//!   started finish (their ACKs go out), and closes.

mod connection;
mod frame;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::error::Error;
use crate::inbound::InboundMessage;
use crate::openapi::AppCredentials;

use self::connection::Connection;

/// The topic of robot messages.
///
/// ```
/// assert_eq!(dingtalk_robot::BOT_MESSAGE_TOPIC, "/v1.0/im/bot/messages/get");
/// ```
pub const BOT_MESSAGE_TOPIC: &str = "/v1.0/im/bot/messages/get";

/// A robot message that arrived over Stream.
///
/// ```
/// # fn show(m: dingtalk_robot::StreamMessage) {
/// println!("{} {:?}", m.message_id, m.message.command_text());
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamMessage {
    /// The frame's `messageId` (what the ACK echoes).
    pub message_id: String,
    /// The message, as an HTTP callback would have brought it.
    pub message: InboundMessage,
}

/// Whether to acknowledge a message.
///
/// ```
/// let ack = dingtalk_robot::StreamAck::Ack;
/// # let _ = ack;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamAck {
    /// Handled (or safely taken): acknowledge.
    Ack,
    /// Not taken: leave it unacknowledged, in case DingTalk delivers it again.
    Leave,
}

/// The connection's state, for readiness checks.
///
/// ```
/// let state = dingtalk_robot::StreamState::default();
/// assert!(!state.is_connected());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamState {
    /// Whether a connection is open.
    pub connected: bool,
    /// Since when it is (or is not), Unix ms.
    pub since_ms: i64,
    /// Attempts since the last connection was lost.
    pub attempts: u32,
    /// The last connection error, if the connection is down.
    pub last_error: Option<String>,
    /// When the last robot message arrived, Unix ms.
    pub last_message_ms: Option<i64>,
}

impl StreamState {
    /// Whether a connection is open.
    ///
    /// ```
    /// assert!(!dingtalk_robot::StreamState::default().is_connected());
    /// ```
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.connected
    }
}

/// How the client keeps its connection.
///
/// ```
/// use std::time::Duration;
/// let options = dingtalk_robot::StreamOptions::default().keep_alive(Duration::from_secs(1), Duration::from_millis(300));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamOptions {
    ping_after_idle: Duration,
    pong_timeout: Duration,
    backoff_start: Duration,
    backoff_factor: f64,
    backoff_max: Duration,
    drain_for: Duration,
}

impl Default for StreamOptions {
    /// The Java SDK's: ping after 60 s idle, 5 s for the pong; backoff 10 s ×1.6 up to 60 s.
    fn default() -> Self {
        Self {
            ping_after_idle: Duration::from_secs(60),
            pong_timeout: Duration::from_secs(5),
            backoff_start: Duration::from_secs(10),
            backoff_factor: 1.6,
            backoff_max: Duration::from_secs(60),
            drain_for: Duration::from_secs(15),
        }
    }
}

impl StreamOptions {
    /// Ping after `idle` without a frame; a connection without an answer in `pong_timeout` is
    /// dead.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let o = dingtalk_robot::StreamOptions::default().keep_alive(Duration::from_secs(30), Duration::from_secs(5));
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn keep_alive(mut self, idle: Duration, pong_timeout: Duration) -> Self {
        self.ping_after_idle = idle;
        self.pong_timeout = pong_timeout;
        self
    }

    /// Reconnect backoff: `start`, multiplied by `factor` per failure, at most `max` (±20 %
    /// jitter).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let o = dingtalk_robot::StreamOptions::default().backoff(Duration::from_millis(100), 2.0, Duration::from_secs(1));
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn backoff(mut self, start: Duration, factor: f64, max: Duration) -> Self {
        self.backoff_start = start;
        self.backoff_factor = factor.max(1.0);
        self.backoff_max = max;
        self
    }

    /// The wait before attempt `attempt` (0-based) after a failure, with jitter from `seed`.
    fn wait(&self, attempt: u32, seed: u64) -> Duration {
        let base = self.backoff_start.as_secs_f64()
            * self
                .backoff_factor
                .powi(i32::try_from(attempt.min(30)).unwrap_or(30));
        let capped = base.min(self.backoff_max.as_secs_f64());
        // ±20 %.
        let jitter = 0.8 + 0.4 * ((seed % 1000) as f64 / 1000.0);
        Duration::from_secs_f64(capped * jitter)
    }
}

/// A Stream mode client of one app.
///
/// ```no_run
/// use dingtalk_robot::{AppCredentials, AppSecret, StreamAck, StreamClient};
/// # async fn run() -> Result<(), dingtalk_robot::Error> {
/// let app = AppCredentials::new("dingappkey", AppSecret::new("app secret"));
/// let client = StreamClient::new(app);
/// client
///     .run(|m| async move {
///         println!("{:?}", m.message.command_text());
///         StreamAck::Ack
///     }, std::future::pending())
///     .await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StreamClient {
    app: AppCredentials,
    openapi_base: String,
    options: StreamOptions,
    http: reqwest::Client,
    state: Arc<watch::Sender<StreamState>>,
}

#[derive(serde::Deserialize)]
struct Ticket {
    endpoint: String,
    ticket: String,
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// How a connection ended.
pub(super) enum End {
    Stopped,
    Lost(String),
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl StreamClient {
    /// A client of `app`, against DingTalk's OpenAPI.
    ///
    /// ```
    /// use dingtalk_robot::{AppCredentials, AppSecret, StreamClient};
    /// let client = StreamClient::new(AppCredentials::new("k", AppSecret::new("s")));
    /// # let _ = client;
    /// ```
    #[must_use]
    pub fn new(app: AppCredentials) -> Self {
        Self {
            app,
            openapi_base: crate::openapi::DEFAULT_OPENAPI_BASE.to_owned(),
            options: StreamOptions::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            state: Arc::new(watch::Sender::new(StreamState::default())),
        }
    }

    /// Another OpenAPI origin (tests: a fake gateway).
    ///
    /// ```
    /// # use dingtalk_robot::{AppCredentials, AppSecret, StreamClient};
    /// let client = StreamClient::new(AppCredentials::new("k", AppSecret::new("s"))).openapi_base("http://127.0.0.1:9");
    /// # let _ = client;
    /// ```
    #[must_use]
    pub fn openapi_base(mut self, base: impl Into<String>) -> Self {
        self.openapi_base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// Keep-alive and backoff settings.
    ///
    /// ```
    /// # use dingtalk_robot::{AppCredentials, AppSecret, StreamClient, StreamOptions};
    /// let client = StreamClient::new(AppCredentials::new("k", AppSecret::new("s"))).options(StreamOptions::default());
    /// # let _ = client;
    /// ```
    #[must_use]
    pub fn options(mut self, options: StreamOptions) -> Self {
        self.options = options;
        self
    }

    /// The connection's state, as it changes.
    ///
    /// ```
    /// # use dingtalk_robot::{AppCredentials, AppSecret, StreamClient};
    /// let client = StreamClient::new(AppCredentials::new("k", AppSecret::new("s")));
    /// assert!(!client.state().borrow().is_connected());
    /// ```
    #[must_use]
    pub fn state(&self) -> watch::Receiver<StreamState> {
        self.state.subscribe()
    }

    /// Receives robot messages until `stop` completes; `handler` decides each ACK.
    ///
    /// # Errors
    /// [`Error::AppCredentials`] when DingTalk refuses the app key and secret (retrying cannot
    /// help). Everything else (an unreachable gateway, a lost connection) is retried.
    ///
    /// ```no_run
    /// # use dingtalk_robot::{AppCredentials, AppSecret, StreamAck, StreamClient};
    /// # async fn run(client: StreamClient) -> Result<(), dingtalk_robot::Error> {
    /// client.run(|_| async { StreamAck::Ack }, tokio::time::sleep(std::time::Duration::from_secs(5))).await
    /// # }
    /// ```
    pub async fn run<H, F>(&self, handler: H, stop: impl Future<Output = ()>) -> Result<(), Error>
    where
        H: Fn(StreamMessage) -> F + Send + Sync + 'static,
        F: Future<Output = StreamAck> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut attempt = 0_u32;
        tokio::pin!(stop);
        let result = loop {
            let socket = tokio::select! {
                () = &mut stop => break Ok(()),
                opened = self.open() => opened,
            };
            let socket = match socket {
                Ok(socket) => socket,
                Err(err @ Error::AppCredentials { .. }) => break Err(err),
                Err(err) => {
                    let wait = self.options.wait(attempt, now_ms().unsigned_abs());
                    attempt = attempt.saturating_add(1);
                    self.lost(err.to_string(), attempt);
                    tracing::warn!(error = %err, retry_in_ms = wait.as_millis(), "stream: cannot connect, retrying");
                    tokio::select! {
                        () = &mut stop => break Ok(()),
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
            };
            attempt = 0;
            self.state.send_modify(|s| {
                s.connected = true;
                s.since_ms = now_ms();
                s.attempts = 0;
                s.last_error = None;
            });
            tracing::info!("stream: connected");
            let (notice_tx, notice_rx) = oneshot::channel();
            let connection = Connection {
                handler: Arc::clone(&handler),
                options: self.options,
                state: Arc::clone(&self.state),
                stop: stop_rx.clone(),
            };
            let mut ended = connections.spawn(connection.serve(socket, notice_tx));
            let _ = &mut ended;
            // A `disconnect` notice: a new connection at once (the old one drains). A connection
            // that ends without one: reconnect after a backoff.
            let noticed = tokio::select! {
                () = &mut stop => break Ok(()),
                notice = notice_rx => notice.is_ok(),
            };
            if noticed {
                tracing::info!(
                    "stream: the gateway asked to reconnect: connecting anew while the old connection drains"
                );
                continue;
            }
            let reason = "connection lost".to_owned();
            let wait = self.options.wait(0, now_ms().unsigned_abs());
            attempt = 1;
            self.lost(reason.clone(), attempt);
            tracing::warn!(
                reason,
                retry_in_ms = wait.as_millis(),
                "stream: reconnecting"
            );
            tokio::select! {
                () = &mut stop => break Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        };
        // Stop taking frames; let the handlers finish and their ACKs go out.
        let _ = stop_tx.send(true);
        while connections.join_next().await.is_some() {}
        self.state.send_modify(|s| {
            s.connected = false;
            s.since_ms = now_ms();
        });
        result
    }

    fn lost(&self, error: String, attempts: u32) {
        self.state.send_modify(|s| {
            if s.connected || s.since_ms == 0 {
                s.since_ms = now_ms();
            }
            s.connected = false;
            s.attempts = attempts;
            s.last_error = Some(error);
        });
    }

    /// Whether DingTalk hands this app a Stream connection ticket: the app key and secret
    /// are right, Stream mode is enabled for the robot, and the gateway is reachable. The
    /// ticket is not used (it expires unused); no connection is opened.
    ///
    /// # Errors
    /// [`Error::AppCredentials`] when DingTalk refuses the key or secret;
    /// [`Error::Transport`] or [`Error::Http`] when it cannot be reached.
    ///
    /// ```no_run
    /// # use dingtalk_robot::{AppCredentials, AppSecret, StreamClient};
    /// # async fn f() -> Result<(), dingtalk_robot::Error> {
    /// let client = StreamClient::new(AppCredentials::new("dingxxxx", AppSecret::new("secret")));
    /// client.check_ticket().await?;
    /// # Ok(()) }
    /// ```
    pub async fn check_ticket(&self) -> Result<(), Error> {
        self.ticket().await.map(drop)
    }

    /// A single-use ticket and the endpoint it is for.
    async fn ticket(&self) -> Result<Ticket, Error> {
        let body = serde_json::json!({
            "clientId": self.app.app_key(),
            "clientSecret": self.app.app_secret.expose_secret(),
            "subscriptions": [{"type": "CALLBACK", "topic": BOT_MESSAGE_TOPIC}],
            "ua": concat!("dingtalk-robot-rust/", env!("CARGO_PKG_VERSION")),
        });
        let response = self
            .http
            .post(format!(
                "{}/v1.0/gateway/connections/open",
                self.openapi_base
            ))
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::Transport(e.without_url()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Transport(e.without_url()))?;
        if matches!(status, 400 | 401 | 403) {
            let code = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_default();
            return Err(Error::AppCredentials {
                app_key: self.app.app_key().to_owned(),
                status,
                code,
            });
        }
        if !(200..300).contains(&status) {
            return Err(Error::Http { status });
        }
        serde_json::from_slice(&bytes).map_err(|_| Error::InvalidResponse { status })
    }

    /// A ticket, then the WebSocket.
    async fn open(&self) -> Result<Socket, Error> {
        let ticket = self.ticket().await?;
        let encoded: String = percent_encoding::utf8_percent_encode(
            &ticket.ticket,
            percent_encoding::NON_ALPHANUMERIC,
        )
        .collect();
        let url = format!("{}?ticket={encoded}", ticket.endpoint);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| Error::Stream(e.to_string()))?;
        Ok(socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_the_factor_to_its_cap_with_twenty_percent_jitter() {
        let options = StreamOptions::default();
        let low = options.wait(0, 0);
        let high = options.wait(0, 999);
        assert!(
            low >= Duration::from_secs(8) && high <= Duration::from_secs(12),
            "{low:?} {high:?}"
        );
        let third = options.wait(2, 500);
        assert!((third.as_secs_f64() - 25.6).abs() < 0.1, "{third:?}");
        assert!(options.wait(20, 999) <= Duration::from_secs(72));
    }
}
