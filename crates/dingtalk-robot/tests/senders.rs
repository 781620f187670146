//! The senders against the fake DingTalk over real sockets on 127.0.0.1: delivery, signing,
//! errcode mapping, session expiry, pacing under the rate limit, and retry after 130101.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use dingtalk_robot::testing::{Channel, FakeDingTalk, FakeRobot};
use dingtalk_robot::{
    AccessToken, CustomRobot, Error, InboundMessage, OutboundMessage, RateLimit, RetryPolicy,
    Sender, SessionWebhook, Target, WebhookSecret,
};

const TOKEN: &str = "robot-token-1";
const SECRET: &str = "SECtest0123456789abcdef";

fn sender(fake: &FakeDingTalk, limit: RateLimit, retry: RetryPolicy) -> Sender {
    Sender::builder()
        .api_base(fake.base_url())
        .rate_limit(limit)
        .retry(retry)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// No pacing to speak of, quick retries: for tests that want DingTalk's 130101.
fn unpaced() -> RateLimit {
    RateLimit::new(10_000, Duration::from_secs(1))
}

fn quick_retry(rate_limited_retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .rate_limited_wait(Duration::from_millis(100))
        .rate_limited_retries(rate_limited_retries)
        .transient_backoff(Duration::from_millis(10))
        .transient_retries(1)
}

fn robot(secret: Option<&str>) -> Target {
    let robot = CustomRobot::new(AccessToken::new(TOKEN));
    match secret {
        Some(secret) => robot.with_secret(WebhookSecret::new(secret)).into(),
        None => robot.into(),
    }
}

fn session_of(fake: &FakeDingTalk) -> Target {
    let callback =
        InboundMessage::from_json(fake.callback("帮助").json().to_string().as_bytes()).unwrap();
    SessionWebhook::from_message(&callback).unwrap().into()
}

#[tokio::test]
async fn session_reply_is_posted_to_the_callbacks_session_webhook() {
    let fake = FakeDingTalk::start().await.unwrap();
    let target = session_of(&fake);
    let parts = sender(&fake, RateLimit::default(), RetryPolicy::default())
        .send(
            &target,
            OutboundMessage::markdown("AWS", "**AWS** 工单已创建").at_user_ids(["staff-1"]),
        )
        .await
        .unwrap();
    assert_eq!(parts, 1);
    let got = fake.messages();
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0].channel, Channel::Session(_)));
    assert_eq!(got[0].text(), "**AWS** 工单已创建");
    assert_eq!(got[0].body["at"]["atUserIds"][0], "staff-1");
}

#[tokio::test]
async fn expired_session_webhook_is_refused_without_posting() {
    let fake = FakeDingTalk::start().await.unwrap();
    let two_hours_ago = fake.now_ms() - 2 * 3_600_000;
    let body = fake.callback("帮助").created_at(two_hours_ago).json();
    let callback = InboundMessage::from_json(body.to_string().as_bytes()).unwrap();
    let target = SessionWebhook::from_message(&callback).unwrap().into();
    let err = sender(&fake, RateLimit::default(), RetryPolicy::default())
        .send(&target, OutboundMessage::text("late"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionExpired { .. }), "{err:?}");
    assert!(
        fake.messages().is_empty() && fake.rejections().is_empty(),
        "nothing reached DingTalk"
    );
}

#[tokio::test]
async fn session_webhook_outside_dingtalk_and_api_base_is_refused() {
    let fake = FakeDingTalk::start().await.unwrap();
    let s = sender(&fake, RateLimit::default(), RetryPolicy::default());
    for url in [
        "http://127.0.0.2:9/robot/sendBySession?session=x",
        "https://evil.example.com/robot/sendBySession?session=x",
        "http://oapi.dingtalk.com/robot/sendBySession?session=x",
        "https://oapi.dingtalk.com.evil.example/robot/sendBySession?session=x",
        "not a url",
    ] {
        let err = s
            .send(
                &SessionWebhook::new(url, None).into(),
                OutboundMessage::text("x"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::UntrustedWebhook), "{url}: {err:?}");
    }
}

#[tokio::test]
async fn loopback_session_webhooks_are_trusted_only_when_enabled() {
    let fake = FakeDingTalk::start().await.unwrap();
    let target: Target = session_of(&fake);
    // A sender whose API base is elsewhere refuses the fake's loopback session URL ...
    let strict = Sender::builder()
        .api_base("https://oapi.dingtalk.com")
        .build()
        .unwrap();
    let err = strict
        .send(&target, OutboundMessage::text("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UntrustedWebhook), "{err:?}");
    // ... unless loopback is trusted for local development.
    let dev = Sender::builder()
        .api_base("https://oapi.dingtalk.com")
        .trust_loopback_session_webhooks(true)
        .build()
        .unwrap();
    dev.send(&target, OutboundMessage::text("x")).await.unwrap();
    assert_eq!(fake.texts(), ["x"]);
}

#[tokio::test]
async fn signed_custom_robot_post_passes_signature_and_keyword_checks() {
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN).secret(SECRET).keyword("AWS"))
        .start()
        .await
        .unwrap();
    sender(&fake, RateLimit::default(), RetryPolicy::default())
        .send(
            &robot(Some(SECRET)),
            OutboundMessage::text("AWS 工单 case-1 已解决"),
        )
        .await
        .unwrap();
    let got = fake.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].channel, Channel::Robot(TOKEN.into()));
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn wrong_or_missing_signature_maps_to_rejected_310000() {
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN).secret(SECRET))
        .start()
        .await
        .unwrap();
    let s = sender(&fake, RateLimit::default(), RetryPolicy::default());
    for target in [robot(Some("SECwrong")), robot(None)] {
        let err = s
            .send(&target, OutboundMessage::text("x"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Rejected { .. }), "{err:?}");
        assert_eq!(err.errcode(), Some(310_000));
    }
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn message_without_security_keyword_maps_to_rejected_310000() {
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN).keyword("AWS"))
        .start()
        .await
        .unwrap();
    let err = sender(&fake, RateLimit::default(), RetryPolicy::default())
        .send(&robot(None), OutboundMessage::text("no keyword here"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { errmsg } if errmsg.contains("keywords")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unknown_access_token_maps_to_invalid_token_300001() {
    let fake = FakeDingTalk::start().await.unwrap();
    let err = sender(&fake, RateLimit::default(), RetryPolicy::default())
        .send(&robot(None), OutboundMessage::text("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidToken { code: 300_001, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn pacing_keeps_a_burst_under_dingtalks_limit() {
    let window = Duration::from_millis(400);
    let fake = FakeDingTalk::builder()
        .rate_limit(5, window)
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    // The sender knows the same limit as the fake and must never trip it.
    let s = sender(&fake, RateLimit::new(5, window), quick_retry(0));
    let started = Instant::now();
    let sends = (0..12).map(|i| {
        let s = s.clone();
        async move {
            s.send(&robot(None), OutboundMessage::text(format!("burst {i}")))
                .await
        }
    });
    for result in futures_join_all(sends).await {
        result.unwrap();
    }
    assert_eq!(fake.messages().len(), 12);
    assert!(fake.rejections().is_empty(), "{:?}", fake.rejections());
    assert!(
        started.elapsed() >= window * 2,
        "12 messages at 5 per window need two waits"
    );
}

#[tokio::test]
async fn session_webhooks_of_one_conversation_share_its_pace_and_other_conversations_do_not_wait() {
    let window = Duration::from_millis(500);
    let fake = FakeDingTalk::start().await.unwrap();
    let s = sender(&fake, RateLimit::new(2, window), quick_retry(0));
    // Each callback brings a webhook URL of its own; DingTalk limits the robot per group.
    let hook = |conversation: &str| {
        let msg = InboundMessage::from_json(
            &serde_json::to_vec(&fake.callback("x").group(conversation, "群").json()).unwrap(),
        )
        .unwrap();
        Target::from(SessionWebhook::from_message(&msg).unwrap())
    };
    let started = Instant::now();
    for i in 0..2 {
        s.send(&hook("cidA"), OutboundMessage::text(format!("a{i}")))
            .await
            .unwrap();
    }
    s.send(&hook("cidB"), OutboundMessage::text("b0"))
        .await
        .unwrap();
    assert!(
        started.elapsed() < window / 2,
        "two in cidA and one in cidB need no wait: {:?}",
        started.elapsed()
    );
    s.send(&hook("cidA"), OutboundMessage::text("a2"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= window,
        "the third in cidA waits for the window, though its URL is new: {:?}",
        started.elapsed()
    );
    assert_eq!(fake.texts(), ["a0", "a1", "b0", "a2"]);
}

#[tokio::test]
async fn pacing_stays_correct_after_thousands_of_conversations() {
    // The pacers of idle conversations are swept as the map grows; the ones in use survive.
    let window = Duration::from_millis(300);
    let fake = FakeDingTalk::start().await.unwrap();
    let s = sender(&fake, RateLimit::new(1, window), quick_retry(0));
    let url = format!("{}/robot/sendBySession?session=unknown", fake.base_url());
    for i in 0..3_000 {
        // Not a session the fake issued: refused at once, but paced first, which is what counts.
        let hook = SessionWebhook::new(url.clone(), None).in_conversation(format!("cid{i}"));
        let _ = s.send(&hook.into(), OutboundMessage::text("x")).await;
    }
    let started = Instant::now();
    let hook = |n: usize| {
        Target::from(SessionWebhook::new(url.clone(), None).in_conversation(format!("cid{n}")))
    };
    let _ = s.send(&hook(2_999), OutboundMessage::text("again")).await;
    assert!(
        started.elapsed() >= window / 2,
        "the newest conversation is still paced: {:?}",
        started.elapsed()
    );
    assert_eq!(fake.rejections().len(), 3_001);
}

#[tokio::test]
async fn rate_limited_message_is_retried_until_delivered_in_order() {
    let fake = FakeDingTalk::builder()
        .rate_limit(3, Duration::from_millis(300))
        .block_for(Duration::from_millis(400))
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let s = sender(&fake, unpaced(), quick_retry(30));
    for i in 0..5 {
        s.send(&robot(None), OutboundMessage::text(format!("m{i}")))
            .await
            .unwrap();
    }
    assert_eq!(fake.texts(), ["m0", "m1", "m2", "m3", "m4"]);
    assert!(
        fake.rejections().iter().any(|r| r.errcode == 130_101),
        "DingTalk did throttle"
    );
}

#[tokio::test]
async fn rate_limit_that_outlasts_retries_is_returned_not_dropped() {
    let fake = FakeDingTalk::builder()
        .rate_limit(1, Duration::from_secs(60))
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let s = sender(
        &fake,
        unpaced(),
        RetryPolicy::default()
            .rate_limited_wait(Duration::from_millis(10))
            .rate_limited_retries(2)
            .transient_backoff(Duration::from_millis(10))
            .transient_retries(0),
    );
    s.send(&robot(None), OutboundMessage::text("first"))
        .await
        .unwrap();
    let err = s
        .send(&robot(None), OutboundMessage::text("second"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(err.errcode(), Some(130_101));

    // DingTalk's 10-minute block ends; the fake's clock is moved instead of sleeping.
    fake.advance(Duration::from_secs(601));
    s.send(&robot(None), OutboundMessage::text("third"))
        .await
        .unwrap();
    assert_eq!(fake.texts(), ["first", "third"]);
}

#[tokio::test]
async fn long_message_arrives_as_ordered_parts_that_rebuild_the_text() {
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let text: String = (0..900)
        .map(|i| format!("第 {i:03} 行: AWS Support case update\n"))
        .collect();
    let parts = sender(&fake, RateLimit::default(), RetryPolicy::default())
        .send(&robot(None), OutboundMessage::text(text.clone()))
        .await
        .unwrap();
    assert!(parts >= 3, "{parts}");
    let got = fake.messages();
    assert_eq!(got.len(), parts);
    let rebuilt: String = got.iter().map(|m| m.text()).collect();
    assert_eq!(rebuilt, text);
}

#[tokio::test]
async fn failure_mid_way_through_a_split_message_reports_delivered_parts() {
    let fake = FakeDingTalk::builder()
        .rate_limit(2, Duration::from_secs(60))
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let text = "x\n".repeat(5_000); // 10,000 characters: three parts
    let err = sender(
        &fake,
        unpaced(),
        RetryPolicy::default()
            .rate_limited_wait(Duration::from_millis(1))
            .rate_limited_retries(0)
            .transient_backoff(Duration::from_millis(1))
            .transient_retries(0),
    )
    .send(&robot(None), OutboundMessage::text(text))
    .await
    .unwrap_err();
    match &err {
        Error::Incomplete {
            delivered: 2,
            total: 3,
            source,
        } => {
            assert!(matches!(**source, Error::RateLimited { .. }), "{source:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(err.root(), Error::RateLimited { .. }));
    assert_eq!(fake.messages().len(), 2);
}

#[tokio::test]
async fn http_500_from_dingtalk_is_retried_then_delivered() {
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    fake.fail_next(2);
    let s = sender(
        &fake,
        RateLimit::default(),
        RetryPolicy::default()
            .rate_limited_wait(Duration::from_millis(1))
            .rate_limited_retries(0)
            .transient_backoff(Duration::from_millis(10))
            .transient_retries(2),
    );
    s.send(&robot(None), OutboundMessage::text("after outage"))
        .await
        .unwrap();
    assert_eq!(fake.texts(), ["after outage"]);
    // A third failure in a row exhausts the two retries and is reported.
    fake.fail_next(3);
    let err = s
        .send(&robot(None), OutboundMessage::text("lost?"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http { status: 500 }), "{err:?}");
}

#[tokio::test]
async fn unreachable_dingtalk_is_retried_then_reported_as_transport_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let s = Sender::builder()
        .api_base(base)
        .retry(
            RetryPolicy::default()
                .rate_limited_wait(Duration::from_millis(1))
                .rate_limited_retries(0)
                .transient_backoff(Duration::from_millis(5))
                .transient_retries(2),
        )
        .build()
        .unwrap();
    let err = s
        .send(&robot(None), OutboundMessage::text("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(
        !format!("{err} {err:?}").contains(TOKEN),
        "the URL with the token must not leak"
    );
}

#[tokio::test]
async fn fake_answers_dingtalk_errcodes_for_malformed_posts() {
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/robot/send?access_token={TOKEN}", fake.base_url());
    let cases = [
        (r#"{"msgtype":"markdown"}"#, 400_401),
        (r#"{"msgtype":"image","image":{}}"#, 400_105),
        (r#"{"text":{"content":"x"}}"#, 400_102),
        ("not json", 400_101),
    ];
    for (body, errcode) in cases {
        let answer: serde_json::Value = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["errcode"], errcode, "{body}");
    }
    assert!(fake.messages().is_empty());
}

/// `join_all` without pulling in the futures crate: spawn on the runtime, await in order.
async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
