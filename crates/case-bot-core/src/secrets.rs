//! Where the robot's secrets come from: environment values or the Secrets Manager secret
//! `dingding-outgoing-robot-env`, cached, re-read on a signature mismatch (rotation) at most
//! once per interval.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dingtalk_robot::{AccessToken, AppSecret, CallbackVerifier, WebhookSecret};
use tokio::sync::Mutex;

use crate::error::Error;

/// The legacy bot's secret name, kept as the default.
pub const DEFAULT_SECRET_ID: &str = "dingding-outgoing-robot-env";

/// The robot's secrets. `Debug` shows only lengths.
///
/// ```
/// use case_bot_core::Secrets;
/// let s = Secrets::from_json(r#"{"app_secret":"a","access_token":"t"}"#).unwrap();
/// assert!(s.access_token.is_some() && s.webhook_secret.is_none());
/// assert!(!format!("{s:?}").contains("\"a\""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Secrets {
    /// Verifies callbacks.
    pub app_secret: AppSecret,
    /// The custom robot's token, for the `webhook` reply mode.
    pub access_token: Option<AccessToken>,
    /// The custom robot's 加签 secret, if it has one.
    pub webhook_secret: Option<WebhookSecret>,
    /// The app key (Client ID), for OpenAPI group sends (`app_key`; not a secret).
    pub app_key: Option<String>,
    /// The robot code (`robot_code`; default the app key).
    pub robot_code: Option<String>,
}

impl Secrets {
    /// Parses the Secrets Manager JSON: `app_secret` (required), `access_token`,
    /// `webhook_secret` (optional).
    ///
    /// # Errors
    /// [`Error::SecretMalformed`].
    ///
    /// ```
    /// assert!(case_bot_core::Secrets::from_json("not json").is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Self, Error> {
        #[derive(serde::Deserialize)]
        struct Wire {
            app_secret: Option<String>,
            access_token: Option<String>,
            webhook_secret: Option<String>,
            app_key: Option<String>,
            robot_code: Option<String>,
        }
        let wire: Wire = serde_json::from_str(text).map_err(|_| Error::SecretMalformed)?;
        let present = |value: Option<String>| value.filter(|v| !v.is_empty());
        Ok(Self {
            app_secret: AppSecret::new(present(wire.app_secret).ok_or(Error::SecretMalformed)?),
            access_token: present(wire.access_token).map(AccessToken::new),
            webhook_secret: present(wire.webhook_secret).map(WebhookSecret::new),
            app_key: present(wire.app_key),
            robot_code: present(wire.robot_code),
        })
    }
}

/// A place to read the secrets from.
///
/// ```
/// use case_bot_core::{SecretSource, Secrets, StaticSecrets};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let source = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap());
/// assert!(source.load().await.is_ok());
/// # }
/// ```
#[async_trait]
pub trait SecretSource: Send + Sync + fmt::Debug {
    /// Reads the current secrets.
    async fn load(&self) -> Result<Secrets, Error>;
}

/// Secrets given at start-up (from environment variables).
///
/// ```
/// let source = case_bot_core::StaticSecrets::new(case_bot_core::Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap());
/// # let _ = source;
/// ```
#[derive(Debug, Clone)]
pub struct StaticSecrets(Secrets);

impl StaticSecrets {
    /// Wraps fixed secrets.
    ///
    /// ```
    /// # let s = case_bot_core::Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap();
    /// let source = case_bot_core::StaticSecrets::new(s);
    /// # let _ = source;
    /// ```
    #[must_use]
    pub fn new(secrets: Secrets) -> Self {
        Self(secrets)
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn load(&self) -> Result<Secrets, Error> {
        Ok(self.0.clone())
    }
}

/// The secret in AWS Secrets Manager (feature `aws`).
///
/// ```no_run
/// # async fn run(sdk: aws_config::SdkConfig) {
/// let source = case_bot_core::SecretsManagerSource::new(&sdk, case_bot_core::DEFAULT_SECRET_ID);
/// # let _ = source; }
/// ```
#[cfg(feature = "aws")]
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

#[cfg(feature = "aws")]
impl SecretsManagerSource {
    /// Reads `secret_id` with a client built from `sdk`.
    ///
    /// ```no_run
    /// # async fn run(sdk: aws_config::SdkConfig) {
    /// let source = case_bot_core::SecretsManagerSource::new(&sdk, "my-secret");
    /// # let _ = source; }
    /// ```
    #[must_use]
    pub fn new(sdk: &aws_config::SdkConfig, secret_id: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(sdk),
            secret_id: secret_id.into(),
        }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn load(&self) -> Result<Secrets, Error> {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|err| Error::SecretUnavailable {
                secret_id: self.secret_id.clone(),
                code: err.code().unwrap_or("unreachable").to_owned(),
            })?;
        Secrets::from_json(output.secret_string().unwrap_or_default())
    }
}

/// The secrets and the callback verifier keyed with the app secret (its HMAC state is computed
/// once per secret value, not per callback).
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) secrets: Secrets,
    pub(crate) verifier: CallbackVerifier,
}

impl Keys {
    fn new(secrets: Secrets) -> Arc<Self> {
        Arc::new(Self {
            verifier: CallbackVerifier::new(secrets.app_secret.clone()),
            secrets,
        })
    }
}

/// How long secrets are cached, and how often a signature mismatch may force a re-read.
const TTL: Duration = Duration::from_secs(300);
const MIN_REFRESH: Duration = Duration::from_secs(30);

/// Caches another source's secrets for five minutes; [`refresh`](Self::refresh) re-reads at
/// most once per 30 s, so bad signatures cannot hammer Secrets Manager. When a re-read fails,
/// the value already cached is served.
#[derive(Debug)]
pub(crate) struct CachedSecrets {
    source: Arc<dyn SecretSource>,
    state: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    value: Option<(Instant, Arc<Keys>)>,
    last_refresh: Option<Instant>,
}

impl CachedSecrets {
    pub(crate) fn new(source: Arc<dyn SecretSource>) -> Self {
        Self {
            source,
            state: Mutex::default(),
        }
    }

    /// The cached keys, read from the source when absent or older than the TTL.
    pub(crate) async fn get(&self) -> Result<Arc<Keys>, Error> {
        let mut cache = self.state.lock().await;
        if let Some((at, keys)) = &cache.value
            && at.elapsed() < TTL
        {
            return Ok(Arc::clone(keys));
        }
        match self.source.load().await {
            Ok(fresh) => {
                let keys = Keys::new(fresh);
                cache.value = Some((Instant::now(), Arc::clone(&keys)));
                Ok(keys)
            }
            Err(err) => match &cache.value {
                Some((_, stale)) => {
                    tracing::warn!(error = %err, "secret refresh failed; serving the cached value");
                    Ok(Arc::clone(stale))
                }
                None => Err(err),
            },
        }
    }

    /// Re-reads the source now (after a signature mismatch: the secret may have rotated),
    /// unless that happened less than 30 s ago. Returns the new keys if the value changed.
    pub(crate) async fn refresh(&self) -> Option<Arc<Keys>> {
        let mut cache = self.state.lock().await;
        if cache
            .last_refresh
            .is_some_and(|at| at.elapsed() < MIN_REFRESH)
        {
            return None;
        }
        cache.last_refresh = Some(Instant::now());
        match self.source.load().await {
            Ok(fresh) => {
                let changed = cache
                    .value
                    .as_ref()
                    .is_none_or(|(_, old)| old.secrets != fresh);
                let keys = Keys::new(fresh);
                cache.value = Some((Instant::now(), Arc::clone(&keys)));
                changed.then_some(keys)
            }
            Err(err) => {
                tracing::warn!(error = %err, "secret refresh failed");
                None
            }
        }
    }
}
