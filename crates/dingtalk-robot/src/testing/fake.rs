//! The fake DingTalk's handle: how it is configured, started, inspected and driven.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::callback::{CallbackBuilder, SessionKey};
use super::server::{Shared, State, duration_ms};
use super::{FakeApp, FakeRobot, Received, Rejection};
use crate::signature::now_ms;

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
    apps: Vec<FakeApp>,
}

impl FakeDingTalkBuilder {
    /// An enterprise-internal app whose robot may post to groups through the OpenAPI.
    ///
    /// ```
    /// # use dingtalk_robot::testing::{FakeApp, FakeDingTalk};
    /// let builder = FakeDingTalk::builder().app(FakeApp::new("dingkey", "secret"));
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn app(mut self, app: FakeApp) -> Self {
        self.apps.push(app);
        self
    }

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
            state: Mutex::new(State::with_robots(self.robots, self.apps)),
            arrived: Notify::new(),
            max_per_window: self.max_per_window,
            window: self.window,
            block: self.block,
            base_url: format!("http://{addr}"),
            sessions: SessionKey::random(),
            #[cfg(feature = "stream")]
            gateway: super::gateway::Gateway::start().await?,
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
    pub(super) state: Arc<Shared>,
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
            apps: Vec::new(),
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

    /// Forgets every OpenAPI access token handed out, as when they expire: the next group
    /// send with one is answered HTTP 401.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = dingtalk_robot::testing::FakeDingTalk::start().await.unwrap();
    /// fake.revoke_tokens();
    /// # }
    /// ```
    pub fn revoke_tokens(&self) {
        self.state.lock().tokens.clear();
    }

    /// Answers the next `count` webhook posts and group sends with HTTP 500 (a DingTalk outage), then
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
    pub fn callback(&self, text: impl Into<String>) -> CallbackBuilder {
        CallbackBuilder::new(
            text.into(),
            self.now_ms(),
            self.state.base_url.clone(),
            self.state.sessions.clone(),
        )
    }
}
