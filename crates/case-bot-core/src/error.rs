//! The crate's one error type: each variant knows its HTTP status, its chat text and its log
//! line.

use http::StatusCode;
use support_commands::Lang;

/// A boxed error from a library underneath (SQLite, the DynamoDB client, a task join).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in the core, outside the Support call itself (whose
/// [`SupportError`](support_commands::Error) the chat reply explains).
///
/// Three audiences, one method each:
/// - [`status`](Self::status): what an HTTP transport answers;
/// - [`chat_text`](Self::chat_text): what the group is told, when the error ends a command;
/// - `Display`: the log line. No variant carries a secret.
///
/// ```
/// use case_bot_core::Error;
/// let err = Error::BodyTooLarge { max: 65_536 };
/// assert_eq!(err.status(), 413);
/// assert_eq!(err.to_string(), "the body is larger than 65536 bytes");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request body is larger than allowed.
    #[error("the body is larger than {max} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// The request body could not be read.
    #[error("the body could not be read (the connection broke or the chunked encoding is invalid)")]
    BodyUnreadable,
    /// The request body did not arrive in time.
    #[error("body read timed out")]
    BodyTimeout,
    /// The request declared a content type other than JSON.
    #[error("the body must be application/json, not `{0}`")]
    UnsupportedMediaType(String),
    /// The request method is not the one the route takes.
    #[error("use {0}")]
    MethodNotAllowed(&'static str),
    /// A DingTalk check failed (signature, timestamp, body) or DingTalk refused a message.
    #[error(transparent)]
    DingTalk(#[from] dingtalk_robot::Error),
    /// A reply had nowhere to go: the message carried no sessionWebhook and no custom robot
    /// `access_token` is configured.
    #[error("no sessionWebhook in the message and no access_token configured")]
    NoReplyTarget,
    /// The robot's secret is not JSON with a non-empty `app_secret`.
    #[error(
        "the secret is not JSON with a non-empty \"app_secret\" (keys: app_secret, access_token, webhook_secret)"
    )]
    SecretMalformed,
    /// The robot's secret could not be read.
    #[error("could not read the secret {secret_id} ({code})")]
    SecretUnavailable {
        /// The secret's name.
        secret_id: String,
        /// Why, as the secret store said (`ResourceNotFoundException`, `unreachable`, …).
        code: String,
    },
    /// The state store failed.
    #[error("state store: {what}: {source}")]
    Store {
        /// What the store was doing.
        what: &'static str,
        /// The store's error.
        #[source]
        source: BoxError,
    },
    /// The Support API failed outside a command (the watcher's polls).
    #[error("AWS Support: {0}")]
    Support(#[source] support_commands::Error),
    /// A bug: a task of the bot's failed (it panicked).
    #[error("internal error: {0}")]
    Internal(String),
    /// A setting is invalid.
    #[error("{setting} `{value}`: {expected}")]
    Config {
        /// The flag or variable.
        setting: &'static str,
        /// What was given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
}

impl Error {
    /// The state store failed while doing `what`.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "dynamodb", test)),
        allow(dead_code)
    )]
    pub(crate) fn store(what: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Store {
            what,
            source: source.into(),
        }
    }

    /// A task of the bot's failed.
    pub(crate) fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// The HTTP status for a request this error ends: 4xx when the request is at fault, 503
    /// when the bot cannot work right now (secret or store unavailable), 500 for a setting.
    ///
    /// ```
    /// use case_bot_core::Error;
    /// assert_eq!(Error::UnsupportedMediaType("text/plain".into()).status(), 415);
    /// assert_eq!(Error::SecretMalformed.status(), 503);
    /// ```
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable | Self::NoReplyTarget => StatusCode::BAD_REQUEST,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::DingTalk(err) => err.status(),
            Self::SecretMalformed | Self::SecretUnavailable { .. } | Self::Store { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Config { .. } | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Support(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// What to tell the group when this error ends a command: what happened and what to do.
    ///
    /// ```
    /// use case_bot_core::Error;
    /// use support_commands::Lang;
    /// let err = Error::SecretMalformed;
    /// assert!(err.chat_text(Lang::Zh).starts_with("AWS-["));
    /// assert!(err.chat_text(Lang::En).contains("try again"));
    /// ```
    #[must_use]
    pub fn chat_text(&self, lang: Lang) -> String {
        let why = match self {
            Self::Store { .. } => lang.pick(
                "机器人的状态存储暂时不可用，无法确认这个操作是否允许。请稍后再试，或联系管理员。",
                "The robot's state store is unavailable, so it cannot check whether this is allowed. Please try again later, or ask an admin.",
            ),
            Self::SecretMalformed | Self::SecretUnavailable { .. } => lang.pick(
                "机器人暂时读不到它的密钥。请稍后再试，或联系管理员检查 Secrets Manager。",
                "The robot cannot read its secret right now. Please try again later, or ask an admin to check Secrets Manager.",
            ),
            _ => lang.pick(
                "机器人内部出错，请稍后再试。",
                "The robot hit an internal error; please try again later.",
            ),
        };
        format!(
            "AWS-[{}]\n{why}",
            lang.pick("暂时无法处理", "cannot do this now")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_are_4xx_and_the_bots_own_are_5xx() {
        for (err, status) in [
            (Error::BodyTooLarge { max: 1 }, 413),
            (Error::BodyUnreadable, 400),
            (Error::BodyTimeout, 408),
            (Error::UnsupportedMediaType("x".into()), 415),
            (Error::MethodNotAllowed("POST"), 405),
            (
                Error::DingTalk(dingtalk_robot::Error::SignatureMismatch { len: 4 }),
                401,
            ),
            (Error::store("claim", "disk full"), 503),
            (
                Error::SecretUnavailable {
                    secret_id: "s".into(),
                    code: "unreachable".into(),
                },
                503,
            ),
        ] {
            assert_eq!(err.status(), status, "{err}");
        }
    }

    #[test]
    fn chat_text_names_the_cause_in_the_chats_language_and_carries_the_keyword() {
        let store = Error::store("case link", "database is locked");
        assert!(store.chat_text(Lang::Zh).contains("状态存储"));
        assert!(store.chat_text(Lang::En).contains("state store"));
        assert!(
            !store.chat_text(Lang::En).contains("locked"),
            "no internals"
        );
        assert!(store.chat_text(Lang::En).contains("AWS"));
    }
}
