//! Stream mode figures for `case-bot serve --mode stream` (sandbox backend, SQLite state)
//! against the fake Stream gateway on loopback:
//!
//! 1. frame pushed → ACK received, over 1,000 help frames (median, p99, max);
//! 2. reconnect time after a `disconnect` (the new connection open), over 10 disconnects;
//! 3. the process's RSS while its connection idles, sampled every 30 s for N minutes.
//!
//! Run with `scripts/stream-figures [idle-minutes]` (default 10).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dingtalk_robot::testing::{FakeApp, FakeDingTalk};

const KEY: &str = "dingfigures";
const SECRET: &str = "figures-secret";

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let idle_minutes: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let fake = FakeDingTalk::builder()
        .app(FakeApp::new(KEY, SECRET))
        .rate_limit(1_000_000, Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("case-bot");
    let state =
        std::env::temp_dir().join(format!("casebot-stream-figures-{}.db", std::process::id()));
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--mode",
            "stream",
            "--state",
        ])
        .arg(&state)
        .env("DINGTALK_APP_SECRET", SECRET)
        .env("DINGTALK_APP_KEY", KEY)
        .env("DINGTALK_OPENAPI_BASE", fake.base_url())
        .env("DINGTALK_API_BASE", fake.base_url())
        .env("CASE_BOT_STREAM_BACKOFF_MS", "200")
        .env("CASE_BOT_WATCH_INTERVAL", "0")
        .env("CASE_BOT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "{line}");
    assert!(
        fake.stream_wait(|f| f.stream_connections() == 1, Duration::from_secs(10))
            .await
    );

    // 1. Frame → ACK.
    let mut latencies = Vec::with_capacity(1_000);
    for i in 0..1_000 {
        let data = fake
            .callback("帮助")
            .group(format!("cidFigures{i}"), "figures")
            .msg_id(format!("figures-{i}"))
            .json();
        let pushed = Instant::now();
        let id = fake.stream_push(&data).unwrap();
        assert!(
            fake.stream_wait(
                |f| f.stream_acks().iter().any(|a| a.message_id == id),
                Duration::from_secs(10)
            )
            .await
        );
        let ack = fake
            .stream_acks()
            .into_iter()
            .find(|a| a.message_id == id)
            .unwrap();
        latencies.push(ack.at.duration_since(pushed));
    }
    latencies.sort();
    println!(
        "frame → ACK over {} help frames: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3
    );

    // 2. Reconnect after `disconnect`.
    let mut reconnects = Vec::new();
    for _ in 0..10 {
        let tickets = fake.stream_tickets();
        let asked = Instant::now();
        fake.stream_disconnect(Duration::from_secs(1));
        assert!(
            fake.stream_wait(
                |f| f.stream_tickets() > tickets && f.stream_connections() >= 1,
                Duration::from_secs(10)
            )
            .await
        );
        reconnects.push(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
    reconnects.sort();
    println!(
        "reconnect after disconnect over {} disconnects: median {:.1} ms, max {:.1} ms",
        reconnects.len(),
        percentile(&reconnects, 0.5).as_secs_f64() * 1e3,
        reconnects[reconnects.len() - 1].as_secs_f64() * 1e3
    );

    // 3. Idle RSS.
    let pid = child.id();
    let mut samples = Vec::new();
    for _ in 0..=(idle_minutes * 2) {
        samples.push(rss_kib(pid));
        println!(
            "idle RSS at {:>4} s: {} KiB",
            (samples.len() - 1) * 30,
            samples[samples.len() - 1]
        );
        if samples.len() as u64 > idle_minutes * 2 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    println!(
        "idle RSS over {idle_minutes} min: first {} KiB, last {} KiB, min {} KiB, max {} KiB; connection still open: {}",
        samples[0],
        samples[samples.len() - 1],
        samples.iter().min().unwrap(),
        samples.iter().max().unwrap(),
        fake.stream_connections() == 1
    );
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_file(&state);
}
