//! Every outgoing message type against the JSON DingTalk documents, and splitting of long content.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dingtalk_robot::{
    ActionCard, Button, FeedCard, FeedLink, MAX_PART_BYTES, MAX_PART_CHARS, OutboundMessage,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn to_json(msg: &OutboundMessage) -> Value {
    serde_json::to_value(msg).unwrap()
}

#[test]
fn text_with_at_serialises_as_documented() {
    let msg = OutboundMessage::text("我就是我, @180xxxxxx 是不一样的烟火")
        .at_mobiles(["180xxxxxx"])
        .at_user_ids(["user123"]);
    assert_eq!(
        to_json(&msg),
        json!({
            "msgtype": "text",
            "text": {"content": "我就是我, @180xxxxxx 是不一样的烟火"},
            "at": {"atMobiles": ["180xxxxxx"], "atUserIds": ["user123"], "isAtAll": false}
        })
    );
    assert_eq!(
        to_json(&OutboundMessage::text("all").at_all()),
        json!({"msgtype": "text", "text": {"content": "all"}, "at": {"isAtAll": true}})
    );
}

#[test]
fn markdown_serialises_as_documented() {
    let msg = OutboundMessage::markdown("杭州天气", "#### 杭州天气 @150XXXXXXXX \n > 9度")
        .at_mobiles(["150XXXXXXXX"]);
    assert_eq!(
        to_json(&msg),
        json!({
            "msgtype": "markdown",
            "markdown": {"title": "杭州天气", "text": "#### 杭州天气 @150XXXXXXXX \n > 9度"},
            "at": {"atMobiles": ["150XXXXXXXX"], "isAtAll": false}
        })
    );
}

#[test]
fn link_uses_message_url_in_camel_case() {
    let msg = OutboundMessage::link(
        "时代的火车",
        "这个即将发布的新版本",
        "https://www.dingtalk.com/",
    )
    .pic_url("https://img/p.png");
    assert_eq!(
        to_json(&msg),
        json!({
            "msgtype": "link",
            "link": {"title": "时代的火车", "text": "这个即将发布的新版本", "messageUrl": "https://www.dingtalk.com/", "picUrl": "https://img/p.png"}
        })
    );
    // No picture: the key is left out, and @-mentions are ignored for links.
    let plain = OutboundMessage::link("t", "x", "https://a").at_all();
    assert_eq!(
        to_json(&plain),
        json!({"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "https://a"}})
    );
}

#[test]
fn single_button_action_card_uses_single_url() {
    let msg = OutboundMessage::action_card(ActionCard::single(
        "乔布斯",
        "![screenshot](https://img)",
        "阅读全文",
        "https://www.dingtalk.com/",
    ));
    assert_eq!(
        to_json(&msg),
        json!({
            "msgtype": "actionCard",
            "actionCard": {"title": "乔布斯", "text": "![screenshot](https://img)", "btnOrientation": "0",
                           "singleTitle": "阅读全文", "singleURL": "https://www.dingtalk.com/"}
        })
    );
}

#[test]
fn multi_button_action_card_uses_btns_with_action_url() {
    let card = ActionCard::multi(
        "t",
        "text",
        Button::new("内容不错", "https://www.dingtalk.com/"),
        [Button::new("不感兴趣", "https://www.dingtalk.com/no")],
    )
    .horizontal();
    assert_eq!(
        to_json(&OutboundMessage::action_card(card)),
        json!({
            "msgtype": "actionCard",
            "actionCard": {"title": "t", "text": "text", "btnOrientation": "1", "btns": [
                {"title": "内容不错", "actionURL": "https://www.dingtalk.com/"},
                {"title": "不感兴趣", "actionURL": "https://www.dingtalk.com/no"}
            ]}
        })
    );
}

#[test]
fn feed_card_uses_upper_case_url_keys() {
    let card = FeedCard::new(FeedLink::new(
        "时代的火车向前开1",
        "https://www.dingtalk.com/",
        "https://img.alicdn.com/1.png",
    ))
    .link(FeedLink::new(
        "时代的火车向前开2",
        "https://www.dingtalk.com/2",
        "https://img.alicdn.com/2.png",
    ));
    assert_eq!(
        to_json(&OutboundMessage::feed_card(card)),
        json!({
            "msgtype": "feedCard",
            "feedCard": {"links": [
                {"title": "时代的火车向前开1", "messageURL": "https://www.dingtalk.com/", "picURL": "https://img.alicdn.com/1.png"},
                {"title": "时代的火车向前开2", "messageURL": "https://www.dingtalk.com/2", "picURL": "https://img.alicdn.com/2.png"}
            ]}
        })
    );
}

#[test]
fn short_message_is_one_part_unchanged() {
    let msg = OutboundMessage::markdown("t", "short").at_all();
    assert_eq!(msg.clone().split(), vec![msg]);
}

#[test]
fn long_markdown_is_split_with_numbered_titles_and_mentions_only_on_first_part() {
    let line = "| case-12345678910-2013-c4c1d2bf33c5cf47 | opened | 工单标题比较长的一行 |\n";
    let text = line.repeat(200);
    let parts = OutboundMessage::markdown("AWS 工单列表", text.clone())
        .at_user_ids(["u1"])
        .split();
    assert!(parts.len() > 1);
    let total = parts.len();
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        let json = to_json(part);
        assert_eq!(
            json["markdown"]["title"],
            format!("AWS 工单列表 ({}/{total})", i + 1)
        );
        let body = json["markdown"]["text"].as_str().unwrap();
        assert!(body.chars().count() <= MAX_PART_CHARS && body.len() <= MAX_PART_BYTES);
        assert!(body.ends_with('\n'), "split at a line boundary");
        assert_eq!(json.get("at").is_some(), i == 0);
        joined.push_str(body);
    }
    assert_eq!(joined, text, "nothing truncated");
}

#[test]
fn a_code_block_with_a_long_opening_line_is_reopened_with_a_bare_fence_within_budget() {
    // Found by the property below: reopening the block with its whole 70-character opening
    // line overflowed a 64-character part.
    let opening = format!("```{}\n", "x".repeat(70));
    let content = format!("{opening}{}```\n", "line of code\n".repeat(20));
    let parts = OutboundMessage::markdown("t", content).split_with(64, 100_000);
    let texts: Vec<String> = parts
        .iter()
        .map(|part| {
            to_json(part)["markdown"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(texts.len() > 3, "{texts:?}");
    for text in &texts {
        assert!(text.chars().count() <= 64, "{text}");
    }
    // The opening line itself is cut in two; every part after it reopens the block.
    for text in &texts[2..] {
        assert!(text.starts_with("```\n"), "reopened: {text}");
    }
    for text in &texts[1..texts.len() - 1] {
        assert!(text.ends_with("\n```"), "closed: {text}");
    }
}

#[test]
fn cards_are_never_split() {
    let card = OutboundMessage::action_card(ActionCard::single(
        "t",
        "x".repeat(10_000),
        "b",
        "https://b",
    ));
    assert_eq!(card.split().len(), 1);
}

proptest! {
    #[test]
    fn split_text_parts_fit_budget_and_concatenate_to_original(
        content in "(\\PC{0,120}\n?){0,60}",
        max_chars in 64_usize..300,
        max_bytes in 256_usize..900,
    ) {
        let parts = OutboundMessage::text(content.clone()).split_with(max_chars, max_bytes);
        prop_assert!(!parts.is_empty());
        let mut joined = String::new();
        for part in &parts {
            let json = serde_json::to_value(part).unwrap();
            let piece = json["text"]["content"].as_str().unwrap().to_owned();
            prop_assert!(piece.chars().count() <= max_chars);
            prop_assert!(piece.len() <= max_bytes);
            prop_assert!(!piece.is_empty() || parts.len() == 1);
            joined.push_str(&piece);
        }
        prop_assert_eq!(joined, content);
    }

    #[test]
    fn split_markdown_parts_fit_budget(content in "(\\PC{0,80}\n){0,80}", max_chars in 64_usize..200) {
        for part in OutboundMessage::markdown("t", content).split_with(max_chars, 100_000) {
            let json = serde_json::to_value(&part).unwrap();
            prop_assert!(json["markdown"]["text"].as_str().unwrap().chars().count() <= max_chars);
        }
    }
}
