//! [`ParseError`]: what was wrong with a message, and how to write it.

use std::fmt::Write as _;

use super::MAX_CC;
use crate::command::CommandKind;
use crate::help::usage;
use crate::lang::Lang;

/// Why a message could not be read as the command it starts with. Carries data; [`render`]
/// writes the text for the chat, with the template to copy.
///
/// [`render`]: ParseError::render
///
/// ```
/// use support_commands::{parse, Lang, ParseError};
/// let err = parse("提工单\nsubject:x\nbody:y").unwrap_err();
/// assert_eq!(err, ParseError::MissingFields { fields: vec!["severityCode", "serviceCode", "categoryCode"] });
/// assert!(err.render(Lang::Zh).contains("severityCode"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
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
    /// More than [`MAX_CC`] CC addresses.
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
}

impl ParseError {
    /// The command the message started with.
    ///
    /// ```
    /// use support_commands::{parse, CommandKind};
    /// assert_eq!(parse("释放").unwrap_err().command(), CommandKind::Resolve);
    /// ```
    #[must_use]
    pub fn command(&self) -> CommandKind {
        match self {
            Self::MissingArgument { command, .. } | Self::InvalidCaseId { command, .. } => *command,
            Self::InvalidValue {
                field: "工单列表",
            ..
            } => CommandKind::ListCases,
            Self::TooLong { field: "query", .. } => CommandKind::LookupService,
            Self::TooLong { field: "reply", .. } | Self::Empty { field: "reply", .. } => {
                CommandKind::Reply
            }
            _ => CommandKind::CreateCase,
        }
    }

    /// The text for the chat: what was wrong, then how to write it. Starts with `AWS-`.
    ///
    /// ```
    /// use support_commands::{parse, Lang};
    /// let text = parse("提工单\nsubject:x\nbody:y\nseverityCode:sev1\nserviceCode:a\ncategoryCode:b")
    ///     .unwrap_err()
    ///     .render(Lang::En);
    /// assert!(text.contains("sev1") && text.contains("low|normal|high|urgent|critical"));
    /// ```
    #[must_use]
    pub fn render(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        let what = match self {
            Self::MissingArgument { argument, .. } => {
                if zh {
                    format!("缺少{}", argument_zh(argument))
                } else {
                    format!("missing {argument}")
                }
            }
            Self::InvalidCaseId { value, .. } => {
                if zh {
                    format!("「{value}」不是 case id（case-…）或 display id（数字）")
                } else {
                    format!("`{value}` is not a case id (case-…) or display id (digits)")
                }
            }
            Self::MissingFields { fields } => {
                if zh {
                    format!("缺少字段：{}", fields.join("、"))
                } else {
                    format!("missing fields: {}", fields.join(", "))
                }
            }
            Self::UnexpectedLine { line } => {
                if zh {
                    format!(
                        "无法识别这一行：「{line}」（每行应为 key:value，只有 body 可以写多行）"
                    )
                } else {
                    format!(
                        "cannot read this line: `{line}` (each line is key:value; only body may span lines)"
                    )
                }
            }
            Self::DuplicateField { field } => {
                if zh {
                    format!("字段 {field} 写了两次")
                } else {
                    format!("field {field} is given twice")
                }
            }
            Self::InvalidValue {
                field,
                value,
                expected,
            } => {
                if zh {
                    format!("{field} 的值「{value}」无效，可选：{expected}")
                } else {
                    format!("{field} `{value}` is not valid; allowed: {expected}")
                }
            }
            Self::TooLong { field, max, actual } => {
                if zh {
                    format!("{field} 有 {actual} 个字符，最多 {max} 个")
                } else {
                    format!("{field} has {actual} characters, at most {max}")
                }
            }
            Self::Empty { field } => {
                if zh {
                    format!("{field} 不能为空")
                } else {
                    format!("{field} must not be empty")
                }
            }
            Self::TooManyCc { count } => {
                if zh {
                    format!("cc 有 {count} 个邮箱，最多 {MAX_CC} 个")
                } else {
                    format!("{count} cc addresses, at most {MAX_CC}")
                }
            }
            Self::InvalidEmail { value } => {
                if zh {
                    format!("「{value}」不是邮箱地址")
                } else {
                    format!("`{value}` is not an e-mail address")
                }
            }
        };
        let mut out = String::new();
        let _ = write!(
            out,
            "AWS-[{}] {what}\n{}\n{}",
            lang.pick("格式有误", "cannot read that"),
            lang.pick("请按以下格式输入：", "Write it like this:"),
            usage(self.command(), lang)
        );
        out
    }
}

fn argument_zh(argument: &str) -> &'static str {
    match argument {
        "a case id" => " case id 或 display id",
        "a service name" => " AWS 服务名称",
        "reply text" => "回复内容",
        _ => "参数",
    }
}
