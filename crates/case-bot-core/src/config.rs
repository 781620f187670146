//! The bot's settings.

use std::time::Duration;

use support_commands::Lang;

/// How replies reach the group.
///
/// ```
/// assert_eq!(case_bot_core::ReplyMode::from_name("webhook"), Some(case_bot_core::ReplyMode::Webhook));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyMode {
    /// Answer the callback at once and post the reply to the callback's `sessionWebhook` (default).
    #[default]
    Session,
    /// Post to the group's custom robot webhook (`access_token` secret, optionally 加签), like the old bot.
    Webhook,
    /// Return the reply in the HTTP response body (long replies: the rest via `sessionWebhook`).
    Response,
}

impl ReplyMode {
    /// `session`, `webhook` or `response`.
    ///
    /// ```
    /// assert!(case_bot_core::ReplyMode::from_name("carrier-pigeon").is_none());
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "session" => Some(Self::Session),
            "webhook" => Some(Self::Webhook),
            "response" => Some(Self::Response),
            _ => None,
        }
    }
}

/// Who may resolve a case.
///
/// ```
/// assert_eq!(case_bot_core::ResolvePolicy::default(), case_bot_core::ResolvePolicy::AdminsOrOpener);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolvePolicy {
    /// The configured admins, or whoever opened the case through the bot (default).
    #[default]
    AdminsOrOpener,
    /// Only the configured admins.
    AdminsOnly,
    /// Anyone in an allowed conversation (the old bot's behaviour).
    Anyone,
}

impl ResolvePolicy {
    /// `admins-or-opener`, `admins` or `anyone`.
    ///
    /// ```
    /// assert_eq!(case_bot_core::ResolvePolicy::from_name("anyone"), Some(case_bot_core::ResolvePolicy::Anyone));
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "admins-or-opener" | "default" => Some(Self::AdminsOrOpener),
            "admins" | "admins-only" => Some(Self::AdminsOnly),
            "anyone" => Some(Self::Anyone),
            _ => None,
        }
    }
}

/// The bot's settings.
///
/// ```
/// let config = case_bot_core::BotConfig { admins: vec!["manager1234".into()], ..Default::default() };
/// assert_eq!(config.max_body_bytes, 64 * 1024);
/// ```
#[derive(Debug, Clone)]
#[allow(clippy::exhaustive_structs)]
pub struct BotConfig {
    /// How replies are delivered.
    pub reply_mode: ReplyMode,
    /// Conversation ids allowed to use the bot; empty = any.
    pub allowed_conversations: Vec<String>,
    /// Staff ids of admins.
    pub admins: Vec<String>,
    /// Who may resolve cases.
    pub resolve_policy: ResolvePolicy,
    /// Reply language.
    pub lang: Lang,
    /// Deadline for running one command against AWS.
    pub command_deadline: Duration,
    /// How long a `msgId` is remembered to drop redeliveries.
    pub idempotency_ttl: Duration,
    /// Largest callback body accepted.
    pub max_body_bytes: usize,
    /// Run the command and post the reply before answering the HTTP request (Lambda: nothing
    /// may run after the response).
    pub reply_before_response: bool,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            reply_mode: ReplyMode::Session,
            allowed_conversations: Vec::new(),
            admins: Vec::new(),
            resolve_policy: ResolvePolicy::AdminsOrOpener,
            lang: Lang::Zh,
            command_deadline: Duration::from_secs(20),
            idempotency_ttl: Duration::from_secs(3600),
            max_body_bytes: 64 * 1024,
            reply_before_response: false,
        }
    }
}
