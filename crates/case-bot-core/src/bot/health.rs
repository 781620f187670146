//! What the bot reports about itself: liveness ([`Health`], `/healthz`) and readiness
//! ([`Readiness`], `/readyz`).

use std::sync::atomic::Ordering;

use super::CaseBot;

/// The bot's counters, for the liveness check: the process answers. A full disk does not make
/// it fail (that would only restart the process into the same full disk): see [`Readiness`].
///
/// ```
/// # use std::sync::Arc;
/// # use case_bot_core::*;
/// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
/// let health = bot.health();
/// assert_eq!(serde_json::to_value(&health).unwrap()["status"], "ok");
/// ```
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: &'static str,
    /// Events received since start.
    pub requests: u64,
    /// Commands being processed in the background.
    pub commands_in_flight: usize,
}

/// Whether the bot can take messages, for the readiness check: not while store writes fail
/// (a message taken then could be lost or done twice). It recovers by itself once a write
/// succeeds again.
///
/// ```
/// # use std::sync::Arc;
/// # use case_bot_core::*;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
/// let ready = bot.readiness().await;
/// assert!(ready.ready);
/// assert_eq!((ready.backlog, ready.undelivered), (0, 0));
/// # }
/// ```
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct Readiness {
    /// Whether to send the bot messages.
    pub ready: bool,
    /// `ok`, or `failing` while store writes fail.
    pub store: &'static str,
    /// Messages in the outbox waiting to be sent (all conversations).
    pub backlog: usize,
    /// Messages given up (kept for the audit retention): see the error log and the audit
    /// trail's `undelivered` rows.
    pub undelivered: usize,
}

impl Readiness {
    /// The status a readiness route answers with: 200 when ready, else 503.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let ready = bot.readiness().await;
    /// let response = case_bot_core::json_response(ready.status(), &ready);
    /// assert_eq!(response.status(), 200);
    /// # }
    /// ```
    #[must_use]
    pub fn status(&self) -> http::StatusCode {
        if self.ready {
            http::StatusCode::OK
        } else {
            http::StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

impl CaseBot {
    /// The bot's counters.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// assert_eq!(bot.health().requests, 0);
    /// ```
    #[must_use]
    pub fn health(&self) -> Health {
        Health {
            status: "ok",
            requests: self.inner.events.load(Ordering::Relaxed),
            commands_in_flight: self.inner.tasks.len(),
        }
    }

    /// Whether the bot is ready, with the outbox's gauges. While not ready, it tries a store
    /// write, so a recovered store makes it ready at once.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// assert_eq!(bot.readiness().await.store, "ok");
    /// # }
    /// ```
    pub async fn readiness(&self) -> Readiness {
        if !self.inner.store_ok.load(Ordering::SeqCst) {
            self.probe().await;
        }
        let store = &self.inner.store;
        let (backlog, undelivered) = (store.pending(None).await, store.undelivered().await);
        let ready =
            self.inner.store_ok.load(Ordering::SeqCst) && backlog.is_ok() && undelivered.is_ok();
        Readiness {
            ready,
            store: if ready { "ok" } else { "failing" },
            backlog: backlog.unwrap_or(0),
            undelivered: undelivered.unwrap_or(0),
        }
    }

    /// Tries a store write; on success, ready again (and the claims the failure left
    /// unfinished are recovered).
    pub(super) async fn probe(&self) {
        if self.inner.store.probe().await.is_ok() {
            self.store_succeeded();
        }
    }
}
