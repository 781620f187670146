//! The grammar, table-driven: the legacy corpus byte for byte, what people really type, every
//! new command, and every error with its rendered text. Plus: no input makes the parser panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use support_commands::{
    CaseId, CaseRef, Command, CommandKind, Error, IssueType, Lang, NewCase, Severity, help_text,
    parse,
};

const LEGACY_CASE: &str = "case-111122223333-muen-2022-7118885805350839";

fn case_id(id: &str) -> CaseRef {
    CaseRef::CaseId(CaseId::parse(id).unwrap())
}

fn l4_case() -> NewCase {
    NewCase::new(
        "EC2 实例无法连接",
        "i-0abc 从 10:00 起 SSH 超时",
        Severity::High,
    )
    .service("amazon-elastic-compute-cloud-linux", "instance-issue")
}

#[test]
fn legacy_corpus_parses_to_what_it_meant() {
    let l4 = "提工单\nsubject:EC2 实例无法连接\nbody:i-0abc 从 10:00 起 SSH 超时\nseverityCode:high\nserviceCode:amazon-elastic-compute-cloud-linux\ncategoryCode:instance-issue";
    let cases: Vec<(&str, &str, Command)> = vec![
        (
            "L1",
            "查找ServiceCode:ec2",
            Command::LookupService {
                query: "ec2".into(),
            },
        ),
        (
            "L2",
            "查找ServiceCode: ec2",
            Command::LookupService {
                query: "ec2".into(),
            },
        ),
        (
            "L3",
            "查找servicecode:Elastic Load Balancing",
            Command::LookupService {
                query: "Elastic Load Balancing".into(),
            },
        ),
        ("L4", l4, Command::CreateCase(l4_case())),
        (
            "L5",
            "释放case,case_id:case-111122223333-muen-2022-7118885805350839",
            Command::Resolve {
                case: case_id(LEGACY_CASE),
            },
        ),
        (
            "L6",
            "释放工单:case-111122223333-muen-2022-7118885805350839",
            Command::Resolve {
                case: case_id(LEGACY_CASE),
            },
        ),
        ("L7", "你好", Command::Help { unrecognised: true }),
    ];
    for (label, text, expected) in cases {
        assert_eq!(parse(text), Ok(expected), "{label}: {text:?}");
    }
}

#[test]
fn what_people_really_type_still_parses() {
    let cases: Vec<(&str, Command)> = vec![
        (
            "查找ServiceCode：ec2",
            Command::LookupService {
                query: "ec2".into(),
            },
        ),
        (
            "查找SERVICECODE : ec2 ",
            Command::LookupService {
                query: "ec2".into(),
            },
        ),
        (
            "  \n查找ServiceCode:ec2\n\n",
            Command::LookupService {
                query: "ec2".into(),
            },
        ),
        (
            "查找 负载均衡",
            Command::LookupService {
                query: "负载均衡".into(),
            },
        ),
        (
            "lookup rds",
            Command::LookupService {
                query: "rds".into(),
            },
        ),
        (
            "释放case，case_id：case-111122223333-muen-2022-7118885805350839",
            Command::Resolve {
                case: case_id(LEGACY_CASE),
            },
        ),
        (
            "释放case,case_id: case-111122223333-muen-2022-7118885805350839",
            Command::Resolve {
                case: case_id(LEGACY_CASE),
            },
        ),
        (
            "释放CASE , case_id : case-111122223333-muen-2022-7118885805350839",
            Command::Resolve {
                case: case_id(LEGACY_CASE),
            },
        ),
        (
            "释放工单：case-111122223333-muen-2022-7118885805350839",
            Command::Resolve {
                case: case_id(LEGACY_CASE),
            },
        ),
        (
            "释放 case-111122223333-muen-2022-7118885805350839",
            Command::Resolve {
                case: case_id(LEGACY_CASE),
            },
        ),
        (
            "resolve 1234563851",
            Command::Resolve {
                case: CaseRef::DisplayId("1234563851".into()),
            },
        ),
        (
            "RESOLVE case-111122223333-muen-2022-7118885805350839",
            Command::Resolve {
                case: case_id(LEGACY_CASE),
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text), Ok(expected), "{text:?}");
    }
}

#[test]
fn create_accepts_crlf_any_key_case_any_order_full_width_colons_and_multiline_body() {
    let text = "\r\n提工单\r\nSEVERITYCODE： urgent\r\nServiceCode : amazon-elastic-compute-cloud-linux\r\nbody: 第一行 10:00 出现 http://x/y\r\n第二行 Service: EC2\r\n\r\n第四行\r\ncategorycode:instance-issue\r\nsubject :  生产 EC2 宕机  \r\n\r\n";
    let Command::CreateCase(case) = parse(text).unwrap() else {
        panic!()
    };
    assert_eq!(case.subject, "生产 EC2 宕机");
    assert_eq!(
        case.body,
        "第一行 10:00 出现 http://x/y\n第二行 Service: EC2\n\n第四行"
    );
    assert_eq!(case.severity, Severity::Urgent);
    assert_eq!(
        case.service_code.as_deref(),
        Some("amazon-elastic-compute-cloud-linux")
    );
    assert_eq!(case.category_code.as_deref(), Some("instance-issue"));
    assert_eq!(
        case.language, "zh",
        "default language is zh, not the old bot's en"
    );
    assert_eq!(case.issue_type, IssueType::Technical);
    assert!(case.cc.is_empty());
}

#[test]
fn create_reads_optional_cc_language_and_issue_type() {
    let text = "create\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:general-info\ncategoryCode:using-aws\ncc: a@example.com，b@example.cn; c@x.io\nlanguage: EN\nissueType: customer-service";
    let Command::CreateCase(case) = parse(text).unwrap() else {
        panic!()
    };
    assert_eq!(case.cc, ["a@example.com", "b@example.cn", "c@x.io"]);
    assert_eq!(case.language, "en");
    assert_eq!(case.issue_type, IssueType::CustomerService);
}

#[test]
fn new_commands_parse_in_chinese_and_english() {
    let cases: Vec<(&str, Command)> = vec![
        (
            "查看 case-111122223333-muen-2022-7118885805350839",
            Command::ViewCase {
                case: case_id(LEGACY_CASE),
            },
        ),
        (
            "查看工单 1234563851",
            Command::ViewCase {
                case: CaseRef::DisplayId("1234563851".into()),
            },
        ),
        (
            "view 176404877500953",
            Command::ViewCase {
                case: CaseRef::DisplayId("176404877500953".into()),
            },
        ),
        (
            "工单列表",
            Command::ListCases {
                include_resolved: false,
            },
        ),
        (
            "工单列表 全部",
            Command::ListCases {
                include_resolved: true,
            },
        ),
        (
            "list",
            Command::ListCases {
                include_resolved: false,
            },
        ),
        (
            "list ALL",
            Command::ListCases {
                include_resolved: true,
            },
        ),
        ("严重级别", Command::SeverityLevels),
        ("severity", Command::SeverityLevels),
        (
            "帮助",
            Command::Help {
                unrecognised: false,
            },
        ),
        (
            "HELP",
            Command::Help {
                unrecognised: false,
            },
        ),
        (
            "？",
            Command::Help {
                unrecognised: false,
            },
        ),
        (
            "",
            Command::Help {
                unrecognised: false,
            },
        ),
        (
            "回复 case-111122223333-muen-2022-7118885805350839\n已按建议重启，问题依旧。\n日志见附件。",
            Command::Reply {
                case: case_id(LEGACY_CASE),
                body: "已按建议重启，问题依旧。\n日志见附件。".into(),
                cc: vec![],
            },
        ),
        (
            "reply 1234563851 thanks, fixed\ncc: ops@example.com",
            Command::Reply {
                case: CaseRef::DisplayId("1234563851".into()),
                body: "thanks, fixed".into(),
                cc: vec!["ops@example.com".into()],
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text), Ok(expected), "{text:?}");
    }
}

#[test]
fn messages_that_merely_mention_a_keyword_get_help_not_a_command() {
    for text in [
        "释放EC2实例的问题怎么解决？",
        "listen to this",
        "helpful tip",
        "请帮我释放一下 case",
        "我想查看一下",
        "reviewing the case",
    ] {
        let parsed = parse(text);
        assert!(
            matches!(parsed, Ok(Command::Help { unrecognised: true })) || text == "我想查看一下",
            "{text:?} → {parsed:?}"
        );
    }
}

#[test]
fn parse_errors_carry_the_fields_and_render_the_template() {
    let cases: Vec<(&str, Error, &[&str])> = vec![
        (
            "释放case",
            Error::MissingArgument {
                command: CommandKind::Resolve,
                argument: "a case id",
            },
            &["释放case,case_id:"],
        ),
        (
            "释放case,case_id:",
            Error::MissingArgument {
                command: CommandKind::Resolve,
                argument: "a case id",
            },
            &["case id"],
        ),
        (
            "释放 EC2",
            Error::InvalidCaseId {
                command: CommandKind::Resolve,
                value: "EC2".into(),
            },
            &["EC2", "display id"],
        ),
        (
            "查看",
            Error::MissingArgument {
                command: CommandKind::ViewCase,
                argument: "a case id",
            },
            &["查看 {case id"],
        ),
        (
            "查找ServiceCode:",
            Error::MissingArgument {
                command: CommandKind::LookupService,
                argument: "a service name",
            },
            &["查找ServiceCode:{"],
        ),
        (
            "查找ServiceCode",
            Error::MissingArgument {
                command: CommandKind::LookupService,
                argument: "a service name",
            },
            &["AWS 服务名称"],
        ),
        (
            "回复 case-1-a",
            Error::MissingArgument {
                command: CommandKind::Reply,
                argument: "reply text",
            },
            &["回复内容"],
        ),
        (
            "工单列表 昨天",
            Error::InvalidValue {
                field: "工单列表",
                value: "昨天".into(),
                expected: "全部 / all",
            },
            &["工单列表 [全部]"],
        ),
        (
            "提工单",
            Error::MissingFields {
                fields: vec![
                    "subject",
                    "body",
                    "severityCode",
                    "serviceCode",
                    "categoryCode",
                ],
            },
            &["主题（subject）、描述（body）", "提工单\nsubject:"],
        ),
        (
            "提工单\nsubject:s\nbody:b\nseverityCode:P1\nserviceCode:a\ncategoryCode:b",
            Error::InvalidValue {
                field: "severityCode",
                value: "P1".into(),
                expected: "low|normal|high|urgent|critical",
            },
            &["P1", "low|normal|high|urgent|critical"],
        ),
        (
            "提工单\n这是问题描述\nsubject:s",
            Error::UnexpectedLine {
                line: "这是问题描述".into(),
            },
            &["这是问题描述", "key:value"],
        ),
        (
            "提工单\nsubject:a\nsubject:b",
            Error::DuplicateField { field: "subject" },
            &["subject"],
        ),
        (
            "提工单\nsubject:\nbody:b\nseverityCode:low\nserviceCode:a\ncategoryCode:b",
            Error::Empty { field: "subject" },
            &["主题（subject）不能为空"],
        ),
        (
            "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:EC2 Linux\ncategoryCode:b",
            Error::InvalidValue {
                field: "serviceCode",
                value: "EC2 Linux".into(),
                expected: "",
            },
            &["查找ServiceCode"],
        ),
        (
            "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:a\ncategoryCode:b\ncc:not-an-email",
            Error::InvalidEmail {
                value: "not-an-email".into(),
            },
            &["not-an-email"],
        ),
        (
            "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:a\ncategoryCode:b\nlanguage:de",
            Error::InvalidValue {
                field: "language",
                value: "de".into(),
                expected: "zh|en|ja|ko|es|pt|fr|tr",
            },
            &["zh|en"],
        ),
        (
            "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:a\ncategoryCode:b\nissueType:billing",
            Error::InvalidValue {
                field: "issueType",
                value: "billing".into(),
                expected: "technical|customer-service",
            },
            &["technical|customer-service"],
        ),
    ];
    for (text, expected, phrases) in cases {
        let err = parse(text).unwrap_err();
        if let Error::InvalidValue {
            field: "serviceCode",
            value,
            ..
        } = &err
        {
            assert_eq!(value, "EC2 Linux");
        } else {
            assert_eq!(err, expected, "{text:?}");
        }
        let rendered = err.chat_text(Lang::Zh);
        assert!(rendered.starts_with("AWS-["), "{rendered}");
        for phrase in phrases {
            assert!(
                rendered.contains(phrase),
                "{text:?}: {phrase:?} not in\n{rendered}"
            );
        }
        assert!(
            err.chat_text(Lang::En).contains("AWS"),
            "English render too"
        );
    }
}

#[test]
fn limits_are_enforced_with_numbers() {
    let long_subject = "主".repeat(251);
    let text = format!(
        "提工单\nsubject:{long_subject}\nbody:b\nseverityCode:low\nserviceCode:a\ncategoryCode:b"
    );
    assert_eq!(
        parse(&text).unwrap_err(),
        Error::TooLong {
            field: "subject",
            max: 250,
            actual: 251
        }
    );
    let ok_subject = "主".repeat(250);
    let text = format!(
        "提工单\nsubject:{ok_subject}\nbody:b\nseverityCode:low\nserviceCode:a\ncategoryCode:b"
    );
    assert!(parse(&text).is_ok());

    let body = "x".repeat(8001);
    let text =
        format!("提工单\nsubject:s\nbody:{body}\nseverityCode:low\nserviceCode:a\ncategoryCode:b");
    let err = parse(&text).unwrap_err();
    assert_eq!(
        err,
        Error::TooLong {
            field: "body",
            max: 8000,
            actual: 8001
        }
    );
    assert!(err.chat_text(Lang::Zh).contains("8001") && err.chat_text(Lang::Zh).contains("8000"));
    let text = format!("回复 case-1-x\n{body}");
    assert_eq!(
        parse(&text).unwrap_err(),
        Error::TooLong {
            field: "reply",
            max: 8000,
            actual: 8001
        }
    );

    let cc: Vec<String> = (0..11).map(|i| format!("u{i}@example.com")).collect();
    let text = format!(
        "提工单\nsubject:s\nbody:b\nseverityCode:low\nserviceCode:a\ncategoryCode:b\ncc:{}",
        cc.join(",")
    );
    assert_eq!(parse(&text).unwrap_err(), Error::TooManyCc { count: 11 });
}

#[test]
fn help_text_teaches_every_command_and_keeps_the_aws_keyword() {
    for lang in [Lang::Zh, Lang::En] {
        let help = help_text(lang);
        assert!(help.starts_with("AWS-["), "{help}");
        for spec in support_commands::COMMANDS {
            assert!(
                help.contains(lang.pick(spec.usage_zh, spec.usage_en)),
                "{:?} missing from help",
                spec.kind
            );
        }
    }
    let zh = help_text(Lang::Zh);
    // The legacy templates, as the old help taught them.
    for legacy in [
        "查找ServiceCode:{AWS服务名称,支持简写",
        "提工单\nsubject:{case 主题}",
        "释放case,case_id:{case_id}",
    ] {
        assert!(zh.contains(legacy), "{legacy:?}");
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_command_shaped_text(
        head in prop::sample::select(vec!["提工单\n", "释放case,case_id:", "释放工单:", "回复 ", "查看 ", "查找ServiceCode:", "工单列表 ", "resolve ", "create\n"]),
        tail in "[\\PC\n\r：:，,]{0,200}",
    ) {
        let text = format!("{head}{tail}");
        match parse(&text) {
            Ok(_) => {}
            Err(err) => {
                let rendered = err.chat_text(Lang::Zh);
                prop_assert!(rendered.starts_with("AWS-["));
            }
        }
    }
}

#[test]
fn follow_unfollow_and_the_following_list_are_told_apart() {
    use support_commands::{CaseRef, Command, parse};
    assert!(matches!(
        parse("关注 1700000123").unwrap(),
        Command::Follow {
            case: CaseRef::DisplayId(_)
        }
    ));
    assert!(matches!(
        parse("follow case-123456789012-muen-2026-0123456789abcdef").unwrap(),
        Command::Follow {
            case: CaseRef::CaseId(_)
        }
    ));
    assert!(matches!(
        parse("取消关注 1700000123").unwrap(),
        Command::Unfollow { .. }
    ));
    assert!(matches!(
        parse("unfollow 1700000123").unwrap(),
        Command::Unfollow { .. }
    ));
    assert_eq!(parse("关注列表").unwrap(), Command::Following);
    assert_eq!(parse("following").unwrap(), Command::Following);
    let err = parse("关注").unwrap_err().to_string();
    assert!(err.contains("case id"), "{err}");
}

#[test]
fn notify_takes_a_level_or_a_kind_with_on_or_off_and_explains_anything_else() {
    use support_commands::{Command, NotifyChange, NotifyLevel, parse};
    let change = |text: &str| match parse(text).unwrap() {
        Command::Notify { change } => change,
        other => panic!("{other:?}"),
    };
    assert_eq!(change("通知"), None);
    assert_eq!(
        change("通知 全部"),
        Some(NotifyChange::Level(NotifyLevel::All))
    );
    assert_eq!(
        change("notify none"),
        Some(NotifyChange::Level(NotifyLevel::None))
    );
    assert_eq!(change("通知 回复 关"), Some(NotifyChange::Replies(false)));
    assert_eq!(change("通知：状态，开"), Some(NotifyChange::Status(true)));
    assert_eq!(
        change("notify new-cases off"),
        Some(NotifyChange::NewCases(false))
    );
    let err = parse("通知 sometimes").unwrap_err().to_string();
    assert!(err.contains("sometimes") && err.contains("high"), "{err}");
}

#[test]
fn an_error_in_a_reply_or_a_notify_shows_that_commands_template_in_both_languages() {
    use support_commands::{CommandKind, Lang, parse};
    let err = parse("回复 1700000001\n看一下\ncc:not-an-email").unwrap_err();
    assert_eq!(err.command(), Some(CommandKind::Reply));
    let zh = err.chat_text(Lang::Zh);
    assert!(
        zh.contains("not-an-email") && zh.contains("回复 {case id"),
        "{zh}"
    );
    assert!(!zh.contains("提工单"), "{zh}");
    let en = err.chat_text(Lang::En);
    assert!(
        en.contains("not-an-email") && en.contains("reply {case id"),
        "{en}"
    );
    assert!(!en.contains("create\nsubject"), "{en}");
    let notify = parse("通知 sometimes").unwrap_err().chat_text(Lang::Zh);
    assert!(
        notify.contains("通知 [all|high|none]") && !notify.contains("提工单"),
        "{notify}"
    );
}

#[test]
fn whoami_is_a_command_in_both_languages() {
    use support_commands::{Command, parse};
    assert_eq!(parse("我的信息").unwrap(), Command::WhoAmI);
    assert_eq!(parse("whoami").unwrap(), Command::WhoAmI);
}
