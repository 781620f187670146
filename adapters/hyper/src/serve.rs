//! `case-bot serve`: its flags, its routes, and the run from start to a clean stop (the bot
//! itself is built in [`prepare`](crate::prepare)).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use case_bot_core::{
    CALLBACK_PATH, CallbackService, CaseBot, Config, READY_PATH, SupportBackend, other_route,
};
use clap::{Args, ValueEnum};
use dingtalk_robot::{StreamClient, StreamState};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::sync::watch;

use crate::Failure;
use crate::listen::{Limits, serve};
use crate::prepare::{Prepared, Purpose, callback_url, prepare};
use crate::stream::Mode;

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
    pub(crate) config: Config,
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
    pub(crate) max_connections: u32,
    /// Most concurrent connections from one IP address; more are answered 429 and closed, so
    /// a few slow clients cannot hold every connection. Default: a quarter of
    /// --max-connections. 0: no limit (behind a reverse proxy every connection comes from the
    /// proxy's address).
    #[arg(long, env = "CASE_BOT_MAX_CONNECTIONS_PER_IP")]
    pub(crate) max_connections_per_ip: Option<u32>,
    /// Milliseconds a request head or body may take to arrive (a body then gets 408), and an
    /// idle connection stays open.
    #[arg(long, env = "CASE_BOT_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) read_timeout_ms: u64,
    /// Sandbox: seconds until the simulated AWS engineer answers.
    #[arg(long, env = "CASE_BOT_SANDBOX_REPLY_AFTER", default_value_t = 30)]
    pub(crate) sandbox_reply_after: u64,
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
    pub(crate) stream_ping_ms: u64,
    /// Test knob: the first Stream reconnect backoff, in milliseconds.
    #[arg(
        long,
        env = "CASE_BOT_STREAM_BACKOFF_MS",
        default_value_t = 10_000,
        hide = true
    )]
    pub(crate) stream_backoff_ms: u64,
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
