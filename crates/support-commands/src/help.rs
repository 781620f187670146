//! The command table: one source for the parser's keywords and for the help text.

use std::sync::LazyLock;

use crate::command::CommandKind;
use crate::lang::Lang;

/// One command: its keywords and how to write it.
///
/// ```
/// let spec = support_commands::COMMANDS.iter().find(|c| c.kind == support_commands::CommandKind::Resolve).unwrap();
/// assert!(spec.keywords.iter().any(|k| k.text == "释放case"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandSpec {
    /// Which command.
    pub kind: CommandKind,
    /// The words that start it.
    pub keywords: &'static [Keyword],
    /// One-line description, Chinese.
    pub summary_zh: &'static str,
    /// One-line description, English.
    pub summary_en: &'static str,
    /// How to write it (a template to copy), Chinese.
    pub usage_zh: &'static str,
    /// How to write it, English.
    pub usage_en: &'static str,
}

/// A word that starts a command. Matching ignores ASCII case.
///
/// ```
/// let k = support_commands::Keyword { text: "help", standalone: true };
/// # let _ = k;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Keyword {
    /// The keyword, lower case.
    pub text: &'static str,
    /// Whether it must be followed by the end, a space, a colon or a comma (so `list` does
    /// not match `listen`, nor `释放` match `释放EC2实例…`).
    pub standalone: bool,
}

const fn kw(text: &'static str) -> Keyword {
    Keyword {
        text,
        standalone: true,
    }
}

const fn prefix(text: &'static str) -> Keyword {
    Keyword {
        text,
        standalone: false,
    }
}

/// Every command, in help order.
///
/// ```
/// assert_eq!(support_commands::COMMANDS.len(), 13);
/// ```
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        kind: CommandKind::LookupService,
        keywords: &[prefix("查找servicecode"), prefix("查找"), kw("lookup")],
        summary_zh: "搜索 AWS 服务的 serviceCode 和 categoryCode",
        summary_en: "find the serviceCode and categoryCode of an AWS service",
        usage_zh: "查找ServiceCode:{AWS服务名称,支持简写，如 ec2、负载均衡}",
        usage_en: "lookup {service name or abbreviation, e.g. ec2}",
    },
    CommandSpec {
        kind: CommandKind::CreateCase,
        keywords: &[prefix("提工单"), kw("create")],
        summary_zh: "创建 AWS case",
        summary_en: "open an AWS Support case",
        usage_zh: "提工单\nsubject:{case 主题}\nbody:{case 描述，可多行}\nseverityCode:{low|normal|high|urgent|critical}\nserviceCode:{aws serviceCode}\ncategoryCode:{aws service categoryCode}\n(可选) cc:{邮箱，最多10个} language:{zh|en|ja|ko} issueType:{technical|customer-service}",
        usage_en: "create\nsubject:{case subject}\nbody:{description, may span lines}\nseverityCode:{low|normal|high|urgent|critical}\nserviceCode:{aws serviceCode}\ncategoryCode:{aws service categoryCode}\n(optional) cc:{e-mails, at most 10} language:{zh|en|ja|ko} issueType:{technical|customer-service}",
    },
    CommandSpec {
        kind: CommandKind::Resolve,
        keywords: &[
            prefix("释放case"),
            prefix("释放工单"),
            kw("释放"),
            kw("resolve"),
        ],
        summary_zh: "释放（解决）AWS case",
        summary_en: "resolve an AWS Support case",
        usage_zh: "释放case,case_id:{case_id}　或　释放 {case id 或 display id}",
        usage_en: "resolve {case id or display id}",
    },
    CommandSpec {
        kind: CommandKind::ViewCase,
        keywords: &[kw("查看工单"), kw("查看"), kw("view")],
        summary_zh: "查看工单状态和最新回复",
        summary_en: "show a case's status and latest communications",
        usage_zh: "查看 {case id 或 display id}",
        usage_en: "view {case id or display id}",
    },
    CommandSpec {
        kind: CommandKind::ListCases,
        keywords: &[kw("工单列表"), kw("list")],
        summary_zh: "列出本账户未解决的工单（加「全部」包括已解决的）",
        summary_en: "list this account's open cases (add `all` for resolved ones too)",
        usage_zh: "工单列表 [全部]",
        usage_en: "list [all]",
    },
    CommandSpec {
        kind: CommandKind::Reply,
        keywords: &[kw("回复"), kw("reply")],
        summary_zh: "回复工单；回复已解决的工单会重新打开它",
        summary_en: "reply to a case; replying to a resolved case reopens it",
        usage_zh: "回复 {case id 或 display id}\n{回复内容，可多行}\n(可选，最后一行) cc:{邮箱}",
        usage_en: "reply {case id or display id}\n{your text, may span lines}\n(optional, last line) cc:{e-mails}",
    },
    CommandSpec {
        kind: CommandKind::Follow,
        keywords: &[kw("关注"), kw("follow")],
        summary_zh: "关注工单：AWS 的回复和状态变化会推送到本群（本群提交的工单自动关注）",
        summary_en: "follow a case: AWS's replies and status changes are pushed to this group (cases opened here are followed already)",
        usage_zh: "关注 {case id 或 display id}",
        usage_en: "follow {case id or display id}",
    },
    CommandSpec {
        kind: CommandKind::Unfollow,
        keywords: &[kw("取消关注"), kw("unfollow")],
        summary_zh: "取消关注工单",
        summary_en: "stop following a case",
        usage_zh: "取消关注 {case id 或 display id}",
        usage_en: "unfollow {case id or display id}",
    },
    CommandSpec {
        kind: CommandKind::Following,
        keywords: &[kw("关注列表"), kw("following")],
        summary_zh: "列出本群关注的工单",
        summary_en: "list the cases this group follows",
        usage_zh: "关注列表",
        usage_en: "following",
    },
    CommandSpec {
        kind: CommandKind::Notify,
        keywords: &[kw("通知"), kw("notify")],
        summary_zh: "查看或修改本群的推送设置（管理员）",
        summary_en: "show or change what this group is told about (admins)",
        usage_zh: "通知 [all|high|none]　或　通知 {回复|状态|新工单} {开|关}　或　通知 时区 +08:00",
        usage_en: "notify [all|high|none]  or  notify {replies|status|new-cases} {on|off}  or  notify time-zone +08:00",
    },
    CommandSpec {
        kind: CommandKind::WhoAmI,
        keywords: &[kw("我的信息"), kw("whoami")],
        summary_zh: "显示您的 staffId 和本会话的 conversationId（配置管理员和白名单用）",
        summary_en: "show your staff id and this conversation's id (for setting admins and the allow-list)",
        usage_zh: "我的信息",
        usage_en: "whoami",
    },
    CommandSpec {
        kind: CommandKind::SeverityLevels,
        keywords: &[kw("严重级别"), kw("severity")],
        summary_zh: "列出本账户可用的严重级别",
        summary_en: "list the severity levels this account may use",
        usage_zh: "严重级别",
        usage_en: "severity",
    },
    CommandSpec {
        kind: CommandKind::Help,
        keywords: &[kw("帮助"), kw("help"), kw("?"), kw("？")],
        summary_zh: "显示本帮助",
        summary_en: "show this help",
        usage_zh: "帮助",
        usage_en: "help",
    },
];

/// The spec of one command.
///
/// ```
/// use support_commands::{spec, CommandKind};
/// assert_eq!(spec(CommandKind::ListCases).usage_en, "list [all]");
/// ```
#[must_use]
pub fn spec(kind: CommandKind) -> &'static CommandSpec {
    COMMANDS
        .iter()
        .find(|c| c.kind == kind)
        .unwrap_or(&COMMANDS[COMMANDS.len() - 1])
}

/// How to write a command, in `lang`.
///
/// ```
/// use support_commands::{usage, CommandKind, Lang};
/// assert!(usage(CommandKind::CreateCase, Lang::Zh).starts_with("提工单\nsubject:"));
/// ```
#[must_use]
pub fn usage(kind: CommandKind, lang: Lang) -> &'static str {
    let spec = spec(kind);
    lang.pick(spec.usage_zh, spec.usage_en)
}

/// The whole help text. It starts with `AWS-` like the old bot's, so robots protected by the
/// keyword `AWS` accept it, and teaches the legacy forms first.
///
/// ```
/// use support_commands::{help_text, Lang};
/// let zh = help_text(Lang::Zh);
/// assert!(zh.starts_with("AWS-[") && zh.contains("查找ServiceCode:") && zh.contains("释放case,case_id:"));
/// assert!(help_text(Lang::En).contains("resolve"));
/// ```
#[must_use]
pub fn help_text(lang: Lang) -> &'static str {
    // The text depends only on the language and the command table: written once per language.
    static ZH: LazyLock<String> = LazyLock::new(|| write_help(Lang::Zh));
    static EN: LazyLock<String> = LazyLock::new(|| write_help(Lang::En));
    match lang {
        Lang::En => &EN,
        _ => &ZH,
    }
}

fn write_help(lang: Lang) -> String {
    let mut out = String::from(lang.pick(
        "AWS-[欢迎使用 AWS 工单钉钉机器人。@机器人 后按以下格式输入，中英文冒号、逗号均可]\n",
        "AWS-[AWS Support case robot. Mention the robot, then write one of these]\n",
    ));
    for (i, spec) in COMMANDS.iter().enumerate() {
        let summary = lang.pick(spec.summary_zh, spec.summary_en);
        let label = lang.pick("功能", "Command ");
        let alias = match lang {
            Lang::Zh => spec
                .keywords
                .iter()
                .rev()
                .find(|k| k.text.is_ascii() && k.text.len() > 1)
                .map(|k| format!("（英文：{}）", k.text))
                .unwrap_or_default(),
            _ => String::new(),
        };
        out.push_str(&format!(
            "\n[{label}{}: {summary}{alias}]\n{}\n",
            i + 1,
            lang.pick(spec.usage_zh, spec.usage_en)
        ));
    }
    out
}

/// The command a message that is not one most likely meant, if its first word is a near miss
/// of a keyword (`查询ServiceCode: redshift` → [`CommandKind::LookupService`]).
///
/// ```
/// use support_commands::{closest_command, CommandKind};
/// assert_eq!(closest_command("查询ServiceCode: redshift"), Some(CommandKind::LookupService));
/// assert_eq!(closest_command("reslove 123"), Some(CommandKind::Resolve));
/// assert_eq!(closest_command("ec2"), None);
/// assert_eq!(closest_command("你好"), None);
/// ```
#[must_use]
pub fn closest_command(text: &str) -> Option<CommandKind> {
    let head: String = text
        .trim()
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ':' | '：' | ',' | '，'))
        .flat_map(char::to_lowercase)
        .collect();
    let allowed = |len: usize| match len {
        0..=4 => 1,
        5..=9 => 2,
        _ => 3,
    };
    COMMANDS
        .iter()
        .flat_map(|spec| spec.keywords.iter().map(move |k| (spec.kind, k.text)))
        .filter(|(_, keyword)| keyword.chars().count() >= 3)
        .map(|(kind, keyword)| (edit_distance(&head, keyword), kind, keyword))
        .filter(|(distance, _, keyword)| {
            *distance > 0 && *distance <= allowed(keyword.chars().count())
        })
        .min_by_key(|(distance, ..)| *distance)
        .map(|(_, kind, _)| kind)
}

/// How a command is called, for "did you mean": the start of its template.
///
/// ```
/// use support_commands::{command_name, CommandKind, Lang};
/// assert_eq!(command_name(CommandKind::LookupService, Lang::Zh), "查找ServiceCode");
/// assert_eq!(command_name(CommandKind::Resolve, Lang::En), "resolve");
/// ```
#[must_use]
pub fn command_name(kind: CommandKind, lang: Lang) -> &'static str {
    let usage = usage(kind, lang);
    let end = usage
        .find(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | '{' | '['))
        .unwrap_or(usage.len());
    usage.get(..end).unwrap_or(usage)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let best = (previous
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1))
            .min(
                current
                    .get(j)
                    .copied()
                    .unwrap_or(usize::MAX)
                    .saturating_add(1),
            )
            .min(
                previous
                    .get(j)
                    .copied()
                    .unwrap_or(usize::MAX)
                    .saturating_add(cost),
            );
            if let Some(slot) = current.get_mut(j + 1) {
                *slot = best;
            }
        }
        previous = current;
    }
    previous.last().copied().unwrap_or_default()
}
