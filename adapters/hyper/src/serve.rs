//! `case-bot serve`: the configuration, the bot built from it, and its two routes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use case_bot_core::{
    CALLBACK_PATH, CallbackService, CaseBot, Config, DynamoStore, READY_PATH, SecretSource,
    SecretsFrom, SecretsManagerSource, SqliteStore, StaticSecrets, Store, SupportBackend,
    other_route,
};
use clap::{Args, ValueEnum};
use dingtalk_robot::{AppSecret, StreamClient, StreamState};
use http_body_util::Full;
use hyper::body::Incoming;
use support_commands::{AwsSupport, AwsSupportConfig, Sandbox, SandboxConfig, SupportApi};

use tokio::sync::watch;

use crate::listen::{Limits, serve};
use crate::stream::Mode;
use crate::{DEV_APP_SECRET, Failure};

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
    pub(crate) listen: SocketAddr,
    #[command(flatten)]
    config: Config,
    /// The state store: a SQLite file (one server), or `dynamodb:TABLE` to share claims and
    /// the outbox between servers.
    #[arg(long, env = "CASE_BOT_STATE", default_value = "casebot-state.db")]
    pub(crate) state: PathBuf,
    /// Log format (level: CASE_BOT_LOG, e.g. info).
    #[arg(
        long,
        env = "CASE_BOT_LOG_FORMAT",
        value_enum,
        ignore_case = true,
        default_value = "text"
    )]
    pub(crate) log_format: LogFormat,
    /// Most concurrent connections; more wait in the listen queue.
    #[arg(long, env = "CASE_BOT_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Most concurrent connections from one IP address; more are answered 429 and closed, so
    /// a few slow clients cannot hold every connection. Default: a quarter of
    /// --max-connections. 0: no limit (behind a reverse proxy every connection comes from the
    /// proxy's address).
    #[arg(long, env = "CASE_BOT_MAX_CONNECTIONS_PER_IP")]
    max_connections_per_ip: Option<u32>,
    /// Milliseconds a request head or body may take to arrive (a body then gets 408), and an
    /// idle connection stays open.
    #[arg(long, env = "CASE_BOT_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    read_timeout_ms: u64,
    /// Sandbox: seconds until the simulated AWS engineer answers.
    #[arg(long, env = "CASE_BOT_SANDBOX_REPLY_AFTER", default_value_t = 30)]
    sandbox_reply_after: u64,
    /// How DingTalk's messages arrive: `http` callbacks on --listen (a public URL), or
    /// `stream`, an outbound WebSocket authenticated with the app key and secret (no public
    /// URL, no exit IP). --listen still serves /healthz and /readyz.
    #[arg(
        long,
        env = "CASE_BOT_MODE",
        value_enum,
        ignore_case = true,
        default_value = "http"
    )]
    pub(crate) mode: Mode,
    /// The bot's public origin as DingTalk reaches it in HTTP mode (`https://bot.example.com`,
    /// behind your TLS proxy): the start-up log and `case-bot doctor` print the callback URL
    /// to paste as the robot's message receiving address.
    #[arg(long, env = "CASE_BOT_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// Test knob: milliseconds of silence after which the Stream client pings.
    #[arg(
        long,
        env = "CASE_BOT_STREAM_PING_MS",
        default_value_t = 60_000,
        hide = true
    )]
    stream_ping_ms: u64,
    /// Test knob: the first Stream reconnect backoff, in milliseconds.
    #[arg(
        long,
        env = "CASE_BOT_STREAM_BACKOFF_MS",
        default_value_t = 10_000,
        hide = true
    )]
    stream_backoff_ms: u64,
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

/// For the doctor: the secret that could not be read at start, so that the report shows it as
/// a failed check among the others.
#[derive(Debug)]
struct Unreadable {
    secret_id: String,
    code: String,
}

impl Unreadable {
    fn from_error(secret_id: String, err: &case_bot_core::Error) -> Self {
        let code = match err {
            case_bot_core::Error::SecretUnavailable { code, .. } => code.clone(),
            other => other.to_string(),
        };
        Self { secret_id, code }
    }
}

#[async_trait::async_trait]
impl SecretSource for Unreadable {
    async fn load(&self) -> Result<case_bot_core::Secrets, case_bot_core::Error> {
        Err(case_bot_core::Error::SecretUnavailable {
            secret_id: self.secret_id.clone(),
            code: self.code.clone(),
        })
    }
}

/// Where the secrets come from; in sandbox mode without any, a labelled development secret.
async fn secrets(
    config: &Config,
    sdk: Option<&aws_config::SdkConfig>,
) -> Result<Arc<dyn SecretSource>, Failure> {
    match config.secrets_from(SecretsFrom::Env) {
        SecretsFrom::Aws => {
            let sdk = sdk.ok_or(Failure::Usage("--secrets aws needs AWS configuration"))?;
            let source = SecretsManagerSource::new(sdk, &config.secret_id);
            // Fail at start, not at the first callback.
            source.load().await.map_err(|err| Failure::Secret {
                secret_id: config.secret_id.clone(),
                source: err,
            })?;
            Ok(Arc::new(source))
        }
        _ => {
            let app_secret = match (config.app_secret(), config.support) {
                (Some(secret), _) => secret.clone(),
                (None, SupportBackend::Sandbox) => {
                    tracing::warn!(
                        "DINGTALK_APP_SECRET is not set: using the DEVELOPMENT app secret (sandbox only; never with a real robot)"
                    );
                    AppSecret::new(DEV_APP_SECRET)
                }
                (None, _) => {
                    return Err(Failure::Usage(
                        "--support aws needs the robot's real app secret: set DINGTALK_APP_SECRET (or use --secrets aws with the Secrets Manager secret)",
                    ));
                }
            };
            Ok(Arc::new(StaticSecrets::new(case_bot_core::Secrets {
                app_secret,
                access_token: config.access_token().cloned(),
                webhook_secret: config.webhook_secret().cloned(),
                app_key: config.notify.app_key.clone(),
                robot_code: config.notify.robot_code.clone(),
            })))
        }
    }
}

/// The callback URL under `public` (an origin, or an origin with a path prefix).
pub(crate) fn callback_url(public: &str) -> String {
    format!("{}{CALLBACK_PATH}", public.trim_end_matches('/'))
}

/// The sandbox, with the cases it had when the bot last ran when there is a state file.
async fn sandbox(
    reply_after: Duration,
    path: &std::path::Path,
    state: Option<&SqliteStore>,
) -> Result<Sandbox, Failure> {
    let sandbox = Sandbox::with_config(SandboxConfig {
        engineer_reply_after: reply_after,
        ..SandboxConfig::default()
    });
    let Some(state) = state else {
        return Ok(sandbox);
    };
    let saved = state
        .sandbox_state()
        .await
        .map_err(|source| Failure::State {
            path: path.to_owned(),
            source,
        })?;
    sandbox
        .with_saved(saved.as_deref(), state.sandbox_saver())
        .map_err(|source| Failure::SandboxState {
            path: path.to_owned(),
            source,
        })
}

/// The sandbox's pushes: with no app key of its own, to the local DingTalk of `case-bot say
/// --wait` on 127.0.0.1:8081, and polled every 5 s (a sandbox poll costs nothing).
fn sandbox_pushes(notify: &mut case_bot_core::NotifyConfig) {
    if notify.app_key.is_none()
        && notify.push_via != case_bot_core::PushVia::Webhook
        && notify.dingtalk_openapi_base == dingtalk_robot::DEFAULT_OPENAPI_BASE
    {
        notify.app_key = Some(crate::local_dingtalk::APP_KEY.to_owned());
        notify.dingtalk_openapi_base = format!("http://127.0.0.1:{}", crate::local_dingtalk::PORT);
    }
    if notify.watch_interval == Duration::from_secs(60) {
        notify.watch_interval = Duration::from_secs(5);
    }
}

/// The bot's routes (callback, liveness, readiness); everything else is 404.
#[derive(Clone, Debug)]
struct App {
    bot: CaseBot,
    callback: CallbackService,
    /// Stream mode's connection state, for /readyz.
    stream: Option<watch::Receiver<StreamState>>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for App {
    type Response = hyper::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let app = self.clone();
        Box::pin(async move {
            Ok(match request.uri().path() {
                CALLBACK_PATH => {
                    let mut callback = app.callback;
                    tower_service::Service::call(&mut callback, request).await?
                }
                READY_PATH if request.method() == hyper::Method::GET && app.stream.is_some() => {
                    stream_readiness(&app).await
                }
                path => other_route(&app.bot, request.method(), path).await,
            })
        })
    }
}

/// `/readyz` in Stream mode: the bot's readiness and the connection's; not ready while
/// disconnected.
async fn stream_readiness(app: &App) -> hyper::Response<Full<Bytes>> {
    let readiness = app.bot.readiness().await;
    let (connected, stream) = app
        .stream
        .as_ref()
        .map(crate::stream::readiness)
        .unwrap_or_default();
    let mut body = serde_json::to_value(&readiness).unwrap_or_default();
    let ready = readiness.ready && connected;
    body["ready"] = ready.into();
    body["stream"] = stream;
    let status = if ready {
        hyper::StatusCode::OK
    } else {
        hyper::StatusCode::SERVICE_UNAVAILABLE
    };
    case_bot_core::json_response(status, &body)
}

/// What `serve` is for, or `doctor`, which builds the same bot but never opens the state
/// file for writing (the running bot may have it) and reports a missing app key as a check.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Serve,
    Doctor,
}

/// The bot and what surrounds it, built from the flags.
pub(crate) struct Prepared {
    pub(crate) bot: CaseBot,
    /// Stream mode's client (when the app key is known).
    pub(crate) stream_client: Option<StreamClient>,
    /// The DynamoDB table's name when the state is one (`dynamodb:TABLE`).
    pub(crate) table: Option<String>,
}

/// Builds the bot `case-bot serve` would run from `args`.
pub(crate) async fn prepare(args: &mut ServeArgs, purpose: Purpose) -> Result<Prepared, Failure> {
    let mut config = std::mem::take(&mut args.config);
    let table = args
        .state
        .to_str()
        .and_then(|state| state.strip_prefix("dynamodb:"))
        .map(str::to_owned);
    let needs_aws = config.support == SupportBackend::Aws
        || config.secrets_from(SecretsFrom::Env) == SecretsFrom::Aws
        || table.is_some();
    let sdk = if needs_aws {
        Some(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(config.partition.signing_region()))
                .load()
                .await,
        )
    } else {
        None
    };
    let secrets: Arc<dyn SecretSource> = match secrets(&config, sdk.as_ref()).await {
        // The doctor reports an unreadable secret as a failed check, with the rest.
        Err(Failure::Secret { secret_id, source }) if purpose == Purpose::Doctor => {
            Arc::new(Unreadable::from_error(secret_id, &source))
        }
        other => other?,
    };
    let stream_client = match args.mode {
        Mode::Http => None,
        Mode::Stream => {
            let keys = match secrets.load().await {
                Ok(keys) => Some(keys),
                Err(_) if purpose == Purpose::Doctor => None,
                Err(err) => return Err(Failure::Config(err)),
            };
            let app = keys.and_then(|keys| {
                let key = keys.app_key.or_else(|| config.notify.app_key.clone())?;
                Some((key, keys.app_secret))
            });
            match app {
                Some((app_key, app_secret)) => Some(crate::stream::client(
                    app_key,
                    app_secret,
                    &config.notify.dingtalk_openapi_base,
                    crate::stream::Knobs {
                        ping_after_idle: Duration::from_millis(args.stream_ping_ms.max(1)),
                        backoff_start: Duration::from_millis(args.stream_backoff_ms.max(1)),
                    },
                )),
                None if purpose == Purpose::Doctor => None,
                None => {
                    return Err(Failure::Usage(
                        "--mode stream needs the app key (Client ID): set DINGTALK_APP_KEY or the secret's app_key",
                    ));
                }
            }
        }
    };
    // The state file also keeps the sandbox's cases, so it is opened first; the doctor leaves
    // it alone (it inspects it instead).
    let (store, sqlite, dynamo): (Arc<dyn Store>, Option<SqliteStore>, _) = match (&table, &sdk) {
        (Some(table), Some(sdk)) => (
            Arc::new(DynamoStore::new(sdk, table.as_str()).audit_days(config.audit_days)),
            None,
            Some(table.clone()),
        ),
        _ if purpose == Purpose::Doctor => {
            (Arc::new(case_bot_core::MemoryStore::default()), None, None)
        }
        _ => {
            let sqlite = SqliteStore::open(&args.state).map_err(|source| Failure::State {
                path: args.state.clone(),
                source,
            })?;
            (Arc::new(sqlite.clone()), Some(sqlite), None)
        }
    };
    let support: Arc<dyn SupportApi> = match (config.support, &sdk) {
        (SupportBackend::Aws, Some(sdk)) => Arc::new(AwsSupport::from_sdk_config(
            sdk,
            AwsSupportConfig {
                partition: config.partition,
                ..AwsSupportConfig::default()
            },
        )),
        _ => Arc::new(
            sandbox(
                Duration::from_secs(args.sandbox_reply_after),
                &args.state,
                sqlite.as_ref(),
            )
            .await?,
        ),
    };
    if config.support == SupportBackend::Sandbox {
        sandbox_pushes(&mut config.notify);
    }
    let bot = CaseBot::builder(support, secrets)
        .store(store)
        .config(config)
        .build()
        .map_err(Failure::Config)?;
    Ok(Prepared {
        bot,
        stream_client,
        table: dynamo,
    })
}

/// Runs `case-bot serve` until SIGTERM or Ctrl-C.
pub(crate) async fn run(mut args: ServeArgs) -> Result<(), Failure> {
    let started = Instant::now();
    init_logs(args.log_format);
    let Prepared {
        bot, stream_client, ..
    } = prepare(&mut args, Purpose::Serve).await?;
    let config = bot.config();
    let sandbox = config.support == SupportBackend::Sandbox;
    let mode_name = match args.mode {
        Mode::Http => "http",
        Mode::Stream => "stream",
    };
    let reply = config.reply;
    let support_name = match config.support {
        SupportBackend::Aws => "aws",
        _ => "sandbox (no AWS account needed)",
    };
    if let (Mode::Http, Some(public)) = (args.mode, &args.public_url) {
        tracing::info!(
            callback_url = %callback_url(public),
            "DingTalk's message receiving address (paste it in the robot's settings)"
        );
    }
    // The courier (pending replies from before a restart), recovery of claims a crash left
    // unfinished, and the store's upkeep.
    bot.start();
    let read_timeout = Duration::from_millis(args.read_timeout_ms);
    let app = App {
        callback: CallbackService::new(bot.clone()).body_timeout(read_timeout),
        bot: bot.clone(),
        stream: stream_client.as_ref().map(StreamClient::state),
    };
    let limits = Limits {
        max_connections: args.max_connections,
        max_connections_per_ip: args
            .max_connections_per_ip
            .unwrap_or((args.max_connections / 4).max(1)),
        read_timeout,
    };
    let ready = move |addr: SocketAddr| {
        println!(
            "case-bot listening on http://{addr}{CALLBACK_PATH} (mode: {mode_name}, support: {support_name}, reply: {}, ready in {} ms)",
            reply
                .to_possible_value()
                .map(|v| v.get_name().to_owned())
                .unwrap_or_default(),
            started.elapsed().as_millis()
        );
        if sandbox {
            tracing::info!(
                "the sandbox pushes AWS's answers to 127.0.0.1:{}: `case-bot say --wait 60 …` shows them",
                crate::local_dingtalk::PORT
            );
        }
    };
    let server = serve(args.listen, app, limits, ready);
    match stream_client {
        None => server.await?,
        Some(client) => {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let mut receiving = tokio::spawn(crate::stream::run(client, bot.clone(), async {
                let _ = stopped.await;
            }));
            tokio::pin!(server);
            tokio::select! {
                served = &mut server => {
                    // SIGTERM: stop taking frames; the handlers started finish and ACK.
                    let _ = stop.send(());
                    let _ = receiving.await;
                    served?;
                }
                ended = &mut receiving => {
                    bot.drain(Duration::from_secs(10)).await;
                    return match ended {
                        Ok(Err(err)) => Err(Failure::Stream(err)),
                        _ => Err(Failure::Usage("the Stream client stopped")),
                    };
                }
            }
        }
    }
    // Commands running get a moment to finish; what they or the courier leave is durable
    // (claims are recovered, the outbox resumes at the next start).
    if !bot.drain(Duration::from_secs(10)).await {
        tracing::warn!("some commands were still running at shutdown: recovered at the next start");
    }
    Ok(())
}
