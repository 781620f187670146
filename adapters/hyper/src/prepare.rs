//! Building the bot from `case-bot serve`'s flags, for `serve` and for `doctor`: the AWS
//! configuration, the secrets, the Stream client, the state store and the Support backend
//! (the sandbox keeps its cases in the state file).

use std::sync::Arc;
use std::time::Duration;

use case_bot_core::{
    CALLBACK_PATH, CaseBot, Config, DynamoStore, SecretSource, SecretsFrom, SecretsManagerSource,
    SqliteStore, StaticSecrets, Store, SupportBackend,
};
use dingtalk_robot::{AppSecret, StreamClient};
use support_commands::{AwsSupport, AwsSupportConfig, Sandbox, SandboxConfig, SupportApi};

use crate::serve::ServeArgs;
use crate::stream::Mode;
use crate::{DEV_APP_SECRET, Failure};

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
    // The doctor checks the configuration as given, not the sandbox's local push target.
    if config.support == SupportBackend::Sandbox && purpose == Purpose::Serve {
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
