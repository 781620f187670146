//! The messages a group is pushed: markdown with the case, who wrote what and when (in the
//! group's time zone), the status that needs people, a console link for the partition, an
//! @-mention of the opener, how to answer from the chat, and always the robot's keyword.

use dingtalk_robot::OutboundMessage;
use support_commands::{CaseDetails, CaseStatus, Communication, Lang, Partition, iso8601};

use super::updates::Update;

/// Most characters of correspondence in one pushed message (AWS's bodies are up to 8,000
/// each): a look that finds a long backlog points to `查看` for the rest, so an outbox entry
/// stays far below DynamoDB's 400 KB item limit.
const MOST_TEXT_CHARS: usize = 24_000;

/// What every pushed message is written with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style<'a> {
    pub(crate) lang: Lang,
    pub(crate) keyword: &'a str,
    pub(crate) time_zone_minutes: i32,
    pub(crate) partition: Partition,
}

/// `2026-11-30 21:05 (UTC+8)`.
pub(crate) fn local_time(ms: i64, minutes: i32) -> String {
    let shifted = ms.saturating_add(i64::from(minutes) * 60_000);
    let iso = iso8601(u64::try_from(shifted).unwrap_or(0));
    let day_time = iso.get(..16).unwrap_or_default().replace('T', " ");
    format!("{day_time} ({})", zone_name(minutes))
}

/// `UTC+8`, `UTC-5:30`.
pub(crate) fn zone_name(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let abs = minutes.unsigned_abs();
    match abs % 60 {
        0 => format!("UTC{sign}{}", abs / 60),
        m => format!("UTC{sign}{}:{m:02}", abs / 60),
    }
}

/// The case's page in the Support Center of the partition.
pub(crate) fn console_url(partition: Partition, case: &CaseDetails, lang: Lang) -> String {
    let origin = match partition {
        Partition::AwsCn => "https://console.amazonaws.cn",
        _ => "https://console.aws.amazon.com",
    };
    let id = case.display_id.as_deref().unwrap_or(case.case_id.as_str());
    format!(
        "{origin}/support/home#/case/?displayId={id}&language={}",
        lang.pick("zh", "en")
    )
}

fn status_line(status: &CaseStatus, lang: Lang) -> String {
    let label = match status {
        CaseStatus::PendingCustomerAction => {
            lang.pick("AWS 正在等待您的回复", "AWS is waiting for you")
        }
        CaseStatus::Resolved => lang.pick("已解决", "resolved"),
        CaseStatus::Reopened => lang.pick("已重新打开", "reopened"),
        CaseStatus::Opened | CaseStatus::Unassigned => lang.pick("新工单", "new"),
        _ => lang.pick("状态更新", "status changed"),
    };
    format!(
        "**{}**{label}（{}）",
        lang.pick("状态：", "Status: "),
        status.as_str()
    )
}

fn author(c: &Communication, lang: Lang) -> String {
    if c.is_from_aws() {
        lang.pick("AWS Support 工程师", "AWS Support").to_owned()
    } else {
        c.submitted_by.trim().to_owned()
    }
}

fn quoted(text: &str) -> String {
    text.lines()
        .map(|line| format!("> {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The header: `#### AWS 工单 1234567890｜subject`.
fn header(case: &CaseDetails, lang: Lang) -> (String, String) {
    let id = case.display_id.as_deref().unwrap_or(case.case_id.as_str());
    let title = format!("{} {id}", lang.pick("AWS 工单", "AWS case"));
    (title.clone(), format!("#### {title}｜{}\n", case.subject))
}

fn finish(
    style: &Style<'_>,
    title: String,
    mut text: String,
    mention: Option<&str>,
) -> OutboundMessage {
    if !title.contains(style.keyword) && !text.contains(style.keyword) {
        text.push_str(&format!("\n\n{}", style.keyword));
    }
    match mention {
        Some(staff) => {
            text.push_str(&format!("\n\n@{staff}"));
            OutboundMessage::markdown(title, text).at_user_ids([staff])
        }
        None => OutboundMessage::markdown(title, text),
    }
}

/// One message with every update of one look at `case`.
pub(crate) fn case_update(
    style: &Style<'_>,
    case: &CaseDetails,
    updates: &[&Update],
    mention: Option<&str>,
) -> OutboundMessage {
    let lang = style.lang;
    let (title, mut text) = header(case, lang);
    let mut room = MOST_TEXT_CHARS;
    for update in updates {
        match update {
            Update::Correspondence(c) if c.body.chars().count() > room => {
                text.push_str(&format!(
                    "\n{} `{} {}`\n",
                    lang.pick("……还有更多回复，请发送", "…more answers: send"),
                    lang.pick("查看", "view"),
                    case.case_id
                ));
                room = 0;
            }
            Update::Correspondence(c) => {
                room -= c.body.chars().count();
                let when = support_commands::parse_iso8601(&c.time_created)
                    .map(|ms| local_time(ms, style.time_zone_minutes))
                    .unwrap_or_else(|| c.time_created.clone());
                text.push_str(&format!(
                    "\n**{}** {}（{when}）：\n\n{}\n",
                    author(c, lang),
                    lang.pick("回复了", "wrote"),
                    quoted(c.body.trim())
                ));
            }
            Update::Status { to } => text.push_str(&format!("\n{}\n", status_line(to, lang))),
            Update::Reminder { waited_ms } => text.push_str(&format!(
                "\n{}\n",
                match lang {
                    Lang::En => format!(
                        "⏰ AWS has waited for your answer for {} hours.",
                        waited_ms / 3_600_000
                    ),
                    _ => format!("⏰ AWS 已等待您的回复 {} 小时。", waited_ms / 3_600_000),
                }
            )),
        }
    }
    text.push_str(&footer(style, case));
    finish(style, title, text, mention)
}

/// A new (or reopened) case in the account, for groups that asked for every one.
pub(crate) fn new_case(style: &Style<'_>, case: &CaseDetails, reopened: bool) -> OutboundMessage {
    let lang = style.lang;
    let (title, mut text) = header(case, lang);
    let what = match (reopened, lang) {
        (true, Lang::En) => "A case was reopened",
        (true, _) => "有工单被重新打开",
        (false, Lang::En) => "A new case was opened",
        (false, _) => "账户中有新工单",
    };
    text.push_str(&format!(
        "\n**{what}**（{}: {}）\n",
        lang.pick("严重级别", "severity"),
        case.severity.as_ref().map_or("-", |s| s.as_str())
    ));
    text.push_str(&footer(style, case));
    finish(style, title, text, None)
}

fn footer(style: &Style<'_>, case: &CaseDetails) -> String {
    let lang = style.lang;
    format!(
        "\n[{}]({})\n\n{} `{} {}`\n",
        lang.pick("在 AWS 控制台查看", "Open in the AWS console"),
        console_url(style.partition, case, lang),
        lang.pick(
            "在群里回复：@机器人",
            "Answer from the chat: mention the robot, then"
        ),
        lang.pick("回复", "reply"),
        case.case_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(keyword: &str) -> Style<'_> {
        Style {
            lang: Lang::Zh,
            keyword,
            time_zone_minutes: 480,
            partition: Partition::AwsCn,
        }
    }

    fn text(message: &OutboundMessage) -> String {
        serde_json::to_value(message).unwrap()["markdown"]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_reply_shows_who_what_when_in_the_groups_zone_the_china_console_and_how_to_answer() {
        let mut case =
            CaseDetails::for_tests("case-1", "1700000001", CaseStatus::PendingCustomerAction);
        case.subject = "EC2 无法启动".into();
        let reply = Update::Correspondence(Communication::new(
            "请提供实例 ID\n以及时间",
            "Amazon Web Services",
            "2026-11-30T13:05:00.000Z",
        ));
        let waiting = Update::Status {
            to: CaseStatus::PendingCustomerAction,
        };
        let message = case_update(&style("AWS"), &case, &[&reply, &waiting], Some("staff-7"));
        let text = text(&message);
        for expected in [
            "1700000001",
            "EC2 无法启动",
            "AWS Support 工程师",
            "> 请提供实例 ID\n> 以及时间",
            "2026-11-30 21:05 (UTC+8)",
            "https://console.amazonaws.cn/support/home#/case/?displayId=1700000001",
            "AWS 正在等待您的回复",
            "回复 case-1",
            "@staff-7",
        ] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
        let wire = serde_json::to_value(&message).unwrap();
        assert_eq!(wire["at"]["atUserIds"][0], "staff-7");
    }

    #[test]
    fn a_keyword_the_message_lacks_is_added() {
        let case = CaseDetails::for_tests("case-1", "1", CaseStatus::Resolved);
        let resolved = Update::Status {
            to: CaseStatus::Resolved,
        };
        let message = case_update(&style("工单通知"), &case, &[&resolved], None);
        assert!(text(&message).contains("工单通知"));
    }

    #[test]
    fn a_long_backlog_is_cut_with_a_pointer_to_view_the_case() {
        let case = CaseDetails::for_tests("case-1", "1", CaseStatus::Opened);
        let long: Vec<Update> = (0..6)
            .map(|i| {
                Update::Correspondence(Communication::new(
                    format!("{i}{}", "长".repeat(7_999)),
                    "Amazon Web Services",
                    "2026-11-30T13:05:00.000Z",
                ))
            })
            .collect();
        let refs: Vec<&Update> = long.iter().collect();
        let text = text(&case_update(&style("AWS"), &case, &refs, None));
        assert!(
            text.contains("2长") && !text.contains("3长"),
            "three of six fit"
        );
        assert!(text.contains("还有更多回复") && text.contains("查看 case-1"));
    }

    #[test]
    fn local_times_carry_their_offset() {
        assert_eq!(local_time(0, 480), "1970-01-01 08:00 (UTC+8)");
        assert_eq!(local_time(86_400_000, -330), "1970-01-01 18:30 (UTC-5:30)");
    }
}
