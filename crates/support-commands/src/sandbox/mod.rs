//! An in-memory Support backend that behaves like AWS's, for trying the bot without an AWS
//! account and for tests.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::api::SupportApi;
use crate::catalogue::catalogue;
use crate::error::Error;
use crate::model::{
    CaseDetails, CaseFilter, CaseId, CasePage, CaseRef, CaseStatus, CaseView, Communication,
    NewCase, ReplyOutcome, Resolution, Service, Severity, SeverityLevel, WatchedCase,
};
use crate::parse::{LANGUAGES, MAX_BODY_CHARS, MAX_CC};

mod format;
mod saved;

pub use format::{iso8601, parse_iso8601};
use format::{millis, mix};
pub use saved::SandboxSaver;

/// What the simulated AWS engineer writes.
///
/// ```
/// assert!(support_commands::SIMULATED_REPLY.contains("AWS Support"));
/// ```
pub const SIMULATED_REPLY: &str = "您好，我是 AWS Support 工程师（沙盒模拟）。我们已收到您的工单，正在调查，请提供受影响的资源 ID 和时间范围。\nHello, this is AWS Support (sandbox simulation). We are looking into your case; please share the affected resource IDs and time window.";

/// Communications per page of [`SupportApi::describe_case`] (the smallest page AWS allows).
///
/// ```
/// assert_eq!(support_commands::COMMUNICATIONS_PAGE, 10);
/// ```
pub const COMMUNICATIONS_PAGE: usize = 10;

/// Settings of a [`Sandbox`].
///
/// ```
/// use std::time::Duration;
/// let config = support_commands::SandboxConfig { engineer_reply_after: Duration::from_secs(5), ..Default::default() };
/// let sandbox = support_commands::Sandbox::with_config(config);
/// # let _ = sandbox;
/// ```
#[derive(Debug, Clone)]
#[allow(clippy::exhaustive_structs)]
pub struct SandboxConfig {
    /// The 12-digit account id in case ids.
    pub account_id: String,
    /// How long after a customer message the simulated AWS engineer answers (default 30 s);
    /// the answer appears on the next read after that.
    pub engineer_reply_after: Duration,
    /// The severity levels the simulated support plan allows (default all five, Enterprise).
    pub severity_levels: Vec<Severity>,
    /// Open cases allowed before `CaseCreationLimitExceeded` (default 100).
    pub max_open_cases: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            account_id: "123456789012".to_owned(),
            engineer_reply_after: Duration::from_secs(30),
            severity_levels: Severity::ALL.to_vec(),
            max_open_cases: 100,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SandboxCase {
    details: CaseDetails,
    /// Oldest first.
    communications: Vec<Communication>,
    /// When the last customer message arrived that AWS has not answered yet (Unix ms).
    awaiting_aws_since: Option<u64>,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    cases: Vec<SandboxCase>,
    next: u64,
    /// Mixed into every case and display id; taken from the clock at the first case, so a
    /// restarted sandbox does not hand out the ids of the previous one.
    seed: Option<u64>,
}

/// The clock a [`Sandbox`] reads (injected by tests).
///
/// ```
/// let clock: support_commands::SandboxClock = std::sync::Arc::new(std::time::SystemTime::now);
/// let _ = clock();
/// ```
pub type SandboxClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// An in-memory [`SupportApi`]: the snapshot catalogue, case ids and display ids in AWS's
/// formats, statuses that move like AWS's (opened → pending-customer-action when the simulated
/// engineer answers; customer-action-completed on the customer's reply; resolved; reopened on
/// a reply to a resolved case), and AWS's validation (body 1–8000 characters, ≤ 10 CC, known
/// service and category codes, allowed severities).
///
/// ```
/// use support_commands::{CaseRef, NewCase, Sandbox, Severity, SupportApi};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sandbox = Sandbox::new();
/// let id = sandbox.create_case(&NewCase::new("s", "b", Severity::Low)).await.unwrap();
/// let view = sandbox.describe_case(&CaseRef::CaseId(id), None).await.unwrap();
/// assert_eq!(view.case.status.as_str(), "opened");
/// # }
/// ```
pub struct Sandbox {
    config: SandboxConfig,
    services: Arc<Vec<Service>>,
    state: Mutex<State>,
    clock: SandboxClock,
    /// Where every change is saved, if anywhere ([`with_saved`](Self::with_saved)).
    saver: Option<SandboxSaver>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

fn page_offset(page: Option<&str>) -> Result<usize, Error> {
    match page {
        None => Ok(0),
        Some(token) => token
            .strip_prefix("sandbox-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::InvalidParameter(format!("invalid nextToken `{token}`"))),
    }
}

fn validate_body(body: &str, cc: &[String]) -> Result<(), Error> {
    let chars = body.chars().count();
    if body.trim().is_empty() || chars > MAX_BODY_CHARS {
        return Err(Error::InvalidParameter(format!(
            "communicationBody must have 1 to {MAX_BODY_CHARS} characters, has {chars}"
        )));
    }
    if cc.len() > MAX_CC {
        return Err(Error::InvalidParameter(format!(
            "at most {MAX_CC} ccEmailAddresses, got {}",
            cc.len()
        )));
    }
    Ok(())
}

impl Sandbox {
    /// A sandbox with the default settings and the system clock.
    ///
    /// ```
    /// let sandbox = support_commands::Sandbox::new();
    /// # let _ = sandbox;
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(SandboxConfig::default())
    }

    /// A sandbox with explicit settings.
    ///
    /// ```
    /// let sandbox = support_commands::Sandbox::with_config(Default::default());
    /// # let _ = sandbox;
    /// ```
    #[must_use]
    pub fn with_config(config: SandboxConfig) -> Self {
        Self {
            config,
            services: catalogue(),
            state: Mutex::new(State::default()),
            clock: Arc::new(SystemTime::now),
            saver: None,
        }
    }

    /// Replaces the clock (tests move time forward instead of sleeping).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let sandbox = support_commands::Sandbox::new().with_clock(|| UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    /// # let _ = sandbox;
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn now_ms(&self) -> u64 {
        millis((self.clock)())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets the simulated engineer answer every case that has waited long enough; whether
    /// any did.
    fn advance(&self, state: &mut State, now: u64) -> bool {
        let mut changed = false;
        let after = u64::try_from(self.config.engineer_reply_after.as_millis()).unwrap_or(u64::MAX);
        for case in &mut state.cases {
            let Some(since) = case.awaiting_aws_since else {
                continue;
            };
            if case.details.status.is_open() && now.saturating_sub(since) >= after {
                let at = since.saturating_add(after);
                case.communications.push(Communication::new(
                    SIMULATED_REPLY,
                    "Amazon Web Services",
                    iso8601(at),
                ));
                case.details.status = CaseStatus::PendingCustomerAction;
                case.awaiting_aws_since = None;
                changed = true;
            }
        }
        changed
    }

    fn find<'a>(state: &'a mut State, case: &CaseRef) -> Result<&'a mut SandboxCase, Error> {
        state
            .cases
            .iter_mut()
            .find(|c| match case {
                CaseRef::CaseId(id) => c.details.case_id == *id,
                CaseRef::DisplayId(display) => {
                    c.details.display_id.as_deref() == Some(display.as_str())
                }
            })
            .ok_or_else(|| Error::CaseNotFound(case.to_string()))
    }

    fn severity_name(severity: &Severity, language: &str) -> &'static str {
        let zh = language.eq_ignore_ascii_case("zh");
        match (severity, zh) {
            (Severity::Low, true) => "一般性指导",
            (Severity::Normal, true) => "系统受损",
            (Severity::High, true) => "生产系统受损",
            (Severity::Urgent, true) => "生产系统停机",
            (Severity::Critical, true) => "业务关键型系统停机",
            (Severity::Low, false) => "General guidance",
            (Severity::Normal, false) => "System impaired",
            (Severity::High, false) => "Production system impaired",
            (Severity::Urgent, false) => "Production system down",
            (Severity::Critical, false) => "Business-critical system down",
            (Severity::Other(_), _) => "",
        }
    }
}

#[async_trait]
impl SupportApi for Sandbox {
    async fn describe_services(&self, language: &str) -> Result<Arc<Vec<Service>>, Error> {
        if !LANGUAGES.contains(&language) {
            return Err(Error::InvalidParameter(format!(
                "unsupported language `{language}`"
            )));
        }
        Ok(Arc::clone(&self.services))
    }

    async fn describe_severity_levels(&self, language: &str) -> Result<Vec<SeverityLevel>, Error> {
        Ok(self
            .config
            .severity_levels
            .iter()
            .map(|code| SeverityLevel {
                code: code.clone(),
                name: Self::severity_name(code, language).to_owned(),
            })
            .collect())
    }

    async fn create_case(&self, case: &NewCase) -> Result<CaseId, Error> {
        if case.subject.trim().is_empty() {
            return Err(Error::InvalidParameter(
                "subject must not be empty".to_owned(),
            ));
        }
        validate_body(&case.body, &case.cc)?;
        if !self.config.severity_levels.contains(&case.severity) {
            return Err(Error::InvalidParameter(format!(
                "severityCode `{}` is not available on this support plan",
                case.severity
            )));
        }
        if !LANGUAGES.contains(&case.language.as_str()) {
            return Err(Error::InvalidParameter(format!(
                "unsupported language `{}`",
                case.language
            )));
        }
        if let Some(code) = &case.service_code {
            let service = self
                .services
                .iter()
                .find(|s| s.code == *code)
                .ok_or_else(|| Error::InvalidParameter(format!("invalid serviceCode `{code}`")))?;
            if let Some(category) = &case.category_code
                && !service.categories.iter().any(|c| c.code == *category)
            {
                return Err(Error::InvalidParameter(format!(
                    "invalid categoryCode `{category}` for serviceCode `{code}`"
                )));
            }
        }
        let now = self.now_ms();
        let mut state = self.lock();
        self.advance_and_keep(&mut state, now);
        let open = state
            .cases
            .iter()
            .filter(|c| c.details.status.is_open())
            .count();
        if open >= self.config.max_open_cases {
            return Err(Error::CaseCreationLimitExceeded(format!(
                "you have {open} open cases; resolve some before opening more"
            )));
        }
        state.next += 1;
        let n = state.next;
        let seed = mix(*state.seed.get_or_insert(now));
        let year = iso8601(now).get(..4).unwrap_or("2026").to_owned();
        let language = case.language.get(..2).unwrap_or("en").to_owned();
        // Unique within this sandbox: `mix` is a bijection and `seed ^ n` differs for every
        // `n`. (It used to be `mix(n ^ now)`, and two cases opened 1 ms apart could share an
        // id: 1 ^ t == 2 ^ (t + 1) whenever t % 4 == 1.) Display ids count up from a
        // per-sandbox start, 10 digits like AWS's.
        let case_id = CaseId::new_unchecked(format!(
            "case-{}-mu{language}-{year}-{:016x}",
            self.config.account_id,
            mix(seed ^ n)
        ));
        let display_id = format!("{}", 1_700_000_000 + seed % 50_000_000 + n);
        let details = CaseDetails {
            case_id: case_id.clone(),
            display_id: Some(display_id),
            subject: case.subject.clone(),
            status: CaseStatus::Opened,
            service_code: case.service_code.clone(),
            category_code: case.category_code.clone(),
            severity: Some(case.severity.clone()),
            submitted_by: Some("CaseBotRole (Role)".to_owned()),
            time_created: Some(iso8601(now)),
            cc: case.cc.clone(),
            language: Some(case.language.clone()),
        };
        state.cases.push(SandboxCase {
            details,
            communications: vec![Communication::new(
                case.body.clone(),
                "CaseBotRole (Role)",
                iso8601(now),
            )],
            awaiting_aws_since: Some(now),
        });
        self.keep(&state)?;
        Ok(case_id)
    }

    async fn describe_case(&self, case: &CaseRef, page: Option<&str>) -> Result<CaseView, Error> {
        let offset = page_offset(page)?;
        let now = self.now_ms();
        let mut state = self.lock();
        self.advance_and_keep(&mut state, now);
        let found = Self::find(&mut state, case)?;
        let newest_first: Vec<Communication> = found.communications.iter().rev().cloned().collect();
        let end = (offset + COMMUNICATIONS_PAGE).min(newest_first.len());
        let communications = newest_first
            .get(offset.min(end)..end)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        let next_page = (end < newest_first.len()).then(|| format!("sandbox-{end}"));
        Ok(CaseView {
            case: found.details.clone(),
            communications,
            next_page,
        })
    }

    async fn case_details(&self, case: &CaseRef) -> Result<CaseDetails, Error> {
        let now = self.now_ms();
        let mut state = self.lock();
        self.advance_and_keep(&mut state, now);
        Ok(Self::find(&mut state, case)?.details.clone())
    }

    async fn list_cases(&self, filter: &CaseFilter, page: Option<&str>) -> Result<CasePage, Error> {
        let offset = page_offset(page)?;
        let size = usize::try_from(filter.page_size.unwrap_or(100).clamp(10, 100)).unwrap_or(100);
        let now = self.now_ms();
        let mut state = self.lock();
        self.advance_and_keep(&mut state, now);
        // Cases are stored in creation order: newest first is the reverse.
        let matching: Vec<&SandboxCase> = state
            .cases
            .iter()
            .rev()
            .filter(|c| filter.include_resolved || c.details.status.is_open())
            .collect();
        let end = (offset + size).min(matching.len());
        let cases = matching
            .get(offset.min(end)..end)
            .map(|s| s.iter().map(|c| c.details.clone()).collect())
            .unwrap_or_default();
        let next_page = (end < matching.len()).then(|| format!("sandbox-{end}"));
        Ok(CasePage { cases, next_page })
    }

    async fn add_communication(
        &self,
        case: &CaseId,
        body: &str,
        cc: &[String],
    ) -> Result<ReplyOutcome, Error> {
        validate_body(body, cc)?;
        let now = self.now_ms();
        let mut state = self.lock();
        self.advance_and_keep(&mut state, now);
        let found = Self::find(&mut state, &CaseRef::CaseId(case.clone()))?;
        let reopened = found.details.status == CaseStatus::Resolved;
        found.details.status = match &found.details.status {
            CaseStatus::Resolved => CaseStatus::Reopened,
            CaseStatus::PendingCustomerAction => CaseStatus::CustomerActionCompleted,
            other => other.clone(),
        };
        found
            .communications
            .push(Communication::new(body, "CaseBotRole (Role)", iso8601(now)));
        found.awaiting_aws_since = Some(now);
        self.keep(&state)?;
        Ok(ReplyOutcome { reopened })
    }

    async fn watch_cases(&self, ids: &[CaseId], language: &str) -> Result<Vec<WatchedCase>, Error> {
        if !LANGUAGES.contains(&language) {
            return Err(Error::InvalidParameter(format!(
                "unsupported language `{language}`"
            )));
        }
        let now = self.now_ms();
        let mut state = self.lock();
        self.advance_and_keep(&mut state, now);
        ids.iter()
            .map(|id| {
                let found = Self::find(&mut state, &CaseRef::CaseId(id.clone()))?;
                let recent = found.communications.iter().rev().take(5).cloned().collect();
                Ok(WatchedCase::new(
                    found.details.clone(),
                    recent,
                    found.communications.len() > 5,
                ))
            })
            .collect()
    }

    async fn resolve_case(&self, case: &CaseId) -> Result<Resolution, Error> {
        let now = self.now_ms();
        let mut state = self.lock();
        self.advance_and_keep(&mut state, now);
        let found = Self::find(&mut state, &CaseRef::CaseId(case.clone()))?;
        let initial = std::mem::replace(&mut found.details.status, CaseStatus::Resolved);
        found.awaiting_aws_since = None;
        self.keep(&state)?;
        Ok(Resolution {
            initial,
            final_status: CaseStatus::Resolved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(1_709_210_096_000), "2024-02-29T12:34:56.000Z");
    }
}
