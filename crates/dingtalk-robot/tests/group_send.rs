//! Group sends through the robot OpenAPI against the fake DingTalk over real sockets: the
//! access token, the body DingTalk expects, token renewal, bad credentials, and throttling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use dingtalk_robot::testing::{Channel, FakeApp, FakeDingTalk};
use dingtalk_robot::{
    AppCredentials, AppSecret, Error, OutboundMessage, RateLimit, RetryPolicy, RobotGroup, Sender,
    Target,
};

const KEY: &str = "dingappkey";
const SECRET: &str = "app-secret";

async fn fake() -> FakeDingTalk {
    FakeDingTalk::builder()
        .app(FakeApp::new(KEY, SECRET))
        .rate_limit(3, Duration::from_secs(60))
        .start()
        .await
        .unwrap()
}

fn sender(fake: &FakeDingTalk) -> Sender {
    Sender::builder()
        .openapi_base(fake.base_url())
        .rate_limit(RateLimit::new(10_000, Duration::from_secs(1)))
        .retry(
            RetryPolicy::default()
                .rate_limited_retries(0)
                .transient_retries(0),
        )
        .build()
        .unwrap()
}

fn group(secret: &str, conversation: &str) -> Target {
    RobotGroup::new(
        AppCredentials::new(KEY, AppSecret::new(secret)),
        KEY,
        conversation,
    )
    .into()
}

#[tokio::test]
async fn a_markdown_message_reaches_the_group_as_sample_markdown() {
    let fake = fake().await;
    let sent = sender(&fake)
        .send(
            &group(SECRET, "cidGROUP1"),
            OutboundMessage::markdown("AWS 工单", "**AWS** 回复了"),
        )
        .await
        .unwrap();
    assert_eq!(sent, 1);
    let received = fake.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].channel, Channel::Group("cidGROUP1".into()));
    assert_eq!(received[0].text(), "**AWS** 回复了");
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_the_message_still_arrives() {
    let fake = fake().await;
    let sender = sender(&fake);
    sender
        .send(&group(SECRET, "cid1"), OutboundMessage::text("one"))
        .await
        .unwrap();
    fake.revoke_tokens();
    sender
        .send(&group(SECRET, "cid1"), OutboundMessage::text("two"))
        .await
        .unwrap();
    assert_eq!(fake.texts(), ["one", "two"]);
}

#[tokio::test]
async fn a_wrong_app_secret_names_the_app_key_and_sends_nothing() {
    let fake = fake().await;
    let err = sender(&fake)
        .send(&group("wrong", "cid1"), OutboundMessage::text("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::AppCredentials { status: 400, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(KEY) && !text.contains("wrong"), "{text}");
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn a_group_over_its_limit_is_throttled_and_other_groups_are_not() {
    let fake = fake().await;
    let sender = sender(&fake);
    for i in 0..3 {
        sender
            .send(
                &group(SECRET, "cidA"),
                OutboundMessage::text(format!("{i}")),
            )
            .await
            .unwrap();
    }
    let err = sender
        .send(&group(SECRET, "cidA"), OutboundMessage::text("4"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    sender
        .send(&group(SECRET, "cidB"), OutboundMessage::text("b"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_feed_card_is_refused_before_anything_is_sent() {
    let fake = fake().await;
    let card = dingtalk_robot::FeedCard::new(dingtalk_robot::FeedLink::new(
        "t",
        "https://example.com",
        "https://example.com/p.png",
    ));
    let err = sender(&fake)
        .send(&group(SECRET, "cid1"), OutboundMessage::feed_card(card))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                msgtype: "feedCard"
            }
        ),
        "{err:?}"
    );
}
