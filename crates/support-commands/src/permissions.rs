//! Whether the bot's IAM identity may call each Support operation it uses, asked with the
//! operations' `dryRun`: nothing is created, changed or read.

#[cfg(feature = "aws")]
use crate::aws::{AwsSupport, map_err};
#[cfg(feature = "aws")]
use crate::error::Error;

#[cfg(feature = "aws")]
/// A case id no account has: a dry run that AWS ran for real anyway could touch nothing.
const NO_CASE: &str = "case-000000000000-casebot-0000-doctor000000000";
#[cfg(feature = "aws")]
/// A service code no account has, for the same reason on CreateCase.
const NO_SERVICE: &str = "casebot-doctor-dry-run";

/// The Support operations the bot calls, each checked by
/// [`SupportApi::may_call`](crate::SupportApi::may_call).
///
/// ```
/// assert_eq!(support_commands::Operation::ALL.len(), 8);
/// assert_eq!(support_commands::Operation::CreateCase.name(), "CreateCase");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `support:DescribeServices` (lookup).
    DescribeServices,
    /// `support:DescribeSeverityLevels`.
    DescribeSeverityLevels,
    /// `support:DescribeSupportedLanguages` (the case language).
    DescribeSupportedLanguages,
    /// `support:CreateCase`.
    CreateCase,
    /// `support:DescribeCases` (view, list, notifications).
    DescribeCases,
    /// `support:DescribeCommunications`.
    DescribeCommunications,
    /// `support:AddCommunicationToCase` (reply).
    AddCommunicationToCase,
    /// `support:ResolveCase`.
    ResolveCase,
}

impl Operation {
    /// Every operation the bot calls.
    pub const ALL: [Self; 8] = [
        Self::DescribeServices,
        Self::DescribeSeverityLevels,
        Self::DescribeSupportedLanguages,
        Self::CreateCase,
        Self::DescribeCases,
        Self::DescribeCommunications,
        Self::AddCommunicationToCase,
        Self::ResolveCase,
    ];

    /// The operation's name, which is also its IAM action after `support:`.
    ///
    /// ```
    /// assert_eq!(support_commands::Operation::ResolveCase.name(), "ResolveCase");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::DescribeServices => "DescribeServices",
            Self::DescribeSeverityLevels => "DescribeSeverityLevels",
            Self::DescribeSupportedLanguages => "DescribeSupportedLanguages",
            Self::CreateCase => "CreateCase",
            Self::DescribeCases => "DescribeCases",
            Self::DescribeCommunications => "DescribeCommunications",
            Self::AddCommunicationToCase => "AddCommunicationToCase",
            Self::ResolveCase => "ResolveCase",
        }
    }
}

/// What a dry run said about one operation.
///
/// ```
/// use support_commands::Permission;
/// let inferred = Permission::Inferred("CaseIdNotFound".into());
/// assert_ne!(inferred, Permission::Allowed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Permission {
    /// AWS answered `DryRunOperationException`: the call would have been allowed.
    Allowed,
    /// AWS answered with an error that comes after authorization (`CaseIdNotFound` for the
    /// case that does not exist; the code is kept): the call is allowed, inferred rather than
    /// confirmed.
    Inferred(String),
    /// AWS rejected the request's parameters (the code is kept): it may do that before it
    /// looks at permissions, so whether the call is allowed is not known.
    Unconfirmed(String),
    /// The backend has no permissions to check (the sandbox, a test double).
    NotApplicable,
}

#[cfg(feature = "aws")]
impl AwsSupport {
    /// Asks AWS, with `dryRun`, whether this identity may call `operation`. The write
    /// operations name a case and a service that do not exist, so even an AWS that ran them
    /// for real would change nothing.
    pub(crate) async fn dry_run(&self, operation: Operation) -> Result<Permission, Error> {
        let c = &self.client;
        let sent = match operation {
            Operation::DescribeServices => c
                .describe_services()
                .dry_run(true)
                .send()
                .await
                .map(drop)
                .map_err(map_err),
            Operation::DescribeSeverityLevels => c
                .describe_severity_levels()
                .dry_run(true)
                .send()
                .await
                .map(drop)
                .map_err(map_err),
            Operation::DescribeSupportedLanguages => c
                .describe_supported_languages()
                .issue_type("technical")
                .service_code(NO_SERVICE)
                .category_code("other")
                .dry_run(true)
                .send()
                .await
                .map(drop)
                .map_err(map_err),
            Operation::CreateCase => c
                .create_case()
                .subject("casebot doctor (dry run)")
                .communication_body("casebot doctor: permission check with dryRun")
                .service_code(NO_SERVICE)
                .category_code("other")
                .severity_code("low")
                .dry_run(true)
                .send()
                .await
                .map(drop)
                .map_err(map_err),
            Operation::DescribeCases => c
                .describe_cases()
                .case_id_list(NO_CASE)
                .dry_run(true)
                .send()
                .await
                .map(drop)
                .map_err(map_err),
            Operation::DescribeCommunications => c
                .describe_communications()
                .case_id(NO_CASE)
                .dry_run(true)
                .send()
                .await
                .map(drop)
                .map_err(map_err),
            Operation::AddCommunicationToCase => c
                .add_communication_to_case()
                .case_id(NO_CASE)
                .communication_body("casebot doctor: permission check with dryRun")
                .dry_run(true)
                .send()
                .await
                .map(drop)
                .map_err(map_err),
            Operation::ResolveCase => c
                .resolve_case()
                .case_id(NO_CASE)
                .dry_run(true)
                .send()
                .await
                .map(drop)
                .map_err(map_err),
        };
        judge(sent)
    }
}

/// A dry run's answer as a permission.
#[cfg(feature = "aws")]
fn judge(sent: Result<(), Error>) -> Result<Permission, Error> {
    match sent {
        Err(Error::Service { code, .. }) if code == "DryRunOperationException" => {
            Ok(Permission::Allowed)
        }
        Ok(()) => Ok(Permission::Inferred(
            "a successful call (dryRun not honoured)".to_owned(),
        )),
        Err(Error::CaseNotFound(_)) => Ok(Permission::Inferred("CaseIdNotFound".to_owned())),
        Err(Error::InvalidParameter(_)) => Ok(Permission::Unconfirmed(
            "InvalidParameterValueException".to_owned(),
        )),
        Err(other) => Err(other),
    }
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_answer_is_allowed_and_errors_after_authorization_are_inferred() {
        let dry = Error::from_code("DryRunOperationException", "would have succeeded");
        assert_eq!(judge(Err(dry)), Ok(Permission::Allowed));
        assert_eq!(
            judge(Err(Error::CaseNotFound("x".into()))),
            Ok(Permission::Inferred("CaseIdNotFound".into()))
        );
        assert_eq!(
            judge(Err(Error::InvalidParameter("bad code".into()))),
            Ok(Permission::Unconfirmed(
                "InvalidParameterValueException".into()
            ))
        );
        let denied = Error::AccessDenied("no".into());
        assert_eq!(judge(Err(denied.clone())), Err(denied));
        assert_eq!(
            judge(Err(Error::SubscriptionRequired)),
            Err(Error::SubscriptionRequired)
        );
    }
}
