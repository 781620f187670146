//! How long an AWS answer takes to reach the group: the time from a reply added in moto (the
//! Support extension's engineer reply) to the pushed message at the fake DingTalk, with the
//! server's watcher polling every 5 s. Prints the median and the maximum over 20 replies.
//!
//! Run with `scripts/push-latency` (it starts moto from the repo's venv).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use case_bot_core::{CaseBot, Config, Delivery, MemoryStore, ReplyMode, Secrets, StaticSecrets};
use casebot_testkit::MotoServer;
use dingtalk_robot::InboundMessage;
use dingtalk_robot::testing::{FakeApp, FakeDingTalk};
use support_commands::{AwsSupport, AwsSupportConfig};

const REPLIES: usize = 20;

#[tokio::main]
async fn main() {
    let interval: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let moto = MotoServer::start();
    let aws = AwsSupport::from_sdk_config(&moto.sdk_config().await, AwsSupportConfig::default());
    let fake = FakeDingTalk::builder()
        .app(FakeApp::new("dinglatency", "secret"))
        .start()
        .await
        .unwrap();
    let mut config = Config {
        reply: ReplyMode::Response,
        ..Config::default()
    };
    config.notify.dingtalk_openapi_base = fake.base_url();
    config.notify.watch_interval = Duration::from_secs(interval);
    let secrets = Secrets::from_json(r#"{"app_secret":"secret","app_key":"dinglatency"}"#).unwrap();
    let bot = CaseBot::builder(Arc::new(aws), Arc::new(StaticSecrets::new(secrets)))
        .store(Arc::new(MemoryStore::default()))
        .config(config)
        .build()
        .unwrap();
    bot.start();
    let create = "提工单\nsubject:latency\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other";
    let msg = InboundMessage::from_json(
        fake.callback(create)
            .group("cidLatency", "延迟")
            .json()
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let outcome = bot.on_message(msg).await;
    assert!(matches!(outcome.delivery, Delivery::Inline { .. }));
    let case = outcome.case_id.unwrap();
    let mut latencies = Vec::with_capacity(REPLIES);
    for i in 0..REPLIES {
        // Replies land at different points of the poll cycle.
        tokio::time::sleep(Duration::from_millis(700 * (i as u64 % 7))).await;
        let before = fake.messages().len();
        let started = Instant::now();
        moto.engineer_reply(&case, &format!("answer {i}")).unwrap();
        let got = fake
            .wait_for_messages(before + 1, Duration::from_secs(interval * 3))
            .await;
        assert!(got.len() > before, "answer {i} did not arrive");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let median = (latencies[REPLIES / 2 - 1] + latencies[REPLIES / 2]) / 2;
    println!(
        "{REPLIES} replies, watch interval {interval} s: median {:.2} s, max {:.2} s, min {:.2} s",
        median.as_secs_f64(),
        latencies[REPLIES - 1].as_secs_f64(),
        latencies[0].as_secs_f64()
    );
}
