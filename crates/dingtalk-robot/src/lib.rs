//! Build DingTalk (钉钉) robots in Rust: verify HTTP callbacks, read the messages people send,
//! and reply through the callback's `sessionWebhook` or a custom robot webhook — paced under
//! DingTalk's rate limit, with long messages split instead of truncated.
//!
//! ```
//! use dingtalk_robot::{AppSecret, CallbackVerifier, InboundMessage, OutboundMessage};
//!
//! fn on_callback(timestamp: Option<&str>, sign: Option<&str>, body: &[u8]) -> Option<OutboundMessage> {
//!     let verifier = CallbackVerifier::new(AppSecret::new("app secret"));
//!     verifier.verify(timestamp, sign).ok()?; // 401 otherwise
//!     let message = InboundMessage::from_json(body).ok()?; // 400 otherwise
//!     let text = message.command_text()?;
//!     Some(OutboundMessage::text(format!("你说的是: {text}")))
//! }
//! # let _ = on_callback;
//! ```
//!
//! | module / type | what it does | feature |
//! |---|---|---|
//! | [`CallbackVerifier`], [`sign`], [`webhook_sign`] | callback signatures and 加签 webhook signing | always |
//! | [`InboundMessage`] | the callback body (text, richText, picture, audio, video, file, unknown) | always |
//! | [`OutboundMessage`] | text, markdown, link, actionCard, feedCard; splitting long content | always |
//! | [`Sender`] | posts to a `sessionWebhook` or a custom robot webhook | `sender` (default) |
//! | [`RobotGroup`], [`AppCredentials`] | posts to a group through the robot OpenAPI (no webhook needed) | `sender` (default) |
//! | [`StreamClient`] | Stream mode: messages over an outbound WebSocket, no public URL | `stream` |
//! | `testing::FakeDingTalk` | a fake DingTalk on 127.0.0.1 for tests (with a Stream gateway) | `testing` |
//!
//! No item of this crate prints a secret, access token, signature or session URL in its
//! `Debug` output, its errors or its logs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod inbound;
#[cfg(feature = "sender")]
mod openapi;
mod outbound;
mod secret;
#[cfg(feature = "sender")]
mod sender;
mod signature;
#[cfg(feature = "stream")]
mod stream;
#[cfg(feature = "sender")]
mod target;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use error::{
    ERRCODE_RATE_LIMITED, ERRCODE_REJECTED, ERRCODE_TOKEN_INVALID, ERRCODE_TOKEN_NOT_EXIST, Error,
    Skew,
};
pub use inbound::{AtUser, ConversationType, InboundMessage, MessageContent, RichTextItem};
#[cfg(feature = "sender")]
#[cfg_attr(docsrs, doc(cfg(feature = "sender")))]
pub use openapi::{AppCredentials, DEFAULT_OPENAPI_BASE, MAX_MSG_PARAM_BYTES, RobotGroup};
pub use outbound::{
    ActionCard, Button, FeedCard, FeedLink, MAX_PART_BYTES, MAX_PART_CHARS, OutboundMessage,
};
pub use secret::{AccessToken, AppSecret, WebhookSecret};
#[cfg(feature = "sender")]
#[cfg_attr(docsrs, doc(cfg(feature = "sender")))]
pub use sender::{DEFAULT_API_BASE, RateLimit, RetryPolicy, Sender, SenderBuilder};
pub use signature::{
    CallbackVerifier, Clock, DEFAULT_WINDOW, SIGN_HEADER, TIMESTAMP_HEADER, now_ms, sign,
    webhook_sign,
};
#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
pub use stream::{
    BOT_MESSAGE_TOPIC, StreamAck, StreamClient, StreamMessage, StreamOptions, StreamState,
};
#[cfg(feature = "sender")]
#[cfg_attr(docsrs, doc(cfg(feature = "sender")))]
pub use target::{CustomRobot, SessionWebhook, Target};
