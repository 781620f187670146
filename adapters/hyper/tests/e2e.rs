//! `case-bot serve` as a process, over real sockets: every command, bad input, duplicates,
//! faults and restarts. DingTalk is the fake, AWS is moto with casebot's Support extension
//! (Support and Secrets Manager through the real SDK clients). The transport itself is in
//! `transport.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use case_bot_core::{AuditStore as _, CaseLinkStore as _};
use casebot_testkit::MotoServer;
use common::*;
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};

const LEGACY_CASE: &str = "case-111122223333-muen-2022-7118885805350839";

#[tokio::test]
async fn legacy_corpus_and_every_new_command_work_end_to_end_on_moto() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("corpus");
    let bot = start_bot(&fake, Some(&moto), &state, &["--admins", "manager-1"], &[]);

    // L1-L3: lookups (the old bot's substring match missed EC2; the space broke L2).
    for text in ["查找ServiceCode:ec2", "查找ServiceCode: ec2"] {
        let reply = say(&fake, &bot, text).await;
        assert!(
            reply.starts_with("AWS-[serviceCode和categoryCode信息如下]"),
            "{reply}"
        );
        assert!(
            reply.contains("serviceCode: amazon-elastic-compute-cloud-linux"),
            "{reply}"
        );
    }
    let reply = say(&fake, &bot, "查找servicecode:Elastic Load Balancing").await;
    assert!(
        reply.contains("serviceCode: elastic-load-balancing"),
        "{reply}"
    );

    // L4: create, with attribution in the body AWS sees.
    let l4 = "提工单\nsubject:EC2 实例无法连接\nbody:i-0abc 从 10:00 起 SSH 超时\nseverityCode:high\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:instance-issue";
    let reply = say(&fake, &bot, l4).await;
    assert!(
        reply.starts_with("AWS-[创建工单成功]\ncase id: case-"),
        "{reply}"
    );
    let case_id = case_id_in(&reply);
    let cases = moto_cases(&moto).await;
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case.case_id(), Some(case_id.as_str()));
    assert_eq!(case.subject(), Some("EC2 实例无法连接"));
    assert_eq!(case.severity_code(), Some("high"));
    assert_eq!(
        case.service_code(),
        Some("amazon-elastic-compute-cloud-linux")
    );
    assert_eq!(case.category_code(), Some("instance-issue"));
    assert_eq!(case.language(), Some("zh"));
    let body = case.recent_communications().unwrap().communications()[0]
        .body()
        .unwrap()
        .to_owned();
    let (text, token) = body.split_once(" (casebot ref ").unwrap();
    assert_eq!(
        text,
        "i-0abc 从 10:00 起 SSH 超时\n\n— 张三 通过钉钉群「运维值班」提交"
    );
    assert!(token.ends_with(')') && token.len() == 11, "{body}");

    // New commands.
    let reply = say(&fake, &bot, &format!("查看 {case_id}")).await;
    assert!(
        reply.contains("EC2 实例无法连接") && reply.contains("opened") && reply.contains("AWS"),
        "{reply}"
    );
    let display = case.display_id().unwrap();
    let reply = say(&fake, &bot, &format!("查看 {display}")).await;
    assert!(reply.contains(&case_id), "view by display id: {reply}");
    let reply = say(&fake, &bot, "工单列表").await;
    assert!(reply.contains(&case_id), "{reply}");
    let reply = say(
        &fake,
        &bot,
        &format!("回复 {case_id}\n已重启实例，问题依旧。"),
    )
    .await;
    assert!(reply.starts_with("AWS-[回复成功]"), "{reply}");
    let reply = say(&fake, &bot, "严重级别").await;
    assert!(reply.contains("critical"), "{reply}");
    let reply = say(&fake, &bot, "帮助").await;
    assert!(
        reply.starts_with("AWS-[") && reply.contains("释放case,case_id:"),
        "{reply}"
    );
    // L7: anything else gets the help.
    let reply = say(&fake, &bot, "你好").await;
    assert!(reply.contains("查找ServiceCode:"), "{reply}");

    // L5: the opener may resolve; L6 on an unknown case says it does not exist.
    let reply = say(&fake, &bot, &format!("释放case,case_id:{case_id}")).await;
    assert_eq!(
        reply,
        format!("AWS-[释放case成功]\ncase_id:{case_id}已释放")
    );
    assert_eq!(moto_cases(&moto).await[0].status(), Some("resolved"));
    let reply = say(&fake, &bot, &format!("释放工单:{LEGACY_CASE}")).await;
    assert!(reply.starts_with("AWS-[释放case失败]"), "{reply}");

    // Replying to the resolved case reopens it, and the reply says so.
    let reply = say(&fake, &bot, &format!("reply {case_id}\nstill broken")).await;
    assert!(reply.contains("重新打开"), "{reply}");
    assert_eq!(moto_cases(&moto).await[0].status(), Some("reopened"));
}

#[tokio::test]
async fn bad_input_gets_documented_status_codes_and_creates_nothing() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("bad");
    let bot = start_bot(&fake, Some(&moto), &state, &[], &[]);
    let secret = AppSecret::new(APP_SECRET);
    let create = "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance";

    let mut unsigned = fake.callback(create).build(&bot.url, &secret);
    unsigned.headers_mut().remove("sign");
    unsigned.headers_mut().remove("timestamp");
    let (status, body) = post(unsigned).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("timestamp"),
        "the reason names the header: {body}"
    );

    let wrong = fake
        .callback(create)
        .build(&bot.url, &AppSecret::new("wrong"));
    assert_eq!(post(wrong).await.0, 401);

    let old = fake
        .callback(create)
        .created_at(fake.now_ms() - 61 * 60 * 1000)
        .build(&bot.url, &secret);
    let (status, body) = post(old).await;
    assert_eq!(status, 401);
    assert!(body.contains("too old"), "{body}");

    let mut malformed = fake.callback(create).build(&bot.url, &secret);
    *malformed.body_mut() = b"{not json".to_vec();
    assert_eq!(post(malformed).await.0, 400);

    let mut huge = fake.callback(create).build(&bot.url, &secret);
    *huge.body_mut() = vec![b' '; 1 << 20];
    assert_eq!(post(huge).await.0, 413);

    // Unknown msgtype and empty text: 200, and a reply that says what to do.
    let mut picture = fake.callback("").build(&bot.url, &secret);
    let mut json: serde_json::Value = serde_json::from_slice(picture.body()).unwrap();
    json["msgtype"] = "sticker".into();
    json.as_object_mut().unwrap().remove("text");
    *picture.body_mut() = json.to_string().into_bytes();
    let (status, _) = post(picture).await;
    assert_eq!(status, 200);
    let got = fake.wait_for_messages(1, Duration::from_secs(10)).await;
    assert!(got[0].text().contains("暂不支持"), "{}", got[0].text());
    let (status, _) = post(fake.callback("   ").build(&bot.url, &secret)).await;
    assert_eq!(status, 200);
    let got = fake.wait_for_messages(2, Duration::from_secs(10)).await;
    assert!(
        got[1].text().contains("查找ServiceCode:"),
        "empty text gets the help"
    );

    // Wrong method and route.
    let client = reqwest::Client::new();
    assert_eq!(
        client.get(&bot.url).send().await.unwrap().status().as_u16(),
        405
    );
    assert_eq!(
        client
            .get(format!("{}/nope", bot.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    assert!(
        moto_cases(&moto).await.is_empty(),
        "no case created by bad input"
    );
    assert_eq!(
        client
            .get(format!("{}/healthz", bot.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn the_same_callback_delivered_twenty_times_concurrently_creates_one_case_and_one_reply() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("dup");
    let bot = start_bot(&fake, Some(&moto), &state, &[], &[]);
    let create = "提工单\nsubject:dup\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance";
    let request = fake
        .callback(create)
        .msg_id("msg-duplicate-1")
        .build(&bot.url, &AppSecret::new(APP_SECRET));
    let (parts, body) = request.into_parts();
    let client = reqwest::Client::new();
    let mut handles = Vec::new();
    for _ in 0..20 {
        let request = client
            .post(parts.uri.to_string())
            .headers(parts.headers.clone())
            .body(body.clone());
        handles.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    for handle in handles {
        assert_eq!(handle.await.unwrap(), 200);
    }
    fake.wait_for_messages(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(moto_cases(&moto).await.len(), 1, "exactly one case");
    assert_eq!(fake.messages().len(), 1, "exactly one reply");
}

#[tokio::test]
async fn aws_outage_gets_a_clear_reply_and_the_server_keeps_serving() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("outage");
    let bot = start_bot(
        &fake,
        Some(&moto),
        &state,
        &[],
        &[("AWS_MAX_ATTEMPTS", "1")],
    );
    assert!(say(&fake, &bot, "工单列表").await.contains("AWS"));
    drop(moto); // AWS goes away mid-run.
    let reply = say(&fake, &bot, "工单列表").await;
    assert!(
        reply.contains("无法连接 AWS Support") || reply.contains("没有及时响应"),
        "{reply}"
    );
    let health = reqwest::get(format!("{}/healthz", bot.base)).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(
        say(&fake, &bot, "帮助").await.contains("AWS"),
        "still serving"
    );
}

#[tokio::test]
async fn dingtalk_throttling_and_outage_delay_the_reply_but_do_not_lose_it() {
    // The custom robot webhook is one channel for every reply, so DingTalk's limit applies.
    let fake = FakeDingTalk::builder()
        .rate_limit(1, Duration::from_secs(1))
        .block_for(Duration::from_millis(300))
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let state = temp_state("throttle");
    let bot = start_bot(&fake, None, &state, &["--reply", "webhook"], &[]);
    say(&fake, &bot, "帮助").await;
    // The second reply hits 130101; the bot waits (200 ms here) and retries until the block ends.
    let reply = say(&fake, &bot, "严重级别").await;
    assert!(reply.contains("critical"), "{reply}");
    assert!(fake.rejections().iter().any(|r| r.errcode == 130_101));
    // DingTalk answering 500 twice: retried and delivered.
    fake.advance(Duration::from_secs(120));
    fake.fail_next(2);
    let reply = say(&fake, &bot, "工单列表").await;
    assert!(reply.contains("AWS"), "{reply}");
    let (status, ready) = bot.readyz().await;
    assert_eq!((status, &ready["undelivered"]), (200, &0.into()), "{ready}");
}

#[tokio::test]
async fn sigterm_stops_at_once_and_the_reply_still_being_retried_goes_out_after_the_restart() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("drain");
    let slow_retry = [("CASE_BOT_DINGTALK_BACKOFF_MS", "3000")];
    let bot = start_bot(&fake, None, &state, &[], &slow_retry);
    let base = bot.base.clone();
    // DingTalk answers 500: the reply waits 3 s for its next attempt.
    fake.fail_next(1);
    let (status, _) = post(
        fake.callback("帮助")
            .build(&bot.url, &AppSecret::new(APP_SECRET)),
    )
    .await;
    assert_eq!(status, 200);
    // The first attempt is at once; after it the reply waits in the outbox.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bot.readyz().await.1["backlog"], 1);
    assert!(
        fake.messages().is_empty(),
        "the reply is waiting for its retry"
    );

    // The test's runtime also runs the fake DingTalk, so wait for the exit off it.
    let started = std::time::Instant::now();
    let stopped = tokio::task::spawn_blocking(move || bot.stop_gracefully());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = tokio::time::timeout(
        Duration::from_millis(500),
        reqwest::get(format!("{base}/healthz")),
    )
    .await
    .expect("a new connection is refused at once, not left waiting");
    assert!(
        refused.is_err_and(|err| err.is_connect()),
        "no new connection is accepted while shutting down"
    );
    stopped.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stops at once: {:?}",
        started.elapsed()
    );
    assert!(fake.messages().is_empty());

    // The next start resumes the outbox: the reply goes out, once.
    let bot = start_bot(&fake, None, &state, &[], &slow_retry);
    let got = fake.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert!(
        got[0].text().contains("查找ServiceCode:"),
        "{}",
        got[0].text()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.messages().len(), 1, "exactly once");
    assert_eq!(bot.readyz().await.1["backlog"], 0);
}

#[tokio::test]
async fn an_undeliverable_reply_is_counted_in_readyz_logged_and_audited() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("undeliverable");
    let bot = start_bot(&fake, None, &state, &[], &[]);
    // An expired sessionWebhook and no way around it: the failure must show.
    let request = fake
        .callback("帮助")
        .session_ttl(Duration::ZERO)
        .build(&bot.url, &AppSecret::new(APP_SECRET));
    let mut json: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
    json["sessionWebhookExpiredTime"] = 1.into();
    let (parts, _) = request.into_parts();
    let status = reqwest::Client::new()
        .post(parts.uri.to_string())
        .headers(parts.headers)
        .body(json.to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    let mut undelivered = serde_json::Value::Null;
    for _ in 0..50 {
        undelivered = bot.readyz().await.1["undelivered"].clone();
        if undelivered != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(undelivered, 1);
    bot.stop_gracefully();
    let store = case_bot_core::SqliteStore::open(state.path()).unwrap();
    let audit = store.recent_audit(10).await.unwrap();
    let outcomes: Vec<(&str, &str)> = audit.iter().map(|r| (&*r.command, &*r.outcome)).collect();
    assert_eq!(outcomes, [("help", "undelivered"), ("help", "help")]);
}

#[tokio::test]
async fn sandbox_cases_survive_a_clean_restart_and_a_kill() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("sandbox-restart");
    let bot = start_bot(&fake, None, &state, &[], &[]);
    let created = say(&fake, &bot, "提工单\nsubject:沙盒重启\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance").await;
    let first = case_id_in(&created);
    bot.stop_gracefully();

    let bot = start_bot(&fake, None, &state, &[], &[]);
    let list = say(&fake, &bot, "工单列表").await;
    assert!(list.contains(&first) && list.contains("沙盒重启"), "{list}");
    let view = say(&fake, &bot, &format!("查看 {first}")).await;
    assert!(
        view.contains("沙盒重启") && !view.contains("另一个 AWS 账户"),
        "{view}"
    );
    let replied = say(&fake, &bot, &format!("回复 {first}\n还在吗")).await;
    assert!(replied.starts_with("AWS-[回复成功]"), "{replied}");
    let created = say(&fake, &bot, "提工单\nsubject:第二个\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance").await;
    let second = case_id_in(&created);
    assert_ne!(first, second, "a restarted sandbox hands out new ids");
    // Killed, not stopped: what was answered is in the file all the same.
    bot.kill();

    let bot = start_bot(&fake, None, &state, &[], &[]);
    let view = say(&fake, &bot, &format!("查看 {first}")).await;
    assert!(view.contains("还在吗"), "the reply before the kill: {view}");
    let list = say(&fake, &bot, "工单列表").await;
    assert!(list.contains(&first) && list.contains(&second), "{list}");
    bot.stop_gracefully();
}

#[tokio::test]
async fn restart_keeps_case_mapping_and_audit_trail() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("restart");
    let bot = start_bot(&fake, Some(&moto), &state, &[], &[]);
    let reply = say(&fake, &bot, "提工单\nsubject:restart\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance").await;
    let case_id = case_id_in(&reply);
    bot.stop_gracefully();

    // After a restart the opener may still resolve: the mapping survived.
    let bot = start_bot(&fake, Some(&moto), &state, &[], &[]);
    let reply = say(&fake, &bot, &format!("释放 {case_id}")).await;
    assert!(reply.starts_with("AWS-[释放case成功]"), "{reply}");
    bot.stop_gracefully();
    // A clean stop closes the file: its WAL is checkpointed, so a copy of the file is whole.
    let wal = state.path().with_extension("db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL left behind"
    );
    let store = case_bot_core::SqliteStore::open(state.path()).unwrap();
    let audit = store.recent_audit(10).await.unwrap();
    let commands: Vec<(&str, Option<&str>, &str)> = audit
        .iter()
        .map(|r| (&*r.command, r.case_id.as_deref(), &*r.outcome))
        .collect();
    assert_eq!(
        commands,
        [
            ("resolve", Some(case_id.as_str()), "ok"),
            ("create", Some(case_id.as_str()), "ok")
        ]
    );
    assert_eq!(
        store
            .case(&case_id)
            .await
            .unwrap()
            .unwrap()
            .opener_staff_id
            .as_deref(),
        Some("staff-1")
    );
}

#[tokio::test]
async fn someone_else_may_not_resolve_a_case_unless_admin() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("perm");
    let bot = start_bot(&fake, Some(&moto), &state, &["--admins", "boss-1"], &[]);
    let reply = say(&fake, &bot, "提工单\nsubject:perm\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance").await;
    let case_id = case_id_in(&reply);
    let resolve = format!("释放 {case_id}");
    let refused = say_as(&fake, &bot, ("李四", "staff-2"), &resolve).await;
    assert!(refused.starts_with("AWS-[无权限]"), "{refused}");
    assert_eq!(moto_cases(&moto).await[0].status(), Some("opened"));
    let resolved = say_as(&fake, &bot, ("王总", "boss-1"), &resolve).await;
    assert!(resolved.starts_with("AWS-[释放case成功]"), "{resolved}");
}

#[tokio::test]
async fn conversations_outside_the_allow_list_are_refused_with_a_reason() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("allow");
    let bot = start_bot(
        &fake,
        None,
        &state,
        &["--allowed-conversations", "cidAllowed"],
        &[],
    );
    let reply = say(&fake, &bot, "工单列表").await;
    assert!(
        reply.starts_with("AWS-[无权限]") && reply.contains("允许列表"),
        "{reply}"
    );
}

#[tokio::test]
async fn webhook_reply_mode_posts_through_the_signed_custom_robot() {
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN).secret("SECe2e").keyword("AWS"))
        .start()
        .await
        .unwrap();
    let state = temp_state("webhook");
    let bot = start_bot(
        &fake,
        None,
        &state,
        &["--reply", "webhook"],
        &[("DINGTALK_WEBHOOK_SECRET", "SECe2e")],
    );
    let reply = say(&fake, &bot, "严重级别").await;
    assert!(reply.contains("critical"));
    assert_eq!(
        fake.messages()[0].channel,
        dingtalk_robot::testing::Channel::Robot(TOKEN.into())
    );
}

#[tokio::test]
async fn response_reply_mode_answers_in_the_http_body() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("response");
    let bot = start_bot(&fake, None, &state, &["--reply", "response"], &[]);
    let (status, body) = post(
        fake.callback("查找 ec2")
            .build(&bot.url, &AppSecret::new(APP_SECRET)),
    )
    .await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["msgtype"], "text");
    assert!(
        json["text"]["content"]
            .as_str()
            .unwrap()
            .contains("amazon-elastic-compute-cloud-linux")
    );
}

#[tokio::test]
async fn secrets_come_from_secrets_manager_and_rotation_is_picked_up() {
    let moto = Arc::new(MotoServer::start());
    let secrets = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    secrets
        .create_secret()
        .name("dingding-outgoing-robot-env")
        .secret_string(r#"{"app_secret":"first-secret","access_token":"tok"}"#)
        .send()
        .await
        .unwrap();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("sm");
    let bot = start_bot(
        &fake,
        Some(&moto),
        &state,
        &["--secrets", "aws"],
        &[("DINGTALK_APP_SECRET", "")],
    );
    let (status, _) = post(
        fake.callback("帮助")
            .build(&bot.url, &AppSecret::new("first-secret")),
    )
    .await;
    assert_eq!(status, 200);
    secrets
        .put_secret_value()
        .secret_id("dingding-outgoing-robot-env")
        .secret_string(r#"{"app_secret":"rotated-secret","access_token":"tok"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = post(
        fake.callback("帮助")
            .build(&bot.url, &AppSecret::new("rotated-secret")),
    )
    .await;
    assert_eq!(
        status, 200,
        "re-read after a mismatch picks up the rotated secret: {body}"
    );
}

#[test]
fn aws_mode_refuses_to_start_without_a_real_secret() {
    let state = temp_state("nosecret");
    let output = Command::new(env!("CARGO_BIN_EXE_case-bot"))
        .args([
            "serve",
            "--support",
            "aws",
            "--listen",
            "127.0.0.1:0",
            "--state",
        ])
        .arg(state.path())
        .env_remove("DINGTALK_APP_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DINGTALK_APP_SECRET"), "{stderr}");
}

#[tokio::test]
async fn say_talks_to_a_running_bot_and_prints_the_reply() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("say");
    let bot = start_bot(&fake, None, &state, &[], &[]);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_case-bot"))
        .args(["say", "查找ServiceCode: ec2", "--url", &bot.url])
        .env("DINGTALK_APP_SECRET", APP_SECRET)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("serviceCode: amazon-elastic-compute-cloud-linux"),
        "{stdout}"
    );
}
