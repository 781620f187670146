//! The values that go in and out of [`SupportApi`](crate::SupportApi).

use serde::{Deserialize, Serialize};

mod codes;
mod ids;

pub use codes::{CaseStatus, IssueType, Severity};
pub use ids::{CaseId, CaseRef};

/// A case to open.
///
/// ```
/// use support_commands::{IssueType, NewCase, Severity};
/// let case = NewCase::new("EC2 实例无法连接", "SSH 超时", Severity::High)
///     .service("amazon-elastic-compute-cloud-linux", "instance-issue");
/// assert_eq!(case.language, "zh");
/// assert_eq!(case.issue_type, IssueType::Technical);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NewCase {
    /// Subject.
    pub subject: String,
    /// First communication.
    pub body: String,
    /// Severity code.
    pub severity: Severity,
    /// Service code.
    pub service_code: Option<String>,
    /// Category code.
    pub category_code: Option<String>,
    /// CC e-mail addresses (at most 10).
    pub cc: Vec<String>,
    /// Case language (`zh` by default).
    pub language: String,
    /// Whether the message named the language (`language:`); when it did not, a deployment
    /// may create the case in its own configured language instead.
    #[serde(default)]
    pub language_given: bool,
    /// Issue type (`technical` by default).
    pub issue_type: IssueType,
}

impl NewCase {
    /// A technical case in Chinese, without service or CC.
    ///
    /// ```
    /// let case = support_commands::NewCase::new("s", "b", support_commands::Severity::Low);
    /// # let _ = case;
    /// ```
    #[must_use]
    pub fn new(subject: impl Into<String>, body: impl Into<String>, severity: Severity) -> Self {
        Self {
            subject: subject.into(),
            body: body.into(),
            severity,
            service_code: None,
            category_code: None,
            cc: Vec::new(),
            language: "zh".to_owned(),
            language_given: false,
            issue_type: IssueType::Technical,
        }
    }

    /// Sets the service and category codes.
    ///
    /// ```
    /// let case = support_commands::NewCase::new("s", "b", support_commands::Severity::Low)
    ///     .service("aws-lambda", "general-guidance");
    /// assert_eq!(case.service_code.as_deref(), Some("aws-lambda"));
    /// ```
    #[must_use]
    pub fn service(
        mut self,
        service_code: impl Into<String>,
        category_code: impl Into<String>,
    ) -> Self {
        self.service_code = Some(service_code.into());
        self.category_code = Some(category_code.into());
        self
    }
}

/// A category of a service.
///
/// ```
/// let c = support_commands::Category { code: "other".into(), name: "Other".into() };
/// # let _ = c;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)]
pub struct Category {
    /// Category code.
    pub code: String,
    /// Display name.
    pub name: String,
}

/// A service from DescribeServices, with its categories.
///
/// ```
/// let catalogue = support_commands::catalogue();
/// assert!(catalogue.iter().any(|s| s.code == "aws-lambda"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Service {
    /// Service code.
    pub code: String,
    /// Display name (English).
    pub name: String,
    /// Chinese display name, where casebot knows one (not AWS data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    /// Search aids: abbreviations and Chinese terms (not AWS data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Categories.
    pub categories: Vec<Category>,
}

impl Service {
    /// A service as AWS returns it (no Chinese name, no aliases).
    ///
    /// ```
    /// let s = support_commands::Service::new("aws-lambda", "AWS Lambda", vec![]);
    /// assert!(s.aliases.is_empty());
    /// ```
    #[must_use]
    pub fn new(
        code: impl Into<String>,
        name: impl Into<String>,
        categories: Vec<Category>,
    ) -> Self {
        Self {
            code: code.into(),
            name: name.into(),
            name_zh: None,
            aliases: Vec::new(),
            categories,
        }
    }
}

/// A severity level the account may use (DescribeSeverityLevels).
///
/// ```
/// let level = support_commands::SeverityLevel { code: support_commands::Severity::Low, name: "General guidance".into() };
/// # let _ = level;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)]
pub struct SeverityLevel {
    /// Code.
    pub code: Severity,
    /// Display name.
    pub name: String,
}

/// One message on a case.
///
/// ```
/// let c = support_commands::Communication::new("body", "Amazon Web Services", "2026-11-24T10:00:00.000Z");
/// assert!(c.is_from_aws());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Communication {
    /// Text.
    pub body: String,
    /// Who wrote it (an IAM identity, or "Amazon Web Services" for AWS engineers).
    pub submitted_by: String,
    /// When, ISO-8601.
    pub time_created: String,
}

impl Communication {
    /// A communication.
    ///
    /// ```
    /// let c = support_commands::Communication::new("b", "Role (Role) <a@b.c>", "t");
    /// assert!(!c.is_from_aws());
    /// ```
    #[must_use]
    pub fn new(
        body: impl Into<String>,
        submitted_by: impl Into<String>,
        time_created: impl Into<String>,
    ) -> Self {
        Self {
            body: body.into(),
            submitted_by: submitted_by.into(),
            time_created: time_created.into(),
        }
    }

    /// Whether an AWS engineer wrote it (`submittedBy` names Amazon Web Services, no e-mail).
    ///
    /// ```
    /// assert!(support_commands::Communication::new("b", "Amazon Web Services", "t").is_from_aws());
    /// ```
    #[must_use]
    pub fn is_from_aws(&self) -> bool {
        self.submitted_by.trim() == "Amazon Web Services"
    }
}

/// A case as DescribeCases returns it.
///
/// ```
/// # use support_commands::*;
/// let case = CaseDetails::for_tests("case-1-x", "1234567890", CaseStatus::Opened);
/// assert!(case.status.is_open());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CaseDetails {
    /// Case id.
    pub case_id: CaseId,
    /// Display id (digits).
    pub display_id: Option<String>,
    /// Subject.
    pub subject: String,
    /// Status.
    pub status: CaseStatus,
    /// Service code.
    pub service_code: Option<String>,
    /// Category code.
    pub category_code: Option<String>,
    /// Severity code.
    pub severity: Option<Severity>,
    /// Who opened it.
    pub submitted_by: Option<String>,
    /// When, ISO-8601.
    pub time_created: Option<String>,
    /// CC addresses.
    pub cc: Vec<String>,
    /// Language.
    pub language: Option<String>,
}

impl CaseDetails {
    /// A minimal case, for tests and examples.
    ///
    /// ```
    /// let case = support_commands::CaseDetails::for_tests("case-1", "123456", support_commands::CaseStatus::Resolved);
    /// assert_eq!(case.display_id.as_deref(), Some("123456"));
    /// ```
    #[must_use]
    pub fn for_tests(case_id: &str, display_id: &str, status: CaseStatus) -> Self {
        Self {
            case_id: CaseId::new_unchecked(case_id),
            display_id: Some(display_id.to_owned()),
            subject: String::new(),
            status,
            service_code: None,
            category_code: None,
            severity: None,
            submitted_by: None,
            time_created: None,
            cc: Vec::new(),
            language: None,
        }
    }
}

/// A case with one page of its communications, newest first.
///
/// ```
/// # use support_commands::*;
/// let view = CaseView { case: CaseDetails::for_tests("case-1", "123456", CaseStatus::Opened), communications: vec![], next_page: None };
/// # let _ = view;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::exhaustive_structs)]
pub struct CaseView {
    /// The case.
    pub case: CaseDetails,
    /// Communications on this page, newest first.
    pub communications: Vec<Communication>,
    /// Token for the next (older) page.
    pub next_page: Option<String>,
}

/// Which cases to list.
///
/// ```
/// let all = support_commands::CaseFilter { include_resolved: true, ..Default::default() };
/// # let _ = all;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct CaseFilter {
    /// Include resolved cases.
    pub include_resolved: bool,
    /// Page size (AWS accepts 10–100; `None` = AWS's default).
    pub page_size: Option<u32>,
}

/// One page of cases.
///
/// ```
/// let page = support_commands::CasePage { cases: vec![], next_page: None };
/// assert!(page.cases.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct CasePage {
    /// Cases, newest first.
    pub cases: Vec<CaseDetails>,
    /// Token for the next page.
    pub next_page: Option<String>,
}

/// What ResolveCase reports.
///
/// ```
/// use support_commands::{CaseStatus, Resolution};
/// let r = Resolution { initial: CaseStatus::Opened, final_status: CaseStatus::Resolved };
/// # let _ = r;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Resolution {
    /// Status before.
    pub initial: CaseStatus,
    /// Status after (`resolved`).
    pub final_status: CaseStatus,
}

/// What AddCommunicationToCase did to the case.
///
/// ```
/// let r = support_commands::ReplyOutcome { reopened: true };
/// # let _ = r;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct ReplyOutcome {
    /// The case was resolved and the reply reopened it.
    pub reopened: bool,
}

/// A case as a watcher sees it: its details and its newest communications (DescribeCases with
/// `includeCommunications`), newest first.
///
/// ```
/// use support_commands::{CaseDetails, CaseStatus, WatchedCase};
/// let case = CaseDetails::for_tests("case-1", "1", CaseStatus::Opened);
/// let watched = WatchedCase::new(case, Vec::new(), false);
/// assert!(!watched.more);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchedCase {
    /// The case.
    pub case: CaseDetails,
    /// Its newest communications (AWS returns up to five), newest first.
    pub recent: Vec<Communication>,
    /// Whether it has older communications than `recent`.
    pub more: bool,
}

impl WatchedCase {
    /// A watched case.
    ///
    /// ```
    /// # use support_commands::{CaseDetails, CaseStatus, WatchedCase};
    /// let watched = WatchedCase::new(CaseDetails::for_tests("case-1", "1", CaseStatus::Opened), vec![], true);
    /// assert!(watched.more);
    /// ```
    #[must_use]
    pub fn new(case: CaseDetails, recent: Vec<Communication>, more: bool) -> Self {
        Self { case, recent, more }
    }
}
