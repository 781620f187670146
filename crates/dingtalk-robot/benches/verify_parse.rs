//! `verify + parse` of a typical 1 KB group callback (target: ≤ 5 µs median).
//!
//! Run with `cargo bench -p dingtalk-robot --bench verify_parse`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dingtalk_robot::{AppSecret, CallbackVerifier, InboundMessage, sign};

const SECRET: &str = "dGVzdF9hcHBfc2VjcmV0X2Zvcl9kaW5ndGFsaw_secret_64_chars_long_xxxx";

fn body() -> Vec<u8> {
    let text = include_str!("../tests/fixtures/text_group.json");
    let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
    // A realistic create-case message brings the body to about 1 KB.
    value["text"]["content"] = serde_json::Value::String(
        " 提工单\nsubject:EC2 实例无法启动\nbody:i-0abc 在 us-east-1 启动后立即停止\nseverityCode:high\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:instance-issue".into(),
    );
    serde_json::to_vec(&value).unwrap()
}

fn bench(c: &mut Criterion) {
    let body = body();
    let timestamp = "1613630252678";
    let signature = sign(SECRET, timestamp);
    let verifier = CallbackVerifier::new(AppSecret::new(SECRET));
    let now = 1_613_630_253_000;
    let label = format!("verify + parse ({} B group callback)", body.len());

    c.bench_function(&label, |b| {
        b.iter(|| {
            verifier
                .verify_at(Some(black_box(timestamp)), Some(black_box(&signature)), now)
                .unwrap();
            let msg = InboundMessage::from_json(black_box(&body)).unwrap();
            black_box(msg.command_text().map(str::len))
        });
    });
    c.bench_function("verify only", |b| {
        b.iter(|| verifier.verify_at(Some(black_box(timestamp)), Some(black_box(&signature)), now))
    });
    c.bench_function("parse only", |b| {
        b.iter(|| InboundMessage::from_json(black_box(&body)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
