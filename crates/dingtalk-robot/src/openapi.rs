//! A group reached through the robot OpenAPI (`POST /v1.0/robot/groupMessages/send`): the way
//! an enterprise-internal app robot posts to a group without a `sessionWebhook`, for example
//! to tell it about something nobody asked about just now.

use std::fmt;

use crate::secret::AppSecret;

/// DingTalk's OpenAPI origin (access tokens, group sends).
///
/// ```
/// assert_eq!(dingtalk_robot::DEFAULT_OPENAPI_BASE, "https://api.dingtalk.com");
/// ```
pub const DEFAULT_OPENAPI_BASE: &str = "https://api.dingtalk.com";

/// Most bytes of a group send's `msgParam` (a JSON string), as DingTalk documents.
///
/// ```
/// assert_eq!(dingtalk_robot::MAX_MSG_PARAM_BYTES, 15_000);
/// ```
pub const MAX_MSG_PARAM_BYTES: usize = 15_000;

/// An enterprise-internal app's key and secret: what its OpenAPI access token is made from.
/// `Debug` shows the app key, never the secret.
///
/// ```
/// use dingtalk_robot::{AppCredentials, AppSecret};
/// let app = AppCredentials::new("dingabc", AppSecret::new("s3cret"));
/// assert_eq!(app.app_key(), "dingabc");
/// assert!(!format!("{app:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AppCredentials {
    app_key: String,
    pub(crate) app_secret: AppSecret,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_key", &self.app_key)
            .finish_non_exhaustive()
    }
}

impl AppCredentials {
    /// The app key (Client ID) and app secret (Client Secret).
    ///
    /// ```
    /// let app = dingtalk_robot::AppCredentials::new("dingabc", dingtalk_robot::AppSecret::new("s"));
    /// # let _ = app;
    /// ```
    #[must_use]
    pub fn new(app_key: impl Into<String>, app_secret: AppSecret) -> Self {
        Self {
            app_key: app_key.into(),
            app_secret,
        }
    }

    /// The app key.
    ///
    /// ```
    /// let app = dingtalk_robot::AppCredentials::new("dingabc", dingtalk_robot::AppSecret::new("s"));
    /// assert_eq!(app.app_key(), "dingabc");
    /// ```
    #[must_use]
    pub fn app_key(&self) -> &str {
        &self.app_key
    }
}

/// A group chat, reached by an app robot through the OpenAPI: the robot's code and the
/// group's `openConversationId` (the `conversationId` of any callback from that group).
///
/// ```
/// use dingtalk_robot::{AppCredentials, AppSecret, RobotGroup, Target};
/// let app = AppCredentials::new("dingabc", AppSecret::new("s"));
/// let group = RobotGroup::new(app, "dingabc", "cidXYZ==");
/// assert_eq!(group.open_conversation_id(), "cidXYZ==");
/// let target: Target = group.into();
/// # let _ = target;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotGroup {
    pub(crate) app: AppCredentials,
    pub(crate) robot_code: String,
    pub(crate) open_conversation_id: String,
}

impl RobotGroup {
    /// The group `open_conversation_id`, reached by the robot `robot_code` of `app` (for an
    /// app robot the robot code is usually the app key).
    ///
    /// ```
    /// # use dingtalk_robot::{AppCredentials, AppSecret, RobotGroup};
    /// let group = RobotGroup::new(AppCredentials::new("k", AppSecret::new("s")), "k", "cid1");
    /// # let _ = group;
    /// ```
    #[must_use]
    pub fn new(
        app: AppCredentials,
        robot_code: impl Into<String>,
        open_conversation_id: impl Into<String>,
    ) -> Self {
        Self {
            app,
            robot_code: robot_code.into(),
            open_conversation_id: open_conversation_id.into(),
        }
    }

    /// The group's `openConversationId`.
    ///
    /// ```
    /// # use dingtalk_robot::{AppCredentials, AppSecret, RobotGroup};
    /// let group = RobotGroup::new(AppCredentials::new("k", AppSecret::new("s")), "k", "cid1");
    /// assert_eq!(group.open_conversation_id(), "cid1");
    /// ```
    #[must_use]
    pub fn open_conversation_id(&self) -> &str {
        &self.open_conversation_id
    }
}

/// The `msgKey` and `msgParam` of a message, as the OpenAPI takes them: text →
/// `sampleText`, markdown → `sampleMarkdown`, link → `sampleLink`, a single-button action card
/// → `sampleActionCard`. The OpenAPI has no `at` field: @-mentions stay in the text only.
pub(crate) fn msg_param(message: &serde_json::Value) -> Option<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let msgtype = message.get("msgtype")?.as_str()?;
    let body = message.get(msgtype)?;
    let field = |name: &str| body.get(name).cloned().unwrap_or_default();
    Some(match msgtype {
        "text" => ("sampleText", json!({ "content": field("content") })),
        "markdown" => (
            "sampleMarkdown",
            json!({ "title": field("title"), "text": field("text") }),
        ),
        "link" => (
            "sampleLink",
            json!({ "title": field("title"), "text": field("text"),
                    "picUrl": field("picUrl"), "messageUrl": field("messageUrl") }),
        ),
        "actionCard" if body.get("singleTitle").is_some() => (
            "sampleActionCard",
            json!({ "title": field("title"), "text": field("text"),
                    "singleTitle": field("singleTitle"), "singleURL": field("singleURL") }),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_text_map_to_their_sample_keys_and_feed_cards_do_not() {
        let markdown = serde_json::to_value(crate::OutboundMessage::markdown("T", "x")).unwrap();
        let (key, param) = msg_param(&markdown).unwrap();
        assert_eq!(key, "sampleMarkdown");
        assert_eq!(param, serde_json::json!({"title": "T", "text": "x"}));
        let text = serde_json::to_value(crate::OutboundMessage::text("hi")).unwrap();
        assert_eq!(msg_param(&text).unwrap().0, "sampleText");
        let feed = serde_json::json!({"msgtype": "feedCard", "feedCard": {"links": []}});
        assert!(msg_param(&feed).is_none());
    }
}
