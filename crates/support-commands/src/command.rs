//! The commands a chat message can carry.

use crate::model::{CaseRef, NewCase};

/// A parsed chat command.
///
/// ```
/// use support_commands::{parse, Command};
/// assert_eq!(parse("工单列表 全部").unwrap(), Command::ListCases { include_resolved: true });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Show the help text; `unrecognised` when the message was not a command.
    Help {
        /// The message was not a command (as opposed to `帮助`/`help`).
        unrecognised: bool,
    },
    /// Look up service and category codes (`查找ServiceCode: ec2`).
    LookupService {
        /// What to look for.
        query: String,
    },
    /// Open a case (`提工单` + fields).
    CreateCase(NewCase),
    /// Show a case and its latest communications (`查看 <id>`).
    ViewCase {
        /// The case.
        case: CaseRef,
    },
    /// List this account's cases (`工单列表`, `全部` to include resolved ones).
    ListCases {
        /// Include resolved cases.
        include_resolved: bool,
    },
    /// Add a communication to a case (`回复 <id>` + text); reopens a resolved case.
    Reply {
        /// The case.
        case: CaseRef,
        /// The text.
        body: String,
        /// CC e-mail addresses.
        cc: Vec<String>,
    },
    /// Resolve a case (`释放 <id>`, `释放case,case_id:<id>`, `释放工单:<id>`).
    Resolve {
        /// The case.
        case: CaseRef,
    },
    /// List the severity levels the account may use (`严重级别`).
    SeverityLevels,
    /// Follow a case: its AWS replies and status changes are pushed to this group (`关注 <id>`).
    Follow {
        /// The case.
        case: CaseRef,
    },
    /// Stop following a case (`取消关注 <id>`).
    Unfollow {
        /// The case.
        case: CaseRef,
    },
    /// List the cases this group follows (`关注列表`).
    Following,
    /// Show (`通知`) or change (`通知 high`) what this group is told about.
    Notify {
        /// The change; `None` shows the settings.
        change: Option<NotifyChange>,
    },
    /// The sender's staff id and the conversation id (`我的信息`), for setting up admins and
    /// the allow-list.
    WhoAmI,
}

/// Which cases' updates a group is told about, by severity.
///
/// ```
/// use support_commands::{NotifyLevel, Severity};
/// assert!(NotifyLevel::High.includes(Some(&Severity::Urgent)));
/// assert!(!NotifyLevel::High.includes(Some(&Severity::Normal)));
/// assert!(!NotifyLevel::None.includes(Some(&Severity::Critical)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NotifyLevel {
    /// Every case.
    #[default]
    All,
    /// Cases of severity high, urgent or critical.
    High,
    /// No case.
    None,
}

impl NotifyLevel {
    /// Whether a case of `severity` is included (a case of unknown severity counts as
    /// included by `All` only).
    ///
    /// ```
    /// assert!(support_commands::NotifyLevel::All.includes(None));
    /// ```
    #[must_use]
    pub fn includes(self, severity: Option<&crate::model::Severity>) -> bool {
        use crate::model::Severity;
        match self {
            Self::All => true,
            Self::High => matches!(
                severity,
                Some(Severity::High | Severity::Urgent | Severity::Critical)
            ),
            Self::None => false,
        }
    }

    /// The setting's name: `all`, `high` or `none`.
    ///
    /// ```
    /// assert_eq!(support_commands::NotifyLevel::High.as_str(), "high");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::High => "high",
            Self::None => "none",
        }
    }
}

/// One change to a group's notification settings.
///
/// ```
/// use support_commands::{parse, Command, NotifyChange, NotifyLevel};
/// assert_eq!(parse("通知 high").unwrap(), Command::Notify { change: Some(NotifyChange::Level(NotifyLevel::High)) });
/// assert_eq!(parse("notify new-cases on").unwrap(), Command::Notify { change: Some(NotifyChange::NewCases(true)) });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotifyChange {
    /// Which severities are pushed.
    Level(NotifyLevel),
    /// Whether new correspondence is pushed.
    Replies(bool),
    /// Whether status changes (waiting for you, resolved, reopened) are pushed.
    Status(bool),
    /// Whether every new or reopened case in the account is pushed.
    NewCases(bool),
    /// The group's time zone, minutes east of UTC (`通知 时区 +09:00`).
    TimeZone(i32),
}

/// `+08:00`, `-05:30`, `UTC+8` or `8`: minutes east of UTC; `None` for anything else.
///
/// ```
/// use support_commands::parse_utc_offset;
/// assert_eq!(parse_utc_offset("+08:00"), Some(480));
/// assert_eq!(parse_utc_offset("UTC-5:30"), Some(-330));
/// assert_eq!(parse_utc_offset("+25:00"), None);
/// ```
#[must_use]
pub fn parse_utc_offset(value: &str) -> Option<i32> {
    let text = value.trim();
    let text = text
        .strip_prefix("UTC")
        .or_else(|| text.strip_prefix("utc"))
        .unwrap_or(text);
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    (hours <= 14 && minutes <= 59 && hours >= 0 && minutes >= 0)
        .then_some(sign * (hours * 60 + minutes))
}

/// Which command, without its arguments (for help, errors and logs).
///
/// ```
/// use support_commands::{parse, CommandKind};
/// assert_eq!(parse("帮助").unwrap().kind(), CommandKind::Help);
/// assert_eq!(CommandKind::Resolve.as_str(), "resolve");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandKind {
    /// Help.
    Help,
    /// Service lookup.
    LookupService,
    /// Create a case.
    CreateCase,
    /// View a case.
    ViewCase,
    /// List cases.
    ListCases,
    /// Reply to a case.
    Reply,
    /// Resolve a case.
    Resolve,
    /// Severity levels.
    SeverityLevels,
    /// Follow a case.
    Follow,
    /// Unfollow a case.
    Unfollow,
    /// List followed cases.
    Following,
    /// Notification settings.
    Notify,
    /// The caller's ids.
    WhoAmI,
}

impl CommandKind {
    /// A stable English name, for logs and metrics.
    ///
    /// ```
    /// assert_eq!(support_commands::CommandKind::CreateCase.as_str(), "create");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Help => "help",
            Self::LookupService => "lookup",
            Self::CreateCase => "create",
            Self::ViewCase => "view",
            Self::ListCases => "list",
            Self::Reply => "reply",
            Self::Resolve => "resolve",
            Self::SeverityLevels => "severity",
            Self::Follow => "follow",
            Self::Unfollow => "unfollow",
            Self::Following => "following",
            Self::Notify => "notify",
            Self::WhoAmI => "whoami",
        }
    }
}

impl Command {
    /// Which command this is.
    ///
    /// ```
    /// use support_commands::{Command, CommandKind};
    /// assert_eq!(Command::SeverityLevels.kind(), CommandKind::SeverityLevels);
    /// ```
    #[must_use]
    pub fn kind(&self) -> CommandKind {
        match self {
            Self::Help { .. } => CommandKind::Help,
            Self::LookupService { .. } => CommandKind::LookupService,
            Self::CreateCase(_) => CommandKind::CreateCase,
            Self::ViewCase { .. } => CommandKind::ViewCase,
            Self::ListCases { .. } => CommandKind::ListCases,
            Self::Reply { .. } => CommandKind::Reply,
            Self::Resolve { .. } => CommandKind::Resolve,
            Self::SeverityLevels => CommandKind::SeverityLevels,
            Self::Follow { .. } => CommandKind::Follow,
            Self::Unfollow { .. } => CommandKind::Unfollow,
            Self::Following => CommandKind::Following,
            Self::Notify { .. } => CommandKind::Notify,
            Self::WhoAmI => CommandKind::WhoAmI,
        }
    }
}
