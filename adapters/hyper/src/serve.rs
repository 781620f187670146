//! `case-bot serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use case_bot_core::{
    BotConfig, CaseBot, DEFAULT_SECRET_ID, ReplyMode, ResolvePolicy, SecretSource, Secrets,
    SecretsManagerSource, SqliteStore, StaticSecrets,
};
use clap::{Args, ValueEnum};
use dingtalk_robot::{AccessToken, AppSecret, WebhookSecret};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use support_commands::{
    AwsSupport, AwsSupportConfig, Lang, Partition, Sandbox, SandboxConfig, SupportApi,
};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::DEV_APP_SECRET;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum SupportKind {
    /// In-memory sandbox (no AWS account needed).
    Sandbox,
    /// The AWS Support API.
    Aws,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum SecretsKind {
    /// DINGTALK_APP_SECRET, DINGTALK_ACCESS_TOKEN, DINGTALK_WEBHOOK_SECRET.
    Env,
    /// The Secrets Manager secret CASE_BOT_SECRET_ID.
    Aws,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// Options of `case-bot serve`; every flag also reads an environment variable.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CASE_BOT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Support backend.
    #[arg(long, env = "CASE_BOT_SUPPORT", value_enum, default_value = "sandbox")]
    support: SupportKind,
    /// AWS partition for the Support API: aws (global) or aws-cn (China).
    #[arg(long, env = "CASE_BOT_PARTITION", default_value = "aws")]
    partition: String,
    /// Where the robot's secrets come from.
    #[arg(long, env = "CASE_BOT_SECRETS", value_enum, default_value = "env")]
    secrets: SecretsKind,
    /// Secrets Manager secret (JSON keys app_secret, access_token, webhook_secret).
    #[arg(long, env = "CASE_BOT_SECRET_ID", default_value = DEFAULT_SECRET_ID)]
    secret_id: String,
    /// How replies reach the group: session (the callback's sessionWebhook), webhook (the
    /// custom robot, access_token), response (in the HTTP response).
    #[arg(long, env = "CASE_BOT_REPLY", default_value = "session")]
    reply: String,
    /// DingTalk's API origin (tests point it at a fake).
    #[arg(long, env = "DINGTALK_API_BASE", default_value = dingtalk_robot::DEFAULT_API_BASE)]
    dingtalk_api_base: String,
    /// Conversation ids allowed to use the robot, comma-separated (empty: any).
    #[arg(
        long,
        env = "CASE_BOT_ALLOWED_CONVERSATIONS",
        value_delimiter = ',',
        default_value = ""
    )]
    allowed_conversations: Vec<String>,
    /// Staff ids of admins, comma-separated.
    #[arg(
        long,
        env = "CASE_BOT_ADMINS",
        value_delimiter = ',',
        default_value = ""
    )]
    admins: Vec<String>,
    /// Who may resolve cases: admins-or-opener, admins, anyone.
    #[arg(
        long,
        env = "CASE_BOT_RESOLVE_POLICY",
        default_value = "admins-or-opener"
    )]
    resolve_policy: String,
    /// The embedded state store (SQLite file).
    #[arg(long, env = "CASE_BOT_STATE", default_value = "casebot-state.db")]
    state: PathBuf,
    /// Reply language: zh or en.
    #[arg(long, env = "CASE_BOT_LANG", default_value = "zh")]
    lang: String,
    /// Log format.
    #[arg(long, env = "CASE_BOT_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Most concurrent connections.
    #[arg(long, env = "CASE_BOT_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Milliseconds a request body may take to arrive (then 408), and a connection may go
    /// without a request (idle, or a head still arriving) before it is closed; such a
    /// connection is closed after between one and two times this.
    #[arg(long, env = "CASE_BOT_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    read_timeout_ms: u64,
    /// Milliseconds to wait before retrying a reply DingTalk throttled (errcode 130101); up
    /// to 11 retries, enough to outlast DingTalk's 10-minute block at the default.
    #[arg(
        long,
        env = "CASE_BOT_DINGTALK_RETRY_WAIT_MS",
        default_value_t = 60_000
    )]
    dingtalk_retry_wait_ms: u64,
    /// Sandbox: seconds until the simulated AWS engineer answers.
    #[arg(long, env = "CASE_BOT_SANDBOX_REPLY_AFTER", default_value_t = 30)]
    sandbox_reply_after: u64,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASE_BOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn secrets(
    args: &ServeArgs,
    sdk: Option<&aws_config::SdkConfig>,
) -> Result<Arc<dyn SecretSource>, String> {
    match args.secrets {
        SecretsKind::Aws => {
            let sdk = sdk.ok_or("--secrets aws needs AWS configuration")?;
            let source = SecretsManagerSource::new(sdk, &args.secret_id);
            source.load().await.map_err(|err| {
                format!("cannot read the Secrets Manager secret `{}`: {err}. Create it with the keys app_secret and access_token, or use --secrets env.", args.secret_id)
            })?;
            Ok(Arc::new(source))
        }
        SecretsKind::Env => {
            let app_secret = match env_secret("DINGTALK_APP_SECRET") {
                Some(secret) => secret,
                None if args.support == SupportKind::Sandbox => {
                    tracing::warn!(
                        "DINGTALK_APP_SECRET is not set: using the DEVELOPMENT app secret (sandbox only; never with a real robot)"
                    );
                    DEV_APP_SECRET.to_owned()
                }
                None => {
                    return Err("--support aws needs the robot's real app secret: set DINGTALK_APP_SECRET (or use --secrets aws with the Secrets Manager secret)".to_owned());
                }
            };
            Ok(Arc::new(StaticSecrets::new(Secrets {
                app_secret: AppSecret::new(app_secret),
                access_token: env_secret("DINGTALK_ACCESS_TOKEN").map(AccessToken::new),
                webhook_secret: env_secret("DINGTALK_WEBHOOK_SECRET").map(WebhookSecret::new),
            })))
        }
    }
}

fn parse_config(args: &ServeArgs) -> Result<(BotConfig, Partition), String> {
    let partition = Partition::from_name(&args.partition)
        .ok_or_else(|| format!("--partition `{}`: use aws or aws-cn", args.partition))?;
    let reply_mode = ReplyMode::from_name(&args.reply)
        .ok_or_else(|| format!("--reply `{}`: use session, webhook or response", args.reply))?;
    let resolve_policy = ResolvePolicy::from_name(&args.resolve_policy).ok_or_else(|| {
        format!(
            "--resolve-policy `{}`: use admins-or-opener, admins or anyone",
            args.resolve_policy
        )
    })?;
    let lang = Lang::from_code(&args.lang)
        .ok_or_else(|| format!("--lang `{}`: use zh or en", args.lang))?;
    let clean = |list: &[String]| {
        list.iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    Ok((
        BotConfig {
            reply_mode,
            allowed_conversations: clean(&args.allowed_conversations),
            admins: clean(&args.admins),
            resolve_policy,
            lang,
            ..BotConfig::default()
        },
        partition,
    ))
}

/// Why a request body was not read.
enum BodyError {
    TooLarge,
    Broken,
}

/// The whole body. One chunk (the usual case: the body came with the head) is handed on
/// as is, without the copy and the chunk list of `collect()`; more chunks are joined.
async fn body_bytes(mut body: Incoming, max: usize) -> Result<Bytes, BodyError> {
    use hyper::body::Body as _;
    if body.size_hint().lower() > max as u64 {
        return Err(BodyError::TooLarge);
    }
    let mut whole = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(|_| BodyError::Broken)?.into_data() else {
            continue; // trailers
        };
        let so_far = joined.as_ref().map_or(whole.len(), BytesMut::len);
        if so_far + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        match &mut joined {
            Some(buf) => buf.extend_from_slice(&chunk),
            None if whole.is_empty() => whole = chunk,
            None => {
                let mut buf = BytesMut::with_capacity(so_far + chunk.len());
                buf.extend_from_slice(&whole);
                buf.extend_from_slice(&chunk);
                joined = Some(buf);
            }
        }
    }
    Ok(joined.map_or(whole, BytesMut::freeze))
}

fn error_response(status: http::StatusCode, message: &str) -> hyper::Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

async fn read_body(
    body: Incoming,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, hyper::Response<Full<Bytes>>> {
    // Nearly always the body came in with the head and is ready at the first poll; only a
    // body still arriving gets the timer (arming one costs a clock read and a shared count).
    let mut read = std::pin::pin!(body_bytes(body, max));
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx))).await;
    let read = match first {
        std::task::Poll::Ready(read) => Ok(read),
        std::task::Poll::Pending => tokio::time::timeout(timeout, read).await,
    };
    match read {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(BodyError::TooLarge)) => Err(error_response(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is larger than {max} bytes"),
        )),
        Ok(Err(BodyError::Broken)) => Err(error_response(
            http::StatusCode::BAD_REQUEST,
            "the body could not be read (the connection broke or the chunked encoding is invalid)",
        )),
        Err(_) => Err(error_response(
            http::StatusCode::REQUEST_TIMEOUT,
            "body read timed out",
        )),
    }
}

/// What a connection has done, as its watchdog sees it.
#[derive(Debug, Default)]
struct Progress {
    /// Requests whose head was read.
    started: AtomicU64,
    /// Requests answered (or abandoned).
    finished: AtomicU64,
}

/// Counts a request as finished when its service future ends, however it ends.
struct Finishing(Arc<Progress>);

impl Drop for Finishing {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Relaxed);
    }
}

/// Returns when the connection has made no progress for a whole `timeout`: no request head
/// read and no request being answered. That covers a client that connects and sends
/// nothing, one that drips a request head (slowloris), and an idle keep-alive connection.
/// The connection is then closed, between one and two times `timeout` after its last
/// progress.
///
/// This replaces hyper's `header_read_timeout`, which arms a timer for every request: a
/// timer-wheel entry, an allocation and a shared lock per request, about 3 % of the
/// server's CPU under load. The watchdog arms one timer per connection per `timeout`, and
/// runs as a task of its own (see [`watch`]), so the connection's own polls never touch it.
async fn watchdog(progress: &Progress, timeout: Duration) {
    let mut seen = 0;
    loop {
        tokio::time::sleep(timeout).await;
        let started = progress.started.load(Ordering::Relaxed);
        if started == seen && progress.finished.load(Ordering::Relaxed) == started {
            return;
        }
        seen = started;
    }
}

/// Ends the connection `task` once its [`watchdog`] fires; ends at once when the connection
/// ends on its own.
async fn watch(task: tokio::task::JoinHandle<()>, progress: &Progress, timeout: Duration) {
    let abort = task.abort_handle();
    tokio::select! {
        biased;
        _ = task => {}
        () = watchdog(progress, timeout) => {
            abort.abort();
            tracing::debug!("closed a connection that made no progress");
        }
    }
}

/// Runs `case-bot serve` until SIGTERM or Ctrl-C.
pub(crate) async fn run(args: ServeArgs) -> Result<(), String> {
    let started = Instant::now();
    init_logs(args.log_format);
    let (config, partition) = parse_config(&args)?;
    let needs_aws = args.support == SupportKind::Aws || args.secrets == SecretsKind::Aws;
    let sdk = if needs_aws {
        Some(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(partition.signing_region()))
                .load()
                .await,
        )
    } else {
        None
    };
    let secrets = secrets(&args, sdk.as_ref()).await?;
    let support: Arc<dyn SupportApi> = match (args.support, &sdk) {
        (SupportKind::Aws, Some(sdk)) => Arc::new(AwsSupport::from_sdk_config(
            sdk,
            AwsSupportConfig {
                partition,
                ..AwsSupportConfig::default()
            },
        )),
        _ => Arc::new(Sandbox::with_config(SandboxConfig {
            engineer_reply_after: Duration::from_secs(args.sandbox_reply_after),
            ..SandboxConfig::default()
        })),
    };
    let store = SqliteStore::open(&args.state)
        .map_err(|err| format!("--state {}: {err}", args.state.display()))?;
    let sender = dingtalk_robot::Sender::builder()
        .api_base(&args.dingtalk_api_base)
        // Local tools such as `case-bot say` play DingTalk on loopback: trusted in sandbox mode only.
        .trust_loopback_session_webhooks(args.support == SupportKind::Sandbox)
        .retry(
            dingtalk_robot::RetryPolicy::default()
                .rate_limited_wait(Duration::from_millis(args.dingtalk_retry_wait_ms))
                .rate_limited_retries(11)
                .transient_backoff(Duration::from_millis(500))
                .transient_retries(2),
        )
        .build()
        .map_err(|err| format!("--dingtalk-api-base: {err}"))?;
    let max_body = config.max_body_bytes;
    let read_timeout = Duration::from_millis(args.read_timeout_ms);
    let bot = CaseBot::builder(support, secrets)
        .store(Arc::new(store))
        .config(config)
        .sender(sender)
        .build()
        .map_err(|err| err.to_string())?;

    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", args.listen))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let support_name = match args.support {
        SupportKind::Sandbox => "sandbox (no AWS account needed)",
        SupportKind::Aws => "aws",
    };
    println!(
        "case-bot listening on http://{addr}/dingtalk/callback (support: {support_name}, reply: {}, ready in {} ms)",
        args.reply,
        started.elapsed().as_millis()
    );

    let connections = Arc::new(Semaphore::new(args.max_connections as usize));
    let graceful = Arc::new(crate::graceful::Shutdown::default());
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&connections).acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
        };
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => { tracing::warn!(error = %err, "accept failed"); continue; }
            },
        };
        let bot = bot.clone();
        let progress = Arc::new(Progress::default());
        let seen_by_service = Arc::clone(&progress);
        let service = service_fn(move |request: hyper::Request<Incoming>| {
            let bot = bot.clone();
            seen_by_service.started.fetch_add(1, Ordering::Relaxed);
            let finishing = Finishing(Arc::clone(&seen_by_service));
            async move {
                let _finishing = finishing;
                let (parts, body) = request.into_parts();
                let body = match read_body(body, max_body, read_timeout).await {
                    Ok(body) => body,
                    Err(response) => return Ok::<_, std::convert::Infallible>(response),
                };
                let response = bot.handle(http::Request::from_parts(parts, body)).await;
                Ok(response.map(Full::new))
            }
        });
        // Replies are small (under 2 KiB), so hyper copies the body behind the head and sends
        // both with one write(2) instead of a writev(2) of a queue of two buffers: about 3 %
        // less CPU per request under `scripts/load` (A/B, two runs of 8 rounds).
        let connection = http1::Builder::new()
            .writev(false)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        let task = tokio::spawn(async move {
            let _permit = permit;
            let _ = connection.await;
        });
        tokio::spawn(async move { watch(task, &progress, read_timeout).await });
    }
    tracing::info!("shutting down: finishing open connections and replies");
    drop(listener);
    graceful.begin();
    // Every connection holds a permit until it has closed.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        connections.acquire_many(args.max_connections),
    )
    .await;
    if !bot.drain(Duration::from_secs(20)).await {
        tracing::warn!("some replies were still running at shutdown");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
