//! The bot's own notices: what it says when it cannot give the answer yet, or at all. Each
//! contains `AWS` (the robot's keyword), and says what will happen and what to do.

use dingtalk_robot::OutboundMessage;
use support_commands::Lang;

use super::execute::Action;

/// What a write is, in a notice.
fn doing(lang: Lang, action: Action) -> &'static str {
    match action {
        Action::Create => lang.pick("创建工单", "creating the case"),
        Action::Reply => lang.pick("回复工单", "adding the reply"),
        Action::Resolve => lang.pick("释放case", "resolving the case"),
        _ => lang.pick("处理", "this"),
    }
}

/// A write passed its deadline: the outcome is unknown and will be reported.
pub(crate) fn slow(lang: Lang, action: Action) -> OutboundMessage {
    let what = doing(lang, action);
    OutboundMessage::text(format!(
        "AWS-[{}]\n{}",
        lang.pick("AWS 响应较慢", "AWS is slow"),
        lang.pick(
            &format!("AWS Support 还没有答复（{what}）。请不要重复发送：结果出来后我会在本群告诉你，包括 case id。"),
            &format!("AWS Support has not answered yet ({what}). Please do not send it again: I will tell you here when it is done, with the case id."),
        )
    ))
}

/// The same create is still running.
pub(crate) fn still_creating(lang: Lang) -> OutboundMessage {
    OutboundMessage::text(format!(
        "AWS-[{}]\n{}",
        lang.pick("工单仍在创建中", "still creating"),
        lang.pick(
            "同样的工单（相同的 subject 和 body）正在创建，没有再创建一次。创建完成后我会在本群告诉你 case id。",
            "The same case (same subject and body) is still being created, so no second one was opened. I will post its case id here when it is done.",
        )
    ))
}

/// The conversation's replies are backed up.
pub(crate) fn behind(lang: Lang, pending: usize) -> OutboundMessage {
    OutboundMessage::text(format!(
        "AWS-[{}]\n{}",
        lang.pick("机器人处理不过来", "the robot is behind"),
        lang.pick(
            &format!("本群还有 {pending} 条回复在排队（钉钉限制每分钟 20 条）。在它们发完之前，新的命令不会执行；请过几分钟再发送。"),
            &format!("{pending} replies to this group are waiting (DingTalk allows 20 a minute). Until they are out, new commands are not run; please send yours again in a few minutes."),
        )
    ))
}

/// After a restart, a write that had started could not be found.
pub(crate) fn unconfirmed(lang: Lang, action: Action) -> OutboundMessage {
    let what = doing(lang, action);
    OutboundMessage::text(format!(
        "AWS-[{}]\n{}",
        lang.pick("结果未确认", "outcome unknown"),
        lang.pick(
            &format!("机器人在{what}时重启了，在 AWS Support 中没有找到结果，所以没有再次提交。请用「列出工单」或「查看工单」确认；如果没有，请重新发送。"),
            &format!("The robot restarted while {what} and found no trace of it at AWS Support, so it did not send it again. Please check with `list cases` or `view`; if it is not there, send it again."),
        )
    ))
}

/// The bot could not take the message (its store failed): send it again.
pub(crate) fn send_again(lang: Lang) -> OutboundMessage {
    OutboundMessage::text(format!(
        "AWS-[{}]\n{}",
        lang.pick("暂时无法处理", "cannot do this now"),
        lang.pick(
            "机器人的状态存储暂时不可写，这条消息没有执行。请稍后重新发送。",
            "The robot cannot write its state right now, so this message was not acted on. Please send it again in a minute.",
        )
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notice_carries_the_keyword_in_both_languages() {
        for lang in [Lang::Zh, Lang::En] {
            for notice in [
                slow(lang, Action::Create),
                still_creating(lang),
                behind(lang, 40),
                unconfirmed(lang, Action::Reply),
                send_again(lang),
            ] {
                let json = serde_json::to_string(&notice).unwrap();
                assert!(json.contains("AWS"), "{json}");
            }
        }
        let slow = serde_json::to_string(&slow(Lang::En, Action::Create)).unwrap();
        assert!(slow.contains("slow") && !slow.contains("fail"), "{slow}");
    }
}
