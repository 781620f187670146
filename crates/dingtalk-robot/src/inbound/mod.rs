//! The body DingTalk posts to a robot's HTTP callback ("消息接收地址"), also the `data` of a
//! Stream-mode robot frame.
//!
//! Every field is optional and unknown fields are kept, because DingTalk keeps adding fields and
//! its documented "required" column does not match real payloads. Message types this crate does
//! not know are kept as raw JSON instead of failing the whole callback.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

mod wire;

/// One callback from DingTalk: a message sent to the robot.
///
/// ```
/// use dingtalk_robot::{InboundMessage, MessageContent};
/// let msg = InboundMessage::from_json(r#"{
///     "msgtype": "text", "text": {"content": " 帮助 "}, "msgId": "msgX",
///     "conversationType": "2", "conversationId": "cid1", "senderNick": "张三"
/// }"#.as_bytes()).unwrap();
/// assert!(msg.is_group());
/// assert_eq!(msg.command_text(), Some("帮助"));
/// assert!(matches!(msg.content(), MessageContent::Text { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Map<String, Value>", into = "wire::Wire")]
#[non_exhaustive]
pub struct InboundMessage {
    /// The message body, by `msgtype`.
    pub content: MessageContent,
    /// Encrypted message id (`msgId`): the natural idempotency key.
    pub msg_id: Option<String>,
    /// Message time, Unix milliseconds (`createAt`).
    pub create_at: Option<i64>,
    /// One-to-one or group (`conversationType`).
    pub conversation_type: Option<ConversationType>,
    /// Encrypted conversation id (`cid…`).
    pub conversation_id: Option<String>,
    /// Group title; only present for group chats.
    pub conversation_title: Option<String>,
    /// Encrypted sender id.
    pub sender_id: Option<String>,
    /// Sender's nickname.
    pub sender_nick: Option<String>,
    /// Sender's corp id (absent for some external users).
    pub sender_corp_id: Option<String>,
    /// Sender's user id inside the organisation.
    pub sender_staff_id: Option<String>,
    /// Encrypted robot id.
    pub chatbot_user_id: Option<String>,
    /// Corp id of the robot.
    pub chatbot_corp_id: Option<String>,
    /// Robot code (usually the app key).
    pub robot_code: Option<String>,
    /// Users @-mentioned in the message.
    pub at_users: Vec<AtUser>,
    /// Whether the sender is an admin.
    pub is_admin: Option<bool>,
    /// Whether the robot is in the @ list.
    pub is_in_at_list: Option<bool>,
    /// Temporary reply URL for this conversation.
    pub session_webhook: Option<String>,
    /// When `session_webhook` expires, Unix milliseconds.
    pub session_webhook_expired_time: Option<i64>,
    /// Every other field DingTalk sent (`senderPlatform`, `openThreadId`, …), untouched.
    pub extra: Map<String, Value>,
}

/// A user @-mentioned in a message.
///
/// ```
/// let user: dingtalk_robot::AtUser = serde_json::from_str(r#"{"dingtalkId":"$:LWCP"}"#).unwrap();
/// assert_eq!(user.staff_id, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AtUser {
    /// Encrypted DingTalk id.
    pub dingtalk_id: Option<String>,
    /// User id inside the organisation, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
}

/// Whether a message came from a one-to-one chat or a group (`conversationType`).
///
/// ```
/// use dingtalk_robot::ConversationType;
/// assert_eq!(ConversationType::from("2"), ConversationType::Group);
/// assert_eq!(ConversationType::from("9"), ConversationType::Other("9".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConversationType {
    /// `"1"`: a one-to-one chat with the robot.
    OneToOne,
    /// `"2"`: a group chat.
    Group,
    /// Any other value, kept as sent.
    Other(String),
}

impl From<&str> for ConversationType {
    fn from(value: &str) -> Self {
        match value {
            "1" => Self::OneToOne,
            "2" => Self::Group,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl ConversationType {
    /// The wire value (`"1"`, `"2"`, or whatever was received).
    ///
    /// ```
    /// assert_eq!(dingtalk_robot::ConversationType::OneToOne.as_str(), "1");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::OneToOne => "1",
            Self::Group => "2",
            Self::Other(other) => other,
        }
    }
}

/// One element of a `richText` message.
///
/// ```
/// use dingtalk_robot::RichTextItem;
/// let item: RichTextItem = serde_json::from_str(r#"{"text":"hi"}"#).unwrap();
/// assert_eq!(item, RichTextItem::Text { text: "hi".into() });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum RichTextItem {
    /// A run of text.
    Text {
        /// The text.
        text: String,
    },
    /// A picture.
    #[serde(rename_all = "camelCase")]
    Picture {
        /// Code to download the picture with.
        download_code: Option<String>,
        /// Alternative picture download code.
        picture_download_code: Option<String>,
    },
    /// Anything else, kept as sent.
    Other(Value),
}

/// The body of a message, by `msgtype`.
///
/// ```
/// use dingtalk_robot::{InboundMessage, MessageContent};
/// let msg = InboundMessage::from_json(br#"{"msgtype":"sticker","content":{"id":7}}"#).unwrap();
/// match msg.content() {
///     MessageContent::Unknown { msgtype, raw } => {
///         assert_eq!(msgtype.as_deref(), Some("sticker"));
///         assert_eq!(raw["content"]["id"], 7);
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MessageContent {
    /// `text`: `text.content`.
    Text {
        /// The text as sent (DingTalk often puts a space where the @-mention was).
        content: String,
    },
    /// `richText`: text runs and pictures.
    RichText {
        /// The elements in order.
        items: Vec<RichTextItem>,
    },
    /// `picture`.
    Picture {
        /// Code to download the picture with.
        download_code: Option<String>,
    },
    /// `audio`, with DingTalk's speech recognition.
    Audio {
        /// Code to download the audio with.
        download_code: Option<String>,
        /// Speech-to-text result.
        recognition: Option<String>,
    },
    /// `video`.
    Video {
        /// Code to download the video with.
        download_code: Option<String>,
        /// Duration as sent (seconds, a string).
        duration: Option<String>,
        /// Container type, e.g. `mp4`.
        video_type: Option<String>,
    },
    /// `file`.
    File {
        /// Code to download the file with.
        download_code: Option<String>,
        /// File name.
        file_name: Option<String>,
        /// File id.
        file_id: Option<String>,
        /// DingTalk drive space id.
        space_id: Option<String>,
    },
    /// Any other `msgtype` (or a known one whose shape did not match), kept as raw JSON.
    Unknown {
        /// The `msgtype` as sent, if any.
        msgtype: Option<String>,
        /// The message's own JSON: `msgtype`, `text`, `content` and every field this crate
        /// does not model.
        raw: Value,
    },
}

impl InboundMessage {
    /// Parses a callback body.
    ///
    /// # Errors
    /// [`Error::MalformedBody`] if the body is not a JSON object, or a field DingTalk always
    /// sends as a string is something else. Missing fields and unknown message types are not
    /// errors.
    ///
    /// ```
    /// let msg = dingtalk_robot::InboundMessage::from_json(b"{}").unwrap();
    /// assert_eq!(msg.msg_id, None);
    /// ```
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(body).map_err(Error::MalformedBody)
    }

    /// The message body.
    ///
    /// ```
    /// # use dingtalk_robot::{InboundMessage, MessageContent};
    /// let msg = InboundMessage::from_json(br#"{"msgtype":"text","text":{"content":"hi"}}"#).unwrap();
    /// assert_eq!(msg.content(), &MessageContent::Text { content: "hi".into() });
    /// ```
    #[must_use]
    pub fn content(&self) -> &MessageContent {
        &self.content
    }

    /// The text a person typed, ready to parse as a command: for `text` the content, for
    /// `richText` the text runs joined, for `audio` the speech recognition; with a leading
    /// @-mention and surrounding whitespace removed. `None` for other types or if nothing is left.
    ///
    /// ```
    /// # use dingtalk_robot::InboundMessage;
    /// let msg = InboundMessage::from_json(
    ///     r#"{"msgtype":"text","text":{"content":"@值班机器人\u2005查找ServiceCode: ec2\n"}}"#.as_bytes(),
    /// ).unwrap();
    /// assert_eq!(msg.command_text(), Some("查找ServiceCode: ec2"));
    /// ```
    #[must_use]
    pub fn command_text(&self) -> Option<&str> {
        let text = match &self.content {
            MessageContent::Text { content } => content.as_str(),
            MessageContent::RichText { .. } => return None,
            MessageContent::Audio { recognition, .. } => recognition.as_deref()?,
            _ => return None,
        };
        let text = strip_leading_mention(text);
        (!text.is_empty()).then_some(text)
    }

    /// Like [`command_text`](Self::command_text) but also joins the text runs of a `richText`
    /// message, so it returns an owned string.
    ///
    /// ```
    /// # use dingtalk_robot::InboundMessage;
    /// let msg = InboundMessage::from_json(br#"{"msgtype":"richText","content":{"richText":[
    ///     {"text":"@bot "},{"type":"picture","downloadCode":"d"},{"text":"help"}]}}"#).unwrap();
    /// assert_eq!(msg.command_string().as_deref(), Some("help"));
    /// ```
    #[must_use]
    pub fn command_string(&self) -> Option<String> {
        if let MessageContent::RichText { items } = &self.content {
            let joined: String = items
                .iter()
                .filter_map(|item| match item {
                    RichTextItem::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            let text = strip_leading_mention(&joined);
            return (!text.is_empty()).then(|| text.to_owned());
        }
        self.command_text().map(str::to_owned)
    }

    /// Whether the message came from a group chat (`conversationType` `"2"`).
    ///
    /// ```
    /// # use dingtalk_robot::InboundMessage;
    /// let msg = InboundMessage::from_json(br#"{"conversationType":"2"}"#).unwrap();
    /// assert!(msg.is_group() && !msg.is_one_to_one());
    /// ```
    #[must_use]
    pub fn is_group(&self) -> bool {
        self.conversation_type == Some(ConversationType::Group)
    }

    /// Whether the message came from a one-to-one chat (`conversationType` `"1"`).
    ///
    /// ```
    /// # use dingtalk_robot::InboundMessage;
    /// let msg = InboundMessage::from_json(br#"{"conversationType":"1"}"#).unwrap();
    /// assert!(msg.is_one_to_one());
    /// ```
    #[must_use]
    pub fn is_one_to_one(&self) -> bool {
        self.conversation_type == Some(ConversationType::OneToOne)
    }
}

/// Removes surrounding whitespace and one leading `@name` (DingTalk may leave the robot's
/// mention in the text, followed by a space or U+2005).
fn strip_leading_mention(text: &str) -> &str {
    let text = text.trim();
    match text.strip_prefix('@').or_else(|| text.strip_prefix('＠')) {
        Some(rest) => match rest.find(char::is_whitespace) {
            Some(end) => rest.get(end..).unwrap_or_default().trim(),
            // "@bot" alone: nothing but the mention.
            None => "",
        },
        None => text,
    }
}
