//! The casebot core: a DingTalk robot that runs AWS Support cases. It joins `dingtalk-robot`
//! and `support-commands` behind one HTTP entry point, [`CaseBot::handle`]
//! (`http::Request<Bytes>` in, `http::Response<Bytes>` out), so the hyper and Lambda adapters
//! only translate their transport.
//!
//! The pipeline: body limit (64 KiB → 413) → signature and timestamp (→ 401; nothing else
//! runs) → JSON (→ 400) → de-duplication on `msgId` (a redelivery → 200, no side effect) →
//! allow-list → parse → run against the [`SupportApi`](support_commands::SupportApi) with a
//! deadline → reply (sessionWebhook by default, the custom robot webhook, or the HTTP response).
//!
//! ```
//! use std::sync::Arc;
//! use case_bot_core::{CaseBot, Secrets, StaticSecrets};
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secrets = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"dev"}"#).unwrap());
//! let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(secrets)).build().unwrap();
//! let response = bot.handle(http::Request::get("/healthz").body(bytes::Bytes::new()).unwrap()).await;
//! assert_eq!(response.status(), 200);
//! # }
//! ```

mod bot;
mod config;
#[cfg(feature = "dynamodb")]
mod dynamo;
mod render;
mod secrets;
mod store;

pub use bot::{BuildError, CALLBACK_PATH, CaseBot, CaseBotBuilder, HEALTH_PATH};
pub use config::{BotConfig, ReplyMode, ResolvePolicy};
#[cfg(feature = "dynamodb")]
pub use dynamo::DynamoStore;
#[cfg(feature = "aws")]
pub use secrets::SecretsManagerSource;
pub use secrets::{
    CachedSecrets, DEFAULT_SECRET_ID, SecretError, SecretSource, Secrets, StaticSecrets,
};
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{AuditRecord, CaseLink, MemoryStore, Store, StoreError};
