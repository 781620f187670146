//! The DynamoDB store on moto's DynamoDB: the store contract, expiry compared in code, and the
//! same callback delivered to 50 independent handlers sharing one table at once → one case,
//! one reply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use case_bot_core::{BotConfig, CaseBot, DynamoStore, Secrets, StaticSecrets, Store};
use casebot_testkit::MotoServer;
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::FakeDingTalk;
use support_commands::{AwsSupport, AwsSupportConfig};

async fn store_on(moto: &MotoServer, table: &str) -> DynamoStore {
    let store = DynamoStore::new(&moto.sdk_config().await, table);
    store.create_table().await.unwrap();
    store
}

#[tokio::test]
async fn dynamo_store_keeps_the_store_contract() {
    let moto = MotoServer::start();
    let store = store_on(&moto, "casebot-state").await;
    assert!(store.claim("msg:a", 60_000).await.unwrap());
    assert!(!store.claim("msg:a", 60_000).await.unwrap(), "held");
    // moto never deletes expired items: the condition compares the expiry itself.
    assert!(store.claim("msg:expired", -1).await.unwrap());
    assert!(
        store.claim("msg:expired", 60_000).await.unwrap(),
        "an expired claim is free again"
    );
    let link = case_bot_core::CaseLink {
        conversation_id: "cid".into(),
        conversation_title: Some("运维值班".into()),
        opener_staff_id: Some("staff-1".into()),
        opener_nick: "张三".into(),
        created_at_ms: 1,
    };
    store.put_case("case-1", &link).await.unwrap();
    assert_eq!(store.case("case-1").await.unwrap(), Some(link));
    assert_eq!(store.case("case-2").await.unwrap(), None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for i in 0..3 {
        let record = case_bot_core::AuditRecord {
            at_ms: now + i,
            sender: "张三".into(),
            sender_staff_id: None,
            conversation_id: "cid".into(),
            command: format!("c{i}"),
            case_id: None,
            outcome: "ok".into(),
        };
        store.audit(&record).await.unwrap();
    }
    let recent: Vec<String> = store
        .recent_audit(2)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.command)
        .collect();
    assert_eq!(recent, ["c2", "c1"]);
}

#[tokio::test]
async fn fifty_handlers_sharing_one_table_create_one_case_and_send_one_reply() {
    let moto = MotoServer::start();
    let fake = FakeDingTalk::start().await.unwrap();
    let sdk = moto.sdk_config().await;
    let table = "casebot-shared";
    store_on(&moto, table).await;
    let secret = "dynamo-app-secret";
    let request = fake
        .callback("提工单\nsubject:once\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance")
        .msg_id("msg-fifty")
        .build("/dingtalk/callback", &AppSecret::new(secret));
    let (parts, body) = request.into_parts();
    let mut handles = Vec::new();
    for _ in 0..50 {
        // Independent instances, as 50 Lambda containers would be: own clients, own state.
        let support = AwsSupport::from_sdk_config(
            &sdk,
            AwsSupportConfig {
                max_attempts: Some(1),
                ..Default::default()
            },
        );
        let bot = CaseBot::builder(
            Arc::new(support),
            Arc::new(StaticSecrets::new(
                Secrets::from_json(&format!(r#"{{"app_secret":"{secret}"}}"#)).unwrap(),
            )),
        )
        .store(Arc::new(DynamoStore::new(&sdk, table)))
        .config(BotConfig {
            reply_before_response: true,
            ..BotConfig::default()
        })
        .api_base(fake.base_url())
        .build()
        .unwrap();
        let mut request = http::Request::new(Bytes::from(body.clone()));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.headers_mut() = parts.headers.clone();
        handles.push(tokio::spawn(async move {
            bot.handle(request).await.status().as_u16()
        }));
    }
    for handle in handles {
        assert_eq!(handle.await.unwrap(), 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cases = aws_sdk_support::Client::new(&sdk)
        .describe_cases()
        .include_resolved_cases(true)
        .send()
        .await
        .unwrap();
    assert_eq!(cases.cases().len(), 1, "exactly one case");
    assert_eq!(fake.messages().len(), 1, "exactly one reply");
}
