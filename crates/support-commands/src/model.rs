//! The values that go in and out of [`SupportApi`](crate::SupportApi).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An AWS Support case id (`case-<account>-<code>-<year>-<hex>`), the API's key for a case.
///
/// ```
/// use support_commands::CaseId;
/// let id = CaseId::parse("case-111122223333-muen-2022-7118885805350839").unwrap();
/// assert_eq!(id.as_str(), "case-111122223333-muen-2022-7118885805350839");
/// assert!(CaseId::parse("i-0abc").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(String);

impl CaseId {
    /// Accepts `case-` followed by 1–120 letters, digits and hyphens (case-insensitive prefix);
    /// `None` otherwise. The parts after `case-` are not interpreted.
    ///
    /// ```
    /// assert!(support_commands::CaseId::parse("CASE-1-abc").is_some());
    /// ```
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let rest = text
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("case-"))
            .and(text.get(5..))?;
        let ok = !rest.is_empty()
            && rest.len() <= 120
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then(|| Self(format!("case-{rest}")))
    }

    /// Wraps an id returned by AWS without checking it.
    ///
    /// ```
    /// let id = support_commands::CaseId::new_unchecked("case-x");
    /// assert_eq!(id.to_string(), "case-x");
    /// ```
    #[must_use]
    pub fn new_unchecked(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as a string.
    ///
    /// ```
    /// assert_eq!(support_commands::CaseId::new_unchecked("case-1").as_str(), "case-1");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a person names a case: its case id, or the numeric display id Support Center shows.
///
/// ```
/// use support_commands::CaseRef;
/// assert!(matches!(CaseRef::parse("1234563851"), Some(CaseRef::DisplayId(_))));
/// assert!(matches!(CaseRef::parse("case-1-x"), Some(CaseRef::CaseId(_))));
/// assert_eq!(CaseRef::parse("释放"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CaseRef {
    /// A case id.
    CaseId(CaseId),
    /// A display id (digits only).
    DisplayId(String),
}

impl CaseRef {
    /// Parses a case id or a 6–20 digit display id.
    ///
    /// ```
    /// assert!(support_commands::CaseRef::parse("12345").is_none()); // too short for a display id
    /// ```
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(id) = CaseId::parse(text) {
            return Some(Self::CaseId(id));
        }
        let digits = (6..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| Self::DisplayId(text.to_owned()))
    }
}

impl fmt::Display for CaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CaseId(id) => id.fmt(f),
            Self::DisplayId(id) => f.write_str(id),
        }
    }
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this crate does not know, kept as AWS sent it.
            Other(String),
        }

        impl $name {
            /// The wire value.
            ///
            /// ```
            /// assert_eq!(support_commands::Severity::Urgent.as_str(), "urgent");
            /// ```
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(other) => other,
                }
            }

            /// Parses a wire value (case-insensitive); unknown values become `Other`.
            ///
            /// ```
            /// use support_commands::CaseStatus;
            /// assert_eq!(CaseStatus::from_wire("all-open"), CaseStatus::Other("all-open".into()));
            /// ```
            #[must_use]
            pub fn from_wire(value: &str) -> Self {
                $(if value.eq_ignore_ascii_case($wire) { return Self::$variant; })+
                Self::Other(value.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from_wire(&s))
            }
        }
    };
}

wire_enum!(
    /// A case's status (`CaseDetails.status`).
    ///
    /// ```
    /// use support_commands::CaseStatus;
    /// assert_eq!(CaseStatus::from_wire("pending-customer-action"), CaseStatus::PendingCustomerAction);
    /// assert!(!CaseStatus::Resolved.is_open());
    /// ```
    CaseStatus {
        /// `opened`
        Opened = "opened",
        /// `unassigned`
        Unassigned = "unassigned",
        /// `work-in-progress`
        WorkInProgress = "work-in-progress",
        /// `pending-customer-action`: AWS is waiting for the customer.
        PendingCustomerAction = "pending-customer-action",
        /// `customer-action-completed`
        CustomerActionCompleted = "customer-action-completed",
        /// `reopened`
        Reopened = "reopened",
        /// `resolved`
        Resolved = "resolved",
    }
);

impl CaseStatus {
    /// Whether the case is still open (anything but `resolved`).
    ///
    /// ```
    /// assert!(support_commands::CaseStatus::Reopened.is_open());
    /// ```
    #[must_use]
    pub fn is_open(&self) -> bool {
        *self != Self::Resolved
    }
}

wire_enum!(
    /// A severity code (`low` … `critical`).
    ///
    /// ```
    /// use support_commands::Severity;
    /// assert_eq!(Severity::from_wire("HIGH"), Severity::High);
    /// assert_eq!(Severity::ALL.len(), 5);
    /// ```
    Severity {
        /// `low`: general guidance.
        Low = "low",
        /// `normal`: system impaired.
        Normal = "normal",
        /// `high`: production system impaired.
        High = "high",
        /// `urgent`: production system down.
        Urgent = "urgent",
        /// `critical`: business-critical system down.
        Critical = "critical",
    }
);

impl Severity {
    /// The five codes AWS defines, lowest first.
    pub const ALL: [Self; 5] = [
        Self::Low,
        Self::Normal,
        Self::High,
        Self::Urgent,
        Self::Critical,
    ];

    /// Parses one of the five codes only (no `Other`).
    ///
    /// ```
    /// assert!(support_commands::Severity::parse_known("sev1").is_none());
    /// ```
    #[must_use]
    pub fn parse_known(value: &str) -> Option<Self> {
        match Self::from_wire(value.trim()) {
            Self::Other(_) => None,
            known => Some(known),
        }
    }
}

wire_enum!(
    /// The case's issue type.
    ///
    /// ```
    /// assert_eq!(support_commands::IssueType::from_wire("customer-service").as_str(), "customer-service");
    /// ```
    IssueType {
        /// `technical` (the default).
        Technical = "technical",
        /// `customer-service` (account and billing).
        CustomerService = "customer-service",
    }
);

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
