//! Parsing any command (target ≤ 2 µs median) and service lookup over the whole catalogue
//! (target ≤ 20 µs median), and building the index over the catalogue.
//!
//! Run with `cargo bench -p support-commands --bench grammar`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use support_commands::{ServiceIndex, catalogue, parse};

fn bench(c: &mut Criterion) {
    let messages = [
        ("lookup", "查找ServiceCode: ec2"),
        (
            "create",
            "提工单\nsubject:EC2 实例无法连接\nbody:i-0abc 从 10:00 起 SSH 超时\nseverityCode:high\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:instance-issue",
        ),
        (
            "resolve",
            "释放case,case_id:case-111122223333-muen-2022-7118885805350839",
        ),
        (
            "reply",
            "回复 case-111122223333-muen-2022-7118885805350839\n已按建议重启，问题依旧。\ncc: ops@example.com",
        ),
        ("list", "工单列表 全部"),
        ("help", "你好，请问怎么提工单？"),
    ];
    for (name, text) in messages {
        c.bench_function(&format!("parse {name}"), |b| {
            b.iter(|| parse(black_box(text)))
        });
    }
    c.bench_function("index the catalogue", |b| {
        b.iter(|| ServiceIndex::new(black_box(catalogue())))
    });
    let index = ServiceIndex::new(catalogue());
    for query in [
        "ec2",
        "Elastic Load Balancing",
        "负载均衡",
        "数据库",
        "kubernetes",
        "cloudfrnt",
    ] {
        c.bench_function(&format!("lookup {query}"), |b| {
            b.iter(|| index.search(black_box(query), 5).len())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
