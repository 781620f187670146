//! The fake's Stream gateway (features `testing` and `stream`): `connections/open` checks the
//! app's key and secret and hands out single-use tickets; a WebSocket listener on 127.0.0.1
//! takes connections with a valid ticket, pushes robot-message frames, records ACKs, and on
//! command sends `disconnect`, drops connections, goes down, or stops answering pings.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::Full;
use hyper::Response;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as WsRequest, Response as WsResponse,
};

/// An ACK the gateway received.
///
/// ```
/// # fn show(a: dingtalk_robot::testing::StreamAckSeen) { println!("{} {}", a.message_id, a.code); }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamAckSeen {
    /// The `headers.messageId` acknowledged.
    pub message_id: String,
    /// The ACK's `code`.
    pub code: i64,
    /// When it arrived.
    pub at: std::time::Instant,
}

enum Command {
    Send(String),
    Disconnect,
    Drop,
}

#[derive(Default)]
struct State {
    tickets: HashSet<String>,
    issued: usize,
    connections: Vec<mpsc::UnboundedSender<Command>>,
    acks: Vec<StreamAckSeen>,
    /// Every robot-message frame pushed: its `messageId` and `data`.
    pushed: Vec<(String, Value)>,
    down: bool,
    next: u64,
}

/// The gateway's shared state.
pub(super) struct Gateway {
    ws_addr: SocketAddr,
    state: Mutex<State>,
    muted: watch::Sender<bool>,
    pub(super) changed: Notify,
}

impl Gateway {
    pub(super) async fn start() -> std::io::Result<Arc<Self>> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let gateway = Arc::new(Self {
            ws_addr: listener.local_addr()?,
            state: Mutex::new(State::default()),
            muted: watch::Sender::new(false),
            changed: Notify::new(),
        });
        let accepting = Arc::clone(&gateway);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let gateway = Arc::clone(&accepting);
                tokio::spawn(async move { gateway.serve(stream).await });
            }
        });
        Ok(gateway)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `POST /v1.0/gateway/connections/open`, for an app whose key and secret match.
    pub(super) fn open(&self, known: bool) -> Response<Full<Bytes>> {
        let reply = |status: u16, body: Value| {
            let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
            *response.status_mut() =
                http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
            response
        };
        let mut state = self.lock();
        if state.down {
            return reply(
                503,
                json!({"code": "ServiceUnavailable", "message": "down"}),
            );
        }
        if !known {
            return reply(
                401,
                json!({"code": "InvalidAuthentication", "message": "clientId or clientSecret is wrong"}),
            );
        }
        state.issued += 1;
        let ticket = format!("ticket-{}-{}", state.issued, crate::signature::now_ms());
        state.tickets.insert(ticket.clone());
        reply(
            200,
            json!({"endpoint": format!("ws://{}/connect", self.ws_addr), "ticket": ticket}),
        )
    }

    // The handshake callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    async fn serve(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let check =
            |request: &WsRequest, response: WsResponse| -> Result<WsResponse, ErrorResponse> {
                let ticket = request
                    .uri()
                    .query()
                    .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("ticket=")))
                    .map(|t| {
                        percent_encoding::percent_decode_str(t)
                            .decode_utf8_lossy()
                            .into_owned()
                    })
                    .unwrap_or_default();
                if self.lock().tickets.remove(&ticket) {
                    Ok(response)
                } else {
                    let mut refused = ErrorResponse::new(Some("unknown or used ticket".to_owned()));
                    *refused.status_mut() = http::StatusCode::UNAUTHORIZED;
                    Err(refused)
                }
            };
        let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
            return;
        };
        let (tx, mut commands) = mpsc::unbounded_channel();
        self.lock().connections.push(tx);
        self.changed.notify_waiters();
        let (mut sink, mut frames) = socket.split();
        let mut muted = self.muted.subscribe();
        loop {
            let is_muted = *muted.borrow();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Send(text)) => {
                        if sink.send(Message::Text(text.into())).await.is_err() { break; }
                    }
                    Some(Command::Disconnect) => {
                        let frame = json!({"specVersion": "1.0", "type": "SYSTEM",
                            "headers": {"topic": "disconnect", "messageId": "disconnect-1", "contentType": "application/json"},
                            "data": "{\"reason\":\"connection is expired\"}"});
                        let _ = sink.send(Message::Text(frame.to_string().into())).await;
                    }
                    Some(Command::Drop) | None => break,
                },
                frame = frames.next(), if !is_muted => match frame {
                    Some(Ok(Message::Text(text))) => self.on_ack(&text),
                    Some(Ok(Message::Ping(data))) => { let _ = sink.send(Message::Pong(data)).await; }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                _ = muted.changed() => {}
            }
        }
        let _ = sink.close().await;
    }

    fn on_ack(&self, text: &str) {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let ack = StreamAckSeen {
            message_id: value["headers"]["messageId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            code: value["code"].as_i64().unwrap_or_default(),
            at: std::time::Instant::now(),
        };
        self.lock().acks.push(ack);
        self.changed.notify_waiters();
    }

    /// Sends a robot-message frame with `data` to every connection (at-least-once delivery
    /// handing one message to several clients); how many got it.
    pub(super) fn push_all(&self, data: &Value) -> usize {
        let count = self.connections();
        (0..count)
            .filter(|&index| self.push_to(data, Some(index)).is_some())
            .count()
    }

    /// Sends a robot-message frame with `data` to the newest connection; its `messageId`.
    pub(super) fn push(&self, data: &Value) -> Option<String> {
        self.push_to(data, None)
    }

    fn push_to(&self, data: &Value, index: Option<usize>) -> Option<String> {
        let mut state = self.lock();
        state.connections.retain(|c| !c.is_closed());
        state.next += 1;
        let id = format!("fake-message-{}", state.next);
        let frame = json!({"specVersion": "1.0", "type": "CALLBACK",
            "headers": {"appId": "fake", "connectionId": "fake", "contentType": "application/json",
                        "messageId": id, "time": crate::signature::now_ms().to_string(),
                        "topic": "/v1.0/im/bot/messages/get"},
            "data": data.to_string()});
        state.pushed.push((id.clone(), data.clone()));
        let connection = match index {
            Some(index) => state.connections.get(index)?,
            None => state.connections.last()?,
        };
        connection.send(Command::Send(frame.to_string())).ok()?;
        Some(id)
    }

    /// Pushes again, as new deliveries, the frames no ACK answered (DingTalk's redelivery).
    pub(super) fn redeliver_unacked(&self) -> usize {
        let unacked: Vec<Value> = {
            let state = self.lock();
            state
                .pushed
                .iter()
                .filter(|(id, _)| !state.acks.iter().any(|a| &a.message_id == id))
                .map(|(_, data)| data.clone())
                .collect()
        };
        unacked
            .iter()
            .filter(|data| self.push(data).is_some())
            .count()
    }

    pub(super) fn ping(&self, opaque: &str) -> bool {
        let mut state = self.lock();
        state.connections.retain(|c| !c.is_closed());
        let frame = json!({"specVersion": "1.0", "type": "SYSTEM",
            "headers": {"topic": "ping", "messageId": format!("ping-{opaque}"), "contentType": "application/json"},
            "data": json!({"opaque": opaque}).to_string()});
        state
            .connections
            .last()
            .is_some_and(|c| c.send(Command::Send(frame.to_string())).is_ok())
    }

    pub(super) fn acks(&self) -> Vec<StreamAckSeen> {
        self.lock().acks.clone()
    }

    pub(super) fn connections(&self) -> usize {
        let mut state = self.lock();
        state.connections.retain(|c| !c.is_closed());
        state.connections.len()
    }

    pub(super) fn tickets_issued(&self) -> usize {
        self.lock().issued
    }

    /// `disconnect` to every connection, which is dropped `after` later.
    pub(super) fn disconnect(self: &Arc<Self>, after: Duration) {
        let connections = std::mem::take(&mut self.lock().connections);
        for connection in &connections {
            let _ = connection.send(Command::Disconnect);
        }
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            for connection in connections {
                let _ = connection.send(Command::Drop);
            }
        });
    }

    pub(super) fn drop_all(&self) {
        for connection in std::mem::take(&mut self.lock().connections) {
            let _ = connection.send(Command::Drop);
        }
    }

    pub(super) fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    pub(super) fn mute(&self, muted: bool) {
        self.muted.send_replace(muted);
    }
}
