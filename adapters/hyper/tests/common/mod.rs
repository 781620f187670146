//! Shared code of the `case-bot` process tests: starting the bot, talking to it, reading moto.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use casebot_testkit::{MotoServer, TempDir};
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::FakeDingTalk;

pub(crate) const APP_SECRET: &str = "e2e-app-secret";
pub(crate) const TOKEN: &str = "e2e-access-token";

pub(crate) struct Bot {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) base: String,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bot {
    pub(crate) fn stop_gracefully(mut self) {
        self.stop();
    }

    /// SIGTERM, then what the bot wrote to stderr (which must have been piped).
    pub(crate) fn stop_and_read_stderr(mut self) -> String {
        use std::io::Read as _;
        let mut stderr = self.child.stderr.take().unwrap();
        let reading = std::thread::spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).unwrap();
            text
        });
        self.stop();
        reading.join().unwrap()
    }

    /// `kill -9`, as a crash would.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to end by itself (a `--test-crash-at` abort).
    pub(crate) fn wait_for_exit(mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "the bot did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The status of `/healthz`.
    pub(crate) async fn health_status(&self) -> u16 {
        reqwest::get(format!("{}/healthz", self.base))
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// `/readyz` as JSON, with its status.
    pub(crate) async fn readyz(&self) -> (u16, serde_json::Value) {
        let response = reqwest::get(format!("{}/readyz", self.base)).await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    }
}

/// A state file in a directory of its own, removed when the test ends.
pub(crate) struct State(TempDir);

impl State {
    pub(crate) fn path(&self) -> PathBuf {
        self.0.path().join("state.db")
    }
}

pub(crate) fn temp_state(name: &str) -> State {
    State(TempDir::new(&format!("e2e-{name}")))
}

pub(crate) fn start_bot(
    fake: &FakeDingTalk,
    moto: Option<&MotoServer>,
    state: &State,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Bot {
    let mut command = Command::new(env!("CARGO_BIN_EXE_case-bot"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(state.path())
        .args([
            "--dingtalk-api-base",
            &fake.base_url(),
            "--dingtalk-retry-wait-ms",
            "200",
        ])
        .env("CASE_BOT_DINGTALK_BACKOFF_MS", "100")
        .args(extra)
        .env("DINGTALK_APP_SECRET", APP_SECRET)
        .env("DINGTALK_ACCESS_TOKEN", TOKEN)
        .env_remove("CASE_BOT_SUPPORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(moto) = moto {
        command.args(["--support", "aws"]).envs(moto.env());
    }
    for (k, v) in env {
        command.env(k, v);
    }
    spawn_bot(&mut command)
}

/// A bot on moto with `state` (`dynamodb:TABLE`, or a file).
pub(crate) fn start_bot_on(fake: &FakeDingTalk, moto: &MotoServer, state: &str) -> Bot {
    let mut command = Command::new(env!("CARGO_BIN_EXE_case-bot"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--support",
            "aws",
            "--state",
            state,
        ])
        .args(["--dingtalk-api-base", &fake.base_url()])
        .env("DINGTALK_APP_SECRET", APP_SECRET)
        .envs(moto.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    spawn_bot(&mut command)
}

/// Spawns `command` (a `case-bot serve` with stdout piped) and waits until it listens.
pub(crate) fn spawn_bot(command: &mut Command) -> Bot {
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on"), "bot did not start: {line:?}");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let base = url.trim_end_matches("/dingtalk/callback").to_owned();
    Bot { child, url, base }
}

/// The head of `request` as raw HTTP/1.1, with `framing` (e.g. a Content-Length line) added.
pub(crate) fn raw_head(request: &http::Request<Vec<u8>>, framing: &str) -> String {
    let mut head = format!("POST /dingtalk/callback HTTP/1.1\r\nHost: bot\r\n{framing}");
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str("\r\n");
    head
}

pub(crate) async fn post(request: http::Request<Vec<u8>>) -> (u16, String) {
    let (parts, body) = request.into_parts();
    let response = reqwest::Client::new()
        .post(parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub(crate) async fn say(fake: &FakeDingTalk, bot: &Bot, text: &str) -> String {
    say_as(fake, bot, ("张三", "staff-1"), text).await
}

/// Sends `text` from `sender` (nickname, staff id) in the ops group; returns the reply.
pub(crate) async fn say_as(
    fake: &FakeDingTalk,
    bot: &Bot,
    sender: (&str, &str),
    text: &str,
) -> String {
    let before = fake.messages().len();
    let request = fake
        .callback(text)
        .sender(sender.0, sender.1)
        .group("cidOps", "运维值班")
        .build(&bot.url, &AppSecret::new(APP_SECRET));
    let (status, body) = post(request).await;
    assert_eq!(status, 200, "{body}");
    let got = fake
        .wait_for_messages(before + 1, Duration::from_secs(15))
        .await;
    assert!(got.len() > before, "no reply to {text:?}");
    // Let the remaining parts of a long reply arrive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.messages()[before..]
        .iter()
        .map(|m| m.text().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) async fn support_client(moto: &MotoServer) -> aws_sdk_support::Client {
    aws_sdk_support::Client::new(&moto.sdk_config().await)
}

pub(crate) async fn moto_cases(moto: &MotoServer) -> Vec<aws_sdk_support::types::CaseDetails> {
    support_client(moto)
        .await
        .describe_cases()
        .include_resolved_cases(true)
        .include_communications(true)
        .send()
        .await
        .unwrap()
        .cases()
        .to_vec()
}

pub(crate) fn case_id_in(reply: &str) -> String {
    reply
        .split_whitespace()
        .find(|w| w.starts_with("case-"))
        .unwrap()
        .trim_end_matches("已释放")
        .to_owned()
}

/// Host and port of the bot's listener.
pub(crate) fn addr_of(bot: &Bot) -> String {
    bot.base.trim_start_matches("http://").to_owned()
}

/// The raw request `GET /healthz` on a keep-alive connection.
pub(crate) const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n";

/// Sends `GET /healthz` on `stream` and asserts that it is answered 200; the connection stays
/// open (keep-alive).
pub(crate) async fn healthz_on(stream: &mut tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream.write_all(HEALTHZ).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

/// Reads until the server closes the connection (or `limit` passes); returns what came and
/// when the connection closed.
pub(crate) async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: Duration,
) -> (Vec<u8>, std::time::Instant) {
    use tokio::io::AsyncReadExt as _;
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => return (got, std::time::Instant::now()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after {limit:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}
