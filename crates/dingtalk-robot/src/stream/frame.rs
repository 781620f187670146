//! Stream mode's frames: what the gateway sends (`SYSTEM`, `EVENT`, `CALLBACK`, each with
//! string headers and a JSON-string `data`) and the ACK the client answers with.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A frame from the gateway.
#[derive(Debug, Deserialize)]
pub(crate) struct Frame {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) headers: HashMap<String, serde_json::Value>,
    #[serde(default)]
    pub(crate) data: String,
}

impl Frame {
    /// A header as a string (real frames send some as numbers).
    pub(crate) fn header(&self, name: &str) -> String {
        match self.headers.get(name) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AckHeaders<'a> {
    message_id: &'a str,
    content_type: &'a str,
}

/// The client's answer to a frame: `code`, the frame's `messageId`, `message`, `data`.
#[derive(Serialize)]
struct AckFrame<'a> {
    code: u16,
    headers: AckHeaders<'a>,
    message: &'a str,
    data: String,
}

/// The ACK of `message_id` as JSON text.
pub(crate) fn ack(message_id: &str, code: u16, message: &str, data: String) -> String {
    let frame = AckFrame {
        code,
        headers: AckHeaders {
            message_id,
            content_type: "application/json",
        },
        message,
        data,
    };
    serde_json::to_string(&frame).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_frame_reads_its_headers_and_its_data_string() {
        let frame: Frame = serde_json::from_str(
            r#"{"specVersion":"1.0","type":"CALLBACK","headers":{"messageId":"m1","time":1690362102194,"topic":"/v1.0/im/bot/messages/get"},"data":"{\"msgId\":\"x\"}"}"#,
        )
        .unwrap();
        assert_eq!(frame.kind, "CALLBACK");
        assert_eq!(frame.header("messageId"), "m1");
        assert_eq!(frame.header("time"), "1690362102194");
        assert_eq!(frame.data, r#"{"msgId":"x"}"#);
    }

    #[test]
    fn an_ack_echoes_the_message_id_in_the_documented_shape() {
        let text = ack("m1", 200, "OK", r#"{"response":null}"#.to_owned());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["code"], 200);
        assert_eq!(value["headers"]["messageId"], "m1");
        assert_eq!(value["headers"]["contentType"], "application/json");
        assert_eq!(value["data"], r#"{"response":null}"#);
    }
}
