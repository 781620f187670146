//! `case-bot serve --mode stream` as a process against the fake Stream gateway and moto over
//! real sockets: replies and cases, duplicate deliveries, `disconnect`, a gateway down at start,
//! a dead connection, bad credentials, and readiness.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use casebot_testkit::MotoServer;
use common::*;
use dingtalk_robot::testing::{FakeApp, FakeDingTalk};

const APP_KEY: &str = "dingstreame2e";
const WAIT: Duration = Duration::from_secs(15);

async fn fake() -> FakeDingTalk {
    FakeDingTalk::builder()
        .app(FakeApp::new(APP_KEY, APP_SECRET))
        .start()
        .await
        .unwrap()
}

fn stream_bot(fake: &FakeDingTalk, moto: Option<&MotoServer>, state: &State) -> Bot {
    let base = fake.base_url();
    start_bot(
        fake,
        moto,
        state,
        &["--mode", "stream"],
        &[
            ("DINGTALK_APP_KEY", APP_KEY),
            ("DINGTALK_OPENAPI_BASE", base.as_str()),
            ("CASE_BOT_STREAM_BACKOFF_MS", "200"),
            ("CASE_BOT_STREAM_PING_MS", "500"),
            ("CASE_BOT_WATCH_INTERVAL", "0"),
        ],
    )
}

/// Pushes `text` from the ops group; the frame's data (to push again).
fn push(fake: &FakeDingTalk, text: &str) -> serde_json::Value {
    let data = fake.callback(text).group("cidOps", "运维值班").json();
    assert!(fake.stream_push(&data).is_some(), "no connection");
    data
}

async fn replies_containing(fake: &FakeDingTalk, needle: &str, count: usize) -> usize {
    let found = |f: &FakeDingTalk| f.texts().iter().filter(|t| t.contains(needle)).count();
    let deadline = tokio::time::Instant::now() + WAIT;
    while found(fake) < count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    found(fake)
}

/// Waits until the gateway has `count` connections.
async fn connected(fake: &FakeDingTalk, count: usize) {
    assert!(
        fake.stream_wait(|f| f.stream_connections() == count, WAIT)
            .await,
        "{} connections, not {count}",
        fake.stream_connections()
    );
}

#[tokio::test]
async fn a_message_over_stream_gets_a_reply_and_a_create_makes_one_case_even_delivered_twice() {
    let moto = MotoServer::start();
    let fake = fake().await;
    let state = temp_state("stream-create");
    let bot = stream_bot(&fake, Some(&moto), &state);
    connected(&fake, 1).await;
    let (status, ready) = bot.readyz().await;
    assert_eq!(
        (status, &ready["stream"]["connected"]),
        (200, &true.into()),
        "{ready}"
    );

    push(&fake, "查找ServiceCode: ec2");
    assert_eq!(
        replies_containing(&fake, "amazon-elastic-compute-cloud-linux", 1).await,
        1
    );

    let data = push(
        &fake,
        "提工单\nsubject:stream case\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other",
    );
    assert_eq!(replies_containing(&fake, "创建工单成功", 1).await, 1);
    // DingTalk delivers the same message again: acknowledged, nothing done.
    assert!(fake.stream_push(&data).is_some());
    assert!(fake.stream_wait(|f| f.stream_acks().len() == 3, WAIT).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(replies_containing(&fake, "创建工单成功", 1).await, 1);
    assert_eq!(moto_cases(&moto).await.len(), 1);
    assert!(fake.stream_acks().iter().all(|a| a.code == 200));
    bot.stop_gracefully();
}

#[tokio::test]
async fn after_disconnect_and_a_dropped_socket_the_bot_reconnects_and_keeps_answering() {
    let fake = fake().await;
    let state = temp_state("stream-disconnect");
    let bot = stream_bot(&fake, None, &state);
    connected(&fake, 1).await;
    fake.stream_disconnect(Duration::from_millis(300));
    assert!(
        fake.stream_wait(
            |f| f.stream_tickets() == 2 && f.stream_connections() == 1,
            WAIT
        )
        .await
    );
    push(&fake, "帮助");
    assert_eq!(replies_containing(&fake, "AWS-[", 1).await, 1);
    fake.stream_drop();
    assert!(
        fake.stream_wait(
            |f| f.stream_tickets() == 3 && f.stream_connections() == 1,
            WAIT
        )
        .await
    );
    push(&fake, "严重级别");
    fake.wait_for_messages(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.messages().len(),
        2,
        "nothing lost or doubled: {:?}",
        fake.texts()
    );
    bot.stop_gracefully();
}

#[tokio::test]
async fn a_gateway_down_at_start_is_retried_and_a_silent_connection_is_replaced() {
    let fake = fake().await;
    fake.stream_down(true);
    let state = temp_state("stream-down");
    let bot = stream_bot(&fake, None, &state);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, ready) = bot.readyz().await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["stream"]["connected"], false);
    assert!(
        ready["stream"]["attempts"].as_u64().unwrap() >= 2,
        "{ready}"
    );
    assert_eq!(bot.health_status().await, 200, "liveness is not readiness");
    fake.stream_down(false);
    connected(&fake, 1).await;
    push(&fake, "帮助");
    assert_eq!(replies_containing(&fake, "AWS-[", 1).await, 1);
    // The gateway stops answering: no pong, a new connection.
    let tickets = fake.stream_tickets();
    fake.stream_mute(true);
    assert!(
        fake.stream_wait(|f| f.stream_tickets() > tickets, WAIT)
            .await
    );
    fake.stream_mute(false);
    bot.stop_gracefully();
}

#[tokio::test]
async fn a_wrong_app_secret_exits_non_zero_naming_the_app_key_and_no_secret() {
    let fake = fake().await;
    let state = temp_state("stream-bad-secret");
    let mut command = Command::new(env!("CARGO_BIN_EXE_case-bot"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--mode",
            "stream",
            "--state",
        ])
        .arg(state.path())
        .env("DINGTALK_APP_SECRET", "not-the-secret")
        .env("DINGTALK_APP_KEY", APP_KEY)
        .env("DINGTALK_OPENAPI_BASE", fake.base_url())
        .env_remove("CASE_BOT_SUPPORT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // The fake answers on this runtime: wait for the process on another thread.
    let output = tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || command.output()))
        .await
        .expect("the bot did not exit")
        .unwrap()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(APP_KEY) && stderr.contains("app secret"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-secret"), "{stderr}");
}

#[tokio::test]
async fn two_stream_instances_on_one_dynamodb_table_act_once_for_a_message_both_receive() {
    let moto = MotoServer::start();
    let fake = fake().await;
    let table = "casebot-stream-shared";
    case_bot_core::DynamoStore::new(&moto.sdk_config().await, table)
        .create_table()
        .await
        .unwrap();
    let base = fake.base_url();
    let start = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_case-bot"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--mode",
                "stream",
                "--support",
                "aws",
            ])
            .args(["--state", &format!("dynamodb:{table}")])
            .args(["--dingtalk-api-base", &base])
            .env("DINGTALK_APP_SECRET", APP_SECRET)
            .env("DINGTALK_APP_KEY", APP_KEY)
            .env("DINGTALK_OPENAPI_BASE", &base)
            .env("CASE_BOT_WATCH_INTERVAL", "0")
            .envs(moto.env())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        spawn_bot(&mut command)
    };
    let a = start();
    let b = start();
    connected(&fake, 2).await;
    let data = fake
        .callback("提工单\nsubject:shared stream\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other")
        .group("cidOps", "运维值班")
        .json();
    assert_eq!(fake.stream_push_all(&data), 2);
    assert!(
        fake.stream_wait(|f| f.stream_acks().len() == 2, WAIT).await,
        "each delivery is acknowledged"
    );
    assert_eq!(replies_containing(&fake, "创建工单成功", 1).await, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        replies_containing(&fake, "创建工单成功", 1).await,
        1,
        "{:?}",
        fake.texts()
    );
    assert_eq!(moto_cases(&moto).await.len(), 1);
    a.stop_gracefully();
    b.stop_gracefully();
}

#[tokio::test]
async fn sigterm_while_a_create_runs_still_delivers_its_reply_once() {
    let moto = MotoServer::start();
    let fake = fake().await;
    let state = temp_state("stream-sigterm");
    let bot = stream_bot(&fake, Some(&moto), &state);
    connected(&fake, 1).await;
    moto.delay_create_case(1.5).unwrap();
    push(
        &fake,
        "提工单\nsubject:sigterm stream\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other",
    );
    assert!(
        fake.stream_wait(|f| f.stream_acks().len() == 1, WAIT).await,
        "acknowledged once claimed"
    );
    bot.stop_gracefully();
    moto.delay_create_case(0.0).unwrap();
    // Delivered before the exit, or from the outbox after the next start.
    if replies_containing(&fake, "创建工单成功", 1).await == 0 {
        let again = stream_bot(&fake, Some(&moto), &state);
        assert_eq!(replies_containing(&fake, "创建工单成功", 1).await, 1);
        again.stop_gracefully();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        replies_containing(&fake, "创建工单成功", 1).await,
        1,
        "{:?}",
        fake.texts()
    );
    assert_eq!(moto_cases(&moto).await.len(), 1);
}
