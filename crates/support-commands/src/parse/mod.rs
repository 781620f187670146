//! Text in, a [`Command`] or a [`Error`] out. Never panics.

mod create;
mod error;

use crate::error::Error;

use self::create::{Field, key_value, parse_cc, parse_create};
use crate::command::{Command, CommandKind, NotifyChange, NotifyLevel, parse_utc_offset};
use crate::help::COMMANDS;
use crate::model::CaseRef;

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
/// [`Error`] that says what to fix.
///
/// # Errors
/// [`Error`], never a panic, for any input.
///
/// ```
/// use support_commands::{parse, Command, CaseRef};
/// assert_eq!(parse("查找ServiceCode: ec2").unwrap(), Command::LookupService { query: "ec2".into() });
/// let resolve = parse("释放case,case_id:case-111122223333-muen-2022-7118885805350839").unwrap();
/// assert!(matches!(resolve, Command::Resolve { case: CaseRef::CaseId(_) }));
/// assert_eq!(parse("你好").unwrap(), Command::Help { unrecognised: true });
/// ```
pub fn parse(text: &str) -> Result<Command, Error> {
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
        CommandKind::Reply => parse_reply(after, rest).map_err(|e| e.within(kind)),
        CommandKind::Follow => Ok(Command::Follow {
            case: case_arg(kind, after)?,
        }),
        CommandKind::Unfollow => Ok(Command::Unfollow {
            case: case_arg(kind, after)?,
        }),
        CommandKind::Following => Ok(Command::Following),
        CommandKind::WhoAmI => Ok(Command::WhoAmI),
        CommandKind::Notify => parse_notify(after).map_err(|e| e.within(kind)),
    }
}

fn trim_separators(s: &str) -> &str {
    s.trim_matches(is_separator)
}

fn parse_lookup(after: &str, rest: &str) -> Result<Command, Error> {
    let query = trim_separators(after);
    let query = if query.is_empty() { rest.trim() } else { query };
    let query = query.lines().next().unwrap_or_default().trim();
    if query.is_empty() {
        return Err(Error::MissingArgument {
            command: CommandKind::LookupService,
            argument: "a service name",
        });
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(Error::TooLong {
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
fn case_arg(command: CommandKind, after: &str) -> Result<CaseRef, Error> {
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
        return Err(Error::MissingArgument {
            command,
            argument: "a case id",
        });
    }
    CaseRef::parse(token).ok_or_else(|| Error::InvalidCaseId {
        command,
        value: token.chars().take(100).collect(),
    })
}

fn parse_list(after: &str) -> Result<Command, Error> {
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
        other => Err(Error::InvalidValue {
            field: "工单列表",
            value: other.chars().take(100).collect(),
            expected: "全部 / all",
        }),
    }
}

/// `通知` alone, a level (`all`/`high`/`none`), or a kind and `开`/`关` (`on`/`off`).
fn parse_notify(after: &str) -> Result<Command, Error> {
    const EXPECTED: &str = "all | high | none | 回复 开/关 (replies on/off) | 状态 开/关 (status on/off) | 新工单 开/关 (new-cases on/off) | 时区 +08:00 (time-zone +08:00)";
    let words: Vec<&str> = after
        .split(is_separator)
        .filter(|w| !w.is_empty())
        .collect();
    let is = |word: &str, names: &[&str]| names.iter().any(|n| word.eq_ignore_ascii_case(n));
    let switch = |word: Option<&&str>| match word {
        Some(w) if is(w, &["开", "on", "打开", "开启"]) => Some(true),
        Some(w) if is(w, &["关", "off", "关闭"]) => Some(false),
        _ => None,
    };
    let change = match words.as_slice() {
        [] => None,
        [level] if is(level, &["all", "全部", "所有"]) => {
            Some(NotifyChange::Level(NotifyLevel::All))
        }
        [level] if is(level, &["high", "高"]) => Some(NotifyChange::Level(NotifyLevel::High)),
        [level] if is(level, &["none", "无", "关闭", "off"]) => {
            Some(NotifyChange::Level(NotifyLevel::None))
        }
        // `:` separates words too: `+09:00` arrives as `+09`, `00`.
        [kind, value @ ..] if is(kind, &["时区", "time-zone", "timezone"]) => {
            let value = value.join(":");
            match parse_utc_offset(&value) {
                Some(minutes) => Some(NotifyChange::TimeZone(minutes)),
                None => {
                    return Err(Error::InvalidValue {
                        field: "时区",
                        value: value.chars().take(100).collect(),
                        expected: "+08:00, -05:30 or UTC+8",
                    });
                }
            }
        }
        [kind, value] => {
            let on = switch(Some(value));
            match on {
                Some(on) if is(kind, &["回复", "replies", "correspondence"]) => {
                    Some(NotifyChange::Replies(on))
                }
                Some(on) if is(kind, &["状态", "status"]) => Some(NotifyChange::Status(on)),
                Some(on) if is(kind, &["新工单", "new-cases", "new"]) => {
                    Some(NotifyChange::NewCases(on))
                }
                _ => {
                    return Err(Error::InvalidValue {
                        field: "通知",
                        value: words.join(" ").chars().take(100).collect(),
                        expected: EXPECTED,
                    });
                }
            }
        }
        _ => {
            return Err(Error::InvalidValue {
                field: "通知",
                value: words.join(" ").chars().take(100).collect(),
                expected: EXPECTED,
            });
        }
    };
    Ok(Command::Notify { change })
}

fn parse_reply(after: &str, rest: &str) -> Result<Command, Error> {
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
        return Err(Error::MissingArgument {
            command: CommandKind::Reply,
            argument: "reply text",
        });
    }
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(Error::TooLong {
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
