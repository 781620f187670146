//! The render stage: what a command came to, as a DingTalk message. Every reply contains
//! `AWS` (keyword security), Chinese by default; the legacy commands keep the old bot's key
//! phrases.

use dingtalk_robot::OutboundMessage;
use support_commands::Error as SupportError;
use support_commands::{
    CaseDetails, CaseView, Communication, Lang, MAX_BODY_CHARS, Service, SeverityLevel, help_text,
};

use super::execute::{Action, Executed};
use super::notices;
use crate::notify::message::local_time;
use crate::policy::Refusal;

/// The reply to a command that came to `executed`.
pub(crate) fn reply(lang: Lang, executed: &Executed) -> OutboundMessage {
    match executed {
        Executed::Help { .. } => OutboundMessage::text(help_text(lang)),
        Executed::Unrecognised { suggestion } => unrecognised(lang, *suggestion),
        Executed::WhoAmI {
            staff_id,
            conversation_id,
        } => text(format!(
            "{}\nstaffId: {}\nconversationId: {conversation_id}\n{}",
            lang.pick("AWS-[我的信息]", "AWS-[who am I]"),
            staff_id.as_deref().unwrap_or("-"),
            lang.pick(
                "管理员：CASE_BOT_ADMINS=<staffId>；会话白名单：CASE_BOT_ALLOWED_CONVERSATIONS=<conversationId>",
                "Admins: CASE_BOT_ADMINS=<staffId>; allow-list: CASE_BOT_ALLOWED_CONVERSATIONS=<conversationId>",
            )
        )),
        Executed::Unsupported => unsupported_message(lang),
        Executed::Invalid(err) => text(err.chat_text(lang)),
        Executed::Refused { refusal, .. } => refused(lang, *refusal),
        Executed::Lookup { query, services } => lookup(lang, query, services),
        Executed::Created {
            case_id,
            display_id,
            language_refused,
            ..
        } => created(
            lang,
            case_id.as_str(),
            display_id.as_deref(),
            language_refused.as_deref(),
        ),
        Executed::Viewed { view, zone } => case_view(lang, view, *zone),
        Executed::Listed {
            page,
            include_resolved,
            zone,
        } => case_list(
            lang,
            &page.cases,
            *include_resolved,
            page.next_page.is_some(),
            *zone,
        ),
        Executed::Replied { case_id, reopened } => replied(lang, case_id.as_str(), *reopened),
        Executed::Resolved { case_id } => resolved(lang, case_id.as_str()),
        Executed::Severities(levels) => severity_levels(lang, levels),
        Executed::Notify(notified) => crate::notify::commands::reply(lang, notified),
        Executed::TooLong { total, room } => too_long(lang, *total, *room),
        Executed::Failed {
            action,
            error,
            case,
        } => match action {
            Action::Create => create_failed(lang, error),
            Action::Resolve => resolve_failed(lang, case.as_deref().unwrap_or_default(), error),
            other => failed(lang, action_name(lang, *other), error),
        },
        Executed::Unavailable(err) => text(err.chat_text(lang)),
        Executed::TimedOut => failed(lang, "", &SupportError::Timeout),
        Executed::Slow { action } => notices::slow(lang, *action),
        Executed::StillCreating => notices::still_creating(lang),
        Executed::Behind { pending } => notices::behind(lang, *pending),
        Executed::Unconfirmed { action } => notices::unconfirmed(lang, *action),
    }
}

/// The name of an action in a failure's header (`AWS-[查看工单失败]`).
fn action_name(lang: Lang, action: Action) -> &'static str {
    match action {
        Action::Lookup => lang.pick("查找", "lookup "),
        Action::Create => lang.pick("创建工单", "create "),
        Action::View => lang.pick("查看工单", "view"),
        Action::List => lang.pick("工单列表", "list"),
        Action::Reply => lang.pick("回复", "reply"),
        Action::Resolve => lang.pick("释放case", "resolve"),
        Action::Severity => lang.pick("严重级别", "severity"),
        Action::Follow => lang.pick("关注", "follow"),
    }
}

fn too_long(lang: Lang, total: usize, room: usize) -> OutboundMessage {
    text(format!(
        "AWS-[{}]\n{}",
        lang.pick("内容过长", "too long"),
        lang.pick(
            &format!("加上提交人署名后共 {total} 个字符，AWS 最多接受 {MAX_BODY_CHARS} 个；正文请控制在 {room} 个字符以内。"),
            &format!("With the sender's signature it is {total} characters; AWS takes {MAX_BODY_CHARS}. Keep the text under {room}."),
        )
    ))
}

/// Markdown-safe: keeps people's text from turning into headings, links or emphasis.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '_' | '#' | '[' | ']' | '`' | '>' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// "Not understood", the command it nearly was, then the help.
fn unrecognised(lang: Lang, suggestion: Option<support_commands::CommandKind>) -> OutboundMessage {
    let mut out = lang
        .pick(
            "AWS-[没有看懂这条消息] 它不是机器人的命令。",
            "AWS-[not understood] That message is not one of the robot's commands.",
        )
        .to_owned();
    if let Some(kind) = suggestion {
        let name = support_commands::command_name(kind, lang);
        out.push_str(&match lang {
            Lang::En => format!(" Did you mean `{name}`?"),
            _ => format!("您是不是想用「{name}」？"),
        });
    }
    out.push_str("\n\n");
    out.push_str(help_text(lang));
    text(out)
}

fn text(content: String) -> OutboundMessage {
    OutboundMessage::text(content)
}

fn lookup(lang: Lang, query: &str, services: &[Service]) -> OutboundMessage {
    if services.is_empty() {
        return text(format!(
            "AWS-[{}]\n{}",
            lang.pick("请输入正确的 AWS Service 名称", "enter a valid AWS service name"),
            lang.pick(
                &format!("没有找到「{query}」。可以写服务简称（ec2、s3、rds）、英文名或中文名（负载均衡、数据库）。"),
                &format!("Nothing matches `{query}`. Try an abbreviation (ec2, s3, rds) or the service's name."),
            )
        ));
    }
    let mut out = format!(
        "AWS-[{}]\n",
        lang.pick(
            "serviceCode和categoryCode信息如下",
            "serviceCode and categoryCode"
        )
    );
    for s in services {
        let name = match (lang, &s.name_zh) {
            (Lang::Zh, Some(zh)) => format!("{} / {zh}", s.name),
            _ => s.name.clone(),
        };
        let categories: Vec<&str> = s.categories.iter().map(|c| c.code.as_str()).collect();
        out.push_str(&format!(
            "\n{name}\nserviceCode: {}\ncategoryCode: {}\n",
            s.code,
            categories.join(", ")
        ));
    }
    text(out)
}

/// The create reply. Chinese keeps the old bot's `AWS-[创建工单成功]\ncase id: …`; English
/// has its own header and keeps the `case id: …` line, the one that scripts read.
fn created(
    lang: Lang,
    case_id: &str,
    display_id: Option<&str>,
    language_refused: Option<&str>,
) -> OutboundMessage {
    let display = display_id
        .map(|d| format!("\ndisplay id: {d}"))
        .unwrap_or_default();
    let language = language_refused
        .map(|l| match lang {
            Lang::En => format!(
                "\nAWS does not handle this service's cases in `{l}`, so it was opened in English."
            ),
            _ => format!("\nAWS 不支持用「{l}」处理该服务的工单，已改用英文（en）创建。"),
        })
        .unwrap_or_default();
    text(format!(
        "AWS-[{}]\ncase id: {case_id}{display}{language}\n{}{case_id}",
        lang.pick("创建工单成功", "case created"),
        lang.pick(
            "AWS 的回复会发到本群。查看进度：查看 ",
            "AWS's answers will be posted here. Progress: view "
        )
    ))
}

fn create_failed(lang: Lang, err: &SupportError) -> OutboundMessage {
    text(format!(
        "AWS-[{}]\n{}",
        lang.pick("创建工单失败", "case not created"),
        err.chat_text(lang)
    ))
}

/// The resolve reply: the old bot's `AWS-[释放case成功]\ncase_id:…已释放` in Chinese.
fn resolved(lang: Lang, case_id: &str) -> OutboundMessage {
    text(match lang {
        Lang::En => format!("AWS-[case resolved]\ncase_id:{case_id} is resolved"),
        _ => format!("AWS-[释放case成功]\ncase_id:{case_id}已释放"),
    })
}

fn resolve_failed(lang: Lang, case_ref: &str, err: &SupportError) -> OutboundMessage {
    let header = lang.pick("释放case失败", "case not resolved");
    match (err, lang) {
        (SupportError::CaseNotFound(_), Lang::En) => text(format!(
            "AWS-[{header}]\ncase_id:{case_ref} was not found\n{}",
            err.chat_text(lang)
        )),
        (SupportError::CaseNotFound(_), _) => {
            text(format!("AWS-[{header}]\ncase_id:{case_ref}不存在"))
        }
        (other, _) => text(format!(
            "AWS-[{header}]\ncase_id:{case_ref}\n{}",
            other.chat_text(lang)
        )),
    }
}

fn failed(lang: Lang, what: &str, err: &SupportError) -> OutboundMessage {
    text(format!(
        "AWS-[{what}{}]\n{}",
        lang.pick("失败", " failed"),
        err.chat_text(lang)
    ))
}

fn replied(lang: Lang, case_id: &str, reopened: bool) -> OutboundMessage {
    let reopened = if reopened {
        lang.pick(
            "\n该工单已解决，本次回复已将其重新打开。",
            "\nThe case was resolved; this reply reopened it.",
        )
    } else {
        ""
    };
    text(format!(
        "AWS-[{}]\ncase id: {case_id}{reopened}",
        lang.pick("回复成功", "reply sent")
    ))
}

/// An AWS time in the conversation's zone (`2026-11-30 21:05 (UTC+8)`), or as AWS wrote it.
fn shown_time(time: &str, zone: i32) -> String {
    support_commands::parse_iso8601(time).map_or_else(|| time.to_owned(), |ms| local_time(ms, zone))
}

fn comm_line(lang: Lang, c: &Communication, zone: i32) -> String {
    let who = if c.is_from_aws() {
        lang.pick("**AWS 工程师**", "**AWS engineer**").to_owned()
    } else {
        escape(&c.submitted_by)
    };
    let body: String = c
        .body
        .lines()
        .map(|l| format!("> {}\n", escape(l)))
        .collect();
    format!(
        "- {who} · {}\n\n{body}\n",
        shown_time(&c.time_created, zone)
    )
}

fn severity_label(lang: Lang, case: &CaseDetails) -> String {
    case.severity
        .as_ref()
        .map_or_else(|| "-".to_owned(), |s| s.label(lang))
}

fn case_fields(lang: Lang, case: &CaseDetails, zone: i32) -> String {
    let opened = case
        .time_created
        .as_deref()
        .map(|t| {
            format!(
                "- {}: {}\n",
                lang.pick("创建时间", "Opened"),
                shown_time(t, zone)
            )
        })
        .unwrap_or_default();
    format!(
        "- {}: {}\n- display id: {}\n- case id: {}\n- {}: {}\n- {}: {}\n- {}: {} / {}\n{opened}",
        lang.pick("主题", "Subject"),
        escape(&case.subject),
        case.display_id.as_deref().unwrap_or("-"),
        case.case_id,
        lang.pick("状态", "Status"),
        case.status.label(lang),
        lang.pick("严重级别", "Severity"),
        severity_label(lang, case),
        lang.pick("服务", "Service"),
        case.service_code.as_deref().unwrap_or("-"),
        case.category_code.as_deref().unwrap_or("-"),
    )
}

fn case_view(lang: Lang, view: &CaseView, zone: i32) -> OutboundMessage {
    let mut md = format!(
        "### AWS {} {}\n\n",
        lang.pick("工单", "case"),
        view.case.display_id.as_deref().unwrap_or("")
    );
    md.push_str(&case_fields(lang, &view.case, zone));
    md.push_str(&format!(
        "\n#### {}\n\n",
        lang.pick(
            "最新沟通（新的在前）",
            "Latest communications (newest first)"
        )
    ));
    for c in &view.communications {
        md.push_str(&comm_line(lang, c, zone));
    }
    if view.next_page.is_some() {
        md.push_str(lang.pick(
            "\n（更早的沟通请到 AWS Support Center 查看）\n",
            "\n(older communications: AWS Support Center)\n",
        ));
    }
    OutboundMessage::markdown(
        format!("AWS {}", view.case.display_id.as_deref().unwrap_or("case")),
        md,
    )
}

fn case_list(
    lang: Lang,
    cases: &[CaseDetails],
    include_resolved: bool,
    more: bool,
    zone: i32,
) -> OutboundMessage {
    let title = if include_resolved {
        lang.pick("全部工单", "all cases")
    } else {
        lang.pick("未解决的工单", "open cases")
    };
    if cases.is_empty() {
        return text(format!(
            "AWS-[{title}]\n{}",
            lang.pick("没有工单。", "No cases.")
        ));
    }
    let mut md = format!("### AWS {title} ({})\n\n", cases.len());
    for case in cases {
        let opened = case
            .time_created
            .as_deref()
            .map(|t| format!(" · {}", shown_time(t, zone)))
            .unwrap_or_default();
        md.push_str(&format!(
            "- **{}** {} · {} · {}\n  {}{opened}\n",
            case.display_id.as_deref().unwrap_or("-"),
            escape(&case.subject),
            case.status.label(lang),
            severity_label(lang, case),
            case.case_id
        ));
    }
    if more {
        md.push_str(lang.pick(
            "\n（还有更多，请到 AWS Support Center 查看）\n",
            "\n(more in AWS Support Center)\n",
        ));
    }
    OutboundMessage::markdown(format!("AWS {title}"), md)
}

fn severity_levels(lang: Lang, levels: &[SeverityLevel]) -> OutboundMessage {
    let mut out = format!(
        "AWS-[{}]\n",
        lang.pick(
            "本账户可用的严重级别",
            "severity levels this account may use"
        )
    );
    for level in levels {
        out.push_str(&format!("{}: {}\n", level.code, level.name));
    }
    text(out)
}

fn refused(lang: Lang, refusal: Refusal) -> OutboundMessage {
    let why = match refusal {
        Refusal::Conversation => lang.pick(
            "这个会话不在机器人的允许列表中，请联系管理员把本群加入 --allowed-conversations。",
            "This conversation is not on the robot's allow-list; ask an admin to add it (--allowed-conversations).",
        ),
        Refusal::Resolve => lang.pick(
            "只有管理员或通过机器人创建该工单的人可以释放它。",
            "Only an admin or the person who opened the case through the robot may resolve it.",
        ),
    };
    text(format!(
        "AWS-[{}]\n{why}",
        lang.pick("无权限", "not allowed")
    ))
}

fn unsupported_message(lang: Lang) -> OutboundMessage {
    text(format!(
        "AWS-[{}]\n{}",
        lang.pick("暂不支持这种消息", "message type not supported"),
        lang.pick(
            "请发送文字消息。发送「帮助」查看用法。",
            "Please send text. Send `help` for usage."
        )
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use support_commands::{CaseId, CasePage, CaseStatus, Severity};

    fn text_of(message: &OutboundMessage) -> String {
        let json = serde_json::to_value(message).unwrap();
        let kind = json["msgtype"].as_str().unwrap().to_owned();
        let field = if kind == "text" { "content" } else { "text" };
        json[kind][field].as_str().unwrap().to_owned()
    }

    fn case_id() -> CaseId {
        CaseId::new_unchecked("case-111122223333-muen-2022-7118885805350839")
    }

    #[test]
    fn legacy_replies_keep_the_old_bots_key_phrases() {
        let created = text_of(&reply(
            Lang::Zh,
            &Executed::Created {
                case_id: case_id(),
                display_id: Some("1234567890".into()),
                subject: String::new(),
                language_refused: None,
            },
        ));
        assert!(
            created.starts_with("AWS-[创建工单成功]\ncase id: case-111122223333"),
            "{created}"
        );
        let resolved = text_of(&reply(Lang::Zh, &Executed::Resolved { case_id: case_id() }));
        assert_eq!(
            resolved,
            "AWS-[释放case成功]\ncase_id:case-111122223333-muen-2022-7118885805350839已释放"
        );
        let missing = text_of(&reply(
            Lang::Zh,
            &Executed::Failed {
                action: Action::Resolve,
                error: SupportError::CaseNotFound("x".into()),
                case: Some("case-1".into()),
            },
        ));
        assert_eq!(missing, "AWS-[释放case失败]\ncase_id:case-1不存在");
        let failed = text_of(&reply(
            Lang::Zh,
            &Executed::Failed {
                action: Action::Create,
                error: SupportError::Throttled("slow down".into()),
                case: None,
            },
        ));
        assert!(failed.starts_with("AWS-[创建工单失败]\n"), "{failed}");
        let lookup = text_of(&reply(
            Lang::Zh,
            &Executed::Lookup {
                query: "ec2".into(),
                services: support_commands::catalogue()
                    .iter()
                    .filter(|s| s.code == "amazon-elastic-compute-cloud-linux")
                    .cloned()
                    .collect(),
            },
        ));
        assert!(
            lookup.starts_with("AWS-[serviceCode和categoryCode信息如下]"),
            "{lookup}"
        );
        let nothing = text_of(&reply(
            Lang::Zh,
            &Executed::Lookup {
                query: "zzz".into(),
                services: Vec::new(),
            },
        ));
        assert!(
            nothing.starts_with("AWS-[请输入正确的 AWS Service 名称]"),
            "{nothing}"
        );
    }

    #[test]
    fn an_unrecognised_message_is_said_so_with_the_near_command_then_the_help() {
        let near = Executed::Unrecognised {
            suggestion: Some(support_commands::CommandKind::LookupService),
        };
        let zh = text_of(&reply(Lang::Zh, &near));
        assert!(
            zh.starts_with("AWS-[没有看懂这条消息]") && zh.contains("「查找ServiceCode」"),
            "{zh}"
        );
        assert!(zh.contains(help_text(Lang::Zh)));
        let en = text_of(&reply(
            Lang::En,
            &Executed::Unrecognised { suggestion: None },
        ));
        assert!(
            en.starts_with("AWS-[not understood]") && !en.contains("Did you mean"),
            "{en}"
        );
        assert!(en.contains(help_text(Lang::En)));
    }

    #[test]
    fn every_reply_carries_the_keyword_in_both_languages() {
        let view = CaseView {
            case: CaseDetails::for_tests(case_id().as_str(), "1234567890", CaseStatus::Opened),
            communications: Vec::new(),
            next_page: None,
        };
        let all = [
            Executed::Help { unrecognised: true },
            Executed::Unrecognised {
                suggestion: Some(support_commands::CommandKind::LookupService),
            },
            Executed::Unsupported,
            Executed::Invalid(support_commands::parse("释放case").unwrap_err()),
            Executed::Refused {
                refusal: Refusal::Conversation,
                case_id: None,
            },
            Executed::Refused {
                refusal: Refusal::Resolve,
                case_id: None,
            },
            Executed::Viewed {
                view: Box::new(view),
                zone: 480,
            },
            Executed::Listed {
                page: CasePage {
                    cases: Vec::new(),
                    next_page: None,
                },
                include_resolved: false,
                zone: 480,
            },
            Executed::Replied {
                case_id: case_id(),
                reopened: true,
            },
            Executed::Severities(vec![SeverityLevel {
                code: Severity::Low,
                name: "General guidance".into(),
            }]),
            Executed::TooLong {
                total: 8_100,
                room: 7_950,
            },
            Executed::Unavailable(crate::error::Error::store("case link", "locked")),
            Executed::TimedOut,
        ];
        for lang in [Lang::Zh, Lang::En] {
            for executed in &all {
                let text = text_of(&reply(lang, executed));
                assert!(text.contains("AWS"), "{executed:?} in {lang:?}: {text}");
            }
        }
    }

    fn created(lang: Lang, language_refused: Option<&str>) -> String {
        text_of(&reply(
            lang,
            &Executed::Created {
                case_id: case_id(),
                display_id: Some("1234567890".into()),
                subject: String::new(),
                language_refused: language_refused.map(str::to_owned),
            },
        ))
    }

    fn has_han(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn english_create_and_resolve_replies_are_english_and_keep_the_case_id_line() {
        let en = created(Lang::En, None);
        assert!(
            en.starts_with("AWS-[case created]\ncase id: case-111122223333"),
            "{en}"
        );
        assert!(!has_han(&en), "{en}");
        let resolved = text_of(&reply(Lang::En, &Executed::Resolved { case_id: case_id() }));
        assert_eq!(
            resolved,
            "AWS-[case resolved]\ncase_id:case-111122223333-muen-2022-7118885805350839 is resolved"
        );
        for error in [
            SupportError::CaseNotFound("case-1".into()),
            SupportError::Throttled("x".into()),
        ] {
            for action in [Action::Create, Action::Resolve] {
                let failed = text_of(&reply(
                    Lang::En,
                    &Executed::Failed {
                        action,
                        error: error.clone(),
                        case: Some("case-1".into()),
                    },
                ));
                assert!(!has_han(&failed), "{failed}");
            }
        }
    }

    #[test]
    fn a_refused_case_language_is_said_in_the_create_reply() {
        assert!(
            created(Lang::Zh, Some("fr"))
                .contains("AWS 不支持用「fr」处理该服务的工单，已改用英文（en）创建。")
        );
        assert!(created(Lang::En, Some("fr")).contains(
            "AWS does not handle this service's cases in `fr`, so it was opened in English."
        ));
        assert!(!created(Lang::Zh, None).contains("不支持"));
    }

    fn view(zone: i32) -> Executed {
        let mut case = CaseDetails::for_tests(
            case_id().as_str(),
            "1234567890",
            CaseStatus::PendingCustomerAction,
        );
        case.severity = Some(Severity::High);
        case.time_created = Some("2026-11-30T13:05:00.000Z".into());
        Executed::Viewed {
            view: Box::new(CaseView {
                case,
                communications: vec![Communication::new(
                    "Please send the logs",
                    "Amazon Web Services",
                    "2026-11-30T14:00:00.000Z",
                )],
                next_page: None,
            }),
            zone,
        }
    }

    #[test]
    fn a_viewed_case_shows_status_and_severity_in_words_with_the_code_and_times_in_the_zone() {
        let zh = text_of(&reply(Lang::Zh, &view(480)));
        assert!(
            zh.contains("- 状态: 等待您的回复（pending-customer-action）"),
            "{zh}"
        );
        assert!(zh.contains("- 严重级别: 生产系统受损（high）"), "{zh}");
        assert!(zh.contains("- 创建时间: 2026-11-30 21:05 (UTC+8)"), "{zh}");
        assert!(zh.contains("· 2026-11-30 22:00 (UTC+8)"), "{zh}");
        assert!(!zh.contains("T14:00"), "{zh}");
        let tokyo = text_of(&reply(Lang::Zh, &view(540)));
        assert!(tokyo.contains("2026-11-30 23:00 (UTC+9)"), "{tokyo}");
        let en = text_of(&reply(Lang::En, &view(480)));
        assert!(
            en.contains("- Status: waiting for you (pending-customer-action)"),
            "{en}"
        );
        assert!(
            en.contains("- Severity: production system impaired (high)"),
            "{en}"
        );
        assert!(en.contains("- Opened: 2026-11-30 21:05 (UTC+8)"), "{en}");
    }

    #[test]
    fn a_case_list_shows_statuses_in_words_and_opening_times_in_the_zone() {
        let mut case = CaseDetails::for_tests(case_id().as_str(), "1234567890", CaseStatus::Opened);
        case.severity = Some(Severity::Low);
        case.time_created = Some("2026-11-30T13:05:00.000Z".into());
        let listed = |lang| {
            text_of(&reply(
                lang,
                &Executed::Listed {
                    page: CasePage {
                        cases: vec![case.clone()],
                        next_page: None,
                    },
                    include_resolved: false,
                    zone: 480,
                },
            ))
        };
        let zh = listed(Lang::Zh);
        assert!(
            zh.contains("· 已创建（opened） · 一般性指导（low）"),
            "{zh}"
        );
        assert!(zh.contains("2026-11-30 21:05 (UTC+8)"), "{zh}");
        let en = listed(Lang::En);
        assert!(en.contains("· opened · general guidance (low)"), "{en}");
        assert!(!has_han(&en), "{en}");
    }

    #[test]
    fn whoami_names_the_ids_and_where_they_go_in_both_languages() {
        let me = Executed::WhoAmI {
            staff_id: Some("staff-9".into()),
            conversation_id: "cidOps==".into(),
        };
        let zh = text_of(&reply(Lang::Zh, &me));
        assert!(
            zh.starts_with("AWS-[我的信息]\nstaffId: staff-9\nconversationId: cidOps=="),
            "{zh}"
        );
        assert!(zh.contains("管理员：CASE_BOT_ADMINS=<staffId>"), "{zh}");
        let en = text_of(&reply(Lang::En, &me));
        assert!(en.starts_with("AWS-[who am I]\nstaffId: staff-9"), "{en}");
        assert!(!has_han(&en), "{en}");
    }
}
