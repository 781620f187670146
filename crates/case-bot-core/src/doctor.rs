//! `case-bot doctor`'s report: side-effect-free checks that say whether a deployment will
//! work, each with ✅/❌ and the fix. The bot runs the checks it can make with what it holds
//! ([`CaseBot::doctor`](crate::CaseBot::doctor)); an adapter adds its own (the Stream ticket,
//! the callback URL, the state file) with [`Report::push`].

use std::fmt;

use serde::Serialize;

/// How a check came out.
///
/// ```
/// assert_ne!(case_bot_core::Verdict::Pass, case_bot_core::Verdict::Fail);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Verdict {
    /// ✅ It works.
    Pass,
    /// ❌ It will not work: the fix says what to do.
    Fail,
    /// ℹ️ Worth knowing; nothing is wrong.
    Note,
}

/// One check: what was checked, what was found, and the fix when it failed.
///
/// ```
/// let check = case_bot_core::Check::pass("secret", "readable");
/// assert!(check.to_string().starts_with("✅ secret: readable"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Check {
    /// How it came out.
    pub verdict: Verdict,
    /// What was checked (`secret`, `Support API`, `IAM support:CreateCase`, …).
    pub name: String,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A check that passed.
    ///
    /// ```
    /// assert_eq!(case_bot_core::Check::pass("a", "b").verdict, case_bot_core::Verdict::Pass);
    /// ```
    #[must_use]
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Verdict::Pass, name, detail, None)
    }

    /// A check that failed, and its fix.
    ///
    /// ```
    /// let check = case_bot_core::Check::fail("a", "b", "do c");
    /// assert_eq!(check.fix.as_deref(), Some("do c"));
    /// ```
    #[must_use]
    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(Verdict::Fail, name, detail, Some(fix.into()))
    }

    /// Something worth knowing.
    ///
    /// ```
    /// assert_eq!(case_bot_core::Check::note("a", "b").verdict, case_bot_core::Verdict::Note);
    /// ```
    #[must_use]
    pub fn note(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Verdict::Note, name, detail, None)
    }

    fn new(
        verdict: Verdict,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Self {
            verdict,
            name: name.into(),
            detail: detail.into(),
            fix,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match self.verdict {
            Verdict::Pass => "✅",
            Verdict::Fail => "❌",
            Verdict::Note => "ℹ️ ",
        };
        write!(f, "{mark} {}: {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n   fix: {fix}")?;
        }
        Ok(())
    }
}

/// Every check of one run, in order.
///
/// ```
/// let mut report = case_bot_core::Report::default();
/// report.push(case_bot_core::Check::pass("secret", "readable"));
/// assert!(report.healthy());
/// report.push(case_bot_core::Check::fail("state", "read-only", "chmod"));
/// assert!(!report.healthy());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    checks: Vec<Check>,
}

impl Report {
    /// Adds a check.
    ///
    /// ```
    /// let mut report = case_bot_core::Report::default();
    /// report.push(case_bot_core::Check::note("mode", "http"));
    /// assert_eq!(report.checks().len(), 1);
    /// ```
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// The checks, in order.
    ///
    /// ```
    /// assert!(case_bot_core::Report::default().checks().is_empty());
    /// ```
    #[must_use]
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// Whether no check failed.
    ///
    /// ```
    /// assert!(case_bot_core::Report::default().healthy());
    /// ```
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            writeln!(f, "{check}")?;
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .count();
        match failed {
            0 => write!(f, "all {} checks passed", self.checks.len()),
            n => write!(f, "{n} of {} checks failed", self.checks.len()),
        }
    }
}
