//! `case-bot serve` as a process, over real sockets: DingTalk is the fake, AWS is moto with
//! casebot's Support extension (Support and Secrets Manager through the real SDK clients).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use case_bot_core::Store as _;
use casebot_testkit::{MotoServer, TempDir};
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};

const APP_SECRET: &str = "e2e-app-secret";
const TOKEN: &str = "e2e-access-token";
const LEGACY_CASE: &str = "case-111122223333-muen-2022-7118885805350839";

struct Bot {
    child: Child,
    url: String,
    base: String,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bot {
    fn stop_gracefully(mut self) {
        self.stop();
    }

    /// SIGTERM, then what the bot wrote to stderr (which must have been piped).
    fn stop_and_read_stderr(mut self) -> String {
        use std::io::Read as _;
        let mut stderr = self.child.stderr.take().unwrap();
        let reading = std::thread::spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).unwrap();
            text
        });
        self.stop();
        reading.join().unwrap()
    }

    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    }
}

/// A state file in a directory of its own, removed when the test ends.
struct State(TempDir);

impl State {
    fn path(&self) -> PathBuf {
        self.0.path().join("state.db")
    }
}

fn temp_state(name: &str) -> State {
    State(TempDir::new(&format!("e2e-{name}")))
}

fn start_bot(
    fake: &FakeDingTalk,
    moto: Option<&MotoServer>,
    state: &State,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Bot {
    let mut command = Command::new(env!("CARGO_BIN_EXE_case-bot"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(state.path())
        .args([
            "--dingtalk-api-base",
            &fake.base_url(),
            "--dingtalk-retry-wait-ms",
            "200",
        ])
        .args(extra)
        .env("DINGTALK_APP_SECRET", APP_SECRET)
        .env("DINGTALK_ACCESS_TOKEN", TOKEN)
        .env_remove("CASE_BOT_SUPPORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(moto) = moto {
        command.args(["--support", "aws"]).envs(moto.env());
    }
    for (k, v) in env {
        command.env(k, v);
    }
    spawn_bot(&mut command)
}

/// Spawns `command` (a `case-bot serve` with stdout piped) and waits until it listens.
fn spawn_bot(command: &mut Command) -> Bot {
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on"), "bot did not start: {line:?}");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let base = url.trim_end_matches("/dingtalk/callback").to_owned();
    Bot { child, url, base }
}

/// The head of `request` as raw HTTP/1.1, with `framing` (e.g. a Content-Length line) added.
fn raw_head(request: &http::Request<Vec<u8>>, framing: &str) -> String {
    let mut head = format!("POST /dingtalk/callback HTTP/1.1\r\nHost: bot\r\n{framing}");
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str("\r\n");
    head
}

async fn post(request: http::Request<Vec<u8>>) -> (u16, String) {
    let (parts, body) = request.into_parts();
    let response = reqwest::Client::new()
        .post(parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn say(fake: &FakeDingTalk, bot: &Bot, text: &str) -> String {
    say_as(fake, bot, ("张三", "staff-1"), text).await
}

/// Sends `text` from `sender` (nickname, staff id) in the ops group; returns the reply.
async fn say_as(fake: &FakeDingTalk, bot: &Bot, sender: (&str, &str), text: &str) -> String {
    let before = fake.messages().len();
    let request = fake
        .callback(text)
        .sender(sender.0, sender.1)
        .group("cidOps", "运维值班")
        .build(&bot.url, &AppSecret::new(APP_SECRET));
    let (status, body) = post(request).await;
    assert_eq!(status, 200, "{body}");
    let got = fake
        .wait_for_messages(before + 1, Duration::from_secs(15))
        .await;
    assert!(got.len() > before, "no reply to {text:?}");
    // Let the remaining parts of a long reply arrive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.messages()[before..]
        .iter()
        .map(|m| m.text().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn support_client(moto: &MotoServer) -> aws_sdk_support::Client {
    aws_sdk_support::Client::new(&moto.sdk_config().await)
}

async fn moto_cases(moto: &MotoServer) -> Vec<aws_sdk_support::types::CaseDetails> {
    support_client(moto)
        .await
        .describe_cases()
        .include_resolved_cases(true)
        .include_communications(true)
        .send()
        .await
        .unwrap()
        .cases()
        .to_vec()
}

fn case_id_in(reply: &str) -> String {
    reply
        .split_whitespace()
        .find(|w| w.starts_with("case-"))
        .unwrap()
        .trim_end_matches("已释放")
        .to_owned()
}

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
    assert_eq!(
        body,
        "i-0abc 从 10:00 起 SSH 超时\n\n— 张三 通过钉钉群「运维值班」提交"
    );

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
    let health: serde_json::Value = reqwest::get(format!("{}/healthz", bot.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["reply_failures"], 0);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_waits_for_a_reply_still_being_retried() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("drain");
    let bot = start_bot(&fake, None, &state, &[], &[]);
    let base = bot.base.clone();
    // DingTalk answers 500 twice: the reply goes out on the third try, about 1.5 s later.
    fake.fail_next(2);
    let (status, _) = post(
        fake.callback("帮助")
            .build(&bot.url, &AppSecret::new(APP_SECRET)),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        fake.messages().is_empty(),
        "the reply is still being retried"
    );

    // The test's runtime also runs the fake DingTalk, so wait for the exit off it.
    let stopped = tokio::task::spawn_blocking(move || bot.stop_gracefully());
    tokio::time::sleep(Duration::from_millis(300)).await;
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
    let got = fake.messages();
    assert_eq!(got.len(), 1, "the reply was delivered before the exit");
    assert!(
        got[0].text().contains("查找ServiceCode:"),
        "{}",
        got[0].text()
    );
}

#[tokio::test]
async fn undeliverable_reply_is_counted_in_healthz() {
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("undeliverable");
    let bot = start_bot(&fake, None, &state, &[], &[]);
    // An expired sessionWebhook and no way around it: the failure must show in /healthz.
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
    let mut failures = serde_json::Value::Null;
    for _ in 0..50 {
        let health: serde_json::Value = reqwest::get(format!("{}/healthz", bot.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        failures = health["reply_failures"].clone();
        if failures != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(failures, 1);
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

/// Host and port of the bot's listener.
fn addr_of(bot: &Bot) -> String {
    bot.base.trim_start_matches("http://").to_owned()
}

/// The raw request `GET /healthz` on a keep-alive connection.
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n";

/// Sends `GET /healthz` on `stream` and asserts that it is answered 200; the connection stays
/// open (keep-alive).
async fn healthz_on(stream: &mut tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream.write_all(HEALTHZ).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

/// Reads until the server closes the connection (or `limit` passes); returns what came and
/// when the connection closed.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: Duration,
) -> (Vec<u8>, std::time::Instant) {
    use tokio::io::AsyncReadExt as _;
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => return (got, std::time::Instant::now()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after {limit:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

#[tokio::test]
async fn connections_that_make_no_progress_are_closed_after_the_read_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("stall");
    let bot = start_bot(&fake, None, &state, &["--read-timeout-ms", "400"], &[]);
    let addr = addr_of(&bot);
    let opened = std::time::Instant::now();

    // Connects and sends nothing.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Drips half a request head, then stops (slowloris).
    let mut dripping = tokio::net::TcpStream::connect(&addr).await.unwrap();
    dripping
        .write_all(b"POST /dingtalk/callback HTTP/1.1\r\nHost: bot\r\n")
        .await
        .unwrap();
    // Sends a whole request, reads the answer, then stays idle on keep-alive.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(HEALTHZ).await.unwrap();

    for (name, stream) in [
        ("silent", &mut silent),
        ("dripping", &mut dripping),
        ("idle", &mut idle),
    ] {
        let (got, closed) = read_until_closed(stream, Duration::from_secs(5)).await;
        let after = closed - opened;
        assert!(
            after >= Duration::from_millis(300),
            "{name}: closed after {after:?}, before the 400 ms timeout"
        );
        if name == "idle" {
            assert!(got.starts_with(b"HTTP/1.1 200"), "{name}: answered first");
        } else {
            assert!(
                got.is_empty(),
                "{name}: nothing sent back: {:?}",
                String::from_utf8_lossy(&got)
            );
        }
    }
    // A keep-alive connection that keeps sending requests stays open across many timeouts.
    let mut busy = tokio::net::TcpStream::connect(&addr).await.unwrap();
    for _ in 0..8 {
        healthz_on(&mut busy).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The server is unharmed.
    let health = reqwest::get(format!("{}/healthz", bot.base)).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408() {
    use tokio::io::AsyncWriteExt as _;
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("slowbody");
    let bot = start_bot(&fake, None, &state, &["--read-timeout-ms", "300"], &[]);
    let mut stream = tokio::net::TcpStream::connect(addr_of(&bot)).await.unwrap();
    stream
        .write_all(b"POST /dingtalk/callback HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"msgtype\":")
        .await
        .unwrap();
    let (got, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("body read timed out"), "{got}");
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("cap");
    let bot = start_bot(&fake, None, &state, &["--max-connections", "1"], &[]);
    let addr = addr_of(&bot);

    let mut first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    healthz_on(&mut first).await;

    let mut second = tokio::net::TcpStream::connect(&addr).await.unwrap();
    second.write_all(HEALTHZ).await.unwrap();
    let mut buf = [0u8; 1024];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), second.read(&mut buf))
            .await
            .is_err(),
        "a second connection is not served while the first holds the only slot"
    );
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf))
        .await
        .expect("served once the first connection closed")
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test]
async fn start_up_warnings_and_json_request_logs_carry_the_span_fields_but_no_message_text() {
    const DEV_SECRET: &str = "casebot-development-secret-not-for-production";
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("logs");
    let bot = spawn_bot(
        Command::new(env!("CARGO_BIN_EXE_case-bot"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--state",
            ])
            .arg(state.path())
            .args(["--dingtalk-api-base", &fake.base_url()])
            .env("CASE_BOT_LOG", "info")
            .env_remove("DINGTALK_APP_SECRET")
            .env_remove("CASE_BOT_SUPPORT")
            .env_remove("CASE_BOT_ALLOWED_CONVERSATIONS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let secret_words = "zzunusualqueryzz";
    let (status, _) = post(
        fake.callback(format!("查找ServiceCode: {secret_words}"))
            .group("cidLogs", "日志群")
            .build(&bot.url, &AppSecret::new(DEV_SECRET)),
    )
    .await;
    assert_eq!(
        status, 200,
        "sandbox without a secret uses the development one"
    );
    fake.wait_for_messages(1, Duration::from_secs(10)).await;
    // The test's runtime also runs the fake DingTalk, so wait for the exit off it.
    let stderr = tokio::task::spawn_blocking(move || bot.stop_and_read_stderr())
        .await
        .unwrap();

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let message = |l: &serde_json::Value| l["fields"]["message"].as_str().unwrap_or("").to_owned();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && message(l).contains("DEVELOPMENT app secret")),
        "start-up says the development secret is in use: {stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && message(l).contains("allow-list")),
        "start-up warns that there is no allow-list: {stderr}"
    );
    // The HTTP answer goes out at once ("handled"); the command runs and replies after
    // ("replied"), in the same request span.
    let handled = lines
        .iter()
        .find(|l| message(l) == "handled")
        .unwrap_or_else(|| panic!("no line for the request: {stderr}"));
    assert_eq!(handled["span"]["status"], 200, "{handled}");
    assert_eq!(handled["span"]["conversation"], "cidLogs", "{handled}");
    assert!(handled["span"]["latency_ms"].is_u64(), "{handled}");
    let replied = lines
        .iter()
        .find(|l| message(l) == "replied")
        .unwrap_or_else(|| panic!("no line for the reply: {stderr}"));
    let span = &replied["span"];
    assert_eq!(span["id"], handled["span"]["id"], "one span per request");
    assert_eq!(span["command"], "lookup", "{replied}");
    assert_eq!(span["outcome"], "no-match", "{replied}");
    assert!(replied["fields"]["latency_ms"].is_u64(), "{replied}");
    assert!(
        !stderr.contains(secret_words),
        "the message text stays out of the logs at info: {stderr}"
    );
    assert!(!stderr.contains(DEV_SECRET), "no secret in the logs");
}

#[tokio::test]
async fn chunked_bodies_are_joined_limited_and_checked() {
    use tokio::io::AsyncWriteExt as _;
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("chunked");
    let bot = start_bot(&fake, None, &state, &["--reply", "response"], &[]);
    let addr = addr_of(&bot);
    let request = fake
        .callback("查找ServiceCode: ec2")
        .build(&bot.url, &AppSecret::new(APP_SECRET));
    let head = raw_head(
        &request,
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
    );
    let chunked = |chunks: &[&[u8]]| {
        let mut out = head.clone().into_bytes();
        for chunk in chunks {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    };
    let send = |bytes: Vec<u8>| {
        let addr = addr.clone();
        async move {
            use tokio::io::AsyncReadExt as _;
            let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let (mut reader, mut writer) = stream.into_split();
            // Read while writing: the server may answer and close before the end (413), and
            // an answer left unread when its reset arrives would be lost.
            let reading = tokio::spawn(async move {
                let mut got = Vec::new();
                let _ = reader.read_to_end(&mut got).await;
                got
            });
            // In pieces, so the body arrives in several reads.
            for piece in bytes.chunks(256) {
                if writer.write_all(piece).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let got = tokio::time::timeout(Duration::from_secs(10), reading)
                .await
                .expect("the server closes the connection")
                .unwrap();
            String::from_utf8_lossy(&got).into_owned()
        }
    };

    // A signed callback in three chunks: joined, verified and answered.
    let body = request.body();
    let third = body.len() / 3;
    let answer = send(chunked(&[
        &body[..third],
        &body[third..2 * third],
        &body[2 * third..],
    ]))
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("amazon-elastic-compute-cloud-linux"),
        "{answer}"
    );

    // Over 64 KiB without a Content-Length: 413 once the limit is passed.
    let big = vec![b' '; 40 * 1024];
    let answer = send(chunked(&[&big, &big])).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // A broken chunk size: 400, not 413.
    let mut broken = head.clone().into_bytes();
    broken.extend_from_slice(b"zz\r\nnot a chunk\r\n0\r\n\r\n");
    let answer = send(broken).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_and_closes_idle_connections() {
    use tokio::io::AsyncWriteExt as _;
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("graceful");
    let bot = start_bot(&fake, None, &state, &["--reply", "response"], &[]);
    let addr = addr_of(&bot);

    // A keep-alive connection that has been answered and now waits.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    healthz_on(&mut idle).await;

    // A request whose body is still arriving when the signal comes.
    let request = fake
        .callback("帮助")
        .build(&bot.url, &AppSecret::new(APP_SECRET));
    let head = raw_head(
        &request,
        &format!("Content-Length: {}\r\n", request.body().len()),
    );
    let (first, rest) = request.body().split_at(request.body().len() / 2);
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let signalled = std::time::Instant::now();
    let stopped = tokio::task::spawn_blocking(move || bot.stop_gracefully());
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.write_all(rest).await.unwrap();
    let (answer, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("查找ServiceCode:"),
        "the help, in full: {answer}"
    );
    let (rest_of_idle, _) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(rest_of_idle.is_empty());
    stopped.await.unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "no open connection holds the exit up: {:?}",
        signalled.elapsed()
    );
}
