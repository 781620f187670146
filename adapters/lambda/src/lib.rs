//! The Lambda adapter for casebot: translates an API Gateway HTTP API (payload v2) request to
//! `http::Request<Bytes>`, calls [`CaseBot::handle`], and translates the answer back.
//!
//! In Lambda nothing may run after the response (the function is frozen), so the bot runs the
//! command and posts the reply before answering, within [`COMMAND_DEADLINE`] plus the reply.
//!
//! ```no_run
//! # async fn run() -> Result<(), lambda_http::Error> {
//! let bot = case_bot_lambda::bot_from_env().await?;
//! lambda_http::run(lambda_http::service_fn(move |request| {
//!     let bot = bot.clone();
//!     async move { case_bot_lambda::handle(&bot, request).await }
//! }))
//! .await
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use case_bot_core::{
    BotConfig, CaseBot, DEFAULT_SECRET_ID, DynamoStore, MemoryStore, ReplyMode, ResolvePolicy,
    SecretSource, Secrets, SecretsManagerSource, StaticSecrets, Store,
};
use dingtalk_robot::{AccessToken, AppSecret, WebhookSecret};
use lambda_http::{Body, Request, Response};
use support_commands::{AwsSupport, AwsSupportConfig, Lang, Partition, Sandbox, SupportApi};

/// Deadline for the AWS Support call(s) of one command. DingTalk does not document its
/// callback timeout; the bot answers within about 5 s in total (3 s for AWS, then the reply
/// post with a 1.5 s timeout), well inside API Gateway's 30 s and the common few-second
/// webhook timeouts.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(3);

/// Timeout of one reply post to DingTalk from Lambda.
pub const REPLY_TIMEOUT: Duration = Duration::from_millis(1500);

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn list(name: &str) -> Vec<String> {
    env(name)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the bot from the environment, once, at init: the same variables as `case-bot serve`
/// (`CASE_BOT_SUPPORT`, `CASE_BOT_PARTITION`, `CASE_BOT_SECRET_ID`, `CASE_BOT_REPLY`,
/// `CASE_BOT_ALLOWED_CONVERSATIONS`, `CASE_BOT_ADMINS`, `CASE_BOT_RESOLVE_POLICY`,
/// `CASE_BOT_LANG`, `DINGTALK_API_BASE`) plus `CASE_BOT_TABLE` (the DynamoDB table; without
/// it state is in memory, for local runs only). Secrets come from Secrets Manager unless
/// `DINGTALK_APP_SECRET` is set.
///
/// # Errors
/// A message naming the variable that is wrong.
///
/// ```no_run
/// # async fn run() {
/// let bot = case_bot_lambda::bot_from_env().await.unwrap();
/// # let _ = bot; }
/// ```
pub async fn bot_from_env() -> Result<CaseBot, String> {
    let partition = match env("CASE_BOT_PARTITION") {
        Some(name) => Partition::from_name(&name)
            .ok_or_else(|| format!("CASE_BOT_PARTITION `{name}`: use aws or aws-cn"))?,
        None => Partition::Aws,
    };
    let reply_mode = match env("CASE_BOT_REPLY") {
        Some(name) => ReplyMode::from_name(&name)
            .ok_or_else(|| format!("CASE_BOT_REPLY `{name}`: use session, webhook or response"))?,
        None => ReplyMode::Session,
    };
    let resolve_policy = match env("CASE_BOT_RESOLVE_POLICY") {
        Some(name) => ResolvePolicy::from_name(&name)
            .ok_or_else(|| format!("CASE_BOT_RESOLVE_POLICY `{name}`"))?,
        None => ResolvePolicy::AdminsOrOpener,
    };
    let lang = match env("CASE_BOT_LANG") {
        Some(code) => {
            Lang::from_code(&code).ok_or_else(|| format!("CASE_BOT_LANG `{code}`: use zh or en"))?
        }
        None => Lang::Zh,
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let support: Arc<dyn SupportApi> = match env("CASE_BOT_SUPPORT").as_deref() {
        None | Some("aws") => Arc::new(AwsSupport::from_sdk_config(
            &sdk,
            AwsSupportConfig {
                partition,
                operation_timeout: COMMAND_DEADLINE,
                ..AwsSupportConfig::default()
            },
        )),
        Some("sandbox") => Arc::new(Sandbox::new()),
        Some(other) => return Err(format!("CASE_BOT_SUPPORT `{other}`: use aws or sandbox")),
    };
    let secrets: Arc<dyn SecretSource> = match env("DINGTALK_APP_SECRET") {
        Some(app_secret) => Arc::new(StaticSecrets::new(Secrets {
            app_secret: AppSecret::new(app_secret),
            access_token: env("DINGTALK_ACCESS_TOKEN").map(AccessToken::new),
            webhook_secret: env("DINGTALK_WEBHOOK_SECRET").map(WebhookSecret::new),
        })),
        None => Arc::new(SecretsManagerSource::new(
            &sdk,
            env("CASE_BOT_SECRET_ID").unwrap_or_else(|| DEFAULT_SECRET_ID.to_owned()),
        )),
    };
    let store: Arc<dyn Store> = match env("CASE_BOT_TABLE") {
        Some(table) => Arc::new(DynamoStore::new(&sdk, table)),
        None => {
            tracing::warn!(
                "CASE_BOT_TABLE is not set: state is in memory and lost between instances"
            );
            Arc::new(MemoryStore::default())
        }
    };
    let sender = dingtalk_robot::Sender::builder()
        .api_base(
            env("DINGTALK_API_BASE").unwrap_or_else(|| dingtalk_robot::DEFAULT_API_BASE.to_owned()),
        )
        .timeout(REPLY_TIMEOUT)
        // No long waits inside a Lambda invocation: one quick retry, then the failure is logged.
        .retry(
            dingtalk_robot::RetryPolicy::default()
                .rate_limited_wait(Duration::from_millis(200))
                .rate_limited_retries(1)
                .transient_backoff(Duration::from_millis(100))
                .transient_retries(1),
        )
        .build()
        .map_err(|e| format!("DINGTALK_API_BASE: {e}"))?;
    CaseBot::builder(support, secrets)
        .store(store)
        .sender(sender)
        .config(BotConfig {
            reply_mode,
            allowed_conversations: list("CASE_BOT_ALLOWED_CONVERSATIONS"),
            admins: list("CASE_BOT_ADMINS"),
            resolve_policy,
            lang,
            command_deadline: COMMAND_DEADLINE,
            reply_before_response: true,
            ..BotConfig::default()
        })
        .build()
        .map_err(|e| e.to_string())
}

/// Handles one API Gateway event: the body (text or base64-decoded binary) goes to the bot
/// as bytes, the bot's response comes back as a text body.
///
/// # Errors
/// Never in practice: every outcome is an HTTP response (the `Result` is lambda_http's
/// handler signature).
///
/// ```no_run
/// # async fn run(bot: case_bot_core::CaseBot, request: lambda_http::Request) {
/// let response = case_bot_lambda::handle(&bot, request).await.unwrap();
/// # let _ = response; }
/// ```
pub async fn handle(bot: &CaseBot, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let (parts, body) = request.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        _ => Bytes::new(),
    };
    let response = bot.handle(http::Request::from_parts(parts, bytes)).await;
    Ok(response.map(|body| Body::Text(String::from_utf8_lossy(&body).into_owned())))
}
