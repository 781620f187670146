//! A fake DingTalk on 127.0.0.1 for tests (feature `testing`).
//!
//! It answers custom robot webhooks (`/robot/send`) and session webhooks
//! (`/robot/sendBySession`) the way DingTalk does: HTTP 200 with `errcode`/`errmsg`, the 加签
//! signature and timestamp checked, keywords checked, 20 messages a minute per webhook with a
//! 10-minute block (errcode 130101). Every accepted message is recorded. It also builds
//! correctly signed callback requests, with a session webhook that points back at it, so a bot
//! can be tested end to end.
//!
//! ```
//! use dingtalk_robot::testing::FakeDingTalk;
//! use dingtalk_robot::{AppSecret, CallbackVerifier, InboundMessage};
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let fake = FakeDingTalk::start().await.unwrap();
//! let secret = AppSecret::new("app secret");
//! let request = fake.callback("帮助").build("http://127.0.0.1:8080/dingtalk/callback", &secret);
//! let get = |h: &str| request.headers().get(h).and_then(|v| v.to_str().ok());
//! CallbackVerifier::new(secret).verify(get("timestamp"), get("sign")).unwrap();
//! let msg = InboundMessage::from_json(request.body()).unwrap();
//! assert_eq!(msg.command_text(), Some("帮助"));
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::secret::AppSecret;
use crate::signature::{DEFAULT_WINDOW, now_ms, sign};

/// Which webhook a message arrived on.
///
/// ```
/// use dingtalk_robot::testing::Channel;
/// assert_ne!(Channel::Robot("t".into()), Channel::Session("t".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// A custom robot, by access token.
    Robot(String),
    /// A session webhook, by its `session` value.
    Session(String),
}

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Received {
    /// Where it arrived.
    pub channel: Channel,
    /// The JSON body as posted.
    pub body: Value,
}

impl Received {
    /// The human-readable text: `text.content` or `markdown.text` (or the card's `text`).
    ///
    /// ```
    /// # use dingtalk_robot::testing::{Channel, Received};
    /// # let r = Received::for_tests(Channel::Robot("t".into()), serde_json::json!({"msgtype":"text","text":{"content":"hi"}}));
    /// assert_eq!(r.text(), "hi");
    /// ```
    #[must_use]
    pub fn text(&self) -> &str {
        let msgtype = self.body["msgtype"].as_str().unwrap_or_default();
        let field = if msgtype == "text" { "content" } else { "text" };
        self.body[msgtype][field].as_str().unwrap_or_default()
    }

    /// Builds a record by hand (for doc examples and unit tests).
    ///
    /// ```
    /// # use dingtalk_robot::testing::{Channel, Received};
    /// let r = Received::for_tests(Channel::Session("s".into()), serde_json::json!({}));
    /// assert_eq!(r.text(), "");
    /// ```
    #[must_use]
    pub fn for_tests(channel: Channel, body: Value) -> Self {
        Self { channel, body }
    }
}

/// A message the fake refused, with the errcode it answered.
///
/// ```
/// use dingtalk_robot::testing::FakeDingTalk;
/// use dingtalk_robot::{AccessToken, CustomRobot, OutboundMessage, Sender};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let fake = FakeDingTalk::start().await.unwrap();
/// let sender = Sender::builder().api_base(fake.base_url()).build().unwrap();
/// let unknown = CustomRobot::new(AccessToken::new("no-such-token")).into();
/// assert!(sender.send(&unknown, OutboundMessage::text("x")).await.is_err());
/// assert_eq!(fake.rejections()[0].errcode, 300_001);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// Where it arrived.
    pub channel: Channel,
    /// The errcode answered.
    pub errcode: i64,
    /// The errmsg answered.
    pub errmsg: String,
}

/// A custom robot the fake knows, with its security settings.
///
/// ```
/// let robot = dingtalk_robot::testing::FakeRobot::new("token").secret("SECabc").keyword("AWS");
/// # let _ = robot;
/// ```
#[derive(Debug, Clone)]
pub struct FakeRobot {
    access_token: String,
    secret: Option<String>,
    keywords: Vec<String>,
}

impl FakeRobot {
    /// A robot with this access token and no security setting.
    ///
    /// ```
    /// let robot = dingtalk_robot::testing::FakeRobot::new("token");
    /// # let _ = robot;
    /// ```
    #[must_use]
    pub fn new(access_token: impl Into<String>) -> Self {
        Self {
            access_token: access_token.into(),
            secret: None,
            keywords: Vec::new(),
        }
    }

    /// Requires 加签 with this `SEC…` secret.
    ///
    /// ```
    /// let robot = dingtalk_robot::testing::FakeRobot::new("t").secret("SEC1");
    /// # let _ = robot;
    /// ```
    #[must_use]
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Adds a security keyword: a message must contain at least one.
    ///
    /// ```
    /// let robot = dingtalk_robot::testing::FakeRobot::new("t").keyword("AWS");
    /// # let _ = robot;
    /// ```
    #[must_use]
    pub fn keyword(mut self, keyword: impl Into<String>) -> Self {
        self.keywords.push(keyword.into());
        self
    }
}

/// Configures a [`FakeDingTalk`] before it starts.
///
/// ```
/// use std::time::Duration;
/// use dingtalk_robot::testing::FakeDingTalk;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let fake = FakeDingTalk::builder()
///     .rate_limit(3, Duration::from_millis(300))
///     .block_for(Duration::from_millis(500))
///     .start()
///     .await
///     .unwrap();
/// # let _ = fake; }
/// ```
#[derive(Debug, Clone)]
pub struct FakeDingTalkBuilder {
    max_per_window: usize,
    window: Duration,
    block: Duration,
    robots: Vec<FakeRobot>,
}

impl FakeDingTalkBuilder {
    /// Messages accepted per webhook per window (default 20 a minute).
    ///
    /// ```
    /// let b = dingtalk_robot::testing::FakeDingTalk::builder().rate_limit(5, std::time::Duration::from_secs(1));
    /// # let _ = b;
    /// ```
    #[must_use]
    pub fn rate_limit(mut self, max: usize, per: Duration) -> Self {
        self.max_per_window = max.max(1);
        self.window = per;
        self
    }

    /// How long a webhook stays blocked after exceeding the limit (default 10 minutes).
    ///
    /// ```
    /// let b = dingtalk_robot::testing::FakeDingTalk::builder().block_for(std::time::Duration::from_secs(1));
    /// # let _ = b;
    /// ```
    #[must_use]
    pub fn block_for(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// Registers a custom robot.
    ///
    /// ```
    /// use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};
    /// let b = FakeDingTalk::builder().robot(FakeRobot::new("tok"));
    /// # let _ = b;
    /// ```
    #[must_use]
    pub fn robot(mut self, robot: FakeRobot) -> Self {
        self.robots.push(robot);
        self
    }

    /// Binds 127.0.0.1 on a free port and starts serving.
    ///
    /// # Errors
    /// The bind error, if any.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::builder().start().await.unwrap();
    /// assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub async fn start(self) -> std::io::Result<FakeDingTalk> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Shared {
            state: Mutex::new(State {
                robots: self
                    .robots
                    .into_iter()
                    .map(|r| (r.access_token.clone(), r))
                    .collect(),
                ..State::default()
            }),
            arrived: Notify::new(),
            max_per_window: self.max_per_window,
            window: self.window,
            block: self.block,
            base_url: format!("http://{addr}"),
        });
        let task_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&task_state);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(state.handle(req).await) }
                    });
                    // A broken connection only concerns that connection.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FakeDingTalk { addr, state, task })
    }
}

#[derive(Default)]
struct State {
    robots: HashMap<String, FakeRobot>,
    /// session id → expiry (fake clock, Unix ms)
    sessions: HashMap<String, i64>,
    received: Vec<Received>,
    rejections: Vec<Rejection>,
    /// accepted-message times per channel (fake clock, ms)
    recent: HashMap<Channel, VecDeque<i64>>,
    blocked_until: HashMap<Channel, i64>,
    offset_ms: i64,
    next_id: u64,
    /// Answer this many more posts with HTTP 500.
    fail_next: usize,
}

struct Shared {
    state: Mutex<State>,
    arrived: Notify,
    max_per_window: usize,
    window: Duration,
    block: Duration,
    base_url: String,
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn answer(errcode: i64, errmsg: &str) -> Response<Full<Bytes>> {
    let body = json!({ "errcode": errcode, "errmsg": errmsg }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// A query parameter, percent-decoded as a web server would.
fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(k, v)| (k == key).then_some(v))
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// All string values inside a message's type object, for the keyword check.
fn strings_in(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// Checks a message body's shape like DingTalk does; `Err((errcode, errmsg))` if refused.
fn check_shape(body: &Value) -> Result<(), (i64, String)> {
    let msgtype = body["msgtype"].as_str().unwrap_or_default();
    let required: &[&str] = match msgtype {
        "text" => &["content"],
        "markdown" => &["title", "text"],
        "link" => &["title", "text", "messageUrl"],
        "actionCard" => &["title", "text"],
        "feedCard" => &["links"],
        "" => return Err((400_102, "miss param : msgtype".to_owned())),
        _ => return Err((400_105, "不支持的消息类型".to_owned())),
    };
    let Some(object) = body.get(msgtype).filter(|v| v.is_object()) else {
        return Err((400_401, format!("miss param : {msgtype}")));
    };
    for field in required {
        if object.get(*field).is_none_or(Value::is_null) {
            return Err((400_401, format!("miss param : {msgtype}.{field}")));
        }
    }
    Ok(())
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        if req.method() != http::Method::POST {
            let mut response = answer(405, "method not allowed");
            *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
            return response;
        }
        let body = match Limited::new(req.into_body(), 1 << 20).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return answer(400_000, "body too large"),
        };
        {
            let mut state = self.lock();
            if state.fail_next > 0 && (path == "/robot/send" || path == "/robot/sendBySession") {
                state.fail_next -= 1;
                let mut response = answer(-1, "system busy");
                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                return response;
            }
        }
        let result = match path.as_str() {
            "/robot/send" => self.robot_send(&query, &body),
            "/robot/sendBySession" => self.session_send(&query, &body),
            _ => {
                let mut response = answer(404, "not found");
                *response.status_mut() = http::StatusCode::NOT_FOUND;
                return response;
            }
        };
        match result {
            Ok(()) => {
                self.arrived.notify_waiters();
                answer(0, "ok")
            }
            Err((code, msg)) => answer(code, &msg),
        }
    }

    /// Records a refusal and returns the answer for it.
    fn reject(state: &mut State, channel: Channel, errcode: i64, errmsg: &str) -> (i64, String) {
        state.rejections.push(Rejection {
            channel,
            errcode,
            errmsg: errmsg.to_owned(),
        });
        (errcode, errmsg.to_owned())
    }

    fn robot_send(&self, query: &str, body: &[u8]) -> Result<(), (i64, String)> {
        let mut state = self.lock();
        let now = now_ms() + state.offset_ms;
        let token = query_param(query, "access_token").unwrap_or_default();
        let channel = Channel::Robot(token.clone());
        let Some(robot) = state.robots.get(&token).cloned() else {
            return Err(Self::reject(
                &mut state,
                channel,
                300_001,
                "token is not exist",
            ));
        };
        if let Some(secret) = &robot.secret {
            let (Some(timestamp), Some(signature)) =
                (query_param(query, "timestamp"), query_param(query, "sign"))
            else {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "sign not match, more: [sign or timestamp missing]",
                ));
            };
            let Ok(ts) = timestamp.parse::<i64>() else {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "invalid timestamp, more: [not a number]",
                ));
            };
            if (now - ts).abs() > duration_ms(DEFAULT_WINDOW) {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "invalid timestamp, more: [outside one hour]",
                ));
            }
            if signature != sign(secret, &timestamp) {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "sign not match, more: [see 加签 documentation]",
                ));
            }
        }
        let body = self.parse_body(&mut state, &channel, body)?;
        if !robot.keywords.is_empty() {
            let msgtype = body["msgtype"].as_str().unwrap_or_default();
            let mut text = String::new();
            strings_in(&body[msgtype], &mut text);
            if !robot.keywords.iter().any(|k| text.contains(k.as_str())) {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    310_000,
                    "keywords not in content, more: [security keywords]",
                ));
            }
        }
        self.accept(&mut state, channel, body, now)
    }

    fn session_send(&self, query: &str, body: &[u8]) -> Result<(), (i64, String)> {
        let mut state = self.lock();
        let now = now_ms() + state.offset_ms;
        let session = query_param(query, "session").unwrap_or_default();
        let channel = Channel::Session(session.clone());
        match state.sessions.get(&session) {
            None => {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    300_001,
                    "token is not exist",
                ));
            }
            Some(&expires) if expires <= now => {
                return Err(Self::reject(
                    &mut state,
                    channel,
                    300_001,
                    "session is expired",
                ));
            }
            Some(_) => {}
        }
        let body = self.parse_body(&mut state, &channel, body)?;
        self.accept(&mut state, channel, body, now)
    }

    fn parse_body(
        &self,
        state: &mut State,
        channel: &Channel,
        body: &[u8],
    ) -> Result<Value, (i64, String)> {
        let parsed = serde_json::from_slice::<Value>(body)
            .ok()
            .filter(Value::is_object);
        let Some(parsed) = parsed else {
            return Err(Self::reject(
                state,
                channel.clone(),
                400_101,
                "body is not a JSON object",
            ));
        };
        if let Err((code, msg)) = check_shape(&parsed) {
            return Err(Self::reject(state, channel.clone(), code, &msg));
        }
        Ok(parsed)
    }

    fn accept(
        &self,
        state: &mut State,
        channel: Channel,
        body: Value,
        now: i64,
    ) -> Result<(), (i64, String)> {
        if state
            .blocked_until
            .get(&channel)
            .is_some_and(|&until| until > now)
        {
            return Err(Self::reject(
                state,
                channel,
                130_101,
                "send too fast, exceed 20 times per minute",
            ));
        }
        let window = duration_ms(self.window);
        let recent = state.recent.entry(channel.clone()).or_default();
        while recent.front().is_some_and(|&t| t <= now - window) {
            recent.pop_front();
        }
        if recent.len() >= self.max_per_window {
            let until = now + duration_ms(self.block);
            state.blocked_until.insert(channel.clone(), until);
            return Err(Self::reject(
                state,
                channel,
                130_101,
                "send too fast, exceed 20 times per minute",
            ));
        }
        recent.push_back(now);
        state.received.push(Received { channel, body });
        Ok(())
    }
}

/// A running fake DingTalk; stops when dropped.
///
/// ```
/// use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};
/// use dingtalk_robot::{AccessToken, CustomRobot, OutboundMessage, Sender};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let fake = FakeDingTalk::builder().robot(FakeRobot::new("tok").keyword("AWS")).start().await.unwrap();
/// let sender = Sender::builder().api_base(fake.base_url()).build().unwrap();
/// let robot = CustomRobot::new(AccessToken::new("tok")).into();
/// sender.send(&robot, OutboundMessage::text("AWS 工单已解决")).await.unwrap();
/// assert_eq!(fake.messages()[0].text(), "AWS 工单已解决");
/// # }
/// ```
pub struct FakeDingTalk {
    addr: SocketAddr,
    state: Arc<Shared>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FakeDingTalk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeDingTalk")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeDingTalk {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDingTalk {
    /// A builder with DingTalk's limits (20 a minute, 10-minute block).
    ///
    /// ```
    /// let builder = dingtalk_robot::testing::FakeDingTalk::builder();
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn builder() -> FakeDingTalkBuilder {
        FakeDingTalkBuilder {
            max_per_window: 20,
            window: Duration::from_secs(60),
            block: Duration::from_secs(600),
            robots: Vec::new(),
        }
    }

    /// Starts a fake with the defaults.
    ///
    /// # Errors
    /// The bind error, if any.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// # let _ = fake; }
    /// ```
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// `http://127.0.0.1:<port>`: pass it as the sender's API base.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let base = fake.base_url();
    /// # assert!(base.starts_with("http://")); }
    /// ```
    #[must_use]
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// Registers a custom robot while running.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// fake.add_robot(dingtalk_robot::testing::FakeRobot::new("tok2"));
    /// # }
    /// ```
    pub fn add_robot(&self, robot: FakeRobot) {
        self.state
            .lock()
            .robots
            .insert(robot.access_token.clone(), robot);
    }

    /// Every message accepted so far, in arrival order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert!(fake.messages().is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn messages(&self) -> Vec<Received> {
        self.state.lock().received.clone()
    }

    /// The text of every message accepted so far (see [`Received::text`]), in arrival order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert!(fake.texts().is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn texts(&self) -> Vec<String> {
        self.state
            .lock()
            .received
            .iter()
            .map(|m| m.text().to_owned())
            .collect()
    }

    /// Every refusal so far (errcode and errmsg), in order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert!(fake.rejections().is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn rejections(&self) -> Vec<Rejection> {
        self.state.lock().rejections.clone()
    }

    /// Waits until at least `count` messages have been accepted, or `timeout` passes; returns
    /// the messages either way.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let got = fake.wait_for_messages(1, std::time::Duration::from_millis(10)).await;
    /// assert!(got.is_empty());
    /// # }
    /// ```
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.arrived.notified();
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.messages();
            }
        }
    }

    /// Answers the next `count` webhook posts with HTTP 500 (a DingTalk outage), then
    /// behaves normally again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// fake.fail_next(2);
    /// # }
    /// ```
    pub fn fail_next(&self, count: usize) {
        self.state.lock().fail_next = count;
    }

    /// Moves the fake's clock forward (rate-limit windows, blocks, session expiry, timestamp
    /// checks), so tests need not sleep through DingTalk's minutes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// fake.advance(std::time::Duration::from_secs(600));
    /// assert!(fake.now_ms() > dingtalk_robot::now_ms() + 599_000);
    /// # }
    /// ```
    pub fn advance(&self, by: Duration) {
        self.state.lock().offset_ms += duration_ms(by);
    }

    /// The fake's clock, Unix ms.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert!(fake.now_ms() >= dingtalk_robot::now_ms() - 1000);
    /// # }
    /// ```
    #[must_use]
    pub fn now_ms(&self) -> i64 {
        now_ms() + self.state.lock().offset_ms
    }

    /// Starts a callback: a text message to the robot, from a default sender in a default group.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("工单列表").sender("李四", "staff-2").one_to_one().json();
    /// assert_eq!(body["conversationType"], "1");
    /// assert_eq!(body["text"]["content"], " 工单列表");
    /// # }
    /// ```
    #[must_use]
    pub fn callback(&self, text: impl Into<String>) -> CallbackBuilder<'_> {
        let mut state = self.state.lock();
        state.next_id += 1;
        let n = state.next_id;
        let now = now_ms() + state.offset_ms;
        drop(state);
        CallbackBuilder {
            fake: self,
            text: text.into(),
            msg_id: format!("msgFake{n:08}{now}"),
            sender_nick: "张三".to_owned(),
            sender_staff_id: Some("staff-1".to_owned()),
            conversation_id: "cidFakeGroup001".to_owned(),
            conversation_title: Some("运维值班".to_owned()),
            group: true,
            is_admin: false,
            created_at: now,
            session_ttl: Duration::from_secs(90 * 60),
        }
    }
}

/// Builds one signed callback request (see [`FakeDingTalk::callback`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
/// let request = fake
///     .callback("查找ServiceCode: ec2")
///     .sender("王五", "staff-5")
///     .group("cidOps", "运维值班")
///     .msg_id("msg-fixed-1")
///     .build("http://127.0.0.1:8080/dingtalk/callback", &dingtalk_robot::AppSecret::new("s"));
/// assert_eq!(request.method(), http::Method::POST);
/// assert!(request.headers().contains_key("sign"));
/// # }
/// ```
#[derive(Debug)]
pub struct CallbackBuilder<'a> {
    fake: &'a FakeDingTalk,
    text: String,
    msg_id: String,
    sender_nick: String,
    sender_staff_id: Option<String>,
    conversation_id: String,
    conversation_title: Option<String>,
    group: bool,
    is_admin: bool,
    created_at: i64,
    session_ttl: Duration,
}

impl CallbackBuilder<'_> {
    /// Sets the sender's nickname and staff id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("x").sender("李四", "staff-2").json();
    /// assert_eq!(body["senderStaffId"], "staff-2");
    /// # }
    /// ```
    #[must_use]
    pub fn sender(mut self, nick: impl Into<String>, staff_id: impl Into<String>) -> Self {
        self.sender_nick = nick.into();
        self.sender_staff_id = Some(staff_id.into());
        self
    }

    /// Sends from a group with this conversation id and title (the default is a group).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("x").group("cid9", "值班").json();
    /// assert_eq!(body["conversationTitle"], "值班");
    /// # }
    /// ```
    #[must_use]
    pub fn group(mut self, conversation_id: impl Into<String>, title: impl Into<String>) -> Self {
        self.group = true;
        self.conversation_id = conversation_id.into();
        self.conversation_title = Some(title.into());
        self
    }

    /// Sends from a one-to-one chat with the robot.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("x").one_to_one().json();
    /// assert!(body.get("conversationTitle").is_none());
    /// # }
    /// ```
    #[must_use]
    pub fn one_to_one(mut self) -> Self {
        self.group = false;
        self.conversation_id = "cidFakeSingle001".to_owned();
        self.conversation_title = None;
        self
    }

    /// Marks the sender as a DingTalk admin.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.callback("x").admin().json()["isAdmin"], true);
    /// # }
    /// ```
    #[must_use]
    pub fn admin(mut self) -> Self {
        self.is_admin = true;
        self
    }

    /// Fixes the `msgId` (to test de-duplication).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.callback("x").msg_id("m1").json()["msgId"], "m1");
    /// # }
    /// ```
    #[must_use]
    pub fn msg_id(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = msg_id.into();
        self
    }

    /// Sets `createAt` (Unix ms); the `timestamp` header and the session expiry follow it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// assert_eq!(fake.callback("x").created_at(1_700_000_000_000).json()["createAt"], 1_700_000_000_000_i64);
    /// # }
    /// ```
    #[must_use]
    pub fn created_at(mut self, ms: i64) -> Self {
        self.created_at = ms;
        self
    }

    /// How long the session webhook stays valid (DingTalk: 90 minutes).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("x").created_at(0).session_ttl(std::time::Duration::from_secs(1)).json();
    /// assert_eq!(body["sessionWebhookExpiredTime"], 1000);
    /// # }
    /// ```
    #[must_use]
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// The callback body, shaped like DingTalk's, with a fresh session webhook registered on
    /// the fake.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let body = fake.callback("帮助").json();
    /// assert!(body["sessionWebhook"].as_str().unwrap().starts_with(&fake.base_url()));
    /// # }
    /// ```
    #[must_use]
    pub fn json(&self) -> Value {
        let session = format!("{:x}", Sha::digest(&self.msg_id, self.created_at));
        let expires = self.created_at + duration_ms(self.session_ttl);
        self.fake
            .state
            .lock()
            .sessions
            .insert(session.clone(), expires);
        let mut body = json!({
            "conversationId": self.conversation_id,
            "atUsers": [{ "dingtalkId": "$:LWCP_v1:$fakeRobot" }],
            "chatbotCorpId": "dingFakeCorp",
            "chatbotUserId": "$:LWCP_v1:$fakeRobot",
            "msgId": self.msg_id,
            "senderNick": self.sender_nick,
            "isAdmin": self.is_admin,
            "sessionWebhookExpiredTime": expires,
            "createAt": self.created_at,
            "senderCorpId": "dingFakeCorp",
            "conversationType": if self.group { "2" } else { "1" },
            "senderId": format!("$:LWCP_v1:${}", self.sender_nick),
            "sessionWebhook": format!("{}/robot/sendBySession?session={session}", self.fake.state.base_url),
            "text": { "content": format!(" {}", self.text) },
            "robotCode": "dingFakeRobotCode",
            "msgtype": "text",
            "isInAtList": true,
            "senderPlatform": "Mac",
        });
        if let Some(map) = body.as_object_mut() {
            if let Some(staff) = &self.sender_staff_id {
                map.insert("senderStaffId".to_owned(), json!(staff));
            }
            if let Some(title) = &self.conversation_title {
                map.insert("conversationTitle".to_owned(), json!(title));
            }
        }
        body
    }

    /// A POST to `url` signed as DingTalk signs callbacks (`timestamp` = `createAt`, `sign`
    /// with the app secret).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// let req = fake.callback("x").build("http://127.0.0.1:1/cb", &dingtalk_robot::AppSecret::new("s"));
    /// assert_eq!(req.headers()["content-type"], "application/json; charset=utf-8");
    /// # }
    /// ```
    #[must_use]
    pub fn build(&self, url: &str, secret: &AppSecret) -> http::Request<Vec<u8>> {
        let body = self.json().to_string().into_bytes();
        let timestamp = self.created_at.to_string();
        let signature = sign(secret.expose_secret(), &timestamp);
        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        if let Ok(uri) = url.parse() {
            *request.uri_mut() = uri;
        }
        let headers = request.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        for (name, value) in [("timestamp", timestamp), ("sign", signature)] {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        request
    }
}

/// A 128-bit session id from SHA-256, printed as 32 hex characters like DingTalk's.
struct Sha([u8; 16]);

impl Sha {
    fn digest(msg_id: &str, at: i64) -> Self {
        use sha2::Digest as _;
        let hash = sha2::Sha256::new()
            .chain_update(msg_id.as_bytes())
            .chain_update(at.to_le_bytes())
            .finalize();
        let mut out = [0_u8; 16];
        out.iter_mut().zip(hash.iter()).for_each(|(o, h)| *o = *h);
        Self(out)
    }
}

impl fmt::LowerHex for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
