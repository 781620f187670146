//! The callback service per request, without sockets: signed help and lookup callbacks, each
//! with its own msgId, reply in the HTTP response, sandbox backend; with the in-memory store
//! and with the SQLite store (each claim and audit row committed before the answer, as in
//! `case-bot serve`). This is the bot's own share of `scripts/load`, measured without the
//! kernel and hyper.
//!
//! Run with `cargo bench -p case-bot-core --bench handle`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use case_bot_core::{
    CallbackService, CaseBot, Config, MemoryStore, ReplyMode, Secrets, SqliteStore, StaticSecrets,
    Store,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::FakeDingTalk;
use http_body_util::Full;
use support_commands::Sandbox;
use tower::ServiceExt as _;

/// The allocator of `case-bot serve`, so the figures match the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "bench-secret";
static N: AtomicU64 = AtomicU64::new(0);

fn bot(store: Arc<dyn Store>) -> CaseBot {
    CaseBot::builder(
        Arc::new(Sandbox::new()),
        Arc::new(StaticSecrets::new(
            Secrets::from_json(&format!(r#"{{"app_secret":"{SECRET}"}}"#)).unwrap(),
        )),
    )
    .store(store)
    .config(Config {
        reply: ReplyMode::Response,
        ..Config::default()
    })
    .build()
    .unwrap()
}

fn request(fake: &FakeDingTalk, text: &str) -> http::Request<Full<Bytes>> {
    let id = N.fetch_add(1, Ordering::Relaxed);
    fake.callback(text)
        .msg_id(format!("bench-{id:010}"))
        .build("/dingtalk/callback", &AppSecret::new(SECRET))
        .map(|body| Full::new(Bytes::from(body)))
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = runtime.block_on(FakeDingTalk::start()).unwrap();
    let dir = std::env::temp_dir().join(format!("casebot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stores: [(&str, Arc<dyn Store>); 2] = [
        ("memory", Arc::new(MemoryStore::default())),
        (
            "sqlite",
            Arc::new(SqliteStore::open(dir.join("state.db")).unwrap()),
        ),
    ];
    for (store_name, store) in stores {
        let bot = bot(store);
        let service = CallbackService::new(bot.clone());
        for (name, text) in [("help", "帮助"), ("lookup", "查找ServiceCode: ec2")] {
            c.bench_function(&format!("handle {name}, {store_name} store"), |b| {
                b.iter_batched(
                    || request(&fake, text),
                    |request| {
                        let response = runtime
                            .block_on(service.clone().oneshot(request))
                            .unwrap_or_else(|never| match never {});
                        assert_eq!(response.status(), 200);
                        response
                    },
                    BatchSize::SmallInput,
                );
            });
        }
        runtime.block_on(bot.drain(std::time::Duration::from_secs(10)));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
