//! The crate's one error type: what was wrong with a message (the grammar), and why a Support
//! operation failed (keeping AWS's meaning).

use crate::command::CommandKind;
use crate::lang::Lang;

/// Everything that can go wrong here: a message that cannot be read as the command it starts
/// with (the grammar variants, from [`parse`](crate::parse)), or a Support operation that failed
/// (the AWS variants, from a [`SupportApi`](crate::SupportApi)). Variants carry data;
/// [`chat_text`](Self::chat_text) writes what to tell the person in the chat (for the grammar,
/// what to fix and the template to copy), [`status`](Self::status) the HTTP status it would
/// end a request with, and `Display` the log line.
///
/// ```
/// use support_commands::{parse, Error, Lang};
/// let err = parse("提工单\nsubject:x\nbody:y").unwrap_err();
/// assert_eq!(err, Error::MissingFields { fields: vec!["severityCode", "serviceCode", "categoryCode"] });
/// assert!(err.chat_text(Lang::Zh).contains("severityCode"));
/// assert!(Error::SubscriptionRequired.chat_text(Lang::Zh).contains("Business"));
/// assert_eq!(Error::Throttled("slow down".into()).status(), 429);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// CreateCase refused a `serviceCode` that is not in the account's DescribeServices:
    /// [`explain_create`](Self::explain_create) turns AWS's parameter error into this.
    #[error("unknown serviceCode `{code}`")]
    UnknownServiceCode {
        /// What was written.
        code: String,
        /// The closest services by lookup: code and name, best first (may be empty).
        closest: Vec<(String, String)>,
    },
    /// CreateCase refused a `categoryCode` that is not one of the service's.
    #[error("categoryCode `{category}` is not a category of `{service}`")]
    UnknownCategoryCode {
        /// The service code.
        service: String,
        /// What was written.
        category: String,
        /// The service's categories: code and name.
        valid: Vec<(String, String)>,
    },
    /// Any other service error, with AWS's code and message.
    #[error("AWS Support error {code}: {message}")]
    Service {
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },

    /// A required argument is missing (a case id, a service name, reply text).
    #[error("`{command:?}` needs {argument}")]
    MissingArgument {
        /// The command.
        command: CommandKind,
        /// What is missing.
        argument: &'static str,
    },
    /// The case id is neither `case-…` nor a numeric display id.
    #[error("`{value}` is not a case id or display id")]
    InvalidCaseId {
        /// The command.
        command: CommandKind,
        /// What was written.
        value: String,
    },
    /// `提工单` without some required fields.
    #[error("missing fields: {}", fields.join(", "))]
    MissingFields {
        /// The missing field names, in template order.
        fields: Vec<&'static str>,
    },
    /// A line in `提工单` that is neither `key:value` nor a continuation of `body`.
    #[error("unexpected line: {line}")]
    UnexpectedLine {
        /// The line.
        line: String,
    },
    /// The same field given twice.
    #[error("field {field} given twice")]
    DuplicateField {
        /// The field.
        field: &'static str,
    },
    /// A value outside the allowed ones.
    #[error("{field} `{value}` is not one of {expected}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// What was written.
        value: String,
        /// The allowed values.
        expected: &'static str,
    },
    /// A value longer than allowed.
    #[error("{field} has {actual} characters, at most {max} allowed")]
    TooLong {
        /// The field.
        field: &'static str,
        /// The limit.
        max: usize,
        /// What was written.
        actual: usize,
    },
    /// A field present but empty.
    #[error("{field} is empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// More than [`MAX_CC`](crate::MAX_CC) CC addresses.
    #[error("{count} cc addresses, at most 10 allowed")]
    TooManyCc {
        /// How many were given.
        count: usize,
    },
    /// A CC entry that is not an e-mail address.
    #[error("`{value}` is not an e-mail address")]
    InvalidEmail {
        /// The entry.
        value: String,
    },
    /// A grammar error inside a command other than the one the error alone would suggest (a
    /// `回复`'s `cc:` line): the reply shows that command's template.
    #[error("{source}")]
    InCommand {
        /// The command the message started with.
        command: crate::command::CommandKind,
        /// What was wrong.
        source: Box<Error>,
    },
}

impl Error {
    /// What to tell the person in the chat: what happened and what to do (for a message that
    /// could not be read, what was wrong and the template to copy). Starts with `AWS-` for the
    /// grammar variants; the AWS variants' text goes under a header of the caller's.
    ///
    /// ```
    /// use support_commands::{Error, Lang};
    /// assert!(Error::CaseNotFound("case-1".into()).chat_text(Lang::En).contains("case-1"));
    /// ```
    #[must_use]
    pub fn chat_text(&self, lang: Lang) -> String {
        self.grammar_text(lang)
            .unwrap_or_else(|| self.aws_text(lang))
    }

    /// The HTTP status a request this error ends would answer with: 400 for a message that
    /// cannot be read or a parameter AWS refused, 404 for an unknown case, 403 without the plan
    /// or the permission, 429 when throttled or over the case limit, 504 on a timeout, 502 for
    /// other AWS failures.
    ///
    /// ```
    /// assert_eq!(support_commands::Error::CaseNotFound("x".into()).status(), 404);
    /// ```
    #[must_use]
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::CaseNotFound(_) => StatusCode::NOT_FOUND,
            Self::SubscriptionRequired | Self::AccessDenied(_) => StatusCode::FORBIDDEN,
            Self::CaseCreationLimitExceeded(_) | Self::Throttled(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Transport(_) | Self::Service { .. } => StatusCode::BAD_GATEWAY,
            Self::UnknownServiceCode { .. } | Self::UnknownCategoryCode { .. } => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// What happened at AWS and what to do, in the chat's language.
    fn aws_text(&self, lang: Lang) -> String {
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
            (Self::UnknownServiceCode { code, closest }, _) => unknown_service(lang, code, closest),
            (Self::UnknownCategoryCode { service, category, valid }, _) => {
                unknown_category(lang, service, category, valid)
            }
            (Self::Service { code, message }, Lang::Zh) => format!("AWS Support 返回错误 {code}：{message}"),
            (Self::Service { code, message }, Lang::En) => format!("AWS Support answered {code}: {message}"),
            (grammar, _) => grammar.to_string(),
        }
    }

    /// Whether trying again later may succeed (throttling, timeouts, transport, server faults).
    ///
    /// ```
    /// assert!(support_commands::Error::Timeout.is_transient());
    /// assert!(!support_commands::Error::SubscriptionRequired.is_transient());
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
    /// use support_commands::Error;
    /// assert_eq!(Error::from_code("CaseIdNotFound", "x"), Error::CaseNotFound("x".into()));
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

/// An unknown service code: the closest codes, else how to look them up.
fn unknown_service(lang: Lang, code: &str, closest: &[(String, String)]) -> String {
    let mut out = match lang {
        Lang::En => format!("`{code}` is not an AWS Support serviceCode."),
        _ => format!("serviceCode「{code}」不是 AWS Support 的服务代码。"),
    };
    if closest.is_empty() {
        out.push_str(&match lang {
            Lang::En => {
                format!(" Find the right one with `lookup {code}`.")
            }
            _ => format!("请发送「查找ServiceCode: {code}」找到正确的代码。"),
        });
        return out;
    }
    out.push_str(lang.pick("最接近的服务代码：", " The closest codes:"));
    for (service, name) in closest {
        out.push_str(&bullet(lang, service, name));
    }
    out.push_str(&match lang {
        Lang::En => format!("\nPut one of them in the serviceCode line, or send `lookup {code}` for their categories."),
        _ => format!("\n请把其中一个写在 serviceCode 一行，或发送「查找ServiceCode: {code}」查看它们的 categoryCode。"),
    });
    out
}

/// A category that is not the service's: the service's categories.
fn unknown_category(
    lang: Lang,
    service: &str,
    category: &str,
    valid: &[(String, String)],
) -> String {
    let mut out = match lang {
        Lang::En => format!("`{category}` is not a categoryCode of {service}. Its categories:"),
        _ => format!("categoryCode「{category}」不属于服务 {service}。它的 categoryCode 有："),
    };
    for (code, name) in valid {
        out.push_str(&bullet(lang, code, name));
    }
    out
}

/// `\n- code（name）`, with ASCII brackets in English.
fn bullet(lang: Lang, code: &str, name: &str) -> String {
    match lang {
        Lang::En => format!("\n- {code} ({name})"),
        _ => format!("\n- {code}（{name}）"),
    }
}
