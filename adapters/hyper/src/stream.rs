//! `case-bot serve --mode stream`: messages arrive over DingTalk's Stream WebSocket instead of
//! HTTP callbacks. Each message is claimed (`msg:<msgId>`, as over HTTP, so a move between the
//! two cannot act twice) and acknowledged only once the claim is durable; one that cannot be
//! claimed is left unacknowledged (DingTalk may deliver it again) and the group is asked to send
//! it again. A redelivery is a duplicate: acknowledged, nothing done.

use std::time::Duration;

use case_bot_core::{Admission, CaseBot, Event};
use clap::ValueEnum;
use dingtalk_robot::{
    AppCredentials, AppSecret, StreamAck, StreamClient, StreamOptions, StreamState,
};
use tokio::sync::watch;

/// How DingTalk's messages reach the bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// HTTP callbacks on `--listen` (DingTalk needs a public URL).
    #[default]
    Http,
    /// An outbound WebSocket to DingTalk: no public URL, no exit IP, authenticated with the app
    /// key and secret.
    Stream,
}

/// Test knobs of the Stream connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Knobs {
    pub(crate) ping_after_idle: Duration,
    pub(crate) backoff_start: Duration,
}

/// The Stream client of the app.
pub(crate) fn client(
    app_key: String,
    app_secret: AppSecret,
    openapi_base: &str,
    knobs: Knobs,
) -> StreamClient {
    StreamClient::new(AppCredentials::new(app_key, app_secret))
        .openapi_base(openapi_base)
        .options(
            StreamOptions::default()
                .keep_alive(
                    knobs.ping_after_idle,
                    Duration::from_secs(5).min(knobs.ping_after_idle),
                )
                .backoff(
                    knobs.backoff_start,
                    1.6,
                    Duration::from_secs(60).max(knobs.backoff_start),
                ),
        )
}

/// Receives messages until `stop` completes.
pub(crate) async fn run(
    client: StreamClient,
    bot: CaseBot,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), dingtalk_robot::Error> {
    client
        .run(
            move |delivered| {
                let bot = bot.clone();
                async move {
                    match bot.admit(Event::Message(delivered.message)).await {
                        Ok(Admission::Fresh(admitted)) => {
                            bot.spawn(admitted);
                            StreamAck::Ack
                        }
                        Ok(_) => StreamAck::Ack,
                        // Not durable: not acknowledged (the bot asked the group to send it
                        // again).
                        Err(_) => StreamAck::Leave,
                    }
                }
            },
            stop,
        )
        .await
}

/// The Stream part of `/readyz`.
pub(crate) fn readiness(state: &watch::Receiver<StreamState>) -> (bool, serde_json::Value) {
    let state = state.borrow();
    (
        state.connected,
        serde_json::json!({
            "connected": state.connected,
            "since_ms": state.since_ms,
            "attempts": state.attempts,
            "last_error": state.last_error,
            "last_message_ms": state.last_message_ms,
        }),
    )
}
