//! The card messages: `actionCard` (with its buttons) and `feedCard` (with its links).

use serde::{Deserialize, Serialize};

/// A button of a multi-button [`ActionCard`].
///
/// ```
/// let button = dingtalk_robot::Button::new("查看工单", "https://console.aws.amazon.com/support/");
/// # let _ = button;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    title: String,
    #[serde(rename = "actionURL")]
    action_url: String,
}

impl Button {
    /// A button that opens `action_url`.
    ///
    /// ```
    /// let button = dingtalk_robot::Button::new("不感兴趣", "https://example.com/no");
    /// # let _ = button;
    /// ```
    #[must_use]
    pub fn new(title: impl Into<String>, action_url: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            action_url: action_url.into(),
        }
    }
}

/// An `actionCard`: markdown text with one whole-card button ("整体跳转") or several buttons
/// ("独立跳转"). Buttons open URLs; they do not call back to the robot.
///
/// ```
/// use dingtalk_robot::{ActionCard, Button};
/// let card = ActionCard::multi("t", "text", Button::new("a", "https://a"), [Button::new("b", "https://b")])
///     .horizontal();
/// let json = serde_json::to_value(dingtalk_robot::OutboundMessage::action_card(card)).unwrap();
/// assert_eq!(json["actionCard"]["btns"][1]["actionURL"], "https://b");
/// assert_eq!(json["actionCard"]["btnOrientation"], "1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionCard {
    title: String,
    text: String,
    btn_orientation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    single_title: Option<String>,
    #[serde(rename = "singleURL", default, skip_serializing_if = "Option::is_none")]
    single_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    btns: Vec<Button>,
}

impl ActionCard {
    /// A card with one button that opens `url`.
    ///
    /// ```
    /// let card = dingtalk_robot::ActionCard::single("t", "md", "阅读全文", "https://www.dingtalk.com/");
    /// # let _ = card;
    /// ```
    #[must_use]
    pub fn single(
        title: impl Into<String>,
        text: impl Into<String>,
        button_title: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            text: text.into(),
            btn_orientation: "0".to_owned(),
            single_title: Some(button_title.into()),
            single_url: Some(url.into()),
            btns: Vec::new(),
        }
    }

    /// A card with separate buttons: at least one (`first`), then `more`.
    ///
    /// ```
    /// use dingtalk_robot::{ActionCard, Button};
    /// let card = ActionCard::multi("t", "md", Button::new("ok", "https://ok"), []);
    /// # let _ = card;
    /// ```
    #[must_use]
    pub fn multi(
        title: impl Into<String>,
        text: impl Into<String>,
        first: Button,
        more: impl IntoIterator<Item = Button>,
    ) -> Self {
        let mut btns = vec![first];
        btns.extend(more);
        Self {
            title: title.into(),
            text: text.into(),
            btn_orientation: "0".to_owned(),
            single_title: None,
            single_url: None,
            btns,
        }
    }

    /// Lays the buttons out side by side (`btnOrientation` `"1"`); vertical is the default.
    ///
    /// ```
    /// let card = dingtalk_robot::ActionCard::single("t", "md", "b", "https://b").horizontal();
    /// # let _ = card;
    /// ```
    #[must_use]
    pub fn horizontal(mut self) -> Self {
        self.btn_orientation = "1".to_owned();
        self
    }
}

/// One entry of a [`FeedCard`].
///
/// ```
/// let link = dingtalk_robot::FeedLink::new("标题", "https://a", "https://a/p.png");
/// # let _ = link;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedLink {
    title: String,
    #[serde(rename = "messageURL")]
    message_url: String,
    #[serde(rename = "picURL")]
    pic_url: String,
}

impl FeedLink {
    /// An entry that opens `message_url`, with a picture.
    ///
    /// ```
    /// let link = dingtalk_robot::FeedLink::new("t", "https://a", "https://a/p.png");
    /// # let _ = link;
    /// ```
    #[must_use]
    pub fn new(
        title: impl Into<String>,
        message_url: impl Into<String>,
        pic_url: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            message_url: message_url.into(),
            pic_url: pic_url.into(),
        }
    }
}

/// A `feedCard`: a list of links with pictures. Always has at least one link.
///
/// ```
/// use dingtalk_robot::{FeedCard, FeedLink};
/// let card = FeedCard::new(FeedLink::new("a", "https://a", "https://a/p.png"))
///     .link(FeedLink::new("b", "https://b", "https://b/p.png"));
/// let json = serde_json::to_value(dingtalk_robot::OutboundMessage::feed_card(card)).unwrap();
/// assert_eq!(json["feedCard"]["links"][1]["messageURL"], "https://b");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedCard {
    links: Vec<FeedLink>,
}

impl FeedCard {
    /// A feed card with its first link.
    ///
    /// ```
    /// let card = dingtalk_robot::FeedCard::new(dingtalk_robot::FeedLink::new("a", "https://a", ""));
    /// # let _ = card;
    /// ```
    #[must_use]
    pub fn new(first: FeedLink) -> Self {
        Self { links: vec![first] }
    }

    /// Appends a link.
    ///
    /// ```
    /// # use dingtalk_robot::{FeedCard, FeedLink};
    /// let card = FeedCard::new(FeedLink::new("a", "https://a", "")).link(FeedLink::new("b", "https://b", ""));
    /// # let _ = card;
    /// ```
    #[must_use]
    pub fn link(mut self, link: FeedLink) -> Self {
        self.links.push(link);
        self
    }
}
