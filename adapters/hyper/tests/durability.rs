//! Nothing accepted is lost or done twice: `case-bot serve` killed at each point of a command
//! (`--test-crash-at`), killed at random in a burst, killed while DingTalk throttles it, with
//! its state file locked, with AWS slow, and two servers sharing one DynamoDB table. AWS is
//! moto with casebot's Support extension; DingTalk is the fake.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use case_bot_core::AuditStore as _;
use casebot_testkit::MotoServer;
use common::*;
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};

fn create(subject: &str) -> String {
    format!(
        "提工单\nsubject:{subject}\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance"
    )
}

/// A signed create from the ops group with `msg_id`.
fn create_request(
    fake: &FakeDingTalk,
    bot: &Bot,
    subject: &str,
    msg_id: &str,
) -> http::Request<Vec<u8>> {
    fake.callback(create(subject))
        .sender("张三", "staff-1")
        .group("cidOps", "运维值班")
        .msg_id(msg_id)
        .build(&bot.url, &AppSecret::new(APP_SECRET))
}

/// Posts `request`; a crash may cut the answer off, so no answer is `None`.
async fn post_maybe(request: http::Request<Vec<u8>>) -> Option<u16> {
    let (parts, body) = request.into_parts();
    let response = reqwest::Client::new()
        .post(parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

async fn cases_with_subject(moto: &MotoServer, subject: &str) -> Vec<String> {
    moto_cases(moto)
        .await
        .iter()
        .filter(|c| c.subject() == Some(subject))
        .filter_map(|c| c.case_id().map(str::to_owned))
        .collect()
}

/// The audit rows of `msg_id`'s claim, as (command, outcome).
async fn audit_of(state: &State, msg_id: &str) -> Vec<(String, String)> {
    let store = case_bot_core::SqliteStore::open(state.path()).unwrap();
    let key = format!("msg:{msg_id}");
    store
        .recent_audit(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.claim_key.as_deref() == Some(key.as_str()))
        .map(|r| (r.command.into_owned(), r.outcome.into_owned()))
        .collect()
}

#[tokio::test]
async fn a_crash_at_each_point_ends_with_one_case_one_reply_and_one_audit_row() {
    let moto = MotoServer::start();
    for point in ["after-claim", "after-aws", "after-outbox"] {
        let fake = FakeDingTalk::start().await.unwrap();
        let state = temp_state(&format!("crash-{point}"));
        let subject = format!("crash {point}");
        let msg_id = format!("msg-{point}");
        let crashing = start_bot(
            &fake,
            Some(&moto),
            &state,
            &[],
            &[("CASE_BOT_TEST_CRASH_AT", point)],
        );
        post_maybe(create_request(&fake, &crashing, &subject, &msg_id)).await;
        let status = crashing.wait_for_exit(Duration::from_secs(20));
        assert!(!status.success(), "{point}: the bot died: {status}");

        // Restarted on the same state file, then DingTalk redelivers.
        let bot = start_bot(&fake, Some(&moto), &state, &[], &[]);
        let got = fake.wait_for_messages(1, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 1, "{point}: the reply after the restart");
        let redelivered = post_maybe(create_request(&fake, &bot, &subject, &msg_id)).await;
        assert_eq!(redelivered, Some(200), "{point}");
        tokio::time::sleep(Duration::from_millis(700)).await;
        bot.stop_gracefully();

        let cases = cases_with_subject(&moto, &subject).await;
        assert_eq!(cases.len(), 1, "{point}: exactly one case");
        let replies = fake.texts();
        assert_eq!(replies.len(), 1, "{point}: exactly one reply: {replies:?}");
        assert!(
            replies[0].contains(&cases[0]),
            "{point}: the reply names the case: {replies:?}"
        );
        assert_eq!(
            audit_of(&state, &msg_id).await,
            [("create".to_owned(), "ok".to_owned())],
            "{point}: exactly one audit row"
        );
    }
}

#[tokio::test]
async fn a_random_sigkill_in_a_burst_of_creates_does_nothing_twice_and_answers_each_once() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("burst-kill");
    // One group: paced faster than DingTalk's 20 a minute, so the test takes seconds.
    let fast = ["--messages-per-minute", "6000"];
    let bot = start_bot(&fake, Some(&moto), &state, &fast, &[]);
    let burst = 40;
    let mut sends = Vec::new();
    for i in 0..burst {
        let request = create_request(
            &fake,
            &bot,
            &format!("burst {i}"),
            &format!("msg-burst-{i}"),
        );
        sends.push(tokio::spawn(post_maybe(request)));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Somewhere in the burst (the clock's nanoseconds pick where).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    tokio::time::sleep(Duration::from_millis(u64::from(nanos % 300))).await;
    bot.kill();
    for send in sends {
        send.await.unwrap();
    }

    let bot = start_bot(&fake, Some(&moto), &state, &fast, &[]);
    // DingTalk redelivers every message.
    for i in 0..burst {
        let request = create_request(
            &fake,
            &bot,
            &format!("burst {i}"),
            &format!("msg-burst-{i}"),
        );
        assert_eq!(post_maybe(request).await, Some(200));
    }
    fake.wait_for_messages(burst, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    bot.stop_gracefully();
    // A reply DingTalk took just before the kill, whose success the bot never recorded, is
    // sent again after the restart: delivery is at-least-once, and only what was in flight at
    // the kill (at most one round of the courier) can come twice, identically.
    let texts = fake.texts();
    let mut distinct = texts.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        texts.len() >= burst,
        "every message answered: {} of {burst}",
        texts.len()
    );
    assert!(
        texts.len() - distinct.len() <= 16,
        "only replies in flight at the kill repeat: {texts:?}"
    );
    for i in 0..burst {
        let cases = cases_with_subject(&moto, &format!("burst {i}")).await;
        assert!(cases.len() <= 1, "burst {i}: {cases:?}");
        let rows = audit_of(&state, &format!("msg-burst-{i}")).await;
        assert_eq!(rows.len(), 1, "burst {i}: {rows:?}");
        // A case made is reported with its id; one whose create was cut off before AWS had
        // it is reported unconfirmed (and not sent blind again).
        let answered = match cases.first() {
            Some(case_id) => texts.iter().any(|t| t.contains(case_id.as_str())),
            None => rows[0].1 == "unconfirmed",
        };
        assert!(answered, "burst {i}: {rows:?} {cases:?}");
    }
}

#[tokio::test]
async fn a_reply_refused_with_130101_then_sigkill_arrives_exactly_once_after_the_restart() {
    // The custom robot is one channel for every reply, so DingTalk's limit applies.
    let fake = FakeDingTalk::builder()
        .rate_limit(1, Duration::from_secs(60))
        .block_for(Duration::from_secs(600))
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let state = temp_state("throttle-kill");
    let env = [("CASE_BOT_DINGTALK_RETRY_WAIT_MS", "1000")];
    let webhook = ["--reply", "webhook"];
    let bot = start_bot(&fake, None, &state, &webhook, &env);
    say(&fake, &bot, "帮助").await;
    // The second reply is refused with 130101: the robot pauses, the reply waits.
    let (status, _) = post(
        fake.callback("严重级别")
            .group("cidOps", "运维值班")
            .build(&bot.url, &AppSecret::new(APP_SECRET)),
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..100 {
        if fake.rejections().iter().any(|r| r.errcode == 130_101) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fake.rejections().iter().any(|r| r.errcode == 130_101));
    bot.kill();

    // DingTalk's block ends; the restarted bot sends the reply from its outbox, once.
    fake.advance(Duration::from_secs(700));
    let bot = start_bot(&fake, None, &state, &webhook, &env);
    let got = fake.wait_for_messages(2, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 2);
    assert!(got[1].text().contains("critical"), "{}", got[1].text());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.messages().len(), 2, "exactly once");
    assert_eq!(bot.readyz().await.1["backlog"], 0);
}

#[tokio::test]
async fn a_locked_state_file_means_503_nothing_acted_on_then_recovery_by_itself() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("locked");
    let bot = start_bot(&fake, Some(&moto), &state, &[], &[]);
    assert_eq!(bot.readyz().await.0, 200);
    // Another process holds SQLite's write lock (as a full disk, every write fails).
    let holder = rusqlite::Connection::open(state.path()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let status = post_maybe(create_request(&fake, &bot, "locked", "msg-locked")).await;
    assert_eq!(
        status,
        Some(503),
        "not acted on: DingTalk should send it again"
    );
    let (ready, body) = bot.readyz().await;
    assert_eq!((ready, &body["store"]), (503, &"failing".into()), "{body}");
    assert_eq!(bot.health_status().await, 200, "liveness is not readiness");
    // Best effort: the group is asked to send it again.
    let asked = fake.wait_for_messages(1, Duration::from_secs(10)).await;
    assert!(
        asked.first().is_some_and(|m| m.text().contains("重新发送")),
        "{asked:?}"
    );
    assert!(
        cases_with_subject(&moto, "locked").await.is_empty(),
        "nothing acted on"
    );

    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    let mut ready = 0;
    for _ in 0..50 {
        ready = bot.readyz().await.0;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, 200, "ready again by itself");
    // The redelivery (or the user's new send) is acted on, once.
    assert_eq!(
        post_maybe(create_request(&fake, &bot, "locked", "msg-locked")).await,
        Some(200)
    );
    assert_eq!(
        post_maybe(create_request(&fake, &bot, "locked", "msg-locked")).await,
        Some(200)
    );
    fake.wait_for_messages(2, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cases_with_subject(&moto, "locked").await.len(), 1);
    assert_eq!(fake.messages().len(), 2, "the plea and one reply");
}

#[tokio::test]
async fn a_slow_create_sent_twice_makes_one_case_and_no_reply_says_failed() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("slow-aws");
    let bot = start_bot(
        &fake,
        Some(&moto),
        &state,
        &["--command-deadline-ms", "3000"],
        &[],
    );
    moto.delay_create_case(12.0).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        post_maybe(create_request(&fake, &bot, "slow", "msg-slow-1")).await,
        Some(200)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The user sends it again: a new message, the same case.
    assert_eq!(
        post_maybe(create_request(&fake, &bot, "slow", "msg-slow-2")).await,
        Some(200)
    );
    let got = fake.wait_for_messages(3, Duration::from_secs(30)).await;
    let texts: Vec<&str> = got.iter().map(|m| m.text()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(
        texts.iter().all(|t| !t.contains("失败")),
        "nothing says failed: {texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("仍在创建中")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("AWS 响应较慢")),
        "{texts:?}"
    );
    let cases = cases_with_subject(&moto, "slow").await;
    assert_eq!(cases.len(), 1, "one case");
    let created = texts.iter().find(|t| t.contains("创建工单成功")).unwrap();
    assert!(created.contains(&cases[0]), "the id arrives: {created}");
    assert!(started.elapsed() >= Duration::from_secs(12));
    moto.delay_create_case(0.0).unwrap();
}

#[tokio::test]
async fn two_servers_on_one_dynamodb_table_make_one_case_and_one_reply() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let table = "casebot-shared-servers";
    case_bot_core::DynamoStore::new(&moto.sdk_config().await, table)
        .create_table()
        .await
        .unwrap();
    let state = format!("dynamodb:{table}");
    let a = start_bot_on(&fake, &moto, &state);
    let b = start_bot_on(&fake, &moto, &state);
    let request = create_request(&fake, &a, "shared", "msg-shared");
    let (parts, body) = request.into_parts();
    let mut sends = Vec::new();
    for bot in [&a, &b, &a, &b] {
        let mut request = http::Request::new(body.clone());
        *request.headers_mut() = parts.headers.clone();
        *request.uri_mut() = bot.url.parse().unwrap();
        sends.push(tokio::spawn(post_maybe(request)));
    }
    for send in sends {
        assert_eq!(send.await.unwrap(), Some(200));
    }
    fake.wait_for_messages(1, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        cases_with_subject(&moto, "shared").await.len(),
        1,
        "one case"
    );
    assert_eq!(fake.messages().len(), 1, "one reply");
}

#[tokio::test]
async fn after_a_clean_stop_the_state_file_alone_is_whole() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("copy-after-stop");
    let bot = start_bot(&fake, None, &state, &[], &[]);
    say(&fake, &bot, "帮助").await;
    say(&fake, &bot, "严重级别").await;
    bot.stop_gracefully();
    // Copy the database file alone, as an operator's `cp` would, without any -wal or -shm.
    let copy = casebot_testkit::TempDir::new("copy-after-stop-target");
    let copied = copy.path().join("copied.db");
    std::fs::copy(state.path(), &copied).unwrap();
    let conn = rusqlite::Connection::open(&copied).unwrap();
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2, "both commands' audit rows are in the file itself");
}
