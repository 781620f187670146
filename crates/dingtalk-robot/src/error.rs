//! The crate's one error type.

use std::fmt;

/// DingTalk's errcode for "send too fast, exceed 20 times per minute".
///
/// ```
/// assert_eq!(dingtalk_robot::ERRCODE_RATE_LIMITED, 130_101);
/// ```
pub const ERRCODE_RATE_LIMITED: i64 = 130_101;
/// DingTalk's errcode for a failed keyword, signature, timestamp or IP check.
///
/// ```
/// assert_eq!(dingtalk_robot::ERRCODE_REJECTED, 310_000);
/// ```
pub const ERRCODE_REJECTED: i64 = 310_000;
/// DingTalk's errcode for an unknown access token.
///
/// ```
/// assert_eq!(dingtalk_robot::ERRCODE_TOKEN_NOT_EXIST, 300_001);
/// ```
pub const ERRCODE_TOKEN_NOT_EXIST: i64 = 300_001;
/// DingTalk's errcode for an access token it will not serve (reported for external groups).
///
/// ```
/// assert_eq!(dingtalk_robot::ERRCODE_TOKEN_INVALID, 300_005);
/// ```
pub const ERRCODE_TOKEN_INVALID: i64 = 300_005;

/// Which side of the accepted window a timestamp fell on.
///
/// ```
/// use dingtalk_robot::{sign, AppSecret, CallbackVerifier, Error, Skew};
/// let verifier = CallbackVerifier::new(AppSecret::new("k"));
/// let err = verifier.verify_at(Some("0"), Some(&sign("k", "0")), 7_200_000).unwrap_err();
/// assert!(matches!(err, Error::OutsideWindow { direction: Skew::TooOld, .. }));
/// assert_eq!(Skew::InFuture.to_string(), "in the future");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skew {
    /// The timestamp is older than the window allows (a replay, or our clock runs fast).
    TooOld,
    /// The timestamp lies further in the future than the window allows (the sender's clock runs fast).
    InFuture,
}

impl fmt::Display for Skew {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooOld => "too old",
            Self::InFuture => "in the future",
        })
    }
}

/// Everything that can go wrong in this crate: verifying a callback, reading its body,
/// building a sender, and delivering a message.
///
/// - [`status`](Self::status) is the HTTP status to answer with when the error ends a request
///   (401 for a bad signature, 400 for a bad body, 502 when DingTalk would not take a message).
/// - `Display` is the log line. No variant carries a secret, an access token, a computed
///   signature or a session URL.
///
/// ```
/// use dingtalk_robot::{AppSecret, CallbackVerifier, Error};
/// let verifier = CallbackVerifier::new(AppSecret::new("testAppSecret"));
/// let err = verifier.verify_at(None, Some("x"), 0).unwrap_err();
/// assert_eq!(err, Error::MissingHeader("timestamp"));
/// assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required header (`timestamp` or `sign`) was absent or not valid UTF-8.
    #[error("missing or unreadable `{0}` header")]
    MissingHeader(&'static str),
    /// The `timestamp` header is not a decimal number of milliseconds.
    #[error("the `timestamp` header is not a millisecond number (length {len})")]
    InvalidTimestamp {
        /// Length of the header value received (the value itself is not echoed).
        len: usize,
    },
    /// The timestamp lies outside the accepted window.
    #[error("the timestamp is {direction}: {skew_ms} ms away from now, window is {window_ms} ms")]
    OutsideWindow {
        /// Which way the timestamp is off.
        direction: Skew,
        /// Absolute distance from now in milliseconds.
        skew_ms: u64,
        /// The window in force, in milliseconds.
        window_ms: u64,
    },
    /// The `sign` header does not match (wrong secret, tampered timestamp, or not Base64).
    #[error("signature mismatch (`sign` header of length {len})")]
    SignatureMismatch {
        /// Length of the header value received.
        len: usize,
    },
    /// The callback body is not a JSON object, or a field DingTalk always sends as a string
    /// (`msgId`, `conversationId`, …) is not one.
    #[error("the callback body is not a JSON object: {0}")]
    MalformedBody(#[source] serde_json::Error),
    /// The sessionWebhook has expired (DingTalk gives 90 minutes): reply another way.
    #[error("the sessionWebhook expired at {expired_at_ms} ms (now {now_ms} ms)")]
    SessionExpired {
        /// Expiry, Unix ms.
        expired_at_ms: i64,
        /// The time of the attempt, Unix ms.
        now_ms: i64,
    },
    /// The sessionWebhook is not a DingTalk URL (nor on the configured API base), so it is not
    /// posted to.
    #[error("the sessionWebhook is not a DingTalk URL")]
    UntrustedWebhook,
    /// DingTalk kept answering errcode 130101 (rate limited) through every retry.
    #[error(
        "DingTalk rate limited the robot (errcode 130101) through {attempts} attempts: {errmsg}"
    )]
    RateLimited {
        /// Attempts made.
        attempts: u32,
        /// DingTalk's last errmsg.
        errmsg: String,
    },
    /// errcode 310000: the keyword, 加签 signature, timestamp or IP allow-list check failed.
    #[error(
        "DingTalk rejected the message (errcode 310000: keyword, signature, timestamp or IP check): {errmsg}"
    )]
    Rejected {
        /// DingTalk's errmsg.
        errmsg: String,
    },
    /// errcode 300001 or 300005: DingTalk does not accept the access token.
    #[error("DingTalk does not accept the access token (errcode {code}): {errmsg}")]
    InvalidToken {
        /// 300001 or 300005.
        code: i64,
        /// DingTalk's errmsg.
        errmsg: String,
    },
    /// Any other non-zero errcode.
    #[error("DingTalk answered errcode {code}: {errmsg}")]
    Api {
        /// DingTalk's errcode.
        code: i64,
        /// DingTalk's errmsg.
        errmsg: String,
    },
    /// DingTalk answered with an HTTP error status (after retries for 5xx).
    #[error("DingTalk answered HTTP {status}")]
    Http {
        /// The status code.
        status: u16,
    },
    /// DingTalk's answer was not `errcode`/`errmsg` JSON.
    #[error("DingTalk's answer (HTTP {status}) is not errcode/errmsg JSON")]
    InvalidResponse {
        /// The status code.
        status: u16,
    },
    /// DingTalk could not be reached (after retries).
    #[cfg(feature = "sender")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sender")))]
    #[error("could not reach DingTalk: {0}")]
    Transport(#[source] reqwest::Error),
    /// A long message was split and one of its parts failed; earlier parts were delivered.
    #[error("delivered {delivered} of {total} parts, then: {source}")]
    Incomplete {
        /// Parts delivered before the failure.
        delivered: usize,
        /// Parts in all.
        total: usize,
        /// Why the next part failed.
        #[source]
        source: Box<Error>,
    },
    /// The OpenAPI refused a call with a string code (HTTP 4xx), for example
    /// `invalidParameter.robotCode.empty`, or the robot is not in the group.
    #[error("DingTalk's OpenAPI answered HTTP {status} {code}: {message}")]
    OpenApi {
        /// The HTTP status.
        status: u16,
        /// DingTalk's error code.
        code: String,
        /// DingTalk's message.
        message: String,
    },
    /// DingTalk would not give an access token for the app key and app secret.
    #[error(
        "DingTalk gave no access token for app key `{app_key}` (HTTP {status} {code}): check the app key and app secret"
    )]
    AppCredentials {
        /// The app key (not secret).
        app_key: String,
        /// The HTTP status.
        status: u16,
        /// DingTalk's error code.
        code: String,
    },
    /// The OpenAPI cannot carry this message type (for example a feed card).
    #[error("a `{msgtype}` message cannot be sent through the robot OpenAPI")]
    Unsupported {
        /// The message type.
        msgtype: &'static str,
    },
    /// The message is larger than the OpenAPI takes.
    #[error("the message is {bytes} bytes, the OpenAPI takes at most {max}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The Stream mode WebSocket could not be opened or failed.
    #[error("the Stream connection failed: {0}")]
    Stream(String),
    /// The sender's API base is not an absolute http(s) URL.
    #[error("the DingTalk API base is not an absolute http(s) URL")]
    InvalidApiBase,
    /// The sender's HTTP client could not be built.
    #[cfg(feature = "sender")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sender")))]
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

impl PartialEq for Error {
    /// Errors compare equal when they are the same variant with the same data; errors that
    /// wrap another library's error compare by variant and message.
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

impl Error {
    /// The HTTP status for a request this error ends: 401 for the signature checks, 400 for
    /// a body that is not a callback or a session webhook that is not DingTalk's, 500 for a
    /// sender that could not be built, 502 when DingTalk did not take a message.
    ///
    /// ```
    /// use dingtalk_robot::Error;
    /// assert_eq!(Error::SignatureMismatch { len: 3 }.status(), 401);
    /// assert_eq!(Error::Rejected { errmsg: "keywords not in content".into() }.status(), 502);
    /// ```
    #[must_use]
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self.root() {
            Self::MissingHeader(_)
            | Self::InvalidTimestamp { .. }
            | Self::OutsideWindow { .. }
            | Self::SignatureMismatch { .. } => StatusCode::UNAUTHORIZED,
            Self::MalformedBody(_) | Self::UntrustedWebhook => StatusCode::BAD_REQUEST,
            Self::InvalidApiBase => StatusCode::INTERNAL_SERVER_ERROR,
            #[cfg(feature = "sender")]
            Self::Client(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    /// Whether the error is about the callback's signature or timestamp.
    ///
    /// ```
    /// assert!(dingtalk_robot::Error::MissingHeader("sign").is_verification());
    /// assert!(!dingtalk_robot::Error::UntrustedWebhook.is_verification());
    /// ```
    #[must_use]
    pub fn is_verification(&self) -> bool {
        self.status() == http::StatusCode::UNAUTHORIZED
    }

    /// The innermost error (looks through [`Error::Incomplete`]).
    ///
    /// ```
    /// use dingtalk_robot::Error;
    /// let err = Error::Incomplete { delivered: 1, total: 2, source: Box::new(Error::UntrustedWebhook) };
    /// assert!(matches!(err.root(), Error::UntrustedWebhook));
    /// ```
    #[must_use]
    pub fn root(&self) -> &Self {
        match self {
            Self::Incomplete { source, .. } => source.root(),
            other => other,
        }
    }

    /// DingTalk's errcode, if it answered with one.
    ///
    /// ```
    /// let err = dingtalk_robot::Error::Rejected { errmsg: "keywords not in content".into() };
    /// assert_eq!(err.errcode(), Some(310000));
    /// ```
    #[must_use]
    pub fn errcode(&self) -> Option<i64> {
        match self.root() {
            Self::RateLimited { .. } => Some(ERRCODE_RATE_LIMITED),
            Self::Rejected { .. } => Some(ERRCODE_REJECTED),
            Self::InvalidToken { code, .. } | Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Maps a DingTalk `errcode`/`errmsg` answer to an error; `None` for errcode 0.
    #[cfg(feature = "sender")]
    pub(crate) fn from_errcode(code: i64, errmsg: String, attempts: u32) -> Option<Self> {
        Some(match code {
            0 => return None,
            ERRCODE_RATE_LIMITED => Self::RateLimited { attempts, errmsg },
            ERRCODE_REJECTED => Self::Rejected { errmsg },
            ERRCODE_TOKEN_NOT_EXIST | ERRCODE_TOKEN_INVALID => Self::InvalidToken { code, errmsg },
            code => Self::Api { code, errmsg },
        })
    }
}

#[cfg(all(test, feature = "sender"))]
mod tests {
    use super::*;

    #[test]
    fn errcodes_map_to_typed_errors_and_keep_unknown_codes() {
        assert!(Error::from_errcode(0, "ok".into(), 1).is_none());
        assert!(matches!(
            Error::from_errcode(130_101, "send too fast".into(), 4),
            Some(Error::RateLimited { attempts: 4, .. })
        ));
        assert!(matches!(
            Error::from_errcode(310_000, "sign not match".into(), 1),
            Some(Error::Rejected { .. })
        ));
        for code in [300_001, 300_005] {
            assert!(matches!(
                Error::from_errcode(code, "token is not exist".into(), 1),
                Some(Error::InvalidToken { code: c, .. }) if c == code
            ));
        }
        let other = Error::from_errcode(400_105, "不支持的消息类型".into(), 1);
        assert!(
            matches!(&other, Some(Error::Api { code: 400_105, errmsg }) if errmsg == "不支持的消息类型")
        );
        assert_eq!(other.map(|e| e.errcode()), Some(Some(400_105)));
    }

    #[test]
    fn every_error_knows_its_http_status() {
        assert_eq!(Error::MissingHeader("sign").status(), 401);
        assert_eq!(Error::InvalidTimestamp { len: 1 }.status(), 401);
        assert_eq!(Error::UntrustedWebhook.status(), 400);
        assert_eq!(Error::InvalidApiBase.status(), 500);
        let incomplete = Error::Incomplete {
            delivered: 1,
            total: 3,
            source: Box::new(Error::Http { status: 500 }),
        };
        assert_eq!(incomplete.status(), 502);
    }
}
