//! The execute stage: a command run against AWS Support, and what it came to.

use std::borrow::Cow;

use support_commands::Error as SupportError;
use support_commands::{
    CaseFilter, CaseId, CasePage, CaseRef, CaseView, Command, DEFAULT_MATCHES, Lang,
    MAX_BODY_CHARS, Service, SeverityLevel, SupportApi,
};

use super::{Support, create};
use crate::error::Error;
use crate::event::Origin;
use crate::notify::commands::{self, Notified};
use crate::policy::{Actor, Policy, Refusal};
use crate::store::{CaseLinkStore, RecordStore};

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
    Follow,
}

/// What a message came to.
#[derive(Debug)]
pub(crate) enum Executed {
    Help {
        unrecognised: bool,
    },
    /// A message type without text.
    Unsupported,
    /// `我的信息`: the sender's and the conversation's ids.
    WhoAmI {
        staff_id: Option<String>,
        conversation_id: String,
    },
    /// Text that is no command; the command it most likely meant, if any.
    Unrecognised {
        suggestion: Option<support_commands::CommandKind>,
    },
    /// Text that is not a valid command.
    Invalid(SupportError),
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
        /// Its subject (for the group's follow).
        subject: String,
        /// The deployment's case language, when AWS does not handle this service and
        /// category in it and the case was opened in English instead.
        language_refused: Option<String>,
    },
    /// A case, with times shown in the conversation's time zone (minutes east of UTC).
    Viewed {
        view: Box<CaseView>,
        zone: i32,
    },
    Listed {
        page: CasePage,
        include_resolved: bool,
        zone: i32,
    },
    Replied {
        case_id: CaseId,
        reopened: bool,
    },
    Resolved {
        case_id: CaseId,
    },
    Severities(Vec<SeverityLevel>),
    /// A notification command (follow, unfollow, following, notify).
    Notify(Notified),
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
    /// A read did not finish within its deadline.
    TimedOut,
    /// A write did not finish within its deadline: its outcome is not known yet, and is
    /// reported when it is.
    Slow {
        action: Action,
    },
    /// The same case (same conversation, subject and body) is still being created.
    StillCreating,
    /// The conversation's replies are backed up: the command was not run.
    Behind {
        pending: usize,
    },
    /// After a restart, a write that had started could not be found at AWS: it was not sent
    /// again (it may yet appear), and the group is asked to check.
    Unconfirmed {
        action: Action,
    },
}

/// The audit trail's code for an AWS error.
fn error_code(err: &SupportError) -> Cow<'static, str> {
    Cow::Borrowed(match err {
        SupportError::CaseNotFound(_) => "case-not-found",
        SupportError::SubscriptionRequired => "subscription-required",
        SupportError::CaseCreationLimitExceeded(_) => "case-limit",
        SupportError::Throttled(_) => "throttled",
        SupportError::InvalidParameter(_) => "invalid-parameter",
        SupportError::UnknownServiceCode { .. } => "unknown-service-code",
        SupportError::UnknownCategoryCode { .. } => "unknown-category-code",
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
            Self::Help { unrecognised: true } | Self::Unrecognised { .. } => "help-unrecognised",
            Self::Help { .. } => "help",
            Self::WhoAmI { .. } => "ok",
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
            | Self::Viewed { .. }
            | Self::Listed { .. }
            | Self::Replied { .. }
            | Self::Resolved { .. }
            | Self::Severities(_) => "ok",
            Self::TooLong { .. } => "too-long",
            Self::Failed { error, .. } => return error_code(error),
            Self::Notify(notified) => notified.result(),
            Self::Unavailable(_) => "unavailable",
            Self::TimedOut => "timeout",
            Self::Slow { .. } => "slow",
            Self::StillCreating => "still-creating",
            Self::Behind { .. } => "behind",
            Self::Unconfirmed { .. } => "unconfirmed",
        })
    }

    /// The case concerned, if any.
    pub(crate) fn case_id(&self) -> Option<String> {
        match self {
            Self::Created { case_id, .. }
            | Self::Replied { case_id, .. }
            | Self::Resolved { case_id } => Some(case_id.to_string()),
            Self::Viewed { view, .. } => Some(view.case.case_id.to_string()),
            Self::Refused { case_id, .. } => case_id.clone(),
            Self::Notify(notified) => notified.case_id(),
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
    pub(crate) store: &'a dyn CaseLinkStore,
    /// Follows and group settings.
    pub(crate) records: &'a dyn RecordStore,
    pub(crate) policy: &'a Policy,
    pub(crate) lang: Lang,
    /// The deployment's time zone (a group's own, set with `通知 时区`, comes first).
    pub(crate) time_zone_minutes: i32,
    /// The deployment's case language (a message's `language:` line comes first).
    pub(crate) case_language: &'a str,
}

/// The time zone of `origin`'s conversation: its own, else the deployment's.
async fn zone_of(deps: &Deps<'_>, origin: &Origin) -> i32 {
    match crate::notify::follows::settings_of(deps.records, &origin.conversation_id).await {
        Ok((settings, _)) => settings.time_zone_minutes.unwrap_or(deps.time_zone_minutes),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the group's time zone; using the deployment's");
            deps.time_zone_minutes
        }
    }
}

/// The language code of the Support API's catalogue and severity names.
pub(super) fn language_code(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en",
        _ => "zh",
    }
}

/// How a request token appears in the attribution line: `find_token` looks for this.
pub(crate) fn token_mark(token: &str) -> String {
    format!("(casebot ref {token})")
}

/// The line AWS sees under a case body or reply, since AWS only sees the bot's role; it ends
/// with the event's request token, by which an unknown outcome is looked up.
fn attribution(origin: &Origin, lang: Lang, token: &str) -> String {
    let mark = token_mark(token);
    match (&origin.conversation_title, lang) {
        (Some(title), Lang::Zh) => {
            format!("\n\n— {} 通过钉钉群「{title}」提交 {mark}", origin.nick)
        }
        (Some(title), _) => format!(
            "\n\n— {} via DingTalk group \"{title}\" {mark}",
            origin.nick
        ),
        (None, Lang::Zh) => format!("\n\n— {} 通过钉钉单聊提交 {mark}", origin.nick),
        (None, _) => format!("\n\n— {} via DingTalk {mark}", origin.nick),
    }
}

/// `body` signed with the sender, or, when that is longer than AWS takes, its length and the
/// room left for the text.
fn with_attribution(
    origin: &Origin,
    lang: Lang,
    token: &str,
    body: &str,
) -> Result<String, (usize, usize)> {
    let footer = attribution(origin, lang, token);
    let total = body.chars().count() + footer.chars().count();
    if total > MAX_BODY_CHARS {
        return Err((total, MAX_BODY_CHARS.saturating_sub(footer.chars().count())));
    }
    Ok(format!("{body}{footer}"))
}

/// Runs `command` for `actor`; `token` goes into the attribution line of what it writes.
pub(crate) async fn execute(
    deps: &Deps<'_>,
    origin: &Origin,
    actor: &Actor,
    command: Command,
    token: &str,
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
            case.body = match with_attribution(origin, lang, token, &case.body) {
                Ok(body) => body,
                Err((total, room)) => return Executed::TooLong { total, room },
            };
            let language_refused =
                create::choose_language(api, lang, deps.case_language, &mut case).await;
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
                        subject: case.subject,
                        language_refused,
                    }
                }
                Err(err) => failed(Action::Create, create::explain(api, lang, &case, err).await),
            }
        }
        Command::ViewCase { case } => match api.describe_case(&case, None).await {
            Ok(view) => Executed::Viewed {
                view: Box::new(view),
                zone: zone_of(deps, origin).await,
            },
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
                    zone: zone_of(deps, origin).await,
                },
                Err(err) => failed(Action::List, err),
            }
        }
        Command::Reply { case, body, cc } => {
            let body = match with_attribution(origin, lang, token, &body) {
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
        Command::Follow { .. }
        | Command::Unfollow { .. }
        | Command::Following
        | Command::Notify { .. } => notification(deps, origin, actor, command).await,
        // `Command` is non-exhaustive: a command this bot does not know yet gets the help.
        _ => Executed::Help {
            unrecognised: false,
        },
    }
}

/// A notification command.
async fn notification(
    deps: &Deps<'_>,
    origin: &Origin,
    actor: &Actor,
    command: Command,
) -> Executed {
    let notify = commands::Deps {
        support: deps.support,
        links: deps.store,
        records: deps.records,
        admins_configured: deps.policy.has_admins(),
        time_zone_minutes: deps.time_zone_minutes,
    };
    let done = match command {
        Command::Follow { case } => commands::follow(&notify, origin, actor, &case).await,
        Command::Unfollow { case } => commands::unfollow(&notify, origin, &case).await,
        Command::Notify { change } => commands::notify(&notify, origin, actor, change).await,
        _ => commands::following(&notify, origin).await,
    };
    match done {
        Ok(notified) => Executed::Notify(notified),
        Err(error) => Executed::Failed {
            action: Action::Follow,
            error,
            case: None,
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use support_commands::{
        CaseDetails, CaseFilter, CaseId, CasePage, CaseRef, CaseView, Command, NewCase,
        ReplyOutcome, Resolution, Sandbox, Service, Severity, SeverityLevel, SupportApi,
    };

    use super::*;
    use crate::config::{Config, ResolvePolicy};
    use crate::store::{CaseLink, MemoryStore};

    /// The sandbox, with a log of the operations called.
    #[derive(Default)]
    struct Counting {
        inner: Sandbox,
        calls: Mutex<Vec<&'static str>>,
    }

    impl Counting {
        fn called(&self, op: &'static str) {
            self.calls.lock().unwrap().push(op);
        }

        fn take(&self) -> Vec<&'static str> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }
    }

    #[async_trait]
    impl SupportApi for Counting {
        async fn describe_services(&self, l: &str) -> Result<Arc<Vec<Service>>, SupportError> {
            self.called("DescribeServices");
            self.inner.describe_services(l).await
        }
        async fn describe_severity_levels(
            &self,
            l: &str,
        ) -> Result<Vec<SeverityLevel>, SupportError> {
            self.called("DescribeSeverityLevels");
            self.inner.describe_severity_levels(l).await
        }
        async fn create_case(&self, case: &NewCase) -> Result<CaseId, SupportError> {
            self.called("CreateCase");
            self.inner.create_case(case).await
        }
        async fn describe_case(
            &self,
            case: &CaseRef,
            page: Option<&str>,
        ) -> Result<CaseView, SupportError> {
            self.called("DescribeCases+DescribeCommunications");
            self.inner.describe_case(case, page).await
        }
        async fn case_details(&self, case: &CaseRef) -> Result<CaseDetails, SupportError> {
            self.called("DescribeCases");
            self.inner.case_details(case).await
        }
        async fn list_cases(
            &self,
            filter: &CaseFilter,
            page: Option<&str>,
        ) -> Result<CasePage, SupportError> {
            self.called("DescribeCases");
            self.inner.list_cases(filter, page).await
        }
        async fn add_communication(
            &self,
            case: &CaseId,
            body: &str,
            cc: &[String],
        ) -> Result<ReplyOutcome, SupportError> {
            self.called("AddCommunicationToCase");
            self.inner.add_communication(case, body, cc).await
        }
        async fn resolve_case(&self, case: &CaseId) -> Result<Resolution, SupportError> {
            self.called("ResolveCase");
            self.inner.resolve_case(case).await
        }
        async fn supported_languages(
            &self,
            _: &support_commands::IssueType,
            _: &str,
            _: &str,
        ) -> Result<Vec<String>, SupportError> {
            self.called("DescribeSupportedLanguages");
            Ok(vec!["zh".into(), "en".into(), "ja".into(), "ko".into()])
        }
    }

    /// A store that cannot read or write.
    #[derive(Debug)]
    struct Broken;

    #[async_trait]
    impl CaseLinkStore for Broken {
        async fn put_case(&self, _: &str, _: &CaseLink) -> Result<(), Error> {
            Err(Error::store("case link", "database is locked"))
        }
        async fn case(&self, _: &str) -> Result<Option<CaseLink>, Error> {
            Err(Error::store("case link", "database is locked"))
        }
    }

    struct World {
        api: Arc<Counting>,
        support: Support,
        store: Box<dyn CaseLinkStore>,
        policy: Policy,
        case_language: &'static str,
    }

    impl World {
        fn new(resolve: ResolvePolicy) -> Self {
            let api = Arc::new(Counting::default());
            Self {
                support: Support::new(Arc::clone(&api) as Arc<dyn SupportApi>),
                api,
                store: Box::new(MemoryStore::default()),
                policy: Policy::new(&Config {
                    admins: vec!["admin-1".into()],
                    resolve_policy: resolve,
                    ..Config::default()
                }),
                case_language: "zh",
            }
        }

        /// The language the sandbox opened `case` in.
        async fn language_of(&self, case: CaseId) -> Option<String> {
            let details = self.api.inner.case_details(&CaseRef::CaseId(case)).await;
            details.unwrap().language
        }

        async fn run(&self, staff: &str, command: Command) -> Executed {
            let records = crate::store::MemoryStore::default();
            let deps = Deps {
                support: &self.support,
                store: &*self.store,
                records: &records,
                policy: &self.policy,
                lang: Lang::Zh,
                time_zone_minutes: 480,
                case_language: self.case_language,
            };
            let origin = Origin {
                nick: "张三".into(),
                staff_id: Some(staff.into()),
                conversation_id: "cidOps".into(),
                conversation_title: Some("运维值班".into()),
                session: None,
            };
            let actor = self.policy.authorize(&origin).unwrap();
            execute(&deps, &origin, &actor, command, "t0k3n").await
        }
    }

    fn create(body: &str) -> Command {
        Command::CreateCase(
            NewCase::new("EC2 无法连接", body, Severity::Low)
                .service("aws-lambda", "general-guidance"),
        )
    }

    #[tokio::test]
    async fn a_create_makes_two_calls_after_one_language_check_per_service_and_signs_the_body() {
        let world = World::new(ResolvePolicy::default());
        let Executed::Created {
            case_id,
            display_id,
            ..
        } = world.run("s1", create("SSH 超时")).await
        else {
            panic!("created")
        };
        assert!(display_id.is_some());
        // The catalogue (cached, shared with lookup) and the language (cached per service and
        // category) on the first create only.
        assert_eq!(
            world.api.take(),
            [
                "DescribeServices",
                "DescribeSupportedLanguages",
                "CreateCase",
                "DescribeCases"
            ]
        );
        let again = world.run("s1", create("still")).await;
        assert!(matches!(again, Executed::Created { .. }), "{again:?}");
        assert_eq!(world.api.take(), ["CreateCase", "DescribeCases"]);
        let view = world
            .api
            .inner
            .describe_case(&CaseRef::CaseId(case_id), None)
            .await
            .unwrap();
        let body = &view.communications[0].body;
        assert!(body.starts_with("SSH 超时"), "{body}");
        assert!(
            body.ends_with("— 张三 通过钉钉群「运维值班」提交 (casebot ref t0k3n)"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_case_language_aws_does_not_handle_for_the_service_opens_the_case_in_english() {
        let mut world = World::new(ResolvePolicy::default());
        world.case_language = "fr";
        let Executed::Created {
            case_id,
            language_refused,
            ..
        } = world.run("s1", create("bonjour")).await
        else {
            panic!("created")
        };
        assert_eq!(language_refused.as_deref(), Some("fr"));
        assert_eq!(world.language_of(case_id).await.as_deref(), Some("en"));

        world.case_language = "ja";
        let Executed::Created {
            case_id,
            language_refused,
            ..
        } = world.run("s1", create("こんにちは")).await
        else {
            panic!("created")
        };
        assert_eq!(language_refused, None);
        assert_eq!(world.language_of(case_id).await.as_deref(), Some("ja"));
    }

    #[tokio::test]
    async fn a_language_written_in_the_message_wins_over_the_deployments() {
        let mut world = World::new(ResolvePolicy::default());
        world.case_language = "ja";
        let mut case =
            NewCase::new("s", "b", Severity::Low).service("aws-lambda", "general-guidance");
        case.language = "en".into();
        case.language_given = true;
        let Executed::Created { case_id, .. } = world.run("s1", Command::CreateCase(case)).await
        else {
            panic!("created")
        };
        assert_eq!(world.language_of(case_id).await.as_deref(), Some("en"));
    }

    #[tokio::test]
    async fn an_unknown_service_code_is_answered_with_the_closest_codes_not_awss_words() {
        let world = World::new(ResolvePolicy::default());
        let case = NewCase::new("s", "b", Severity::Low).service("ec2", "other");
        let Executed::Failed { error, .. } = world.run("s1", Command::CreateCase(case)).await
        else {
            panic!("failed")
        };
        let SupportError::UnknownServiceCode { closest, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(closest[0].0, "amazon-elastic-compute-cloud-linux");
        let case = NewCase::new("s", "b", Severity::Low).service("aws-lambda", "instance-issue");
        let Executed::Failed { error, .. } = world.run("s1", Command::CreateCase(case)).await
        else {
            panic!("failed")
        };
        assert!(
            matches!(&error, SupportError::UnknownCategoryCode { valid, .. } if valid.iter().any(|(c, _)| c == "general-guidance")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_body_too_long_with_its_signature_is_refused_before_any_call() {
        let world = World::new(ResolvePolicy::default());
        let executed = world.run("s1", create(&"x".repeat(7_990))).await;
        assert!(
            matches!(executed, Executed::TooLong { total, room } if total > 8000 && room < 7_990),
            "{executed:?}"
        );
        assert!(world.api.take().is_empty());
    }

    #[tokio::test]
    async fn a_lookup_returns_the_best_matches_from_the_cached_index() {
        let world = World::new(ResolvePolicy::default());
        for _ in 0..3 {
            let Executed::Lookup { services, .. } = world
                .run(
                    "s1",
                    Command::LookupService {
                        query: "ec2".into(),
                    },
                )
                .await
            else {
                panic!("lookup")
            };
            assert_eq!(services[0].code, "amazon-elastic-compute-cloud-linux");
        }
        assert_eq!(world.api.take(), ["DescribeServices"], "read once");
        let none = world
            .run(
                "s1",
                Command::LookupService {
                    query: "zzz-nothing".into(),
                },
            )
            .await;
        assert_eq!(none.result(), "no-match");
    }

    #[tokio::test]
    async fn the_opener_may_resolve_a_case_and_another_member_is_refused() {
        let world = World::new(ResolvePolicy::AdminsOrOpener);
        let Executed::Created { case_id, .. } = world.run("s1", create("b")).await else {
            panic!("created")
        };
        // The record stage links the case to its opener.
        let link = CaseLink {
            conversation_id: "cidOps".into(),
            conversation_title: None,
            opener_staff_id: Some("s1".into()),
            opener_nick: "张三".into(),
            created_at_ms: 0,
        };
        world.store.put_case(case_id.as_str(), &link).await.unwrap();
        let resolve = || Command::Resolve {
            case: CaseRef::CaseId(case_id.clone()),
        };
        let refused = world.run("s2", resolve()).await;
        assert_eq!(refused.result(), "refused-resolve");
        assert_eq!(refused.case_id(), Some(case_id.to_string()));
        assert!(matches!(
            world.run("s1", resolve()).await,
            Executed::Resolved { .. }
        ));
    }

    #[tokio::test]
    async fn a_case_not_opened_from_the_chat_is_checked_before_it_is_refused() {
        let world = World::new(ResolvePolicy::AdminsOrOpener);
        let ghost = CaseId::new_unchecked("case-123456789012-muzh-2026-0000000000000000");
        world.api.take();
        let missing = world
            .run(
                "s2",
                Command::Resolve {
                    case: CaseRef::CaseId(ghost),
                },
            )
            .await;
        assert_eq!(missing.result(), "case-not-found");
        assert_eq!(world.api.take(), ["DescribeCases"]);
        let Executed::Created { case_id, .. } = world.run("s1", create("b")).await else {
            panic!("created")
        };
        let by_admin = world
            .run(
                "admin-1",
                Command::Resolve {
                    case: CaseRef::CaseId(case_id),
                },
            )
            .await;
        assert!(
            matches!(by_admin, Executed::Resolved { .. }),
            "{by_admin:?}"
        );
    }

    #[tokio::test]
    async fn a_store_that_cannot_answer_stops_a_resolve_with_the_bots_own_error() {
        let mut world = World::new(ResolvePolicy::AdminsOrOpener);
        world.store = Box::new(Broken);
        let Executed::Created { case_id, .. } = world.run("s1", create("b")).await else {
            panic!("created")
        };
        let executed = world
            .run(
                "s1",
                Command::Resolve {
                    case: CaseRef::CaseId(case_id),
                },
            )
            .await;
        assert!(matches!(executed, Executed::Unavailable(_)), "{executed:?}");
        assert!(!world.api.take().contains(&"ResolveCase"));
    }

    #[tokio::test]
    async fn a_reply_by_display_id_looks_the_case_up_once_then_adds_the_communication() {
        let world = World::new(ResolvePolicy::default());
        let Executed::Created { display_id, .. } = world.run("s1", create("b")).await else {
            panic!("created")
        };
        world.api.take();
        let replied = world
            .run(
                "s1",
                Command::Reply {
                    case: CaseRef::DisplayId(display_id.unwrap()),
                    body: "补充日志".into(),
                    cc: Vec::new(),
                },
            )
            .await;
        assert!(
            matches!(
                replied,
                Executed::Replied {
                    reopened: false,
                    ..
                }
            ),
            "{replied:?}"
        );
        assert_eq!(
            world.api.take(),
            ["DescribeCases", "AddCommunicationToCase"]
        );
    }
}
