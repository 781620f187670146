//! DingTalk's HMAC-SHA256 signatures: verifying HTTP callbacks and signing webhook URLs.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Skew};
use crate::secret::{AppSecret, WebhookSecret};

type HmacSha256 = hmac::Hmac<Sha256>;

/// Name of the callback header that carries the millisecond timestamp.
///
/// ```
/// assert_eq!(dingtalk_robot::TIMESTAMP_HEADER, "timestamp");
/// ```
pub const TIMESTAMP_HEADER: &str = "timestamp";
/// Name of the callback header that carries the Base64 signature.
///
/// ```
/// assert_eq!(dingtalk_robot::SIGN_HEADER, "sign");
/// ```
pub const SIGN_HEADER: &str = "sign";
/// DingTalk rejects (and so do we) timestamps more than one hour away from now.
///
/// ```
/// assert_eq!(dingtalk_robot::DEFAULT_WINDOW.as_secs(), 3600);
/// ```
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60 * 60);

/// HMAC-SHA256 keyed with `key`, before any message.
fn keyed(key: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; an empty key is valid too.
    match HmacSha256::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => HmacSha256::new(&Default::default()),
    }
}

/// The MAC of `timestamp + "\n" + key`, from a state already keyed with `key`.
fn mac_with(keyed: &HmacSha256, key: &str, timestamp: &str) -> HmacSha256 {
    let mut mac = keyed.clone();
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(key.as_bytes());
    mac
}

fn mac(key: &str, timestamp: &str) -> HmacSha256 {
    mac_with(&keyed(key), key, timestamp)
}

/// Computes DingTalk's signature: `Base64(HMAC-SHA256(key, timestamp + "\n" + key))`.
///
/// This is the `sign` header of an HTTP callback (key = the app secret) and, once
/// URL-encoded, the `sign` query parameter of a 加签 webhook (key = the `SEC…` secret).
///
/// ```
/// use dingtalk_robot::sign;
/// assert_eq!(
///     sign("testAppSecret", "1700000000000"),
///     "6eme9OZpsZ0xT14aKlxRPyaQRga1PwA6MpSWONOX6mQ=",
/// );
/// ```
#[must_use]
pub fn sign(key: &str, timestamp: &str) -> String {
    BASE64.encode(mac(key, timestamp).finalize().into_bytes())
}

/// Signs a custom robot webhook (加签): returns the `timestamp` and the URL-encoded `sign`
/// query values for the given millisecond time.
///
/// ```
/// use dingtalk_robot::{webhook_sign, WebhookSecret};
/// let (timestamp, sign) = webhook_sign(&WebhookSecret::new("SECtest0123456789abcdef"), 1_700_000_000_000);
/// assert_eq!(timestamp, "1700000000000");
/// assert_eq!(sign, "%2FlfnxUUu80FwVTsIlv2F1cMGBb%2BPxEKAwYh%2FbsRxXcc%3D");
/// ```
#[must_use]
pub fn webhook_sign(secret: &WebhookSecret, now_ms: i64) -> (String, String) {
    let timestamp = now_ms.to_string();
    let b64 = sign(secret.expose_secret(), &timestamp);
    let encoded =
        percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC).to_string();
    (timestamp, encoded)
}

/// The current Unix time in milliseconds.
///
/// ```
/// assert!(dingtalk_robot::now_ms() > 1_700_000_000_000);
/// ```
#[must_use]
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A clock that returns Unix milliseconds; injected into [`CallbackVerifier`] for tests.
///
/// ```
/// let fixed: dingtalk_robot::Clock = std::sync::Arc::new(|| 1_700_000_000_000);
/// assert_eq!(fixed(), 1_700_000_000_000);
/// ```
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Verifies DingTalk HTTP callbacks (robot "消息接收地址" in HTTP mode).
///
/// Checks the `timestamp` header against a window (±1 hour by default, as DingTalk documents)
/// and the `sign` header against `Base64(HMAC-SHA256(app_secret, timestamp + "\n" + app_secret))`
/// in constant time.
///
/// ```
/// use dingtalk_robot::{AppSecret, CallbackVerifier};
/// let verifier = CallbackVerifier::new(AppSecret::new("testAppSecret"))
///     .with_clock(|| 1_700_000_000_500);
/// verifier
///     .verify(Some("1700000000000"), Some("6eme9OZpsZ0xT14aKlxRPyaQRga1PwA6MpSWONOX6mQ="))
///     .expect("genuine callback");
/// ```
#[derive(Clone)]
pub struct CallbackVerifier {
    secret: AppSecret,
    /// HMAC state keyed with the secret, computed once (saves two SHA-256 blocks per verify).
    keyed: HmacSha256,
    window: Duration,
    clock: Clock,
}

impl fmt::Debug for CallbackVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackVerifier")
            .field("secret", &self.secret)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl CallbackVerifier {
    /// A verifier with the default one-hour window and the system clock.
    ///
    /// ```
    /// # use dingtalk_robot::{AppSecret, CallbackVerifier};
    /// let verifier = CallbackVerifier::new(AppSecret::new("my app secret"));
    /// # let _ = verifier;
    /// ```
    #[must_use]
    pub fn new(secret: AppSecret) -> Self {
        Self {
            keyed: keyed(secret.expose_secret()),
            secret,
            window: DEFAULT_WINDOW,
            clock: Arc::new(now_ms),
        }
    }

    /// Sets the accepted clock skew, in both directions.
    ///
    /// ```
    /// # use dingtalk_robot::{AppSecret, CallbackVerifier};
    /// use std::time::Duration;
    /// let verifier = CallbackVerifier::new(AppSecret::new("s")).with_window(Duration::from_secs(300));
    /// # let _ = verifier;
    /// ```
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Replaces the clock (Unix milliseconds), for tests.
    ///
    /// ```
    /// # use dingtalk_robot::{AppSecret, CallbackVerifier};
    /// let verifier = CallbackVerifier::new(AppSecret::new("s")).with_clock(|| 1_700_000_000_000);
    /// # let _ = verifier;
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Verifies the `timestamp` and `sign` header values against the verifier's clock.
    ///
    /// # Errors
    /// See [`Error`].
    ///
    /// ```
    /// # use dingtalk_robot::{AppSecret, CallbackVerifier, Error};
    /// let verifier = CallbackVerifier::new(AppSecret::new("s"));
    /// assert!(matches!(verifier.verify(Some("abc"), Some("x")), Err(Error::InvalidTimestamp { .. })));
    /// ```
    pub fn verify(&self, timestamp: Option<&str>, sign: Option<&str>) -> Result<(), Error> {
        self.verify_at(timestamp, sign, (self.clock)())
    }

    /// Verifies a request's headers (`timestamp` and `sign`).
    ///
    /// # Errors
    /// See [`Error`].
    ///
    /// ```
    /// # use dingtalk_robot::{AppSecret, CallbackVerifier, Error};
    /// let verifier = CallbackVerifier::new(AppSecret::new("s"));
    /// let headers = http::HeaderMap::new();
    /// assert_eq!(verifier.verify_headers(&headers), Err(Error::MissingHeader("timestamp")));
    /// ```
    pub fn verify_headers(&self, headers: &http::HeaderMap) -> Result<(), Error> {
        // Names built once: looking up by `&str` re-validates and lower-cases the name on
        // every call.
        const TIMESTAMP: http::HeaderName = http::HeaderName::from_static(TIMESTAMP_HEADER);
        const SIGN: http::HeaderName = http::HeaderName::from_static(SIGN_HEADER);
        let get = |name: &http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        self.verify(get(&TIMESTAMP), get(&SIGN))
    }

    /// Verifies against an explicit "now" (Unix milliseconds); the clock-free core of
    /// [`verify`](Self::verify).
    ///
    /// # Errors
    /// See [`Error`].
    ///
    /// ```
    /// # use dingtalk_robot::{AppSecret, CallbackVerifier, Skew, Error};
    /// let verifier = CallbackVerifier::new(AppSecret::new("testAppSecret"));
    /// let sign = "6eme9OZpsZ0xT14aKlxRPyaQRga1PwA6MpSWONOX6mQ=";
    /// assert!(verifier.verify_at(Some("1700000000000"), Some(sign), 1_700_000_000_000).is_ok());
    /// let late = verifier.verify_at(Some("1700000000000"), Some(sign), 1_700_000_000_000 + 3_600_001);
    /// assert!(matches!(late, Err(Error::OutsideWindow { direction: Skew::TooOld, .. })));
    /// ```
    pub fn verify_at(
        &self,
        timestamp: Option<&str>,
        sign: Option<&str>,
        now_ms: i64,
    ) -> Result<(), Error> {
        let timestamp = timestamp.ok_or(Error::MissingHeader(TIMESTAMP_HEADER))?;
        let sign = sign.ok_or(Error::MissingHeader(SIGN_HEADER))?;
        let ts = parse_timestamp(timestamp)?;

        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let skew = i128::from(now_ms) - i128::from(ts);
        let skew_ms = u64::try_from(skew.unsigned_abs()).unwrap_or(u64::MAX);
        if skew_ms > window_ms {
            let direction = if skew > 0 {
                Skew::TooOld
            } else {
                Skew::InFuture
            };
            return Err(Error::OutsideWindow {
                direction,
                skew_ms,
                window_ms,
            });
        }

        let mismatch = || Error::SignatureMismatch { len: sign.len() };
        let received = BASE64.decode(sign.trim()).map_err(|_| mismatch())?;
        mac_with(&self.keyed, self.secret.expose_secret(), timestamp)
            .verify_slice(&received)
            .map_err(|_| mismatch())
    }
}

fn parse_timestamp(value: &str) -> Result<i64, Error> {
    let invalid = Error::InvalidTimestamp { len: value.len() };
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid);
    }
    value.parse::<i64>().map_err(|_| invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_with_sign_or_spaces_is_rejected_as_invalid() {
        for bad in ["", "+1", "-1", " 1", "1.5", "99999999999999999999", "１２"] {
            assert!(
                matches!(parse_timestamp(bad), Err(Error::InvalidTimestamp { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn future_timestamp_beyond_window_reports_in_future() {
        let v = CallbackVerifier::new(AppSecret::new("k")).with_window(Duration::from_secs(1));
        let ts = 10_000_i64;
        let sig = sign("k", &ts.to_string());
        let err = v.verify_at(Some("10000"), Some(&sig), 8_999).unwrap_err();
        assert_eq!(
            err,
            Error::OutsideWindow {
                direction: Skew::InFuture,
                skew_ms: 1_001,
                window_ms: 1_000
            }
        );
        assert!(v.verify_at(Some("10000"), Some(&sig), 9_000).is_ok());
        assert!(v.verify_at(Some("10000"), Some(&sig), 11_000).is_ok());
    }
}
