//! A sandbox that outlives its process: every change handed to a saver, and the saved state
//! read back at start, so a restarted sandbox still has its cases.

use std::sync::Arc;

use super::{Sandbox, State};
use crate::error::Error;

/// Where a [`Sandbox`] hands its whole state (JSON) after every change: a case opened,
/// answered, replied to or resolved. It is called with the sandbox's lock held, so states
/// arrive in order; it should queue or write quickly. An `Err` fails a write operation (its
/// outcome then unknown, as with AWS) and is logged on a read.
///
/// ```
/// let saver: support_commands::SandboxSaver = std::sync::Arc::new(|json: String| {
///     assert!(json.starts_with('{'));
///     Ok(())
/// });
/// # let _ = saver;
/// ```
pub type SandboxSaver = Arc<dyn Fn(String) -> Result<(), String> + Send + Sync>;

impl Sandbox {
    /// This sandbox, starting from `saved` (what a [`SandboxSaver`] was last given; `None`
    /// for a fresh start) and handing every change to `saver`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `saved` is not a sandbox's state.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use support_commands::{CaseFilter, NewCase, Sandbox, Severity, SupportApi};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let kept = Arc::new(Mutex::new(None::<String>));
    /// let into = Arc::clone(&kept);
    /// let saver = Arc::new(move |json: String| { *into.lock().unwrap() = Some(json); Ok(()) });
    /// let first = Sandbox::new().with_saved(None, saver.clone()).unwrap();
    /// first.create_case(&NewCase::new("s", "b", Severity::Low)).await.unwrap();
    ///
    /// let saved = kept.lock().unwrap().clone();
    /// let second = Sandbox::new().with_saved(saved.as_deref(), saver).unwrap();
    /// let page = second.list_cases(&CaseFilter::default(), None).await.unwrap();
    /// assert_eq!(page.cases.len(), 1);
    /// # }
    /// ```
    pub fn with_saved(mut self, saved: Option<&str>, saver: SandboxSaver) -> Result<Self, Error> {
        if let Some(json) = saved {
            let state: State = serde_json::from_str(json).map_err(|err| {
                Error::InvalidParameter(format!("the saved sandbox state cannot be read: {err}"))
            })?;
            *self.lock() = state;
        }
        self.saver = Some(saver);
        Ok(self)
    }

    /// Hands `state` to the saver, if there is one.
    pub(super) fn keep(&self, state: &State) -> Result<(), Error> {
        let Some(saver) = &self.saver else {
            return Ok(());
        };
        let json = serde_json::to_string(state).map_err(|err| Error::Service {
            code: "SandboxState".to_owned(),
            message: err.to_string(),
        })?;
        saver(json)
            .map_err(|err| Error::Transport(format!("the sandbox could not save its cases: {err}")))
    }

    /// [`advance`](Sandbox::advance), saving the state when the engineer answered.
    pub(super) fn advance_and_keep(&self, state: &mut State, now: u64) {
        if self.advance(state, now)
            && let Err(err) = self.keep(state)
        {
            tracing::warn!(error = %err, "sandbox state not saved");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::{CaseRef, CaseStatus, NewCase, Severity, SupportApi};

    fn keeper() -> (Arc<Mutex<Option<String>>>, SandboxSaver) {
        let kept = Arc::new(Mutex::new(None));
        let into = Arc::clone(&kept);
        let saver: SandboxSaver = Arc::new(move |json| {
            *into.lock().unwrap() = Some(json);
            Ok(())
        });
        (kept, saver)
    }

    #[tokio::test]
    async fn the_engineers_answer_is_saved_and_read_back_after_a_restart() {
        let (kept, saver) = keeper();
        let at = |s| move || UNIX_EPOCH + Duration::from_secs(s);
        let first = Sandbox::new()
            .with_clock(at(1_800_000_000))
            .with_saved(None, Arc::clone(&saver))
            .unwrap();
        let id = first
            .create_case(&NewCase::new("s", "b", Severity::Low))
            .await
            .unwrap();
        let later = Sandbox::new().with_clock(at(1_800_000_100));
        let saved = kept.lock().unwrap().clone();
        let second = later.with_saved(saved.as_deref(), saver).unwrap();
        // The answer comes with this read, and is saved by it.
        let case = second
            .case_details(&CaseRef::CaseId(id.clone()))
            .await
            .unwrap();
        assert_eq!(case.status, CaseStatus::PendingCustomerAction);
        assert!(
            kept.lock()
                .unwrap()
                .as_deref()
                .unwrap()
                .contains("pending-customer-action")
        );
    }

    #[tokio::test]
    async fn a_write_the_saver_refuses_fails_and_unreadable_saved_state_is_refused() {
        let saver: SandboxSaver = Arc::new(|_| Err("disk full".to_owned()));
        let sandbox = Sandbox::new().with_saved(None, saver.clone()).unwrap();
        let err = sandbox
            .create_case(&NewCase::new("s", "b", Severity::Low))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Transport(m) if m.contains("disk full")),
            "{err:?}"
        );
        assert!(Sandbox::new().with_saved(Some("not json"), saver).is_err());
    }
}
