//! The casebot core: a DingTalk robot that runs AWS Support cases, as a plain event pipeline.
//!
//! ```text
//!  HTTP callback ─┐                    ┌──────────────── CaseBot ────────────────┐
//!  (CallbackService, a tower::Service) │ claim → authorize → parse → execute →   │──► reply to the group
//!                 ├──► Event ─────────►│ render → record → deliver               │    (sessionWebhook,
//!  Stream frame  ─┘    (a message)     └──────┬───────────────────────┬──────────┘     custom robot, or
//!  (next: card clicks, case updates)          │                       │                 the HTTP answer)
//!                                         SupportApi               Store (claims,
//!                                    (sandbox or AWS, cached)     case links, audit)
//! ```
//!
//! - **Transports only translate.** [`CallbackService`] checks the method, content type, body
//!   size and signature, parses the body into an [`Event`], and answers; the hyper adapter and
//!   `lambda_http::run` both serve it. Routing by path is the adapter's.
//! - **The pipeline decides.** [`CaseBot::on_event`] runs the stages in order; a transport that
//!   must answer first calls [`CaseBot::admit`] (the claim) and then [`CaseBot::process`] or
//!   [`CaseBot::spawn`]. Each stage is a small function over explicit inputs, tested alone.
//! - **The store remembers**, durable when a call returns: [`MemoryStore`], `SqliteStore`
//!   (feature `sqlite`), `DynamoStore` (feature `dynamodb`).
//! - **One configuration type** ([`Config`], clap derive with environment fallbacks) and one
//!   error type ([`Error`]) for everything here.
//!
//! ```
//! use std::sync::Arc;
//! use case_bot_core::{CaseBot, Config, Delivery, ReplyMode, Secrets, StaticSecrets};
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"dev"}"#).unwrap());
//! let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets))
//!     .config(Config { reply: ReplyMode::Response, ..Config::default() })
//!     .build()
//!     .unwrap();
//! let msg = dingtalk_robot::InboundMessage::from_json(
//!     r#"{"msgtype":"text","text":{"content":"帮助"},"msgId":"m1"}"#.as_bytes(),
//! ).unwrap();
//! let outcome = bot.on_message(msg).await;
//! assert!(matches!(outcome.delivery, Delivery::Inline { .. }));
//! # }
//! ```

mod bot;
mod config;
mod doctor;
mod error;
mod event;
mod http;
mod notify;
mod outbox;
mod pipeline;
mod policy;
mod secrets;
mod store;

pub use bot::{CaseBot, CaseBotBuilder, Health, Readiness};
pub use config::{Config, CrashPoint, ReplyMode, ResolvePolicy, SecretsFrom, SupportBackend};
pub use doctor::{Check, Report, Verdict};
pub use error::{BoxError, Error};
pub use event::{Admission, Admitted, Delivery, Event, Outcome};
pub use http::{
    CALLBACK_PATH, CallbackService, HEALTH_PATH, READY_PATH, json_response, other_route, rejection,
};
pub use notify::watch::PollReport;
pub use notify::{CaseEvent, NotifyConfig, PushVia};
#[cfg(feature = "aws")]
pub use secrets::SecretsManagerSource;
pub use secrets::{DEFAULT_SECRET_ID, SecretSource, Secrets, StaticSecrets};
#[cfg(feature = "dynamodb")]
pub use store::DynamoStore;
pub use store::{
    AuditRecord, AuditStore, CaseLink, CaseLinkStore, Claim, ClaimState, ClaimStore, DeliveryState,
    Destination, Finish, MemoryStore, OutboxEntry, OutboxStore, Record, RecordStore, RecordSwap,
    Settlement, Store,
};
#[cfg(feature = "sqlite")]
pub use store::{SqliteStore, StateFile};
