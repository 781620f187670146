//! Pushed notifications against moto (the Support extension) and the fake DingTalk over real
//! sockets: AWS's replies and status changes reach the following groups exactly once, through
//! the OpenAPI group send or the custom robot, paced, through throttling, within the Support
//! call budget, and only as each group's follows and settings say.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use case_bot_core::{
    CaseBot, CaseEvent, Config, Delivery, MemoryStore, PushVia, ReplyMode, Secrets, StaticSecrets,
};
use casebot_testkit::MotoServer;
use dingtalk_robot::InboundMessage;
use dingtalk_robot::testing::{CallbackBuilder, Channel, FakeApp, FakeDingTalk, FakeRobot};
use support_commands::{AwsSupport, AwsSupportConfig, NewCase, Severity, SupportApi};

const APP_KEY: &str = "dingtestapp";
const APP_SECRET: &str = "test-app-secret";
const TOKEN: &str = "robot-token";
const GROUP_A: &str = "cidGroupA==";
const GROUP_B: &str = "cidGroupB==";
const ADMIN: &str = "admin-1";

struct World {
    moto: MotoServer,
    fake: FakeDingTalk,
    aws: AwsSupport,
    bot: CaseBot,
}

async fn world_with(fake: FakeDingTalk, tweak: impl FnOnce(&mut Config)) -> World {
    let moto = MotoServer::start();
    let aws = AwsSupport::from_sdk_config(&moto.sdk_config().await, AwsSupportConfig::default());
    let mut config = Config {
        reply: ReplyMode::Response,
        dingtalk_api_base: fake.base_url(),
        admins: vec![ADMIN.to_owned()],
        messages_per_minute: 1_000,
        ..Config::default()
    };
    config.notify.dingtalk_openapi_base = fake.base_url();
    // The tests look at the cases themselves (`poll_cases`), when they choose.
    config.notify.watch_interval = Duration::ZERO;
    tweak(&mut config);
    let secrets = Secrets::from_json(&format!(
        r#"{{"app_secret":"{APP_SECRET}","app_key":"{APP_KEY}","access_token":"{TOKEN}"}}"#
    ))
    .unwrap();
    let bot = CaseBot::builder(Arc::new(aws.clone()), Arc::new(StaticSecrets::new(secrets)))
        .store(Arc::new(MemoryStore::default()))
        .config(config)
        .build()
        .unwrap();
    bot.start();
    World {
        moto,
        fake,
        aws,
        bot,
    }
}

async fn fake() -> FakeDingTalk {
    FakeDingTalk::builder()
        .app(FakeApp::new(APP_KEY, APP_SECRET))
        .robot(FakeRobot::new(TOKEN).keyword("AWS"))
        .start()
        .await
        .unwrap()
}

async fn world() -> World {
    world_with(fake().await, |_| {}).await
}

impl World {
    /// The bot's answer to `callback`, as text.
    async fn say(&self, callback: CallbackBuilder) -> String {
        let msg = InboundMessage::from_json(callback.json().to_string().as_bytes()).unwrap();
        match self.bot.on_message(msg).await.delivery {
            Delivery::Inline { first, .. } => serde_json::to_string(&first).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    /// The bot's answer to `text` from an admin in group B.
    async fn admin_says(&self, text: impl Into<String>) -> String {
        self.say(
            self.fake
                .callback(text)
                .group(GROUP_B, "二线")
                .sender("管理员", ADMIN),
        )
        .await
    }

    /// Opens a case from `group` as `staff`; its case id.
    async fn open(&self, group: &str, staff: &str, subject: &str) -> String {
        let text = format!(
            "提工单\nsubject:{subject}\nbody:实例无法启动\nseverityCode:high\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other"
        );
        let answer = self
            .say(
                self.fake
                    .callback(text)
                    .group(group, "运维群")
                    .sender("张三", staff),
            )
            .await;
        let start = answer.find("case-").expect(&answer);
        answer[start..]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .next()
            .unwrap()
            .to_owned()
    }

    /// Opens a case outside the bot (the console); its case id.
    async fn open_outside(&self, subject: &str, severity: Severity) -> String {
        let case = NewCase::new(subject, "opened in the console", severity);
        self.aws.create_case(&case).await.unwrap().to_string()
    }

    /// Waits for `count` messages at the fake, and a little longer for any extra one.
    async fn pushed(&self, count: usize) -> Vec<dingtalk_robot::testing::Received> {
        self.fake
            .wait_for_messages(count, Duration::from_secs(10))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.fake.messages()
    }
}

#[tokio::test]
async fn an_aws_reply_reaches_the_group_that_opened_the_case_once_through_the_openapi() {
    let w = world().await;
    let case = w.open(GROUP_A, "staff-1", "EC2 无法启动").await;
    w.moto.engineer_reply(&case, "请提供实例 ID。").unwrap();
    let report = w.bot.poll_cases().await.unwrap();
    assert_eq!((report.cases, report.messages), (1, 1));
    let pushed = w.pushed(1).await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(pushed[0].channel, Channel::Group(GROUP_A.into()));
    let text = pushed[0].text();
    for expected in [
        "请提供实例 ID。",
        "EC2 无法启动",
        "AWS 正在等待您的回复",
        "@staff-1",
        "回复 case-",
    ] {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
    // Looking again finds nothing new.
    assert_eq!(w.bot.poll_cases().await.unwrap().messages, 0);
    assert_eq!(w.pushed(1).await.len(), 1);
}

#[tokio::test]
async fn with_the_webhook_configured_the_reply_goes_through_the_custom_robot() {
    let w = world_with(fake().await, |config| {
        config.notify.push_via = PushVia::Webhook;
        config.robot_conversation = Some(GROUP_A.to_owned());
    })
    .await;
    let case = w.open(GROUP_A, "staff-1", "RDS 连接超时").await;
    w.moto
        .engineer_reply(&case, "Please share the instance id.")
        .unwrap();
    w.bot.poll_cases().await.unwrap();
    let pushed = w.pushed(1).await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(pushed[0].channel, Channel::Robot(TOKEN.into()));
    assert!(pushed[0].text().contains("Please share the instance id."));
    assert_eq!(pushed[0].body["at"]["atUserIds"][0], "staff-1");
}

#[tokio::test]
async fn waiting_for_the_customer_and_resolved_are_one_message_each() {
    let w = world().await;
    let case = w.open(GROUP_A, "staff-1", "S3 403").await;
    w.moto.engineer_reply(&case, "Which bucket?").unwrap();
    w.bot.poll_cases().await.unwrap();
    assert_eq!(w.pushed(1).await.len(), 1);
    w.aws
        .resolve_case(&support_commands::CaseId::new_unchecked(case.as_str()))
        .await
        .unwrap();
    w.bot.poll_cases().await.unwrap();
    let pushed = w.pushed(2).await;
    assert_eq!(pushed.len(), 2, "{pushed:?}");
    assert!(
        pushed[1].text().contains("已解决（resolved）"),
        "{}",
        pushed[1].text()
    );
}

#[tokio::test]
async fn the_same_event_five_times_and_an_overlapping_reconcile_tell_the_group_once() {
    let w = world().await;
    let case = w.open(GROUP_A, "staff-1", "Lambda 超时").await;
    w.moto.engineer_reply(&case, "We found the cause.").unwrap();
    let event = CaseEvent::from_json(&serde_json::json!({
        "source": "aws.support", "detail-type": "Support Case Update",
        "detail": {"case-id": case, "display-id": "1", "communication-id": "",
                   "event-name": "AddCommunicationToCase", "origin": "AWS"}
    }))
    .unwrap();
    let (a, b, c, d, e, reconcile) = tokio::join!(
        w.bot.on_case_event(&event),
        w.bot.on_case_event(&event),
        w.bot.on_case_event(&event),
        w.bot.on_case_event(&event),
        w.bot.on_case_event(&event),
        w.bot.poll_cases(),
    );
    let told: usize = [a, b, c, d, e, reconcile]
        .into_iter()
        .map(|r| r.unwrap().messages)
        .sum();
    assert_eq!(told, 1, "one look wins the cursor");
    let pushed = w.pushed(1).await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert!(pushed[0].text().contains("We found the cause."));
}

#[tokio::test]
async fn sixty_updates_at_once_arrive_at_the_configured_pace_each_once() {
    let fake = FakeDingTalk::builder()
        .app(FakeApp::new(APP_KEY, APP_SECRET))
        .rate_limit(20, Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    // DingTalk's pace of 20 a minute, with the minute made 2 s on both sides.
    let w = world_with(fake, |config| {
        config.messages_per_minute = 20;
        config.pace_window = Duration::from_secs(2);
    })
    .await;
    let mut cases = Vec::new();
    for i in 0..60 {
        cases.push(w.open(GROUP_A, "staff-1", &format!("case {i}")).await);
    }
    for case in &cases {
        w.moto
            .engineer_reply(case, &format!("answer for {case}"))
            .unwrap();
    }
    let started = Instant::now();
    assert_eq!(w.bot.poll_cases().await.unwrap().messages, 60);
    let pushed = w.fake.wait_for_messages(60, Duration::from_secs(30)).await;
    let elapsed = started.elapsed();
    assert_eq!(pushed.len(), 60);
    for case in &cases {
        let told = pushed
            .iter()
            .filter(|m| m.text().contains(&format!("answer for {case}")))
            .count();
        assert_eq!(told, 1, "{case}");
    }
    assert!(elapsed >= Duration::from_secs(4), "20 per 2 s: {elapsed:?}");
    assert!(
        w.fake.rejections().is_empty(),
        "paced under the limit: {:?}",
        w.fake.rejections()
    );
}

#[tokio::test]
async fn while_dingtalk_throttles_the_updates_wait_and_all_arrive_afterwards() {
    let fake = FakeDingTalk::builder()
        .app(FakeApp::new(APP_KEY, APP_SECRET))
        .rate_limit(20, Duration::from_secs(60))
        .block_for(Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    let w = world_with(fake, |config| {
        config.throttled_wait = Duration::from_millis(300);
    })
    .await;
    let mut cases = Vec::new();
    for i in 0..30 {
        cases.push(w.open(GROUP_A, "staff-1", &format!("case {i}")).await);
    }
    for case in &cases {
        w.moto
            .engineer_reply(case, &format!("answer for {case}"))
            .unwrap();
    }
    assert_eq!(w.bot.poll_cases().await.unwrap().messages, 30);
    let first = w.fake.wait_for_messages(20, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(first.len(), 20);
    assert_eq!(w.fake.messages().len(), 20, "the rest wait while throttled");
    assert!(
        w.fake
            .rejections()
            .iter()
            .any(|r| r.errcode == 130_101 || r.errmsg.contains("send too fast"))
    );
    // Eleven minutes later (the fake's clock): the block and the window are over.
    w.fake.advance(Duration::from_secs(660));
    let all = w.fake.wait_for_messages(30, Duration::from_secs(10)).await;
    assert_eq!(all.len(), 30);
    for case in &cases {
        let told = all
            .iter()
            .filter(|m| m.text().contains(&format!("answer for {case}")))
            .count();
        assert_eq!(told, 1, "{case}");
    }
}

#[tokio::test]
async fn following_another_case_is_for_admins_and_unfollowing_stops_the_pushes() {
    let w = world().await;
    let unknown = w.admin_says("关注 9999999999").await;
    assert!(
        unknown.contains("关注失败") && unknown.contains("9999999999"),
        "{unknown}"
    );

    let case = w.open_outside("console case", Severity::Normal).await;
    let refused = w
        .say(
            w.fake
                .callback(format!("关注 {case}"))
                .group(GROUP_B, "二线")
                .sender("李四", "staff-2"),
        )
        .await;
    assert!(refused.contains("只有管理员"), "{refused}");
    let followed = w.admin_says(format!("关注 {case}")).await;
    assert!(followed.contains("已关注工单"), "{followed}");
    let list = w
        .say(w.fake.callback("关注列表").group(GROUP_B, "二线"))
        .await;
    assert!(list.contains(&case), "{list}");

    w.moto.engineer_reply(&case, "first answer").unwrap();
    w.bot.poll_cases().await.unwrap();
    let pushed = w.pushed(1).await;
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].channel, Channel::Group(GROUP_B.into()));

    let gone = w
        .say(
            w.fake
                .callback(format!("取消关注 {case}"))
                .group(GROUP_B, "二线"),
        )
        .await;
    assert!(gone.contains("已取消关注"), "{gone}");
    w.moto.engineer_reply(&case, "second answer").unwrap();
    w.bot.poll_cases().await.unwrap();
    assert_eq!(w.pushed(1).await.len(), 1, "nothing after the unfollow");

    // Following again starts afresh: what came while unfollowed is not told, what comes after
    // is.
    w.admin_says(format!("关注 {case}")).await;
    w.bot.poll_cases().await.unwrap();
    w.moto.engineer_reply(&case, "third answer").unwrap();
    w.bot.poll_cases().await.unwrap();
    let pushed = w.pushed(2).await;
    assert_eq!(pushed.len(), 2, "{:?}", w.fake.texts());
    assert!(
        pushed[1].text().contains("third answer") && !pushed[1].text().contains("second answer")
    );
}

#[tokio::test]
async fn a_case_opened_in_a_one_to_one_chat_is_not_followed() {
    let w = world().await;
    let text = "提工单\nsubject:私聊\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other";
    let answer = w.say(w.fake.callback(text).one_to_one()).await;
    assert!(answer.contains("case-"), "{answer}");
    assert_eq!(w.bot.poll_cases().await.unwrap().cases, 0);
}

#[tokio::test]
async fn a_poll_of_fifty_followed_cases_costs_one_describe_cases() {
    let w = world().await;
    let mut cases = Vec::new();
    for i in 0..50 {
        let case = w.open_outside(&format!("case {i}"), Severity::Low).await;
        w.admin_says(format!("关注 {case}")).await;
        cases.push(case);
    }
    w.moto.reset_support_calls().unwrap();
    let report = w.bot.poll_cases().await.unwrap();
    assert_eq!(report.cases, 50);
    let calls = w.moto.support_calls().unwrap();
    assert_eq!(calls.get("describe_cases"), Some(&1), "{calls:?}");
    assert_eq!(calls.values().sum::<u64>(), 1, "{calls:?}");

    // Six answers to one case (more than the five DescribeCases returns): one
    // DescribeCommunications for that case alone, and all six told.
    for i in 0..6 {
        w.moto
            .engineer_reply(&cases[0], &format!("part {i}"))
            .unwrap();
    }
    w.moto.reset_support_calls().unwrap();
    w.bot.poll_cases().await.unwrap();
    let calls = w.moto.support_calls().unwrap();
    assert_eq!(calls.get("describe_cases"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("describe_communications"), Some(&1), "{calls:?}");
    let pushed = w.pushed(1).await;
    assert_eq!(pushed.len(), 1, "one message for the case's six answers");
    for i in 0..6 {
        assert!(pushed[0].text().contains(&format!("part {i}")));
    }
}

#[tokio::test]
async fn the_bots_own_reply_is_not_echoed_to_its_group_but_reaches_another_following_group() {
    let w = world().await;
    let case = w.open(GROUP_A, "staff-1", "VPC 问题").await;
    w.admin_says(format!("关注 {case}")).await;
    let replied = w
        .say(
            w.fake
                .callback(format!("回复 {case}\n补充：实例 i-123"))
                .group(GROUP_A, "运维群"),
        )
        .await;
    assert!(replied.contains("AWS"), "{replied}");
    w.bot.poll_cases().await.unwrap();
    let pushed = w.pushed(1).await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(pushed[0].channel, Channel::Group(GROUP_B.into()));
    assert!(pushed[0].text().contains("补充：实例 i-123"));
}

#[tokio::test]
async fn settings_filter_by_severity_only_admins_change_them_and_reminders_are_opt_in() {
    let w = world_with(fake().await, |config| {
        config.notify.remind_after = Some(Duration::from_millis(500));
    })
    .await;
    let refused = w
        .say(w.fake.callback("通知 high").group(GROUP_B, "二线"))
        .await;
    assert!(refused.contains("只有管理员"), "{refused}");
    let changed = w.admin_says("通知 high").await;
    assert!(
        changed.contains("推送设置已更新") && changed.contains("high"),
        "{changed}"
    );
    let zone = w.admin_says("通知 时区 +09:00").await;
    assert!(zone.contains("UTC+9"), "{zone}");
    let low = w.open_outside("low case", Severity::Low).await;
    let urgent = w.open_outside("urgent case", Severity::Urgent).await;
    for case in [&low, &urgent] {
        w.admin_says(format!("关注 {case}")).await;
        w.moto
            .engineer_reply(case, &format!("answer on {case}"))
            .unwrap();
    }
    w.bot.poll_cases().await.unwrap();
    let pushed = w.pushed(1).await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert!(pushed[0].text().contains(&format!("answer on {urgent}")));
    assert!(
        pushed[0].text().contains("(UTC+9)"),
        "the group's own zone: {}",
        pushed[0].text()
    );

    tokio::time::sleep(Duration::from_millis(600)).await;
    w.bot.poll_cases().await.unwrap();
    let pushed = w.pushed(2).await;
    assert_eq!(pushed.len(), 2);
    assert!(pushed[1].text().contains("⏰"), "{}", pushed[1].text());
    w.bot.poll_cases().await.unwrap();
    assert_eq!(w.pushed(2).await.len(), 2, "one reminder");
}

#[tokio::test]
async fn a_group_that_asked_for_new_cases_hears_of_one_opened_in_the_console() {
    let w = world().await;
    w.admin_says("通知 新工单 开").await;
    w.open_outside("before", Severity::Low).await;
    w.bot.poll_cases().await.unwrap(); // takes note of what is open
    let case = w.open_outside("a new one", Severity::Critical).await;
    w.bot.poll_cases().await.unwrap();
    let pushed = w.pushed(1).await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert!(pushed[0].text().contains("账户中有新工单") && pushed[0].text().contains("a new one"));
    assert!(pushed[0].text().contains(&case));
}

/// A sandbox whose DescribeCases of followed cases is throttled, counting the attempts.
#[derive(Debug, Default)]
struct Throttled {
    inner: support_commands::Sandbox,
    looks: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl SupportApi for Throttled {
    async fn describe_services(
        &self,
        language: &str,
    ) -> Result<Arc<Vec<support_commands::Service>>, support_commands::Error> {
        self.inner.describe_services(language).await
    }
    async fn describe_severity_levels(
        &self,
        language: &str,
    ) -> Result<Vec<support_commands::SeverityLevel>, support_commands::Error> {
        self.inner.describe_severity_levels(language).await
    }
    async fn create_case(
        &self,
        case: &NewCase,
    ) -> Result<support_commands::CaseId, support_commands::Error> {
        self.inner.create_case(case).await
    }
    async fn describe_case(
        &self,
        case: &support_commands::CaseRef,
        page: Option<&str>,
    ) -> Result<support_commands::CaseView, support_commands::Error> {
        self.inner.describe_case(case, page).await
    }
    async fn list_cases(
        &self,
        filter: &support_commands::CaseFilter,
        page: Option<&str>,
    ) -> Result<support_commands::CasePage, support_commands::Error> {
        self.inner.list_cases(filter, page).await
    }
    async fn add_communication(
        &self,
        case: &support_commands::CaseId,
        body: &str,
        cc: &[String],
    ) -> Result<support_commands::ReplyOutcome, support_commands::Error> {
        self.inner.add_communication(case, body, cc).await
    }
    async fn resolve_case(
        &self,
        case: &support_commands::CaseId,
    ) -> Result<support_commands::Resolution, support_commands::Error> {
        self.inner.resolve_case(case).await
    }
    async fn watch_cases(
        &self,
        _: &[support_commands::CaseId],
        _: &str,
    ) -> Result<Vec<support_commands::WatchedCase>, support_commands::Error> {
        self.looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(support_commands::Error::Throttled("Rate exceeded".into()))
    }
}

#[tokio::test]
async fn the_watcher_backs_off_while_aws_throttles_it() {
    let fake = fake().await;
    let support = Arc::new(Throttled::default());
    let mut config = Config {
        reply: ReplyMode::Response,
        dingtalk_api_base: fake.base_url(),
        ..Config::default()
    };
    config.notify.watch_interval = Duration::from_millis(100);
    let secrets = Secrets::from_json(&format!(r#"{{"app_secret":"{APP_SECRET}"}}"#)).unwrap();
    let bot = CaseBot::builder(support.clone(), Arc::new(StaticSecrets::new(secrets)))
        .config(config)
        .build()
        .unwrap();
    let create = "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other";
    let msg =
        InboundMessage::from_json(fake.callback(create).json().to_string().as_bytes()).unwrap();
    bot.on_message(msg).await;
    bot.start();
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let looks = support.looks.load(std::sync::atomic::Ordering::SeqCst);
    // Every 100 ms would be 16 looks; doubling waits (0.1, 0.2, 0.4, 0.8 s) make about 5.
    assert!((3..=6).contains(&looks), "{looks} looks in 1.6 s");
    bot.drain(Duration::from_secs(1)).await;
}
