//! The chat commands of notifications: `关注` / `follow`, `取消关注` / `unfollow`, `关注列表` /
//! `following` and `通知` / `notify`, and their replies.

use dingtalk_robot::OutboundMessage;
use support_commands::{CaseDetails, CaseRef, Lang, NotifyChange, SupportApi};

use super::follows::{
    FOLLOW, Follow, GROUP, GroupSettings, follow_id, follows_by_case, follows_of, settings_of,
};
use super::updates::{CURSOR, CaseCursor};
use crate::error::Error;
use crate::event::Origin;
use crate::pipeline::Support;
use crate::policy::Actor;
use crate::store::{CaseLinkStore, RecordStore, RecordSwap, unix_ms};

/// What a notification command came to.
#[derive(Debug)]
pub(crate) enum Notified {
    Followed {
        case: Box<CaseDetails>,
        already: bool,
    },
    Unfollowed {
        case: String,
        was: bool,
    },
    Following(Vec<Follow>),
    Settings {
        settings: GroupSettings,
        changed: bool,
        /// The deployment's time zone.
        default_zone: i32,
    },
    /// Only admins may do this (follow a case from elsewhere, change settings).
    AdminsOnly {
        follow: bool,
        admins_configured: bool,
    },
    /// Following needs a group (a 1:1 chat cannot be pushed to).
    GroupsOnly,
}

impl Notified {
    pub(crate) fn result(&self) -> &'static str {
        match self {
            Self::Followed { already: true, .. } => "already-following",
            Self::Unfollowed { was: false, .. } => "not-following",
            Self::AdminsOnly { .. } => "refused-admins-only",
            Self::GroupsOnly => "refused-not-a-group",
            _ => "ok",
        }
    }

    pub(crate) fn case_id(&self) -> Option<String> {
        match self {
            Self::Followed { case, .. } => Some(case.case_id.to_string()),
            Self::Unfollowed { case, .. } => Some(case.clone()),
            _ => None,
        }
    }
}

/// What the commands work with.
pub(crate) struct Deps<'a> {
    pub(crate) support: &'a Support,
    pub(crate) links: &'a dyn CaseLinkStore,
    pub(crate) records: &'a dyn RecordStore,
    pub(crate) admins_configured: bool,
    /// The deployment's time zone, shown when a group has none of its own.
    pub(crate) time_zone_minutes: i32,
}

/// `关注 <case>`: the group follows the case; a case opened elsewhere only for admins.
pub(crate) async fn follow(
    deps: &Deps<'_>,
    origin: &Origin,
    actor: &Actor,
    case: &CaseRef,
) -> Result<Notified, support_commands::Error> {
    if origin.conversation_title.is_none() {
        return Ok(Notified::GroupsOnly);
    }
    let details = deps.support.case_details(case).await?;
    let case_id = details.case_id.to_string();
    let link = deps.links.case(&case_id).await.map_err(store_error)?;
    let opened_here = link
        .as_ref()
        .is_some_and(|l| l.conversation_id == origin.conversation_id);
    if !opened_here && !actor.admin {
        return Ok(Notified::AdminsOnly {
            follow: true,
            admins_configured: deps.admins_configured,
        });
    }
    let now = unix_ms();
    let follow = Follow {
        conversation: origin.conversation_id.clone(),
        case_id: case_id.clone(),
        display_id: details.display_id.clone(),
        subject: details.subject.clone(),
        opener_staff_id: link.filter(|_| opened_here).and_then(|l| l.opener_staff_id),
        since_ms: now,
    };
    let added = deps
        .records
        .swap_record(&follow.swap().map_err(store_error)?)
        .await
        .map_err(store_error)?;
    // A case nobody followed yet starts its cursor now: what comes after is new.
    let cursor = serde_json::to_string(&CaseCursor::starting(&details.status, now))
        .map_err(|e| store_error(Error::store("cursor", e)))?;
    deps.records
        .swap_record(&RecordSwap::put(CURSOR, &case_id, 0, cursor))
        .await
        .map_err(store_error)?;
    Ok(Notified::Followed {
        case: Box::new(details),
        already: !added,
    })
}

/// `取消关注 <case>`.
pub(crate) async fn unfollow(
    deps: &Deps<'_>,
    origin: &Origin,
    case: &CaseRef,
) -> Result<Notified, support_commands::Error> {
    let follows = follows_of(deps.records, &origin.conversation_id)
        .await
        .map_err(store_error)?;
    let wanted = case.to_string();
    let found = follows
        .into_iter()
        .find(|f| f.case_id == wanted || f.display_id.as_deref() == Some(wanted.as_str()));
    let Some(found) = found else {
        return Ok(Notified::Unfollowed {
            case: case.to_string(),
            was: false,
        });
    };
    let id = follow_id(&found.conversation, &found.case_id);
    let record = deps
        .records
        .record(FOLLOW, &id)
        .await
        .map_err(store_error)?;
    if let Some(record) = record {
        deps.records
            .swap_record(&RecordSwap::remove(FOLLOW, &id, record.version))
            .await
            .map_err(store_error)?;
    }
    // The last group gone, the case's cursor goes too: a later follow starts afresh rather
    // than from a cursor months old.
    let still_followed = follows_by_case(deps.records)
        .await
        .map_err(store_error)?
        .contains_key(&found.case_id);
    if !still_followed
        && let Some(cursor) = deps
            .records
            .record(CURSOR, &found.case_id)
            .await
            .map_err(store_error)?
    {
        deps.records
            .swap_record(&RecordSwap::remove(CURSOR, &found.case_id, cursor.version))
            .await
            .map_err(store_error)?;
    }
    Ok(Notified::Unfollowed {
        case: found.case_id,
        was: true,
    })
}

/// `关注列表`.
pub(crate) async fn following(
    deps: &Deps<'_>,
    origin: &Origin,
) -> Result<Notified, support_commands::Error> {
    let follows = follows_of(deps.records, &origin.conversation_id)
        .await
        .map_err(store_error)?;
    Ok(Notified::Following(follows))
}

/// `通知 [change]`: shows the settings, or (admins) changes them.
pub(crate) async fn notify(
    deps: &Deps<'_>,
    origin: &Origin,
    actor: &Actor,
    change: Option<NotifyChange>,
) -> Result<Notified, support_commands::Error> {
    let (mut settings, version) = settings_of(deps.records, &origin.conversation_id)
        .await
        .map_err(store_error)?;
    let Some(change) = change else {
        return Ok(Notified::Settings {
            settings,
            changed: false,
            default_zone: deps.time_zone_minutes,
        });
    };
    if !actor.admin {
        return Ok(Notified::AdminsOnly {
            follow: false,
            admins_configured: deps.admins_configured,
        });
    }
    match change {
        NotifyChange::Level(level) => settings.level = level,
        NotifyChange::Replies(on) => settings.replies = on,
        NotifyChange::Status(on) => settings.status = on,
        NotifyChange::NewCases(on) => settings.new_cases = on,
        NotifyChange::TimeZone(minutes) => settings.time_zone_minutes = Some(minutes),
        _ => {}
    }
    let value =
        serde_json::to_string(&settings).map_err(|e| store_error(Error::store("group", e)))?;
    let written = deps
        .records
        .swap_record(&RecordSwap::put(
            GROUP,
            &origin.conversation_id,
            version,
            value,
        ))
        .await
        .map_err(store_error)?;
    if !written {
        // Another admin changed them at the same moment: theirs stands.
        let (settings, _) = settings_of(deps.records, &origin.conversation_id)
            .await
            .map_err(store_error)?;
        return Ok(Notified::Settings {
            settings,
            changed: false,
            default_zone: deps.time_zone_minutes,
        });
    }
    Ok(Notified::Settings {
        settings,
        changed: true,
        default_zone: deps.time_zone_minutes,
    })
}

/// The bot's own store failing, as the error the execute stage reports.
fn store_error(err: Error) -> support_commands::Error {
    support_commands::Error::Transport(format!("the bot's state store: {err}"))
}

fn on_off(on: bool, lang: Lang) -> &'static str {
    match (on, lang) {
        (true, Lang::En) => "on",
        (false, Lang::En) => "off",
        (true, _) => "开",
        (false, _) => "关",
    }
}

/// The reply.
pub(crate) fn reply(lang: Lang, notified: &Notified) -> OutboundMessage {
    let text = match notified {
        Notified::Followed { case, already } => {
            let id = case.display_id.as_deref().unwrap_or(case.case_id.as_str());
            match (already, lang) {
                (false, Lang::En) => format!("AWS-[following case {id}] {}\nAWS's replies and status changes will be posted here.\ncase_id:{}", case.subject, case.case_id),
                (true, Lang::En) => format!("AWS-[already following case {id}] {}\ncase_id:{}", case.subject, case.case_id),
                (false, _) => format!("AWS-[已关注工单 {id}] {}\nAWS 的回复和状态变化会推送到本群。\ncase_id:{}", case.subject, case.case_id),
                (true, _) => format!("AWS-[本群已关注工单 {id}] {}\ncase_id:{}", case.subject, case.case_id),
            }
        }
        Notified::Unfollowed { case, was: true } => {
            format!("{}\ncase_id:{case}", lang.pick("AWS-[已取消关注]", "AWS-[unfollowed]"))
        }
        Notified::Unfollowed { case, was: false } => format!(
            "{} {case}\n{}",
            lang.pick("AWS-[本群未关注该工单]", "AWS-[this group does not follow]"),
            lang.pick("发送「关注列表」查看本群关注的工单。", "Send `following` to see what this group follows.")
        ),
        Notified::Following(follows) if follows.is_empty() => lang
            .pick(
                "AWS-[本群没有关注的工单]\n本群提交的工单会自动关注；其他工单请管理员发送「关注 {case id}」。",
                "AWS-[this group follows no case]\nCases opened here are followed automatically; an admin can send `follow {case id}` for others.",
            )
            .to_owned(),
        Notified::Following(follows) => {
            let mut out = format!("{} {}", lang.pick("AWS-[本群关注的工单]", "AWS-[cases this group follows]"), follows.len());
            for f in follows {
                let id = f.display_id.as_deref().unwrap_or(f.case_id.as_str());
                out.push_str(&format!("\n{id}  {}  ({})", f.subject, f.case_id));
            }
            out
        }
        Notified::Settings {
            settings,
            changed,
            default_zone,
        } => {
            let head = match (changed, lang) {
                (true, Lang::En) => "AWS-[notifications changed]",
                (false, Lang::En) => "AWS-[notifications of this group]",
                (true, _) => "AWS-[推送设置已更新]",
                (false, _) => "AWS-[本群推送设置]",
            };
            let zone = super::message::zone_name(settings.time_zone_minutes.unwrap_or(*default_zone));
            format!(
                "{head}\n{}: {}\n{}: {}\n{}: {}\n{}: {}\n{}: {zone}\n{}",
                lang.pick("严重级别", "severities"),
                settings.level.as_str(),
                lang.pick("回复", "replies"),
                on_off(settings.replies, lang),
                lang.pick("状态变化", "status changes"),
                on_off(settings.status, lang),
                lang.pick("账户新工单", "new cases in the account"),
                on_off(settings.new_cases, lang),
                lang.pick("时区", "time zone"),
                lang.pick(
                    "修改（管理员）：通知 all|high|none　或　通知 回复|状态|新工单 开|关　或　通知 时区 +08:00",
                    "Change (admins): notify all|high|none  or  notify replies|status|new-cases on|off  or  notify time-zone +08:00",
                ),
            )
        }
        Notified::AdminsOnly { follow, admins_configured } => {
            let what = match (follow, lang) {
                (true, Lang::En) => "Only admins may follow a case that was not opened from this group (its content would reach this group).",
                (false, Lang::En) => "Only admins may change this group's notifications.",
                (true, _) => "只有管理员可以关注非本群提交的工单（否则工单内容会泄露到本群）。",
                (false, _) => "只有管理员可以修改本群的推送设置。",
            };
            let how = match (admins_configured, lang) {
                (false, Lang::En) => "\nNo admin is configured: set CASE_BOT_ADMINS to their staff ids.",
                (false, _) => "\n尚未配置管理员：请设置 CASE_BOT_ADMINS（管理员的 staffId）。",
                (true, _) => "",
            };
            format!("{}\n{what}{how}", lang.pick("AWS-[无权限]", "AWS-[not allowed]"))
        }
        Notified::GroupsOnly => lang
            .pick(
                "AWS-[请在群里关注]\n推送只能发到群里：请在群里 @机器人 发送「关注 {case id}」。",
                "AWS-[follow from a group]\nUpdates are pushed to groups: mention the robot in a group with `follow {case id}`.",
            )
            .to_owned(),
    };
    OutboundMessage::text(text)
}
