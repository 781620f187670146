//! `case-bot doctor` as a process against moto (the Support extension plays the support plan
//! and IAM) and the fake DingTalk (app tokens, the Stream gateway, group sends): a good
//! configuration passes every check and exits 0; each broken one names what is wrong and the
//! fix, and exits 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use casebot_testkit::MotoServer;
use common::*;
use dingtalk_robot::testing::{Channel, FakeApp, FakeDingTalk};

const APP_KEY: &str = "dingdoctor";

async fn fake() -> FakeDingTalk {
    FakeDingTalk::builder()
        .app(FakeApp::new(APP_KEY, APP_SECRET))
        .start()
        .await
        .unwrap()
}

/// Runs `case-bot doctor` with `args` against `fake` and `moto`; its exit code and output.
async fn doctor(
    fake: &FakeDingTalk,
    moto: &MotoServer,
    state: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_case-bot"));
    command
        .args(["doctor", "--support", "aws", "--state"])
        .arg(state)
        .args(["--dingtalk-api-base", &fake.base_url()])
        .args(args)
        .env("DINGTALK_APP_SECRET", APP_SECRET)
        .env("DINGTALK_APP_KEY", APP_KEY)
        .env("DINGTALK_OPENAPI_BASE", fake.base_url())
        .env_remove("CASE_BOT_SUPPORT")
        .envs(moto.env());
    for (k, v) in env {
        command.env(k, v);
    }
    // The fake answers on this process's runtime: wait for the child off it.
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_stream_deployment_passes_every_check_and_sends_the_test_message() {
    let moto = MotoServer::start();
    let fake = fake().await;
    let state = temp_state("doctor-good");
    let (code, out) = doctor(
        &fake,
        &moto,
        &state.path(),
        &["--mode", "stream", "--test-conversation", "cidOpsGroup=="],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("✅ secret: readable; keys present: app_secret, app_key"),
        "{out}"
    );
    assert!(
        out.contains("✅ Support API: answers in partition aws"),
        "{out}"
    );
    for op in [
        "CreateCase",
        "DescribeCases",
        "AddCommunicationToCase",
        "ResolveCase",
        "DescribeSupportedLanguages",
    ] {
        assert!(
            out.contains(&format!("✅ IAM support:{op}: allowed (dryRun)")),
            "{op}: {out}"
        );
    }
    assert!(out.contains("✅ DingTalk app:"), "{out}");
    assert!(
        out.contains("✅ test message: sent to cidOpsGroup=="),
        "{out}"
    );
    assert!(
        out.contains("✅ Stream: DingTalk handed out a connection ticket"),
        "{out}"
    );
    assert!(
        out.contains("✅ state:") && out.contains("does not exist yet"),
        "{out}"
    );
    assert!(!out.contains('❌'), "{out}");
    let sent = fake.messages();
    assert_eq!(sent.len(), 1, "only the test message");
    assert_eq!(sent[0].channel, Channel::Group("cidOpsGroup==".into()));
    // Nothing was written: no case at AWS, no state file.
    assert!(!state.path().exists());
    let support = aws_sdk_support::Client::new(&moto.sdk_config().await);
    let cases = support
        .describe_cases()
        .include_resolved_cases(true)
        .send()
        .await
        .unwrap();
    assert!(cases.cases().is_empty(), "the dry runs opened a case");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_mode_prints_the_callback_url_to_paste() {
    let moto = MotoServer::start();
    let fake = fake().await;
    let state = temp_state("doctor-url");
    let (code, out) = doctor(
        &fake,
        &moto,
        &state.path(),
        &["--public-url", "https://bot.example.com/"],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("✅ callback URL: paste https://bot.example.com/dingtalk/callback as the robot's message receiving address"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_without_a_business_plan_is_named_with_the_fix() {
    let moto = MotoServer::start();
    moto.set_account("basic", &[]).unwrap();
    let fake = fake().await;
    let state = temp_state("doctor-plan");
    let (code, out) = doctor(&fake, &moto, &state.path(), &[], &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("❌ Support API: SubscriptionRequiredException: this account's support plan (Basic or Developer) cannot use the Support API"),
        "{out}"
    );
    assert!(
        out.contains("fix: upgrade the account to Business"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_that_denies_an_operation_names_the_action_to_add() {
    let moto = MotoServer::start();
    moto.set_account(
        "business",
        &[
            "ResolveCase",
            "AddCommunicationToCase",
            "DescribeSeverityLevels",
        ],
    )
    .unwrap();
    let fake = fake().await;
    let state = temp_state("doctor-iam");
    let (code, out) = doctor(&fake, &moto, &state.path(), &[], &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("❌ IAM support:ResolveCase: denied"), "{out}");
    assert!(
        out.contains("fix: add \"support:ResolveCase\" to the Allow statement"),
        "{out}"
    );
    assert!(
        out.contains("❌ IAM support:AddCommunicationToCase: denied"),
        "{out}"
    );
    assert!(
        out.contains("✅ IAM support:CreateCase: allowed (dryRun)"),
        "{out}"
    );
    // The Support API check is denied too, and the other actions are still checked.
    assert!(
        out.contains("❌ Support API: DescribeSeverityLevels failed"),
        "{out}"
    );
    assert!(
        out.contains("❌ IAM support:DescribeSeverityLevels: denied"),
        "{out}"
    );
    assert!(out.contains("4 of"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_app_secret_and_an_unwritable_state_file_fail_with_their_fixes() {
    let moto = MotoServer::start();
    let fake = fake().await;
    // A state file under a file (not a directory) cannot be created.
    let dir = temp_state("doctor-bad");
    let blocker = dir.path();
    std::fs::write(&blocker, b"a file, not a directory").unwrap();
    let (code, out) = doctor(
        &fake,
        &moto,
        &blocker.join("state.db"),
        &["--mode", "stream"],
        &[("DINGTALK_APP_SECRET", "not-the-secret")],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("❌ DingTalk app: no access token for app dingdoctor"),
        "{out}"
    );
    assert!(
        !out.contains("not-the-secret"),
        "the secret is never printed: {out}"
    );
    assert!(out.contains("❌ Stream: no connection ticket"), "{out}");
    assert!(
        out.contains("❌ state:") && out.contains("fix: point --state at a writable file"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_file_in_use_by_a_running_bot_is_checked_without_disturbing_it() {
    let moto = MotoServer::start();
    let fake = fake().await;
    let state = temp_state("doctor-live");
    let bot = start_bot(&fake, Some(&moto), &state, &[], &[]);
    let before = say(&fake, &bot, "帮助").await;
    let (code, out) = doctor(&fake, &moto, &state.path(), &[], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "is writable, schema version {0} (this build writes {0})",
            case_bot_core::SqliteStore::SCHEMA_VERSION
        )),
        "{out}"
    );
    assert_eq!(
        say(&fake, &bot, "帮助").await,
        before,
        "the bot still answers"
    );
    bot.stop_gracefully();
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_exits_zero_for_a_live_bot_and_non_zero_without_one() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("healthcheck");
    let bot = start_bot(&fake, None, &state, &[], &[]);
    let ask = |url: String| {
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_case-bot"))
                .args(["healthcheck", "--url", &url])
                .output()
                .unwrap()
        })
    };
    let live = ask(format!("{}/healthz", bot.base)).await.unwrap();
    assert!(live.status.success(), "{live:?}");
    let base = bot.base.clone();
    bot.stop_gracefully();
    let gone = ask(format!("{base}/healthz")).await.unwrap();
    assert_eq!(gone.status.code(), Some(1), "Docker reserves 2");
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("cannot reach the bot"),
        "{gone:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_that_cannot_be_read_is_a_failed_check_among_the_others() {
    let moto = MotoServer::start();
    let fake = fake().await;
    let state = temp_state("doctor-secret");
    let (code, out) = doctor(
        &fake,
        &moto,
        &state.path(),
        &[
            "--secrets",
            "aws",
            "--secret-id",
            "no-such-secret",
            "--mode",
            "stream",
        ],
        &[],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("❌ secret: cannot be read: could not read the secret no-such-secret"),
        "{out}"
    );
    assert!(
        out.contains("fix: create the secret with the keys app_secret"),
        "{out}"
    );
    // The other checks still ran.
    assert!(
        out.contains("✅ Support API:") && out.contains("✅ state:"),
        "{out}"
    );
}
