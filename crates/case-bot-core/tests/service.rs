//! The core in-process, through its tower `Service` (`oneshot`) with the fake DingTalk on
//! loopback: secrets never logged (trace level), rotation re-read is rate limited, attribution
//! and length limits, English replies, content types; and the pipeline without HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use case_bot_core::{
    CallbackService, CaseBot, Config, Delivery, Error, ReplyMode, SecretSource, Secrets,
    StaticSecrets,
};
use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};
use dingtalk_robot::{AppSecret, InboundMessage};
use http_body_util::{BodyExt as _, Full};
use support_commands::Sandbox;
use tower::ServiceExt as _;

const APP_SECRET: &str = "core-app-secret-DO-NOT-LOG";
const TOKEN: &str = "core-access-token-DO-NOT-LOG";
const WEBHOOK_SECRET: &str = "SECcore-webhook-secret-DO-NOT-LOG";

/// A bot on `support` and `secrets` that replies to the fake DingTalk.
fn bot_on(
    fake: &FakeDingTalk,
    support: Arc<dyn support_commands::SupportApi>,
    secrets: Arc<dyn SecretSource>,
    config: Config,
) -> CaseBot {
    CaseBot::builder(support, secrets)
        .config(Config {
            dingtalk_api_base: fake.base_url(),
            ..config
        })
        .build()
        .unwrap()
}

/// A bot on the sandbox with the test's secrets.
fn sandbox_bot(fake: &FakeDingTalk, config: Config) -> CaseBot {
    bot_on(
        fake,
        Arc::new(Sandbox::new()),
        Arc::new(StaticSecrets::new(secrets_json(APP_SECRET))),
        config,
    )
}

/// A callback from the default sender, signed with the test's app secret.
fn signed(fake: &FakeDingTalk, text: &str) -> http::Request<Vec<u8>> {
    fake.callback(text)
        .build("/dingtalk/callback", &AppSecret::new(APP_SECRET))
}

/// The answer of `bot`'s callback service to `request`, the reply delivered before it.
async fn call(bot: &CaseBot, request: http::Request<Vec<u8>>) -> http::Response<Bytes> {
    let service = CallbackService::new(bot.clone()).reply_before_response(true);
    let response = service
        .oneshot(request.map(|body| Full::new(Bytes::from(body))))
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    http::Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

fn secrets_json(app: &str) -> Secrets {
    Secrets::from_json(&format!(
        r#"{{"app_secret":"{app}","access_token":"{TOKEN}","webhook_secret":"{WEBHOOK_SECRET}"}}"#
    ))
    .unwrap()
}

#[tokio::test]
async fn trace_logs_and_debug_output_never_contain_secrets() {
    let logs = casebot_testkit::LogCapture::start();

    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN).secret(WEBHOOK_SECRET).keyword("AWS"))
        .start()
        .await
        .unwrap();
    let bot = sandbox_bot(
        &fake,
        Config {
            reply: ReplyMode::Webhook,
            ..Config::default()
        },
    );
    let good = signed(
        &fake,
        "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance",
    );
    assert_eq!(call(&bot, good).await.status(), 200);
    let bad = fake
        .callback("帮助")
        .build("/dingtalk/callback", &AppSecret::new("wrong"));
    let response = call(&bot, bad).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        fake.messages().len(),
        1,
        "the signed webhook reply went out"
    );

    let logs = logs.text();
    assert!(logs.contains("handled"), "{logs}");
    let texts = [
        logs,
        format!("{bot:?}"),
        format!("{:?}", secrets_json(APP_SECRET)),
        String::from_utf8_lossy(response.body()).into_owned(),
    ];
    for text in &texts {
        for secret in [APP_SECRET, TOKEN, WEBHOOK_SECRET] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

/// A secret source that counts reads and can be rotated.
#[derive(Debug)]
struct Rotating {
    current: Mutex<String>,
    reads: AtomicUsize,
}

#[async_trait]
impl SecretSource for Rotating {
    async fn load(&self) -> Result<Secrets, Error> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(secrets_json(&self.current.lock().unwrap()))
    }
}

/// A bot whose secret source starts at "old" and counts its reads.
async fn rotating_bot() -> (FakeDingTalk, Arc<Rotating>, CaseBot) {
    let fake = FakeDingTalk::start().await.unwrap();
    let source = Arc::new(Rotating {
        current: Mutex::new("old".into()),
        reads: AtomicUsize::new(0),
    });
    let bot = bot_on(
        &fake,
        Arc::new(Sandbox::new()),
        Arc::clone(&source) as Arc<dyn SecretSource>,
        Config::default(),
    );
    (fake, source, bot)
}

#[tokio::test]
async fn bad_signatures_re_read_the_secret_at_most_once_per_interval() {
    let (fake, source, bot) = rotating_bot().await;
    for _ in 0..50 {
        let bad = fake
            .callback("帮助")
            .build("/dingtalk/callback", &AppSecret::new("attacker"));
        assert_eq!(call(&bot, bad).await.status(), 401);
    }
    assert!(
        source.reads.load(Ordering::SeqCst) <= 2,
        "{} reads for 50 bad requests",
        source.reads.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn rotated_secret_is_accepted_after_one_re_read() {
    let (fake, source, bot) = rotating_bot().await;
    let old = fake
        .callback("帮助")
        .build("/dingtalk/callback", &AppSecret::new("old"));
    assert_eq!(call(&bot, old).await.status(), 200);
    *source.current.lock().unwrap() = "new".into();
    let new = fake
        .callback("帮助")
        .build("/dingtalk/callback", &AppSecret::new("new"));
    assert_eq!(call(&bot, new).await.status(), 200);
}

#[tokio::test]
async fn attribution_counts_towards_the_8000_character_limit() {
    let fake = FakeDingTalk::start().await.unwrap();
    let sandbox = Arc::new(Sandbox::new());
    let bot = bot_on(
        &fake,
        Arc::clone(&sandbox) as Arc<dyn support_commands::SupportApi>,
        Arc::new(StaticSecrets::new(secrets_json(APP_SECRET))),
        Config::default(),
    );
    let body = "x".repeat(7_990);
    let text = format!(
        "提工单\nsubject:s\nbody:{body}\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance"
    );
    let request = signed(&fake, &text);
    assert_eq!(call(&bot, request).await.status(), 200);
    let got = fake.wait_for_messages(1, Duration::from_secs(5)).await;
    assert!(got[0].text().contains("8000"), "{}", got[0].text());
    use support_commands::SupportApi as _;
    assert!(
        sandbox
            .list_cases(&Default::default(), None)
            .await
            .unwrap()
            .cases
            .is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn english_replies_when_selected_and_every_reply_carries_the_aws_keyword() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = sandbox_bot(
        &fake,
        Config {
            lang: support_commands::Lang::En,
            ..Config::default()
        },
    );
    let texts = [
        "help",
        "lookup ec2",
        "severity",
        "list",
        "提工单\nsubject:x",
        "resolve case-1-nope",
        "hello there",
    ];
    for (i, text) in texts.iter().enumerate() {
        let request = signed(&fake, text);
        assert_eq!(call(&bot, request).await.status(), 200);
        let got = fake.wait_for_messages(i + 1, Duration::from_secs(5)).await;
        let reply = got[i].text();
        assert!(reply.contains("AWS"), "{text:?} → {reply}");
        assert!(
            !reply.contains("帮助") || *text == "提工单\nsubject:x",
            "English reply for {text:?}: {reply}"
        );
    }
}

#[tokio::test]
async fn json_with_parameters_is_accepted_and_a_lookalike_media_type_is_415() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = sandbox_bot(&fake, Config::default());
    for (content_type, status) in [
        ("application/json; charset=utf-8", 200),
        ("application/json;charset=UTF-8", 200),
        ("application/jsonx", 415),
        ("text/json", 415),
    ] {
        let mut request = signed(&fake, "帮助");
        request
            .headers_mut()
            .insert("content-type", content_type.parse().unwrap());
        let response = call(&bot, request).await;
        assert_eq!(response.status(), status, "{content_type}");
        if status == 415 {
            let body = String::from_utf8_lossy(response.body()).into_owned();
            assert!(body.contains("application/json"), "a reason: {body}");
        }
    }
    assert_eq!(fake.messages().len(), 2, "only the accepted ones ran");
}

#[tokio::test]
async fn only_post_is_taken_and_a_redelivery_is_answered_without_running_again() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = sandbox_bot(&fake, Config::default());
    let mut get = signed(&fake, "帮助");
    *get.method_mut() = http::Method::GET;
    assert_eq!(call(&bot, get).await.status(), 405);
    let first = fake
        .callback("帮助")
        .msg_id("msg-once")
        .build("/dingtalk/callback", &AppSecret::new(APP_SECRET));
    let again = first.clone();
    assert_eq!(call(&bot, first).await.status(), 200);
    let response = call(&bot, again).await;
    assert_eq!(response.status(), 200);
    assert_eq!(&response.body()[..], br#"{"status":"duplicate"}"#);
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn response_mode_answers_with_the_reply_and_posts_nothing_for_a_short_one() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = sandbox_bot(
        &fake,
        Config {
            reply: ReplyMode::Response,
            ..Config::default()
        },
    );
    let request = signed(&fake, "查找ServiceCode: ec2");
    // Without `reply_before_response`: response mode runs the command before answering anyway.
    let response = CallbackService::new(bot)
        .oneshot(request.map(|body| Full::new(Bytes::from(body))))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["msgtype"], "text");
    assert!(
        json["text"]["content"]
            .as_str()
            .unwrap()
            .contains("amazon-elastic-compute-cloud-linux")
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn the_pipeline_runs_without_http_from_a_message_to_a_delivered_reply() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = sandbox_bot(&fake, Config::default());
    let create = "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance";
    let msg = |text: &str, id: &str| {
        InboundMessage::from_json(
            &serde_json::to_vec(&fake.callback(text).msg_id(id).json()).unwrap(),
        )
        .unwrap()
    };
    let outcome = bot.on_message(msg(create, "m-create")).await;
    assert_eq!((outcome.command, &*outcome.result), ("create", "ok"));
    assert!(
        matches!(outcome.delivery, Delivery::Queued { parts: 1 }),
        "{:?}",
        outcome.delivery
    );
    let case_id = outcome.case_id.unwrap();
    // The courier sends what the pipeline put in the outbox.
    assert!(bot.deliver_pending(Duration::from_secs(5)).await);
    assert!(fake.messages()[0].text().contains(&case_id));
    let again = bot.on_message(msg(create, "m-create")).await;
    assert!(matches!(again.delivery, Delivery::Duplicate));
    let resolve = bot
        .on_message(msg(&format!("释放case,case_id:{case_id}"), "m-resolve"))
        .await;
    assert_eq!(
        (resolve.command, &*resolve.result),
        ("resolve", "ok"),
        "the opener may resolve"
    );
    assert!(bot.deliver_pending(Duration::from_secs(5)).await);
    assert_eq!(fake.messages().len(), 2);
}

#[tokio::test]
async fn non_json_content_type_is_415_and_a_missing_one_is_tolerated() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = sandbox_bot(&fake, Config::default());
    let mut form = signed(&fake, "帮助");
    form.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    assert_eq!(call(&bot, form).await.status(), 415);
    let mut bare = signed(&fake, "帮助");
    bare.headers_mut().remove("content-type");
    assert_eq!(call(&bot, bare).await.status(), 200);
}

#[tokio::test]
async fn whoami_gives_the_ids_even_outside_the_allow_list_and_other_commands_stay_refused() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = sandbox_bot(
        &fake,
        Config {
            reply: ReplyMode::Response,
            allowed_conversations: vec!["cidAllowedOnly".into()],
            ..Config::default()
        },
    );
    let ask = |text: &str| {
        InboundMessage::from_json(
            fake.callback(text)
                .group("cidNotAllowed", "新群")
                .sender("王五", "staff-9")
                .json()
                .to_string()
                .as_bytes(),
        )
        .unwrap()
    };
    let Delivery::Inline { first, .. } = bot.on_message(ask("我的信息")).await.delivery else {
        panic!("no inline reply");
    };
    let text = serde_json::to_string(&first).unwrap();
    assert!(
        text.contains("staffId: staff-9") && text.contains("conversationId: cidNotAllowed"),
        "{text}"
    );
    let outcome = bot.on_message(ask("工单列表")).await;
    assert_eq!(&*outcome.result, "refused-conversation");
}
