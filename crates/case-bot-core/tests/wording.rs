//! What people read when AWS (moto with the Support extension) refuses or answers: AWS's
//! rejections with the next step, statuses and severities in words with their codes, times in
//! the group's zone, and the deployment's case language checked with
//! DescribeSupportedLanguages, in Chinese and in English.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use case_bot_core::{CaseBot, Config, Delivery, MemoryStore, ReplyMode, Secrets, StaticSecrets};
use casebot_testkit::MotoServer;
use dingtalk_robot::InboundMessage;
use dingtalk_robot::testing::{FakeDingTalk, FakeRobot};
use support_commands::{AwsSupport, AwsSupportConfig, CaseRef, Lang, SupportApi};

const ADMIN: &str = "admin-1";

struct World {
    _moto: MotoServer,
    fake: FakeDingTalk,
    aws: AwsSupport,
    bot: CaseBot,
}

async fn world(tweak: impl FnOnce(&mut Config)) -> World {
    let moto = MotoServer::start();
    let aws = AwsSupport::from_sdk_config(&moto.sdk_config().await, AwsSupportConfig::default());
    let fake = FakeDingTalk::builder()
        .robot(FakeRobot::new("robot-token").keyword("AWS"))
        .start()
        .await
        .unwrap();
    let mut config = Config {
        reply: ReplyMode::Response,
        dingtalk_api_base: fake.base_url(),
        admins: vec![ADMIN.to_owned()],
        ..Config::default()
    };
    config.notify.watch_interval = Duration::ZERO;
    tweak(&mut config);
    let secrets = Secrets::from_json(r#"{"app_secret":"test-app-secret"}"#).unwrap();
    let bot = CaseBot::builder(Arc::new(aws.clone()), Arc::new(StaticSecrets::new(secrets)))
        .store(Arc::new(MemoryStore::default()))
        .config(config)
        .build()
        .unwrap();
    World {
        _moto: moto,
        fake,
        aws,
        bot,
    }
}

impl World {
    /// The bot's answer to `text` from an admin in a group, as the text people read.
    async fn say(&self, text: &str) -> String {
        let callback = self
            .fake
            .callback(text)
            .group("cidOps==", "运维群")
            .sender("管理员", ADMIN);
        let msg = InboundMessage::from_json(callback.json().to_string().as_bytes()).unwrap();
        let Delivery::Inline { first, .. } = self.bot.on_message(msg).await.delivery else {
            panic!("inline")
        };
        let json = serde_json::to_value(&first).unwrap();
        let kind = json["msgtype"].as_str().unwrap().to_owned();
        let field = if kind == "text" { "content" } else { "text" };
        json[kind][field].as_str().unwrap().to_owned()
    }
}

fn create(service: &str, category: &str) -> String {
    format!(
        "提工单\nsubject:EC2 无法连接\nbody:SSH 超时\nseverityCode:high\nserviceCode:{service}\ncategoryCode:{category}"
    )
}

fn case_id_in(answer: &str) -> String {
    let start = answer.find("case-").expect(answer);
    answer[start..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_unknown_service_code_from_aws_is_answered_with_the_closest_codes_in_both_languages() {
    let zh = world(|_| {}).await;
    let answer = zh.say(&create("ec2", "other")).await;
    assert!(
        answer.starts_with("AWS-[创建工单失败]\nserviceCode「ec2」不是 AWS Support 的服务代码。"),
        "{answer}"
    );
    assert!(
        answer.contains("\n- amazon-elastic-compute-cloud-linux（"),
        "{answer}"
    );
    assert!(
        !answer.contains("Invalid serviceCode"),
        "AWS's raw words: {answer}"
    );

    let en = world(|c| c.lang = Lang::En).await;
    let answer = en.say(&create("ec2", "other")).await;
    assert!(
        answer.starts_with(
            "AWS-[case not created]\n`ec2` is not an AWS Support serviceCode. The closest codes:"
        ),
        "{answer}"
    );
}

#[tokio::test]
async fn a_category_of_another_service_is_answered_with_the_services_categories_in_both_languages()
{
    let zh = world(|_| {}).await;
    let answer = zh
        .say(&create("amazon-elastic-compute-cloud-linux", "nope"))
        .await;
    assert!(answer.contains("categoryCode「nope」不属于服务 amazon-elastic-compute-cloud-linux。它的 categoryCode 有："), "{answer}");
    assert!(answer.contains("\n- instance-issue（"), "{answer}");
    let en = world(|c| c.lang = Lang::En).await;
    let answer = en
        .say(&create("amazon-elastic-compute-cloud-linux", "nope"))
        .await;
    assert!(
        answer.contains(
            "`nope` is not a categoryCode of amazon-elastic-compute-cloud-linux. Its categories:"
        ),
        "{answer}"
    );
}

#[tokio::test]
async fn the_deployments_case_language_is_used_and_one_aws_does_not_handle_falls_back_to_english() {
    let ja = world(|c| c.case_language = "ja".into()).await;
    let answer = ja
        .say(&create(
            "amazon-elastic-compute-cloud-linux",
            "instance-issue",
        ))
        .await;
    let case = ja
        .aws
        .case_details(&CaseRef::parse(&case_id_in(&answer)).unwrap())
        .await
        .unwrap();
    assert_eq!(case.language.as_deref(), Some("ja"), "{answer}");

    // moto's DescribeSupportedLanguages answers zh, en, ja and ko.
    let fr = world(|c| c.case_language = "fr".into()).await;
    let answer = fr
        .say(&create(
            "amazon-elastic-compute-cloud-linux",
            "instance-issue",
        ))
        .await;
    assert!(
        answer.contains("AWS 不支持用「fr」处理该服务的工单，已改用英文（en）创建。"),
        "{answer}"
    );
    let case = fr
        .aws
        .case_details(&CaseRef::parse(&case_id_in(&answer)).unwrap())
        .await
        .unwrap();
    assert_eq!(case.language.as_deref(), Some("en"));
}

#[tokio::test]
async fn a_viewed_case_shows_words_with_codes_and_times_in_the_groups_zone() {
    let world = world(|_| {}).await;
    let created = world
        .say(&create(
            "amazon-elastic-compute-cloud-linux",
            "instance-issue",
        ))
        .await;
    let id = case_id_in(&created);
    let view = world.say(&format!("查看 {id}")).await;
    assert!(view.contains("- 状态: 已创建（opened）"), "{view}");
    assert!(view.contains("- 严重级别: 生产系统受损（high）"), "{view}");
    assert!(view.contains("(UTC+8)"), "{view}");
    assert!(!view.contains("Z\n"), "UTC times left: {view}");

    world.say("通知 时区 +09:00").await;
    let view = world.say(&format!("查看 {id}")).await;
    assert!(
        view.contains("(UTC+9)") && !view.contains("(UTC+8)"),
        "{view}"
    );
    let list = world.say("工单列表").await;
    assert!(
        list.contains("已创建（opened） · 生产系统受损（high）") && list.contains("(UTC+9)"),
        "{list}"
    );
}

#[tokio::test]
async fn english_mode_create_view_and_resolve_read_in_english() {
    let world = world(|c| c.lang = Lang::En).await;
    let created = world
        .say(&create(
            "amazon-elastic-compute-cloud-linux",
            "instance-issue",
        ))
        .await;
    assert!(
        created.starts_with("AWS-[case created]\ncase id: case-"),
        "{created}"
    );
    let id = case_id_in(&created);
    let view = world.say(&format!("view {id}")).await;
    assert!(view.contains("- Status: opened"), "{view}");
    assert!(
        view.contains("- Severity: production system impaired (high)"),
        "{view}"
    );
    let resolved = world.say(&format!("resolve {id}")).await;
    assert_eq!(
        resolved,
        format!("AWS-[case resolved]\ncase_id:{id} is resolved")
    );
    for text in [&created, &view, &resolved] {
        // Only the people's own words (subject, body, nick, group title) may be Chinese.
        let rest = ["EC2 无法连接", "SSH 超时", "管理员", "运维群"]
            .iter()
            .fold(text.to_string(), |t, words| t.replace(words, ""));
        assert!(
            !rest.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{text}"
        );
    }
}
