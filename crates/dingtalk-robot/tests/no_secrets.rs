//! No secret, access token, signature or session URL appears in any `Debug`, `Display`, error
//! or log output, even at trace level and on error and retry paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};
use dingtalk_robot::{
    AccessToken, AppSecret, CallbackVerifier, CustomRobot, InboundMessage, OutboundMessage,
    RateLimit, RetryPolicy, Sender, SessionWebhook, Target, WebhookSecret, sign, webhook_sign,
};

const APP_SECRET: &str = "app-secret-DO-NOT-LOG-1";
const TOKEN: &str = "access-token-DO-NOT-LOG-2";
const WEBHOOK_SECRET: &str = "SECwebhook-secret-DO-NOT-LOG-3";

#[tokio::test]
async fn trace_logs_debug_and_errors_never_contain_secrets() {
    let logs = casebot_testkit::LogCapture::start();

    let fake = FakeDingTalk::builder()
        .rate_limit(1, Duration::from_secs(60))
        .robot(FakeRobot::new(TOKEN).secret(WEBHOOK_SECRET).keyword("AWS"))
        .start()
        .await
        .unwrap();
    let sender = Sender::builder()
        .api_base(fake.base_url())
        .rate_limit(RateLimit::new(100, Duration::from_secs(1)))
        .retry(
            RetryPolicy::default()
                .rate_limited_wait(Duration::from_millis(5))
                .rate_limited_retries(2)
                .transient_backoff(Duration::from_millis(5))
                .transient_retries(1),
        )
        .build()
        .unwrap();
    let robot: Target = CustomRobot::new(AccessToken::new(TOKEN))
        .with_secret(WebhookSecret::new(WEBHOOK_SECRET))
        .into();
    let wrong: Target = CustomRobot::new(AccessToken::new(TOKEN))
        .with_secret(WebhookSecret::new("SECwrong"))
        .into();
    let callback =
        InboundMessage::from_json(fake.callback("帮助").json().to_string().as_bytes()).unwrap();
    let hook = SessionWebhook::from_message(&callback).unwrap();
    let session_url = callback.session_webhook.clone().unwrap();
    let session_id = session_url.split("session=").nth(1).unwrap().to_owned();

    let mut outputs = Vec::new();
    // Success, keyword rejection, signature rejection, rate limit with retries, session reply.
    outputs.push(format!(
        "{:?}",
        sender.send(&robot, OutboundMessage::text("AWS ok")).await
    ));
    for (target, text) in [
        (&robot, "no keyword"),
        (&wrong, "AWS"),
        (&robot, "AWS again"),
    ] {
        let err = sender
            .send(target, OutboundMessage::text(text))
            .await
            .unwrap_err();
        outputs.push(format!("{err} | {err:?}"));
    }
    outputs.push(format!(
        "{:?}",
        sender
            .send(&hook.clone().into(), OutboundMessage::text("reply"))
            .await
    ));
    // Transport error on a closed port.
    let closed = Sender::builder()
        .api_base("http://127.0.0.1:9")
        .retry(
            RetryPolicy::default()
                .rate_limited_wait(Duration::from_millis(1))
                .rate_limited_retries(0)
                .transient_backoff(Duration::from_millis(1))
                .transient_retries(0),
        )
        .build()
        .unwrap();
    let err = closed
        .send(&robot, OutboundMessage::text("AWS"))
        .await
        .unwrap_err();
    outputs.push(format!("{err} | {err:?}"));

    // Debug of every type holding a secret.
    let verifier = CallbackVerifier::new(AppSecret::new(APP_SECRET));
    outputs.push(format!(
        "{verifier:?} {sender:?} {robot:?} {hook:?} {:?}",
        AppSecret::new(APP_SECRET)
    ));
    let bad = verifier
        .verify(
            Some("1700000000000"),
            Some(&sign(APP_SECRET, "1700000000000")),
        )
        .unwrap_err();
    outputs.push(format!("{bad} | {bad:?}"));
    let signed = CallbackVerifier::new(AppSecret::new(APP_SECRET))
        .verify_at(Some("1"), Some("bm90IGl0"), 1)
        .unwrap_err();
    outputs.push(format!("{signed} | {signed:?}"));

    let logs = logs.text();
    assert!(
        logs.contains("retrying"),
        "the retry path was logged: {logs}"
    );
    let (_, webhook_sig) = webhook_sign(
        &WebhookSecret::new(WEBHOOK_SECRET),
        dingtalk_robot::now_ms(),
    );
    let forbidden = [
        APP_SECRET.to_owned(),
        TOKEN.to_owned(),
        WEBHOOK_SECRET.to_owned(),
        session_id,
        sign(APP_SECRET, "1700000000000"),
        webhook_sig[..12].to_owned(),
    ];
    for text in outputs.iter().chain(std::iter::once(&logs)) {
        for secret in &forbidden {
            assert!(
                !text.contains(secret.as_str()),
                "{secret:?} leaked in: {text}"
            );
        }
    }
}
