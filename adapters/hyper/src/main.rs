//! `case-bot`: the casebot DingTalk robot as a plain hyper server.
//!
//! `case-bot serve` runs the bot; `case-bot say "<text>"` talks to a running bot the way
//! DingTalk does (a signed callback with a sessionWebhook of its own) and prints the reply.

mod doctor;
mod healthcheck;
mod listen;
mod local_dingtalk;
mod prepare;
mod say;
mod serve;
mod stream;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc: the request path allocates many small strings, and glibc's malloc showed up as
/// 18 % of the server's CPU under load. Built with `no_thp` (workspace Cargo.toml): with
/// transparent huge pages mimalloc held 2 MiB pages and the RSS under load was twice as high.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The development app secret used in sandbox mode when none is configured. Never use it
/// with a real DingTalk robot.
pub(crate) const DEV_APP_SECRET: &str = "casebot-development-secret-not-for-production";

/// Why `case-bot` stopped: each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The bot could not be configured.
    #[error("{0}")]
    Config(#[from] case_bot_core::Error),
    /// A combination of settings that cannot work.
    #[error("{0}")]
    Usage(&'static str),
    /// The Secrets Manager secret could not be read at start.
    #[error(
        "cannot read the Secrets Manager secret `{secret_id}`: {source}. Create it with the keys app_secret and access_token, or use --secrets env."
    )]
    Secret {
        secret_id: String,
        source: case_bot_core::Error,
    },
    /// The state file could not be opened.
    #[error("--state {}: {source}", path.display())]
    State {
        path: PathBuf,
        source: case_bot_core::Error,
    },
    /// The sandbox's saved cases in the state file cannot be read.
    #[error("--state {}: {source}. To start the sandbox afresh and keep everything else: sqlite3 {} \"DELETE FROM sandbox\"", path.display(), path.display())]
    SandboxState {
        path: PathBuf,
        source: support_commands::Error,
    },
    /// Stream mode could not start or stopped for good (bad app key or secret).
    #[error("stream mode: {0}")]
    Stream(#[from] dingtalk_robot::Error),
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// `case-bot say`: the bot could not be reached.
    #[error("cannot reach the bot at {url}: {source}. Is `case-bot serve` running?")]
    Unreachable { url: String, source: reqwest::Error },
    /// `case-bot say`: the bot refused the message.
    #[error("the bot answered HTTP {status}: {body}")]
    Refused { status: u16, body: String },
    /// `case-bot say`: no reply came.
    #[error("no reply within {0} s")]
    NoReply(u64),
}

#[derive(Parser, Debug)]
#[command(
    name = "case-bot",
    version,
    about = "Run AWS Support cases from a DingTalk group."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Serve the robot's callback (POST /dingtalk/callback) and health check (GET /healthz).
    Serve(Box<serve::ServeArgs>),
    /// Send a message to a running bot as DingTalk would, and print its reply.
    Say(say::SayArgs),
    /// Check, without changing anything, whether this configuration will work: the secret,
    /// the Support API and plan, IAM (dryRun), DingTalk, the Stream ticket or callback URL,
    /// and the state file. Takes the same flags and variables as `serve`; exits 1 if a check
    /// failed.
    Doctor(Box<doctor::DoctorArgs>),
    /// Ask a running bot's /healthz once; exit 0 when it answers 200 (container health
    /// checks without curl).
    Healthcheck(healthcheck::HealthArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("case-bot: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Cmd::Serve(args) => serve::run(*args).await.map(|()| true),
            Cmd::Say(args) => say::run(args).await.map(|()| true),
            Cmd::Doctor(args) => doctor::run(*args).await,
            Cmd::Healthcheck(args) => healthcheck::run(args).await,
        }
    });
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(failure) => {
            eprintln!("case-bot: {failure}");
            std::process::ExitCode::from(2)
        }
    }
}
