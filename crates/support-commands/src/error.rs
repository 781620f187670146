//! Errors of the Support operations, keeping AWS's meaning.

use crate::lang::Lang;

/// Why a Support operation failed.
///
/// ```
/// use support_commands::{Lang, SupportError};
/// let err = SupportError::SubscriptionRequired;
/// assert!(err.explain(Lang::Zh).contains("Business"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupportError {
    /// `CaseIdNotFound`: no such case in this account (typo, another account or partition, older than 24 months).
    #[error("case not found: {0}")]
    CaseNotFound(String),
    /// `SubscriptionRequiredException`: the account has no Business/Enterprise-class support plan.
    #[error("the AWS account has no support plan that allows the Support API")]
    SubscriptionRequired,
    /// `CaseCreationLimitExceeded`: too many open cases.
    #[error("case creation limit exceeded: {0}")]
    CaseCreationLimitExceeded(String),
    /// `ThrottlingException` / `TooManyRequestsException`.
    #[error("AWS Support throttled the request: {0}")]
    Throttled(String),
    /// `InvalidParameterValueException` or another validation error.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// `AccessDeniedException`: the bot's IAM identity may not call this operation.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The call did not complete in time.
    #[error("AWS Support did not answer in time")]
    Timeout,
    /// AWS could not be reached.
    #[error("could not reach AWS Support: {0}")]
    Transport(String),
    /// Any other service error, with AWS's code and message.
    #[error("AWS Support error {code}: {message}")]
    Service {
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
}

impl SupportError {
    /// What to tell the person in the chat: what happened and what to do.
    ///
    /// ```
    /// use support_commands::{Lang, SupportError};
    /// assert!(SupportError::CaseNotFound("case-1".into()).explain(Lang::En).contains("case-1"));
    /// ```
    #[must_use]
    pub fn explain(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::CaseNotFound(id), Lang::Zh) => format!("找不到工单 {id}：请检查 case id 或 display id，它也可能属于另一个 AWS 账户或分区，或已超过 24 个月。"),
            (Self::CaseNotFound(id), Lang::En) => format!("Case {id} was not found: check the case id or display id; it may belong to another AWS account or partition, or be older than 24 months."),
            (Self::SubscriptionRequired, Lang::Zh) => "该 AWS 账户没有可使用 Support API 的支持计划：需要 Business、Enterprise On-Ramp 或 Enterprise（或新的 Business Support+ / Enterprise / Unified Operations）支持计划。".to_owned(),
            (Self::SubscriptionRequired, Lang::En) => "This AWS account has no support plan that allows the Support API: a Business, Enterprise On-Ramp or Enterprise plan (or the newer Business Support+, Enterprise or Unified Operations) is required.".to_owned(),
            (Self::CaseCreationLimitExceeded(_), Lang::Zh) => "打开的工单太多，AWS 拒绝创建新工单：请用「工单列表」查看并释放已解决的工单后重试。".to_owned(),
            (Self::CaseCreationLimitExceeded(_), Lang::En) => "Too many open cases, AWS refused a new one: list them with `list` and resolve the ones that are done, then try again.".to_owned(),
            (Self::Throttled(_), Lang::Zh) => "AWS Support 请求过于频繁，请稍后再试。".to_owned(),
            (Self::Throttled(_), Lang::En) => "AWS Support is throttling requests; please try again in a moment.".to_owned(),
            (Self::InvalidParameter(msg), Lang::Zh) => format!("AWS 拒绝了参数：{msg}"),
            (Self::InvalidParameter(msg), Lang::En) => format!("AWS rejected a parameter: {msg}"),
            (Self::AccessDenied(msg), Lang::Zh) => format!("机器人的 IAM 身份没有此操作的权限：{msg}"),
            (Self::AccessDenied(msg), Lang::En) => format!("The robot's IAM identity is not allowed to do this: {msg}"),
            (Self::Timeout, Lang::Zh) => "AWS Support 没有及时响应，请稍后再试。".to_owned(),
            (Self::Timeout, Lang::En) => "AWS Support did not answer in time; please try again.".to_owned(),
            (Self::Transport(_), Lang::Zh) => "无法连接 AWS Support，请稍后再试。".to_owned(),
            (Self::Transport(_), Lang::En) => "AWS Support could not be reached; please try again.".to_owned(),
            (Self::Service { code, message }, Lang::Zh) => format!("AWS Support 返回错误 {code}：{message}"),
            (Self::Service { code, message }, Lang::En) => format!("AWS Support answered {code}: {message}"),
        }
    }

    /// Whether trying again later may succeed (throttling, timeouts, transport, server faults).
    ///
    /// ```
    /// assert!(support_commands::SupportError::Timeout.is_transient());
    /// assert!(!support_commands::SupportError::SubscriptionRequired.is_transient());
    /// ```
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Throttled(_) | Self::Timeout | Self::Transport(_)
        ) || matches!(self, Self::Service { code, .. } if code == "InternalServerError")
    }

    /// Maps an AWS error code and message to the typed error.
    ///
    /// ```
    /// use support_commands::SupportError;
    /// assert_eq!(SupportError::from_code("CaseIdNotFound", "x"), SupportError::CaseNotFound("x".into()));
    /// ```
    #[must_use]
    pub fn from_code(code: &str, message: &str) -> Self {
        let message = message.to_owned();
        match code {
            "CaseIdNotFound" => Self::CaseNotFound(message),
            "SubscriptionRequiredException" => Self::SubscriptionRequired,
            "CaseCreationLimitExceeded" => Self::CaseCreationLimitExceeded(message),
            "ThrottlingException" | "TooManyRequestsException" | "Throttling" => {
                Self::Throttled(message)
            }
            "InvalidParameterValueException"
            | "ValidationException"
            | "InvalidParameterException" => Self::InvalidParameter(message),
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
                Self::AccessDenied(message)
            }
            code => Self::Service {
                code: code.to_owned(),
                message,
            },
        }
    }
}
