//! One Stream connection: its frames read, pings and robot messages answered, ACKs written by
//! one writer task, a `disconnect` noticed (the connection drains on), keep-alive pings and the
//! pong timeout.

use std::future::Future;
use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::frame::{Frame, ack};
use super::{
    BOT_MESSAGE_TOPIC, End, Socket, StreamAck, StreamMessage, StreamOptions, StreamState, now_ms,
};
use crate::inbound::InboundMessage;

/// One connection's loop.
pub(super) struct Connection<H> {
    pub(super) handler: Arc<H>,
    pub(super) options: StreamOptions,
    pub(super) state: Arc<watch::Sender<StreamState>>,
    pub(super) stop: watch::Receiver<bool>,
}

impl<H, F> Connection<H>
where
    H: Fn(StreamMessage) -> F + Send + Sync + 'static,
    F: Future<Output = StreamAck> + Send + 'static,
{
    /// Serves `socket` until it closes, dies or the client stops; `notice` fires on a
    /// `disconnect` frame (the connection goes on draining).
    pub(super) async fn serve(mut self, socket: Socket, notice: oneshot::Sender<()>) -> End {
        let (mut sink, mut frames) = socket.split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            while let Some(message) = out_rx.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let mut notice = Some(notice);
        let mut handlers = JoinSet::new();
        let mut last_seen = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        let mut drain_until: Option<Instant> = None;
        let end = loop {
            let deadline = match (drain_until, ping_sent) {
                (Some(until), _) => until,
                (None, Some(sent)) => sent + self.options.pong_timeout,
                (None, None) => last_seen + self.options.ping_after_idle,
            };
            let next = tokio::select! {
                changed = self.stop.changed() => {
                    if changed.is_err() || *self.stop.borrow() { break End::Stopped; }
                    continue;
                }
                () = tokio::time::sleep_until(deadline) => None,
                next = frames.next() => Some(next),
            };
            let Some(next) = next else {
                if drain_until.is_some() {
                    break End::Lost("drained".to_owned());
                }
                if ping_sent.is_some() {
                    break End::Lost("no pong within the timeout".to_owned());
                }
                ping_sent = Some(Instant::now());
                let _ = out_tx.send(Message::Ping(Vec::new().into()));
                continue;
            };
            last_seen = Instant::now();
            ping_sent = None;
            match next {
                Some(Ok(Message::Text(text))) => {
                    let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
                        tracing::warn!("stream: a frame that is not JSON, ignored");
                        continue;
                    };
                    if self.on_frame(frame, &out_tx, &mut handlers) {
                        if let Some(notice) = notice.take() {
                            let _ = notice.send(());
                        }
                        drain_until = Some(Instant::now() + self.options.drain_for);
                    }
                }
                Some(Ok(Message::Close(_))) | None => break End::Lost("closed".to_owned()),
                Some(Err(err)) => break End::Lost(err.to_string()),
                Some(Ok(_)) => {}
            }
        };
        // The handlers started finish, and their ACKs are written before the socket closes.
        while handlers.join_next().await.is_some() {}
        drop(out_tx);
        let _ = writer.await;
        if let End::Lost(reason) = &end {
            tracing::info!(reason, "stream: connection ended");
        }
        end
    }

    /// Handles one frame; whether it was a `disconnect`.
    fn on_frame(
        &mut self,
        frame: Frame,
        out: &mpsc::UnboundedSender<Message>,
        handlers: &mut JoinSet<()>,
    ) -> bool {
        let message_id = frame.header("messageId");
        let topic = frame.header("topic");
        match (frame.kind.as_str(), topic.as_str()) {
            ("SYSTEM", "ping") => {
                let _ = out.send(Message::Text(
                    ack(&message_id, 200, "OK", frame.data).into(),
                ));
                false
            }
            ("SYSTEM", "disconnect") => true,
            ("CALLBACK", BOT_MESSAGE_TOPIC) => {
                let message = match InboundMessage::from_json(frame.data.as_bytes()) {
                    Ok(message) => message,
                    Err(err) => {
                        tracing::warn!(error = %err, "stream: a robot message that cannot be read: acknowledged, dropped");
                        let _ = out.send(Message::Text(
                            ack(&message_id, 400, "unreadable", "{}".to_owned()).into(),
                        ));
                        return false;
                    }
                };
                self.state
                    .send_modify(|s| s.last_message_ms = Some(now_ms()));
                let handler = Arc::clone(&self.handler);
                let out = out.clone();
                handlers.spawn(async move {
                    let taken = handler(StreamMessage {
                        message_id: message_id.clone(),
                        message,
                    })
                    .await;
                    if taken == StreamAck::Ack {
                        let data = r#"{"response":null}"#.to_owned();
                        let _ = out.send(Message::Text(ack(&message_id, 200, "OK", data).into()));
                    }
                });
                false
            }
            (kind, topic) => {
                tracing::debug!(kind, topic, "stream: a frame of no interest");
                let _ = out.send(Message::Text(
                    ack(&message_id, 404, "topic not supported", "{}".to_owned()).into(),
                ));
                false
            }
        }
    }
}
