//! The echo example, run as a process: a signed callback from the fake DingTalk is echoed back
//! through the sessionWebhook; a badly signed one gets 401 and no reply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::FakeDingTalk;

const SECRET: &str = "echo-example-secret";

struct Robot(Child, String);

impl Drop for Robot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_robot(api_base: &str) -> Robot {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echo-robot"))
        .env("DINGTALK_APP_SECRET", SECRET)
        .env("DINGTALK_API_BASE", api_base)
        .env("ECHO_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    Robot(child, format!("http://{addr}/"))
}

async fn post(request: http::Request<Vec<u8>>) -> reqwest::StatusCode {
    let client = reqwest::Client::new();
    let (parts, body) = request.into_parts();
    client
        .post(parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn signed_callback_is_echoed_through_the_session_webhook() {
    let fake = FakeDingTalk::start().await.unwrap();
    let robot = start_robot(&fake.base_url());
    let request = fake
        .callback("你好 AWS")
        .build(&robot.1, &AppSecret::new(SECRET));
    assert_eq!(post(request).await, reqwest::StatusCode::OK);
    let got = fake.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text(), "echo: 你好 AWS");
}

#[tokio::test]
async fn badly_signed_callback_gets_401_and_no_reply() {
    let fake = FakeDingTalk::start().await.unwrap();
    let robot = start_robot(&fake.base_url());
    let request = fake
        .callback("hi")
        .build(&robot.1, &AppSecret::new("wrong secret"));
    assert_eq!(post(request).await, reqwest::StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn the_stream_echo_robot_answers_a_message_pushed_over_the_gateway() {
    let fake = FakeDingTalk::builder()
        .app(dingtalk_robot::testing::FakeApp::new("dingecho", SECRET))
        .start()
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stream-echo"))
        .env("DINGTALK_APP_KEY", "dingecho")
        .env("DINGTALK_APP_SECRET", SECRET)
        .env("DINGTALK_OPENAPI_BASE", fake.base_url())
        .env("DINGTALK_API_BASE", fake.base_url())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        fake.stream_wait(|f| f.stream_connections() == 1, Duration::from_secs(10))
            .await
    );
    assert!(fake.stream_push(&fake.callback("你好").json()).is_some());
    let got = fake.wait_for_messages(1, Duration::from_secs(10)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text(), "echo: 你好");
}
