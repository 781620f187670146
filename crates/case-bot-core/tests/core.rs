//! The core in-process, through `CaseBot::handle` with the fake DingTalk on loopback: secrets
//! never logged (trace level), rotation re-read is rate limited, the store contracts hold for
//! both stores, attribution and length limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use case_bot_core::{
    BotConfig, CaseBot, MemoryStore, ReplyMode, SecretError, SecretSource, Secrets, SqliteStore,
    StaticSecrets, Store,
};
use casebot_testkit::TempDir;
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};
use support_commands::Sandbox;

const APP_SECRET: &str = "core-app-secret-DO-NOT-LOG";
const TOKEN: &str = "core-access-token-DO-NOT-LOG";
const WEBHOOK_SECRET: &str = "SECcore-webhook-secret-DO-NOT-LOG";

fn to_request(request: http::Request<Vec<u8>>) -> http::Request<Bytes> {
    request.map(Bytes::from)
}

/// A bot on `support` and `secrets` that replies to the fake DingTalk.
fn bot_on(
    fake: &FakeDingTalk,
    support: Arc<dyn support_commands::SupportApi>,
    secrets: Arc<dyn SecretSource>,
    config: BotConfig,
) -> CaseBot {
    CaseBot::builder(support, secrets)
        .config(config)
        .api_base(fake.base_url())
        .build()
        .unwrap()
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
    let bot = bot_on(
        &fake,
        Arc::new(Sandbox::new()),
        Arc::new(StaticSecrets::new(secrets_json(APP_SECRET))),
        BotConfig {
            reply_mode: ReplyMode::Webhook,
            reply_before_response: true,
            ..BotConfig::default()
        },
    );
    let good = fake.callback("提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance").build("/dingtalk/callback", &AppSecret::new(APP_SECRET));
    assert_eq!(bot.handle(to_request(good)).await.status(), 200);
    let bad = fake
        .callback("帮助")
        .build("/dingtalk/callback", &AppSecret::new("wrong"));
    let response = bot.handle(to_request(bad)).await;
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
    async fn load(&self) -> Result<Secrets, SecretError> {
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
        BotConfig::default(),
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
        assert_eq!(bot.handle(to_request(bad)).await.status(), 401);
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
    assert_eq!(bot.handle(to_request(old)).await.status(), 200);
    *source.current.lock().unwrap() = "new".into();
    let new = fake
        .callback("帮助")
        .build("/dingtalk/callback", &AppSecret::new("new"));
    assert_eq!(bot.handle(to_request(new)).await.status(), 200);
}

#[tokio::test]
async fn attribution_counts_towards_the_8000_character_limit() {
    let fake = FakeDingTalk::start().await.unwrap();
    let sandbox = Arc::new(Sandbox::new());
    let bot = bot_on(
        &fake,
        Arc::clone(&sandbox) as Arc<dyn support_commands::SupportApi>,
        Arc::new(StaticSecrets::new(secrets_json(APP_SECRET))),
        BotConfig {
            reply_before_response: true,
            ..BotConfig::default()
        },
    );
    let body = "x".repeat(7_990);
    let text = format!(
        "提工单\nsubject:s\nbody:{body}\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance"
    );
    let request = fake
        .callback(text)
        .build("/dingtalk/callback", &AppSecret::new(APP_SECRET));
    assert_eq!(bot.handle(to_request(request)).await.status(), 200);
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
async fn memory_and_sqlite_stores_keep_the_same_contract() {
    common::store_contract(&MemoryStore::default(), 0).await;
    let dir = TempDir::new("core-store");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    common::store_contract(&store, 0).await;
    store.flush().await;
    // Reopened, the data is still there.
    let reopened = SqliteStore::open(&path).unwrap();
    assert!(reopened.case("case-1").await.unwrap().is_some());
    assert!(!reopened.claim("msg:a", 60_000).await.unwrap());
    let recent: Vec<String> = reopened
        .recent_audit(5)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.command.into_owned())
        .collect();
    assert_eq!(recent, ["c2", "c1", "c0"]);
}

fn audit_of(claim_key: &str) -> case_bot_core::AuditRecord {
    case_bot_core::AuditRecord {
        at_ms: 1,
        sender: "张三".into(),
        sender_staff_id: None,
        conversation_id: "cid".into(),
        command: "help".into(),
        case_id: None,
        outcome: "help".into(),
        claim_key: Some(claim_key.into()),
    }
}

fn count(path: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn sqlite_keeps_a_claim_in_its_audit_row_and_still_holds_it_after_a_restart() {
    let dir = TempDir::new("core-claim-in-audit");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    // Fast commands: claim and audit record reach the writer in one batch (nearly always).
    for i in 0..100 {
        assert!(store.claim(&format!("msg:fast-{i}"), 60_000).await.unwrap());
        store
            .audit(audit_of(&format!("msg:fast-{i}")))
            .await
            .unwrap();
    }
    store.flush().await;
    let own_rows = count(&path, "SELECT count(*) FROM claims");
    assert!(
        own_rows < 100,
        "{own_rows} of 100 fast claims have their own row"
    );
    // A slow one: the claim is written before its command has an audit record.
    assert!(store.claim("msg:slow", 60_000).await.unwrap());
    store.flush().await;
    store.audit(audit_of("msg:slow")).await.unwrap();
    store.flush().await;
    drop(store);

    assert_eq!(
        count(&path, "SELECT count(*) FROM claims WHERE key = 'msg:slow'"),
        1,
        "a claim whose command is still running has its own row"
    );
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM audit WHERE claim_key IS NOT NULL"
        ),
        101
    );
    let reopened = SqliteStore::open(&path).unwrap();
    for key in (0..100)
        .map(|i| format!("msg:fast-{i}"))
        .chain(["msg:slow".into()])
    {
        assert!(
            !reopened.claim(&key, 60_000).await.unwrap(),
            "{key} held after a restart"
        );
    }
    assert!(reopened.claim("msg:new", 60_000).await.unwrap());
    // Written in multi-row statements, read back complete and in order.
    let recent = reopened.recent_audit(200).await.unwrap();
    let keys: Vec<String> = recent
        .iter()
        .rev()
        .filter_map(|r| r.claim_key.clone())
        .collect();
    let expected: Vec<String> = (0..100)
        .map(|i| format!("msg:fast-{i}"))
        .chain(["msg:slow".into()])
        .collect();
    assert_eq!(keys, expected);
    assert!(
        recent
            .iter()
            .all(|r| *r == audit_of(r.claim_key.as_deref().unwrap()))
    );
}

#[tokio::test]
async fn sqlite_forgets_expired_claims_kept_in_audit_rows() {
    let dir = TempDir::new("core-claim-expired");
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.claim("msg:short", 1).await.unwrap());
    store.audit(audit_of("msg:short")).await.unwrap();
    store.flush().await;
    drop(store);
    std::thread::sleep(Duration::from_millis(5));
    let reopened = SqliteStore::open(&path).unwrap();
    assert!(
        reopened.claim("msg:short", 60_000).await.unwrap(),
        "expired, so free"
    );
}

#[tokio::test]
async fn sqlite_opens_a_file_from_before_the_claim_columns() {
    let dir = TempDir::new("core-migrate");
    let path = dir.path().join("state.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE claims (key TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE cases (case_id TEXT PRIMARY KEY, link TEXT NOT NULL);
             CREATE TABLE audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                 sender TEXT NOT NULL, sender_staff_id TEXT, conversation_id TEXT NOT NULL, command TEXT NOT NULL,
                 case_id TEXT, outcome TEXT NOT NULL);
             INSERT INTO audit (at_ms, sender, conversation_id, command, case_id, outcome)
                 VALUES (1, '张三', 'cid', 'create', 'case-1', 'ok');
             INSERT INTO claims VALUES ('msg:old', 9999999999999);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let recent = store.recent_audit(5).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(
        (&*recent[0].command, recent[0].claim_key.as_deref()),
        ("create", None)
    );
    assert!(
        !store.claim("msg:old", 60_000).await.unwrap(),
        "old claims still held"
    );
    assert!(store.claim("msg:next", 60_000).await.unwrap());
    store.audit(audit_of("msg:next")).await.unwrap();
    store.flush().await;
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    assert!(!reopened.claim("msg:next", 60_000).await.unwrap());
}

#[tokio::test]
async fn sqlite_claims_are_atomic_under_concurrency() {
    let dir = TempDir::new("core-claims");
    let path = dir.path().join("state.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let mut handles = Vec::new();
    for _ in 0..32 {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            store.claim("msg:race", 60_000).await.unwrap()
        }));
    }
    let mut winners = 0;
    for handle in handles {
        winners += usize::from(handle.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn english_replies_when_selected_and_every_reply_carries_the_aws_keyword() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = bot_on(
        &fake,
        Arc::new(Sandbox::new()),
        Arc::new(StaticSecrets::new(secrets_json(APP_SECRET))),
        BotConfig {
            lang: support_commands::Lang::En,
            reply_before_response: true,
            ..BotConfig::default()
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
        let request = fake
            .callback(*text)
            .build("/dingtalk/callback", &AppSecret::new(APP_SECRET));
        assert_eq!(bot.handle(to_request(request)).await.status(), 200);
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
async fn non_json_content_type_is_415_and_a_missing_one_is_tolerated() {
    let fake = FakeDingTalk::start().await.unwrap();
    let bot = bot_on(
        &fake,
        Arc::new(Sandbox::new()),
        Arc::new(StaticSecrets::new(secrets_json(APP_SECRET))),
        BotConfig::default(),
    );
    let mut form = fake
        .callback("帮助")
        .build("/dingtalk/callback", &AppSecret::new(APP_SECRET));
    form.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    assert_eq!(bot.handle(to_request(form)).await.status(), 415);
    let mut bare = fake
        .callback("帮助")
        .build("/dingtalk/callback", &AppSecret::new(APP_SECRET));
    bare.headers_mut().remove("content-type");
    assert_eq!(bot.handle(to_request(bare)).await.status(), 200);
}
