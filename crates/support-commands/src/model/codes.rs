//! The API's code values ([`CaseStatus`], [`Severity`], [`IssueType`]), each keeping values it
//! does not know.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::lang::Lang;

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

    /// The status in words, with AWS's code in brackets: `处理中（work-in-progress）`,
    /// `Waiting for you (pending-customer-action)`. An unknown status is shown as AWS sent it.
    ///
    /// ```
    /// use support_commands::{CaseStatus, Lang};
    /// assert_eq!(CaseStatus::Opened.label(Lang::Zh), "已创建（opened）");
    /// assert_eq!(CaseStatus::PendingCustomerAction.label(Lang::En), "waiting for you (pending-customer-action)");
    /// assert_eq!(CaseStatus::Other("all-open".into()).label(Lang::Zh), "all-open");
    /// ```
    #[must_use]
    pub fn label(&self, lang: Lang) -> String {
        let words = match self {
            Self::Opened => lang.pick("已创建", "opened"),
            Self::Unassigned => lang.pick("等待分配工程师", "waiting for an engineer"),
            Self::WorkInProgress => lang.pick("AWS 处理中", "AWS is working on it"),
            Self::PendingCustomerAction => lang.pick("等待您的回复", "waiting for you"),
            Self::CustomerActionCompleted => {
                lang.pick("已回复，等待 AWS", "answered, waiting for AWS")
            }
            Self::Reopened => lang.pick("已重新打开", "reopened"),
            Self::Resolved => lang.pick("已解决", "resolved"),
            Self::Other(raw) => return raw.clone(),
        };
        bracketed(lang, words, self.as_str())
    }
}

/// `words（code）` in Chinese, `words (code)` in English; just the code when they are the same.
fn bracketed(lang: Lang, words: &str, code: &str) -> String {
    match lang {
        _ if words == code => code.to_owned(),
        Lang::En => format!("{words} ({code})"),
        _ => format!("{words}（{code}）"),
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

    /// The severity in AWS's words, with the code in brackets: `生产系统受损（high）`.
    ///
    /// ```
    /// use support_commands::{Lang, Severity};
    /// assert_eq!(Severity::High.label(Lang::Zh), "生产系统受损（high）");
    /// assert_eq!(Severity::Low.label(Lang::En), "general guidance (low)");
    /// ```
    #[must_use]
    pub fn label(&self, lang: Lang) -> String {
        let words = match self {
            Self::Low => lang.pick("一般性指导", "general guidance"),
            Self::Normal => lang.pick("系统受损", "system impaired"),
            Self::High => lang.pick("生产系统受损", "production system impaired"),
            Self::Urgent => lang.pick("生产系统停机", "production system down"),
            Self::Critical => lang.pick("业务关键型系统停机", "business-critical system down"),
            Self::Other(raw) => return raw.clone(),
        };
        bracketed(lang, words, self.as_str())
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
