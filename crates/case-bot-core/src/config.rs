//! One configuration type for both adapters: the flags of `case-bot serve` and the environment
//! variables of the Lambda function are the same settings, parsed by the same clap derive.

use std::time::Duration;

use clap::{Args, ValueEnum};
use dingtalk_robot::{AccessToken, AppSecret, WebhookSecret};
use support_commands::{Lang, Partition};

use crate::secrets::DEFAULT_SECRET_ID;

/// How replies reach the group.
///
/// ```
/// use clap::ValueEnum as _;
/// assert_eq!(case_bot_core::ReplyMode::from_str("webhook", true), Ok(case_bot_core::ReplyMode::Webhook));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum ReplyMode {
    /// Answer the callback at once and post the reply to the callback's `sessionWebhook`.
    #[default]
    Session,
    /// Post to the group's custom robot webhook (`access_token` secret, optionally 加签), like
    /// the old bot.
    Webhook,
    /// Return the reply in the HTTP response body (long replies: the rest via `sessionWebhook`).
    Response,
}

/// Who may resolve a case.
///
/// ```
/// use clap::ValueEnum as _;
/// use case_bot_core::ResolvePolicy;
/// assert_eq!(ResolvePolicy::default(), ResolvePolicy::AdminsOrOpener);
/// assert_eq!(ResolvePolicy::from_str("admins-only", true), Ok(ResolvePolicy::AdminsOnly));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum ResolvePolicy {
    /// The configured admins, or whoever opened the case through the bot.
    #[default]
    #[value(alias = "default")]
    AdminsOrOpener,
    /// Only the configured admins.
    #[value(name = "admins", alias = "admins-only")]
    AdminsOnly,
    /// Anyone in an allowed conversation (the old bot's behaviour).
    Anyone,
}

/// Which AWS Support backend answers.
///
/// ```
/// assert_eq!(case_bot_core::SupportBackend::default(), case_bot_core::SupportBackend::Sandbox);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum SupportBackend {
    /// Simulated cases in the bot (no AWS account needed).
    #[default]
    Sandbox,
    /// The AWS Support API (a Business, Enterprise On-Ramp or Enterprise plan).
    Aws,
}

/// Where the robot's secrets come from.
///
/// ```
/// use case_bot_core::{Config, SecretsFrom};
/// let config = Config::default();
/// assert_eq!(config.secrets_from(SecretsFrom::Aws), SecretsFrom::Aws);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum SecretsFrom {
    /// `DINGTALK_APP_SECRET`, `DINGTALK_ACCESS_TOKEN`, `DINGTALK_WEBHOOK_SECRET`.
    Env,
    /// The Secrets Manager secret `--secret-id`.
    Aws,
}

/// The settings shared by `case-bot serve` and the Lambda function. Every flag has an
/// environment fallback; the Lambda function reads the same variables.
///
/// ```
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     config: case_bot_core::Config,
/// }
/// let cli = Cli::try_parse_from(["bot", "--reply", "webhook", "--admins", "a1, a2"]).unwrap();
/// assert_eq!(cli.config.reply, case_bot_core::ReplyMode::Webhook);
/// assert_eq!(cli.config.admins(), ["a1", "a2"]);
/// ```
#[derive(Debug, Clone, Args)]
#[allow(clippy::exhaustive_structs)] // built with `..Config::default()`
pub struct Config {
    /// Support backend: sandbox (simulated cases, no AWS account needed) or aws.
    #[arg(
        long,
        env = "CASE_BOT_SUPPORT",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    pub support: SupportBackend,
    /// AWS partition of the Support API: aws (global) or aws-cn (China; `cn` is an alias).
    #[arg(
        long,
        env = "CASE_BOT_PARTITION",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    pub partition: Partition,
    /// Where the robot's secrets come from: env, or aws (the Secrets Manager secret
    /// --secret-id). Default: env when DINGTALK_APP_SECRET is set; otherwise env for
    /// `case-bot serve` and aws for the Lambda function.
    #[arg(long, env = "CASE_BOT_SECRETS", value_enum, ignore_case = true)]
    pub secrets: Option<SecretsFrom>,
    /// Secrets Manager secret: JSON keys app_secret, access_token, webhook_secret.
    #[arg(long, env = "CASE_BOT_SECRET_ID", default_value = DEFAULT_SECRET_ID)]
    pub secret_id: String,
    /// How replies reach the group: session (the callback's sessionWebhook), webhook (the
    /// custom robot, access_token), response (in the HTTP response).
    #[arg(
        long,
        env = "CASE_BOT_REPLY",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    pub reply: ReplyMode,
    /// DingTalk's API origin (tests point it at a fake).
    #[arg(long, env = "DINGTALK_API_BASE", default_value = dingtalk_robot::DEFAULT_API_BASE)]
    pub dingtalk_api_base: String,
    /// Conversation ids allowed to use the robot, comma-separated (empty: any).
    #[arg(long, env = "CASE_BOT_ALLOWED_CONVERSATIONS", value_delimiter = ',')]
    pub allowed_conversations: Vec<String>,
    /// Staff ids of admins, comma-separated.
    #[arg(long, env = "CASE_BOT_ADMINS", value_delimiter = ',')]
    pub admins: Vec<String>,
    /// Who may resolve cases: admins-or-opener, admins, anyone.
    #[arg(
        long,
        env = "CASE_BOT_RESOLVE_POLICY",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    pub resolve_policy: ResolvePolicy,
    /// Reply language: zh or en.
    #[arg(
        long,
        env = "CASE_BOT_LANG",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    pub lang: Lang,
    /// The language cases are opened in at AWS, unless a message names one (`language:`):
    /// zh, en, ja, ko, es, pt, fr or tr. Checked at each create against
    /// DescribeSupportedLanguages for the case's service and category; where AWS does not
    /// handle it, the case is opened in English and the reply says so.
    #[arg(long, env = "CASE_BOT_CASE_LANGUAGE", default_value = "zh", value_parser = case_language)]
    pub case_language: String,
    /// The robot's app secret (environment only: a flag would show in `ps`). Read it with
    /// [`app_secret`](Self::app_secret), which treats an empty value as unset.
    #[arg(long, env = "DINGTALK_APP_SECRET", hide = true, hide_env_values = true, value_parser = secret::<AppSecret>)]
    pub app_secret: Option<AppSecret>,
    /// The custom robot's access token, for `--reply webhook` (environment only).
    #[arg(long, env = "DINGTALK_ACCESS_TOKEN", hide = true, hide_env_values = true, value_parser = secret::<AccessToken>)]
    pub access_token: Option<AccessToken>,
    /// The custom robot's 加签 secret (environment only).
    #[arg(long, env = "DINGTALK_WEBHOOK_SECRET", hide = true, hide_env_values = true, value_parser = secret::<WebhookSecret>)]
    pub webhook_secret: Option<WebhookSecret>,
    /// Milliseconds a command may wait for AWS. A read that takes longer is answered "timed
    /// out, try again"; a write (create, reply, resolve) is answered "AWS is slow", keeps
    /// running, and its outcome is posted when known.
    #[arg(long = "command-deadline-ms", env = "CASE_BOT_COMMAND_DEADLINE_MS", default_value = "20000", value_parser = millis)]
    pub command_deadline: Duration,
    /// The conversation (`conversationId`) the custom robot (`DINGTALK_ACCESS_TOKEN`) posts
    /// to. Only there does it stand in for an expired or missing sessionWebhook: a reply never
    /// goes to another group.
    #[arg(long, env = "CASE_BOT_ROBOT_CONVERSATION")]
    pub robot_conversation: Option<String>,
    /// Messages a minute to one conversation (DingTalk allows 20).
    #[arg(long, env = "CASE_BOT_MESSAGES_PER_MINUTE", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub messages_per_minute: u32,
    /// Test knob: the window `--messages-per-minute` counts in, in milliseconds (DingTalk's is
    /// a minute), so pacing tests run in seconds.
    #[arg(long = "pace-window-ms", env = "CASE_BOT_PACE_WINDOW_MS", default_value = "60000", value_parser = millis, hide = true)]
    pub pace_window: Duration,
    /// Milliseconds DingTalk's throttling (errcode 130101) pauses every send of the robot.
    #[arg(long = "dingtalk-retry-wait-ms", env = "CASE_BOT_DINGTALK_RETRY_WAIT_MS", default_value = "60000", value_parser = millis)]
    pub throttled_wait: Duration,
    /// Milliseconds before the first retry of a send that failed in transit (or with a 5xx);
    /// doubled each time, up to 5 minutes, 16 attempts in all.
    #[arg(long = "dingtalk-backoff-ms", env = "CASE_BOT_DINGTALK_BACKOFF_MS", default_value = "2000", value_parser = millis)]
    pub send_backoff: Duration,
    /// Replies waiting for one conversation beyond which its new commands are not run: the
    /// group is told the bot is behind.
    #[arg(long, env = "CASE_BOT_BACKLOG_LIMIT", default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..))]
    pub backlog_limit: u32,
    /// Commands run at once; more wait their turn (claimed and durable). Bounds the memory
    /// and the AWS calls of a flood: AWS Support takes only a few calls a second anyway.
    #[arg(long, env = "CASE_BOT_MAX_COMMANDS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_commands: u32,
    /// Days the audit trail (and undelivered messages) are kept.
    #[arg(long, env = "CASE_BOT_AUDIT_DAYS", default_value_t = 400, value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_days: u32,
    /// Pushed notifications.
    #[command(flatten)]
    pub notify: crate::notify::NotifyConfig,
    /// Test only: abort the process at this point of every command, to test recovery.
    #[arg(long, env = "CASE_BOT_TEST_CRASH_AT", value_enum, hide = true)]
    pub test_crash_at: Option<CrashPoint>,
    /// How long a `msgId` is remembered, to drop redeliveries.
    #[arg(skip = Duration::from_secs(3600))]
    pub idempotency_ttl: Duration,
}

/// Where `--test-crash-at` aborts the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum CrashPoint {
    /// The claim is durable; nothing else happened.
    AfterClaim,
    /// AWS answered; nothing was recorded.
    AfterAws,
    /// The reply is in the outbox; the claim is not marked done.
    AfterOutbox,
}

/// A case language AWS's CreateCase takes.
fn case_language(value: &str) -> Result<String, String> {
    let code = value.trim().to_ascii_lowercase();
    if support_commands::LANGUAGES.contains(&code.as_str()) {
        Ok(code)
    } else {
        Err(format!(
            "one of {} (AWS's case languages)",
            support_commands::LANGUAGES.join(", ")
        ))
    }
}

/// A number of milliseconds.
fn millis(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| "a number of milliseconds".to_owned())
}

/// A secret value from the environment, trimmed. An empty one is kept here and counts as
/// unset (see [`Config::app_secret`]): a variable set to nothing means "not configured".
fn secret<T: From<String>>(value: &str) -> Result<T, std::convert::Infallible> {
    Ok(T::from(value.trim().to_owned()))
}

impl Default for Config {
    /// The defaults of the flags, with no environment read.
    fn default() -> Self {
        Self {
            support: SupportBackend::default(),
            partition: Partition::default(),
            secrets: None,
            secret_id: DEFAULT_SECRET_ID.to_owned(),
            reply: ReplyMode::default(),
            dingtalk_api_base: dingtalk_robot::DEFAULT_API_BASE.to_owned(),
            allowed_conversations: Vec::new(),
            admins: Vec::new(),
            resolve_policy: ResolvePolicy::default(),
            lang: Lang::default(),
            case_language: "zh".to_owned(),
            app_secret: None,
            access_token: None,
            webhook_secret: None,
            command_deadline: Duration::from_secs(20),
            robot_conversation: None,
            messages_per_minute: 20,
            pace_window: Duration::from_secs(60),
            throttled_wait: Duration::from_secs(60),
            send_backoff: Duration::from_secs(2),
            backlog_limit: 40,
            max_commands: 32,
            audit_days: 400,
            notify: crate::notify::NotifyConfig::default(),
            test_crash_at: None,
            idempotency_ttl: Duration::from_secs(3600),
        }
    }
}

/// The non-empty, trimmed entries of a comma-separated list.
fn clean(list: &[String]) -> impl Iterator<Item = &str> {
    list.iter().map(|s| s.trim()).filter(|s| !s.is_empty())
}

impl Config {
    /// The conversations allowed to use the robot (empty: any).
    ///
    /// ```
    /// let config = case_bot_core::Config { allowed_conversations: vec![" cid1".into(), "".into()], ..Default::default() };
    /// assert_eq!(config.allowed_conversations(), ["cid1"]);
    /// ```
    #[must_use]
    pub fn allowed_conversations(&self) -> Vec<&str> {
        clean(&self.allowed_conversations).collect()
    }

    /// The admins' staff ids.
    ///
    /// ```
    /// let config = case_bot_core::Config { admins: vec!["m1 ".into()], ..Default::default() };
    /// assert_eq!(config.admins(), ["m1"]);
    /// ```
    #[must_use]
    pub fn admins(&self) -> Vec<&str> {
        clean(&self.admins).collect()
    }

    /// The app secret, unless unset or empty.
    ///
    /// ```
    /// let config = case_bot_core::Config { app_secret: Some("".into()), ..Default::default() };
    /// assert!(config.app_secret().is_none());
    /// ```
    #[must_use]
    pub fn app_secret(&self) -> Option<&AppSecret> {
        self.app_secret.as_ref().filter(|s| !s.is_empty())
    }

    /// The custom robot's access token, unless unset or empty.
    ///
    /// ```
    /// let config = case_bot_core::Config { access_token: Some("tok".into()), ..Default::default() };
    /// assert!(config.access_token().is_some());
    /// ```
    #[must_use]
    pub fn access_token(&self) -> Option<&AccessToken> {
        self.access_token.as_ref().filter(|s| !s.is_empty())
    }

    /// The custom robot's 加签 secret, unless unset or empty.
    ///
    /// ```
    /// assert!(case_bot_core::Config::default().webhook_secret().is_none());
    /// ```
    #[must_use]
    pub fn webhook_secret(&self) -> Option<&WebhookSecret> {
        self.webhook_secret.as_ref().filter(|s| !s.is_empty())
    }

    /// Where the secrets come from: `--secrets` if given, else the environment when
    /// `DINGTALK_APP_SECRET` is set, else the adapter's `default`.
    ///
    /// ```
    /// use case_bot_core::{Config, SecretsFrom};
    /// let config = Config { app_secret: Some("s".into()), ..Default::default() };
    /// assert_eq!(config.secrets_from(SecretsFrom::Aws), SecretsFrom::Env);
    /// ```
    #[must_use]
    pub fn secrets_from(&self, default: SecretsFrom) -> SecretsFrom {
        match (self.secrets, self.app_secret()) {
            (Some(from), _) => from,
            (None, Some(_)) => SecretsFrom::Env,
            (None, None) => default,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, FromArgMatches as _, Parser};

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Cli::try_parse_from(std::iter::once("bot").chain(args.iter().copied())).map(|c| c.config)
    }

    #[test]
    fn default_is_what_an_empty_command_line_gives() {
        // Only meaningful without the variables set; the test environment does not set them.
        if std::env::vars().any(|(k, _)| k.starts_with("CASE_BOT_") || k.starts_with("DINGTALK_")) {
            return;
        }
        let parsed = parse(&[]).unwrap();
        let default = Config::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
    }

    #[test]
    fn value_names_and_their_legacy_aliases_are_accepted_in_any_case() {
        let config = parse(&[
            "--partition",
            "CN",
            "--lang",
            "zh-CN",
            "--resolve-policy",
            "admins-only",
            "--reply",
            "Response",
        ])
        .unwrap();
        assert_eq!(config.partition, Partition::AwsCn);
        assert_eq!(config.lang, Lang::Zh);
        assert_eq!(config.resolve_policy, ResolvePolicy::AdminsOnly);
        assert_eq!(config.reply, ReplyMode::Response);
        assert!(parse(&["--reply", "carrier-pigeon"]).is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = Config {
            app_secret: Some(AppSecret::new("very-secret-value")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("very-secret-value"));
    }

    #[test]
    fn matches_round_trip_through_from_arg_matches() {
        let matches = Cli::command()
            .try_get_matches_from(["bot", "--admins", "a,b"])
            .unwrap();
        let config = Config::from_arg_matches(&matches).unwrap();
        assert_eq!(config.admins(), ["a", "b"]);
    }
}
