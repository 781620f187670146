//! Pushed notifications through the real `case-bot` process: the watcher survives a SIGKILL
//! between two polls without missing or repeating an answer, and the sandbox round trip of the
//! README (`case-bot say --wait`) prints AWS's answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use casebot_testkit::MotoServer;
use common::*;
use dingtalk_robot::testing::{Channel, FakeApp, FakeDingTalk, FakeRobot};

const APP_KEY: &str = "dinge2eapp";

/// The pushed group messages (OpenAPI) whose text contains `needle`.
fn pushed_with(fake: &FakeDingTalk, needle: &str) -> usize {
    fake.messages()
        .iter()
        .filter(|m| matches!(m.channel, Channel::Group(_)) && m.text().contains(needle))
        .count()
}

async fn wait_for_push(fake: &FakeDingTalk, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while pushed_with(fake, needle) == 0 {
        assert!(
            Instant::now() < deadline,
            "no push with {needle:?}: {:?}",
            fake.texts()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_server_killed_between_two_polls_misses_nothing_and_repeats_nothing() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::builder()
        .app(FakeApp::new(APP_KEY, APP_SECRET))
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let state = temp_state("notify-kill");
    let base = fake.base_url();
    let env = [
        ("DINGTALK_APP_KEY", APP_KEY),
        ("DINGTALK_OPENAPI_BASE", base.as_str()),
        ("CASE_BOT_WATCH_INTERVAL", "1s"),
    ];
    let bot = start_bot(&fake, Some(&moto), &state, &[], &env);
    let reply = say(
        &fake,
        &bot,
        "提工单\nsubject:kill test\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other",
    )
    .await;
    let case = case_id_in(&reply);
    moto.engineer_reply(&case, "first answer").unwrap();
    wait_for_push(&fake, "first answer").await;

    bot.kill();
    moto.engineer_reply(&case, "second answer").unwrap();
    let bot = start_bot(&fake, Some(&moto), &state, &[], &env);
    wait_for_push(&fake, "second answer").await;
    // Two more polls find nothing new.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(pushed_with(&fake, "first answer"), 1, "{:?}", fake.texts());
    assert_eq!(pushed_with(&fake, "second answer"), 1, "{:?}", fake.texts());
    bot.stop_gracefully();
}

#[tokio::test]
async fn the_sandbox_round_trip_prints_the_simulated_engineers_answer() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("notify-sandbox");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let openapi = format!("http://127.0.0.1:{port}");
    let bot = start_bot(
        &fake,
        None,
        &state,
        &["--sandbox-reply-after", "1"],
        &[
            ("DINGTALK_APP_KEY", "dingLocalSandbox"),
            ("DINGTALK_OPENAPI_BASE", openapi.as_str()),
            ("CASE_BOT_WATCH_INTERVAL", "1s"),
        ],
    );
    let output = Command::new(env!("CARGO_BIN_EXE_case-bot"))
        .args(["say", "--url", &bot.url, "--wait", "8", "--push-port", &port.to_string()])
        .arg("提工单\nsubject:round trip\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other")
        .env("DINGTALK_APP_SECRET", APP_SECRET)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("创建工单成功"), "{stdout}");
    assert!(stdout.contains("── pushed to the group ──"), "{stdout}");
    assert!(
        stdout.contains(support_commands::SIMULATED_REPLY.lines().next().unwrap()),
        "{stdout}"
    );
    bot.stop_gracefully();
}
