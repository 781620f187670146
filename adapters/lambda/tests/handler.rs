//! The Lambda handler from real API Gateway HTTP API (payload v2) event JSON, signed like
//! DingTalk: every command, bad signatures, duplicates, base64 bodies, status codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use case_bot_core::{CaseBot, Config, MemoryStore, Secrets, StaticSecrets};
use dingtalk_robot::testing::FakeDingTalk;
use dingtalk_robot::{AppSecret, Sender};
use support_commands::Sandbox;
use tower::ServiceExt as _;

const APP_SECRET: &str = "lambda-app-secret";

fn bot(fake: &FakeDingTalk) -> CaseBot {
    CaseBot::builder(
        Arc::new(Sandbox::new()),
        Arc::new(StaticSecrets::new(
            Secrets::from_json(&format!(r#"{{"app_secret":"{APP_SECRET}"}}"#)).unwrap(),
        )),
    )
    .store(Arc::new(MemoryStore::default()))
    .sender(Sender::builder().api_base(fake.base_url()).build().unwrap())
    .config(Config {
        command_deadline: case_bot_lambda::COMMAND_DEADLINE,
        ..Config::default()
    })
    .build()
    .unwrap()
}

/// An API Gateway v2 event whose body is a DingTalk callback signed with `secret`.
fn event(
    fake: &FakeDingTalk,
    text: &str,
    secret: &str,
    msg_id: Option<&str>,
    base64: bool,
) -> lambda_http::Request {
    let mut builder = fake.callback(text);
    if let Some(id) = msg_id {
        builder = builder.msg_id(id);
    }
    let signed = builder.build("/dingtalk/callback", &AppSecret::new(secret));
    let header = |name: &str| signed.headers()[name].to_str().unwrap().to_owned();
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/apigw_v2_event.json")).unwrap();
    event["headers"]["timestamp"] = header("timestamp").into();
    event["headers"]["sign"] = header("sign").into();
    let body = String::from_utf8(signed.body().clone()).unwrap();
    if base64 {
        use base64::Engine as _;
        event["body"] = base64::engine::general_purpose::STANDARD
            .encode(body.as_bytes())
            .into();
        event["isBase64Encoded"] = true.into();
    } else {
        event["body"] = body.into();
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

async fn status(bot: &CaseBot, request: lambda_http::Request) -> u16 {
    case_bot_lambda::App::new(bot.clone())
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_command_is_answered_before_the_handler_returns() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = bot(&fake);
    let create = "提工单\nsubject:EC2 实例无法连接\nbody:SSH 超时\nseverityCode:high\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:instance-issue";
    assert_eq!(
        status(&bot, event(&fake, create, APP_SECRET, None, false)).await,
        200
    );
    // The reply was posted before the handler returned: nothing may run after it in Lambda.
    let created = fake.messages();
    assert_eq!(created.len(), 1);
    assert!(
        created[0].text().starts_with("AWS-[创建工单成功]"),
        "{}",
        created[0].text()
    );
    let case_id = created[0]
        .text()
        .split_whitespace()
        .find(|w| w.starts_with("case-"))
        .unwrap()
        .to_owned();

    let commands = [
        (
            "查找ServiceCode: ec2".to_owned(),
            "amazon-elastic-compute-cloud-linux",
        ),
        (format!("查看 {case_id}"), "EC2 实例无法连接"),
        ("工单列表".to_owned(), case_id.as_str()),
        (format!("回复 {case_id}\n补充日志"), "AWS-[回复成功]"),
        ("严重级别".to_owned(), "critical"),
        ("帮助".to_owned(), "释放case,case_id:"),
        (format!("释放case,case_id:{case_id}"), "AWS-[释放case成功]"),
    ];
    for (i, (text, expected)) in commands.iter().enumerate() {
        assert_eq!(
            status(&bot, event(&fake, text, APP_SECRET, None, false)).await,
            200,
            "{text}"
        );
        let got = fake.messages();
        assert_eq!(
            got.len(),
            i + 2,
            "one reply per command, already delivered: {text}"
        );
        assert!(
            got[i + 1].text().contains(expected),
            "{text} → {}",
            got[i + 1].text()
        );
    }
}

#[tokio::test]
async fn bad_signature_is_401_and_runs_nothing() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = bot(&fake);
    assert_eq!(
        status(&bot, event(&fake, "帮助", "wrong secret", None, false)).await,
        401
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn redelivered_event_is_200_without_a_second_reply() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = bot(&fake);
    for _ in 0..3 {
        assert_eq!(
            status(
                &bot,
                event(&fake, "帮助", APP_SECRET, Some("msg-lambda-dup"), false)
            )
            .await,
            200
        );
    }
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn base64_encoded_bodies_are_decoded() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = bot(&fake);
    assert_eq!(
        status(&bot, event(&fake, "严重级别", APP_SECRET, None, true)).await,
        200
    );
    assert!(fake.messages()[0].text().contains("critical"));
}

#[tokio::test]
async fn malformed_body_is_400() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = bot(&fake);
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/apigw_v2_event.json")).unwrap();
    let timestamp = dingtalk_robot::now_ms().to_string();
    event["headers"]["sign"] = dingtalk_robot::sign(APP_SECRET, &timestamp).into();
    event["headers"]["timestamp"] = timestamp.into();
    event["body"] = "{not json".into();
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(status(&bot, request).await, 400);
}

/// A bot whose sandbox engineer answers at once, pushing through the fake's OpenAPI.
fn pushing_bot(fake: &FakeDingTalk) -> CaseBot {
    let sandbox = Sandbox::with_config(support_commands::SandboxConfig {
        engineer_reply_after: Duration::ZERO,
        ..support_commands::SandboxConfig::default()
    });
    app_bot(fake, Arc::new(sandbox), Config::default())
}

/// A bot on `support` whose secret has an app key the fake DingTalk knows (`dinglambda`), as
/// the Lambda runs it (no background watcher).
fn app_bot(
    fake: &FakeDingTalk,
    support: Arc<dyn support_commands::SupportApi>,
    mut config: Config,
) -> CaseBot {
    config.command_deadline = case_bot_lambda::COMMAND_DEADLINE;
    config.notify.watch_interval = Duration::ZERO;
    CaseBot::builder(
        support,
        Arc::new(StaticSecrets::new(
            Secrets::from_json(&format!(
                r#"{{"app_secret":"{APP_SECRET}","app_key":"dinglambda"}}"#
            ))
            .unwrap(),
        )),
    )
    .store(Arc::new(MemoryStore::default()))
    .sender(
        Sender::builder()
            .api_base(fake.base_url())
            .openapi_base(fake.base_url())
            .build()
            .unwrap(),
    )
    .config(config)
    .build()
    .unwrap()
}

#[tokio::test]
async fn a_support_event_delivered_five_times_and_a_reconcile_push_one_message() {
    let fake = FakeDingTalk::builder()
        .app(dingtalk_robot::testing::FakeApp::new(
            "dinglambda",
            APP_SECRET,
        ))
        .start()
        .await
        .unwrap();
    let bot = pushing_bot(&fake);
    let create = "提工单\nsubject:lambda push\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other";
    assert_eq!(
        status(&bot, event(&fake, create, APP_SECRET, None, false)).await,
        200
    );
    let reply = fake.texts().join("\n");
    let start = reply.find("case-").expect(&reply);
    let case: String = reply[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let support_event = serde_json::json!({
        "version": "0", "id": "e1", "detail-type": "Support Case Update", "source": "aws.support",
        "account": "123456789012", "time": "2026-11-30T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"case-id": case, "display-id": "1", "communication-id": "",
                   "event-name": "AddCommunicationToCase", "origin": "AWS"}
    });
    let mut told = 0;
    for _ in 0..5 {
        let summary = case_bot_lambda::on_event(&bot, support_event.clone())
            .await
            .unwrap();
        told += summary["messages"].as_u64().unwrap();
    }
    let reconciled = case_bot_lambda::on_event(&bot, serde_json::json!({"casebot": "reconcile"}))
        .await
        .unwrap();
    assert_eq!(reconciled["cases"], 1, "{reconciled}");
    assert_eq!(told + reconciled["messages"].as_u64().unwrap(), 1);
    let pushed: Vec<_> = fake
        .messages()
        .into_iter()
        .filter(|m| matches!(m.channel, dingtalk_robot::testing::Channel::Group(_)))
        .collect();
    assert_eq!(pushed.len(), 1, "{:?}", fake.texts());
    assert!(
        pushed[0].text().contains("AWS Support"),
        "{}",
        pushed[0].text()
    );
}

#[tokio::test]
async fn an_event_that_is_not_a_support_event_is_only_a_sweep() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = pushing_bot(&fake);
    let scheduled =
        serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let summary = case_bot_lambda::on_event(&bot, scheduled).await.unwrap();
    assert_eq!(summary["finished"], true, "{summary}");
    assert!(summary.get("cases").is_none(), "{summary}");
}

/// A bot on moto's Support API with an app the fake DingTalk knows.
async fn bot_on_moto(fake: &FakeDingTalk, moto: &casebot_testkit::MotoServer) -> CaseBot {
    let aws = support_commands::AwsSupport::from_sdk_config(
        &moto.sdk_config().await,
        support_commands::AwsSupportConfig::default(),
    );
    let config = Config {
        support: case_bot_core::SupportBackend::Aws,
        ..Config::default()
    };
    app_bot(fake, Arc::new(aws), config)
}

#[tokio::test]
async fn the_doctor_test_event_runs_every_check_and_names_a_missing_plan() {
    let moto = casebot_testkit::MotoServer::start();
    let fake = FakeDingTalk::builder()
        .app(dingtalk_robot::testing::FakeApp::new(
            "dinglambda",
            APP_SECRET,
        ))
        .start()
        .await
        .unwrap();
    let bot = bot_on_moto(&fake, &moto).await;
    let answer = case_bot_lambda::doctor(&bot, Some("casebot-state"), Some("cidOps==")).await;
    let text = answer["text"].as_str().unwrap();
    assert_eq!(answer["healthy"], true, "{text}");
    assert!(
        text.contains("✅ IAM support:CreateCase: allowed (dryRun)"),
        "{text}"
    );
    assert!(text.contains("✅ test message: sent to cidOps=="), "{text}");
    assert!(text.contains("✅ state:"), "{text}");
    let checks = answer["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["verdict"] != "fail"), "{answer}");
    assert_eq!(fake.messages().len(), 1, "only the test message");

    moto.set_account("basic", &[]).unwrap();
    // As the events function gets it; this test sets no CASE_BOT_TABLE.
    let answer = case_bot_lambda::on_event(&bot, serde_json::json!({"casebot": "doctor"}))
        .await
        .unwrap();
    assert_eq!(answer["healthy"], false);
    let text = answer["text"].as_str().unwrap();
    assert!(
        text.contains("❌ Support API: SubscriptionRequiredException"),
        "{text}"
    );
    assert!(
        text.contains("❌ state: CASE_BOT_TABLE is not set"),
        "{text}"
    );
}
