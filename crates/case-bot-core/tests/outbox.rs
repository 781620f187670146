//! The outbox and failing closed, in-process with the fake DingTalk: a conversation's replies
//! in order and paced, the fallback for an expired sessionWebhook (never to another group), the
//! backlog gauge under 2,000 messages to one group, and a store whose writes fail (a full
//! disk): 503, nothing acted on, ready again by itself, nothing done twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use case_bot_core::{
    AuditRecord, AuditStore, CallbackService, CaseBot, CaseLink, CaseLinkStore, Claim, ClaimState,
    ClaimStore, Config, Destination, Error, MemoryStore, OutboxEntry, OutboxStore, Record,
    RecordStore, RecordSwap, ReplyMode, Secrets, Settlement, StaticSecrets, Store,
};
use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};
use dingtalk_robot::{AppSecret, InboundMessage, RateLimit, Sender};
use http_body_util::Full;
use support_commands::{CaseFilter, Sandbox, SupportApi};
use tower::ServiceExt as _;

const APP_SECRET: &str = "outbox-app-secret";
const TOKEN: &str = "outbox-access-token";

fn secrets(token: bool) -> Arc<StaticSecrets> {
    let json = if token {
        format!(r#"{{"app_secret":"{APP_SECRET}","access_token":"{TOKEN}"}}"#)
    } else {
        format!(r#"{{"app_secret":"{APP_SECRET}"}}"#)
    };
    Arc::new(StaticSecrets::new(Secrets::from_json(&json).unwrap()))
}

/// A bot on `support` and `store` that sends to `fake`, with `config` otherwise.
fn bot_on(
    fake: &FakeDingTalk,
    support: Arc<dyn SupportApi>,
    store: &Arc<impl Store + 'static>,
    token: bool,
    config: Config,
) -> CaseBot {
    CaseBot::builder(support, secrets(token))
        .store(Arc::clone(store) as Arc<dyn Store>)
        .config(Config {
            dingtalk_api_base: fake.base_url(),
            ..config
        })
        .build()
        .unwrap()
}

/// A signed callback with `text` from the group `cidOps`, as the fake would post it.
fn signed(fake: &FakeDingTalk, text: &str, id: &str) -> http::Request<Full<Bytes>> {
    fake.callback(text)
        .group("cidOps", "运维值班")
        .msg_id(id)
        .build("/dingtalk/callback", &AppSecret::new(APP_SECRET))
        .map(|body| Full::new(Bytes::from(body)))
}

fn message(fake: &FakeDingTalk, text: &str, id: &str, group: &str) -> InboundMessage {
    let json = fake
        .callback(text)
        .group(group, "运维值班")
        .msg_id(id)
        .json();
    InboundMessage::from_json(&serde_json::to_vec(&json).unwrap()).unwrap()
}

#[tokio::test]
async fn a_conversations_replies_go_out_in_order_and_paced() {
    // DingTalk refuses a sixth message within a second; the bot paces itself to five.
    let fake = FakeDingTalk::builder()
        .rate_limit(5, Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let sender = Sender::builder()
        .api_base(fake.base_url())
        .rate_limit(RateLimit::new(5, Duration::from_secs(1)))
        .build()
        .unwrap();
    let bot = CaseBot::builder(Arc::new(Sandbox::new()), secrets(false))
        .sender(sender)
        .config(Config {
            dingtalk_api_base: fake.base_url(),
            ..Config::default()
        })
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    for i in 0..12 {
        let msg = message(
            &fake,
            &format!("查找ServiceCode: zz{i:02}"),
            &format!("m{i}"),
            "cidOps",
        );
        bot.on_message(msg).await;
    }
    let got = fake.wait_for_messages(12, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 12);
    let order: Vec<usize> = got
        .iter()
        .map(|m| {
            let at = m.text().find("zz").unwrap();
            m.text()[at + 2..at + 4].parse().unwrap()
        })
        .collect();
    assert_eq!(
        order,
        (0..12).collect::<Vec<_>>(),
        "in the order the messages came"
    );
    assert!(fake.rejections().is_empty(), "{:?}", fake.rejections());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "12 messages at 5 a second take over 2 s: {:?}",
        started.elapsed()
    );
}

/// A message whose sessionWebhook expired an hour ago.
fn expired(fake: &FakeDingTalk, text: &str, id: &str, group: &str) -> InboundMessage {
    let mut json = fake
        .callback(text)
        .group(group, "运维值班")
        .msg_id(id)
        .json();
    json["sessionWebhookExpiredTime"] = (fake.now_ms() - 3_600_000).into();
    InboundMessage::from_json(&serde_json::to_vec(&json).unwrap()).unwrap()
}

#[tokio::test]
async fn an_expired_session_falls_back_to_the_groups_own_robot_and_never_to_another_group() {
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new(TOKEN))
        .start()
        .await
        .unwrap();
    let store = Arc::new(MemoryStore::default());
    let config = Config {
        robot_conversation: Some("cidOps".into()),
        ..Config::default()
    };
    let bot = bot_on(&fake, Arc::new(Sandbox::new()), &store, true, config);
    bot.on_message(expired(&fake, "帮助", "m-ops", "cidOps"))
        .await;
    bot.on_message(expired(&fake, "帮助", "m-other", "cidOther"))
        .await;
    assert!(bot.deliver_pending(Duration::from_secs(5)).await);
    let got = fake.messages();
    assert_eq!(got.len(), 1, "only the robot's own group: {got:?}");
    assert!(
        format!("{:?}", got[0].channel).contains("Robot"),
        "{:?}",
        got[0].channel
    );
    let ready = bot.readiness().await;
    assert_eq!((ready.backlog, ready.undelivered), (0, 1));
    let audit = store.recent_audit(10).await.unwrap();
    let undelivered: Vec<&str> = audit
        .iter()
        .filter(|r| r.outcome == "undelivered")
        .map(|r| r.conversation_id.as_str())
        .collect();
    assert_eq!(undelivered, ["cidOther"]);
}

#[tokio::test]
async fn two_thousand_messages_to_one_group_keep_the_backlog_at_its_limit() {
    // DingTalk is reachable but the group gets 20 a minute: the replies back up.
    let fake = FakeDingTalk::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let config = Config {
        backlog_limit: 40,
        ..Config::default()
    };
    let bot = bot_on(&fake, Arc::new(Sandbox::new()), &store, false, config);
    let mut peak = 0;
    for i in 0..2_000 {
        bot.on_message(message(&fake, "帮助", &format!("m{i}"), "cidOps"))
            .await;
        if i % 100 == 0 {
            peak = peak.max(bot.readiness().await.backlog);
        }
    }
    let ready = bot.readiness().await;
    peak = peak.max(ready.backlog);
    assert!(ready.ready);
    assert!(
        peak <= 41,
        "the gauge stays at the limit (+1 notice): {peak}"
    );
    let audit = store.recent_audit(5_000).await.unwrap();
    let behind = audit.iter().filter(|r| r.outcome == "behind").count();
    assert!(
        behind >= 1_900,
        "the rest were refused, and audited: {behind}"
    );
    assert_eq!(audit.len(), 2_000, "every message has its audit row");
}

/// A store whose writes fail while `failing` is set, as on a full disk.
#[derive(Debug, Default)]
struct Faulty {
    inner: MemoryStore,
    failing: AtomicBool,
}

impl Faulty {
    fn check(&self, what: &'static str) -> Result<(), Error> {
        if self.failing.load(Ordering::SeqCst) {
            Err(Error::Store {
                what,
                source: "database or disk is full".into(),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ClaimStore for Faulty {
    async fn claim(&self, claim: &Claim) -> Result<Option<ClaimState>, Error> {
        self.check("claim")?;
        self.inner.claim(claim).await
    }
    async fn advance(&self, key: &str, from: ClaimState, to: ClaimState) -> Result<bool, Error> {
        self.check("claim state")?;
        self.inner.advance(key, from, to).await
    }
    async fn unfinished_claims(&self) -> Result<Vec<Claim>, Error> {
        self.inner.unfinished_claims().await
    }
}

#[async_trait]
impl CaseLinkStore for Faulty {
    async fn put_case(&self, case_id: &str, link: &CaseLink) -> Result<(), Error> {
        self.check("case link")?;
        self.inner.put_case(case_id, link).await
    }
    async fn case(&self, case_id: &str) -> Result<Option<CaseLink>, Error> {
        self.inner.case(case_id).await
    }
}

#[async_trait]
impl AuditStore for Faulty {
    async fn audit(&self, record: AuditRecord) -> Result<(), Error> {
        self.check("audit")?;
        self.inner.audit(record).await
    }
    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        self.inner.recent_audit(limit).await
    }
}

#[async_trait]
impl OutboxStore for Faulty {
    async fn enqueue(&self, entries: &[OutboxEntry]) -> Result<(), Error> {
        self.check("outbox")?;
        self.inner.enqueue(entries).await
    }
    async fn lease_due(
        &self,
        now_ms: i64,
        owner: &str,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, Error> {
        self.check("outbox")?;
        self.inner
            .lease_due(now_ms, owner, lease_until_ms, limit)
            .await
    }
    async fn settle(&self, id: &str, settlement: Settlement) -> Result<(), Error> {
        self.check("outbox")?;
        self.inner.settle(id, settlement).await
    }
    async fn pending(&self, conversation: Option<&str>) -> Result<usize, Error> {
        self.inner.pending(conversation).await
    }
    async fn undelivered(&self) -> Result<usize, Error> {
        self.inner.undelivered().await
    }
}

#[async_trait]
impl RecordStore for Faulty {
    async fn record(&self, kind: &str, id: &str) -> Result<Option<Record>, Error> {
        self.inner.record(kind, id).await
    }
    async fn records(&self, kind: &str) -> Result<Vec<Record>, Error> {
        self.inner.records(kind).await
    }
    async fn swap_record(&self, swap: &RecordSwap) -> Result<bool, Error> {
        self.check("records")?;
        self.inner.swap_record(swap).await
    }
}

#[async_trait]
impl Store for Faulty {
    async fn prune(&self, sent_before_ms: i64, audit_before_ms: i64) -> Result<(), Error> {
        self.check("prune")?;
        self.inner.prune(sent_before_ms, audit_before_ms).await
    }
    async fn probe(&self) -> Result<(), Error> {
        self.check("probe")?;
        self.inner.probe().await
    }
}

#[tokio::test]
async fn a_full_disk_means_503_and_nothing_acted_on_then_ready_again_and_nothing_twice() {
    let fake = FakeDingTalk::start().await.unwrap();
    let sandbox = Arc::new(Sandbox::new());
    let store = Arc::new(Faulty::default());
    let bot = bot_on(&fake, sandbox.clone(), &store, false, Config::default());
    bot.start();
    let create = "提工单\nsubject:disk\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance";
    let request = || signed(&fake, create, "m-disk");
    let service = CallbackService::new(bot.clone());
    store.failing.store(true, Ordering::SeqCst);
    let refused = service.clone().oneshot(request()).await.unwrap();
    assert_eq!(refused.status(), 503);
    let ready = bot.readiness().await;
    assert!(!ready.ready && ready.store == "failing");
    let cases = || async {
        let filter = CaseFilter {
            include_resolved: true,
            page_size: None,
        };
        sandbox.list_cases(&filter, None).await.unwrap().cases.len()
    };
    let before = cases().await;
    // The disk has room again: ready by itself (a probe), then the redelivery is acted on once.
    store.failing.store(false, Ordering::SeqCst);
    let mut ready = false;
    for _ in 0..50 {
        ready = bot.readiness().await.ready;
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready);
    for _ in 0..2 {
        assert_eq!(
            service.clone().oneshot(request()).await.unwrap().status(),
            200
        );
    }
    assert!(bot.drain(Duration::from_secs(5)).await);
    assert_eq!(cases().await, before + 1, "one case");
    let audit = store.recent_audit(10).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
}

#[tokio::test]
async fn a_read_answered_in_the_response_is_503_and_asked_again_when_its_claim_cannot_be_written() {
    let fake = FakeDingTalk::start().await.unwrap();
    let store = Arc::new(Faulty::default());
    let config = Config {
        reply: ReplyMode::Response,
        ..Config::default()
    };
    let bot = bot_on(&fake, Arc::new(Sandbox::new()), &store, false, config);
    bot.start();
    let request = || signed(&fake, "帮助", "m-help");
    let service = CallbackService::new(bot.clone());
    store.failing.store(true, Ordering::SeqCst);
    let refused = service.clone().oneshot(request()).await.unwrap();
    assert_eq!(refused.status(), 503, "not a 200 with no answer");
    let asked = fake.wait_for_messages(1, Duration::from_secs(5)).await;
    assert_eq!(asked.len(), 1, "the group is asked to send it again");
    // Writes succeed again: the redelivery is answered, in the response, once.
    store.failing.store(false, Ordering::SeqCst);
    let answered = service.clone().oneshot(request()).await.unwrap();
    assert_eq!(answered.status(), 200);
    let body = http_body_util::BodyExt::collect(answered.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("msgtype"),
        "the answer is inline: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(store.recent_audit(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_reply_given_up_in_several_parts_is_one_undelivered_audit_row_for_its_claim() {
    let fake = FakeDingTalk::start().await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let bot = bot_on(
        &fake,
        Arc::new(Sandbox::new()),
        &store,
        false,
        Config::default(),
    );
    // Two parts of one reply (a "slow" notice and the answer, say), both to a session that
    // has expired, made a few milliseconds apart.
    let claim = Claim::new("msg:m-parts", "{}", "t", fake.now_ms() - 5, i64::MAX / 2);
    let expired = Destination::Session {
        url: format!("{}/robot/sendBySession?session=x", fake.base_url()),
        expires_at_ms: Some(1),
    };
    let message = serde_json::to_string(&dingtalk_robot::OutboundMessage::text("AWS")).unwrap();
    let mut entries = Vec::new();
    for part in 0..2 {
        entries.push(
            OutboxEntry::for_claim(&claim, part, "cidOps", expired.clone(), message.clone())
                .answering("view", Some("case-1".into()), Some(claim.key.clone())),
        );
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    store.enqueue(&entries).await.unwrap();
    assert!(bot.deliver_pending(Duration::from_secs(5)).await);
    assert!(fake.messages().is_empty());
    assert_eq!(
        bot.readiness().await.undelivered,
        2,
        "both messages are counted"
    );
    let audit = store.recent_audit(10).await.unwrap();
    let undelivered: Vec<_> = audit
        .iter()
        .filter(|r| r.outcome == "undelivered")
        .collect();
    assert_eq!(undelivered.len(), 1, "one row for the claim: {audit:?}");
    assert_eq!(undelivered[0].at_ms, claim.claimed_at_ms);
}
