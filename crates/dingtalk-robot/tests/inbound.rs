//! The callback body model against captured-shape fixtures for every message type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dingtalk_robot::{ConversationType, InboundMessage, MessageContent, RichTextItem};

fn fixture(name: &str) -> InboundMessage {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&path).unwrap();
    InboundMessage::from_json(&body).unwrap()
}

#[test]
fn group_text_callback_parses_every_documented_field() {
    let msg = fixture("text_group.json");
    assert_eq!(
        msg.content(),
        &MessageContent::Text {
            content: " 查找ServiceCode: ec2".into()
        }
    );
    assert_eq!(msg.msg_id.as_deref(), Some("msgkdBmqTiyz5fVrmCjRfWDGw=="));
    assert_eq!(msg.create_at, Some(1_613_630_252_678));
    assert_eq!(msg.conversation_type, Some(ConversationType::Group));
    assert_eq!(
        msg.conversation_id.as_deref(),
        Some("cidqO7Ne2p8eW1Hb3dZ0VnQ3Q==")
    );
    assert_eq!(msg.conversation_title.as_deref(), Some("运维值班"));
    assert_eq!(
        msg.sender_id.as_deref(),
        Some("$:LWCP_v1:$sEnDeRiDfOrTeStS000000000000")
    );
    assert_eq!(msg.sender_nick.as_deref(), Some("张三"));
    assert_eq!(msg.sender_corp_id.as_deref(), Some("dinge8a565xxxx"));
    assert_eq!(msg.sender_staff_id.as_deref(), Some("manager1234"));
    assert_eq!(
        msg.chatbot_user_id.as_deref(),
        Some("$:LWCP_v1:$rObOtIdFoRtEsTs0000000000000")
    );
    assert_eq!(msg.chatbot_corp_id.as_deref(), Some("dinge8a565xxxx"));
    assert_eq!(msg.robot_code.as_deref(), Some("dingrobotcode0001"));
    assert_eq!(msg.at_users.len(), 1);
    assert_eq!(
        msg.at_users[0].dingtalk_id.as_deref(),
        Some("$:LWCP_v1:$rObOtIdFoRtEsTs0000000000000")
    );
    assert_eq!(msg.is_admin, Some(true));
    assert_eq!(msg.is_in_at_list, Some(true));
    assert!(
        msg.session_webhook
            .as_deref()
            .unwrap()
            .starts_with("https://oapi.dingtalk.com/robot/sendBySession?session=")
    );
    assert_eq!(msg.session_webhook_expired_time, Some(1_613_635_652_738));
    // Fields the model does not name are kept.
    assert_eq!(msg.extra["senderPlatform"], "Mac");
    assert_eq!(msg.extra["openThreadId"], "cidqO7Ne2p8eW1Hb3dZ0VnQ3Q==");
    assert!(msg.is_group() && !msg.is_one_to_one());
    assert_eq!(msg.command_text(), Some("查找ServiceCode: ec2"));
}

#[test]
fn one_to_one_text_keeps_multiline_command_and_has_no_title() {
    let msg = fixture("text_single.json");
    assert!(msg.is_one_to_one() && !msg.is_group());
    assert_eq!(msg.conversation_title, None);
    assert_eq!(msg.command_text(), Some("提工单\nsubject:test\nbody:hello"));
}

#[test]
fn picture_audio_video_file_parse_without_failing() {
    assert_eq!(
        fixture("picture.json").content(),
        &MessageContent::Picture {
            download_code: Some("mIofN681YE3f/+m+NntqpT2J...".into())
        }
    );
    let audio = fixture("audio.json");
    assert_eq!(
        audio.content(),
        &MessageContent::Audio {
            download_code: Some("audio-download-code".into()),
            recognition: Some("工单列表".into())
        }
    );
    assert_eq!(
        audio.command_text(),
        Some("工单列表"),
        "speech recognition is usable as a command"
    );
    assert_eq!(
        fixture("video.json").content(),
        &MessageContent::Video {
            download_code: Some("video-download-code".into()),
            duration: Some("5".into()),
            video_type: Some("mp4".into())
        }
    );
    assert_eq!(
        fixture("file.json").content(),
        &MessageContent::File {
            download_code: Some("file-download-code".into()),
            file_name: Some("error.log".into()),
            file_id: Some("123456".into()),
            space_id: Some("7890".into())
        }
    );
    assert_eq!(fixture("picture.json").command_text(), None);
}

#[test]
fn rich_text_joins_text_runs_and_drops_leading_mention() {
    let msg = fixture("rich_text.json");
    let MessageContent::RichText { items } = msg.content() else {
        panic!("{:?}", msg.content())
    };
    assert_eq!(items.len(), 3);
    assert!(
        matches!(&items[1], RichTextItem::Picture { download_code: Some(code), .. } if code == "pic-download-code")
    );
    assert_eq!(
        msg.command_string().as_deref(),
        Some("查看 case-12345678910-2013-c4c1d2bf33c5cf47")
    );
}

#[test]
fn unknown_msgtype_is_kept_as_raw_json() {
    let msg = fixture("unknown.json");
    let MessageContent::Unknown { msgtype, raw } = msg.content() else {
        panic!("{:?}", msg.content())
    };
    assert_eq!(msgtype.as_deref(), Some("unknownMsgType"));
    assert_eq!(raw["content"]["unknownMsgType"], "[该消息类型暂不支持]");
    assert_eq!(raw["ai_robot_sessionid"], "abc");
    assert_eq!(msg.msg_id.as_deref(), Some("msgUnknown0001"));
}

#[test]
fn every_fixture_round_trips_through_serialize() {
    for name in [
        "text_group.json",
        "text_single.json",
        "picture.json",
        "rich_text.json",
        "audio.json",
        "video.json",
        "file.json",
        "unknown.json",
    ] {
        let msg = fixture(name);
        let json = serde_json::to_vec(&msg).unwrap();
        let again = InboundMessage::from_json(&json).unwrap();
        assert_eq!(again, msg, "{name}");
    }
}

#[test]
fn numbers_as_strings_and_odd_types_do_not_fail_the_callback() {
    let msg = InboundMessage::from_json(
        br#"{"msgtype":"text","text":{"content":"hi"},"createAt":"1613630252678","conversationType":2,
            "isAdmin":"true","atUsers":"not a list","sessionWebhookExpiredTime":null}"#,
    )
    .unwrap();
    assert_eq!(msg.create_at, Some(1_613_630_252_678));
    assert_eq!(msg.conversation_type, Some(ConversationType::Group));
    assert_eq!(msg.is_admin, Some(true));
    assert!(msg.at_users.is_empty());
    // A text message without content is kept, not rejected.
    let odd = InboundMessage::from_json(br#"{"msgtype":"text"}"#).unwrap();
    assert!(matches!(odd.content(), MessageContent::Unknown { .. }));
}

#[test]
fn conversation_type_of_any_shape_parses_and_unknown_values_are_kept() {
    for (value, expected) in [
        (r#""1""#, Some(ConversationType::OneToOne)),
        ("1", Some(ConversationType::OneToOne)),
        (r#""3""#, Some(ConversationType::Other("3".into()))),
        ("2.0", Some(ConversationType::Other("2.0".into()))),
        ("-1", Some(ConversationType::Other("-1".into()))),
        ("true", None),
        ("null", None),
        (r#"{"a":[1]}"#, None),
        ("[1,2]", None),
    ] {
        let body =
            format!(r#"{{"msgtype":"text","text":{{"content":"hi"}},"conversationType":{value}}}"#);
        let msg = InboundMessage::from_json(body.as_bytes()).unwrap();
        assert_eq!(msg.conversation_type, expected, "{value}");
        let again = InboundMessage::from_json(&serde_json::to_vec(&msg).unwrap()).unwrap();
        assert_eq!(again, msg, "{value} round-trips");
    }
}

#[test]
fn a_msgtype_that_is_not_a_string_is_a_parse_error() {
    assert!(InboundMessage::from_json(br#"{"msgtype":7}"#).is_err());
    let unknown = InboundMessage::from_json(br#"{"msgtype":"interactiveCard"}"#).unwrap();
    assert!(matches!(unknown.content(),
        MessageContent::Unknown { msgtype, .. } if msgtype.as_deref() == Some("interactiveCard")));
}

#[test]
fn non_object_bodies_are_parse_errors() {
    for body in [
        &b""[..],
        b"[]",
        b"null",
        b"\"text\"",
        b"{\"msgtype\":",
        b"\xff\xfe",
    ] {
        assert!(InboundMessage::from_json(body).is_err(), "{body:?}");
    }
}

#[test]
fn escaped_keys_repeated_keys_and_unknown_keys_parse_like_plain_json() {
    // `msg\u0049d` is `msgId` once unescaped; a repeated key keeps its last value (as
    // serde_json::Value and JSON.parse do); unknown keys, escaped or not, are kept.
    let msg = InboundMessage::from_json(
        br#"{"msgtype":"text","text":{"content":"a"},"msg\u0049d":"first","msgId":"second",
            "senderNick":"x","senderNick":"y","new\u004eield":[1,{"k":true}],"senderPlatform":"Mac"}"#,
    )
    .unwrap();
    assert_eq!(msg.msg_id.as_deref(), Some("second"));
    assert_eq!(msg.sender_nick.as_deref(), Some("y"));
    assert_eq!(msg.extra["newNield"], serde_json::json!([1, {"k": true}]));
    assert_eq!(msg.extra["senderPlatform"], "Mac");
    assert_eq!(msg.extra.len(), 2);
}

#[test]
fn a_modelled_field_of_the_wrong_type_is_a_parse_error() {
    // A msgId that is not a string cannot be an idempotency key: reject the body (400).
    assert!(InboundMessage::from_json(br#"{"msgId":42}"#).is_err());
    assert!(InboundMessage::from_json(br#"{"conversationId":{"a":1}}"#).is_err());
    assert_eq!(
        InboundMessage::from_json(br#"{"msgId":null}"#)
            .unwrap()
            .msg_id,
        None
    );
}

#[test]
fn text_content_is_read_whatever_the_text_object_looks_like() {
    // Escapes, a repeated `content` (the last wins), extra keys beside it, `content` first or last.
    for (body, expected) in [
        (
            &br#"{"msgtype":"text","text":{"content":"@bot\u2005\u5e2e\u52a9\n"}}"#[..],
            Some("帮助"),
        ),
        (
            br#"{"msgtype":"text","text":{"content":"a","content":"b"}}"#,
            Some("b"),
        ),
        (
            br#"{"msgtype":"text","text":{"isReply":false,"content":"c"}}"#,
            Some("c"),
        ),
        (br#"{"text":{"content":"d"},"msgtype":"text"}"#, Some("d")),
    ] {
        let msg = InboundMessage::from_json(body).unwrap();
        assert_eq!(
            msg.command_text(),
            expected,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Shapes that are not a text message are kept whole, not rejected.
    for body in [
        &br#"{"msgtype":"text","text":{"content":42}}"#[..],
        br#"{"msgtype":"text","text":"plain"}"#,
        br#"{"msgtype":"text","text":[1,2]}"#,
        br#"{"msgtype":"text","text":null}"#,
    ] {
        let msg = InboundMessage::from_json(body).unwrap();
        let MessageContent::Unknown { raw, .. } = msg.content() else {
            panic!("{:?}", msg.content())
        };
        let sent: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            raw["text"],
            sent["text"],
            "{}",
            String::from_utf8_lossy(body)
        );
        let again = InboundMessage::from_json(&serde_json::to_vec(&msg).unwrap()).unwrap();
        assert_eq!(again, msg, "round trip");
    }
}

#[test]
fn a_body_that_is_not_utf8_is_a_parse_error_even_inside_a_string() {
    let mut body = br#"{"msgtype":"text","text":{"content":"ok"},"senderNick":"#.to_vec();
    body.extend_from_slice(b"\"\xff\xfe\"}");
    let err = InboundMessage::from_json(&body).unwrap_err();
    assert!(err.to_string().contains("not a JSON object"), "{err}");
}

#[test]
fn command_text_strips_mention_and_whitespace() {
    let cases = [
        (" 帮助", Some("帮助")),
        ("@值班机器人 帮助", Some("帮助")),
        ("@值班机器人\u{2005}工单列表 全部", Some("工单列表 全部")),
        ("＠机器人 help", Some("help")),
        ("\r\n  查看 123 \r\n", Some("查看 123")),
        ("@机器人", None),
        ("   ", None),
        ("提工单\nsubject:x", Some("提工单\nsubject:x")),
    ];
    for (content, expected) in cases {
        let body = serde_json::json!({"msgtype": "text", "text": {"content": content}}).to_string();
        let msg = InboundMessage::from_json(body.as_bytes()).unwrap();
        assert_eq!(msg.command_text(), expected, "{content:?}");
    }
}

proptest::proptest! {
    #[test]
    fn from_json_never_panics_on_arbitrary_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = InboundMessage::from_json(&body);
    }

    #[test]
    fn command_text_never_panics_on_arbitrary_text(content in "\\PC{0,200}") {
        let body = serde_json::json!({"msgtype": "text", "text": {"content": content}}).to_string();
        let msg = InboundMessage::from_json(body.as_bytes()).unwrap();
        if let Some(text) = msg.command_text() {
            proptest::prop_assert!(!text.is_empty());
            proptest::prop_assert_eq!(text, text.trim());
        }
    }
}
