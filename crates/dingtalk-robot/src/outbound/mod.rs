//! Messages a robot sends: `text`, `markdown`, `link`, `actionCard` and `feedCard`, serialised
//! exactly as DingTalk's custom robot webhook and sessionWebhook expect.

use serde::{Deserialize, Serialize};

mod cards;
mod split;

pub use cards::{ActionCard, Button, FeedCard, FeedLink};
pub use split::{MAX_PART_BYTES, MAX_PART_CHARS};

/// Whom a `text` or `markdown` message @-mentions.
///
/// A mention renders only if the content also contains `@<mobile>` or `@<userId>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct At {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    at_mobiles: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    at_user_ids: Vec<String>,
    is_at_all: bool,
}

impl At {
    fn is_empty(&self) -> bool {
        self.at_mobiles.is_empty() && self.at_user_ids.is_empty() && !self.is_at_all
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TextBody {
    content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct MarkdownBody {
    title: String,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkBody {
    title: String,
    text: String,
    message_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pic_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msgtype")]
enum Body {
    #[serde(rename = "text")]
    Text {
        text: TextBody,
        #[serde(default, skip_serializing_if = "At::is_empty")]
        at: At,
    },
    #[serde(rename = "markdown")]
    Markdown {
        markdown: MarkdownBody,
        #[serde(default, skip_serializing_if = "At::is_empty")]
        at: At,
    },
    #[serde(rename = "link")]
    Link { link: LinkBody },
    #[serde(rename = "actionCard")]
    ActionCard {
        #[serde(rename = "actionCard")]
        action_card: ActionCard,
    },
    #[serde(rename = "feedCard")]
    FeedCard {
        #[serde(rename = "feedCard")]
        feed_card: FeedCard,
    },
}

/// A message to send through a custom robot webhook or a sessionWebhook.
///
/// Built with a named constructor per type plus chainable setters; it serialises to DingTalk's
/// JSON with `serde_json::to_value`.
///
/// ```
/// use dingtalk_robot::OutboundMessage;
/// let msg = OutboundMessage::markdown("工单", "### AWS 工单\n- 状态: opened").at_user_ids(["manager1"]);
/// assert_eq!(
///     serde_json::to_value(&msg).unwrap(),
///     serde_json::json!({
///         "msgtype": "markdown",
///         "markdown": {"title": "工单", "text": "### AWS 工单\n- 状态: opened"},
///         "at": {"atUserIds": ["manager1"], "isAtAll": false}
///     })
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutboundMessage {
    body: Body,
}

impl OutboundMessage {
    /// A plain `text` message.
    ///
    /// ```
    /// let msg = dingtalk_robot::OutboundMessage::text("AWS 工单已创建");
    /// assert_eq!(serde_json::to_string(&msg).unwrap(), r#"{"msgtype":"text","text":{"content":"AWS 工单已创建"}}"#);
    /// ```
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            body: Body::Text {
                text: TextBody {
                    content: content.into(),
                },
                at: At::default(),
            },
        }
    }

    /// A `markdown` message; `title` is what the conversation list and notifications show.
    ///
    /// ```
    /// let msg = dingtalk_robot::OutboundMessage::markdown("title", "**bold**");
    /// # let _ = msg;
    /// ```
    #[must_use]
    pub fn markdown(title: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            body: Body::Markdown {
                markdown: MarkdownBody {
                    title: title.into(),
                    text: text.into(),
                },
                at: At::default(),
            },
        }
    }

    /// A `link` message: a card that opens `message_url`.
    ///
    /// ```
    /// let msg = dingtalk_robot::OutboundMessage::link("AWS Health", "事件详情", "https://health.aws.amazon.com/")
    ///     .pic_url("https://example.com/p.png");
    /// let json = serde_json::to_value(&msg).unwrap();
    /// assert_eq!(json["link"]["messageUrl"], "https://health.aws.amazon.com/");
    /// assert_eq!(json["link"]["picUrl"], "https://example.com/p.png");
    /// ```
    #[must_use]
    pub fn link(
        title: impl Into<String>,
        text: impl Into<String>,
        message_url: impl Into<String>,
    ) -> Self {
        Self {
            body: Body::Link {
                link: LinkBody {
                    title: title.into(),
                    text: text.into(),
                    message_url: message_url.into(),
                    pic_url: String::new(),
                },
            },
        }
    }

    /// An `actionCard` message.
    ///
    /// ```
    /// use dingtalk_robot::{ActionCard, OutboundMessage};
    /// let msg = OutboundMessage::action_card(ActionCard::single("t", "text", "阅读全文", "https://example.com"));
    /// # let _ = msg;
    /// ```
    #[must_use]
    pub fn action_card(card: ActionCard) -> Self {
        Self {
            body: Body::ActionCard { action_card: card },
        }
    }

    /// A `feedCard` message.
    ///
    /// ```
    /// use dingtalk_robot::{FeedCard, FeedLink, OutboundMessage};
    /// let msg = OutboundMessage::feed_card(FeedCard::new(FeedLink::new("t", "https://a", "https://a/p.png")));
    /// # let _ = msg;
    /// ```
    #[must_use]
    pub fn feed_card(card: FeedCard) -> Self {
        Self {
            body: Body::FeedCard { feed_card: card },
        }
    }

    fn at_mut(&mut self) -> Option<&mut At> {
        match &mut self.body {
            Body::Text { at, .. } | Body::Markdown { at, .. } => Some(at),
            _ => None,
        }
    }

    /// @-mentions these mobile numbers (`text` and `markdown` only; ignored for other types).
    ///
    /// ```
    /// let msg = dingtalk_robot::OutboundMessage::text("@13800000000 请看").at_mobiles(["13800000000"]);
    /// assert_eq!(serde_json::to_value(&msg).unwrap()["at"]["atMobiles"][0], "13800000000");
    /// ```
    #[must_use]
    pub fn at_mobiles<I, S>(mut self, mobiles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Some(at) = self.at_mut() {
            at.at_mobiles.extend(mobiles.into_iter().map(Into::into));
        }
        self
    }

    /// @-mentions these user ids (`text` and `markdown` only; ignored for other types).
    ///
    /// ```
    /// let msg = dingtalk_robot::OutboundMessage::text("done").at_user_ids(["staff42"]);
    /// assert_eq!(serde_json::to_value(&msg).unwrap()["at"]["atUserIds"][0], "staff42");
    /// ```
    #[must_use]
    pub fn at_user_ids<I, S>(mut self, user_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Some(at) = self.at_mut() {
            at.at_user_ids.extend(user_ids.into_iter().map(Into::into));
        }
        self
    }

    /// @-mentions everyone in the group (`text` and `markdown` only; ignored for other types).
    ///
    /// ```
    /// let msg = dingtalk_robot::OutboundMessage::text("全员注意").at_all();
    /// assert_eq!(serde_json::to_value(&msg).unwrap()["at"]["isAtAll"], true);
    /// ```
    #[must_use]
    pub fn at_all(mut self) -> Self {
        if let Some(at) = self.at_mut() {
            at.is_at_all = true;
        }
        self
    }

    /// Sets the picture of a `link` message (ignored for other types).
    ///
    /// ```
    /// let msg = dingtalk_robot::OutboundMessage::link("t", "x", "https://a").pic_url("https://a/p.png");
    /// # let _ = msg;
    /// ```
    #[must_use]
    pub fn pic_url(mut self, url: impl Into<String>) -> Self {
        if let Body::Link { link } = &mut self.body {
            link.pic_url = url.into();
        }
        self
    }

    /// The `msgtype` this message serialises with.
    ///
    /// ```
    /// assert_eq!(dingtalk_robot::OutboundMessage::text("x").msgtype(), "text");
    /// ```
    #[must_use]
    pub fn msgtype(&self) -> &'static str {
        match self.body {
            Body::Text { .. } => "text",
            Body::Markdown { .. } => "markdown",
            Body::Link { .. } => "link",
            Body::ActionCard { .. } => "actionCard",
            Body::FeedCard { .. } => "feedCard",
        }
    }
}
