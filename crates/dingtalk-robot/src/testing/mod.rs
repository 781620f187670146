//! A fake DingTalk on 127.0.0.1 for tests (feature `testing`).
//!
//! It answers custom robot webhooks (`/robot/send`) and session webhooks
//! (`/robot/sendBySession`) the way DingTalk does: HTTP 200 with `errcode`/`errmsg`, the 加签
//! signature and timestamp checked, keywords checked, 20 messages a minute per webhook with a
//! 10-minute block (errcode 130101). For the apps given to [`FakeDingTalkBuilder::app`] it
//! also serves the robot OpenAPI: access tokens (`/v1.0/oauth2/accessToken`) and group sends
//! (`/v1.0/robot/groupMessages/send`, HTTP 4xx with string codes, the same pace per group). Every accepted message is recorded. It also builds
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

use serde_json::Value;

mod callback;
mod fake;
#[cfg(feature = "stream")]
mod fake_stream;
#[cfg(feature = "stream")]
mod gateway;
mod openapi;
mod server;

pub use callback::CallbackBuilder;
pub use fake::{FakeDingTalk, FakeDingTalkBuilder};
#[cfg(feature = "stream")]
pub use gateway::StreamAckSeen;

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
    /// A group send through the robot OpenAPI, by `openConversationId`.
    Group(String),
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

/// An enterprise-internal app the fake knows: its key, secret and robot code. With it, the
/// fake hands out OpenAPI access tokens (`/v1.0/oauth2/accessToken`) and takes group sends
/// (`/v1.0/robot/groupMessages/send`) from that robot.
///
/// ```
/// use dingtalk_robot::testing::{FakeApp, FakeDingTalk};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let fake = FakeDingTalk::builder().app(FakeApp::new("dingkey", "secret")).start().await.unwrap();
/// # let _ = fake; }
/// ```
#[derive(Debug, Clone)]
pub struct FakeApp {
    pub(crate) app_key: String,
    pub(crate) app_secret: String,
    pub(crate) robot_code: String,
}

impl FakeApp {
    /// An app whose robot code is its app key.
    ///
    /// ```
    /// let app = dingtalk_robot::testing::FakeApp::new("dingkey", "secret");
    /// # let _ = app;
    /// ```
    #[must_use]
    pub fn new(app_key: impl Into<String>, app_secret: impl Into<String>) -> Self {
        let app_key = app_key.into();
        Self {
            robot_code: app_key.clone(),
            app_key,
            app_secret: app_secret.into(),
        }
    }

    /// A robot code other than the app key.
    ///
    /// ```
    /// let app = dingtalk_robot::testing::FakeApp::new("k", "s").robot_code("dingrobot");
    /// # let _ = app;
    /// ```
    #[must_use]
    pub fn robot_code(mut self, code: impl Into<String>) -> Self {
        self.robot_code = code.into();
        self
    }
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
