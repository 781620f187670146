//! The body DingTalk posts to a robot's HTTP callback ("消息接收地址"), also the `data` of a
//! Stream-mode robot frame.
//!
//! Every field is optional and unknown fields are kept, because DingTalk keeps adding fields and
//! its documented "required" column does not match real payloads. Message types this crate does
//! not know are kept as raw JSON instead of failing the whole callback.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
#[serde(from = "wire::Raw", into = "wire::Raw")]
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

/// Why a callback body could not be read.
///
/// ```
/// let err = dingtalk_robot::InboundMessage::from_json(b"{").unwrap_err();
/// assert!(err.to_string().contains("not a JSON object"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("the callback body is not a JSON object: {0}")]
pub struct ParseError(#[source] serde_json::Error);

impl InboundMessage {
    /// Parses a callback body.
    ///
    /// # Errors
    /// [`ParseError`] if the body is not a JSON object. Missing fields and unknown message types
    /// are not errors.
    ///
    /// ```
    /// let msg = dingtalk_robot::InboundMessage::from_json(b"{}").unwrap();
    /// assert_eq!(msg.msg_id, None);
    /// ```
    pub fn from_json(body: &[u8]) -> Result<Self, ParseError> {
        match std::str::from_utf8(body) {
            // One UTF-8 check of the whole body: parsing from bytes checks every key and
            // string on its own, which cost a tenth of a callback's handling.
            Ok(text) => serde_json::from_str(text),
            // Not UTF-8: the byte parser says where.
            Err(_) => serde_json::from_slice(body),
        }
        .map_err(ParseError)
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

mod wire {
    //! The flat wire shape, converted to and from the public model.

    use super::{AtUser, ConversationType, InboundMessage, MessageContent, RichTextItem};
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize};
    use serde_json::{Map, Value};

    /// Serialised by derive; deserialised by hand ([`RawVisitor`]): serde's `flatten` buffers
    /// the whole body into an intermediate tree first, which doubled the parse time.
    #[derive(Default, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Raw {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msgtype: Option<Cow<'static, str>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<TextField>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msg_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        create_at: Option<Value>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "conversation_type_str"
        )]
        conversation_type: Option<ConversationType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_nick: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_corp_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_staff_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chatbot_user_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chatbot_corp_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        robot_code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_users: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_admin: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_in_at_list: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_webhook: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_webhook_expired_time: Option<Value>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    }

    /// The `text` member. A text message's `{"content": "…"}` is read straight into its string,
    /// without a JSON map around it (that map was a third of the parse); any other shape is
    /// kept whole as JSON, so nothing DingTalk sent is lost.
    #[derive(Debug, Clone, PartialEq)]
    pub(super) enum TextField {
        /// Exactly `{"content": "<string>"}`.
        Content(String),
        /// Anything else, as sent.
        Other(Value),
    }

    impl TextField {
        fn into_value(self) -> Value {
            match self {
                Self::Content(content) => {
                    let mut map = Map::new();
                    map.insert("content".to_owned(), Value::String(content));
                    Value::Object(map)
                }
                Self::Other(value) => value,
            }
        }
    }

    impl Serialize for TextField {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap as _;
            match self {
                Self::Content(content) => {
                    let mut map = serializer.serialize_map(Some(1))?;
                    map.serialize_entry("content", content)?;
                    map.end()
                }
                Self::Other(value) => value.serialize(serializer),
            }
        }
    }

    impl<'de> Deserialize<'de> for TextField {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(TextFieldVisitor)
        }
    }

    /// A key of the `text` object: `content` (matched without allocating) or another.
    enum TextKey {
        Content,
        Other(String),
    }

    impl<'de> Deserialize<'de> for TextKey {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_identifier(KeyVisitor(|key: &str| match key {
                "content" => TextKey::Content,
                other => TextKey::Other(other.to_owned()),
            }))
        }
    }

    /// Reads an object key as `name(key)`, matching names without allocating.
    struct KeyVisitor<F>(F);

    impl<T, F: FnOnce(&str) -> T> Visitor<'_> for KeyVisitor<F> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a field name")
        }

        fn visit_str<E: de::Error>(self, key: &str) -> Result<T, E> {
            Ok((self.0)(key))
        }
    }

    struct TextFieldVisitor;

    impl<'de> Visitor<'de> for TextFieldVisitor {
        type Value = TextField;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TextField, A::Error> {
            let mut content: Option<Value> = None;
            let mut rest = Map::new();
            while let Some(key) = map.next_key::<TextKey>()? {
                match key {
                    // Repeated keys: the last one wins, as for the whole body.
                    TextKey::Content => content = Some(map.next_value()?),
                    TextKey::Other(key) => {
                        rest.insert(key, map.next_value()?);
                    }
                }
            }
            Ok(match content {
                Some(Value::String(content)) if rest.is_empty() => TextField::Content(content),
                content => {
                    if let Some(content) = content {
                        rest.insert("content".to_owned(), content);
                    }
                    TextField::Other(Value::Object(rest))
                }
            })
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<TextField, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<Value>()? {
                items.push(item);
            }
            Ok(TextField::Other(Value::Array(items)))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<TextField, E> {
            Ok(TextField::Other(Value::String(v.to_owned())))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<TextField, E> {
            Ok(TextField::Other(Value::String(v)))
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<TextField, E> {
            Ok(TextField::Other(Value::Bool(v)))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<TextField, E> {
            Ok(TextField::Other(Value::from(v)))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<TextField, E> {
            Ok(TextField::Other(Value::from(v)))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<TextField, E> {
            Ok(TextField::Other(Value::from(v)))
        }

        fn visit_unit<E: de::Error>(self) -> Result<TextField, E> {
            Ok(TextField::Other(Value::Null))
        }
    }

    /// A top-level key: one of the modelled fields (matched without allocating) or another.
    enum Field {
        Msgtype,
        Text,
        Content,
        MsgId,
        CreateAt,
        ConversationType,
        ConversationId,
        ConversationTitle,
        SenderId,
        SenderNick,
        SenderCorpId,
        SenderStaffId,
        ChatbotUserId,
        ChatbotCorpId,
        RobotCode,
        AtUsers,
        IsAdmin,
        IsInAtList,
        SessionWebhook,
        SessionWebhookExpiredTime,
        Other(String),
    }

    impl<'de> Deserialize<'de> for Field {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_identifier(KeyVisitor(|key: &str| match key {
                "msgtype" => Field::Msgtype,
                "text" => Field::Text,
                "content" => Field::Content,
                "msgId" => Field::MsgId,
                "createAt" => Field::CreateAt,
                "conversationType" => Field::ConversationType,
                "conversationId" => Field::ConversationId,
                "conversationTitle" => Field::ConversationTitle,
                "senderId" => Field::SenderId,
                "senderNick" => Field::SenderNick,
                "senderCorpId" => Field::SenderCorpId,
                "senderStaffId" => Field::SenderStaffId,
                "chatbotUserId" => Field::ChatbotUserId,
                "chatbotCorpId" => Field::ChatbotCorpId,
                "robotCode" => Field::RobotCode,
                "atUsers" => Field::AtUsers,
                "isAdmin" => Field::IsAdmin,
                "isInAtList" => Field::IsInAtList,
                "sessionWebhook" => Field::SessionWebhook,
                "sessionWebhookExpiredTime" => Field::SessionWebhookExpiredTime,
                other => Field::Other(other.to_owned()),
            }))
        }
    }

    /// `msgtype`: the known types are matched without allocating a string.
    struct Msgtype(Cow<'static, str>);

    impl<'de> Deserialize<'de> for Msgtype {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct MsgtypeVisitor;
            impl Visitor<'_> for MsgtypeVisitor {
                type Value = Msgtype;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a message type")
                }

                fn visit_str<E: de::Error>(self, v: &str) -> Result<Msgtype, E> {
                    const KNOWN: [&str; 6] =
                        ["text", "richText", "picture", "audio", "video", "file"];
                    Ok(Msgtype(
                        KNOWN.iter().find(|known| **known == v).map_or_else(
                            || Cow::Owned(v.to_owned()),
                            |known| Cow::Borrowed(*known),
                        ),
                    ))
                }
            }
            deserializer.deserialize_str(MsgtypeVisitor)
        }
    }

    /// `conversationType`: `"1"` and `"2"` without allocating, numbers accepted as their
    /// decimal text, and any other shape (documented values are strings) taken as absent.
    struct WireConversationType(Option<ConversationType>);

    impl<'de> Deserialize<'de> for WireConversationType {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct ConversationTypeVisitor;
            impl<'de> Visitor<'de> for ConversationTypeVisitor {
                type Value = WireConversationType;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a conversation type")
                }

                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(WireConversationType(Some(ConversationType::from(v))))
                }

                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                    Ok(WireConversationType(Some(ConversationType::from(
                        v.to_string().as_str(),
                    ))))
                }

                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                    Ok(WireConversationType(Some(ConversationType::from(
                        v.to_string().as_str(),
                    ))))
                }

                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                    // As JSON writes it (`2.0`), like the other numbers.
                    Ok(WireConversationType(
                        serde_json::Number::from_f64(v)
                            .map(|n| ConversationType::from(n.to_string().as_str())),
                    ))
                }

                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                    Ok(WireConversationType(None))
                }

                fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(WireConversationType(None))
                }

                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    while map
                        .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                        .is_some()
                    {}
                    Ok(WireConversationType(None))
                }

                fn visit_seq<A: de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Self::Value, A::Error> {
                    while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                    Ok(WireConversationType(None))
                }
            }
            deserializer.deserialize_any(ConversationTypeVisitor)
        }
    }

    #[allow(clippy::ref_option)] // the signature `serialize_with` calls
    fn conversation_type_str<S: serde::Serializer>(
        value: &Option<ConversationType>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_str(value.as_str()),
            None => serializer.serialize_none(),
        }
    }

    struct RawVisitor;

    impl<'de> Visitor<'de> for RawVisitor {
        type Value = Raw;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a DingTalk callback object")
        }

        /// Repeated keys: the last one wins, as with `serde_json::Value` and `JSON.parse`.
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
            let mut raw = Raw::default();
            while let Some(field) = map.next_key::<Field>()? {
                match field {
                    Field::Msgtype => {
                        raw.msgtype = map.next_value::<Option<Msgtype>>()?.map(|m| m.0);
                    }
                    Field::Text => raw.text = map.next_value()?,
                    Field::Content => raw.content = map.next_value()?,
                    Field::MsgId => raw.msg_id = map.next_value()?,
                    Field::CreateAt => raw.create_at = map.next_value()?,
                    Field::ConversationType => {
                        raw.conversation_type = map.next_value::<WireConversationType>()?.0;
                    }
                    Field::ConversationId => raw.conversation_id = map.next_value()?,
                    Field::ConversationTitle => raw.conversation_title = map.next_value()?,
                    Field::SenderId => raw.sender_id = map.next_value()?,
                    Field::SenderNick => raw.sender_nick = map.next_value()?,
                    Field::SenderCorpId => raw.sender_corp_id = map.next_value()?,
                    Field::SenderStaffId => raw.sender_staff_id = map.next_value()?,
                    Field::ChatbotUserId => raw.chatbot_user_id = map.next_value()?,
                    Field::ChatbotCorpId => raw.chatbot_corp_id = map.next_value()?,
                    Field::RobotCode => raw.robot_code = map.next_value()?,
                    Field::AtUsers => raw.at_users = map.next_value()?,
                    Field::IsAdmin => raw.is_admin = map.next_value()?,
                    Field::IsInAtList => raw.is_in_at_list = map.next_value()?,
                    Field::SessionWebhook => raw.session_webhook = map.next_value()?,
                    Field::SessionWebhookExpiredTime => {
                        raw.session_webhook_expired_time = map.next_value()?;
                    }
                    Field::Other(key) => {
                        raw.extra.insert(key, map.next_value()?);
                    }
                }
            }
            Ok(raw)
        }
    }

    impl<'de> Deserialize<'de> for Raw {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(RawVisitor)
        }
    }

    /// Numbers sometimes arrive as strings (`createAt` is documented as String but sent as a
    /// number); accept both.
    fn as_i64(value: Option<Value>) -> Option<i64> {
        match value? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn as_bool(value: Option<Value>) -> Option<bool> {
        match value? {
            Value::Bool(b) => Some(b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    fn string_field(content: &Value, key: &str) -> Option<String> {
        content.get(key).and_then(Value::as_str).map(str::to_owned)
    }

    fn content_of(
        msgtype: Option<&str>,
        text: Option<&Value>,
        content: Option<&Value>,
    ) -> Option<MessageContent> {
        let content_obj = content.filter(|c| c.is_object());
        Some(match msgtype? {
            "text" => MessageContent::Text {
                content: text?.get("content")?.as_str()?.to_owned(),
            },
            "richText" => MessageContent::RichText {
                items: serde_json::from_value::<Vec<RichTextItem>>(
                    content_obj?.get("richText")?.clone(),
                )
                .ok()?,
            },
            "picture" => {
                let c = content_obj?;
                MessageContent::Picture {
                    download_code: string_field(c, "downloadCode")
                        .or_else(|| string_field(c, "pictureDownloadCode")),
                }
            }
            "audio" => {
                let c = content_obj?;
                MessageContent::Audio {
                    download_code: string_field(c, "downloadCode"),
                    recognition: string_field(c, "recognition"),
                }
            }
            "video" => {
                let c = content_obj?;
                MessageContent::Video {
                    download_code: string_field(c, "downloadCode"),
                    duration: c.get("duration").map(|d| match d {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                    video_type: string_field(c, "videoType"),
                }
            }
            "file" => {
                let c = content_obj?;
                MessageContent::File {
                    download_code: string_field(c, "downloadCode"),
                    file_name: string_field(c, "fileName"),
                    file_id: string_field(c, "fileId"),
                    space_id: string_field(c, "spaceId"),
                }
            }
            _ => return None,
        })
    }

    impl From<Raw> for InboundMessage {
        fn from(mut raw: Raw) -> Self {
            // The common case, a text message: move its string out instead of copying it.
            let text = match (raw.msgtype.as_deref(), raw.text.take()) {
                (Some("text"), Some(TextField::Content(content))) => Some(content),
                (_, other) => {
                    raw.text = other;
                    None
                }
            };
            let content = match text
                .map(|content| MessageContent::Text { content })
                .or_else(|| {
                    let text = raw.text.clone().map(TextField::into_value);
                    content_of(raw.msgtype.as_deref(), text.as_ref(), raw.content.as_ref())
                }) {
                Some(content) => content,
                None => {
                    let msgtype = raw.msgtype.clone().map(Cow::into_owned);
                    // Keep the whole body so nothing DingTalk sent is lost.
                    let mut whole = raw.extra.clone();
                    for (key, value) in [
                        (
                            "msgtype",
                            raw.msgtype.clone().map(|t| Value::String(t.into_owned())),
                        ),
                        ("text", raw.text.clone().map(TextField::into_value)),
                        ("content", raw.content.clone()),
                    ] {
                        if let Some(value) = value {
                            whole.insert(key.to_owned(), value);
                        }
                    }
                    MessageContent::Unknown {
                        msgtype,
                        raw: Value::Object(whole),
                    }
                }
            };
            let conversation_type = raw.conversation_type;
            let at_users = raw
                .at_users
                .and_then(|v| serde_json::from_value::<Vec<AtUser>>(v).ok())
                .unwrap_or_default();
            Self {
                content,
                msg_id: raw.msg_id,
                create_at: as_i64(raw.create_at),
                conversation_type,
                conversation_id: raw.conversation_id,
                conversation_title: raw.conversation_title,
                sender_id: raw.sender_id,
                sender_nick: raw.sender_nick,
                sender_corp_id: raw.sender_corp_id,
                sender_staff_id: raw.sender_staff_id,
                chatbot_user_id: raw.chatbot_user_id,
                chatbot_corp_id: raw.chatbot_corp_id,
                robot_code: raw.robot_code,
                at_users,
                is_admin: as_bool(raw.is_admin),
                is_in_at_list: as_bool(raw.is_in_at_list),
                session_webhook: raw.session_webhook,
                session_webhook_expired_time: as_i64(raw.session_webhook_expired_time),
                extra: raw.extra,
            }
        }
    }

    impl From<InboundMessage> for Raw {
        fn from(msg: InboundMessage) -> Self {
            use serde_json::json;
            let (msgtype, text, content) = match msg.content {
                MessageContent::Text { content } => (
                    Some(Cow::Borrowed("text")),
                    Some(TextField::Content(content)),
                    None,
                ),
                MessageContent::RichText { items } => (
                    Some(Cow::Borrowed("richText")),
                    None,
                    Some(json!({ "richText": items })),
                ),
                MessageContent::Picture { download_code } => (
                    Some(Cow::Borrowed("picture")),
                    None,
                    Some(json!({ "downloadCode": download_code })),
                ),
                MessageContent::Audio {
                    download_code,
                    recognition,
                } => (
                    Some(Cow::Borrowed("audio")),
                    None,
                    Some(json!({ "downloadCode": download_code, "recognition": recognition })),
                ),
                MessageContent::Video {
                    download_code,
                    duration,
                    video_type,
                } => (
                    Some(Cow::Borrowed("video")),
                    None,
                    Some(
                        json!({ "downloadCode": download_code, "duration": duration, "videoType": video_type }),
                    ),
                ),
                MessageContent::File {
                    download_code,
                    file_name,
                    file_id,
                    space_id,
                } => (
                    Some(Cow::Borrowed("file")),
                    None,
                    Some(
                        json!({ "downloadCode": download_code, "fileName": file_name, "fileId": file_id, "spaceId": space_id }),
                    ),
                ),
                MessageContent::Unknown { msgtype, raw } => (
                    msgtype.map(Cow::Owned),
                    raw.get("text").cloned().map(TextField::Other),
                    raw.get("content").cloned(),
                ),
            };
            Self {
                msgtype,
                text,
                content,
                msg_id: msg.msg_id,
                create_at: msg.create_at.map(Value::from),
                conversation_type: msg.conversation_type,
                conversation_id: msg.conversation_id,
                conversation_title: msg.conversation_title,
                sender_id: msg.sender_id,
                sender_nick: msg.sender_nick,
                sender_corp_id: msg.sender_corp_id,
                sender_staff_id: msg.sender_staff_id,
                chatbot_user_id: msg.chatbot_user_id,
                chatbot_corp_id: msg.chatbot_corp_id,
                robot_code: msg.robot_code,
                at_users: (!msg.at_users.is_empty()).then(|| json!(msg.at_users)),
                is_admin: msg.is_admin.map(Value::Bool),
                is_in_at_list: msg.is_in_at_list.map(Value::Bool),
                session_webhook: msg.session_webhook,
                session_webhook_expired_time: msg.session_webhook_expired_time.map(Value::from),
                extra: msg.extra,
            }
        }
    }
}
