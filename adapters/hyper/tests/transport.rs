//! The `case-bot serve` transport over real sockets: read timeouts, the body timeout, the
//! connection caps (global and per address, against slow clients), start-up messages and
//! request logs, chunked bodies, graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::FakeDingTalk;

#[tokio::test]
async fn connections_that_make_no_progress_are_closed_after_the_read_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("stall");
    let bot = start_bot(&fake, None, &state, &["--read-timeout-ms", "400"], &[]);
    let addr = addr_of(&bot);
    let opened = std::time::Instant::now();

    // Connects and sends nothing.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Drips half a request head, then stops (slowloris).
    let mut dripping = tokio::net::TcpStream::connect(&addr).await.unwrap();
    dripping
        .write_all(b"POST /dingtalk/callback HTTP/1.1\r\nHost: bot\r\n")
        .await
        .unwrap();
    // Sends a whole request, reads the answer, then stays idle on keep-alive.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(HEALTHZ).await.unwrap();

    for (name, stream) in [
        ("silent", &mut silent),
        ("dripping", &mut dripping),
        ("idle", &mut idle),
    ] {
        let (got, closed) = read_until_closed(stream, Duration::from_secs(5)).await;
        let after = closed - opened;
        assert!(
            after >= Duration::from_millis(300),
            "{name}: closed after {after:?}, before the 400 ms timeout"
        );
        if name == "idle" {
            assert!(got.starts_with(b"HTTP/1.1 200"), "{name}: answered first");
        } else {
            assert!(
                got.is_empty(),
                "{name}: nothing sent back: {:?}",
                String::from_utf8_lossy(&got)
            );
        }
    }
    // A keep-alive connection that keeps sending requests stays open across many timeouts.
    let mut busy = tokio::net::TcpStream::connect(&addr).await.unwrap();
    for _ in 0..8 {
        healthz_on(&mut busy).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The server is unharmed.
    let health = reqwest::get(format!("{}/healthz", bot.base)).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408() {
    use tokio::io::AsyncWriteExt as _;
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("slowbody");
    let bot = start_bot(&fake, None, &state, &["--read-timeout-ms", "300"], &[]);
    let mut stream = tokio::net::TcpStream::connect(addr_of(&bot)).await.unwrap();
    stream
        .write_all(b"POST /dingtalk/callback HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"msgtype\":")
        .await
        .unwrap();
    let (got, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("body read timed out"), "{got}");
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("cap");
    let bot = start_bot(
        &fake,
        None,
        &state,
        &["--max-connections", "1", "--max-connections-per-ip", "0"],
        &[],
    );
    let addr = addr_of(&bot);

    let mut first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    healthz_on(&mut first).await;

    let mut second = tokio::net::TcpStream::connect(&addr).await.unwrap();
    second.write_all(HEALTHZ).await.unwrap();
    let mut buf = [0u8; 1024];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), second.read(&mut buf))
            .await
            .is_err(),
        "a second connection is not served while the first holds the only slot"
    );
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf))
        .await
        .expect("served once the first connection closed")
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test]
async fn start_up_warnings_and_json_request_logs_carry_the_span_fields_but_no_message_text() {
    const DEV_SECRET: &str = "casebot-development-secret-not-for-production";
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("logs");
    let bot = spawn_bot(
        Command::new(env!("CARGO_BIN_EXE_case-bot"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--state",
            ])
            .arg(state.path())
            .args(["--dingtalk-api-base", &fake.base_url()])
            .env("CASE_BOT_LOG", "info")
            .env_remove("DINGTALK_APP_SECRET")
            .env_remove("CASE_BOT_SUPPORT")
            .env_remove("CASE_BOT_ALLOWED_CONVERSATIONS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let secret_words = "zzunusualqueryzz";
    let (status, _) = post(
        fake.callback(format!("查找ServiceCode: {secret_words}"))
            .group("cidLogs", "日志群")
            .build(&bot.url, &AppSecret::new(DEV_SECRET)),
    )
    .await;
    assert_eq!(
        status, 200,
        "sandbox without a secret uses the development one"
    );
    fake.wait_for_messages(1, Duration::from_secs(10)).await;
    // The test's runtime also runs the fake DingTalk, so wait for the exit off it.
    let stderr = tokio::task::spawn_blocking(move || bot.stop_and_read_stderr())
        .await
        .unwrap();

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let message = |l: &serde_json::Value| l["fields"]["message"].as_str().unwrap_or("").to_owned();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && message(l).contains("DEVELOPMENT app secret")),
        "start-up says the development secret is in use: {stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && message(l).contains("allow-list")),
        "start-up warns that there is no allow-list: {stderr}"
    );
    // The HTTP answer goes out at once ("handled"); the command runs and replies after
    // ("replied"), in the same request span.
    let handled = lines
        .iter()
        .find(|l| message(l) == "handled")
        .unwrap_or_else(|| panic!("no line for the request: {stderr}"));
    assert_eq!(handled["span"]["status"], 200, "{handled}");
    assert_eq!(handled["span"]["conversation"], "cidLogs", "{handled}");
    assert!(handled["span"]["latency_ms"].is_u64(), "{handled}");
    let replied = lines
        .iter()
        .find(|l| message(l) == "processed")
        .unwrap_or_else(|| panic!("no line for the reply: {stderr}"));
    let span = &replied["span"];
    assert_eq!(span["id"], handled["span"]["id"], "one span per request");
    assert_eq!(span["command"], "lookup", "{replied}");
    assert_eq!(span["outcome"], "no-match", "{replied}");
    assert!(replied["fields"]["latency_ms"].is_u64(), "{replied}");
    assert!(
        !stderr.contains(secret_words),
        "the message text stays out of the logs at info: {stderr}"
    );
    assert!(!stderr.contains(DEV_SECRET), "no secret in the logs");
}

#[tokio::test]
async fn chunked_bodies_are_joined_limited_and_checked() {
    use tokio::io::AsyncWriteExt as _;
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("chunked");
    let bot = start_bot(&fake, None, &state, &["--reply", "response"], &[]);
    let addr = addr_of(&bot);
    let request = fake
        .callback("查找ServiceCode: ec2")
        .build(&bot.url, &AppSecret::new(APP_SECRET));
    let head = raw_head(
        &request,
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
    );
    let chunked = |chunks: &[&[u8]]| {
        let mut out = head.clone().into_bytes();
        for chunk in chunks {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    };
    let send = |bytes: Vec<u8>| {
        let addr = addr.clone();
        async move {
            use tokio::io::AsyncReadExt as _;
            let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let (mut reader, mut writer) = stream.into_split();
            // Read while writing: the server may answer and close before the end (413), and
            // an answer left unread when its reset arrives would be lost.
            let reading = tokio::spawn(async move {
                let mut got = Vec::new();
                let _ = reader.read_to_end(&mut got).await;
                got
            });
            // In pieces, so the body arrives in several reads.
            for piece in bytes.chunks(256) {
                if writer.write_all(piece).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let got = tokio::time::timeout(Duration::from_secs(10), reading)
                .await
                .expect("the server closes the connection")
                .unwrap();
            String::from_utf8_lossy(&got).into_owned()
        }
    };

    // A signed callback in three chunks: joined, verified and answered.
    let body = request.body();
    let third = body.len() / 3;
    let answer = send(chunked(&[
        &body[..third],
        &body[third..2 * third],
        &body[2 * third..],
    ]))
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("amazon-elastic-compute-cloud-linux"),
        "{answer}"
    );

    // Over 64 KiB without a Content-Length: 413 once the limit is passed.
    let big = vec![b' '; 40 * 1024];
    let answer = send(chunked(&[&big, &big])).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // A broken chunk size: 400, not 413.
    let mut broken = head.clone().into_bytes();
    broken.extend_from_slice(b"zz\r\nnot a chunk\r\n0\r\n\r\n");
    let answer = send(broken).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_and_closes_idle_connections() {
    use tokio::io::AsyncWriteExt as _;
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("graceful");
    let bot = start_bot(&fake, None, &state, &["--reply", "response"], &[]);
    let addr = addr_of(&bot);

    // A keep-alive connection that has been answered and now waits.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    healthz_on(&mut idle).await;

    // A request whose body is still arriving when the signal comes.
    let request = fake
        .callback("帮助")
        .build(&bot.url, &AppSecret::new(APP_SECRET));
    let head = raw_head(
        &request,
        &format!("Content-Length: {}\r\n", request.body().len()),
    );
    let (first, rest) = request.body().split_at(request.body().len() / 2);
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let signalled = std::time::Instant::now();
    let stopped = tokio::task::spawn_blocking(move || bot.stop_gracefully());
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.write_all(rest).await.unwrap();
    let (answer, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("查找ServiceCode:"),
        "the help, in full: {answer}"
    );
    let (rest_of_idle, _) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(rest_of_idle.is_empty());
    stopped.await.unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "no open connection holds the exit up: {:?}",
        signalled.elapsed()
    );
}

/// Holds a connection from `ip` open by dripping a request head one byte at a time, and opens
/// a new one whenever the server closes it, until `stop` is set. Counts the connections the
/// server refused or closed.
async fn slowloris(
    ip: std::net::Ipv4Addr,
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    closed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    use tokio::io::AsyncWriteExt as _;
    const HEAD: &[u8] = b"POST /dingtalk/callback HTTP/1.1\r\nHost: bot\r\nX-Slow: ";
    while !stop.load(Ordering::Relaxed) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((ip, 0).into()).unwrap();
        let Ok(mut stream) = socket.connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        for byte in HEAD.iter().cycle() {
            if stop.load(Ordering::Relaxed) || stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn slow_clients_from_other_addresses_cannot_keep_a_callback_waiting() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let fake = FakeDingTalk::start().await.unwrap();
    let state = temp_state("slowloris");
    // The default per-address cap is a quarter of the connections: 12 of 50.
    let bot = start_bot(
        &fake,
        None,
        &state,
        &["--max-connections", "50", "--reply", "response"],
        &[],
    );
    let addr: std::net::SocketAddr = addr_of(&bot).parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let closed = Arc::new(AtomicUsize::new(0));
    // 60 reconnecting slow clients, 30 from each of two addresses other than the callback's.
    let attackers: Vec<_> = (0..60)
        .map(|i| {
            let ip = std::net::Ipv4Addr::new(127, 0, 0, if i % 2 == 0 { 2 } else { 3 });
            tokio::spawn(slowloris(ip, addr, Arc::clone(&stop), Arc::clone(&closed)))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    for _ in 0..5 {
        let request = fake
            .callback("帮助")
            .build(&bot.url, &AppSecret::new(APP_SECRET));
        let started = std::time::Instant::now();
        let (status, body) = post(request).await;
        let took = started.elapsed();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("查找ServiceCode:"), "the help: {body}");
        assert!(
            took < Duration::from_secs(1),
            "a callback waited {took:?} behind slow clients"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        closed.load(Ordering::Relaxed) > 0,
        "connections over the per-address cap were refused"
    );
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.await.unwrap();
    }
}
