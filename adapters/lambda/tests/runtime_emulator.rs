//! The built `bootstrap` under a local Lambda Runtime API (the protocol Lambda speaks to custom
//! runtimes: GET …/invocation/next, POST …/invocation/{id}/response), invoked over sockets with
//! an API Gateway v2 event; AWS is moto (Support extension, Secrets Manager, DynamoDB), DingTalk
//! is the fake.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use casebot_testkit::MotoServer;
use dingtalk_robot::AppSecret;
use dingtalk_robot::testing::FakeDingTalk;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::{Notify, mpsc};

const APP_SECRET: &str = "emulator-app-secret";

/// A minimal Runtime API: hands out queued events, collects responses.
struct RuntimeApi {
    events: Mutex<Vec<(String, String)>>,
    ready: Notify,
    first_poll: Mutex<Option<Instant>>,
    responses: mpsc::UnboundedSender<(String, String)>,
}

async fn serve(
    api: Arc<RuntimeApi>,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        api.first_poll
            .lock()
            .unwrap()
            .get_or_insert_with(Instant::now);
        loop {
            let next = api.events.lock().unwrap().pop();
            if let Some((id, event)) = next {
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 30_000;
                return hyper::Response::builder()
                    .header("Lambda-Runtime-Aws-Request-Id", id)
                    .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
                    .header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:casebot")
                    .header("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
                    .body(Full::new(Bytes::from(event)))
                    .unwrap();
            }
            api.ready.notified().await;
        }
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let Some(id) = path
        .strip_prefix("/2018-06-01/runtime/invocation/")
        .and_then(|p| p.strip_suffix("/response"))
    {
        let _ = api
            .responses
            .send((id.to_owned(), String::from_utf8_lossy(&body).into_owned()));
    } else {
        let _ = api.responses.send((
            "error".to_owned(),
            format!("{path}: {}", String::from_utf8_lossy(&body)),
        ));
    }
    hyper::Response::builder()
        .status(202)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}

#[tokio::test]
async fn built_function_answers_an_api_gateway_event_through_the_runtime_api() {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    // The SAM template creates the table in AWS; here the test does.
    case_bot_core::DynamoStore::new(&sdk, "casebot-emulator")
        .create_table()
        .await
        .unwrap();
    let fake = FakeDingTalk::start().await.unwrap();

    let (tx, mut responses) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(Vec::new()),
        ready: Notify::new(),
        first_poll: Mutex::new(None),
        responses: tx,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_addr = listener.local_addr().unwrap();
    let server_api = Arc::clone(&api);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let api = Arc::clone(&server_api);
            let service = service_fn(move |request| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(serve(api, request).await) }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .envs(moto.env())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "casebot")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/casebot")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("CASE_BOT_SUPPORT", "aws")
        .env("CASE_BOT_TABLE", "casebot-emulator")
        .env("DINGTALK_APP_SECRET", APP_SECRET)
        .env("DINGTALK_API_BASE", fake.base_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // An API Gateway v2 event carrying a signed DingTalk callback.
    let signed = fake
        .callback("提工单\nsubject:emulator\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance")
        .build("/dingtalk/callback", &AppSecret::new(APP_SECRET));
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/apigw_v2_event.json")).unwrap();
    event["headers"]["timestamp"] = signed.headers()["timestamp"].to_str().unwrap().into();
    event["headers"]["sign"] = signed.headers()["sign"].to_str().unwrap().into();
    event["body"] = String::from_utf8(signed.body().clone()).unwrap().into();
    api.events
        .lock()
        .unwrap()
        .push(("req-1".to_owned(), event.to_string()));
    api.ready.notify_waiters();

    let (id, response) = tokio::time::timeout(Duration::from_secs(30), responses.recv())
        .await
        .unwrap()
        .unwrap();
    let init = api
        .first_poll
        .lock()
        .unwrap()
        .map(|t| t.duration_since(started));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(id, "req-1", "{response}");
    let response: serde_json::Value = serde_json::from_str(&response).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    // Replied before the function returned, and the case is in moto.
    assert!(
        fake.messages()[0].text().starts_with("AWS-[创建工单成功]"),
        "{}",
        fake.messages()[0].text()
    );
    let cases = aws_sdk_support::Client::new(&sdk)
        .describe_cases()
        .send()
        .await
        .unwrap();
    assert_eq!(cases.cases()[0].subject(), Some("emulator"));
    eprintln!("init (process start to first poll of the Runtime API): {init:?}");
}
