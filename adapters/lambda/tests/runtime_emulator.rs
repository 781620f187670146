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

/// A Runtime API on a local port: the API, the responses, the address.
async fn runtime_api() -> (
    Arc<RuntimeApi>,
    mpsc::UnboundedReceiver<(String, String)>,
    std::net::SocketAddr,
) {
    let (tx, responses) = mpsc::unbounded_channel();
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
    (api, responses, runtime_addr)
}

/// The built `bootstrap` on `runtime`, with the function's settings and `env`.
fn bootstrap(
    moto: &MotoServer,
    fake: &FakeDingTalk,
    runtime: std::net::SocketAddr,
    table: &str,
    env: &[(&str, &str)],
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .envs(moto.env())
        .env("AWS_LAMBDA_RUNTIME_API", runtime.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "casebot")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/casebot")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("CASE_BOT_SUPPORT", "aws")
        .env("CASE_BOT_TABLE", table)
        .env("DINGTALK_APP_SECRET", APP_SECRET)
        .env("DINGTALK_API_BASE", fake.base_url())
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// An API Gateway v2 event carrying a signed DingTalk callback.
fn callback_event(fake: &FakeDingTalk, text: &str) -> String {
    let signed = fake
        .callback(text)
        .build("/dingtalk/callback", &AppSecret::new(APP_SECRET));
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/apigw_v2_event.json")).unwrap();
    event["headers"]["timestamp"] = signed.headers()["timestamp"].to_str().unwrap().into();
    event["headers"]["sign"] = signed.headers()["sign"].to_str().unwrap().into();
    event["body"] = String::from_utf8(signed.body().clone()).unwrap().into();
    event.to_string()
}

/// Queues `event` as invocation `id` and waits for its response.
async fn invoke(
    api: &RuntimeApi,
    responses: &mut mpsc::UnboundedReceiver<(String, String)>,
    id: &str,
    event: String,
) -> serde_json::Value {
    api.events.lock().unwrap().push((id.to_owned(), event));
    api.ready.notify_waiters();
    let (answered, response) = tokio::time::timeout(Duration::from_secs(30), responses.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answered, id, "{response}");
    serde_json::from_str(&response).unwrap()
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
    let (api, mut responses, runtime) = runtime_api().await;
    let started = Instant::now();
    let mut child = bootstrap(&moto, &fake, runtime, "casebot-emulator", &[]);
    let event = callback_event(
        &fake,
        "提工单\nsubject:emulator\nbody:b\nseverityCode:low\nserviceCode:aws-lambda\ncategoryCode:general-guidance",
    );
    let response = invoke(&api, &mut responses, "req-1", event).await;
    let init = api
        .first_poll
        .lock()
        .unwrap()
        .map(|t| t.duration_since(started));
    let _ = child.kill();
    let _ = child.wait();
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

#[tokio::test]
async fn the_scheduled_sweep_sends_the_reply_a_callback_invocation_could_not() {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    case_bot_core::DynamoStore::new(&sdk, "casebot-sweep")
        .create_table()
        .await
        .unwrap();
    let fake = FakeDingTalk::start().await.unwrap();
    // Lambda freezes the function after its answer (here: the test kills it) before the retry.
    let env = [("CASE_BOT_DINGTALK_BACKOFF_MS", "2000")];

    // The callback function: DingTalk answers 500, the reply stays in the table's outbox.
    let (api, mut responses, runtime) = runtime_api().await;
    let mut callback = bootstrap(&moto, &fake, runtime, "casebot-sweep", &env);
    fake.fail_next(1);
    let response = invoke(&api, &mut responses, "req-1", callback_event(&fake, "帮助")).await;
    let _ = callback.kill();
    let _ = callback.wait();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert!(fake.messages().is_empty());
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // The sweep function, on its schedule, sends it.
    let (api, mut responses, runtime) = runtime_api().await;
    let mut sweep = bootstrap(
        &moto,
        &fake,
        runtime,
        "casebot-sweep",
        &[env[0], ("CASE_BOT_LAMBDA_ROLE", "sweep")],
    );
    let scheduled = serde_json::json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-30T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/casebot-sweep"], "detail": {}
    });
    let summary = invoke(&api, &mut responses, "sweep-1", scheduled.to_string()).await;
    let _ = sweep.kill();
    let _ = sweep.wait();
    assert_eq!(summary["finished"], true, "{summary}");
    assert_eq!(
        (&summary["backlog"], &summary["undelivered"]),
        (&0.into(), &0.into()),
        "{summary}"
    );
    let got = fake.messages();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].text().contains("查找ServiceCode:"),
        "{}",
        got[0].text()
    );
}
