//! Per-invoke handler time for help and lookup on the sandbox backend (target ≤ 1 ms):
//! `case_bot_lambda::App` on an API Gateway v2 request, reply in the HTTP response (no
//! network), and with the reply posted to a fake DingTalk on loopback before returning.
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

criterion_group!(benches, bench);
criterion_main!(benches);
