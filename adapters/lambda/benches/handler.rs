//! Per-invoke handler time for help and lookup on the sandbox backend (target ≤ 1 ms):
//! `case_bot_lambda::App` on an API Gateway v2 request, reply in the HTTP response (no
//! network), and with the reply posted to a fake DingTalk on loopback before returning.
//!
//! Also the events function's time per EventBridge "Support Case Update" event
//! (`case_bot_lambda::on_event`) for a followed case: with nothing new (a redelivery), and with
//! one new AWS answer pushed to a loopback DingTalk before it returns.
//!
//! Run with `cargo bench -p case-bot-lambda --bench handler`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use case_bot_core::{CaseBot, Config, MemoryStore, ReplyMode, Secrets, StaticSecrets};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dingtalk_robot::testing::FakeDingTalk;
use dingtalk_robot::{AppSecret, Sender};
use support_commands::Sandbox;
use tower::ServiceExt as _;

const SECRET: &str = "bench-secret";
static N: AtomicU64 = AtomicU64::new(0);

fn bot(fake: &FakeDingTalk, mode: ReplyMode) -> CaseBot {
    CaseBot::builder(
        Arc::new(Sandbox::new()),
        Arc::new(StaticSecrets::new(
            Secrets::from_json(&format!(r#"{{"app_secret":"{SECRET}"}}"#)).unwrap(),
        )),
    )
    .store(Arc::new(MemoryStore::default()))
    .sender(Sender::builder().api_base(fake.base_url()).build().unwrap())
    .config(Config {
        reply: mode,
        ..Config::default()
    })
    .build()
    .unwrap()
}

fn event(fake: &FakeDingTalk, text: &str) -> lambda_http::Request {
    let id = N.fetch_add(1, Ordering::Relaxed);
    let signed = fake
        .callback(text)
        .msg_id(format!("bench-{id}"))
        .build("/dingtalk/callback", &AppSecret::new(SECRET));
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/apigw_v2_event.json")).unwrap();
    event["headers"]["timestamp"] = signed.headers()["timestamp"].to_str().unwrap().into();
    event["headers"]["sign"] = signed.headers()["sign"].to_str().unwrap().into();
    event["body"] = String::from_utf8(signed.body().clone()).unwrap().into();
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = runtime.block_on(FakeDingTalk::start()).unwrap();
    for (mode, label) in [
        (ReplyMode::Response, "in response"),
        (ReplyMode::Session, "posted to loopback DingTalk"),
    ] {
        let app = case_bot_lambda::App::new(bot(&fake, mode));
        for (name, text) in [("help", "帮助"), ("lookup", "查找ServiceCode: ec2")] {
            c.bench_function(&format!("handle {name}, reply {label}"), |b| {
                b.iter_batched(
                    || event(&fake, text),
                    |request| runtime.block_on(app.clone().oneshot(request)).unwrap(),
                    BatchSize::SmallInput,
                );
            });
        }
    }
}

/// The events function on one followed case of the sandbox (its engineer answers at once).
fn bench_case_events(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = runtime
        .block_on(
            FakeDingTalk::builder()
                .app(dingtalk_robot::testing::FakeApp::new("dingbench", SECRET))
                .rate_limit(1_000_000, std::time::Duration::from_secs(60))
                .start(),
        )
        .unwrap();
    let sandbox = Arc::new(Sandbox::with_config(support_commands::SandboxConfig {
        engineer_reply_after: std::time::Duration::ZERO,
        ..support_commands::SandboxConfig::default()
    }));
    let mut config = Config {
        reply: ReplyMode::Response,
        messages_per_minute: 1_000_000,
        ..Config::default()
    };
    config.notify.watch_interval = std::time::Duration::ZERO;
    let store = Arc::new(MemoryStore::default());
    let bot = CaseBot::builder(
        Arc::clone(&sandbox) as Arc<dyn support_commands::SupportApi>,
        Arc::new(StaticSecrets::new(
            Secrets::from_json(&format!(
                r#"{{"app_secret":"{SECRET}","app_key":"dingbench"}}"#
            ))
            .unwrap(),
        )),
    )
    .store(Arc::clone(&store) as Arc<dyn case_bot_core::Store>)
    .sender(
        Sender::builder()
            .api_base(fake.base_url())
            .openapi_base(fake.base_url())
            .rate_limit(dingtalk_robot::RateLimit::new(
                1_000_000,
                std::time::Duration::from_secs(60),
            ))
            .build()
            .unwrap(),
    )
    .config(config)
    .build()
    .unwrap();
    let create = "提工单\nsubject:bench\nbody:b\nseverityCode:low\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:other";
    let msg = dingtalk_robot::InboundMessage::from_json(
        fake.callback(create).json().to_string().as_bytes(),
    )
    .unwrap();
    let outcome = runtime.block_on(bot.on_message(msg));
    let case = outcome.case_id.unwrap();
    let support_event = serde_json::json!({
        "source": "aws.support", "detail-type": "Support Case Update",
        "detail": {"case-id": case, "event-name": "AddCommunicationToCase", "origin": "AWS"}
    });
    runtime
        .block_on(case_bot_lambda::on_event(&bot, support_event.clone()))
        .unwrap();
    c.bench_function("case event, nothing new", |b| {
        b.iter(|| {
            runtime
                .block_on(case_bot_lambda::on_event(&bot, support_event.clone()))
                .unwrap()
        });
    });
    let id = support_commands::CaseId::new_unchecked(case.as_str());
    c.bench_function("case event, one AWS answer pushed", |b| {
        b.iter_batched(
            // A customer message: the sandbox engineer answers it at once. (Sent entries are
            // pruned, as the hourly upkeep does, so the memory store's outbox stays small.)
            || {
                runtime
                    .block_on(case_bot_core::Store::prune(&*store, i64::MAX, 0))
                    .unwrap();
                runtime
                    .block_on(support_commands::SupportApi::add_communication(
                        &*sandbox,
                        &id,
                        // Unique: two identical messages in the same millisecond are one.
                        &format!("more {}", N.fetch_add(1, Ordering::Relaxed)),
                        &[],
                    ))
                    .unwrap();
            },
            |()| {
                let summary = runtime
                    .block_on(case_bot_lambda::on_event(&bot, support_event.clone()))
                    .unwrap();
                assert_eq!(
                    (&summary["messages"], &summary["delivered"]),
                    (&1.into(), &true.into()),
                    "{summary}"
                );
                summary
            },
            BatchSize::PerIteration,
        );
    });
}

criterion_group!(benches, bench, bench_case_events);
criterion_main!(benches);
