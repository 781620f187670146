//! Where a message goes: a callback's `sessionWebhook` or a custom group robot.

use std::fmt;

use crate::inbound::InboundMessage;
use crate::openapi::RobotGroup;
use crate::secret::{AccessToken, WebhookSecret};
use crate::signature::webhook_sign;

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
    pub(crate) url: String,
    pub(crate) expires_at_ms: Option<i64>,
    conversation_id: Option<String>,
}

impl fmt::Debug for SessionWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let without_query = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("SessionWebhook")
            .field("url", &format_args!("{without_query}?…"))
            .field("expires_at_ms", &self.expires_at_ms)
            .field("conversation_id", &self.conversation_id)
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
            conversation_id: None,
        }
    }

    /// The reply webhook of a callback, if it carried one, for the callback's conversation.
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
        let hook = Self::new(url, msg.session_webhook_expired_time);
        Some(match &msg.conversation_id {
            Some(id) => hook.in_conversation(id.clone()),
            None => hook,
        })
    }

    /// Names the conversation the webhook posts to. DingTalk limits each robot to 20 messages
    /// a minute per group, so a [`Sender`](crate::Sender) paces the session webhooks of one
    /// conversation together (each callback brings a webhook URL of its own); without a
    /// conversation a webhook is paced on its own.
    ///
    /// ```
    /// let hook = dingtalk_robot::SessionWebhook::new("https://oapi.dingtalk.com/robot/sendBySession?session=x", None)
    ///     .in_conversation("cidOps");
    /// assert_eq!(hook.conversation_id(), Some("cidOps"));
    /// ```
    #[must_use]
    pub fn in_conversation(mut self, conversation_id: impl Into<String>) -> Self {
        self.conversation_id = Some(conversation_id.into());
        self
    }

    /// The conversation the webhook posts to, when known.
    ///
    /// ```
    /// let hook = dingtalk_robot::SessionWebhook::new("https://x", None);
    /// assert_eq!(hook.conversation_id(), None);
    /// ```
    #[must_use]
    pub fn conversation_id(&self) -> Option<&str> {
        self.conversation_id.as_deref()
    }

    /// The webhook URL. Anyone who has it may post to the group until it expires: keep it
    /// out of logs.
    ///
    /// ```
    /// let hook = dingtalk_robot::SessionWebhook::new("https://oapi.dingtalk.com/robot/sendBySession?session=x", None);
    /// assert!(hook.url().ends_with("session=x"));
    /// ```
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
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
    pub(crate) access_token: AccessToken,
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
    /// A group, through the robot OpenAPI (`groupMessages/send`).
    Group(RobotGroup),
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

impl From<RobotGroup> for Target {
    fn from(group: RobotGroup) -> Self {
        Self::Group(group)
    }
}

impl Target {
    /// What the sender paces by: the robot's token, or the session's conversation (its URL
    /// when the conversation is not known).
    pub(crate) fn pace_key(&self) -> String {
        match self {
            Self::Robot(robot) => format!("robot:{}", robot.access_token.expose_secret()),
            Self::Group(group) => {
                format!("group:{}:{}", group.robot_code, group.open_conversation_id)
            }
            Self::Session(hook) => match &hook.conversation_id {
                Some(id) => format!("conversation:{id}"),
                None => format!("session:{}", hook.url),
            },
        }
    }

    /// `robot` or `session`, for logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Robot(_) => "robot",
            Self::Session(_) => "session",
            Self::Group(_) => "group",
        }
    }
}
