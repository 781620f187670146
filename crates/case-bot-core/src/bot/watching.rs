//! The bot's watcher: the polling loop of a server, one look for the Lambda function's
//! schedule, and one case for an EventBridge event.

use std::time::Duration;

use support_commands::{Error as SupportError, Lang};

use super::CaseBot;
use crate::error::Error;
use crate::notify::CaseEvent;
use crate::notify::message::Style;
use crate::notify::watch::{PollReport, Watch};

/// The longest wait between polls while AWS throttles them, as a multiple of the interval.
const MOST_BACKOFF: u32 = 16;

impl CaseBot {
    fn watch(&self) -> Watch<'_> {
        let config = &self.inner.config;
        Watch {
            store: &*self.inner.store,
            support: &self.inner.support,
            style: Style {
                lang: config.lang,
                keyword: &config.notify.keyword,
                time_zone_minutes: config.notify.time_zone_minutes,
                partition: config.partition,
            },
            language: match config.lang {
                Lang::En => "en",
                _ => "zh",
            },
            remind_after_ms: config
                .notify
                .remind_after
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// Looks at every followed case once (and walks the open cases when a group asked for new
    /// ones), enqueues what the groups are to be told, and wakes the courier. The server's
    /// watcher calls this every `--watch-interval`; the Lambda function on its schedule.
    ///
    /// # Errors
    /// [`Error::Support`] when AWS fails (for example `ThrottlingException`), [`Error::Store`]
    /// when the store does. What was told before the failure stays told.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let report = bot.poll_cases().await.unwrap();
    /// assert_eq!(report.cases, 0); // nothing followed yet
    /// # }
    /// ```
    pub async fn poll_cases(&self) -> Result<PollReport, Error> {
        let watch = self.watch();
        let mut report = watch.poll(None).await?;
        report.messages += watch.walk().await?;
        if report.messages > 0 {
            self.inner.courier.wake();
        }
        Ok(report)
    }

    /// Looks at the case an EventBridge "Support Case Update" event names (the event holds
    /// only ids). A redelivered event finds nothing new.
    ///
    /// # Errors
    /// As [`poll_cases`](Self::poll_cases).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use case_bot_core::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let bot = CaseBot::builder(Arc::new(support_commands::Sandbox::new()), Arc::new(StaticSecrets::new(Secrets::from_json(r#"{"app_secret":"a"}"#).unwrap()))).build().unwrap();
    /// let event = CaseEvent::from_json(&serde_json::json!({"source": "aws.support",
    ///     "detail-type": "Support Case Update", "detail": {"case-id": "case-1", "event-name": "ResolveCase"}})).unwrap();
    /// assert_eq!(bot.on_case_event(&event).await.unwrap().cases, 0); // not followed
    /// # }
    /// ```
    pub async fn on_case_event(&self, event: &CaseEvent) -> Result<PollReport, Error> {
        let watch = self.watch();
        let mut report = watch.poll(Some(&event.case_id)).await?;
        if event.is_new_or_reopened() {
            report.messages += watch.walk().await?;
        }
        if report.messages > 0 {
            self.inner.courier.wake();
        }
        Ok(report)
    }

    /// Polls every interval until the bot stops; backs off while AWS throttles.
    pub(super) async fn watch_loop(self) {
        let interval = self.inner.config.notify.watch_interval;
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                () = self.inner.stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
            wait = match self.poll_cases().await {
                Ok(report) => {
                    tracing::debug!(cases = report.cases, messages = report.messages, "watched");
                    interval
                }
                Err(Error::Support(err @ SupportError::Throttled(_))) => {
                    let longer = wait
                        .saturating_mul(2)
                        .clamp(interval, interval.saturating_mul(MOST_BACKOFF));
                    tracing::warn!(error = %err, retry_in_s = longer.as_secs(), "AWS throttles the watcher: backing off");
                    longer
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the watcher could not look at the followed cases");
                    interval
                }
            };
        }
    }
}
