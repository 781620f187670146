//! The Lambda adapter for casebot: the core's [`CallbackService`] and the health check, routed
//! by path and served by `lambda_http::run` (API Gateway HTTP API, payload v2).
//!
//! In Lambda nothing may run after the response (the function is frozen), so the bot runs the
//! command, queues the reply and sends what is due before answering (within [`COMMAND_DEADLINE`]
//! plus 2 s); what is left (a retry, a write AWS answers late) is finished by the scheduled
//! [`sweep`].
//!
//! The second function (the same binary with `CASE_BOT_LAMBDA_ROLE=events`) takes every
//! invocation that is not a callback, in [`on_event`]: the sweep every minute, the reconciler
//! of followed cases every 5 minutes, and EventBridge "Support Case Update" events. It is a
//! function of its own rather than a second handler in the callback function because its
//! events are not API Gateway requests, it needs a 60 s timeout where callbacks need 15 s, and
//! one instance at a time (reserved concurrency 1) keeps its polls from overlapping (they
//! would be harmless, only wasted: cursors move by compare-and-set).
//!
//! ```no_run
//! # async fn run() -> Result<(), lambda_http::Error> {
//! let bot = case_bot_lambda::bot_from_env().await?;
//! lambda_http::run(case_bot_lambda::App::new(bot)).await
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use case_bot_core::{
    CALLBACK_PATH, CallbackService, CaseBot, CaseEvent, Check, Config, DynamoStore, MemoryStore,
    SecretSource, Secrets, SecretsFrom, SecretsManagerSource, StaticSecrets, Store, SupportBackend,
    other_route,
};
use clap::{CommandFactory as _, FromArgMatches as _, Parser};
use http_body_util::Full;
use lambda_http::Request;
use support_commands::{AwsSupport, AwsSupportConfig, Sandbox, SupportApi};

/// Deadline for the AWS Support call(s) of one command. DingTalk does not document its
/// callback timeout; the bot answers within about 5 s in total (3 s for AWS, then up to 2 s
/// sending the reply), well inside API Gateway's 30 s and the common few-second webhook
/// timeouts. A write still running at the deadline is answered "AWS is slow".
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(3);

/// The function's settings: those of `case-bot serve` ([`Config`], the same environment
/// variables) plus the state table.
#[derive(Parser, Debug)]
#[command(name = "bootstrap")]
struct Settings {
    #[command(flatten)]
    config: Config,
    /// The DynamoDB table of the bot's state; without it, state is in memory (local runs only).
    #[arg(long, env = "CASE_BOT_TABLE")]
    table: Option<String>,
}

/// Reads the settings from the environment. The function calls AWS Support unless told
/// `CASE_BOT_SUPPORT=sandbox`.
fn settings() -> Result<Settings, case_bot_core::Error> {
    let command = Settings::command().mut_arg("support", |arg| arg.default_value("aws"));
    command
        .try_get_matches_from(["bootstrap"])
        .and_then(|matches| Settings::from_arg_matches(&matches))
        .map_err(|err| case_bot_core::Error::Config {
            setting: "environment",
            value: err.to_string().trim().to_owned(),
            expected: "the variables of `case-bot serve --help`",
        })
}

/// Builds the bot from the environment, once, at init: the variables of `case-bot serve`
/// (`CASE_BOT_SUPPORT`, `CASE_BOT_PARTITION`, `CASE_BOT_SECRET_ID`, `CASE_BOT_REPLY`, …)
/// read through the same [`Config`], plus `CASE_BOT_TABLE`. Secrets come from Secrets Manager
/// unless `DINGTALK_APP_SECRET` is set.
///
/// # Errors
/// [`case_bot_core::Error::Config`] naming what is wrong.
///
/// ```no_run
/// # async fn run() {
/// let bot = case_bot_lambda::bot_from_env().await.unwrap();
/// # let _ = bot; }
/// ```
pub async fn bot_from_env() -> Result<CaseBot, case_bot_core::Error> {
    let Settings { mut config, table } = settings()?;
    config.command_deadline = COMMAND_DEADLINE;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let support: Arc<dyn SupportApi> = match config.support {
        SupportBackend::Sandbox => Arc::new(Sandbox::new()),
        _ => Arc::new(AwsSupport::from_sdk_config(
            &sdk,
            AwsSupportConfig {
                partition: config.partition,
                operation_timeout: COMMAND_DEADLINE,
                ..AwsSupportConfig::default()
            },
        )),
    };
    let secrets: Arc<dyn SecretSource> =
        match (config.secrets_from(SecretsFrom::Aws), config.app_secret()) {
            (SecretsFrom::Env, Some(app_secret)) => Arc::new(StaticSecrets::new(Secrets {
                app_secret: app_secret.clone(),
                access_token: config.access_token().cloned(),
                webhook_secret: config.webhook_secret().cloned(),
                app_key: config.notify.app_key.clone(),
                robot_code: config.notify.robot_code.clone(),
            })),
            (SecretsFrom::Env, None) => {
                return Err(case_bot_core::Error::Config {
                    setting: "DINGTALK_APP_SECRET",
                    value: String::new(),
                    expected: "the robot's app secret, or CASE_BOT_SECRETS=aws",
                });
            }
            _ => Arc::new(SecretsManagerSource::new(&sdk, &config.secret_id)),
        };
    let store: Arc<dyn Store> = match table {
        Some(table) => Arc::new(DynamoStore::new(&sdk, table).audit_days(config.audit_days)),
        None => {
            tracing::warn!(
                "CASE_BOT_TABLE is not set: state is in memory and lost between instances"
            );
            Arc::new(MemoryStore::default())
        }
    };
    // Lambda freezes between invocations: nothing polls in the background. The events
    // function reconciles on its schedule instead.
    config.notify.watch_interval = Duration::ZERO;
    CaseBot::builder(support, secrets)
        .store(store)
        .config(config)
        .build()
}

/// How long a scheduled sweep may take (the function's timeout is 60 s).
pub const SWEEP_TIMEOUT: Duration = Duration::from_secs(50);

/// The scheduled invocation (EventBridge, every minute): what no callback invocation finished
/// is finished here. Lambda freezes the function after each answer, so there is no courier in
/// the background: a reply DingTalk throttled, a retry after a 5xx, a claim a timeout cut off,
/// and the outcome of a write AWS answered late all wait for this sweep.
///
/// # Errors
/// None so far; the signature is the runtime's.
///
/// ```no_run
/// # async fn run(bot: case_bot_core::CaseBot) {
/// let summary = case_bot_lambda::sweep(&bot).await.unwrap();
/// assert_eq!(summary["finished"], true);
/// # }
/// ```
pub async fn sweep(bot: &CaseBot) -> Result<serde_json::Value, lambda_http::Error> {
    let finished = bot.sweep(SWEEP_TIMEOUT).await;
    let readiness = bot.readiness().await;
    tracing::info!(
        finished,
        backlog = readiness.backlog,
        undelivered = readiness.undelivered,
        "sweep"
    );
    Ok(serde_json::json!({
        "finished": finished,
        "backlog": readiness.backlog,
        "undelivered": readiness.undelivered,
    }))
}

/// How long the messages of one case event may take to go out before the invocation ends
/// (the sweep sends what is left).
pub const EVENT_DELIVERY: Duration = Duration::from_secs(10);

/// Every invocation of the events function:
///
/// - an EventBridge "Support Case Update" event (`source: aws.support`): the case it names is
///   looked at, and what is new goes out. A failure is an error, so Lambda retries the event;
///   a redelivered event finds nothing new and sends nothing.
/// - `{"casebot": "reconcile"}` (every 5 minutes): every followed case is looked at, for
///   missed events and for status changes, which have no events; then the sweep.
/// - `{"casebot": "doctor"}`, optionally with `"test_conversation": "cid…"`: the [`doctor`]
///   checks; nothing else runs.
/// - anything else (the every-minute schedule): the [`sweep`].
///
/// # Errors
/// When a case event could not be looked at (AWS or the store failed).
///
/// ```no_run
/// # async fn run(bot: case_bot_core::CaseBot) {
/// let summary = case_bot_lambda::on_event(&bot, serde_json::json!({"casebot": "reconcile"})).await.unwrap();
/// # let _ = summary; }
/// ```
pub async fn on_event(
    bot: &CaseBot,
    event: serde_json::Value,
) -> Result<serde_json::Value, lambda_http::Error> {
    if let Some(case_event) = CaseEvent::from_json(&event) {
        let report = bot.on_case_event(&case_event).await.map_err(|err| {
            tracing::error!(error = %err, case_id = %case_event.case_id, "case event not handled: Lambda retries it");
            Box::new(err) as lambda_http::Error
        })?;
        let delivered = bot.deliver_pending(EVENT_DELIVERY).await;
        tracing::info!(case_id = %case_event.case_id, event = %case_event.event_name,
            messages = report.messages, delivered, "case event");
        return Ok(serde_json::json!({
            "case_id": case_event.case_id, "messages": report.messages, "delivered": delivered,
        }));
    }
    let asked = event.get("casebot").and_then(serde_json::Value::as_str);
    if asked == Some("doctor") {
        let conversation = event
            .get("test_conversation")
            .and_then(serde_json::Value::as_str);
        let table = std::env::var("CASE_BOT_TABLE")
            .ok()
            .filter(|t| !t.is_empty());
        return Ok(doctor(bot, table.as_deref(), conversation).await);
    }
    let reconcile = asked == Some("reconcile");
    let polled = if reconcile {
        Some(bot.poll_cases().await)
    } else {
        None
    };
    // The sweep sends what the reconciler enqueued, too.
    let mut summary = sweep(bot).await?;
    match polled {
        Some(Ok(report)) => {
            tracing::info!(
                cases = report.cases,
                messages = report.messages,
                "reconciled"
            );
            summary["cases"] = report.cases.into();
            summary["messages"] = report.messages.into();
        }
        // The next run catches up.
        Some(Err(err)) => {
            tracing::warn!(error = %err, "the reconciler could not look at the followed cases");
            summary["error"] = err.to_string().into();
        }
        None => {}
    }
    Ok(summary)
}

/// `case-bot doctor` for the deployed function, run by the test event
/// `{"casebot": "doctor"}` on the events function (`sam remote invoke`, or the console's Test
/// tab): the secret, the Support API and plan, IAM with dryRun, DingTalk (reachable, the app's
/// token, a test message to `test_conversation` when given), the DynamoDB `table` (a probe item
/// is written, as `/readyz` does; without a table the state is lost between instances, which
/// fails), and the callback URL (`CASE_BOT_PUBLIC_URL`, which the template sets). Answers
/// `{"healthy": …, "checks": […], "text": "…"}` and logs the text.
///
/// ```no_run
/// # async fn run(bot: case_bot_core::CaseBot) {
/// let answer = case_bot_lambda::doctor(&bot, Some("casebot-state"), None).await;
/// assert!(answer["checks"].is_array());
/// # }
/// ```
pub async fn doctor(
    bot: &CaseBot,
    table: Option<&str>,
    test_conversation: Option<&str>,
) -> serde_json::Value {
    let mut report = bot.doctor(test_conversation, true).await;
    report.push(match (table, bot.probe_store().await) {
        (None, _) => Check::fail(
            "state",
            "CASE_BOT_TABLE is not set: the state is in memory and lost between instances",
            "set CASE_BOT_TABLE to the stack's table (the SAM template does)",
        ),
        (Some(table), Ok(())) => {
            Check::pass("state", format!("the DynamoDB table {table} takes writes"))
        }
        (Some(_), Err(err)) => Check::fail(
            "state",
            format!("the state store does not take writes: {err}"),
            "check CASE_BOT_TABLE and the function role's DynamoDB permissions (the SAM template grants them)",
        ),
    });
    report.push(match std::env::var("CASE_BOT_PUBLIC_URL") {
        Ok(url) if !url.is_empty() => Check::pass(
            "callback URL",
            format!(
                "paste {}{} as the robot's message receiving address",
                url.trim_end_matches('/'),
                CALLBACK_PATH
            ),
        ),
        _ => Check::note(
            "callback URL",
            "CASE_BOT_PUBLIC_URL is not set: see the stack output CallbackUrl",
        ),
    });
    let text = report.to_string();
    tracing::info!(healthy = report.healthy(), "doctor\n{text}");
    serde_json::json!({
        "healthy": report.healthy(),
        "checks": report.checks(),
        "text": text,
    })
}

/// The function's routes: `POST /dingtalk/callback` (the bot runs and replies before it
/// answers) and `GET /healthz`; anything else is 404.
///
/// ```no_run
/// # async fn run(bot: case_bot_core::CaseBot, request: lambda_http::Request) {
/// use tower::ServiceExt as _;
/// let response = case_bot_lambda::App::new(bot).oneshot(request).await.unwrap();
/// # let _ = response; }
/// ```
#[derive(Debug, Clone)]
pub struct App {
    bot: CaseBot,
    callback: CallbackService,
}

impl App {
    /// Routes to `bot`.
    ///
    /// ```no_run
    /// # fn run(bot: case_bot_core::CaseBot) {
    /// let app = case_bot_lambda::App::new(bot);
    /// # let _ = app; }
    /// ```
    #[must_use]
    pub fn new(bot: CaseBot) -> Self {
        Self {
            callback: CallbackService::new(bot.clone()).reply_before_response(true),
            bot,
        }
    }
}

impl tower_service::Service<Request> for App {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let mut app = self.clone();
        Box::pin(async move {
            Ok(match request.uri().path() {
                CALLBACK_PATH => app.callback.call(request).await?,
                path => other_route(&app.bot, request.method(), path).await,
            })
        })
    }
}
