//! The DynamoDB store on moto's DynamoDB: the store contract, expiry compared in code, and the
//! same callback delivered to 50 independent handlers sharing one table at once → one case,
//! one reply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use case_bot_core::{CallbackService, CaseBot, Config, DynamoStore, Secrets, StaticSecrets};
use casebot_testkit::MotoServer;
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::FakeDingTalk;
use http_body_util::Full;
use support_commands::{AwsSupport, AwsSupportConfig};
use tower::ServiceExt as _;

async fn store_on(moto: &MotoServer, table: &str) -> DynamoStore {
    let store = DynamoStore::new(&moto.sdk_config().await, table);
    store.create_table().await.unwrap();
    store
}

#[tokio::test]
async fn dynamo_store_keeps_the_store_contract() {
    let moto = MotoServer::start();
    let store = store_on(&moto, "casebot-state").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    common::store_contract(&store, i64::try_from(now).unwrap()).await;
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
        .config(Config {
            dingtalk_api_base: fake.base_url(),
            ..Config::default()
        })
        .build()
        .unwrap();
        let service = CallbackService::new(bot).reply_before_response(true);
        let mut request = http::Request::new(Full::new(Bytes::from(body.clone())));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.headers_mut() = parts.headers.clone();
        handles.push(tokio::spawn(async move {
            service.oneshot(request).await.unwrap().status().as_u16()
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

/// The query docs/deploy-lambda.md gives operators for the audit trail (`aws dynamodb query`
/// on `pk = audit#<UTC day>`, newest first, the `record` attribute's JSON) finds what the bot
/// wrote.
#[tokio::test]
async fn the_documented_audit_query_reads_the_newest_records_of_the_day() {
    use case_bot_core::{AuditRecord, AuditStore};
    let moto = MotoServer::start();
    let store = store_on(&moto, "casebot-audit").await;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    for (i, command) in ["lookup", "create"].into_iter().enumerate() {
        store
            .audit(AuditRecord {
                at_ms: now + i64::try_from(i).unwrap(),
                sender: "张三".into(),
                sender_staff_id: Some("staff-1".into()),
                conversation_id: "cidOps".into(),
                command: command.into(),
                case_id: None,
                outcome: "ok".into(),
                claim_key: Some(format!("msg:{i}")),
            })
            .await
            .unwrap();
    }
    let day = &support_commands::iso8601(u64::try_from(now).unwrap())[..10];
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let items = client
        .query()
        .table_name("casebot-audit")
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("audit#{day}")),
        )
        .scan_index_forward(false)
        .limit(20)
        .send()
        .await
        .unwrap();
    let commands: Vec<String> = items
        .items()
        .iter()
        .map(|item| {
            let json = item["record"].as_s().unwrap();
            serde_json::from_str::<serde_json::Value>(json).unwrap()["command"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(commands, ["create", "lookup"]);
}
