//! Text in, a [`Command`] or a [`ParseError`] out. Never panics.

use std::fmt::Write as _;

use crate::command::{Command, CommandKind};
use crate::help::{COMMANDS, usage};
use crate::lang::Lang;
use crate::model::{CaseRef, IssueType, NewCase, Severity};

/// Most characters in a case subject. The API sets no limit; the Support Center form is
/// believed to stop around 250, so the bot refuses longer subjects rather than have AWS cut them.
///
/// ```
/// let subject = "x".repeat(support_commands::MAX_SUBJECT_CHARS + 1);
/// let text = format!("提工单\nsubject:{subject}\nbody:b\nseverityCode:low\nserviceCode:a\ncategoryCode:b");
/// assert!(support_commands::parse(&text).is_err());
/// ```
pub const MAX_SUBJECT_CHARS: usize = 250;
/// Most characters in a communication body (AWS: 1–8000).
///
/// ```
/// assert_eq!(support_commands::MAX_BODY_CHARS, 8000);
/// ```
pub const MAX_BODY_CHARS: usize = 8000;
/// Most CC addresses on a case or reply (AWS: 10).
///
/// ```
/// assert_eq!(support_commands::MAX_CC, 10);
/// ```
pub const MAX_CC: usize = 10;
/// Case languages AWS accepts.
///
/// ```
/// assert!(support_commands::LANGUAGES.contains(&"zh"));
/// ```
pub const LANGUAGES: [&str; 8] = ["zh", "en", "ja", "ko", "es", "pt", "fr", "tr"];
/// Most characters of a service lookup query.
///
/// ```
/// let query = "x".repeat(support_commands::MAX_QUERY_CHARS + 1);
/// assert!(support_commands::parse(&format!("lookup {query}")).is_err());
/// ```
pub const MAX_QUERY_CHARS: usize = 100;

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

/// Whether `c` separates a keyword from its argument.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ':' | '：' | ',' | '，')
}

/// Finds the command keyword `head` starts with (longest match wins) and the rest after it.
fn match_keyword(head: &str) -> Option<(CommandKind, &str)> {
    let mut best: Option<(CommandKind, usize)> = None;
    for spec in COMMANDS {
        for keyword in spec.keywords {
            let len = keyword.text.len();
            let Some(candidate) = head.get(..len) else {
                continue;
            };
            if !candidate.eq_ignore_ascii_case(keyword.text) {
                continue;
            }
            let rest = head.get(len..).unwrap_or_default();
            if keyword.standalone && !rest.chars().next().is_none_or(is_separator) {
                continue;
            }
            if best.is_none_or(|(_, l)| len > l) {
                best = Some((spec.kind, len));
            }
        }
    }
    best.map(|(kind, len)| (kind, head.get(len..).unwrap_or_default()))
}

/// Parses a chat message (the robot's @-mention already removed by the caller).
///
/// Any message that does not start with a command keyword is [`Command::Help`] with
/// `unrecognised: true`; a message that starts with one but cannot be read is a
/// [`ParseError`] that says what to fix.
///
/// # Errors
/// [`ParseError`], never a panic, for any input.
///
/// ```
/// use support_commands::{parse, Command, CaseRef};
/// assert_eq!(parse("查找ServiceCode: ec2").unwrap(), Command::LookupService { query: "ec2".into() });
/// let resolve = parse("释放case,case_id:case-111122223333-muen-2022-7118885805350839").unwrap();
/// assert!(matches!(resolve, Command::Resolve { case: CaseRef::CaseId(_) }));
/// assert_eq!(parse("你好").unwrap(), Command::Help { unrecognised: true });
/// ```
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.is_empty() {
        return Ok(Command::Help {
            unrecognised: false,
        });
    }
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let Some((kind, after)) = match_keyword(first.trim_start()) else {
        return Ok(Command::Help { unrecognised: true });
    };
    match kind {
        CommandKind::Help => Ok(Command::Help {
            unrecognised: false,
        }),
        CommandKind::SeverityLevels => Ok(Command::SeverityLevels),
        CommandKind::LookupService => parse_lookup(after, rest),
        CommandKind::CreateCase => parse_create(after, rest),
        CommandKind::Resolve => Ok(Command::Resolve {
            case: case_arg(kind, after)?,
        }),
        CommandKind::ViewCase => Ok(Command::ViewCase {
            case: case_arg(kind, after)?,
        }),
        CommandKind::ListCases => parse_list(after),
        CommandKind::Reply => parse_reply(after, rest),
    }
}

fn trim_separators(s: &str) -> &str {
    s.trim_matches(is_separator)
}

fn parse_lookup(after: &str, rest: &str) -> Result<Command, ParseError> {
    let query = trim_separators(after);
    let query = if query.is_empty() { rest.trim() } else { query };
    let query = query.lines().next().unwrap_or_default().trim();
    if query.is_empty() {
        return Err(ParseError::MissingArgument {
            command: CommandKind::LookupService,
            argument: "a service name",
        });
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(ParseError::TooLong {
            field: "query",
            max: MAX_QUERY_CHARS,
            actual: chars,
        });
    }
    Ok(Command::LookupService {
        query: query.to_owned(),
    })
}

/// Reads a case reference: `[,|:] [case_id[:]] <id>`; text after the id is ignored.
fn case_arg(command: CommandKind, after: &str) -> Result<CaseRef, ParseError> {
    let mut arg = trim_separators(after);
    for label in ["case_id", "caseid", "case id", "id"] {
        if arg
            .get(..label.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(label))
            && arg
                .get(label.len()..)
                .is_some_and(|r| r.is_empty() || r.starts_with(is_separator))
        {
            arg = trim_separators(arg.get(label.len()..).unwrap_or_default());
            break;
        }
    }
    let token = arg.split(is_separator).next().unwrap_or_default();
    if token.is_empty() {
        return Err(ParseError::MissingArgument {
            command,
            argument: "a case id",
        });
    }
    CaseRef::parse(token).ok_or_else(|| ParseError::InvalidCaseId {
        command,
        value: token.chars().take(100).collect(),
    })
}

fn parse_list(after: &str) -> Result<Command, ParseError> {
    match trim_separators(after) {
        "" => Ok(Command::ListCases {
            include_resolved: false,
        }),
        word if ["全部", "所有", "all"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w)) =>
        {
            Ok(Command::ListCases {
                include_resolved: true,
            })
        }
        other => Err(ParseError::InvalidValue {
            field: "工单列表",
            value: other.chars().take(100).collect(),
            expected: "全部 / all",
        }),
    }
}

fn parse_reply(after: &str, rest: &str) -> Result<Command, ParseError> {
    let after = trim_separators(after);
    let (id, same_line) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
    let case = case_arg(CommandKind::Reply, id)?;
    let mut lines: Vec<&str> = std::iter::once(same_line).chain(rest.lines()).collect();
    let mut cc = Vec::new();
    if let Some(last) = lines.iter().rposition(|l| !l.trim().is_empty())
        && let Some(value) = key_value(lines.get(last).copied().unwrap_or_default())
            .filter(|(key, _)| *key == Field::Cc)
            .map(|(_, value)| value)
    {
        cc = parse_cc(value)?;
        lines.truncate(last);
    }
    let body = lines.join("\n");
    let body = body.trim();
    if body.is_empty() {
        return Err(ParseError::MissingArgument {
            command: CommandKind::Reply,
            argument: "reply text",
        });
    }
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(ParseError::TooLong {
            field: "reply",
            max: MAX_BODY_CHARS,
            actual: chars,
        });
    }
    Ok(Command::Reply {
        case,
        body: body.to_owned(),
        cc,
    })
}

/// The fields of `提工单`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Subject,
    Body,
    Severity,
    Service,
    Category,
    Cc,
    Language,
    IssueType,
}

impl Field {
    const REQUIRED: [Self; 5] = [
        Self::Subject,
        Self::Body,
        Self::Severity,
        Self::Service,
        Self::Category,
    ];
    const ALL: [Self; 8] = [
        Self::Subject,
        Self::Body,
        Self::Severity,
        Self::Service,
        Self::Category,
        Self::Cc,
        Self::Language,
        Self::IssueType,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Body => "body",
            Self::Severity => "severityCode",
            Self::Service => "serviceCode",
            Self::Category => "categoryCode",
            Self::Cc => "cc",
            Self::Language => "language",
            Self::IssueType => "issueType",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        let key: String = key
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match key.as_str() {
            // Only the template's own keys: a body line such as "Service: EC2" or
            // "Type: t3.large" must stay part of the body.
            "subject" => Self::Subject,
            "body" => Self::Body,
            "severitycode" => Self::Severity,
            "servicecode" => Self::Service,
            "categorycode" => Self::Category,
            "cc" | "ccemailaddresses" => Self::Cc,
            "language" => Self::Language,
            "issuetype" => Self::IssueType,
            _ => return None,
        })
    }
}

/// `key: value` with a known key (ASCII or full-width colon, spaces around it).
fn key_value(line: &str) -> Option<(Field, &str)> {
    let (key, value) = line.split_once([':', '：'])?;
    let field = Field::from_key(key.trim())?;
    Some((field, value.trim()))
}

fn parse_cc(value: &str) -> Result<Vec<String>, ParseError> {
    let cc: Vec<String> = value
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | ';' | '；'))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if cc.len() > MAX_CC {
        return Err(ParseError::TooManyCc { count: cc.len() });
    }
    for address in &cc {
        let valid = address.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }) && address.len() <= 254;
        if !valid {
            return Err(ParseError::InvalidEmail {
                value: address.chars().take(100).collect(),
            });
        }
    }
    Ok(cc)
}

fn code_value(field: Field, value: &str) -> Result<String, ParseError> {
    let code = value.to_ascii_lowercase();
    let ok = !code.is_empty()
        && code.len() <= 100
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(code)
    } else {
        Err(ParseError::InvalidValue {
            field: field.name(),
            value: value.chars().take(100).collect(),
            expected: "小写字母、数字和连字符组成的代码 / a code of lower-case letters, digits and hyphens (用「查找ServiceCode:」查询 / find it with `lookup`)",
        })
    }
}

fn parse_create(after: &str, rest: &str) -> Result<Command, ParseError> {
    let mut values: Vec<(Field, String)> = Vec::new();
    let mut current: Option<Field> = None;
    for line in std::iter::once(after).chain(rest.lines()) {
        if let Some((field, value)) = key_value(line) {
            if values.iter().any(|(f, _)| *f == field) {
                return Err(ParseError::DuplicateField {
                    field: field.name(),
                });
            }
            values.push((field, value.to_owned()));
            current = Some(field);
        } else if current == Some(Field::Body) {
            if let Some((_, body)) = values.iter_mut().find(|(f, _)| *f == Field::Body) {
                body.push('\n');
                body.push_str(line.trim_end());
            }
        } else if !line.trim().is_empty() {
            return Err(ParseError::UnexpectedLine {
                line: line.trim().chars().take(100).collect(),
            });
        }
    }
    let get = |field: Field| {
        values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.trim())
    };
    let missing: Vec<&'static str> = Field::REQUIRED
        .iter()
        .filter(|f| get(**f).is_none())
        .map(|f| f.name())
        .collect();
    if !missing.is_empty() {
        return Err(ParseError::MissingFields { fields: missing });
    }
    for field in Field::ALL {
        if get(field) == Some("") && Field::REQUIRED.contains(&field) {
            return Err(ParseError::Empty {
                field: field.name(),
            });
        }
    }
    let subject = get(Field::Subject).unwrap_or_default();
    let chars = subject.chars().count();
    if chars > MAX_SUBJECT_CHARS {
        return Err(ParseError::TooLong {
            field: "subject",
            max: MAX_SUBJECT_CHARS,
            actual: chars,
        });
    }
    let body = get(Field::Body).unwrap_or_default();
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(ParseError::TooLong {
            field: "body",
            max: MAX_BODY_CHARS,
            actual: chars,
        });
    }
    let severity_text = get(Field::Severity).unwrap_or_default();
    let severity =
        Severity::parse_known(severity_text).ok_or_else(|| ParseError::InvalidValue {
            field: "severityCode",
            value: severity_text.chars().take(100).collect(),
            expected: "low|normal|high|urgent|critical",
        })?;
    let service = code_value(Field::Service, get(Field::Service).unwrap_or_default())?;
    let category = code_value(Field::Category, get(Field::Category).unwrap_or_default())?;
    let mut case = NewCase::new(subject, body, severity).service(service, category);
    if let Some(cc) = get(Field::Cc) {
        case.cc = parse_cc(cc)?;
    }
    if let Some(language) = get(Field::Language).filter(|l| !l.is_empty()) {
        let code = language.to_ascii_lowercase();
        if !LANGUAGES.contains(&code.as_str()) {
            return Err(ParseError::InvalidValue {
                field: "language",
                value: language.chars().take(100).collect(),
                expected: "zh|en|ja|ko|es|pt|fr|tr",
            });
        }
        case.language = code;
    }
    if let Some(issue_type) = get(Field::IssueType).filter(|t| !t.is_empty()) {
        case.issue_type = match IssueType::from_wire(issue_type) {
            IssueType::Other(_) => {
                return Err(ParseError::InvalidValue {
                    field: "issueType",
                    value: issue_type.chars().take(100).collect(),
                    expected: "technical|customer-service",
                });
            }
            known => known,
        };
    }
    Ok(Command::CreateCase(case))
}
