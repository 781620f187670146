//! Replies as DingTalk messages. Every reply contains `AWS` (keyword security), Chinese by
//! default; the legacy commands keep the old bot's key phrases.

use dingtalk_robot::OutboundMessage;
use support_commands::{
    CaseDetails, CaseView, Communication, Lang, Match, SeverityLevel, SupportError,
};

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

pub(crate) fn text(content: String) -> OutboundMessage {
    OutboundMessage::text(content)
}

pub(crate) fn lookup(lang: Lang, query: &str, matches: &[Match<'_>]) -> OutboundMessage {
    if matches.is_empty() {
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
    for m in matches {
        let s = m.service;
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

pub(crate) fn created(lang: Lang, case_id: &str, display_id: Option<&str>) -> OutboundMessage {
    let display = display_id
        .map(|d| format!("\ndisplay id: {d}"))
        .unwrap_or_default();
    text(
        format!(
            "AWS-[创建工单成功]\ncase id: {case_id}{display}\n{}",
            lang.pick(
                "AWS 的回复会发到本群。查看进度：查看 ",
                "AWS's answers will be posted here. Progress: view "
            )
        ) + case_id,
    )
}

pub(crate) fn create_failed(lang: Lang, err: &SupportError) -> OutboundMessage {
    text(format!("AWS-[创建工单失败]\n{}", err.explain(lang)))
}

pub(crate) fn resolved(lang: Lang, case_id: &str) -> OutboundMessage {
    let _ = lang;
    text(format!("AWS-[释放case成功]\ncase_id:{case_id}已释放"))
}

pub(crate) fn resolve_failed(lang: Lang, case_ref: &str, err: &SupportError) -> OutboundMessage {
    match err {
        SupportError::CaseNotFound(_) => {
            text(format!("AWS-[释放case失败]\ncase_id:{case_ref}不存在"))
        }
        other => text(format!(
            "AWS-[释放case失败]\ncase_id:{case_ref}\n{}",
            other.explain(lang)
        )),
    }
}

pub(crate) fn failed(lang: Lang, what: &str, err: &SupportError) -> OutboundMessage {
    text(format!(
        "AWS-[{what}{}]\n{}",
        lang.pick("失败", " failed"),
        err.explain(lang)
    ))
}

pub(crate) fn replied(lang: Lang, case_id: &str, reopened: bool) -> OutboundMessage {
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

fn comm_line(lang: Lang, c: &Communication) -> String {
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
    format!("- {who} · {}\n\n{body}\n", c.time_created)
}

fn case_fields(lang: Lang, case: &CaseDetails) -> String {
    format!(
        "- {}: {}\n- display id: {}\n- case id: {}\n- {}: {}\n- {}: {}\n- {}: {} / {}\n",
        lang.pick("主题", "Subject"),
        escape(&case.subject),
        case.display_id.as_deref().unwrap_or("-"),
        case.case_id,
        lang.pick("状态", "Status"),
        case.status,
        lang.pick("严重级别", "Severity"),
        case.severity.as_ref().map_or("-", |s| s.as_str()),
        lang.pick("服务", "Service"),
        case.service_code.as_deref().unwrap_or("-"),
        case.category_code.as_deref().unwrap_or("-"),
    )
}

pub(crate) fn case_view(lang: Lang, view: &CaseView) -> OutboundMessage {
    let mut md = format!(
        "### AWS {} {}\n\n",
        lang.pick("工单", "case"),
        view.case.display_id.as_deref().unwrap_or("")
    );
    md.push_str(&case_fields(lang, &view.case));
    md.push_str(&format!(
        "\n#### {}\n\n",
        lang.pick(
            "最新沟通（新的在前）",
            "Latest communications (newest first)"
        )
    ));
    for c in &view.communications {
        md.push_str(&comm_line(lang, c));
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

pub(crate) fn case_list(
    lang: Lang,
    cases: &[CaseDetails],
    include_resolved: bool,
    more: bool,
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
        md.push_str(&format!(
            "- **{}** {} · {} · {}\n  {}\n",
            case.display_id.as_deref().unwrap_or("-"),
            escape(&case.subject),
            case.status,
            case.severity.as_ref().map_or("-", |s| s.as_str()),
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

pub(crate) fn severity_levels(lang: Lang, levels: &[SeverityLevel]) -> OutboundMessage {
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

pub(crate) fn refused(lang: Lang, why: &str) -> OutboundMessage {
    text(format!(
        "AWS-[{}]\n{why}",
        lang.pick("无权限", "not allowed")
    ))
}

pub(crate) fn unsupported_message(lang: Lang) -> OutboundMessage {
    text(format!(
        "AWS-[{}]\n{}",
        lang.pick("暂不支持这种消息", "message type not supported"),
        lang.pick(
            "请发送文字消息。发送「帮助」查看用法。",
            "Please send text. Send `help` for usage."
        )
    ))
}
