//! The Stream client against the fake gateway over real sockets on 127.0.0.1: messages and
//! ACKs, pings, `disconnect`, a gateway down at start, a dead connection, bad credentials, and
//! redelivery of what was left unacknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dingtalk_robot::testing::{FakeApp, FakeDingTalk};
use dingtalk_robot::{AppCredentials, AppSecret, StreamAck, StreamClient, StreamOptions};
use tokio::sync::oneshot;

const KEY: &str = "dingstreamapp";
const SECRET: &str = "stream-secret";
const WAIT: Duration = Duration::from_secs(10);

async fn fake() -> FakeDingTalk {
    FakeDingTalk::builder()
        .app(FakeApp::new(KEY, SECRET))
        .start()
        .await
        .unwrap()
}

fn client(fake: &FakeDingTalk, secret: &str) -> StreamClient {
    StreamClient::new(AppCredentials::new(KEY, AppSecret::new(secret)))
        .openapi_base(fake.base_url())
        .options(
            StreamOptions::default()
                .keep_alive(Duration::from_millis(300), Duration::from_millis(200))
                .backoff(Duration::from_millis(100), 1.6, Duration::from_millis(500)),
        )
}

/// The texts seen, the stop switch and the client's task.
type Running = (
    Arc<Mutex<Vec<String>>>,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), dingtalk_robot::Error>>,
);

/// Runs `client` in the background, recording each message's text; `leave` texts are left
/// unacknowledged the first time. Stop with the returned sender.
fn run(client: StreamClient, leave: &'static str) -> Running {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let record = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        client
            .run(
                move |m| {
                    let record = Arc::clone(&record);
                    async move {
                        let text = m.message.command_text().unwrap_or_default().to_owned();
                        let mut seen = record.lock().unwrap();
                        let first = !seen.contains(&text);
                        seen.push(text.clone());
                        if text == leave && first {
                            StreamAck::Leave
                        } else {
                            StreamAck::Ack
                        }
                    }
                },
                async {
                    let _ = stop_rx.await;
                },
            )
            .await
    });
    (seen, stop_tx, task)
}

/// Waits until the gateway has `count` connections.
async fn connected(fake: &FakeDingTalk, count: usize) {
    assert!(
        fake.stream_wait(|f| f.stream_connections() == count, WAIT)
            .await,
        "{} connections, not {count}",
        fake.stream_connections()
    );
}

#[tokio::test]
async fn a_pushed_message_reaches_the_handler_and_is_acknowledged() {
    let fake = fake().await;
    let client = client(&fake, SECRET);
    let state = client.state();
    let (seen, stop, task) = run(client, "");
    connected(&fake, 1).await;
    let id = fake.stream_push(&fake.callback("帮助").json()).unwrap();
    assert!(
        fake.stream_wait(
            |f| f
                .stream_acks()
                .iter()
                .any(|a| a.message_id == id && a.code == 200),
            WAIT
        )
        .await
    );
    assert_eq!(*seen.lock().unwrap(), ["帮助"]);
    assert!(state.borrow().is_connected());
    assert!(state.borrow().last_message_ms.is_some());
    // A ping is answered with its data.
    assert!(fake.stream_ping("o1"));
    assert!(
        fake.stream_wait(
            |f| f.stream_acks().iter().any(|a| a.message_id == "ping-o1"),
            WAIT
        )
        .await
    );
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert!(!state.borrow().is_connected());
}

#[tokio::test]
async fn after_disconnect_a_new_connection_with_a_new_ticket_takes_the_next_messages() {
    let fake = fake().await;
    let (seen, stop, task) = run(client(&fake, SECRET), "");
    connected(&fake, 1).await;
    fake.stream_disconnect(Duration::from_millis(500));
    assert!(
        fake.stream_wait(
            |f| f.stream_tickets() == 2 && f.stream_connections() == 1,
            WAIT
        )
        .await
    );
    let id = fake.stream_push(&fake.callback("工单列表").json()).unwrap();
    assert!(
        fake.stream_wait(|f| f.stream_acks().iter().any(|a| a.message_id == id), WAIT)
            .await
    );
    assert_eq!(*seen.lock().unwrap(), ["工单列表"]);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_gateway_down_at_start_is_retried_and_a_dead_connection_is_replaced() {
    let fake = fake().await;
    fake.stream_down(true);
    let (_, stop, task) = run(client(&fake, SECRET), "");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fake.stream_connections(), 0);
    fake.stream_down(false);
    connected(&fake, 1).await;
    let tickets = fake.stream_tickets();
    // No pong: the client gives the connection up and opens another.
    fake.stream_mute(true);
    assert!(
        fake.stream_wait(|f| f.stream_tickets() > tickets, WAIT)
            .await
    );
    fake.stream_mute(false);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_wrong_app_secret_stops_the_client_with_an_error_naming_the_app_key() {
    let fake = fake().await;
    let (_, _stop, task) = run(client(&fake, "wrong-secret"), "");
    let err = tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(KEY) && !text.contains("wrong-secret"),
        "{text}"
    );
}

#[tokio::test]
async fn a_message_left_unacknowledged_is_delivered_again_and_then_acknowledged() {
    let fake = fake().await;
    let (seen, stop, task) = run(client(&fake, SECRET), "查看 1");
    connected(&fake, 1).await;
    let first = fake.stream_push(&fake.callback("查看 1").json()).unwrap();
    assert!(
        fake.stream_wait(|_| seen.lock().unwrap().len() == 1, WAIT)
            .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!fake.stream_acks().iter().any(|a| a.message_id == first));
    assert_eq!(fake.stream_redeliver_unacked(), 1);
    assert!(fake.stream_wait(|f| f.stream_acks().len() == 1, WAIT).await);
    assert_eq!(seen.lock().unwrap().len(), 2);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
