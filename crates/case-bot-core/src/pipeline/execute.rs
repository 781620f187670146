//! The execute stage: a command run against AWS Support, and what it came to.

use std::borrow::Cow;

use support_commands::{
    CaseFilter, CaseId, CasePage, CaseRef, CaseView, Command, DEFAULT_MATCHES, Lang,
    MAX_BODY_CHARS, ParseError, Service, SeverityLevel, SupportApi, SupportError,
};

use super::Support;
use crate::error::Error;
use crate::event::Origin;
use crate::policy::{Actor, Policy, Refusal};
use crate::store::Store;

/// Which operation failed, for the reply's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Lookup,
    Create,
    View,
    List,
    Reply,
    Resolve,
    Severity,
}

/// What a message came to.
#[derive(Debug)]
pub(crate) enum Executed {
    Help {
        unrecognised: bool,
    },
    /// A message type without text.
    Unsupported,
    /// Text that is not a valid command.
    Invalid(ParseError),
    Refused {
        refusal: Refusal,
        case_id: Option<String>,
    },
    Lookup {
        query: String,
        /// The best matches, best first.
        services: Vec<Service>,
    },
    Created {
        case_id: CaseId,
        display_id: Option<String>,
    },
    Viewed(Box<CaseView>),
    Listed {
        page: CasePage,
        include_resolved: bool,
    },
    Replied {
        case_id: CaseId,
        reopened: bool,
    },
    Resolved {
        case_id: CaseId,
    },
    Severities(Vec<SeverityLevel>),
    /// The text with the sender's signature is longer than AWS takes.
    TooLong {
        total: usize,
        room: usize,
    },
    /// AWS refused or failed; `case` is the case concerned, as known at the time.
    Failed {
        action: Action,
        error: SupportError,
        case: Option<String>,
    },
    /// The bot's own fault (its store), so the command was not run.
    Unavailable(Error),
    /// The command did not finish within its deadline.
    TimedOut,
}

/// The audit trail's code for an AWS error.
fn error_code(err: &SupportError) -> Cow<'static, str> {
    Cow::Borrowed(match err {
        SupportError::CaseNotFound(_) => "case-not-found",
        SupportError::SubscriptionRequired => "subscription-required",
        SupportError::CaseCreationLimitExceeded(_) => "case-limit",
        SupportError::Throttled(_) => "throttled",
        SupportError::InvalidParameter(_) => "invalid-parameter",
        SupportError::AccessDenied(_) => "access-denied",
        SupportError::Timeout => "timeout",
        SupportError::Transport(_) => "unreachable",
        other => return Cow::Owned(format!("error: {other}")),
    })
}

impl Executed {
    /// What came of it, for the audit trail and the logs.
    pub(crate) fn result(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::Help { unrecognised: true } => "help-unrecognised",
            Self::Help { .. } => "help",
            Self::Unsupported => "unsupported-message",
            Self::Invalid(_) => "parse-error",
            Self::Refused {
                refusal: Refusal::Conversation,
                ..
            } => "refused-conversation",
            Self::Refused {
                refusal: Refusal::Resolve,
                ..
            } => "refused-resolve",
            Self::Lookup { services, .. } if services.is_empty() => "no-match",
            Self::Replied { reopened: true, .. } => "reopened",
            Self::Lookup { .. }
            | Self::Created { .. }
            | Self::Viewed(_)
            | Self::Listed { .. }
            | Self::Replied { .. }
            | Self::Resolved { .. }
            | Self::Severities(_) => "ok",
            Self::TooLong { .. } => "too-long",
            Self::Failed { error, .. } => return error_code(error),
            Self::Unavailable(_) => "unavailable",
            Self::TimedOut => "timeout",
        })
    }

    /// The case concerned, if any.
    pub(crate) fn case_id(&self) -> Option<String> {
        match self {
            Self::Created { case_id, .. }
            | Self::Replied { case_id, .. }
            | Self::Resolved { case_id } => Some(case_id.to_string()),
            Self::Viewed(view) => Some(view.case.case_id.to_string()),
            Self::Refused { case_id, .. } => case_id.clone(),
            Self::Failed {
                action: Action::Resolve,
                case,
                ..
            } => case.clone(),
            _ => None,
        }
    }
}

/// What the execute stage works with.
pub(crate) struct Deps<'a> {
    pub(crate) support: &'a Support,
    pub(crate) store: &'a dyn Store,
    pub(crate) policy: &'a Policy,
    pub(crate) lang: Lang,
}

/// The language code of the Support API's catalogue and severity names.
fn language_code(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en",
        _ => "zh",
    }
}

/// The line AWS sees under a case body or reply, since AWS only sees the bot's role.
fn attribution(origin: &Origin, lang: Lang) -> String {
    match (&origin.conversation_title, lang) {
        (Some(title), Lang::Zh) => format!("\n\n— {} 通过钉钉群「{title}」提交", origin.nick),
        (Some(title), _) => format!("\n\n— {} via DingTalk group \"{title}\"", origin.nick),
        (None, Lang::Zh) => format!("\n\n— {} 通过钉钉单聊提交", origin.nick),
        (None, _) => format!("\n\n— {} via DingTalk", origin.nick),
    }
}

/// `body` signed with the sender, or, when that is longer than AWS takes, its length and the
/// room left for the text.
fn with_attribution(origin: &Origin, lang: Lang, body: &str) -> Result<String, (usize, usize)> {
    let footer = attribution(origin, lang);
    let total = body.chars().count() + footer.chars().count();
    if total > MAX_BODY_CHARS {
        return Err((total, MAX_BODY_CHARS.saturating_sub(footer.chars().count())));
    }
    Ok(format!("{body}{footer}"))
}

/// Runs `command` for `actor`.
pub(crate) async fn execute(
    deps: &Deps<'_>,
    origin: &Origin,
    actor: &Actor,
    command: Command,
) -> Executed {
    let api = deps.support;
    let lang = deps.lang;
    let failed = |action, error| Executed::Failed {
        action,
        error,
        case: None,
    };
    match command {
        Command::LookupService { query } => match api.service_index(language_code(lang)).await {
            Ok(index) => Executed::Lookup {
                services: index
                    .search(&query, DEFAULT_MATCHES)
                    .into_iter()
                    .map(|m| m.service.clone())
                    .collect(),
                query,
            },
            Err(err) => failed(Action::Lookup, err),
        },
        Command::CreateCase(mut case) => {
            case.body = match with_attribution(origin, lang, &case.body) {
                Ok(body) => body,
                Err((total, room)) => return Executed::TooLong { total, room },
            };
            match api.create_case(&case).await {
                Ok(case_id) => {
                    // Only the display id is needed for the reply: DescribeCases alone.
                    let display_id = api
                        .case_details(&CaseRef::CaseId(case_id.clone()))
                        .await
                        .ok()
                        .and_then(|details| details.display_id);
                    Executed::Created {
                        case_id,
                        display_id,
                    }
                }
                Err(err) => failed(Action::Create, err),
            }
        }
        Command::ViewCase { case } => match api.describe_case(&case, None).await {
            Ok(view) => Executed::Viewed(Box::new(view)),
            Err(err) => failed(Action::View, err),
        },
        Command::ListCases { include_resolved } => {
            let filter = CaseFilter {
                include_resolved,
                page_size: Some(20),
            };
            match api.list_cases(&filter, None).await {
                Ok(page) => Executed::Listed {
                    page,
                    include_resolved,
                },
                Err(err) => failed(Action::List, err),
            }
        }
        Command::Reply { case, body, cc } => {
            let body = match with_attribution(origin, lang, &body) {
                Ok(body) => body,
                Err((total, room)) => return Executed::TooLong { total, room },
            };
            let replied = async {
                let case_id = case_id_of(api, &case).await?;
                let outcome = api.add_communication(&case_id, &body, &cc).await?;
                Ok::<_, SupportError>(Executed::Replied {
                    case_id,
                    reopened: outcome.reopened,
                })
            };
            replied
                .await
                .unwrap_or_else(|err| failed(Action::Reply, err))
        }
        Command::Resolve { case } => resolve(deps, actor, &case).await,
        Command::SeverityLevels => match api.describe_severity_levels(language_code(lang)).await {
            Ok(levels) => Executed::Severities(levels),
            Err(err) => failed(Action::Severity, err),
        },
        Command::Help { unrecognised } => Executed::Help { unrecognised },
        // `Command` is non-exhaustive: a command this bot does not know yet gets the help.
        _ => Executed::Help {
            unrecognised: false,
        },
    }
}

/// The case id of a case named by either id (a display id costs a DescribeCases).
async fn case_id_of(api: &Support, case: &CaseRef) -> Result<CaseId, SupportError> {
    match case {
        CaseRef::CaseId(id) => Ok(id.clone()),
        other => Ok(api.case_details(other).await?.case_id),
    }
}

/// Resolves `case` if the policy lets `actor` do it.
async fn resolve(deps: &Deps<'_>, actor: &Actor, case: &CaseRef) -> Executed {
    let api = deps.support;
    let failed = |error, case: String| Executed::Failed {
        action: Action::Resolve,
        error,
        case: Some(case),
    };
    let case_id = match case_id_of(api, case).await {
        Ok(id) => id,
        Err(err) => return failed(err, case.to_string()),
    };
    let link = match deps.store.case(case_id.as_str()).await {
        Ok(link) => link,
        Err(err) => {
            tracing::error!(error = %err, "cannot read the case link");
            return Executed::Unavailable(err);
        }
    };
    if !deps.policy.may_resolve(actor, link.as_ref()) {
        if link.is_none() {
            // Not opened through the bot: say whether it exists before refusing.
            if let Err(err) = api.case_details(&CaseRef::CaseId(case_id.clone())).await {
                return failed(err, case_id.to_string());
            }
        }
        return Executed::Refused {
            refusal: Refusal::Resolve,
            case_id: Some(case_id.to_string()),
        };
    }
    match api.resolve_case(&case_id).await {
        Ok(_) => Executed::Resolved { case_id },
        Err(err) => failed(err, case_id.to_string()),
    }
}
