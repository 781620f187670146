//! `提工单` and its `key:value` fields.

use super::{Error, LANGUAGES, MAX_BODY_CHARS, MAX_CC, MAX_SUBJECT_CHARS};
use crate::command::Command;
use crate::model::{IssueType, NewCase, Severity};

/// The fields of `提工单`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
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
pub(super) fn key_value(line: &str) -> Option<(Field, &str)> {
    let (key, value) = line.split_once([':', '：'])?;
    let field = Field::from_key(key.trim())?;
    Some((field, value.trim()))
}

pub(super) fn parse_cc(value: &str) -> Result<Vec<String>, Error> {
    let cc: Vec<String> = value
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | ';' | '；'))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if cc.len() > MAX_CC {
        return Err(Error::TooManyCc { count: cc.len() });
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
            return Err(Error::InvalidEmail {
                value: address.chars().take(100).collect(),
            });
        }
    }
    Ok(cc)
}

fn code_value(field: Field, value: &str) -> Result<String, Error> {
    let code = value.to_ascii_lowercase();
    let ok = !code.is_empty()
        && code.len() <= 100
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(code)
    } else {
        Err(Error::InvalidValue {
            field: field.name(),
            value: value.chars().take(100).collect(),
            expected: "小写字母、数字和连字符组成的代码 / a code of lower-case letters, digits and hyphens (用「查找ServiceCode:」查询 / find it with `lookup`)",
        })
    }
}

pub(super) fn parse_create(after: &str, rest: &str) -> Result<Command, Error> {
    let mut values: Vec<(Field, String)> = Vec::new();
    let mut current: Option<Field> = None;
    for line in std::iter::once(after).chain(rest.lines()) {
        if let Some((field, value)) = key_value(line) {
            if values.iter().any(|(f, _)| *f == field) {
                return Err(Error::DuplicateField {
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
            return Err(Error::UnexpectedLine {
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
        return Err(Error::MissingFields { fields: missing });
    }
    for field in Field::ALL {
        if get(field) == Some("") && Field::REQUIRED.contains(&field) {
            return Err(Error::Empty {
                field: field.name(),
            });
        }
    }
    let subject = get(Field::Subject).unwrap_or_default();
    let chars = subject.chars().count();
    if chars > MAX_SUBJECT_CHARS {
        return Err(Error::TooLong {
            field: "subject",
            max: MAX_SUBJECT_CHARS,
            actual: chars,
        });
    }
    let body = get(Field::Body).unwrap_or_default();
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(Error::TooLong {
            field: "body",
            max: MAX_BODY_CHARS,
            actual: chars,
        });
    }
    let severity_text = get(Field::Severity).unwrap_or_default();
    let severity = Severity::parse_known(severity_text).ok_or_else(|| Error::InvalidValue {
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
            return Err(Error::InvalidValue {
                field: "language",
                value: language.chars().take(100).collect(),
                expected: "zh|en|ja|ko|es|pt|fr|tr",
            });
        }
        case.language = code;
        case.language_given = true;
    }
    if let Some(issue_type) = get(Field::IssueType).filter(|t| !t.is_empty()) {
        case.issue_type = match IssueType::from_wire(issue_type) {
            IssueType::Other(_) => {
                return Err(Error::InvalidValue {
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
