//! What was wrong with a message that starts with a command, and how to write it: the grammar
//! half of [`Error`].

use std::fmt::Write as _;

use super::MAX_CC;
use crate::command::CommandKind;
use crate::error::Error;
use crate::help::usage;
use crate::lang::Lang;

impl Error {
    /// The command a message that could not be read started with; `None` for the AWS
    /// variants.
    ///
    /// ```
    /// use support_commands::{parse, CommandKind};
    /// assert_eq!(parse("释放").unwrap_err().command(), Some(CommandKind::Resolve));
    /// assert_eq!(support_commands::Error::Timeout.command(), None);
    /// ```
    #[must_use]
    pub fn command(&self) -> Option<CommandKind> {
        Some(match self {
            Self::InCommand { command, .. } => *command,
            Self::MissingArgument { command, .. } | Self::InvalidCaseId { command, .. } => *command,
            Self::InvalidValue {
                field: "工单列表",
            ..
            } => CommandKind::ListCases,
            Self::TooLong { field: "query", .. } => CommandKind::LookupService,
            Self::TooLong { field: "reply", .. } | Self::Empty { field: "reply", .. } => {
                CommandKind::Reply
            }
            Self::MissingFields { .. }
            | Self::UnexpectedLine { .. }
            | Self::DuplicateField { .. }
            | Self::InvalidValue { .. }
            | Self::TooLong { .. }
            | Self::Empty { .. }
            | Self::TooManyCc { .. }
            | Self::InvalidEmail { .. } => CommandKind::CreateCase,
            _ => return None,
        })
    }

    /// `self`, marked as an error in `command` (whose template the reply shows), unless it
    /// names that command already.
    pub(crate) fn within(self, command: CommandKind) -> Self {
        if self.command() == Some(command) || self.command().is_none() {
            return self;
        }
        Self::InCommand {
            command,
            source: Box::new(self),
        }
    }

    /// For the grammar variants: what was wrong, then how to write it. Starts with `AWS-`.
    pub(crate) fn grammar_text(&self, lang: Lang) -> Option<String> {
        match self {
            Self::InCommand { command, source } => source.grammar_text_for(*command, lang),
            _ => self.grammar_text_for(self.command()?, lang),
        }
    }

    /// What was wrong, then the template of `command`.
    fn grammar_text_for(&self, command: CommandKind, lang: Lang) -> Option<String> {
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
                    format!(
                        "缺少字段：{}",
                        fields
                            .iter()
                            .map(|f| field_zh(f))
                            .collect::<Vec<_>>()
                            .join("、")
                    )
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
                    format!("字段{}写了两次", field_zh(field))
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
                    format!("{}的值「{value}」无效，可选：{expected}", field_zh(field))
                } else {
                    format!("{field} `{value}` is not valid; allowed: {expected}")
                }
            }
            Self::TooLong { field, max, actual } => {
                if zh {
                    format!("{}有 {actual} 个字符，最多 {max} 个", field_zh(field))
                } else {
                    format!("{field} has {actual} characters, at most {max}")
                }
            }
            Self::Empty { field } => {
                if zh {
                    format!("{}不能为空", field_zh(field))
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
            _ => return None,
        };
        let mut out = String::new();
        let _ = write!(
            out,
            "AWS-[{}] {what}\n{}\n{}",
            lang.pick("格式有误", "cannot read that"),
            lang.pick("请按以下格式输入：", "Write it like this:"),
            usage(command, lang)
        );
        Some(out)
    }
}

/// A field's name in Chinese with the key people write in brackets: `主题（subject）`.
fn field_zh(field: &str) -> String {
    let words = match field {
        "subject" => "主题",
        "body" => "描述",
        "severityCode" => "严重级别",
        "serviceCode" => "服务代码",
        "categoryCode" => "分类代码",
        "cc" => "抄送邮箱",
        "language" => "工单语言",
        "issueType" => "问题类型",
        "query" => "服务名称",
        "reply" => "回复内容",
        _ => return field.to_owned(),
    };
    format!("{words}（{field}）")
}

fn argument_zh(argument: &str) -> &'static str {
    match argument {
        "a case id" => " case id 或 display id",
        "a service name" => " AWS 服务名称",
        "reply text" => "回复内容",
        _ => "参数",
    }
}
