//! How cases are named: [`CaseId`] and [`CaseRef`].

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
