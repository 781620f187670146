//! Where the robot's secrets come from: environment values or the Secrets Manager secret
//! `dingding-outgoing-robot-env`, cached, re-read once on a signature mismatch (rotation).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dingtalk_robot::{AccessToken, AppSecret, WebhookSecret};
use tokio::sync::Mutex;

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
}

/// Why the secrets could not be loaded. Never contains a secret value.
///
/// ```
/// let err = case_bot_core::Secrets::from_json("{}").unwrap_err();
/// assert!(err.to_string().contains("app_secret"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is not JSON with a non-empty `app_secret` string.
    #[error(
        "the secret is not JSON with a non-empty \"app_secret\" (keys: app_secret, access_token, webhook_secret)"
    )]
    Malformed,
    /// The secret could not be read (not found, access denied, unreachable).
    #[error("could not read the secret: {0}")]
    Unavailable(String),
}

impl Secrets {
    /// Parses the Secrets Manager JSON: `app_secret` (required), `access_token`,
    /// `webhook_secret` (optional).
    ///
    /// # Errors
    /// [`SecretError::Malformed`].
    ///
    /// ```
    /// assert!(case_bot_core::Secrets::from_json("not json").is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Self, SecretError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| SecretError::Malformed)?;
        let get = |key: &str| {
            value
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(Self {
            app_secret: AppSecret::new(get("app_secret").ok_or(SecretError::Malformed)?),
            access_token: get("access_token").map(AccessToken::new),
            webhook_secret: get("webhook_secret").map(WebhookSecret::new),
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
    async fn load(&self) -> Result<Secrets, SecretError>;
}

/// Secrets given at start-up (from environment variables or flags).
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
    async fn load(&self) -> Result<Secrets, SecretError> {
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
    async fn load(&self) -> Result<Secrets, SecretError> {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|err| {
                let code = err.code().unwrap_or("unreachable").to_owned();
                SecretError::Unavailable(format!("{} ({code})", self.secret_id))
            })?;
        Secrets::from_json(output.secret_string().unwrap_or_default())
    }
}

/// Caches another source's secrets for a TTL; [`refresh`](Self::refresh) re-reads at most
/// once per `min_refresh`, so bad signatures cannot hammer Secrets Manager.
///
/// ```
/// use std::time::Duration;
/// use case_bot_core::{CachedSecrets, Secrets, StaticSecrets};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let source = StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap());
/// let cached = CachedSecrets::new(std::sync::Arc::new(source), Duration::from_secs(300), Duration::from_secs(30));
/// assert!(cached.get().await.is_ok());
/// # }
/// ```
#[derive(Debug)]
pub struct CachedSecrets {
    source: Arc<dyn SecretSource>,
    ttl: Duration,
    min_refresh: Duration,
    state: Mutex<CacheState>,
    /// The current value for the lock-free-ish fast path (no await, shared read lock).
    fresh: std::sync::RwLock<Option<(Instant, Arc<Secrets>)>>,
}

#[derive(Debug, Default)]
struct CacheState {
    value: Option<(Instant, Arc<Secrets>)>,
    last_refresh: Option<Instant>,
}

impl CachedSecrets {
    /// Caches `source` for `ttl`; forced refreshes at most once per `min_refresh`.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration};
    /// # use case_bot_core::*;
    /// let cached = CachedSecrets::new(Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())), Duration::from_secs(1), Duration::from_secs(1));
    /// # let _ = cached;
    /// ```
    #[must_use]
    pub fn new(source: Arc<dyn SecretSource>, ttl: Duration, min_refresh: Duration) -> Self {
        Self {
            source,
            ttl,
            min_refresh,
            state: Mutex::default(),
            fresh: std::sync::RwLock::new(None),
        }
    }

    /// The cached secrets, read from the source when absent or older than the TTL.
    ///
    /// # Errors
    /// The source's error (nothing cached yet, or the TTL ran out and the read failed; a
    /// stale value is served when the source fails).
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration};
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let cached = CachedSecrets::new(Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())), Duration::from_secs(1), Duration::from_secs(1));
    /// let secrets = cached.get().await.unwrap();
    /// # let _ = secrets; }
    /// ```
    pub async fn get(&self) -> Result<Arc<Secrets>, SecretError> {
        if let Ok(fresh) = self.fresh.read()
            && let Some((at, value)) = fresh.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(value));
        }
        let mut state = self.state.lock().await;
        if let Some((at, value)) = &state.value
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(value));
        }
        match self.source.load().await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                state.value = Some((Instant::now(), Arc::clone(&fresh)));
                self.publish(&state);
                Ok(fresh)
            }
            Err(err) => match &state.value {
                Some((_, stale)) => {
                    tracing::warn!(error = %err, "secret refresh failed; serving the cached value");
                    Ok(Arc::clone(stale))
                }
                None => Err(err),
            },
        }
    }

    fn publish(&self, state: &CacheState) {
        if let Ok(mut fresh) = self.fresh.write() {
            fresh.clone_from(&state.value);
        }
    }

    /// Re-reads the source now (after a signature mismatch: the secret may have rotated),
    /// unless that happened less than `min_refresh` ago. Returns whether the value changed.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration};
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let cached = CachedSecrets::new(Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap())), Duration::from_secs(1), Duration::from_secs(60));
    /// cached.get().await.unwrap();
    /// assert!(!cached.refresh().await); // re-read, same value
    /// # }
    /// ```
    pub async fn refresh(&self) -> bool {
        let mut state = self.state.lock().await;
        if state
            .last_refresh
            .is_some_and(|at| at.elapsed() < self.min_refresh)
        {
            return false;
        }
        state.last_refresh = Some(Instant::now());
        match self.source.load().await {
            Ok(fresh) => {
                let changed = state.value.as_ref().is_none_or(|(_, old)| **old != fresh);
                state.value = Some((Instant::now(), Arc::new(fresh)));
                self.publish(&state);
                changed
            }
            Err(err) => {
                tracing::warn!(error = %err, "secret refresh failed");
                false
            }
        }
    }
}
