//! Newtypes for the credentials a robot holds.
//!
//! None of them implements `Display` or `Serialize`, and their `Debug` output shows only the
//! length, so a secret cannot end up in a log line or an error message by accident.

use std::fmt;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            #[must_use]
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Call this only where the value is really needed (signing,
            /// building a URL), never to log it.
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Whether the value is empty (an unconfigured secret).
            #[must_use]
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(len: {})"), self.0.len())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

secret_type!(
    /// The app secret (AppSecret / Client Secret) of an enterprise-internal app robot; the key
    /// DingTalk signs HTTP callbacks with.
    ///
    /// ```
    /// use dingtalk_robot::AppSecret;
    /// let secret = AppSecret::new("testAppSecret");
    /// assert_eq!(format!("{secret:?}"), "AppSecret(len: 13)");
    /// ```
    AppSecret
);

secret_type!(
    /// The `SEC…` secret of a custom group robot with 加签 (signature) security.
    ///
    /// ```
    /// use dingtalk_robot::WebhookSecret;
    /// let secret = WebhookSecret::new("SECtest0123456789abcdef");
    /// assert!(!format!("{secret:?}").contains("SECtest"));
    /// ```
    WebhookSecret
);

secret_type!(
    /// The `access_token` of a custom group robot webhook (`/robot/send?access_token=…`).
    ///
    /// ```
    /// use dingtalk_robot::AccessToken;
    /// let token = AccessToken::new("abc");
    /// assert_eq!(token.expose_secret(), "abc");
    /// assert_eq!(format!("{token:?}"), "AccessToken(len: 3)");
    /// ```
    AccessToken
);
