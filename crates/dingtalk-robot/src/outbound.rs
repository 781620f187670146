//! Messages a robot sends: `text`, `markdown`, `link`, `actionCard` and `feedCard`, serialised
//! exactly as DingTalk's custom robot webhook and sessionWebhook expect.

use serde::Serialize;

/// Most characters one `text` or `markdown` part carries; longer content is split.
///
/// DingTalk documents no webhook size limit (its OpenAPI caps `msgParam` at 15,000 bytes), so
/// this stays well below: 4,000 characters and at most [`MAX_PART_BYTES`] UTF-8 bytes per part.
///
/// ```
/// let parts = dingtalk_robot::OutboundMessage::text("a".repeat(dingtalk_robot::MAX_PART_CHARS + 1)).split();
/// assert_eq!(parts.len(), 2);
/// ```
pub const MAX_PART_CHARS: usize = 4_000;
/// Most UTF-8 bytes one `text` or `markdown` part carries (see [`MAX_PART_CHARS`]).
///
/// ```
/// // 4,001 three-byte characters: over the character budget and over the byte budget.
/// let parts = dingtalk_robot::OutboundMessage::text("钉".repeat(4_001)).split();
/// assert_eq!(parts.len(), 2);
/// ```
pub const MAX_PART_BYTES: usize = 12_000;

/// Whom a `text` or `markdown` message @-mentions.
///
/// A mention renders only if the content also contains `@<mobile>` or `@<userId>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct TextBody {
    content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct MarkdownBody {
    title: String,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkBody {
    title: String,
    text: String,
    message_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pic_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "msgtype")]
enum Body {
    #[serde(rename = "text")]
    Text {
        text: TextBody,
        #[serde(skip_serializing_if = "At::is_empty")]
        at: At,
    },
    #[serde(rename = "markdown")]
    Markdown {
        markdown: MarkdownBody,
        #[serde(skip_serializing_if = "At::is_empty")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

    /// Splits a long `text` or `markdown` message into parts of at most [`MAX_PART_CHARS`]
    /// characters and [`MAX_PART_BYTES`] bytes, at line boundaries (a single longer line is cut
    /// at a character boundary). Nothing is truncated: the parts of a `text` message concatenate
    /// to the original. Markdown parts get `(i/n)` after the title, and a code block cut in two
    /// is closed and reopened. Only the first part keeps the @-mentions. Other message types
    /// come back unchanged, as one part.
    ///
    /// ```
    /// use dingtalk_robot::{OutboundMessage, MAX_PART_CHARS};
    /// let long = "一行告警\n".repeat(2_000); // 10,000 characters
    /// let parts = OutboundMessage::text(long).split();
    /// assert_eq!(parts.len(), 3);
    /// ```
    #[must_use]
    pub fn split(self) -> Vec<Self> {
        self.split_with(MAX_PART_CHARS, MAX_PART_BYTES)
    }

    /// [`split`](Self::split) with an explicit budget (at least 64 characters and 256 bytes are
    /// used, whatever is passed, so that a part always has room for content).
    ///
    /// ```
    /// let parts = dingtalk_robot::OutboundMessage::text("a\n".repeat(100)).split_with(64, 256);
    /// assert_eq!(parts.len(), 4);
    /// ```
    #[must_use]
    pub fn split_with(self, max_chars: usize, max_bytes: usize) -> Vec<Self> {
        let budget = Budget {
            chars: max_chars.max(64),
            bytes: max_bytes.max(256),
        };
        // Fast path: content within the byte budget has no more characters than bytes.
        let short = match &self.body {
            Body::Text { text, .. } => text.content.len() <= budget.chars.min(budget.bytes),
            Body::Markdown { markdown, .. } => {
                markdown.text.len() <= budget.chars.min(budget.bytes)
            }
            _ => true,
        };
        if short {
            return vec![self];
        }
        match self.body {
            Body::Text { text, at } => {
                let parts = split_lines(&text.content, budget, false);
                let mut at = Some(at);
                parts
                    .into_iter()
                    .map(|content| Self {
                        body: Body::Text {
                            text: TextBody { content },
                            at: at.take().unwrap_or_default(),
                        },
                    })
                    .collect()
            }
            Body::Markdown { markdown, at } => {
                let parts = split_lines(&markdown.text, budget, true);
                let total = parts.len();
                let mut at = Some(at);
                parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let title = if total > 1 {
                            format!("{} ({}/{total})", markdown.title, i + 1)
                        } else {
                            markdown.title.clone()
                        };
                        Self {
                            body: Body::Markdown {
                                markdown: MarkdownBody { title, text },
                                at: at.take().unwrap_or_default(),
                            },
                        }
                    })
                    .collect()
            }
            body => vec![Self { body }],
        }
    }
}

/// A button of a multi-button [`ActionCard`].
///
/// ```
/// let button = dingtalk_robot::Button::new("查看工单", "https://console.aws.amazon.com/support/");
/// # let _ = button;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionCard {
    title: String,
    text: String,
    btn_orientation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    single_title: Option<String>,
    #[serde(rename = "singleURL", skip_serializing_if = "Option::is_none")]
    single_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
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
            btn_orientation: "0",
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
            btn_orientation: "0",
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
        self.btn_orientation = "1";
        self
    }
}

/// One entry of a [`FeedCard`].
///
/// ```
/// let link = dingtalk_robot::FeedLink::new("标题", "https://a", "https://a/p.png");
/// # let _ = link;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(Clone, Copy)]
struct Budget {
    chars: usize,
    bytes: usize,
}

/// The running size of a part.
#[derive(Default, Clone, Copy)]
struct Size {
    chars: usize,
    bytes: usize,
}

impl Size {
    fn of(s: &str) -> Self {
        Self {
            chars: s.chars().count(),
            bytes: s.len(),
        }
    }

    fn plus(self, other: Self) -> Self {
        Self {
            chars: self.chars + other.chars,
            bytes: self.bytes + other.bytes,
        }
    }

    fn fits(self, budget: Budget) -> bool {
        self.chars <= budget.chars && self.bytes <= budget.bytes
    }
}

/// The code fence a reopened part starts with: the opening line when short (```` ```json ````),
/// else a bare fence, so reopening never fills a part on its own.
fn reopening(fence_line: &str) -> String {
    let line = fence_line.trim_end();
    if line.chars().count() <= 16 {
        format!("{line}\n")
    } else {
        "```\n".to_owned()
    }
}

/// Parts being filled: the finished ones, the current one, and the markdown code block the
/// current one is inside, if any.
#[derive(Default)]
struct Parts {
    done: Vec<String>,
    current: String,
    fence: Option<String>,
}

impl Parts {
    /// Whether `piece` fits in the current part, leaving room to close a code block that is
    /// open (or that `opens_fence` is about to open).
    fn fits(&self, piece: &str, budget: Budget, opens_fence: bool) -> bool {
        let closing = if self.fence.is_some() || opens_fence {
            "\n```".len()
        } else {
            0
        };
        let room = Budget {
            chars: budget.chars.saturating_sub(closing),
            bytes: budget.bytes.saturating_sub(closing),
        };
        Size::of(&self.current).plus(Size::of(piece)).fits(room)
    }

    /// Ends the current part, closing an open code block, and starts the next one (reopening
    /// the block).
    fn flush(&mut self) {
        if self.fence.is_some() {
            if !self.current.ends_with('\n') {
                self.current.push('\n');
            }
            self.current.push_str("```");
        }
        self.done.push(std::mem::take(&mut self.current));
        if let Some(open) = &self.fence {
            self.current.push_str(open);
        }
    }
}

/// Splits `content` into parts within `budget`, at line ends where possible.
fn split_lines(content: &str, budget: Budget, markdown: bool) -> Vec<String> {
    let mut parts = Parts::default();
    for line in content.split_inclusive('\n') {
        let is_fence = markdown && line.trim_start().starts_with("```");
        let opens = is_fence && parts.fence.is_none();
        if !parts.fits(line, budget, opens) && !parts.current.is_empty() {
            parts.flush();
        }
        if parts.fits(line, budget, opens) {
            parts.current.push_str(line);
        } else {
            // One line longer than a whole part: cut it at character boundaries.
            for ch in line.chars() {
                let mut buf = [0_u8; 4];
                let piece = ch.encode_utf8(&mut buf);
                if !parts.fits(piece, budget, opens) && !parts.current.is_empty() {
                    parts.flush();
                }
                parts.current.push(ch);
            }
        }
        if is_fence {
            parts.fence = match parts.fence {
                Some(_) => None,
                None => Some(reopening(line)),
            };
        }
    }
    if !parts.current.is_empty() || parts.done.is_empty() {
        parts.done.push(parts.current);
    }
    parts.done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(chars: usize, bytes: usize) -> Budget {
        Budget { chars, bytes }
    }

    #[test]
    fn split_lines_prefers_line_boundaries() {
        let parts = split_lines("aaaa\nbbbb\ncccc\n", budget(10, 100), false);
        assert_eq!(parts, ["aaaa\nbbbb\n", "cccc\n"]);
    }

    #[test]
    fn split_lines_cuts_overlong_line_at_char_boundary() {
        let parts = split_lines("钉钉钉钉钉", budget(2, 100), false);
        assert_eq!(parts, ["钉钉", "钉钉", "钉"]);
        let parts = split_lines("钉钉钉钉钉", budget(100, 7), false);
        assert_eq!(parts, ["钉钉", "钉钉", "钉"]);
    }

    #[test]
    fn split_lines_closes_and_reopens_markdown_code_block() {
        let text = "intro\n```json\n{\"a\": 1}\n{\"b\": 2}\n```\nend\n";
        let parts = split_lines(text, budget(30, 1000), true);
        assert!(parts.len() > 1, "{parts:?}");
        for part in &parts {
            assert_eq!(
                part.matches("```").count() % 2,
                0,
                "unbalanced fence in {part:?}"
            );
            assert!(part.chars().count() <= 30, "{part:?}");
        }
        assert!(
            parts.iter().skip(1).any(|p| p.starts_with("```json\n")),
            "{parts:?}"
        );
    }

    #[test]
    fn split_of_empty_text_is_one_empty_part() {
        assert_eq!(split_lines("", budget(10, 10), false), [""]);
    }
}
