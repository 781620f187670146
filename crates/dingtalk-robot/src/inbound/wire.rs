//! The callback's wire shape, read and written by serde derive, and its conversion to and from
//! [`InboundMessage`].
//!
//! A body is first read into a JSON map (so a repeated key keeps its last value, as with
//! `JSON.parse`), then into [`Wire`]. Fields DingTalk documents as one type but sends as
//! another (numbers as strings, booleans as strings) are read leniently; every field the model
//! does not name lands in `extra`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{AtUser, ConversationType, InboundMessage, MessageContent, RichTextItem};

/// The flat wire shape of a callback body.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Wire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    msgtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    msg_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    create_at: Option<i64>,
    #[serde(
        default,
        deserialize_with = "lenient_conversation_type",
        serialize_with = "conversation_type_str",
        skip_serializing_if = "Option::is_none"
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
    #[serde(
        default,
        deserialize_with = "lenient_at_users",
        skip_serializing_if = "Vec::is_empty"
    )]
    at_users: Vec<AtUser>,
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    is_admin: Option<bool>,
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    is_in_at_list: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_webhook: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    session_webhook_expired_time: Option<i64>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// A whole number, or a string holding one (`createAt` is documented as a string and sent as a
/// number); anything else is absent.
fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A boolean, or the string `"true"` / `"false"`; anything else is absent.
fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// `"1"`, `"2"`, any other string kept as sent, a number as its JSON text (`2.0` stays
/// `"2.0"`); other shapes are absent.
fn lenient_conversation_type<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ConversationType>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => Some(ConversationType::from(s.as_str())),
        Value::Number(n) => Some(ConversationType::from(n.to_string().as_str())),
        _ => None,
    })
}

/// A list of users; anything that is not one is an empty list.
fn lenient_at_users<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<AtUser>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(deserializer)?).unwrap_or_default())
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

fn string_field(content: &Value, key: &str) -> Option<String> {
    content.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The typed body of a known `msgtype` whose fields have the documented shape.
fn content_of(
    msgtype: Option<&str>,
    text: Option<&Value>,
    content: Option<&Value>,
) -> Option<MessageContent> {
    let object = content.filter(|c| c.is_object());
    Some(match msgtype? {
        "text" => MessageContent::Text {
            content: text?.get("content")?.as_str()?.to_owned(),
        },
        "richText" => MessageContent::RichText {
            items: serde_json::from_value::<Vec<RichTextItem>>(object?.get("richText")?.clone())
                .ok()?,
        },
        "picture" => {
            let c = object?;
            MessageContent::Picture {
                download_code: string_field(c, "downloadCode")
                    .or_else(|| string_field(c, "pictureDownloadCode")),
            }
        }
        "audio" => {
            let c = object?;
            MessageContent::Audio {
                download_code: string_field(c, "downloadCode"),
                recognition: string_field(c, "recognition"),
            }
        }
        "video" => {
            let c = object?;
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
            let c = object?;
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

impl TryFrom<Map<String, Value>> for InboundMessage {
    type Error = serde_json::Error;

    fn try_from(body: Map<String, Value>) -> Result<Self, Self::Error> {
        Ok(Self::from(serde_json::from_value::<Wire>(Value::Object(
            body,
        ))?))
    }
}

impl From<Wire> for InboundMessage {
    fn from(wire: Wire) -> Self {
        let content = content_of(
            wire.msgtype.as_deref(),
            wire.text.as_ref(),
            wire.content.as_ref(),
        )
        .unwrap_or_else(|| {
            // Keep the whole body, so nothing DingTalk sent is lost.
            let mut raw = wire.extra.clone();
            for (key, value) in [
                ("msgtype", wire.msgtype.clone().map(Value::String)),
                ("text", wire.text.clone()),
                ("content", wire.content.clone()),
            ] {
                if let Some(value) = value {
                    raw.insert(key.to_owned(), value);
                }
            }
            MessageContent::Unknown {
                msgtype: wire.msgtype.clone(),
                raw: Value::Object(raw),
            }
        });
        Self {
            content,
            msg_id: wire.msg_id,
            create_at: wire.create_at,
            conversation_type: wire.conversation_type,
            conversation_id: wire.conversation_id,
            conversation_title: wire.conversation_title,
            sender_id: wire.sender_id,
            sender_nick: wire.sender_nick,
            sender_corp_id: wire.sender_corp_id,
            sender_staff_id: wire.sender_staff_id,
            chatbot_user_id: wire.chatbot_user_id,
            chatbot_corp_id: wire.chatbot_corp_id,
            robot_code: wire.robot_code,
            at_users: wire.at_users,
            is_admin: wire.is_admin,
            is_in_at_list: wire.is_in_at_list,
            session_webhook: wire.session_webhook,
            session_webhook_expired_time: wire.session_webhook_expired_time,
            extra: wire.extra,
        }
    }
}

impl From<InboundMessage> for Wire {
    fn from(msg: InboundMessage) -> Self {
        use serde_json::json;
        let (msgtype, text, content) = match msg.content {
            MessageContent::Text { content } => (
                Some("text".to_owned()),
                Some(json!({ "content": content })),
                None,
            ),
            MessageContent::RichText { items } => (
                Some("richText".to_owned()),
                None,
                Some(json!({ "richText": items })),
            ),
            MessageContent::Picture { download_code } => (
                Some("picture".to_owned()),
                None,
                Some(json!({ "downloadCode": download_code })),
            ),
            MessageContent::Audio {
                download_code,
                recognition,
            } => (
                Some("audio".to_owned()),
                None,
                Some(json!({ "downloadCode": download_code, "recognition": recognition })),
            ),
            MessageContent::Video {
                download_code,
                duration,
                video_type,
            } => (
                Some("video".to_owned()),
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
                Some("file".to_owned()),
                None,
                Some(
                    json!({ "downloadCode": download_code, "fileName": file_name, "fileId": file_id, "spaceId": space_id }),
                ),
            ),
            MessageContent::Unknown { msgtype, raw } => (
                msgtype,
                raw.get("text").cloned(),
                raw.get("content").cloned(),
            ),
        };
        Self {
            msgtype,
            text,
            content,
            msg_id: msg.msg_id,
            create_at: msg.create_at,
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
            at_users: msg.at_users,
            is_admin: msg.is_admin,
            is_in_at_list: msg.is_in_at_list,
            session_webhook: msg.session_webhook,
            session_webhook_expired_time: msg.session_webhook_expired_time,
            extra: msg.extra,
        }
    }
}
